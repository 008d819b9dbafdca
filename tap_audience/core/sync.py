"""One stream's sync, protocol-neutral: plan every partition, fetch ahead, parse, in order.

`StreamSync` plans each partition from its bookmark (none: the whole range), feeds every
window to one fetcher (`core.pipeline`) and gives a face (Singer, Airbyte) one partition's
records at a time, in plan order. After a window's last record has been taken, the face's
`on_window_done(window)` runs: that is where it bookmarks the window and writes its state, so
a state never covers a record the face has not written yet.

The run report counts a record once the face says it reached its output (`delivered`), not
when it is yielded: a signal can stop the run after the record left here and before the face
wrote it, or after the face wrote it and before the next one is asked for, and the run
summary must count it in the second case only. The face calls `delivered` in the same
`INTERRUPTS.held()` block as the write, so no signal falls between the two.

A partition that fails (credentials refused, not entitled, malformed answers, retries used
up) is logged, recorded in the run report and ends; its bookmark stays where its last
finished window left it, and the other partitions go on, unless `fail_fast` or the failure
takes every partition down with it (an EQ token that cannot be refreshed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tap_audience.core.endpoint import Endpoint, Record
from tap_audience.core.errors import (
    AccountCredentialsError,
    NotEntitledError,
    TapAudienceError,
    failure_of,
)
from tap_audience.core.fetch import Fetcher
from tap_audience.core.interrupt import INTERRUPTS
from tap_audience.core.pipeline import PartitionPipeline
from tap_audience.core.progress import StreamProgress
from tap_audience.core.report import PartitionOutcome, RunReport
from tap_audience.core.windows import Window

Partition = Mapping[str, Any]
Logger = logging.Logger | logging.LoggerAdapter[Any]


class PartitionFailed(TapAudienceError):
    """A partition's sync failed under `fail_fast`; the message names stream and partition."""


@dataclass
class _Undelivered:
    """A partition's records yielded to the face and not yet delivered to its output."""

    outcome: PartitionOutcome
    records: int = 0


class StreamSync:
    def __init__(
        self,
        endpoint: Endpoint,
        partitions: list[dict[str, Any]],
        *,
        bookmark: Callable[[Partition], str | None] | None,
        fetcher: Fetcher,
        report: RunReport,
        logger: Logger,
        progress_interval_seconds: float,
        fail_fast: bool,
    ) -> None:
        """`bookmark`: a partition's bookmark, or None for a full read of every partition."""
        self.endpoint = endpoint
        self.report = report
        self.logger = logger
        self.fail_fast = fail_fast
        plans = [
            (partition, endpoint.plan(partition, bookmark(partition) if bookmark else None))
            for partition in partitions
        ]
        self.pipeline = PartitionPipeline(endpoint, plans, fetcher)
        # In yield order; several partitions' in BATCH mode, where a batch file spans them.
        self._undelivered: list[_Undelivered] = []
        self.progress = StreamProgress(
            endpoint.name,
            partitions=len(plans),
            windows=sum(len(windows) for _, windows in plans),
            logger=logger,
            interval_seconds=progress_interval_seconds,
        )

    @property
    def name(self) -> str:
        return self.endpoint.name

    def nothing_to_sync(self) -> None:
        """The stream has no partition: say why once (an ERROR when the config is unusable)."""
        if problem := self.endpoint.unusable_config():
            self.report.partition(self.name, {}).finish("failed", problem)
            self.logger.error("%s: %s", self.name, problem)
        else:
            reason = self.endpoint.unconfigured_reason()
            self.logger.info("%s: nothing to sync: %s", self.name, reason)

    def partition(
        self, partition: Partition, on_window_done: Callable[[Window], None]
    ) -> Iterator[Record]:
        """The records of one partition, in order; see the module's docstring."""
        outcome = self.report.partition(self.name, partition)
        pipeline, progress = self.pipeline, self.progress
        index = pipeline.index_of(dict(partition))
        try:
            yield from self._records(index, outcome, on_window_done)
        except AccountCredentialsError:
            pipeline.close()
            raise  # every partition depends on it: stop the run
        except TapAudienceError as exc:
            error = failure_of(exc, partition)  # what the vendor's error table says it means
            if isinstance(error, AccountCredentialsError):
                pipeline.close()
                raise error from exc
            pipeline.abandon(index)
            progress.partition_done(outcome.windows_planned - outcome.windows_done)
            outcome.finish("failed", str(error), exception=error)
            why = "not entitled" if isinstance(error, NotEntitledError) else "failed"
            self.logger.error(
                "%s [%s] %s, skipping it (its bookmark stays at its last finished window): %s",
                self.name,
                outcome.describe(),
                why,
                error,
            )
            if self.fail_fast:
                pipeline.close()
                raise PartitionFailed(f"{self.name} [{outcome.describe()}]: {error}") from exc
        except BaseException:
            # Stopped from outside (a record limit, an interruption): no more windows wanted.
            pipeline.close()
            raise
        else:
            outcome.finish("ok")
            progress.partition_done()
        if index == len(pipeline.plans) - 1:
            pipeline.close()
        if progress.partitions_done == progress.partitions_total:
            progress.log()

    def delivered(self) -> None:
        """Every record yielded so far reached the face's output: count it in the run report.

        Output means what a target reads, or what is flushed to it on the way out: a RECORD
        line in the output buffer, a batch file announced by a BATCH line. Call it in the
        same `INTERRUPTS.held()` block as that write (see the module's docstring). A failed
        partition's records of its unfinished window count too: they were written.
        """
        undelivered = self._undelivered
        for entry in undelivered:
            entry.outcome.records += entry.records
            entry.records = 0
        del undelivered[:-1]  # the newest partition may yield more

    def _records(
        self, index: int, outcome: PartitionOutcome, on_window_done: Callable[[Window], None]
    ) -> Iterator[Record]:
        endpoint = self.endpoint
        outcome.windows_planned = len(self.pipeline.plans[index][1])
        replication_key = endpoint.replication_key or ""
        undelivered = _Undelivered(outcome)
        self._undelivered.append(undelivered)
        for fetched in self.pipeline.windows(index):
            outcome.requests += fetched.stats.requests
            outcome.retries += fetched.stats.retries
            if fetched.error is not None:
                raise fetched.error
            window = fetched.window
            for payload in fetched.payloads:
                for record in endpoint.parse(window, payload):
                    window.note_record(record.get(replication_key))
                    undelivered.records += 1
                    yield record
            window.done = True
            outcome.windows_done += 1
            on_window_done(window)
            self.progress.window_done(window.rows)
            INTERRUPTS.checkpoint()

    def close(self) -> None:
        self.pipeline.close()
