"""angus_entities against the sandbox over real HTTP: values, paging, auth, state."""

from __future__ import annotations

import datetime as dt
import json

import jwt

from tap_audience.core.timeutil import parse_datetime
from tap_audience.sandbox import Response
from tests.helpers import START, by_key, run_tap, sandbox_config

STREAM = "angus_entities"
KEYS = ("client_id", "time_bucket", "bucket_start")
ENTITIES = "/angus-data/api/1/entities"


def sync(sandbox, state=None, **overrides):
    return run_tap(sandbox_config(sandbox, **overrides), state=state, streams=[STREAM])


def records_of(result, client_id):
    return [r for r in result.records[STREAM] if r["client_id"] == client_id]


def test_records_match_the_sandbox_exactly(sandbox):
    result = sync(sandbox)
    for client_id, _ in sandbox.cameras:
        expected = sandbox.expected_angus(client_id, parse_datetime(START), sandbox.now)
        assert records_of(result, client_id) == expected
    assert len(result.records[STREAM]) == 3 * (19 * 24 + 11)


def test_missing_metrics_become_nulls(sandbox):
    result = sync(sandbox)
    rows = result.records[STREAM]
    # The sandbox omits `satisfaction` from ~10% of buckets even when it was requested.
    omitted = [r for r in rows if r["satisfaction"] is None and r["interested"]]
    assert omitted, "the sandbox should omit satisfaction from some busy buckets"
    assert all(set(r) == set(rows[0]) for r in rows)


def test_metric_subset_and_daily_buckets(sandbox):
    metrics = ["passing_by", "gender"]
    result = sync(sandbox, angus_time_bucket="by_day", angus_metrics=metrics)
    for client_id, _ in sandbox.cameras:
        expected = sandbox.expected_angus(
            client_id, parse_datetime(START), sandbox.now, "by_day", metrics
        )
        got = records_of(result, client_id)
        assert got == expected
        assert len(got) == 20
        assert all(r["interested"] is None and r["category"] is None for r in got)
        assert all(set(r["gender"]) == {"female", "male", "unknown"} for r in got)


def test_windows_are_paged_to_the_end(sandbox):
    result = sync(sandbox, angus_window_days=7)
    pages = [int(r.query.get("page", ["1"])[0]) for r in sandbox.requests if r.path == ENTITIES]
    # 19 days 10.5 h of hourly buckets, cut at 7-day windows: 168, 168, 131 buckets per camera,
    # i.e. 4 + 4 + 3 pages of 50.
    assert sorted(pages).count(1) == 3 * 3
    assert pages.count(4) == 3 * 2
    assert 5 not in pages
    assert len(pages) == 3 * 11
    assert len(result.records[STREAM]) == 3 * (19 * 24 + 11)


def test_one_token_per_camera_is_reused(sandbox):
    sync(sandbox)
    token_requests = [r for r in sandbox.requests if r.path.startswith("/angus-console")]
    assert len(token_requests) == 3


def test_an_expired_token_is_renewed_once_and_the_request_retried(sandbox):
    expired_cameras: set[str] = set()

    def expire_each_cameras_first_token(request):
        if request.path != ENTITIES:
            return None
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        client_id = jwt.decode(token, options={"verify_signature": False})["client_id"]
        if client_id in expired_cameras:
            return None
        expired_cameras.add(client_id)
        body = {"code": "expired_jwt", "message": "Signature has expired"}
        return Response(401, {"Content-Type": "application/json"}, json.dumps(body).encode())

    sandbox.faults.append(expire_each_cameras_first_token)
    result = sync(sandbox, max_concurrency=1)
    token_requests = [r for r in sandbox.requests if r.path.startswith("/angus-console")]
    assert len(token_requests) == 6
    for client_id, _ in sandbox.cameras:
        expected = sandbox.expected_angus(client_id, parse_datetime(START), sandbox.now)
        assert records_of(result, client_id) == expected


