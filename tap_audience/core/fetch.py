"""Fetching planned windows. The only place that decides in which order requests go out.

`SequentialFetcher` sends one request at a time. Whatever fetcher is used, windows come back
in the order they were planned, each with all of its payloads, so emission order and state
stay deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from tap_audience.core.endpoint import Endpoint
from tap_audience.core.windows import Window


@dataclass
class WindowJob:
    endpoint: Endpoint
    window: Window


@dataclass
class FetchedWindow:
    job: WindowJob
    payloads: list[Any]
    requests: int


class Fetcher(Protocol):
    def run(self, jobs: Iterable[WindowJob]) -> Iterator[FetchedWindow]: ...


class SequentialFetcher:
    def run(self, jobs: Iterable[WindowJob]) -> Iterator[FetchedWindow]:
        for job in jobs:
            client = job.endpoint.client(job.window.partition)
            first = client.request_json(job.endpoint.first_request(job.window))
            payloads = [first]
            for request in job.endpoint.follow_up_requests(job.window, first):
                payloads.append(client.request_json(request))
            yield FetchedWindow(job=job, payloads=payloads, requests=len(payloads))
