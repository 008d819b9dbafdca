"""All partitions of one stream as a single ordered stream of fetched windows.

The Singer SDK asks for one partition's records at a time. To fetch ahead across partition
boundaries, every partition's windows are planned up front (bookmarks come from the input
state, so nothing depends on the previous partition) and fed to one fetcher; each partition
then takes its own windows off the front, in plan order. A failed partition is abandoned:
its queued windows are dropped and its unplanned ones never requested.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from tap_audience.core.endpoint import Endpoint
from tap_audience.core.fetch import FetchedWindow, Fetcher, WindowJob
from tap_audience.core.windows import Window


class PartitionPipeline:
    def __init__(
        self,
        endpoint: Endpoint,
        plans: Sequence[tuple[dict[str, Any], list[Window]]],
        fetcher: Fetcher,
    ) -> None:
        self.plans = plans
        self._abandoned: set[int] = set()
        self._cancel = [threading.Event() for _ in plans]
        self._fetched = fetcher.run(self._jobs(endpoint))
        self._next: FetchedWindow | None = None

    def _jobs(self, endpoint: Endpoint) -> Iterator[WindowJob]:
        for index, (_, windows) in enumerate(self.plans):
            for window in windows:
                if index in self._abandoned:
                    break
                yield WindowJob(endpoint, window, index, self._cancel[index])

    def index_of(self, partition: dict[str, Any]) -> int:
        return next(i for i, (p, _) in enumerate(self.plans) if p == partition)

    def windows(self, index: int) -> Iterator[FetchedWindow]:
        """The fetched windows of partition `index`, in order (errors are on the window)."""
        while True:
            if self._next is None:
                self._next = next(self._fetched, None)
                if self._next is None:
                    return
            item = self._next
            owner = item.job.partition_index
            if owner > index:
                return  # the next partition's: leave it for that partition
            self._next = None
            if owner == index and index not in self._abandoned:
                yield item

    def abandon(self, index: int) -> None:
        """Drop a failed partition: its queued windows give up, even in a retry wait."""
        self._abandoned.add(index)
        self._cancel[index].set()

    def close(self) -> None:
        """Stop fetching ahead (the stream is done, or was stopped early)."""
        for event in self._cancel:
            event.set()
        self._fetched.close()
