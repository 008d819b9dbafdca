"""Progress a person can follow: one INFO line per stream every few seconds.

`angus_entities: partitions 1/3, windows 12/30, 4,512 records, 1,203 records/s, ETA 0:00:12`
The totals are known up front because every partition is planned before fetching starts;
the ETA assumes the remaining windows take as long as the finished ones did on average.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any


class StreamProgress:
    def __init__(
        self,
        stream: str,
        *,
        partitions: int,
        windows: int,
        # singer-sdk 0.55 gives streams a LoggerAdapter (scripts/check-next-sdk.sh found it).
        logger: logging.Logger | logging.LoggerAdapter[Any],
        interval_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.partitions_total = partitions
        self.windows_total = windows
        self.partitions_done = 0
        self.windows_done = 0
        self.records = 0
        self._logger = logger
        self._interval = interval_seconds
        self._clock = clock
        self._started = clock()
        self._last_logged = self._started

    def window_done(self, records: int) -> None:
        self.windows_done += 1
        self.records += records
        if self._clock() - self._last_logged >= self._interval:
            self.log()

    def partition_done(self, windows_skipped: int = 0) -> None:
        self.partitions_done += 1
        self.windows_total -= windows_skipped  # a failed partition's unfetched windows

    def line(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self.records / elapsed
        text = (
            f"{self.stream}: partitions {self.partitions_done}/{self.partitions_total}, "
            f"windows {self.windows_done}/{self.windows_total}, {self.records:,} records, "
            f"{rate:,.0f} records/s"
        )
        remaining = self.windows_total - self.windows_done
        if self.windows_done and remaining > 0:
            eta = dt.timedelta(seconds=round(elapsed / self.windows_done * remaining))
            text += f", ETA {eta}"
        return text

    def log(self) -> None:
        self._last_logged = self._clock()
        self._logger.info("progress: %s", self.line())
