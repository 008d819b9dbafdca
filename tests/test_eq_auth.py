"""EQ token lifecycle against the sandbox's keywarden: confirm, refresh, token files, login."""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from tap_audience.core.errors import AccountCredentialsError
from tests.helpers import run_tap, sandbox_config

ROOT = Path(__file__).resolve().parents[1]
USER = "analyst@eq.example"
DAY = 86400


def exp_of(token):
    return jwt.decode(token, options={"verify_signature": False})["exp"]


def test_a_token_expiring_soon_is_refreshed_and_written_back(sandbox, tmp_path):
    token_file = tmp_path / "atom.token"
    old = sandbox.mint_eq_token(USER, "atom", ttl_seconds=3 * DAY)
    token_file.write_text(old + "\n")
    config = sandbox_config(sandbox, eq_token_file=str(token_file))
    config.pop("eq_jwt")
    result = run_tap(config, streams=["eq_os"])
    assert result.records["eq_os"]
    new = token_file.read_text().strip()
    assert new != old
    assert exp_of(new) > time.time() + 80 * DAY
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    refreshes = [r for r in sandbox.requests if r.path == "/eq-auth/prod/refresh"]
    assert len(refreshes) == 1
    # The next run reads the refreshed token from the file and needs no refresh.
    sandbox.clear_requests()
    run_tap(config, streams=["eq_os"])
    assert not [r for r in sandbox.requests if r.path == "/eq-auth/prod/refresh"]


def test_a_token_far_from_expiry_is_only_confirmed(sandbox):
    run_tap(sandbox_config(sandbox), streams=["eq_os", "locus_hh_segments"])
    confirms = [r for r in sandbox.requests if r.path == "/eq-auth/prod/confirm"]
    assert sorted(r.query["product"][0] for r in confirms) == ["atom", "locus"]
    assert all(r.query["light"] == ["1"] for r in confirms)
    assert not [r for r in sandbox.requests if r.path == "/eq-auth/prod/refresh"]


def test_a_token_for_the_wrong_product_is_refused_at_start(sandbox):
    config = sandbox_config(sandbox)
    config["eq_jwt"] = config["locus_jwt"]
    with pytest.raises(AccountCredentialsError) as failure:
        run_tap(config, streams=["eq_os"])
    assert "EQ keywarden rejected eq_jwt (the EQ atom token)" in str(failure.value)
    assert "eq-login" in str(failure.value)
    assert not [r for r in sandbox.requests if r.path.startswith("/eq-api")]


def login_command(sandbox, *args):
    return [sys.executable, "-m", "tap_audience", "eq-login", "--user", USER, *args,
            "--auth-url", sandbox.eq_auth_url]  # fmt: skip


