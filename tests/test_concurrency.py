"""Concurrent fetching: same output as sequential, bounded, one token per credential."""

from __future__ import annotations

import threading
import time

from tap_audience.core.limits import AdaptiveConcurrency, RequestRate
from tests.helpers import run_tap, sandbox_config


def without_timestamps(messages):
    return [
        {k: v for k, v in m.items() if k != "time_extracted"}
        for m in messages
        if m["type"] in ("RECORD", "STATE", "SCHEMA")
    ]


def test_output_does_not_depend_on_concurrency(sandbox):
    sequential = run_tap(sandbox_config(sandbox, max_concurrency=1, angus_window_days=2))
    concurrent = run_tap(sandbox_config(sandbox, max_concurrency=8, angus_window_days=2))
    assert len(sequential.messages) > 3000
    assert without_timestamps(concurrent.messages) == without_timestamps(sequential.messages)


def test_requests_really_overlap_and_stay_within_the_limit(sandbox):
    in_flight, peak, lock = [0], [0], threading.Lock()

    def measure(request):
        if request.path.startswith("/angus-data"):
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.01)
            with lock:
                in_flight[0] -= 1

    sandbox.faults.append(measure)
    run_tap(
        sandbox_config(sandbox, max_concurrency=4, angus_window_days=2), streams=["angus_entities"]
    )
    assert peak[0] == 4


def test_one_token_request_per_camera_under_concurrency(sandbox):
    run_tap(sandbox_config(sandbox, max_concurrency=8), streams=["angus_entities"])
    assert len([r for r in sandbox.requests if r.path.startswith("/angus-console")]) == 3


def test_adaptive_concurrency_halves_on_429_and_recovers_additively():
    limit = AdaptiveConcurrency(8)
    limit.rate_limited()
    assert limit.limit == 4
    limit.rate_limited()
    limit.rate_limited()
    limit.rate_limited()
    assert limit.limit == 1
    for _ in range(1):
        limit.succeeded()
    assert limit.limit == 2
    for _ in range(2 + 3 + 4 + 5 + 6 + 7):
        limit.succeeded()
    assert limit.limit == 8
    limit.succeeded()
    assert limit.limit == 8


def test_request_rate_spaces_requests():
    rate = RequestRate(per_second=50)
    started = time.monotonic()
    for _ in range(11):
        rate.acquire()
    # one token up front, then 10 more at 50/s
    assert time.monotonic() - started >= 0.19


def test_a_burst_of_429s_from_one_generation_halves_the_limit_once():
    limit = AdaptiveConcurrency(8)
    with limit.slot() as generation:
        pass
    for _ in range(8):  # eight requests admitted together all come back 429
        limit.rate_limited(generation)
    assert limit.limit == 4
    with limit.slot() as later:
        pass
    limit.rate_limited(later)  # a 429 after the back-off is a new signal
    assert limit.limit == 2
