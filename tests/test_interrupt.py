"""Interruption: SIGTERM mid-sync and kill -9 at random points lose no record."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tap_audience.core.timeutil import parse_datetime
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS
from tests.helpers import expected_insights, parse_messages, sandbox_config

ROOT = Path(__file__).resolve().parents[1]
START = "2026-11-15T00:00:00+00:00"
KEYS = {
    "angus_entities": ("client_id", "time_bucket", "bucket_start"),
    "locus_hh_segments": ("coords", "segment_id"),
    **{f"eq_{d}": ("campaign_id", "date", "dimension_value") for d in INSIGHT_DIMENSIONS},
}


def expected_records(sandbox, config):
    start, end = parse_datetime(config["start_date"]), sandbox.now
    expected = {"angus_entities": []}
    for client_id, _ in sandbox.cameras:
        expected["angus_entities"] += sandbox.expected_angus(client_id, start, end)
    for dimension in INSIGHT_DIMENSIONS:
        expected[f"eq_{dimension}"] = expected_insights(
            sandbox, dimension, config["eq_campaign_ids"], start, end
        )
    expected["locus_hh_segments"] = [
        row for coords in config["locus_coords"] for row in sandbox.expected_hh_segments(coords)
    ]
    return expected


def start_tap(config, state, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [sys.executable, "-m", "tap_audience", "--config", str(tmp_path / "config.json")]
    if state:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    # stderr goes to a file: an unread pipe could fill up and stall the tap.
    with (tmp_path / "stderr.log").open("w") as stderr:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT, text=True)


def slow_down(seconds):
    def hook(_request):
        time.sleep(seconds)

    return hook


def complete_lines(text):
    """What a target would have read: whole lines only (a kill can cut the last one)."""
    return text[: text.rfind("\n") + 1] if "\n" in text else ""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_with_a_state_at_the_last_emitted_window(sandbox, tmp_path, signum):
    sandbox.faults.append(slow_down(0.02))
    config = sandbox_config(sandbox, start_date=START, angus_window_days=1)
    process = start_tap(config, None, tmp_path)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith('{"type":"STATE"') and len(lines) > 200:
            break
    process.send_signal(signum)
    rest = process.stdout.read()  # the same buffered reader, so nothing is skipped
    process.wait(timeout=30)
    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 128 + signum, stderr
    output = "".join(lines) + rest
    assert output.endswith("\n")
    first = parse_messages(output)
    assert first.messages[-1]["type"] == "STATE"
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    # Every bookmark in the final STATE is covered by records that were written.
    newest = {}
    for record in first.records["angus_entities"]:
        newest[record["client_id"]] = max(
            newest.get(record["client_id"], ""), record["bucket_start"]
        )
    for partition in first.final_state["bookmarks"]["angus_entities"]["partitions"]:
        if "replication_key_value" in partition:
            assert partition["replication_key_value"] <= newest[partition["context"]["client_id"]]
    # Resuming from it completes the data.
    sandbox.faults.clear()
    process = start_tap(config, first.final_state, tmp_path)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, (tmp_path / "stderr.log").read_text()
    second = parse_messages(out)
    assert_union_is_complete(sandbox, config, [first, second])


def assert_union_is_complete(sandbox, config, results):
    for stream, expected in expected_records(sandbox, config).items():
        keys = KEYS[stream]
        got = {}
        for result in results:
            for record in result.records[stream]:
                key = tuple(record[k] for k in keys)
                # The sandbox clock does not move here, so a re-read row is identical.
                assert got.setdefault(key, record) == record, (stream, key)
        assert got == {tuple(r[k] for k in keys): r for r in expected}, stream


def sync_with_random_kills(config, tmp_path, *, seed, kill_after, read=parse_messages):
    """Run the tap, kill -9 it after a random number of lines (`kill_after` bounds), resume
    from the last STATE that reached stdout, until a run completes. Returns every run's
    messages (as `read` parses whole lines) and the number of kills."""
    rng = random.Random(seed)
    results, state, kills = [], None, 0
    for _attempt in range(30):
        process = start_tap(config, state, tmp_path)
        assert process.stdout is not None
        stop_after = rng.randint(*kill_after)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if len(lines) >= stop_after:
                process.kill()
                kills += 1
                break
        rest = process.stdout.read()  # the same buffered reader, so nothing is skipped
        process.wait(timeout=60)
        result = read(complete_lines("".join(lines) + rest))
        results.append(result)
        if result.states:
            state = result.final_state
        if process.returncode == 0:
            return results, kills
    raise AssertionError("the tap never completed")


def test_kill_9_at_random_points_loses_nothing(sandbox, tmp_path):
    sandbox.faults.append(slow_down(0.005))
    config = sandbox_config(sandbox, start_date=START, angus_window_days=1, eq_window_days=2)
    results, kills = sync_with_random_kills(config, tmp_path, seed=20261123, kill_after=(1, 400))
    assert kills >= 5
    assert_union_is_complete(sandbox, config, results)
