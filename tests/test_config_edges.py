"""Safe at the edges: config mistakes stop the run readably, never as a green empty run.

Real processes (`python -m tap_audience`) against the sandbox, as a user runs the tap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tap_audience.connector.config_checks import config_problems
from tap_audience.singer.batch_config import batch_problems
from tests.helpers import eq_login_without_input, parse_messages, sandbox_config

ROOT = Path(__file__).resolve().parents[1]
TAP = [sys.executable, "-m", "tap_audience"]
HTTP_URL = "http://auth.eqworks.io/prod"

SINGER_CHECKS = (batch_problems,)  # the checks the Singer face adds


def run_cli(config, tmp_path, *args):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [*TAP, "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "| ERROR" in line or "FAILED" in line]


@pytest.mark.parametrize("setting", ["eq_token_file", "locus_token_file"])
def test_a_missing_token_file_stops_the_run_at_start(sandbox, tmp_path, setting):
    missing = tmp_path / "nowhere" / "atom.token"
    process = run_cli(sandbox_config(sandbox, **{setting: str(missing)}), tmp_path)
    assert process.returncode == 1
    assert process.stdout == ""  # no record, no STATE
    assert f"{setting}: {missing} does not exist" in process.stderr
    product = "locus" if setting.startswith("locus") else "atom"
    assert f"tap-audience eq-login --user <email> --product {product}" in process.stderr
    assert "Traceback" not in process.stderr
    assert not [r for r in sandbox.requests if r.path.startswith(("/eq-api", "/angus-data"))]


def test_an_empty_token_file_stops_the_run_at_start(sandbox, tmp_path):
    empty = tmp_path / "atom.token"
    empty.write_text("\n")
    process = run_cli(sandbox_config(sandbox, eq_token_file=str(empty)), tmp_path)
    assert process.returncode == 1
    assert f"eq_token_file: {empty} is empty" in process.stderr
    assert process.stdout == ""


def test_a_token_file_readable_by_others_gets_a_warning_and_is_used(sandbox, tmp_path):
    token_file = tmp_path / "atom.token"
    token_file.write_text(sandbox.credentials()["eq_jwt"] + "\n")
    token_file.chmod(0o644)
    config = sandbox_config(sandbox, eq_token_file=str(token_file))
    config.pop("eq_jwt")
    process = run_cli(config, tmp_path)
    assert process.returncode == 0, process.stderr
    assert f"eq_token_file: {token_file} is open to other users (mode 644)" in process.stderr
    assert f"chmod 600 {token_file}" in process.stderr
    assert parse_messages(process.stdout).records["eq_os"]


def test_nothing_configured_exits_non_zero_with_the_settings_to_set(tmp_path):
    process = run_cli({"start_date": "2026-11-01T00:00:00Z"}, tmp_path)
    assert process.returncode == 1
    assert process.stdout == ""  # no SCHEMA, no STATE a target could store
    (line,) = error_lines(process.stderr)
    assert "nothing to extract" in line
    for setting in ("angus_streams", "eq_jwt", "locus_jwt", "sandbox: true"):
        assert setting in line
    assert "Traceback" not in process.stderr


def test_a_connection_test_with_nothing_configured_fails(tmp_path):
    process = run_cli({}, tmp_path, "--test")
    assert process.returncode == 1
    assert "Angus: skipped: not configured" in process.stderr
    assert "EQ ATOM: skipped: not configured" in process.stderr
    assert "EQ LOCUS: skipped: not configured" in process.stderr
    assert "no vendor is configured" in process.stderr
    assert "Traceback" not in process.stderr


def test_coordinates_without_a_locus_token_fail_locus_alone(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config.pop("locus_jwt")  # the ATOM token cannot read LOCUS: it is never used for it
    process = run_cli(config, tmp_path)
    assert process.returncode == 1
    result = parse_messages(process.stdout)
    assert result.records["angus_entities"] and result.records["eq_os"]
    assert not result.records["locus_hh_segments"]
    assert "locus_coords is set but no LOCUS token is" in process.stderr
    assert not [r for r in sandbox.requests if r.path.startswith("/locus")]
    assert "Traceback" not in process.stderr


def test_the_connection_test_names_a_missing_locus_token(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config.pop("locus_jwt")
    process = run_cli(config, tmp_path, "--test")
    assert process.returncode == 1
    assert "EQ LOCUS: FAILED: locus_coords is set but no LOCUS token is" in process.stderr
    assert "Angus: ok" in process.stderr


@pytest.mark.parametrize(
    ("url", "allowed", "problem"),
    [
        ("https://data.angus.ai", False, False),
        ("http://127.0.0.1:8765/angus-data", False, False),
        ("http://localhost:8765", False, False),
        ("http://[::1]:8765", False, False),
        ("http://data.angus.ai", False, True),
        ("http://10.0.0.7:8080", False, True),
        ("http://data.angus.ai", True, False),
    ],
)
def test_plain_http_is_refused_off_loopback_unless_allowed(url, allowed, problem):
    problems = config_problems({"angus_api_url": url, "allow_insecure_http": allowed})
    assert bool(problems) == problem, problems
    if problem:
        assert problems[0].startswith("angus_api_url is http://")
        assert "clear text" in problems[0]
        assert "allow_insecure_http" in problems[0]


def test_plain_http_to_a_vendor_stops_the_run_before_any_request(tmp_path):
    config = {"eq_jwt": "x" * 20, "eq_api_url": "http://api.eqworks.io"}
    process = run_cli(config, tmp_path)
    assert process.returncode == 1
    assert "eq_api_url is http://api.eqworks.io: plain http" in process.stderr
    assert "Traceback" not in process.stderr


def test_eq_login_refuses_plain_http_off_loopback():
    process = eq_login_without_input(HTTP_URL)
    assert process.returncode == 1
    assert "--auth-url is http://auth.eqworks.io: plain http" in process.stderr
    assert "--allow-insecure-http" in process.stderr
    assert "Traceback" not in process.stderr


def test_sandbox_mode_names_the_partition_settings_it_replaces(tmp_path):
    config = {
        "sandbox": True,
        "start_date": "2026-11-20T00:00:00Z",
        "eq_campaign_ids": [1],
        "locus_coords": ["43.65,-79.38"],
    }
    process = run_cli(config, tmp_path)
    assert process.returncode == 0, process.stderr
    warnings = [line for line in process.stderr.splitlines() if "replaces settings" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "sandbox: true replaces settings you gave with the emulator's: eq_campaign_ids, "
        "locus_coords"
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("eq_jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"),
        ("angus_streams", [{"client_id": "cam", "access_token": "tok-very-secret"}]),
        ("eq_token_file", "/nonexistent/atom.token"),
        ("angus_api_url", "https://data.angus.ai/v2"),
    ],
)
def test_the_sandbox_beside_a_real_accounts_settings_is_refused(tmp_path, setting, value):
    """A stray `sandbox: true` in production must not load emulator rows or bookmarks there."""
    process = run_cli({"sandbox": True, setting: value}, tmp_path)
    assert process.returncode == 1
    assert process.stdout == ""  # no SCHEMA, RECORD or STATE
    (line,) = [line for line in process.stderr.splitlines() if "sandbox: true" in line]
    assert f"sandbox: true cannot be combined with a real account's settings ({setting})" in line
    assert "Unset sandbox (TAP_AUDIENCE_SANDBOX)" in line
    assert "Traceback" not in process.stderr
    assert "very-secret" not in process.stderr and "c2lnbmF0dXJl" not in process.stderr


@pytest.mark.parametrize(
    ("environment", "refused"),
    [("prod", "the Meltano environment 'prod'"), ("", "a Meltano run without an environment")],
)
def test_the_sandbox_under_meltano_outside_its_environment_is_refused(
    tmp_path, environment, refused
):
    """Meltano sets MELTANO_PROJECT_ROOT and MELTANO_ENVIRONMENT for every plugin it runs
    (tests/test_meltano.py runs the real thing)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"sandbox": True}))
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(tmp_path), "MELTANO_ENVIRONMENT": environment}
    process = subprocess.run(
        [*TAP, "--config", str(path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert process.returncode == 1
    assert process.stdout == ""
    assert f"sandbox: true is refused in {refused}" in process.stderr
    assert "meltano --environment sandbox" in process.stderr
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize(
    "path", [".env", "config.json", "secrets/atom.token", "atom.token", ".meltano/x", "output/a"]
)
def test_files_that_hold_secrets_are_git_ignored(path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_batch_files_cannot_silently_skip_stream_maps():
    problems = config_problems(
        {
            "batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": "file://x"}},
            "stream_maps": {"eq_os": {"imps": "__NULL__"}},
        },
        SINGER_CHECKS,
    )
    assert problems == [
        "batch_config cannot be combined with stream_maps or flattening_enabled (batch files "
        "are written before maps apply): remove one of them"
    ]


def test_config_problems_never_quote_a_secret():
    secret = "s3cr3t-access-token-value"
    problems = config_problems({"angus_streams": [{"client_id": "a", "access_token": secret}] * 2})
    assert problems and not any(secret in p for p in problems)


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [
        ({"format": "jsonl", "compression": "gzip"}, None),
        ({"format": "jsonl", "compression": "none"}, "compression none is not supported"),
        ({"format": "parquet"}, "parquet needs pyarrow"),
    ],
)
def test_batch_settings_the_sdk_would_ignore_are_refused(encoding, problem):
    problems = config_problems(
        {"batch_config": {"encoding": encoding, "storage": {"root": "x"}}}, SINGER_CHECKS
    )
    assert [p for p in problems if problem and problem in p] == (problems if problem else [])
    assert bool(problems) == bool(problem)
