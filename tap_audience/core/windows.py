"""Windows: the unit of planning, fetching and bookkeeping.

A window is one partition's slice of time. The tap plans windows, fetches each window's pages,
emits its records, and only then marks it done and lets the bookmark cover it. Keeping that
bookkeeping in one explicit object is what lets a completeness ledger, a progress report or a
second output protocol reuse it later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DAY = dt.timedelta(days=1)


@dataclass
class Window:
    """Half-open interval [start, end) of one partition, in UTC."""

    partition: Mapping[str, Any]
    start: dt.datetime
    end: dt.datetime
    rows: int = 0
    max_replication_value: str | None = None
    done: bool = False

    def note_record(self, replication_value: str | None) -> None:
        self.rows += 1
        if replication_value is not None and (
            self.max_replication_value is None or replication_value > self.max_replication_value
        ):
            self.max_replication_value = replication_value


def day_aligned_windows(
    start: dt.datetime, end: dt.datetime, days: int
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Cut [start, end) at UTC midnights, `days` days per window.

    The first window begins at `start` itself (which may lie inside a day) and ends at the
    first UTC midnight that is a whole number of `days` days after start's own midnight, so
    every later window is made of whole UTC days.
    """
    if days < 1:
        raise ValueError("window length must be at least one day")
    cursor = start
    day_start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while cursor < end:
        day_start += DAY * days
        upper = min(day_start, end)
        yield cursor, upper
        cursor = upper


def date_windows(first: dt.date, last: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Inclusive date ranges of at most `days` days covering [first, last]."""
    if days < 1:
        raise ValueError("window length must be at least one day")
    cursor = first
    while cursor <= last:
        upper = min(cursor + DAY * (days - 1), last)
        yield cursor, upper
        cursor = upper + DAY