def log_in(sandbox, *args, otp_case=str.upper, at_prompt=None):
    """Run `tap-audience eq-login`, answer its prompt with the passcode the sandbox issued
    (after calling `at_prompt()`, if given, while the command waits at the prompt)."""
    process = subprocess.Popen(
        login_command(sandbox, *args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while sandbox.last_otp(USER) is None:
        assert time.monotonic() < deadline, "the login never requested a passcode"
        time.sleep(0.05)
    if at_prompt is not None:
        at_prompt()
    out, err = process.communicate(otp_case(sandbox.last_otp(USER)) + "\n", timeout=30)
    return process.returncode, out, err


def test_eq_login_stores_a_working_token(sandbox, tmp_path):
    token_file = tmp_path / "tokens" / "locus.token"
    # The passcode is compared case-insensitively, as keywarden does.
    code, out, err = log_in(
        sandbox, "--product", "locus", "--token-file", str(token_file), otp_case=str.lower
    )
    assert code == 0, err
    assert out == ""  # the token went to the file, nothing to stdout
    assert f"Saved the locus token to {token_file}" in err
    token = token_file.read_text().strip()
    assert token not in err
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert jwt.decode(token, options={"verify_signature": False})["product"] == "locus"
    config = sandbox_config(sandbox, locus_token_file=str(token_file))
    config.pop("locus_jwt")
    result = run_tap(config, streams=["locus_hh_segments"])
    assert result.records["locus_hh_segments"]


def test_eq_login_prints_the_token_alone_on_stdout(sandbox):
    code, out, err = log_in(sandbox, "--product", "atom")
    assert code == 0, err
    token = out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["product"] == "atom"


def test_eq_login_with_a_wrong_passcode_fails_readably(sandbox):
    process = subprocess.run(
        login_command(sandbox, "--product", "atom"),
        input="000000\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert process.returncode == 1
    assert "EQ login failed: Invalid OTP for user analyst@eq.example" in process.stderr
    assert "Traceback" not in process.stderr


def test_an_eq_user_that_is_not_the_tokens_user_stops_the_run_at_start(sandbox):
    config = sandbox_config(sandbox, eq_user="someone.else@eq.example")
    with pytest.raises(AccountCredentialsError, match="is not the user eq_jwt"):
        run_tap(config, streams=["eq_os"])
    assert not [r for r in sandbox.requests if r.path.startswith("/eq-api")]


def test_eq_user_defaults_to_the_tokens_user(sandbox):
    config = sandbox_config(sandbox)
    config.pop("eq_user")
    result = run_tap(config, streams=["eq_os"])
    assert result.failure is None
    assert result.records["eq_os"]


# --- eq-login --token-file that cannot be written -------------------------------------------
def without_root_file_access():
    """preexec_fn making a command meet file permissions even when run as root (as CI does):
    root's capabilities to write and search past them are dropped from the bounding set, so
    the command (still uid 0, still able to run the interpreter under /root) is held to the
    owner's permission bits like anyone else."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2  # <linux/capability.h>

    def drop():
        for capability in (cap_dac_override, cap_dac_read_search):
            if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop if os.geteuid() == 0 else None  # anyone else meets permissions already


# Each returns the --token-file to give and what to make read-only first (None: nothing).
def a_folder(tmp):
    return tmp, None


def under_a_file(tmp):
    (tmp / "notes.txt").write_text("a file where the folder goes\n")
    return tmp / "notes.txt" / "atom.token", None


def in_a_missing_folder_of_a_read_only_folder(tmp):
    return tmp / "a" / "b" / "atom.token", tmp


def in_a_read_only_folder(tmp):
    return tmp / "atom.token", tmp


def a_read_only_file(tmp):
    (tmp / "atom.token").write_text("old\n")
    return tmp / "atom.token", tmp / "atom.token"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (a_folder, "--token-file {tmp} is a folder: give a file in it, e.g. {tmp}/atom.token"),
        (under_a_file, "cannot create {tmp}/notes.txt/atom.token: {tmp}/notes.txt is not a "
                       "writable folder"),
        (in_a_missing_folder_of_a_read_only_folder,
         "cannot create {tmp}/a/b/atom.token: {tmp} is not a writable folder (Permission denied)"),
        (in_a_read_only_folder,
         "cannot create {tmp}/atom.token: {tmp} is not a writable folder (Permission denied)"),
        (a_read_only_file, "cannot write {tmp}/atom.token: the file is read-only"),
    ],
)  # fmt: skip
def test_eq_login_refuses_a_token_file_it_cannot_write_before_the_passcode(
    sandbox, tmp_path, make, expected
):
    token_file, locked = make(tmp_path)
    if locked is not None:
        locked.chmod(0o555 if locked.is_dir() else 0o444)
    try:
        process = subprocess.run(
            login_command(sandbox, "--product", "atom", "--token-file", str(token_file)),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            stdin=subprocess.DEVNULL,
            preexec_fn=without_root_file_access(),
        )
    finally:
        tmp_path.chmod(0o755)  # for pytest's clean-up
    assert process.returncode == 1
    assert process.stdout == ""
    (line,) = process.stderr.splitlines()  # one line: no prompt, no traceback
    assert expected.format(tmp=tmp_path) in line
    # Refused before keywarden was asked for anything, so no passcode was mailed.
    assert not [r for r in sandbox.requests if r.path.startswith("/eq-auth")]


def test_a_token_that_cannot_be_written_after_the_login_is_printed_not_lost(sandbox, tmp_path):
    folder = tmp_path / "tokens"
    folder.mkdir()
    token_file = folder / "atom.token"

    def replace_the_folder_with_a_file():
        # The file was checked before the passcode was mailed; now, at the prompt, its
        # folder becomes a file, so the write after /verify fails.
        folder.rmdir()
        folder.write_text("not a folder any more\n")

    returncode, out, err = log_in(
        sandbox,
        "--product",
        "atom",
        "--token-file",
        str(token_file),
        otp_case=str,
        at_prompt=replace_the_folder_with_a_file,
    )
    assert returncode == 1
    token = out.strip()
    assert out == token + "\n"  # printed once, alone
    assert token not in err
    assert "Traceback" not in err
    # (after the prompt, on its line: typed in a terminal, the passcode would end it)
    errors = [line for line in err.splitlines() if "ERROR:tap-audience:" in line]
    assert len(errors) == 1
    assert (
        f"the atom token was not saved (cannot create {token_file}: {folder} is not a "
        "writable folder)" in errors[0]
    )
    assert "printed on stdout" in errors[0]
    assert "eq_token_file" in errors[0]
    # The printed token is a working one.
    confirmed = requests.get(
        f"{sandbox.eq_auth_url}/confirm",
        params={"product": "atom"},
        headers={"eq-api-jwt": token},
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text
