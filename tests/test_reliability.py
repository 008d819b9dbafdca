"""Faults injected by the sandbox over real HTTP, and what the tap makes of them.

Each test names a row of the README's fault matrix. Waits are capped low
(`max_retry_wait_seconds`) except where a test proves that `Retry-After` is honoured.
"""

from __future__ import annotations

import re
import time

import jwt
import pytest

from tap_audience.core.errors import AccountCredentialsError
from tap_audience.core.timeutil import parse_datetime
from tap_audience.sandbox import Fault
from tests.helpers import START, by_key, expected_insights, run_tap, sandbox_config

ENTITIES = "/angus-data/api/1/entities"
FAST = {"max_retry_wait_seconds": 0.05, "max_retries": 3}


def angus_complete(sandbox, result):
    for client_id, _ in sandbox.cameras:
        expected = sandbox.expected_angus(client_id, parse_datetime(START), sandbox.now)
        got = [r for r in result.records["angus_entities"] if r["client_id"] == client_id]
        assert got == expected


def retry_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tap_audience.http"]


@pytest.mark.parametrize(
    ("fault", "what"),
    [
        (Fault.status(500, path=ENTITIES, schedule=[2]), "HTTP 500"),
        (Fault.status(502, path=ENTITIES, schedule=[2]), "HTTP 502"),
        (Fault.status(503, path=ENTITIES, schedule=[2]), "HTTP 503"),
        (Fault.status(504, path=ENTITIES, schedule=[2]), "HTTP 504"),
        (Fault.rate_limited(path=ENTITIES, schedule=[2]), "HTTP 429"),
        (
            Fault.drop_connection(path=ENTITIES, schedule=[2]),
            "the connection dropped in the middle of the answer",
        ),
        (Fault.truncated_body(path=ENTITIES, schedule=[2]), "HTTP 200 body is not JSON"),
        (Fault.html_error_page(path=ENTITIES, schedule=[2], status=200), "HTTP 200 body is not"),
        (Fault.html_error_page(path=ENTITIES, schedule=[2]), "HTTP 502"),
    ],
)
def test_transient_faults_are_retried_and_nothing_is_lost(sandbox, caplog, fault, what):
    sandbox.inject(fault)
    with caplog.at_level("WARNING"):
        result = run_tap(sandbox_config(sandbox, **FAST), streams=["angus_entities"])
    assert result.failure is None
    angus_complete(sandbox, result)
    (line,) = retry_lines(caplog)
    assert re.fullmatch(rf"Angus /api/1/entities: {what}.*; retry 1 of 3 in \d+\.\ds", line), line


def test_slow_responses_past_the_timeout_are_retried(sandbox, caplog):
    sandbox.inject(Fault.slow(path=ENTITIES, schedule=[1], delay_seconds=1.0))
    with caplog.at_level("WARNING"):
        result = run_tap(
            sandbox_config(sandbox, request_timeout_seconds=0.3, **FAST),
            streams=["angus_entities"],
        )
    angus_complete(sandbox, result)
    assert any("timed out after 0.3s" in line for line in retry_lines(caplog))


@pytest.mark.parametrize("http_date", [False, True])
def test_retry_after_is_honoured_in_both_forms(sandbox, caplog, http_date):
    sandbox.inject(
        Fault.rate_limited(
            path=ENTITIES, schedule=[1], retry_after=2, retry_after_http_date=http_date
        )
    )
    with caplog.at_level("WARNING"):
        result = run_tap(sandbox_config(sandbox, max_concurrency=1), streams=["angus_entities"])
    angus_complete(sandbox, result)
    (line,) = retry_lines(caplog)
    wait = float(re.search(r"in (\d+\.\d)s$", line).group(1))
    assert 1.0 <= wait <= 3.0  # an HTTP-date has whole seconds: up to a second either way


def test_retry_after_is_capped_by_max_retry_wait_seconds(sandbox, caplog):
    sandbox.inject(Fault.rate_limited(path=ENTITIES, schedule=[1], retry_after=3600))
    with caplog.at_level("WARNING"):
        run_tap(sandbox_config(sandbox, max_retry_wait_seconds=0.2), streams=["angus_entities"])
    (line,) = retry_lines(caplog)
    assert line.endswith("in 0.2s")


