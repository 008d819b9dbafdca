"""The input state is checked at start: what cannot be trusted stops the run before any record;
what can be understood is used and named; nothing silently becomes a full re-sync."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tap_audience.singer.input_state import StateError
from tests.helpers import parse_messages, run_tap, sandbox_config

ROOT = Path(__file__).resolve().parents[1]
STREAM = "angus_entities"


def angus_state(sandbox, value, *, context=None):
    client_id = sandbox.cameras[0][0]
    return {
        "bookmarks": {
            STREAM: {
                "partitions": [
                    {
                        "context": context or {"client_id": client_id, "time_bucket": "by_hour"},
                        "replication_key": "bucket_start",
                        "replication_key_value": value,
                    }
                ]
            }
        }
    }


def run_with_state_file(sandbox, tmp_path, text):
    (tmp_path / "config.json").write_text(json.dumps(sandbox_config(sandbox)))
    if isinstance(text, bytes):
        (tmp_path / "state.json").write_bytes(text)
    else:
        (tmp_path / "state.json").write_text(text)
    config, state = str(tmp_path / "config.json"), str(tmp_path / "state.json")
    return subprocess.run(
        [sys.executable, "-m", "tap_audience", "--config", config, "--state", state],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ('{"bookmarks": {"angus_entities": {"partitions": [', "is not valid JSON"),
        ("not json", "is not valid JSON"),
        ("[1, 2]", "holds a list, not an object"),
    ],
)
def test_an_unreadable_state_file_stops_the_run_before_any_record(sandbox, tmp_path, text, reason):
    process = run_with_state_file(sandbox, tmp_path, text)
    assert process.returncode == 1
    assert process.stdout == ""
    assert f"state file {tmp_path / 'state.json'} {reason}" in process.stderr
    assert "Traceback" not in process.stderr
    assert not sandbox.requests  # nothing was fetched either


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1732096800, "1732096800 is not a date-time text"),
        ("yesterday", "'yesterday' is not a date-time like"),
        ("2026-13-45T00:00:00+00:00", "is not a date-time like"),
    ],
)
def test_a_bookmark_of_the_wrong_type_or_form_stops_the_run(sandbox, value, expected):
    with pytest.raises(StateError, match=r"angus_entities \[client_id=\S+, time_bucket=by_hour\]"):
        run_tap(sandbox_config(sandbox), angus_state(sandbox, value), streams=[STREAM])
    with pytest.raises(StateError, match=expected):
        run_tap(sandbox_config(sandbox), angus_state(sandbox, value), streams=[STREAM])
    assert not [r for r in sandbox.requests if r.path.startswith("/angus-data")]


def test_an_insights_bookmark_must_be_a_date(sandbox):
    state = {
        "bookmarks": {
            "eq_os": {
                "partitions": [
                    {
                        "context": {"campaign_id": sandbox.campaigns[0]["CampCode"]},
                        "replication_key": "date",
                        "replication_key_value": "20/11/2026",
                    }
                ]
            }
        }
    }
    with pytest.raises(StateError, match="is not a campaign-local date like 2026-11-20"):
        run_tap(sandbox_config(sandbox), state, streams=["eq_os"])


def test_a_bookmark_in_another_utc_form_is_normalised_and_used(sandbox):
    # `Z` and `+00:00` compare differently as text; the tap compares bookmarks as text.
    result = run_tap(
        sandbox_config(sandbox),
        angus_state(sandbox, "2026-11-20T06:00:00Z"),
        streams=[STREAM],
    )
    client_id = sandbox.cameras[0][0]
    mine = [r for r in result.records[STREAM] if r["client_id"] == client_id]
    assert min(r["bucket_start"] for r in mine) == "2026-11-20T04:00:00+00:00"  # 2 h lookback


def test_meltanos_state_wrapper_is_unwrapped_and_used(sandbox, tmp_path, caplog):
    wrapped = {"singer_state": angus_state(sandbox, "2026-11-20T06:00:00+00:00")}
    process = run_with_state_file(sandbox, tmp_path, json.dumps(wrapped))
    assert process.returncode == 0, process.stderr
    assert "the state is wrapped in Meltano's" in process.stderr
    client_id = sandbox.cameras[0][0]
    rows = [
        r for r in parse_messages(process.stdout).records[STREAM] if r["client_id"] == client_id
    ]
    assert min(r["bucket_start"] for r in rows) == "2026-11-20T04:00:00+00:00"


def earliest_bucket(process, sandbox):
    """The first bucket the run emitted for the first camera (a resumed run starts 2 h
    before its bookmark)."""
    client_id = sandbox.cameras[0][0]
    records = parse_messages(process.stdout).records[STREAM]
    return min(r["bucket_start"] for r in records if r["client_id"] == client_id)


def test_a_whole_state_message_is_unwrapped_and_used(sandbox, tmp_path):
    # What a user copies from the tap's output, and what its error hints say to restore.
    message = {"type": "STATE", "value": angus_state(sandbox, "2026-11-20T06:00:00+00:00")}
    process = run_with_state_file(sandbox, tmp_path, json.dumps(message))
    assert process.returncode == 0, process.stderr
    assert f"state file {tmp_path / 'state.json'} holds a whole STATE message" in process.stderr
    assert earliest_bucket(process, sandbox) == "2026-11-20T04:00:00+00:00"


def test_every_form_of_the_taps_own_state_resumes_the_run(sandbox, tmp_path):
    first = run_with_state_file(
        sandbox, tmp_path, json.dumps(angus_state(sandbox, "2026-11-20T06:00:00+00:00"))
    )
    assert first.returncode == 0, first.stderr
    # The last STATE line as the tap wrote it, its value, and Meltano's wrapper around that.
    line = [x for x in first.stdout.splitlines() if x.startswith('{"type":"STATE"')][-1]
    value = json.loads(line)["value"]
    bookmark = next(
        p["replication_key_value"]
        for p in value["bookmarks"][STREAM]["partitions"]
        if p["context"]["client_id"] == sandbox.cameras[0][0]
    )
    for text in (line, json.dumps(value), json.dumps({"singer_state": value})):
        process = run_with_state_file(sandbox, tmp_path, text)
        assert process.returncode == 0, process.stderr
        assert "holds no" not in process.stderr
        # Resumed: from the bookmark less the 2-hour lookback, not from start_date.
        resumed_at = dt.datetime.fromisoformat(bookmark) - dt.timedelta(hours=2)
        assert earliest_bucket(process, sandbox) >= resumed_at.isoformat()


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(
            {"bookmark": {}},
            'holds no "bookmarks" and is no state this tap reads '
            "(its top-level keys: 'bookmark')",
            id="misspelt",
        ),
        pytest.param(
            {"value": {"bookmarks": {}}}, "(its top-level keys: 'value')", id="value-alone"
        ),
        pytest.param(
            {"completed": {"singer_state": {}}, "partial": {}},
            "(its top-level keys: 'completed', 'partial')",
            id="meltano-system-db-row",
        ),
        pytest.param(
            {"type": "STATE", "value": [1]},
            "is a STATE message whose value is a list",
            id="message-of-a-list",
        ),
        pytest.param(
            {"singer_state": "x"},
            'Meltano\'s {"singer_state": ...} wrapper around a string',
            id="wrapped-text",
        ),
        pytest.param(
            {"type": "STATE", "state": {"type": "STREAM", "stream": {}}},
            "holds a state message of source-audience (the Airbyte face)",
            id="airbyte-message",
        ),
        pytest.param(
            [{"type": "STREAM", "stream": {}}],
            "holds a list, not an object (source-audience's Airbyte state",
            id="airbyte-array",
        ),
    ],
)
def test_a_state_of_a_shape_the_tap_does_not_read_stops_the_run(sandbox, tmp_path, state, expected):
    """No shape the tap does not understand becomes a silent full re-sync."""
    process = run_with_state_file(sandbox, tmp_path, json.dumps(state))
    assert process.returncode == 1
    assert process.stdout == ""
    (error,) = [line for line in process.stderr.splitlines() if "| ERROR" in line]
    assert f"state file {tmp_path / 'state.json'} " in error
    assert expected in error
    assert "Traceback" not in process.stderr
    assert not sandbox.requests


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            b"\xff\xfe" + "{}".encode("utf-16-le"),
            "is UTF-16 encoded: save it as UTF-8",
            id="utf-16",
        ),
        pytest.param(
            b"bookmarks:\n  angus_entities: {}\n",
            "is not JSON (it looks like YAML: line 1 starts with `bookmarks:`)",
            id="yaml",
        ),
        pytest.param(None, "is a directory", id="folder"),
    ],
)
def test_a_state_file_that_is_not_utf8_json_is_one_line(sandbox, tmp_path, content, expected):
    if content is None:
        (tmp_path / "state.json").mkdir()
        (tmp_path / "config.json").write_text(json.dumps(sandbox_config(sandbox)))
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "tap_audience",
                "--config",
                str(tmp_path / "config.json"),
                "--state",
                str(tmp_path / "state.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    else:
        process = run_with_state_file(sandbox, tmp_path, content)
    assert process.returncode == 1
    assert process.stdout == ""
    (error,) = [line for line in process.stderr.splitlines() if "| ERROR" in line]
    assert f"state file {tmp_path / 'state.json'} {expected}" in error
    assert "Traceback" not in process.stderr
    assert not sandbox.requests


def test_a_state_file_with_a_utf8_byte_order_mark_is_read(sandbox, tmp_path):
    # Notepad's "UTF-8 with BOM": the mark means nothing, the state is used.
    text = json.dumps(angus_state(sandbox, "2026-11-20T06:00:00+00:00"))
    process = run_with_state_file(sandbox, tmp_path, b"\xef\xbb\xbf" + text.encode())
    assert process.returncode == 0, process.stderr
    assert earliest_bucket(process, sandbox) == "2026-11-20T04:00:00+00:00"


@pytest.mark.parametrize(
    ("sibling", "warned"),
    [
        ({"currently_syncing": None}, False),
        ({"currently_syncing": STREAM}, False),
        ({"version": 2}, True),
    ],
)
def test_keys_beside_the_bookmarks_are_read_past(sandbox, caplog, sibling, warned):
    # Taps built on singer-python write `currently_syncing` beside "bookmarks".
    state = {**angus_state(sandbox, "2026-11-20T06:00:00+00:00"), **sibling}
    with caplog.at_level(logging.WARNING):
        result = run_tap(sandbox_config(sandbox), state, streams=[STREAM])
    client_id = sandbox.cameras[0][0]
    mine = [r for r in result.records[STREAM] if r["client_id"] == client_id]
    assert min(r["bucket_start"] for r in mine) == "2026-11-20T04:00:00+00:00"
    assert ("'version' beside \"bookmarks\", which this tap does not use" in caplog.text) is warned


def test_entries_that_match_no_partition_are_named_and_kept(sandbox, caplog):
    client_id = sandbox.cameras[0][0]
    # A state written before the bucket size was part of the partition.
    state = angus_state(sandbox, "2026-11-20T06:00:00+00:00", context={"client_id": client_id})
    state["bookmarks"][STREAM]["replication_key_value"] = "2026-11-20T06:00:00+00:00"
    with caplog.at_level(logging.WARNING):
        result = run_tap(sandbox_config(sandbox), state, streams=[STREAM])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"angus_entities [client_id={client_id}]: this state entry matches no partition" in w
        and "client_id=" in w
        and "time_bucket=by_hour" in w
        for w in warnings
    ), warnings
    assert any("one bookmark for the whole stream" in w for w in warnings), warnings
    # Kept in the output state, so nothing of it is lost for a later run that needs it.
    partitions = result.final_state["bookmarks"][STREAM]["partitions"]
    assert {"client_id": client_id} in [p["context"] for p in partitions]


def test_bookmarks_of_unknown_streams_are_named(sandbox, caplog):
    state = {"bookmarks": {"angus_entitys": {"partitions": []}}}
    with caplog.at_level(logging.WARNING):
        run_tap(sandbox_config(sandbox), state, streams=[STREAM])
    assert "the state has bookmarks for 'angus_entitys', which is not a stream" in caplog.text


def test_a_partition_without_context_stops_the_run(sandbox):
    state = {"bookmarks": {STREAM: {"partitions": [{"replication_key_value": "x"}]}}}
    with pytest.raises(StateError, match="angus_entities: state partition #1 has no context"):
        run_tap(sandbox_config(sandbox), state, streams=[STREAM])


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"bookmarks": []}, '"bookmarks" must be an object'),
        ({"bookmarks": None}, '"bookmarks" must be an object'),
        ({"bookmarks": {"angus_entitys": 5}}, "angus_entitys: its state entry must be an object"),
        ({"bookmarks": {STREAM: {"partitions": {}}}}, '"partitions" must be a list'),
    ],
)
def test_a_state_of_the_wrong_shape_is_one_line_not_a_traceback(sandbox, tmp_path, state, expected):
    process = run_with_state_file(sandbox, tmp_path, json.dumps(state))
    assert process.returncode == 1
    assert expected in process.stderr
    assert "Traceback" not in process.stderr
    assert process.stdout == ""


def test_a_campaign_id_written_as_text_still_matches_its_partition(sandbox, caplog):
    config = sandbox_config(sandbox, eq_campaign_ids=[])  # campaigns discovered
    first = run_tap(config, streams=["eq_os"])
    state = json.loads(json.dumps(first.final_state))
    for partition in state["bookmarks"]["eq_os"]["partitions"]:
        partition["context"]["campaign_id"] = str(partition["context"]["campaign_id"])
    with caplog.at_level(logging.WARNING):
        second = run_tap(config, state, streams=["eq_os"])
    assert "matches no partition" not in caplog.text
    assert len(second.records["eq_os"]) < len(first.records["eq_os"]) / 2  # resumed, not afresh


def test_an_entry_for_a_campaign_the_token_cannot_see_is_named(sandbox, caplog):
    state = {
        "bookmarks": {
            "eq_os": {
                "partitions": [
                    {
                        "context": {"campaign_id": 99999},
                        "replication_key": "date",
                        "replication_key_value": "2026-11-18",
                    }
                ]
            }
        }
    }
    with caplog.at_level(logging.WARNING):
        run_tap(sandbox_config(sandbox, eq_campaign_ids=[]), state, streams=["eq_os"])
    assert "eq_os [campaign_id=99999]: this state entry matches no partition" in caplog.text
