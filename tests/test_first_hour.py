"""The first hour: every command a new user tries works, or says in one line what to fix.

Real processes (`python -m tap_audience`), real sockets, the sandbox as the vendors.
"""

from __future__ import annotations

import codecs
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tap_audience.sandbox import Fault
from tests.helpers import parse_messages, sandbox_config

ROOT = Path(__file__).resolve().parents[1]
TAP = [sys.executable, "-m", "tap_audience"]
START = "2026-11-19T00:00:00+00:00"


def tap(*args, config=None, tmp_path=None, env=None, **kwargs):
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        args = ("--config", str(tmp_path / "config.json"), *args)
    return subprocess.run(
        [*TAP, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def assert_readable_failure(process):
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert '"type":"RECORD"' not in process.stdout


BAD_CONFIG = {
    "angus_time_bucket": "by_minute",
    "start_date": "2026-11-10T00:00:00Z",
    "end_date": "2026-11-01T00:00:00Z",
}


@pytest.mark.parametrize(
    "args", [("--test",), ("--test=schema",), ("--discover",), ("--about",), ()]
)
def test_config_problems_are_reported_alike_by_every_command(tmp_path, args):
    process = tap(*args, config=BAD_CONFIG, tmp_path=tmp_path)
    assert_readable_failure(process)
    assert process.stdout == ""
    lines = error_lines(process.stderr)
    assert any("config: 'by_minute' is not one of" in line for line in lines)
    assert any(
        "config: end_date (2026-11-01T00:00:00+00:00) must be after" in line for line in lines
    )
    # The last line holds every problem: `meltano config test` shows only that line.
    assert "by_minute" in lines[-1] and "must be after start_date" in lines[-1]


def test_the_connection_test_fails_when_a_stream_fails(sandbox, tmp_path):
    sandbox.inject(Fault.status(404, path="/eq-api/beta/insights/os"))
    process = tap("--test", config=sandbox_config(sandbox, start_date=START), tmp_path=tmp_path)
    assert process.returncode == 1
    assert "EQ ATOM: ok" in process.stderr  # the vendor answers; one stream does not
    last = process.stderr.splitlines()[-1]
    assert "connection test failed: eq_os [campaign_id=" in last
    assert "HTTP 404" in last
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize(
    ("setting", "vendor", "doubled", "request_path"),
    [
        ("angus_api_url", "Angus", "/api/1", "/api/1/entities"),
        ("eq_api_url", "EQ ATOM", "/beta", "/beta/campaigns/"),
        ("locus_api_url", "EQ LOCUS", "/prod", "/prod/segment/hh-segments"),
    ],
)
def test_a_wrong_data_url_fails_the_connection_test_naming_the_url(
    sandbox, tmp_path, setting, vendor, doubled, request_path
):
    # Each vendor's check makes one data request: a doubled path, a common mistake, fails it.
    wrong = sandbox.credentials()[setting] + doubled
    config = sandbox_config(sandbox, start_date=START, **{setting: wrong})
    process = tap("--test", config=config, tmp_path=tmp_path)
    assert process.returncode == 1
    line = next(x for x in process.stderr.splitlines() if x.startswith(f"{vendor}: FAILED"))
    assert f"answered HTTP 404 for {wrong}{request_path}" in line
    assert f"(check {setting}: {wrong})" in line


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("host", ["closed port", "unknown host"])
def test_an_unreachable_host_fails_the_connection_test_at_once(sandbox, tmp_path, host):
    if host == "closed port":
        url, problem = f"http://127.0.0.1:{closed_port()}", "connection refused"
    else:
        url, problem = "https://nosuch.invalid", "unknown host"  # .invalid never resolves
    config = sandbox_config(sandbox, start_date=START, angus_auth_url=url, max_retries=8)
    started = time.monotonic()
    process = tap("--test", config=config, tmp_path=tmp_path)
    assert process.returncode == 1
    line = next(x for x in process.stderr.splitlines() if x.startswith("Angus: FAILED"))
    assert f"cannot connect to {url} ({problem})" in line
    assert "angus_auth_url" in line
    assert line.count("cannot connect") == 1  # one line per problem, not one per camera
    assert "retry 1 of" not in process.stderr  # reported at once, not after minutes of retries
    assert time.monotonic() - started < 60  # a generous bound: the retries would take minutes


def test_a_sync_names_the_url_it_cannot_reach(sandbox, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    config = sandbox_config(sandbox, start_date=START, angus_api_url=url, max_retries=1)
    config["max_retry_wait_seconds"] = 0
    process = tap(config=config, tmp_path=tmp_path)
    assert process.returncode == 1
    assert f"cannot connect to {url} (connection refused); retry 1 of 1" in process.stderr
    assert parse_messages(process.stdout).records["eq_os"]  # the other vendors sync


def test_a_wrong_keywarden_url_is_a_url_problem_not_a_credential_problem(sandbox, tmp_path):
    wrong = sandbox.eq_auth_url + "/prod"
    config = sandbox_config(sandbox, start_date=START, eq_auth_url=wrong)
    process = tap(config=config, tmp_path=tmp_path)
    assert_readable_failure(process)
    last = error_lines(process.stderr)[-1]
    assert f"answered HTTP 404 for {wrong}/confirm" in last
    assert f"(check eq_auth_url: {wrong})" in last
    assert "eq-login" not in last and "rejected" not in last


def test_a_missing_or_broken_config_file_is_one_line(tmp_path):
    process = tap("--config", str(tmp_path / "nope.json"))
    assert_readable_failure(process)
    assert f"config file {tmp_path / 'nope.json'} does not exist" in process.stderr
    (tmp_path / "broken.json").write_text('{"sandbox": true,')
    process = tap("--config", str(tmp_path / "broken.json"))
    assert_readable_failure(process)
    assert "is not valid JSON at line 1" in process.stderr


# What people hand a connector instead of a UTF-8 JSON file, and what the line says. Both
# faces read their files through one reader (`core.inputs`): tests/test_airbyte.py runs the
# Airbyte face over the same files.
SETTINGS = '{"sandbox": true, "eq_user": "jos\u00e9@example.com"}'
UNREADABLE = [
    pytest.param(None, "is a directory: pass the path of the JSON file in it", id="folder"),
    pytest.param(
        codecs.BOM_UTF16_LE + SETTINGS.encode("utf-16-le"),
        "is UTF-16 encoded: save it as UTF-8",
        id="utf-16",
    ),
    pytest.param(
        codecs.BOM_UTF16_BE + SETTINGS.encode("utf-16-be"),
        "is UTF-16 encoded: save it as UTF-8",
        id="utf-16-be",
    ),
    pytest.param(
        SETTINGS.encode("utf-16-le"),
        "holds NUL bytes (UTF-16 without a byte order mark?): save it as UTF-8",
        id="utf-16-without-bom",
    ),
    pytest.param(
        codecs.BOM_UTF32_LE + SETTINGS.encode("utf-32-le"),
        "is UTF-32 encoded: save it as UTF-8",
        id="utf-32",
    ),
    pytest.param(
        SETTINGS.encode("latin-1"),
        "is not UTF-8 text (byte 0xe9 at line 1, column 34; another encoding",
        id="latin-1",
    ),
    pytest.param(
        b"# settings\nsandbox: true\neq_jwt: s3cret.value\n",
        "is not JSON (it looks like YAML: line 2 starts with `sandbox:`)",
        id="yaml",
    ),
]


def write_input(path, content):
    """`content` (bytes) at `path`, or a folder there (None)."""
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(("content", "expected"), UNREADABLE)
def test_a_config_file_that_is_not_utf8_json_is_one_line(tmp_path, content, expected):
    path = write_input(tmp_path / "config.json", content)
    process = tap("--config", str(path), "--discover")
    assert_readable_failure(process)
    assert process.stdout == ""
    (line,) = error_lines(process.stderr)
    assert f"config file {path} {expected}" in line
    assert "s3cret" not in process.stderr  # a YAML line is named by its key, never its value


@pytest.mark.parametrize(("content", "expected"), UNREADABLE)
def test_a_catalog_file_that_is_not_utf8_json_is_one_line(tmp_path, content, expected):
    path = write_input(tmp_path / "catalog.json", content)
    process = tap("--catalog", str(path), config={"sandbox": True}, tmp_path=tmp_path)
    assert_readable_failure(process)
    assert process.stdout == ""
    (line,) = error_lines(process.stderr)
    assert f"catalog file {path} {expected}" in line


def test_a_config_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    # Notepad's "UTF-8 with BOM": the mark carries nothing, so the settings are read.
    path = tmp_path / "config.json"
    path.write_bytes(codecs.BOM_UTF8 + b'{"sandbox": true, "angus_time_bucket": "by_week"}')
    process = tap("--config", str(path), "--discover")
    assert_readable_failure(process)  # the value inside was read, and checked
    assert "'by_week' is not one of" in error_lines(process.stderr)[-1]
    path.write_bytes(codecs.BOM_UTF8 + b'{"sandbox": true}')
    process = tap("--config", str(path), "--discover")
    assert process.returncode == 0, process.stderr
    assert "angus_entities" in process.stdout


def test_unknown_settings_and_future_start_dates_are_warned_about(tmp_path):
    config = {"sandbox": True, "strat_date": "x", "start_date": "2099-01-01T00:00:00Z"}
    process = tap("--discover", config=config, tmp_path=tmp_path)
    assert process.returncode == 0, process.stderr
    assert "unknown setting 'strat_date' is ignored: did you mean start_date?" in process.stderr
    assert "start_date 2099-01-01T00:00:00+00:00 is in the future" in process.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TAP_AUDIENCE_EQ_CAMPAIGN_IDS", "37054,41001", "must be a JSON array, e.g. "),
        ("TAP_AUDIENCE_LOCUS_COORDS", "43.65,-79.38", "'[\"43.6532,-79.3832\"]'"),
        ("TAP_AUDIENCE_ANGUS_STREAMS", "cam1:secret", "must be a JSON array"),
        ("TAP_AUDIENCE_MAX_RETRIES", "many", "must be a whole number"),
    ],
)
def test_settings_from_the_environment_in_the_wrong_form_say_which_form_works(
    tmp_path, variable, value, expected
):
    process = tap("--config", "ENV", "--discover", env={variable: value})
    assert_readable_failure(process)
    last = error_lines(process.stderr)[-1]
    assert variable in last and expected in last


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("imps +", "Failed to parse expression imps +"),
        ("nope * 2", "'nope' is not defined"),
    ],
)
def test_a_stream_map_that_does_not_evaluate_is_one_line(sandbox, tmp_path, expression, expected):
    config = sandbox_config(sandbox, start_date=START, stream_maps={"eq_os": {"imps": expression}})
    process = tap(config=config, tmp_path=tmp_path)
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    last = error_lines(process.stderr)[-1]
    assert expected in last and "stream_maps.eq_os.imps" in last


def test_a_target_that_closes_the_output_early_is_named(sandbox, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(sandbox_config(sandbox, start_date=START)))
    with (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [*TAP, "--config", str(tmp_path / "config.json")],
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
        )
        assert process.stdout is not None
        process.stdout.readline()  # the target reads one line, then dies
        process.stdout.close()
        process.wait(timeout=60)
    text = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 1
    assert "Traceback" not in text
    assert text.splitlines()[-1].endswith(
        "the output was closed before the tap finished: did the target fail? (its own log says why)"
    )


def test_help_lists_eq_login():
    process = tap("--help")
    assert process.returncode == 0
    assert "tap-audience eq-login --help" in process.stdout