def test_a_request_that_keeps_failing_fails_only_its_partition(sandbox, caplog):
    (victim, _), *_ = sandbox.cameras
    # Every data request of one camera (told apart by its token's client_id claim).
    sandbox.inject(
        Fault.status(
            503,
            path=ENTITIES,
            body="Scheduled system maintenance",
            content_type="text/plain",
            when=lambda request: _client_of(request) == victim,
        )
    )
    with caplog.at_level("WARNING"):
        result = run_tap(sandbox_config(sandbox, **FAST), streams=["angus_entities", "eq_os"])
    lines = retry_lines(caplog)
    # Three retries per request; with concurrency, several of the camera's windows were in
    # flight when it failed, each retried on its own.
    assert len(lines) >= 3
    assert all("HTTP 503 Scheduled system maintenance" in line for line in lines)
    assert re.search(
        rf"angus_entities \[client_id={victim}, time_bucket=by_hour\] failed, skipping it "
        r".*still failing after 3 "
        r"retries: HTTP 503 Scheduled system maintenance",
        caplog.text,
    )
    assert f"angus_entities [client_id={victim}, time_bucket=by_hour]" in str(result.failure)
    others = {r["client_id"] for r in result.records["angus_entities"]}
    assert victim not in others
    assert len(others) == 2
    assert result.records["eq_os"]
    partitions = result.final_state["bookmarks"]["angus_entities"]["partitions"]
    bookmarks = {p["context"]["client_id"]: p.get("replication_key_value") for p in partitions}
    assert bookmarks[victim] is None  # never advanced
    assert all(bookmarks[c] for c in others)


def _client_of(request):
    header = request.header("authorization") or ""
    try:
        return jwt.decode(header.removeprefix("Bearer "), options={"verify_signature": False})[
            "client_id"
        ]
    except jwt.PyJWTError:
        return None


def test_fail_fast_stops_at_the_first_failed_partition(sandbox):
    sandbox.inject(Fault.status(404, path="/eq-api/beta/insights/os", first=1))
    with pytest.raises(Exception, match=r"eq_os \[campaign_id=37054\]"):
        run_tap(sandbox_config(sandbox, fail_fast=True), streams=["eq_os"])


def test_an_angus_token_expiring_mid_sync_is_renewed_once(sandbox):
    sandbox.inject(Fault.expire_tokens(vendor="angus", schedule=[5]))
    result = run_tap(sandbox_config(sandbox, max_concurrency=1), streams=["angus_entities"])
    angus_complete(sandbox, result)
    token_requests = [r for r in sandbox.requests if r.path.startswith("/angus-console")]
    # Cameras get their tokens as they start; the fault fires during the first camera's
    # sync, so only that camera's token is rejected: one re-authentication, no loop.
    assert len(token_requests) == 4


def test_an_eq_token_rejected_mid_sync_is_refreshed_once(sandbox):
    sandbox.inject(Fault.expire_tokens(vendor="eq", path=("/eq-api", "/locus"), schedule=[4]))
    result = run_tap(sandbox_config(sandbox, max_concurrency=1), streams=["eq_os"])
    assert result.failure is None
    assert [r.path for r in sandbox.requests].count("/eq-auth/prod/refresh") == 1
    key = ("campaign_id", "date", "dimension_value")
    got = by_key(result.records["eq_os"], key)
    campaigns = (37054, 41001, 52210)
    want = expected_insights(sandbox, "os", campaigns, parse_datetime(START), sandbox.now)
    assert got == by_key(want, key)
    assert len(got) == len(result.records["eq_os"])


def test_an_eq_token_that_cannot_be_refreshed_stops_the_run_readably(sandbox):
    sandbox.inject(Fault.expire_tokens(vendor="eq", schedule=[3]))
    with pytest.raises(AccountCredentialsError, match=r"would not refresh eq_jwt .*eq-login"):
        run_tap(sandbox_config(sandbox, max_concurrency=1), streams=["eq_os"])


