"""The Airbyte face, run as a process against the sandbox, checked with Airbyte's own models.

Every stdout line of every command must validate as an `AirbyteMessage`
(airbyte-protocol-models-pdv2), records must equal the Singer face's row for row, and the
state must behave as in the Singer face: only after the records it covers, resumable.
"""

from __future__ import annotations

import codecs
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from airbyte_protocol.models import AirbyteMessage

from tap_audience.airbyte import catalog as airbyte_catalog
from tap_audience.connector.endpoints import INFOS
from tap_audience.connector.settings import CONFIG_SCHEMA, secret_values
from tap_audience.sandbox import Fault
from tap_audience.singer.tap import TapAudience
from tests.helpers import run_tap, sandbox_config
from tests.test_first_hour import UNREADABLE, write_input

SOURCE = [sys.executable, "-m", "tap_audience.airbyte"]
INCREMENTAL = {info.name for info in INFOS if info.replication_key}
KEYS = {info.name: info.primary_keys for info in INFOS}


class Output:
    """One command's stdout, every line validated as an AirbyteMessage."""

    def __init__(self, process: subprocess.CompletedProcess[str]) -> None:
        self.code = process.returncode
        self.stderr = process.stderr
        self.lines = process.stdout.splitlines()
        for line in self.lines:
            AirbyteMessage.model_validate_json(line)  # raises on anything not a message
        self.messages = [json.loads(line) for line in self.lines]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self) -> dict[str, list[dict[str, Any]]]:
        found = defaultdict(list)
        for message in self.of("RECORD"):
            found[message["record"]["stream"]].append(message["record"]["data"])
        return found

    def statuses(self) -> dict[str, list[str]]:
        found = defaultdict(list)
        for message in self.of("TRACE"):
            if message["trace"]["type"] == "STREAM_STATUS":
                status = message["trace"]["stream_status"]
                found[status["stream_descriptor"]["name"]].append(status["status"])
        return found

    def errors(self) -> list[dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of("TRACE") if m["trace"]["type"] == "ERROR"]

    def last_states(self) -> list[dict[str, Any]]:
        """What Airbyte passes back to the next read: the last state message per stream."""
        last = {}
        for message in self.of("STATE"):
            last[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        return list(last.values())


def source(tmp_path: Path, command: str, **files: Any) -> Output:
    args = [command]
    for name, content in files.items():
        path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(content))
        args += [f"--{name}", str(path)]
    process = subprocess.run(
        [*SOURCE, *args], capture_output=True, text=True, timeout=300, check=False
    )
    return Output(process)


def configured_catalog(tmp_path: Path, config: dict[str, Any], **modes: str) -> dict[str, Any]:
    """The discovered catalog, every stream selected: incremental where it can be, unless
    `modes` says otherwise for a stream."""
    (found,) = source(tmp_path, "discover", config=config).of("CATALOG")
    return configure(found["catalog"]["streams"], **modes)


def configure(discovered: list[dict[str, Any]], **modes: str) -> dict[str, Any]:
    """The configured catalog of `discovered` streams, as `configured_catalog` says."""
    streams = []
    for stream in discovered:
        mode = modes.get(stream["name"], stream["supported_sync_modes"][-1])
        entry = {
            "stream": stream,
            "sync_mode": mode,
            "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
            "primary_key": stream["source_defined_primary_key"],
        }
        if mode == "incremental":
            entry["cursor_field"] = stream["default_cursor_field"]
        streams.append(entry)
    return {"streams": streams}


def test_spec_is_one_message_with_every_secret_hidden(tmp_path):
    output = source(tmp_path, "spec")
    assert output.code == 0
    (message,) = output.messages
    specification = message["spec"]["connectionSpecification"]
    properties = specification["properties"]
    for name in ("eq_jwt", "locus_jwt"):
        assert properties[name]["airbyte_secret"] is True
    streams = properties["angus_streams"]["items"]["properties"]
    assert streams["access_token"]["airbyte_secret"] is True
    assert "airbyte_secret" not in streams["client_id"]
    assert "sandbox" in properties  # the emulator is one setting away
    # Exactly the settings the Singer face declares (before singer-sdk adds its own).
    assert set(properties) == set(CONFIG_SCHEMA["properties"])
    assert set(properties) <= set(TapAudience.config_jsonschema["properties"])


