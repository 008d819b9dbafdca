"""What happened in a run, per stream and partition: the facts behind the summary table.

Kept apart from logging so that a machine-readable run summary (or another protocol's
report) can be produced from the same facts later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PartitionOutcome:
    stream: str
    partition: Mapping[str, Any]
    records: int = 0
    windows_done: int = 0
    windows_planned: int = 0
    requests: int = 0
    retries: int = 0
    status: str = "running"  # running | ok | failed
    error: str | None = None
    # The failure itself, for a face that reports it by kind (Airbyte's failure types).
    exception: BaseException | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.partition.items()) or "(all)"

    def finish(
        self, status: str, error: str | None = None, exception: BaseException | None = None
    ) -> None:
        self.status, self.error, self.finished = status, error, time.monotonic()
        self.exception = exception

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass(frozen=True)
class ShardWork:
    """What this shard was assigned, of all the shards': partition groups and their stream
    partitions (the groups' weight)."""

    groups: int
    partitions: int
    all_groups: int
    all_partitions: int


@dataclass
class RunReport:
    started: float = field(default_factory=time.monotonic)
    outcomes: list[PartitionOutcome] = field(default_factory=list)
    retries: int = 0
    # A sharded run's share of the work, once its shard plan is decided.
    shard_work: ShardWork | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def partition(self, stream: str, partition: Mapping[str, Any]) -> PartitionOutcome:
        outcome = PartitionOutcome(stream=stream, partition=dict(partition))
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def count_retry(self, _line: str = "") -> None:
        with self._lock:
            self.retries += 1

    @property
    def failed(self) -> list[PartitionOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def summary_lines(self) -> list[str]:
        """A table: per stream records, partitions ok/failed, requests, retries, seconds."""
        streams: dict[str, list[PartitionOutcome]] = {}
        for outcome in self.outcomes:
            streams.setdefault(outcome.stream, []).append(outcome)
        header = f"{'stream':<20} {'records':>9} {'ok':>4} {'failed':>6} {'requests':>9} "
        lines = [header + f"{'retries':>8} {'seconds':>8}"]
        for stream, outcomes in streams.items():
            lines.append(
                f"{stream:<20} {sum(o.records for o in outcomes):>9} "
                f"{sum(o.status == 'ok' for o in outcomes):>4} "
                f"{sum(o.status == 'failed' for o in outcomes):>6} "
                f"{sum(o.requests for o in outcomes):>9} "
                f"{sum(o.retries for o in outcomes):>8} "
                f"{sum(o.seconds for o in outcomes):>8.1f}"
            )
        total = sum(o.records for o in self.outcomes)
        lines.append(
            f"{'total':<20} {total:>9} {sum(o.status == 'ok' for o in self.outcomes):>4} "
            f"{len(self.failed):>6} {sum(o.requests for o in self.outcomes):>9} "
            f"{self.retries:>8} {time.monotonic() - self.started:>8.1f}"
        )
        lines.extend(f"FAILED {o.stream} [{o.describe()}]: {o.error}" for o in self.failed)
        return lines


def failed_partitions_line(failed: list[PartitionOutcome], *, reasons: bool = True) -> str:
    """The one line a run with failed partitions ends with, whatever the face (`reasons`:
    each partition's error too, for a face whose last message is all the platform shows)."""
    names = "; ".join(
        f"{o.stream} [{o.describe()}]" + (f": {o.error}" if reasons else "") for o in failed
    )
    return (
        f"{len(failed)} partition(s) failed and were skipped: {names}. Their bookmarks did not "
        "advance past their last finished window; fix the cause and rerun."
    )
