"""Fetching planned windows: the only place that decides when requests go out.

Both fetchers take jobs (windows, in plan order, across partitions) and give back each
window with all of its payloads, in plan order, so records and STATE leave the tap in the
same order whatever the concurrency. A failure is handed back with its window instead of
being raised, so the caller can fail that window's partition and carry on with the others.

`ConcurrentFetcher` sends page 1 of up to `lookahead` windows at once and, as soon as a
page 1 says how many pages there are, pages 2..n too. Only `lookahead` windows are ever held,
so memory does not grow with the length of history or the number of partitions; the vendor's
`VendorLimits` cap how many requests are really in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from tap_audience.core.endpoint import Endpoint
from tap_audience.core.http import RequestStats
from tap_audience.core.windows import Window


@dataclass
class WindowJob:
    endpoint: Endpoint
    window: Window
    partition_index: int = 0
    cancel: threading.Event | None = None  # set when the partition is abandoned


@dataclass
class FetchedWindow:
    job: WindowJob
    payloads: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    stats: RequestStats = field(default_factory=RequestStats)

    @property
    def window(self) -> Window:
        return self.job.window


class Fetcher(Protocol):
    def run(self, jobs: Iterable[WindowJob]) -> Generator[FetchedWindow, None, None]: ...

    def close(self) -> None: ...


def _first_page(job: WindowJob, stats: RequestStats) -> Any:
    client = job.endpoint.client(job.window.partition)
    return client.request_json(job.endpoint.first_request(job.window), stats, job.cancel)


class SequentialFetcher:
    """One request at a time, in the calling thread."""

    def run(self, jobs: Iterable[WindowJob]) -> Generator[FetchedWindow, None, None]:
        for job in jobs:
            fetched = FetchedWindow(job)
            try:
                first = _first_page(job, fetched.stats)
                fetched.payloads.append(first)
                client = job.endpoint.client(job.window.partition)
                for request in job.endpoint.follow_up_requests(job.window, first):
                    fetched.payloads.append(client.request_json(request, fetched.stats, job.cancel))
            except Exception as exc:  # handed to the caller with its window
                fetched.error = exc
            yield fetched

    def close(self) -> None:
        return None


@dataclass
class _InFlight:
    job: WindowJob
    first: Future[tuple[Any, list[Future[Any]]]]
    stats: RequestStats


class ConcurrentFetcher:
    """Windows and pages fetched by a thread pool, handed back in plan order."""

    def __init__(self, workers: int, lookahead: int | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        self._lookahead = lookahead or 2 * workers

    def _open_window(self, job: WindowJob, stats: RequestStats) -> tuple[Any, list[Future[Any]]]:
        first = _first_page(job, stats)
        client = job.endpoint.client(job.window.partition)
        submit: Callable[..., Future[Any]] = self._executor.submit
        pages = [
            submit(client.request_json, request, stats, job.cancel)
            for request in job.endpoint.follow_up_requests(job.window, first)
        ]
        return first, pages

    def run(self, jobs: Iterable[WindowJob]) -> Generator[FetchedWindow, None, None]:
        pending = iter(jobs)
        queue: deque[_InFlight] = deque()

        def refill() -> None:
            while len(queue) < self._lookahead:
                job = next(pending, None)
                if job is None:
                    return
                stats = RequestStats()
                opened = self._executor.submit(self._open_window, job, stats)
                queue.append(_InFlight(job, opened, stats))

        try:
            refill()
            while queue:
                head = queue.popleft()
                fetched = FetchedWindow(head.job, stats=head.stats)
                try:
                    first, pages = head.first.result()
                    fetched.payloads.append(first)
                    for page in pages:
                        fetched.payloads.append(page.result())
                except Exception as exc:  # handed to the caller with its window
                    fetched.error = exc
                refill()
                yield fetched
        finally:
            # The consumer stopped early (a failure, an interruption): drop the look-ahead.
            for in_flight in queue:
                in_flight.first.cancel()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
