"""`source-audience`'s command line and config as the Airbyte platform hands them over: `--debug`
anywhere, an empty state, the config warnings both faces share, the demo switch in the spec.

Real processes; every stdout line is validated as an AirbyteMessage (`Output`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tap_audience.connector.settings import secret_values
from tap_audience.sandbox import Fault
from tests.helpers import sandbox_config
from tests.test_airbyte import SOURCE, Output, configured_catalog

# A short range and one stream per vendor: these tests are about the command line, not data.
STREAMS = ("angus_entities", "eq_os", "locus_hh_segments")


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None, **files: Any) -> Output:
    """`source-audience ARGS --NAME FILE...`, each file holding `files[NAME]` as JSON."""
    command = [*SOURCE, *args]
    for name, content in files.items():
        path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(content))
        command += [f"--{name}", str(path)]
    process = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in process.stdout + process.stderr
    return Output(process)


def small_read(tmp_path: Path, sandbox: Any, **overrides: Any) -> tuple[dict, dict]:
    config = sandbox_config(sandbox, start_date="2026-11-18T00:00:00+00:00", **overrides)
    catalog = configured_catalog(tmp_path, config)
    catalog["streams"] = [s for s in catalog["streams"] if s["stream"]["name"] in STREAMS]
    return config, catalog


def logs(output: Output, level: str) -> list[str]:
    return [m["log"]["message"] for m in output.of("LOG") if m["log"]["level"] == level]


# --- --debug ------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["after the command", "before the command", "LOG_LEVEL=debug"])
@pytest.mark.parametrize("command", ["spec", "check", "discover", "read"])
def test_debug_is_accepted_by_every_command_and_logs_at_debug_level(
    tmp_path, sandbox, command, where
):
    config, catalog = small_read(tmp_path, sandbox)
    files: dict[str, Any] = {} if command == "spec" else {"config": config}
    if command == "read":
        files["catalog"] = catalog
    args, env = [command], {}
    if where == "after the command":
        args = [command, "--debug"]
    elif where == "before the command":
        args = ["--debug", command]
    else:
        env = {"LOG_LEVEL": "debug"}  # what the platform sets; the airbyte-cdk honours it too
    output = run(tmp_path, *args, env=env, **files)
    assert output.code == 0, output.errors()
    debug = logs(output, "DEBUG")
    switch = "--debug" if where != "LOG_LEVEL=debug" else "LOG_LEVEL=debug"
    assert debug[0] == f"debug logs on ({switch}): source-audience {command}"
    if command in ("check", "read"):
        assert any('"GET /' in line for line in debug), debug  # each request, at DEBUG
    if command == "read":
        assert output.records()
    quiet = run(tmp_path, command, env={"LOG_LEVEL": "INFO"}, **files)
    assert quiet.code == 0
    assert not logs(quiet, "DEBUG")


def test_debug_logs_leak_no_secret(tmp_path, sandbox):
    """Faults that make vendors echo tokens back, at DEBUG level: no secret in any line."""
    config, catalog = small_read(tmp_path, sandbox, max_retry_wait_seconds=0.05)
    sandbox.inject(Fault.rate_limited(path="/angus-data", rate=0.3, seed=4))
    sandbox.inject(Fault.expire_tokens(vendor="angus", schedule=[2]))
    sandbox.inject(Fault.expire_tokens(vendor="eq", schedule=[1]))  # keywarden echoes it
    output = run(tmp_path, "read", "--debug", config=config, catalog=catalog)
    assert output.code == 1  # the EQ token cannot be refreshed: those streams fail
    assert logs(output, "DEBUG")
    text = "\n".join(output.lines)
    assert "Invalid JWT: ***" in text
    for secret in secret_values(config):
        assert secret not in text
    assert "eyJ" not in text  # nothing even shaped like a JWT


# --- an empty state -------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [{}, []], ids=["{}", "[]"])
def test_an_empty_state_is_no_state(tmp_path, sandbox, state):
    config, catalog = small_read(tmp_path, sandbox)
    fresh = run(tmp_path, "read", config=config, catalog=catalog)
    output = run(tmp_path, "read", config=config, catalog=catalog, state=state)
    assert output.code == 0, output.errors()
    assert not output.errors()
    assert not logs(output, "WARN")
    assert any(line.startswith("the state is empty: a first read") for line in logs(output, "INFO"))
    assert output.records() == fresh.records()  # from start_date, as without a state


# --- config warnings, shared with the Singer face ------------------------------------------------
def test_unknown_settings_and_future_start_dates_are_warn_logs_as_in_the_singer_face(tmp_path):
    config = {"sandbox": True, "strat_date": "x", "start_date": "2099-01-01T00:00:00Z"}
    expected = [
        "unknown setting 'strat_date' is ignored: did you mean start_date?",
        "start_date 2099-01-01T00:00:00+00:00 is in the future: streams without a bookmark "
        "extract nothing until then",
    ]
    for command in ("discover", "check"):
        output = run(tmp_path, command, config=config)
        assert output.code == 0
        assert logs(output, "WARN") == expected, command
    # The same lines, from the same function, on the Singer face.
    path = tmp_path / "singer.json"
    path.write_text(json.dumps(config))
    singer = subprocess.run(
        [sys.executable, "-m", "tap_audience", "--config", str(path), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert singer.returncode == 0, singer.stderr
    for line in expected:
        assert line in singer.stderr
    far = run(tmp_path, "discover", config={"sandbox": True, "nothing_like_it": 1})
    assert logs(far, "WARN") == [
        "unknown setting 'nothing_like_it' is ignored (see `source-audience spec`)"
    ]


def test_an_end_date_before_the_start_date_is_a_config_error(tmp_path, sandbox):
    config, catalog = small_read(tmp_path, sandbox)
    config["end_date"] = "2026-11-15T00:00:00+00:00"
    expected = (
        "end_date (2026-11-15T00:00:00+00:00) must be after start_date (2026-11-18T00:00:00+00:00)"
    )
    for command in ("read", "discover"):
        files = {"config": config, "catalog": catalog} if command == "read" else {"config": config}
        output = run(tmp_path, command, **files)
        assert output.code == 1
        (error,) = output.errors()
        assert error["failure_type"] == "config_error"
        assert expected in error["message"]
        assert not output.of("RECORD")
    check = run(tmp_path, "check", config=config)
    assert check.code == 0  # an answer, as Airbyte expects
    (status,) = check.of("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert expected in status["connectionStatus"]["message"]


# --- the demo switch in the spec -----------------------------------------------------------------
def test_the_spec_shows_the_sandbox_as_a_hidden_demo_switch_not_a_credential(tmp_path):
    (message,) = run(tmp_path, "spec").messages
    specification = message["spec"]["connectionSpecification"]
    properties = specification["properties"]
    sandbox, seed = properties["sandbox"], properties["sandbox_seed"]
    assert sandbox["title"] == "Demo mode (built-in emulator)"
    assert "not a way to connect" in sandbox["description"]
    assert sandbox["airbyte_hidden"] is True and seed["airbyte_hidden"] is True
    assert sandbox["type"] == ["boolean", "null"] and sandbox["default"] is False
    # Last in the form: every setting has a distinct order, the demo ones the highest.
    orders = {name: schema["order"] for name, schema in properties.items()}
    assert sorted(orders.values()) == list(range(len(properties)))
    assert {orders["sandbox"], orders["sandbox_seed"]} == {len(properties) - 2, len(properties) - 1}
    # In no group and no choice of credentials.
    assert not {"groups", "oneOf", "anyOf"} & set(specification)
    assert all("group" not in schema and "oneOf" not in schema for schema in properties.values())
    # Hidden from the form only: a config that sets it (PyAirbyte, the API) is still valid.
    assert run(tmp_path, "discover", config={"sandbox": True}).code == 0
