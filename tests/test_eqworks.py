"""ATOM insights and LOCUS household segments against the sandbox over real HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_audience.core.errors import CredentialsError
from tap_audience.core.timeutil import parse_datetime
from tap_audience.eqworks.insights import INSIGHT_DIMENSIONS
from tap_audience.sandbox import Fault
from tests.helpers import START, by_key, expected_insights, run_tap, sandbox_config

INSIGHT_STREAMS = [f"eq_{d}" for d in INSIGHT_DIMENSIONS]
INSIGHT_KEYS = ("campaign_id", "date", "dimension_value")


def sort_rows(rows):
    return sorted(rows, key=lambda r: (r["campaign_id"], r["date"], r["dimension_value"]))


def expected(sandbox, dimension):
    campaigns = sandbox.credentials()["eq_campaign_ids"]
    return sort_rows(
        expected_insights(sandbox, dimension, campaigns, parse_datetime(START), sandbox.now)
    )


def test_every_insights_stream_matches_the_sandbox(sandbox):
    result = run_tap(sandbox_config(sandbox), streams=INSIGHT_STREAMS)
    for dimension in INSIGHT_DIMENSIONS:
        got = result.records[f"eq_{dimension}"]
        assert got, dimension
        assert sort_rows(got) == expected(sandbox, dimension)
        assert len(by_key(got, INSIGHT_KEYS)) == len(got)  # no duplicates inside one run


def test_insights_requests_are_windows_of_eq_window_days(sandbox):
    run_tap(sandbox_config(sandbox, eq_window_days=5), streams=["eq_os"])
    calls = [r.query for r in sandbox.requests if r.path == "/eq-api/beta/insights/os"]
    # Campaign 52210 runs on UTC days; the others are cut in their own time zones.
    ranges = sorted((q["start"][0], q["end"][0]) for q in calls if q["c"] == ["52210"])
    assert ranges == [
        ("2026-11-01", "2026-11-05"),
        ("2026-11-06", "2026-11-10"),
        ("2026-11-11", "2026-11-15"),
        ("2026-11-16", "2026-11-20"),
    ]
    # Toronto and Vancouver start on 31 October (local), and 41001 ended on the 10th.
    assert len(calls) == 4 + 5 + 3


def test_insights_resume_with_lookback_and_pick_up_revisions(sandbox):
    first = run_tap(sandbox_config(sandbox), streams=["eq_browser"])
    bookmarks = {
        p["context"]["campaign_id"]: p["replication_key_value"]
        for p in first.final_state["bookmarks"]["eq_browser"]["partitions"]
    }
    assert bookmarks == {37054: "2026-11-20", 41001: "2026-11-10", 52210: "2026-11-20"}
    sandbox.advance(dt.timedelta(days=2))
    second = run_tap(
        sandbox_config(sandbox, end_date=sandbox.now.isoformat()),
        state=first.final_state,
        streams=["eq_browser"],
    )
    for campaign_id, bookmark in bookmarks.items():
        dates = {r["date"] for r in second.records["eq_browser"] if r["campaign_id"] == campaign_id}
        earliest = (dt.date.fromisoformat(bookmark) - dt.timedelta(days=3)).isoformat()
        assert min(dates) >= earliest
    merged = by_key(first.records["eq_browser"] + second.records["eq_browser"], INSIGHT_KEYS)
    assert merged == by_key(expected(sandbox, "browser"), INSIGHT_KEYS)


def test_locus_segments_match_the_sandbox(sandbox):
    config = sandbox_config(sandbox)
    result = run_tap(config, streams=["locus_hh_segments"])
    expected = []
    for coords in config["locus_coords"]:
        expected += sandbox.expected_hh_segments(coords)
    key = ("coords", "segment_id")
    got = result.records["locus_hh_segments"]
    assert sorted(got, key=lambda r: [r[k] for k in key]) == sorted(
        expected, key=lambda r: [r[k] for k in key]
    )


def test_a_coordinate_without_entitlement_is_skipped_with_a_warning(sandbox, caplog):
    config = sandbox_config(sandbox)
    config["locus_coords"] = ["40.7128,-74.0060", *config["locus_coords"]]  # New York
    with caplog.at_level("WARNING"):
        result = run_tap(config, streams=["locus_hh_segments"])
    assert "LOCUS refused coordinate 40.7128,-74.0060" in caplog.text
    # Not a crash: the others synced; the run still reports the skipped coordinate.
    assert "locus_hh_segments [coords=40.7128,-74.0060]" in str(result.failure)
    coords = {r["coords"] for r in result.records["locus_hh_segments"]}
    assert coords == set(config["locus_coords"][1:])


def test_an_expired_eq_token_fails_at_start_with_instructions(sandbox):
    config = sandbox_config(sandbox)
    config["eq_jwt"] = sandbox.mint_eq_token("analyst@eq.example", "atom", ttl_seconds=-60)
    with pytest.raises(CredentialsError) as failure:
        run_tap(config, streams=["eq_os"])
    message = str(failure.value)
    assert "eq_jwt (the EQ atom token) expired" in message
    assert "tap-audience eq-login --user <email> --product atom" in message
    assert config["eq_jwt"] not in message


def test_an_unknown_campaign_fails_only_its_partition(sandbox, caplog):
    with caplog.at_level("ERROR"):
        result = run_tap(sandbox_config(sandbox, eq_campaign_ids=[99999, 37054]), streams=["eq_os"])
    assert "eq_os [campaign_id=99999] failed" in caplog.text
    assert "/beta/insights/os" in caplog.text
    assert "eq_os [campaign_id=99999]" in str(result.failure)
    assert {r["campaign_id"] for r in result.records["eq_os"]} == {37054}
    partitions = result.final_state["bookmarks"]["eq_os"]["partitions"]
    bookmarks = {p["context"]["campaign_id"]: p.get("replication_key_value") for p in partitions}
    assert bookmarks == {99999: None, 37054: "2026-11-20"}


def test_no_eq_token_means_no_partitions(sandbox, caplog):
    config = sandbox_config(sandbox)
    for key in ("eq_jwt", "locus_jwt", "eq_user", "locus_coords"):
        config.pop(key)
    with caplog.at_level("INFO"):
        result = run_tap(config, streams=["eq_os", "locus_hh_segments", "angus_entities"])
    assert result.failure is None
    assert not result.records["eq_os"]
    assert not result.records["locus_hh_segments"]
    assert result.records["angus_entities"]
    assert "no EQ ATOM token configured" in caplog.text
    assert "no LOCUS token configured" in caplog.text


def test_campaigns_stream_lists_every_campaign_with_its_state(sandbox):
    result = run_tap(sandbox_config(sandbox), streams=["eq_campaigns"])
    got = sorted(result.records["eq_campaigns"], key=lambda r: r["campaign_id"])
    assert got == sandbox.expected_campaigns()
    assert {r["state"] for r in got} == {"running", "completed"}
    states = sorted(
        r.query["state"][0] for r in sandbox.requests if r.path == "/eq-api/beta/campaigns/"
    )
    assert states == ["completed", "paused", "pending", "running"]


def test_without_campaign_ids_insights_take_the_discovered_campaigns(sandbox):
    config = sandbox_config(sandbox, eq_campaign_ids=[])
    result = run_tap(config, streams=["eq_os"])
    assert {r["campaign_id"] for r in result.records["eq_os"]} == {37054, 41001, 52210}
    # Only campaigns overlapping the sync range: 41001 ended 10 days before the clock.
    late = run_tap(
        sandbox_config(sandbox, eq_campaign_ids=[], start_date="2026-11-15T00:00:00Z"),
        streams=["eq_os"],
    )
    assert {r["campaign_id"] for r in late.records["eq_os"]} == {37054, 52210}
    assert {
        p["context"]["campaign_id"] for p in late.final_state["bookmarks"]["eq_os"]["partitions"]
    } == {37054, 52210}


def test_insights_days_are_cut_in_the_campaign_time_zone(sandbox):
    run_tap(sandbox_config(sandbox, end_date="2026-11-20T03:00:00Z"), streams=["eq_os"])
    ranges = [
        (int(r.query["c"][0]), r.query["start"][0], r.query["end"][0])
        for r in sandbox.requests
        if r.path == "/eq-api/beta/insights/os"
    ]
    calls = {
        c: (min(s for k, s, _ in ranges if k == c), max(e for k, _, e in ranges if k == c))
        for c, _, _ in ranges
    }
    # start 2026-11-01T00:00Z is still 31 October in Toronto and Vancouver; the end, 03:00Z
    # on the 20th, is the 19th there but the 20th in UTC.
    assert calls[37054][1] == "2026-11-19" and calls[41001][1] == "2026-11-10"  # ended
    assert calls[52210][1] == "2026-11-20"
    assert {c: first for c, (first, _) in calls.items()} == {
        37054: "2026-10-31",
        41001: "2026-10-31",
        52210: "2026-11-01",
    }


def test_a_campaign_list_that_cannot_be_read_is_asked_for_once(sandbox, caplog):
    sandbox.inject(Fault.status(500, path="/eq-api/beta/campaigns"))
    result = run_tap(
        sandbox_config(sandbox, max_retries=1, max_retry_wait_seconds=0.01),
        streams=["eq_os", "eq_lang"],
    )
    # Each stream's partitions fall back to UTC dates; the list is tried once, not per partition.
    campaign_calls = [r for r in sandbox.requests if r.path == "/eq-api/beta/campaigns/"]
    assert len(campaign_calls) == 2  # one request and its one retry
    assert "campaign list unavailable" in caplog.text
    assert result.records["eq_os"] and result.records["eq_lang"]
