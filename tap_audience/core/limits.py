"""Per-vendor request limits shared by every worker: concurrency (AIMD) and a rate budget.

`AdaptiveConcurrency` admits at most `limit` requests at once. A 429 halves the limit
(multiplicative decrease, never below 1); every `limit` successful responses raise it by one
(additive increase) back up to the configured maximum. Requests carry the generation they
were admitted in, and only a 429 from the current generation halves the limit, so a burst
of 429s from requests already in flight counts as one signal, not eight. `RequestRate` is a
token bucket for an optional requests-per-second budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class AdaptiveConcurrency:
    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self.generation = 0
        self._successes = 0
        self._condition = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[int]:
        with self._condition:
            while self.in_flight >= self.limit:
                self._condition.wait()
            self.in_flight += 1
            generation = self.generation
        try:
            yield generation
        finally:
            with self._condition:
                self.in_flight -= 1
                self._condition.notify()

    def rate_limited(self, generation: int | None = None) -> None:
        """A 429 for a request admitted in `generation` (None: treat it as current)."""
        with self._condition:
            if generation is not None and generation != self.generation:
                return  # already backed off for this burst
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            self.generation += 1

    def succeeded(self) -> None:
        with self._condition:
            if self.limit >= self.maximum:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self.limit += 1
                self._condition.notify()


class RequestRate:
    """Token bucket: `per_second` requests on average, bursts of at most `burst`."""

    def __init__(self, per_second: float, burst: float = 1.0) -> None:
        self.per_second = per_second
        self.capacity = max(1.0, burst)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(
                    self.capacity, self._tokens + (now - self._updated) * self.per_second
                )
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.per_second
            time.sleep(wait)


class VendorLimits:
    """What one vendor's clients share: its concurrency and, optionally, its rate budget."""

    def __init__(self, max_concurrency: int, requests_per_second: float | None) -> None:
        self.concurrency = AdaptiveConcurrency(max_concurrency)
        self.rate = RequestRate(requests_per_second) if requests_per_second else None

    @contextmanager
    def request(self) -> Iterator[int]:
        """A slot for one request; yields the concurrency generation it was admitted in."""
        with self.concurrency.slot() as generation:
            if self.rate is not None:
                self.rate.acquire()
            yield generation
