"""No secret reaches any output: stdout, stderr, errors, --about, the sandbox's own logs.

Runs real processes with faults that make vendors echo tokens back (keywarden's
`Invalid JWT: <token>`), at DEBUG level, and greps everything for every secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tap_audience.sandbox import Fault
from tests.helpers import sandbox_config, start_sandbox_process

ROOT = Path(__file__).resolve().parents[1]


def secrets_of(config):
    values = [config["eq_jwt"], config["locus_jwt"]]
    values += [camera["access_token"] for camera in config["angus_streams"]]
    return values


def run_tap(config, tmp_path, *args):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "TAP_AUDIENCE_LOGLEVEL": "DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "tap_audience", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def assert_no_secret(secrets, *outputs):
    text = "".join(outputs)
    for secret in secrets:
        assert secret not in text
    assert "eyJ" not in text  # nothing even shaped like a JWT


def test_faulty_syncs_at_debug_level_leak_nothing(sandbox, tmp_path):
    config = sandbox_config(sandbox, max_retry_wait_seconds=0.05, max_retries=2)
    sandbox.inject(Fault.rate_limited(path="/angus-data", rate=0.2, seed=4))
    sandbox.inject(Fault.status(500, path="/eq-api", rate=0.1, seed=5))
    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/insights/lang", limit=1))
    sandbox.inject(Fault.expire_tokens(vendor="angus", schedule=[7]))
    sandbox.inject(Fault.expire_tokens(vendor="eq", path="/locus", schedule=[1]))
    process = run_tap(config, tmp_path)
    assert process.returncode == 1  # eq_lang's wrong types fail its partition
    assert "Traceback" not in process.stderr
    assert_no_secret(secrets_of(config), process.stdout, process.stderr)
    assert "RECORD" in process.stdout


def test_a_token_echoed_by_keywarden_in_an_error_is_masked(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    sandbox.inject(Fault.expire_tokens(vendor="eq", schedule=[1]))  # keywarden rejects it too
    process = run_tap(config, tmp_path)
    assert process.returncode == 1
    assert "EQ keywarden rejected eq_jwt (the EQ atom token): Invalid JWT: ***" in process.stderr
    assert_no_secret(secrets_of(config), process.stdout, process.stderr)


def test_config_errors_and_about_leak_nothing(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config["angus_streams"][0]["access_token"] = 12345678  # wrong type: the error quotes values
    config["eq_jwt"] = ["not", "a", "string", config["eq_jwt"]]
    process = run_tap(config, tmp_path)
    assert process.returncode == 1
    assert "Config validation failed" in process.stderr
    secrets = [config["locus_jwt"], config["eq_jwt"][3], "12345678"]
    assert_no_secret(secrets, process.stdout, process.stderr)
    about = run_tap(config, tmp_path, "--about", "--format=json")
    assert_no_secret(secrets, about.stdout, about.stderr)


def test_the_sandbox_logs_requests_without_secrets(tmp_path):
    sandbox, _, config = start_sandbox_process(
        "--log-requests",
        "--now",
        "2026-11-20T10:30:00+00:00",
        "--fault",
        "expire_tokens=eq,path=/eq-api,schedule=2",
        "--fault",
        "status=503,path=/locus,schedule=1",
    )
    try:
        config.update(
            start_date="2026-11-18T00:00:00Z",
            end_date="2026-11-20T10:30:00Z",
            max_retry_wait_seconds=0.05,
        )
        process = run_tap(config, tmp_path)
        assert process.returncode == 0, process.stderr[-2000:]
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    sandbox_log = sandbox.stderr.read() if sandbox.stderr else ""
    assert "GET /angus-data/api/1/entities 200" in sandbox_log
    assert_no_secret(secrets_of(config), process.stdout, process.stderr, sandbox_log)
