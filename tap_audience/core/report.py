"""What happened in a run, per stream and partition: the data behind the end-of-run summary.

Kept apart from logging so that a machine-readable summary (or another protocol) can be
produced from the same facts later.
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
    status: str = "running"  # running | ok | failed
    error: str | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.partition.items()) or "(all)"


@dataclass
class RunReport:
    started: float = field(default_factory=time.monotonic)
    outcomes: list[PartitionOutcome] = field(default_factory=list)
    retries: int = 0
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
        streams: dict[str, list[PartitionOutcome]] = {}
        for outcome in self.outcomes:
            streams.setdefault(outcome.stream, []).append(outcome)
        lines = [f"{'stream':<20} {'records':>9} {'ok':>4} {'failed':>6}"]
        for stream, outcomes in streams.items():
            records = sum(o.records for o in outcomes)
            ok = sum(o.status == "ok" for o in outcomes)
            failed = sum(o.status == "failed" for o in outcomes)
            lines.append(f"{stream:<20} {records:>9} {ok:>4} {failed:>6}")
        elapsed = time.monotonic() - self.started
        lines.append(f"retries: {self.retries}; seconds: {elapsed:.1f}")
        lines.extend(f"FAILED {o.stream} [{o.describe()}]: {o.error}" for o in self.failed)
        return lines
