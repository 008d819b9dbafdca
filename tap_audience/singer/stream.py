"""The Singer side: one `EndpointStream` instance adapts one endpoint, built from its info.

Bookkeeping is per window. When a window's last record has been written, the partition's
bookmark moves to the newest replication value of that window and a STATE message goes out,
so every STATE covers only fully emitted windows, and an interrupted run resumes at the
first window it did not finish.

A partition that fails (credentials refused, not entitled, malformed answers, retries used
up) is logged, recorded in the run report and skipped; its bookmark stays where its last
finished window left it, and the other partitions go on (unless `fail_fast`).
"""

from __future__ import annotations

import importlib.resources
import typing as t
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from singer_sdk import SchemaDirectory, StreamSchema, Tap
from singer_sdk.batch import Batcher
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from tap_audience.connector.runtime import Runtime
from tap_audience.core.endpoint import Endpoint, EndpointInfo, Record
from tap_audience.core.errors import (
    AccountCredentialsError,
    NotEntitledError,
    TapAudienceError,
    failure_of,
)
from tap_audience.core.interrupt import INTERRUPTS
from tap_audience.core.pipeline import PartitionPipeline
from tap_audience.core.progress import StreamProgress
from tap_audience.core.report import PartitionOutcome
from tap_audience.core.windows import Window
from tap_audience.singer.sdk_hooks import SdkStreamHooks

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

# Top-level `schemas/`, installed as the package `tap_audience.schemas` (see pyproject.toml).
SCHEMAS = SchemaDirectory(importlib.resources.files("tap_audience.schemas"))


class PartitionFailed(TapAudienceError):
    """A partition's sync failed; the message names the stream and partition."""


