"""Choices the tap accepts are honoured: a catalog's FULL_TABLE, a changed Angus bucket size."""

from __future__ import annotations

import contextlib
import io

from tap_audience.core.timeutil import parse_datetime
from tap_audience.tap import TapAudience
from tests.helpers import START, parse_messages, run_tap, sandbox_config

STREAM = "angus_entities"


def full_table_catalog(config):
    """The discovered catalog with `replication-method: FULL_TABLE` on angus_entities, as
    Meltano writes it from `metadata: {angus_entities: {replication-method: FULL_TABLE}}`."""
    catalog = TapAudience(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == STREAM
                if entry["tap_stream_id"] == STREAM:
                    metadata["metadata"]["replication-method"] = "FULL_TABLE"
    return catalog


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