def test_discover_lists_every_stream_with_its_modes_cursor_and_keys(tmp_path, sandbox):
    output = source(tmp_path, "discover", config=sandbox_config(sandbox))
    assert output.code == 0
    (message,) = output.messages
    streams = {s["name"]: s for s in message["catalog"]["streams"]}
    assert list(streams) == [info.name for info in INFOS]
    entities = streams["angus_entities"]
    assert entities["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert entities["source_defined_cursor"] is True
    assert entities["default_cursor_field"] == ["bucket_start"]
    assert entities["source_defined_primary_key"] == [
        ["client_id"],
        ["time_bucket"],
        ["bucket_start"],
    ]
    assert streams["eq_campaigns"]["supported_sync_modes"] == ["full_refresh"]
    assert "bucket_start" in entities["json_schema"]["properties"]


def test_check_says_what_the_singer_connection_test_says(tmp_path, sandbox):
    ok = source(tmp_path, "check", config=sandbox_config(sandbox))
    (status,) = ok.of("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED"
    assert "Angus: ok: 3 camera stream(s) authenticated" in status["connectionStatus"]["message"]

    config = sandbox_config(sandbox)
    config["angus_streams"][1]["access_token"] = "not-the-right-access-token"
    failed = source(tmp_path, "check", config=config)
    assert failed.code == 0  # an answer, as Airbyte expects: the status says it failed
    (status,) = failed.of("CONNECTION_STATUS")
    message = status["connectionStatus"]["message"]
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "Angus: FAILED: Angus rejected the credentials of camera stream" in message
    assert "not-the-right-access-token" not in "\n".join(failed.lines)
    singer = subprocess.run(
        [sys.executable, "-m", "tap_audience", "--test", "--config", str(write(tmp_path, config))],
        capture_output=True,
        text=True,
        check=False,
    )
    angus_line = next(x for x in singer.stderr.splitlines() if x.startswith("Angus: FAILED"))
    assert angus_line in message


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / f"file-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(content))
    return path


def test_check_with_a_config_problem_is_one_failed_status(tmp_path, sandbox):
    output = source(tmp_path, "check", config={**sandbox_config(sandbox), "shard_index": 3})
    (status,) = output.of("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "shard_index (3) must be below shard_count (1)" in status["connectionStatus"]["message"]


def assert_state_follows_its_records(output: Output) -> None:
    """Each STATE's recordCount is the stream's records since its previous STATE, and no two
    states of a stream in a row are identical."""
    since: Counter[str] = Counter()
    previous: dict[str, Any] = {}
    for message in output.messages:
        if message["type"] == "RECORD":
            since[message["record"]["stream"]] += 1
        elif message["type"] == "STATE":
            state = message["state"]
            assert state["type"] == "STREAM"
            name = state["stream"]["stream_descriptor"]["name"]
            assert state["sourceStats"]["recordCount"] == since[name]
            assert state["stream"]["stream_state"] != previous.get(name), name
            previous[name], since[name] = state["stream"]["stream_state"], 0


def test_a_read_equals_the_singer_face_row_for_row(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    output = source(tmp_path, "read", config=config, catalog=configured_catalog(tmp_path, config))
    assert output.code == 0, output.errors()
    singer = run_tap(config)
    records = output.records()
    assert set(records) == set(singer.records)
    for stream in singer.records:
        assert records[stream] == singer.records[stream], stream
    statuses = output.statuses()
    assert set(statuses) == {info.name for info in INFOS}
    for stream, seen in statuses.items():
        assert seen == ["STARTED", "RUNNING", "COMPLETE"], stream
    assert_state_follows_its_records(output)
    assert {s["stream"]["stream_descriptor"]["name"] for s in output.last_states()} == set(statuses)
    assert not output.errors()
    assert not [line for line in output.stderr.splitlines() if line.strip()]


def test_a_second_read_resumes_from_the_state_airbyte_passes_back(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    catalog = configured_catalog(tmp_path, config)
    first = source(tmp_path, "read", config=config, catalog=catalog)
    # As Airbyte and PyAirbyte pass it back: extra and null keys beside the stream state.
    state = [
        {**entry, "global_": None, "data": None, "destinationStats": {"recordCount": 1.0}}
        for entry in first.last_states()
    ]
    second = source(tmp_path, "read", config=config, catalog=catalog, state=state)
    assert second.code == 0, second.errors()
    assert_state_follows_its_records(second)
    once, again = first.records(), second.records()
    for stream in INCREMENTAL:
        # Only the lookback is read again, and it holds nothing the first read did not.
        assert 0 < len(again[stream]) < len(once[stream]), stream
        assert all(record in once[stream] for record in again[stream]), stream
    for stream in set(once) - INCREMENTAL:
        assert again[stream] == once[stream]  # full tables are read whole


def test_full_refresh_ignores_the_stored_state(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    first = source(tmp_path, "read", config=config, catalog=configured_catalog(tmp_path, config))
    full = configured_catalog(tmp_path, config, angus_entities="full_refresh")
    again = source(tmp_path, "read", config=config, catalog=full, state=first.last_states())
    assert again.records()["angus_entities"] == first.records()["angus_entities"]
    (entities_state,) = [
        s
        for s in again.last_states()
        if s["stream"]["stream_descriptor"]["name"] == "angus_entities"
    ]
    assert entities_state["stream"]["stream_state"]["partitions"]  # written afresh


def test_incremental_for_a_stream_without_cursor_reads_it_whole(tmp_path, sandbox):
    # PyAirbyte configures every stream as incremental.
    config = sandbox_config(sandbox)
    catalog = configured_catalog(tmp_path, config)
    for entry in catalog["streams"]:
        entry["sync_mode"] = "incremental"
    output = source(tmp_path, "read", config=config, catalog=catalog)
    assert output.code == 0, output.errors()
    assert (
        output.records()["eq_campaigns"]
        == run_tap(config, streams=["eq_campaigns"]).records["eq_campaigns"]
    )
    logged = [m["log"]["message"] for m in output.of("LOG")]
    assert any("eq_campaigns has no cursor: read in full" in line for line in logged)


def test_a_failed_partition_leaves_its_stream_incomplete_and_fails_the_read(tmp_path, sandbox):
    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/insights/os", limit=1))
    config = sandbox_config(sandbox)
    output = source(tmp_path, "read", config=config, catalog=configured_catalog(tmp_path, config))
    assert output.code == 1
    statuses = output.statuses()
    assert statuses["eq_os"][-1] == "INCOMPLETE"
    assert all(seen[-1] == "COMPLETE" for name, seen in statuses.items() if name != "eq_os")
    stream_error, read_error = output.errors()  # the stream's own, then the read's
    assert stream_error["stream_descriptor"] == {"name": "eq_os"}
    assert "stream_descriptor" not in read_error
    for error in (stream_error, read_error):
        assert error["failure_type"] == "system_error"  # a malformed answer: the vendor's
        assert "eq_os [campaign_id=" in error["message"]
        assert "Imps is 'n/a'" in error["message"]
    assert output.records()["eq_os"]  # the other campaigns were read
    assert_state_follows_its_records(output)


def test_the_failure_type_says_whose_move_it_is(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    config["angus_streams"][1]["access_token"] = "not-the-right-access-token"
    catalog = configured_catalog(tmp_path, config)
    output = source(tmp_path, "read", config=config, catalog=catalog)
    assert output.code == 1
    assert [e["failure_type"] for e in output.errors()] == ["config_error", "config_error"]
    assert "not-the-right-access-token" not in "\n".join(output.lines)


def test_every_selected_stream_gets_a_closing_status_even_when_the_read_stops(tmp_path, sandbox):
    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/insights/os", limit=1))
    config = sandbox_config(sandbox, fail_fast=True)
    output = source(tmp_path, "read", config=config, catalog=configured_catalog(tmp_path, config))
    assert output.code == 1
    statuses = output.statuses()
    assert set(statuses) == {info.name for info in INFOS}
    assert statuses["eq_os"][-1] == "INCOMPLETE"
    after = [info.name for info in INFOS][[i.name for i in INFOS].index("eq_os") + 1 :]
    assert after and all(statuses[name] == ["INCOMPLETE"] for name in after)


def test_a_check_that_refreshes_the_token_hands_it_back(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    config["eq_jwt"] = sandbox.mint_eq_token("analyst@eq.example", "atom", ttl_seconds=3 * 86400)
    output = source(tmp_path, "check", config=config)
    (control,) = output.of("CONTROL")
    assert control["control"]["connectorConfig"]["config"]["eq_jwt"] != config["eq_jwt"]
    assert output.messages[-1]["type"] == "CONNECTION_STATUS"  # the status comes last


def test_a_bare_token_where_a_camera_object_belongs_is_never_shown(tmp_path):
    config = {"angus_username": "ops@example.com", "angus_streams": ["plainSecretToken123"]}
    output = source(tmp_path, "check", config=config)
    (status,) = output.of("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "angus_streams" in status["connectionStatus"]["message"]
    assert "plainSecretToken123" not in "\n".join(output.lines)


def test_state_entries_it_cannot_use_are_named(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    catalog = configured_catalog(tmp_path, config)
    first = source(tmp_path, "read", config=config, catalog=catalog)
    states = first.last_states()
    foreign = {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "nope"}, "stream_state": {"partitions": []}},
    }
    elsewhere = {
        "type": "STREAM",
        "stream": {
            "stream_descriptor": {"name": "eq_os", "namespace": "other"},
            "stream_state": {"partitions": []},
        },
    }
    cdk_style = {
        "type": "STREAM",
        "stream": {
            "stream_descriptor": {"name": "angus_entities"},
            "stream_state": {"bucket_start": "2026-11-20T10:00:00+00:00"},
        },
    }
    rest = [s for s in states if s["stream"]["stream_descriptor"]["name"] != "angus_entities"]
    output = source(
        tmp_path,
        "read",
        config=config,
        catalog=catalog,
        state=[*rest, foreign, elsewhere, cdk_style],
    )
    assert output.code == 0
    warnings = [m["log"]["message"] for m in output.of("LOG") if m["log"]["level"] == "WARN"]
    assert any("'nope'" in w and "not used" in w for w in warnings), warnings
    assert any("namespace 'other'" in w for w in warnings), warnings
    assert any("angus_entities: the state holds bucket_start" in w for w in warnings), warnings
    twice = source(tmp_path, "read", config=config, catalog=catalog, state=[*states, states[0]])
    assert twice.code == 1
    assert "two entries for" in twice.errors()[0]["message"]


def test_a_refreshed_eq_token_is_handed_back_as_the_new_config(tmp_path, sandbox):
    config = sandbox_config(sandbox)
    config["eq_jwt"] = sandbox.mint_eq_token("analyst@eq.example", "atom", ttl_seconds=3 * 86400)
    catalog = configured_catalog(tmp_path, config)
    output = source(tmp_path, "read", config=config, catalog=catalog)
    assert output.code == 0, output.errors()
    (control,) = output.of("CONTROL")
    stored = control["control"]["connectorConfig"]["config"]
    assert stored["eq_jwt"] != config["eq_jwt"]  # refreshed: it expired within eq_refresh_days
    assert {k: v for k, v in stored.items() if k != "eq_jwt"} == {
        k: v for k, v in config.items() if k != "eq_jwt"
    }
    # The config it hands back works for the next read.
    again = source(tmp_path, "check", config=stored)
    assert again.of("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("bad setting", "angus_time_bucket: 'by_week' is not one of"),
        ("state not an array", "the state must be a JSON array of STREAM state messages"),
        ("singer state", "not a JSON object (tap-audience's Singer state: source-audience reads"),
        ("another cursor", "angus_entities: the cursor is source-defined (bucket_start)"),
        ("unknown stream", "nope: not a stream of this connector"),
        ("cursor not a list", "angus_entities: cursor_field must be a list"),
        ("stream twice", "angus_entities: configured twice"),
        ("missing catalog", "catalog file"),
    ],
)
def test_unusable_inputs_are_one_trace_error(tmp_path, sandbox, change, fragment):
    config = sandbox_config(sandbox)
    catalog = configured_catalog(tmp_path, config)
    files: dict[str, Any] = {"config": config, "catalog": catalog}
    if change == "bad setting":
        files["config"] = {**config, "angus_time_bucket": "by_week"}
    elif change == "state not an array":
        files["state"] = {"bookmarks": {}}
    elif change == "singer state":
        files["state"] = {"type": "STATE", "value": {"bookmarks": {}}}
    elif change == "another cursor":
        entry = next(s for s in catalog["streams"] if s["stream"]["name"] == "angus_entities")
        entry["cursor_field"] = ["passing_by"]
    elif change == "cursor not a list":
        catalog["streams"][0]["cursor_field"] = 5
    elif change == "stream twice":
        catalog["streams"].append(catalog["streams"][0])
    elif change == "unknown stream":
        catalog["streams"][0]["stream"] = {**catalog["streams"][0]["stream"], "name": "nope"}
    args = [*SOURCE, "read"]
    for name, content in files.items():
        args += [f"--{name}", str(write(tmp_path, content))]
    if change == "missing catalog":
        args[args.index("--catalog") + 1] = str(tmp_path / "missing.json")
    process = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    output = Output(process)
    assert output.code == 1
    (error,) = output.errors()
    assert error["failure_type"] == "config_error"
    assert fragment in error["message"]
    assert "Traceback" not in process.stdout + process.stderr
    assert not output.of("RECORD")
    for secret in secret_values(config):
        assert secret not in process.stdout


# Every case for the config; for the catalog and the state (the same reader), a few.
UNREADABLE_INPUTS = [
    pytest.param(role, *case.values, id=f"{role}-{case.id}")
    for role in ("config", "catalog", "state")
    for case in UNREADABLE
    if role == "config" or case.id in ("folder", "utf-16", "yaml")
]


@pytest.mark.parametrize(("role", "content", "expected"), UNREADABLE_INPUTS)
def test_unreadable_files_get_the_singer_faces_line(tmp_path, sandbox, role, content, expected):
    """The files the Singer face refuses (tests/test_first_hour.py), refused alike: one TRACE
    ERROR naming the file, before any request."""
    config = sandbox_config(sandbox)
    files = {"config": write(tmp_path, config)}
    files["catalog"] = write(tmp_path, configure(airbyte_catalog.discovered()))
    files["state"] = write(tmp_path, [])
    files[role] = write_input(tmp_path / f"{role}.json", content)
    args = [*SOURCE, "read"]
    for name, path in files.items():
        args += [f"--{name}", str(path)]
    process = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    output = Output(process)
    assert output.code == 1
    (error,) = output.errors()
    assert error["failure_type"] == "config_error"
    assert f"{role} file {files[role]} {expected}" in error["message"]
    assert "Traceback" not in process.stdout + process.stderr
    assert "s3cret" not in process.stdout
    assert not sandbox.requests


def test_a_config_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(codecs.BOM_UTF8 + b'{"sandbox": true}')
    process = subprocess.run(
        [*SOURCE, "discover", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = Output(process)
    assert output.code == 0, output.errors()
    (found,) = output.of("CATALOG")
    assert "angus_entities" in {stream["name"] for stream in found["catalog"]["streams"]}


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("source-audience")
    assert script.exists()
    shown = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True, env=os.environ
    )
    assert "spec" in shown.stdout and "read" in shown.stdout


# --- interruption: the same guarantees as the Singer face ------------------------------------
def start_read(config, catalog, states, tmp_path):
    args = [*SOURCE, "read", "--config", str(write(tmp_path, config))]
    args += ["--catalog", str(write(tmp_path, catalog))]
    if states:
        args += ["--state", str(write(tmp_path, list(states.values())))]
    with (tmp_path / "stderr.log").open("w") as stderr:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)


def test_every_selected_stream_gets_a_closing_status_after_sigterm(sandbox, tmp_path):
    from tests.test_interrupt import slow_down

    sandbox.faults.append(slow_down(0.02))
    config = sandbox_config(sandbox, start_date="2026-11-15T00:00:00+00:00", angus_window_days=1)
    catalog = configured_catalog(tmp_path, config)
    selected = {entry["stream"]["name"] for entry in catalog["streams"]}
    process = start_read(config, catalog, {}, tmp_path)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"type":"RECORD"' in line.replace(" ", ""):
            process.send_signal(signal.SIGTERM)  # the first stream is being read
            break
    lines.append(process.stdout.read())
    assert process.wait(timeout=60) == 143
    statuses: dict[str, list[str]] = {}
    for message in map(json.loads, "".join(lines).splitlines()):
        if message["type"] == "TRACE" and message["trace"]["type"] == "STREAM_STATUS":
            status = message["trace"]["stream_status"]
            statuses.setdefault(status["stream_descriptor"]["name"], []).append(status["status"])
    assert set(statuses) == selected
    assert all(each[-1] in ("COMPLETE", "INCOMPLETE") for each in statuses.values()), statuses


class Records:
    """An interrupted read's whole lines, as `assert_union_is_complete` reads a Singer run."""

    def __init__(self, text: str) -> None:
        output = Output(subprocess.CompletedProcess([], 0, text, ""))
        self.records = output.records()
        self.states = {s["stream"]["stream_descriptor"]["name"]: s for s in output.last_states()}


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
def test_an_interrupted_read_resumed_from_its_last_states_loses_nothing(sandbox, tmp_path, how):

    from tests.test_interrupt import assert_union_is_complete, complete_lines, slow_down

    sandbox.faults.append(slow_down(0.005))
    config = sandbox_config(
        sandbox, start_date="2026-11-15T00:00:00+00:00", angus_window_days=1, eq_window_days=2
    )
    catalog = configured_catalog(tmp_path, config)
    rng = random.Random(20261204)
    results, states, interruptions = [], {}, 0
    for _attempt in range(30):
        process = start_read(config, catalog, states, tmp_path)
        assert process.stdout is not None
        # A resumed read that completes writes about 400 lines (statuses, logs, lookback).
        stop_after, lines, signalled = rng.randint(1, 700), [], False
        for line in process.stdout:
            lines.append(line)
            if len(lines) >= stop_after:
                # The read may have written everything and ended already (its output waits
                # in the pipe): only a process still running can be interrupted.
                signalled = process.poll() is None
                if how == "kill -9":
                    process.kill()
                else:
                    process.send_signal(signal.SIGTERM)
                interruptions += signalled
                break
        rest = process.stdout.read()
        process.wait(timeout=60)
        if how == "SIGTERM" and signalled and process.returncode != 0:
            assert process.returncode == 143
            assert "Traceback" not in (tmp_path / "stderr.log").read_text()
        result = Records(complete_lines("".join(lines) + rest))
        results.append(result)
        states.update(result.states)  # the platform keeps each stream's newest state
        if process.returncode == 0:
            break
    else:
        raise AssertionError("the read never completed")
    assert interruptions >= 3
    assert_union_is_complete(sandbox, config, results)