def test_a_denied_coordinate_is_skipped_and_the_others_sync(sandbox, caplog):
    config = sandbox_config(sandbox)
    denied = config["locus_coords"][1]
    sandbox.inject(Fault.deny_coordinate(denied))
    result = run_tap(config, streams=["locus_hh_segments"])
    assert {r["coords"] for r in result.records["locus_hh_segments"]} == set(
        config["locus_coords"]
    ) - {denied}
    assert f"locus_hh_segments [coords={denied}] not entitled" in caplog.text


def test_a_503_maintenance_page_on_locus_is_retried(sandbox):
    sandbox.inject(
        Fault.status(
            503,
            path="/locus",
            first=2,
            body="Scheduled system maintenance",
            content_type="text/plain",
        )
    )
    result = run_tap(sandbox_config(sandbox, **FAST), streams=["locus_hh_segments"])
    assert result.failure is None
    assert len({r["coords"] for r in result.records["locus_hh_segments"]}) == 3


@pytest.mark.parametrize(
    ("path", "stream", "field"),
    [
        (ENTITIES, "angus_entities", r"passing_by is 'abc' \(str\), expected an integer"),
        ("/eq-api/beta/insights/os", "eq_os", r"Imps is 'n/a' \(str\), expected an integer"),
    ],
)
def test_wrong_field_types_fail_the_partition_with_the_field_named(
    sandbox, caplog, path, stream, field
):
    sandbox.inject(Fault.wrong_types(path=path, limit=1))
    result = run_tap(sandbox_config(sandbox, **FAST), streams=[stream])
    assert re.search(rf"{stream} \[\w+=[^\]]+\] failed, skipping it", caplog.text)
    assert re.search(field, caplog.text), caplog.text
    assert "unexpected response" in caplog.text
    assert result.failure is not None


def test_extra_fields_are_logged_once_per_stream(sandbox, caplog):
    sandbox.inject(Fault.extra_fields(path=ENTITIES))
    with caplog.at_level("WARNING"):
        result = run_tap(sandbox_config(sandbox), streams=["angus_entities"])
    angus_complete(sandbox, result)
    notes = [r.getMessage() for r in caplog.records if "does not extract" in r.getMessage()]
    assert len(notes) == 2  # one for the body, one for the buckets; not one per response
    assert "angus_entities: Angus /api/1/entities sent fields" in notes[0]


def test_missing_metric_keys_become_nulls(sandbox):
    sandbox.inject(Fault.missing_metrics(path=ENTITIES, metrics=["satisfaction", "stop_time"]))
    result = run_tap(sandbox_config(sandbox), streams=["angus_entities"])
    rows = result.records["angus_entities"]
    assert rows
    assert all(r["satisfaction"] is None and r["stop_time"] is None for r in rows)
    assert all(r["passing_by"] is not None for r in rows)


def test_a_failed_partition_stops_its_requests(sandbox, caplog):
    (victim, _), *_ = sandbox.cameras
    sandbox.inject(
        Fault.status(503, path=ENTITIES, when=lambda request: _client_of(request) == victim)
    )
    config = sandbox_config(sandbox, angus_window_days=1, max_retries=3, max_retry_wait_seconds=0.3)
    result = run_tap(config, streams=["angus_entities"])
    assert f"angus_entities [client_id={victim}, time_bucket=by_hour]" in str(result.failure)
    sent = len([r for r in sandbox.requests if r.path == ENTITIES])
    # After the run, nothing of the abandoned partition is still retrying in the background.
    time.sleep(1.0)
    assert len([r for r in sandbox.requests if r.path == ENTITIES]) == sent
    victim_requests = [r for r in sandbox.requests if r.status == 503]
    # At most the look-ahead (16 windows) times the tries (1 + 3), not 20 windows' worth.
    assert len(victim_requests) <= 16 * 4


def test_wrong_types_in_the_campaign_list_fail_its_partition(sandbox, caplog):
    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/campaigns", limit=1))
    result = run_tap(sandbox_config(sandbox), streams=["eq_campaigns"])
    assert re.search(r"eq_campaigns \[state=\w+\] failed, skipping it", caplog.text)
    assert "DaysLeft is 'n/a' (str), expected an integer" in caplog.text
    assert result.records["eq_campaigns"]  # the other states still synced
