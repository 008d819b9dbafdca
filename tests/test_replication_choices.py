"""Choices the tap accepts are honoured: a catalog's FULL_TABLE, a changed Angus bucket size."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tap_audience.core.timeutil import parse_datetime
from tap_audience.singer.tap import TapAudience
from tests.helpers import START, parse_messages, run_tap, sandbox_config

STREAM = "angus_entities"
ROOT = Path(__file__).resolve().parents[1]


def full_table_catalog(config):
    """The catalog Meltano writes from `metadata: {angus_entities: {replication-method:
    FULL_TABLE}}`."""
    return catalog_with(config, STREAM, **{"replication-method": "FULL_TABLE"})


def test_a_catalog_full_table_reads_the_whole_range_again(sandbox, caplog):
    config = sandbox_config(sandbox)
    first = run_tap(config, streams=[STREAM])
    assert first.final_state["bookmarks"][STREAM]["partitions"]
    tap = TapAudience(config=config, state=first.final_state, catalog=full_table_catalog(config))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), caplog.at_level("INFO"):
            tap.run()
    finally:
        tap.runtime.close()
    second = parse_messages(out.getvalue())
    assert "Beginning sync of 'angus_entities' in full_table mode" in caplog.text
    # Every record again, from start_date, not only the lookback after the bookmark.
    assert sorted(map(str, second.records[STREAM])) == sorted(map(str, first.records[STREAM]))


def test_a_changed_bucket_size_keeps_its_own_bookmarks(sandbox):
    hourly = run_tap(sandbox_config(sandbox), streams=[STREAM])
    daily = run_tap(
        sandbox_config(sandbox, angus_time_bucket="by_day"),
        state=hourly.final_state,
        streams=[STREAM],
    )
    for client_id, _ in sandbox.cameras:
        expected = sandbox.expected_angus(
            client_id, parse_datetime(START), sandbox.now, time_bucket="by_day"
        )
        got = [r for r in daily.records[STREAM] if r["client_id"] == client_id]
        assert got == expected  # the whole history, not one day after the hourly bookmark
    contexts = [p["context"] for p in daily.final_state["bookmarks"][STREAM]["partitions"]]
    assert {c["time_bucket"] for c in contexts} == {"by_hour", "by_day"}
    # Back to hourly: it resumes from its own bookmark (lookback only), not from start_date.
    again = run_tap(sandbox_config(sandbox), state=daily.final_state, streams=[STREAM])
    assert len(again.records[STREAM]) < len(hourly.records[STREAM]) / 10


def catalog_with(config, stream, **root_metadata):
    """The discovered catalog with only `stream` selected and `root_metadata` on it."""
    catalog = TapAudience(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == stream
                if entry["tap_stream_id"] == stream:
                    metadata["metadata"].update(root_metadata)
    return catalog


def run_with_catalog(tmp_path, config, catalog, state=None):
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
    args = ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        args += ["--state", str(tmp_path / "state.json")]
    return subprocess.run(
        [sys.executable, "-m", "tap_audience", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_lower_case_full_table_from_a_catalog_file_is_honoured(sandbox, tmp_path):
    config = sandbox_config(sandbox)
    first = run_tap(config, streams=[STREAM])
    catalog = catalog_with(config, STREAM, **{"replication-method": "full_table"})
    process = run_with_catalog(tmp_path, config, catalog, first.final_state)
    assert process.returncode == 0, process.stderr
    again = parse_messages(process.stdout).records[STREAM]
    assert len(again) == len(first.records[STREAM])


@pytest.mark.parametrize(
    ("stream", "metadata", "expected"),
    [
        (STREAM, {"replication-key": "passing_by"}, "keeps bookmarks by 'bucket_start' only"),
        ("locus_hh_segments", {"replication-method": "INCREMENTAL"}, "supports FULL_TABLE"),
        (STREAM, {"replication-method": "LOG_BASED"}, "supports FULL_TABLE or INCREMENTAL"),
    ],
)
def test_catalog_choices_the_tap_cannot_honour_stop_the_run(
    sandbox, tmp_path, stream, metadata, expected
):
    config = sandbox_config(sandbox)
    process = run_with_catalog(tmp_path, config, catalog_with(config, stream, **metadata))
    assert process.returncode == 1
    assert f"{stream}: the catalog" in process.stderr and expected in process.stderr
    assert process.stdout == ""
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        ({"streams": [1]}, 'the catalog must hold "streams"'),
        ({"streams": []}, "the catalog selects no stream"),
    ],
)
def test_an_unusable_catalog_is_one_line(sandbox, tmp_path, catalog, expected):
    process = run_with_catalog(tmp_path, sandbox_config(sandbox), catalog)
    assert process.returncode == 1
    assert expected in process.stderr
    assert "Traceback" not in process.stderr
