"""EQ token lifecycle against the sandbox's keywarden: confirm, refresh, token files, login."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

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


def log_in(sandbox, *args, otp_case=str.upper):
    """Run `tap-audience eq-login`, answer its prompt with the passcode the sandbox issued."""
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
