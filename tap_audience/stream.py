"""The Singer side: one stream class adapts one endpoint, declared from the endpoint's data.

Bookkeeping is per window. When a window's last record has been written, the partition's
bookmark moves to the newest replication value of that window and a STATE message goes out,
so every STATE covers only fully emitted windows, and an interrupted run resumes at the
first window it did not finish.
"""

from __future__ import annotations

import importlib.resources
import typing as t
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import SchemaDirectory, Stream, StreamSchema

from tap_audience.core.endpoint import Endpoint, Record
from tap_audience.core.errors import NotEntitledError, TapAudienceError
from tap_audience.core.fetch import Fetcher, SequentialFetcher, WindowJob
from tap_audience.core.windows import Window

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types

    from tap_audience.tap import TapAudience

# Top-level `schemas/`, installed as the package `tap_audience.schemas` (see pyproject.toml).
SCHEMAS = SchemaDirectory(importlib.resources.files("tap_audience.schemas"))


class EndpointStream(Stream):
    """Base of every tap-audience stream; subclasses only name their endpoint."""

    endpoint_class: ClassVar[type[Endpoint]]
    schema = StreamSchema(SCHEMAS)
    # Lookback windows re-emit rows older than the bookmark, so the stream is not sorted.
    is_sorted = False

    @property
    def audience_tap(self) -> TapAudience:
        return t.cast("TapAudience", self._tap)

    @cached_property
    def endpoint(self) -> Endpoint:
        runtime = self.audience_tap.runtime
        return self.endpoint_class(runtime.settings, runtime.connections)  # type: ignore[call-arg]

    @property
    def fetcher(self) -> Fetcher:
        return SequentialFetcher()

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        return self.endpoint.partitions() or None

    def get_replication_key_signpost(self, context: types.Context | None = None) -> None:
        # Bookmarks only ever hold values that were emitted, so no cap is needed.
        return None

    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        # The SDK would advance per record; bookmarks here advance per finished window.
        return None

    def get_records(self, context: types.Context | None) -> Iterable[Record]:
        endpoint = self.endpoint
        if context is None:
            self.logger.info("%s: nothing to sync: %s", self.name, endpoint.unconfigured_reason())
            return
        partition = dict(context)
        bookmark = self.get_context_state(context).get("replication_key_value")
        windows = endpoint.plan(partition, bookmark if self.replication_key else None)
        jobs = (WindowJob(endpoint, window) for window in windows)
        try:
            for fetched in self.fetcher.run(jobs):
                window = fetched.job.window
                for payload in fetched.payloads:
                    for record in endpoint.parse(window, payload):
                        window.note_record(record.get(self.replication_key or ""))
                        yield record
                window.done = True
                self._complete_window(context, window)
        except Exception as exc:  # classify, then either skip the partition or name it
            error = endpoint.check_access(exc, partition)
            if isinstance(error, NotEntitledError):
                self.logger.warning("%s: skipping %s", self.name, error)
                return
            if isinstance(error, TapAudienceError):
                raise type(error)(f"{self.name} {_describe(partition)}: {error}") from exc
            raise

    def _complete_window(self, context: types.Context, window: Window) -> None:
        if not self.replication_key or window.max_replication_value is None:
            return
        state = self.get_context_state(context)
        current = state.get("replication_key_value")
        if current is None or window.max_replication_value > current:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = window.max_replication_value
            self.state_manager.is_flushed = False
        self._write_state_message()


def _describe(partition: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in partition.items())


def singer_stream(endpoint_class: type[Endpoint]) -> type[EndpointStream]:
    """Declare the Singer stream of an endpoint: name and keys come from the endpoint."""
    return type(
        f"{endpoint_class.__name__}Stream",
        (EndpointStream,),
        {
            "name": endpoint_class.name,
            "endpoint_class": endpoint_class,
            "primary_keys": list(endpoint_class.primary_keys),
            "replication_key": endpoint_class.replication_key,
        },
    )
