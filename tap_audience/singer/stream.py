"""The Singer side: one `EndpointStream` instance adapts one endpoint, built from its info.

The records come from the protocol-neutral `core.sync.StreamSync` (plan, fetch, parse,
failures). Bookkeeping is per window: when a window's last record has been written (RECORD
mode) or its batch file announced (BATCH mode), the partition's bookmark moves to the newest
replication value of that window and a STATE message goes out, so every STATE covers only
fully delivered windows, and an interrupted run resumes at the first window it did not finish.
"""

from __future__ import annotations

import importlib.resources
import typing as t
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from singer_sdk import SchemaDirectory, StreamSchema, Tap
from singer_sdk.batch import Batcher
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from typing_extensions import override

from tap_audience.connector.runtime import Runtime
from tap_audience.core.bookmarks import cover_window
from tap_audience.core.endpoint import Endpoint, EndpointInfo, Record
from tap_audience.core.sync import StreamSync
from tap_audience.core.windows import Window
from tap_audience.singer.sdk_hooks import SdkStreamHooks

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

# Top-level `schemas/`, installed as the package `tap_audience.schemas` (see pyproject.toml).
SCHEMAS = SchemaDirectory(importlib.resources.files("tap_audience.schemas"))


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
    def stream_sync(self) -> StreamSync:
        """Every partition planned from the input state, fetched ahead through one fetcher."""
        # A catalog may force FULL_TABLE (Meltano's `replication-method` metadata): then the
        # whole range is read again, whatever the bookmark says.
        incremental = bool(self.replication_key) and (
            self.replication_method == REPLICATION_INCREMENTAL
        )
        runtime = self.runtime
        return StreamSync(
            self.endpoint,
            self.partitions or [],
            bookmark=self._bookmark if incremental else None,
            fetcher=runtime.fetcher,
            report=runtime.report,
            logger=self.logger,
            progress_interval_seconds=runtime.settings.run.progress_interval_seconds,
            fail_fast=runtime.settings.run.fail_fast,
        )

    def _bookmark(self, partition: Mapping[str, Any]) -> str | None:
        value = self.get_context_state(dict(partition)).get("replication_key_value")
        return None if value is None else str(value)

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
        if context is None:
            self.stream_sync.nothing_to_sync()
            return
        yield from self.stream_sync.partition(
            context, on_window_done=lambda window: self._complete_window(context, window)
        )

    @override
    def records_delivered(self) -> None:
        self.stream_sync.delivered()

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
        if cover_window(self.get_context_state(context), self.replication_key, window):
            self.state_changed()
        return True