def test_every_state_covers_only_emitted_windows(sandbox):
    result = sync(sandbox, angus_window_days=2)
    newest: dict[str, str] = {}
    states_seen = 0
    for message in result.messages:
        if message["type"] == "RECORD":
            record = message["record"]
            newest[record["client_id"]] = max(
                newest.get(record["client_id"], ""), record["bucket_start"]
            )
        elif message["type"] == "STATE":
            partitions = message["value"]["bookmarks"].get(STREAM, {}).get("partitions", [])
            for partition in partitions:
                if "replication_key_value" in partition:
                    states_seen += 1
                    client_id = partition["context"]["client_id"]
                    assert partition["replication_key_value"] <= newest[client_id]
    # one STATE per finished 2-day window per camera (10 windows each)
    assert states_seen >= 3 * 10


def test_partitions_keep_separate_bookmarks(sandbox):
    (a, _), (b, _), (c, _) = sandbox.cameras
    state = {
        "bookmarks": {
            STREAM: {
                "partitions": [
                    {
                        "context": {"client_id": a, "time_bucket": "by_hour"},
                        "replication_key": "bucket_start",
                        "replication_key_value": "2026-11-19T10:00:00+00:00",
                    },
                    {
                        "context": {"client_id": b, "time_bucket": "by_hour"},
                        "replication_key": "bucket_start",
                        "replication_key_value": "2026-11-20T06:00:00+00:00",
                    },
                ]
            }
        }
    }
    result = sync(sandbox, state=state)
    # Each resumes at its own bookmark minus the 2-hour lookback; c starts at start_date.
    assert records_of(result, a)[0]["bucket_start"] == "2026-11-19T08:00:00+00:00"
    assert records_of(result, b)[0]["bucket_start"] == "2026-11-20T04:00:00+00:00"
    assert records_of(result, c)[0]["bucket_start"] == "2026-11-01T00:00:00+00:00"
    final = {
        p["context"]["client_id"]: p["replication_key_value"]
        for p in result.final_state["bookmarks"][STREAM]["partitions"]
    }
    assert final == {x: "2026-11-20T10:00:00+00:00" for x in (a, b, c)}


def test_second_run_rereads_only_the_lookback_and_catches_revisions(sandbox):
    first = sync(sandbox, end_date=None)
    sandbox.advance(dt.timedelta(hours=5))
    second = run_tap(
        sandbox_config(sandbox, end_date=sandbox.now.isoformat()),
        state=first.final_state,
        streams=[STREAM],
    )
    for client_id, _ in sandbox.cameras:
        starts = [r["bucket_start"] for r in records_of(second, client_id)]
        # bookmark 10:00 (the partial bucket) − 2 h lookback → 08:00 through the new 15:00
        assert starts == [f"2026-11-20T{h:02d}:00:00+00:00" for h in range(8, 16)]
        merged = by_key(records_of(first, client_id) + records_of(second, client_id), KEYS)
        expected = by_key(
            sandbox.expected_angus(client_id, parse_datetime(START), sandbox.now), KEYS
        )
        assert merged == expected  # the partial 10:00 bucket was revised by the second run


def test_no_credentials_means_no_partitions(sandbox, caplog):
    config = sandbox_config(sandbox)
    config.pop("angus_streams")
    config.pop("angus_username")
    with caplog.at_level("INFO"):
        result = run_tap(config, streams=[STREAM, "eq_os"])
    assert result.records[STREAM] == []
    assert result.records["eq_os"]  # the configured vendor syncs
    assert "no Angus camera streams configured" in caplog.text


def test_tokens_are_renewed_before_they_expire(sandbox):
    # Tokens that live less than the 5-minute renewal margin are never reused.
    sandbox.angus_token_ttl = 200
    result = sync(sandbox, max_concurrency=1)
    data = [r for r in sandbox.requests if r.path == ENTITIES]
    tokens = [r for r in sandbox.requests if r.path.startswith("/angus-console")]
    assert len(tokens) == len(data)
    assert all(r.status == 200 for r in data)  # renewed proactively: no 401 first
    assert len(result.records[STREAM]) == 3 * (19 * 24 + 11)
