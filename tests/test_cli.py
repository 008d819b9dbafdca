"""The `tap-audience` command as users and orchestrators run it: a real process, real stdout."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import jwt

from tests.helpers import parse_messages, sandbox_config, start_sandbox_process

ROOT = Path(__file__).resolve().parents[1]
TAP = [sys.executable, "-m", "tap_audience"]
ALL_STREAMS = {
    "angus_entities",
    "eq_campaigns",
    "locus_hh_segments",
    *(
        f"eq_{d}"
        for d in (
            "user_segment",
            "session",
            "banner",
            "browser",
            "banner_pos",
            "iab",
            "lang",
            "network",
            "os",
        )
    ),
}


def run(args, config=None, tmp_path=None, **kwargs):
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        args = [*args, "--config", str(path)]
    return subprocess.run(
        [*TAP, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, **kwargs
    )


def test_sandbox_mode_syncs_every_stream_in_one_command(tmp_path):
    process = run([], {"sandbox": True, "start_date": "2026-11-20T00:00:00Z"}, tmp_path)
    assert process.returncode == 0, process.stderr
    result = parse_messages(process.stdout)
    assert {s for s, rows in result.records.items() if rows} == ALL_STREAMS
    assert result.final_state["bookmarks"].keys() == ALL_STREAMS
    assert "Traceback" not in process.stderr


def test_discover_lists_every_stream_without_credentials(tmp_path):
    process = run(["--discover"], {}, tmp_path)
    assert process.returncode == 0, process.stderr
    catalog = json.loads(process.stdout)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == ALL_STREAMS


def test_invalid_config_gives_one_line_per_problem_and_no_traceback(tmp_path):
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0c2lnbmF0dXJl"
    config = {
        "angus_time_bucket": "by_minute",
        "locus_coords": ["abc", "91,0"],
        "eq_user": "nobody",
        "eq_jwt": secret,
        "start_date": "2026-11-10T00:00:00Z",
        "end_date": "2026-11-01T00:00:00Z",
        "angus_streams": [{"client_id": "x", "access_token": 42}],
        "angus_api_url": "data.angus.ai",
        "max_requests_per_second": -1,
        "shard_count": 2,
        "shard_index": 2,
    }
    process = run([], config, tmp_path)
    assert process.returncode == 1
    errors = [line for line in process.stderr.splitlines() if "| ERROR" in line]
    for expected in (
        "'by_minute' is not one of ['by_hour', 'by_day'] in config['angus_time_bucket']",
        "locus_coords entry 'abc' must be \"lat,lon\"",
        "locus_coords entry '91,0': latitude must be in [-90, 90]",
        "eq_user must be an email address",
        "end_date (2026-11-01T00:00:00+00:00) must be after start_date",
        "angus_streams is set but angus_username is not",
        "in config['angus_streams'][0]['access_token']",
        "angus_api_url must be an http(s) URL",
        "in config['max_requests_per_second']",
        "shard_index (2) must be below shard_count (2)",
    ):
        assert any(expected in line for line in errors), (expected, errors)
    assert "Traceback" not in process.stderr
    assert secret not in process.stderr + process.stdout


def test_rejected_credentials_are_one_readable_line(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config["angus_streams"][0]["access_token"] = "not-the-right-access-token"
    process = run([], config, tmp_path)
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    # The camera's partition fails with the reason; the other cameras and streams still sync.
    assert re.search(
        r"ERROR .*angus_entities \[client_id=\S+, time_bucket=by_hour\] failed, skipping it "
        r".*: Angus rejected the "
        r"credentials of camera stream",
        process.stderr,
    )
    assert re.search(r"ERROR .*1 partition\(s\) failed and were skipped", process.stderr)
    result = parse_messages(process.stdout)
    assert len({r["client_id"] for r in result.records["angus_entities"]}) == 2
    assert result.records["eq_os"]
    output = process.stderr + process.stdout
    for secret in ("not-the-right-access-token", config["eq_jwt"], config["locus_jwt"]):
        assert secret not in output


def test_about_markdown_matches_the_readme_settings_table(tmp_path):
    process = run(["--about", "--format=markdown"])
    assert process.returncode == 0, process.stderr
    about_table = _settings_table(process.stdout)
    readme_table = _settings_table((ROOT / "README.md").read_text())
    assert about_table, "no settings table in --about output"
    assert readme_table == about_table, "README settings table is stale: regenerate it"


def _settings_table(markdown: str) -> list[str]:
    lines = markdown.splitlines()
    try:
        start = lines.index("| Setting | Required | Default | Description |")
    except ValueError:
        return []
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_sandbox_runs_alone_and_prints_urls_and_credentials():
    process, text, config = start_sandbox_process("--seed", "3")
    try:
        assert "http://127.0.0.1:" in text
        assert config["angus_api_url"].startswith("http://127.0.0.1:")
        assert len(config["angus_streams"]) == 3
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_the_console_script_is_installed():
    process = subprocess.run(
        [str(Path(sys.executable).parent / "tap-audience"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0
    assert "tap-audience" in process.stdout


def test_connection_test_prints_one_line_per_vendor(sandbox, tmp_path):
    process = run(["--test"], sandbox_config(sandbox), tmp_path)
    assert process.returncode == 0, process.stderr
    lines = [line for line in process.stderr.splitlines() if not line.startswith("20")]
    assert lines == [
        "Angus: ok: 3 camera stream(s) authenticated; data API answered",
        f"EQ ATOM: ok: token valid until {_valid_until(sandbox)}; 3 campaign(s) visible",
        f"EQ LOCUS: ok: token valid until {_valid_until(sandbox)}; coordinate 43.6532,-79.3832 "
        "readable",
    ]
    assert "An unhandled error" not in process.stderr
    assert '"type":"RECORD"' in process.stdout  # then one record per stream, as Meltano expects


def _valid_until(sandbox):
    token = sandbox.credentials()["eq_jwt"]
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    return dt.datetime.fromtimestamp(exp, dt.timezone.utc).date().isoformat()


def test_connection_test_says_what_is_wrong_and_how_to_fix_it(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    config["angus_streams"][1]["access_token"] = "not-the-right-access-token"
    config["locus_coords"] = ["40.7128,-74.0060"]
    config["eq_jwt"] = sandbox.mint_eq_token("analyst@eq.example", "atom", ttl_seconds=-5)
    process = run(["--test"], config, tmp_path)
    assert process.returncode == 1
    lines = [line for line in process.stderr.splitlines() if not line.startswith("20")]
    assert lines[0].startswith("Angus: FAILED: Angus rejected the credentials of camera stream")
    assert "Check angus_username" in lines[0]
    assert lines[1].startswith("EQ ATOM: FAILED: eq_jwt (the EQ atom token) expired on")
    assert "tap-audience eq-login" in lines[1]
    assert lines[2] == (
        f"EQ LOCUS: FAILED: EQ LOCUS answered HTTP 403 for {sandbox.locus_api_url}"
        "/prod/segment/hh-segments: Access not allowed"
    )
    # The last line carries every reason: `meltano config test` shows only that one.
    last = process.stderr.splitlines()[-1]
    assert "connection test failed: Angus: Angus rejected the credentials" in last
    assert "EQ ATOM: eq_jwt (the EQ atom token) expired" in last
    assert "EQ LOCUS: EQ LOCUS answered HTTP 403" in last
    assert '"type":"RECORD"' not in process.stdout
    assert "not-the-right-access-token" not in process.stderr