class EndpointStream(SdkStreamHooks):
    """The Singer stream of one endpoint: name, keys and cursor come from its `EndpointInfo`.

    `runtime` gives the run's shared parts (the tap builds them once, on first use): the
    endpoint itself is built per run from the settings, so discovery needs no config.
    """

    schema = StreamSchema(SCHEMAS)
    # Lookback windows re-emit rows older than the bookmark, so the stream is not sorted.
    is_sorted = False
    # Parsers build every value with its schema type (strict converters in core/convert.py,
    # proven by tests/test_schemas.py), so the SDK's recursive per-record conformance is moot.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # In BATCH mode, windows whose records are in a batch file not yet announced by a BATCH
    # message; None in RECORD mode, where a window's records are written before it completes.
    _unannounced_windows: list[tuple[types.Context, Window]] | None = None

    def __init__(self, tap: Tap, info: EndpointInfo, runtime: Callable[[], Runtime]) -> None:
        super().__init__(tap, name=info.name)
        self.info = info
        self.primary_keys = list(info.primary_keys)
        self.replication_key = info.replication_key
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        return self._runtime()

    @cached_property
    def endpoint(self) -> Endpoint:
        return self.runtime.endpoints[self.name]

    @cached_property
    def pipeline(self) -> PartitionPipeline:
        """Every partition planned from the input state, fetched ahead through one fetcher."""
        endpoint = self.endpoint
        # A catalog may force FULL_TABLE (Meltano's `replication-method` metadata): then the
        # whole range is read again, whatever the bookmark says.
        incremental = bool(self.replication_key) and (
            self.replication_method == REPLICATION_INCREMENTAL
        )
        plans = []
        for partition in self.partitions or []:
            bookmark = self.get_context_state(partition).get("replication_key_value")
            windows = endpoint.plan(partition, bookmark if incremental else None)
            plans.append((partition, windows))
        return PartitionPipeline(endpoint, plans, self.runtime.fetcher)

    @cached_property
    def progress(self) -> StreamProgress:
        plans = self.pipeline.plans
        return StreamProgress(
            self.name,
            partitions=len(plans),
            windows=sum(len(windows) for _, windows in plans),
            logger=self.logger,
            interval_seconds=self.runtime.settings.run.progress_interval_seconds,
        )

    @cached_property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        # Computed once: the SDK iterates this list and the pipeline was planned from it, so
        # both must see the same partitions in the same order.
        return self.endpoint.partitions() or None

    @override
    def get_replication_key_signpost(self, context: types.Context | None = None) -> None:
        # Bookmarks only ever hold values that were emitted, so no cap is needed.
        return None

    @override
    def get_records(self, context: types.Context | None) -> Iterable[Record]:
        endpoint = self.endpoint
        runtime = self.runtime
        if context is None:
            if problem := endpoint.unusable_config():
                runtime.report.partition(self.name, {}).finish("failed", problem)
                self.logger.error("%s: %s", self.name, problem)
            else:
                reason = endpoint.unconfigured_reason()
                self.logger.info("%s: nothing to sync: %s", self.name, reason)
            return
        outcome = runtime.report.partition(self.name, context)
        pipeline = self.pipeline
        index = pipeline.index_of(dict(context))
        progress = self.progress
        try:
            yield from self._partition_records(endpoint, context, index, outcome)
        except AccountCredentialsError:
            pipeline.close()
            raise  # every partition depends on it: stop the run
        except TapAudienceError as exc:
            error = failure_of(exc, context)  # what the vendor's error table says it means
            if isinstance(error, AccountCredentialsError):
                pipeline.close()
                raise error from exc
            pipeline.abandon(index)
            progress.partition_done(outcome.windows_planned - outcome.windows_done)
            outcome.finish("failed", str(error))
            why = "not entitled" if isinstance(error, NotEntitledError) else "failed"
            self.logger.error(
                "%s [%s] %s, skipping it (its bookmark stays at its last finished window): %s",
                self.name,
                outcome.describe(),
                why,
                error,
            )
            if runtime.settings.run.fail_fast:
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

    def _partition_records(
        self, endpoint: Endpoint, context: types.Context, index: int, outcome: PartitionOutcome
    ) -> Iterable[Record]:
        outcome.windows_planned = len(self.pipeline.plans[index][1])
        replication_key = self.replication_key or ""
        for fetched in self.pipeline.windows(index):
            outcome.requests += fetched.stats.requests
            outcome.retries += fetched.stats.retries
            if fetched.error is not None:
                raise fetched.error
            window = fetched.window
            for payload in fetched.payloads:
                for record in endpoint.parse(window, payload):
                    window.note_record(record.get(replication_key))
                    yield record
            window.done = True
            outcome.records += window.rows
            outcome.windows_done += 1
            self._complete_window(context, window)
            self.progress.window_done(window.rows)
            INTERRUPTS.checkpoint()

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: types.Context | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """As the SDK's, but a window is bookmarked only once its batch file is announced.

        The SDK writes each BATCH message, then a STATE, when this generator yields a manifest,
        and resumes it afterwards. Windows completed while a batch file was being filled have
        all their records in that file or earlier ones, so on resuming they may be bookmarked.
        """
        batcher = Batcher(tap_name=self.tap_name, stream_name=self.name, batch_config=batch_config)
        self._unannounced_windows = []
        try:
            records = self.unwritten_records(context)
            if not all(self.mask.values()):
                # The SDK drops deselected properties only on the RECORD path.
                records = (self.drop_deselected(r) for r in records)
            for manifest in batcher.get_batches(records=records):
                yield batch_config.encoding, manifest
                self._bookmark_announced_windows()
            self._bookmark_announced_windows()  # windows that ended after the last record
        finally:
            self._unannounced_windows = None

    def _bookmark_announced_windows(self) -> None:
        windows, self._unannounced_windows = self._unannounced_windows or [], []
        for context, window in windows:
            self._advance_bookmark(context, window)
        self.write_state()

    def _complete_window(self, context: types.Context, window: Window) -> None:
        if self._unannounced_windows is not None:
            self._unannounced_windows.append((context, window))
            return
        if self._advance_bookmark(context, window):
            self.write_state()

    def _advance_bookmark(self, context: types.Context, window: Window) -> bool:
        """Let the partition's bookmark cover `window`; False when it keeps no bookmark."""
        if not self.replication_key or window.max_replication_value is None:
            return False
        state = self.get_context_state(context)
        current = state.get("replication_key_value")
        if current is None or window.max_replication_value > current:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = window.max_replication_value
            self.state_changed()
        return True
