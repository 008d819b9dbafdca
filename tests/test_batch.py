"""BATCH messages: a STATE covers only records in batch files already announced on stdout.

The same interruption tests as RECORD mode (tests/test_interrupt.py): SIGTERM and kill -9 at
random points, then resuming from the last STATE a target could have read. A target reads
the records of a BATCH message from its files, so "delivered" means: announced by a BATCH line.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import signal
from urllib.parse import urlsplit

import pytest

from tap_audience.singer.tap import TapAudience
from tests.helpers import SyncResult, parse_messages, run_tap, sandbox_config
from tests.test_interrupt import (
    START,
    assert_union_is_complete,
    expected_records,
    slow_down,
    start_tap,
    sync_with_random_kills,
)


def batch_config(tmp_path, batch_size=40):
    root = tmp_path / "batches"
    root.mkdir(exist_ok=True)
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{root}", "prefix": "b-"},
        "batch_size": batch_size,
    }


def read_batches(result: SyncResult) -> SyncResult:
    """The records a target would load: those of every announced batch file."""
    for message in result.messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                with gzip.open(urlsplit(url).path, "rt") as lines:
                    result.records[message["stream"]] += [json.loads(line) for line in lines]
    return result


def newest_announced(result, stream, key, partition_key):
    """Per partition, the newest replication value announced before each STATE."""
    announced, seen = [], {}
    for message in result.messages:
        if message["type"] == "BATCH" and message["stream"] == stream:
            for url in message["manifest"]:
                with gzip.open(urlsplit(url).path, "rt") as lines:
                    for line in lines:
                        record = json.loads(line)
                        part = record[partition_key]
                        seen[part] = max(seen.get(part, ""), record[key])
        elif message["type"] == "STATE":
            announced.append((message["value"], dict(seen)))
    return announced


def test_every_state_covers_only_announced_batches(sandbox, tmp_path):
    config = sandbox_config(
        sandbox, start_date=START, angus_window_days=1, batch_config=batch_config(tmp_path)
    )
    result = read_batches(run_tap(config, streams=["angus_entities", "eq_os"]))
    assert not [m for m in result.messages if m["type"] == "RECORD"]
    assert len([m for m in result.messages if m["type"] == "BATCH"]) > 5
    expected = expected_records(sandbox, {**config, "eq_campaign_ids": [], "locus_coords": []})
    keys = ("client_id", "time_bucket", "bucket_start")
    got = {tuple(r[k] for k in keys): r for r in result.records["angus_entities"]}
    assert got == {tuple(r[k] for k in keys): r for r in expected["angus_entities"]}
    checked = 0
    for state, seen in newest_announced(result, "angus_entities", "bucket_start", "client_id"):
        for partition in state.get("bookmarks", {}).get("angus_entities", {}).get("partitions", []):
            if "replication_key_value" in partition:
                client_id = partition["context"]["client_id"]
                assert client_id in seen, "a STATE bookmarks a partition before its first BATCH"
                assert partition["replication_key_value"] <= seen[client_id]
                checked += 1
    assert checked > 10


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_in_batch_mode_stops_with_a_state_that_loses_nothing(sandbox, tmp_path, signum):
    sandbox.faults.append(slow_down(0.02))
    config = sandbox_config(
        sandbox, start_date=START, angus_window_days=1, batch_config=batch_config(tmp_path, 30)
    )
    process = start_tap(config, None, tmp_path)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith('{"type":"BATCH"') and len(lines) > 20:
            break
    process.send_signal(signum)
    rest = process.stdout.read()
    process.wait(timeout=30)
    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 128 + signum, stderr
    first = read_batches(parse_messages("".join(lines) + rest))
    assert first.messages[-1]["type"] == "STATE"
    assert "Traceback" not in stderr
    sandbox.faults.clear()
    process = start_tap(config, first.final_state, tmp_path)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, (tmp_path / "stderr.log").read_text()
    assert_union_is_complete(sandbox, config, [first, read_batches(parse_messages(out))])


def test_kill_9_in_batch_mode_loses_nothing(sandbox, tmp_path):
    sandbox.faults.append(slow_down(0.005))
    config = sandbox_config(
        sandbox,
        start_date=START,
        angus_window_days=1,
        eq_window_days=2,
        batch_config=batch_config(tmp_path, 10),
    )
    results, kills = sync_with_random_kills(
        config,
        tmp_path,
        seed=20261127,
        kill_after=(10, 110),
        read=lambda text: read_batches(parse_messages(text)),
    )
    assert kills >= 5
    assert_union_is_complete(sandbox, config, results)


def test_deselected_properties_stay_out_of_batch_files(sandbox, tmp_path):
    config = sandbox_config(sandbox, start_date=START, batch_config=batch_config(tmp_path))
    catalog = TapAudience(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == "angus_entities"
            elif metadata["breadcrumb"] == ["properties", "gender"]:
                metadata["metadata"]["selected"] = False
    tap = TapAudience(config=config, catalog=catalog)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            tap.run()
    finally:
        tap.runtime.close()
    rows = read_batches(parse_messages(out.getvalue())).records["angus_entities"]
    assert rows and all("gender" not in row and "category" in row for row in rows)
