"""`check` and `read`: the connector's engine driven for Airbyte.

`read` syncs the selected streams in the connector's order through `core.sync.StreamSync`,
as the Singer face does: records in plan order; after each finished window a STREAM state
covering it, with the records written since the previous state as `sourceStats.recordCount`
(every state differs from the one before: `synced_until` moves); a stream with no records
still gets its state. Each stream is bracketed by TRACE STREAM_STATUS messages (STARTED,
RUNNING once it is planned, then COMPLETE, or INCOMPLETE when a partition failed). A failed
partition is logged and skipped, the others go on, and the read ends with a TRACE ERROR and
exit 1. A refreshed EQ token is handed back in a CONTROL `CONNECTOR_CONFIG` message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from tap_audience.airbyte import messages
from tap_audience.airbyte.catalog import SelectedStream
from tap_audience.airbyte.messages import AirbyteWriter
from tap_audience.airbyte.state import StateError, StreamState
from tap_audience.connector.checks import check_vendors
from tap_audience.connector.runtime import Runtime
from tap_audience.core.bookmarks import check_bookmarks, warn_unmatched
from tap_audience.core.errors import (
    ConfigurationError,
    CredentialsError,
    RequestFailedError,
    RetriesExhaustedError,
    TapAudienceError,
)
from tap_audience.core.redaction import REDACTOR
from tap_audience.core.sync import StreamSync
from tap_audience.core.windows import Window

LOGGER = logging.getLogger("tap_audience.airbyte")


class ReadFailedError(TapAudienceError):
    """Some partitions failed; the others were read and their state written."""


def failure_type(error: BaseException) -> str:
    """The Airbyte failure type of an error: whose move it is to fix it."""
    if isinstance(error, ConfigurationError | CredentialsError):
        return "config_error"
    if isinstance(error, RetriesExhaustedError | RequestFailedError):
        return "transient_error"
    return "system_error"


def check(config: Mapping[str, Any]) -> dict[str, Any]:
    """One CONNECTION_STATUS: each vendor's line, as `tap-audience --test` prints them."""
    try:
        runtime = Runtime(config, probing=True)
    except TapAudienceError as exc:
        return messages.connection_status(False, REDACTOR.redact(str(exc)))
    try:
        results = check_vendors(runtime)
    finally:
        runtime.close()
    lines = "; ".join(REDACTOR.redact(result.line()) for result in results)
    if any(result.status == "FAILED" for result in results):
        return messages.connection_status(False, lines)
    if not any(result.ok for result in results):
        return messages.connection_status(False, f"no vendor is configured: {lines}")
    return messages.connection_status(True, lines)


class Read:
    def __init__(
        self,
        writer: AirbyteWriter,
        config: Mapping[str, Any],
        streams: list[SelectedStream],
        states: dict[str, dict[str, Any]],
    ) -> None:
        self.writer = writer
        self.config = dict(config)
        self.streams = streams
        self.states = states
        self.runtime = Runtime(config, on_token_refreshed=self._token_refreshed)

    def _token_refreshed(self, setting: str, token: str) -> None:
        # The platform stores the config it is handed: the next read starts with this token.
        self.config[setting] = token
        self.writer.write(messages.connector_config(self.config))

    def run(self) -> None:
        runtime = self.runtime
        try:
            runtime.require_a_vendor({selected.info.vendor for selected in self.streams})
            endpoints = {s.info.name: runtime.endpoints[s.info.name] for s in self.streams}
            incremental = {
                s.info.name: self.states.get(s.info.name, {}) for s in self.streams if s.incremental
            }
            if problems := check_bookmarks({"bookmarks": incremental}, endpoints):
                raise StateError("; ".join(problems))
            runtime.preflight(endpoints)
            warn_unmatched({"bookmarks": incremental}, endpoints)
            for selected in self.streams:
                self._read_stream(selected, incremental.get(selected.info.name))
        finally:
            runtime.clients.stopping.set()
            self.writer.flush()
        for line in runtime.report.summary_lines():
            LOGGER.info("summary: %s", line)
        if failed := runtime.report.failed:
            names = "; ".join(f"{o.stream} [{o.describe()}]: {o.error}" for o in failed)
            raise ReadFailedError(
                f"{len(failed)} partition(s) failed and were skipped: {names}. Their state did "
                "not advance past their last finished window; fix the cause and read again."
            )

    def _read_stream(self, selected: SelectedStream, entry: dict[str, Any] | None) -> None:
        name, runtime, write = selected.info.name, self.runtime, self.writer.write
        endpoint = runtime.endpoints[name]
        # full_refresh ignores the stored state; the state written starts afresh.
        state = StreamState(entry if selected.incremental else None, endpoint.replication_key)
        failed_before = len(runtime.report.failed)
        write(messages.stream_status(name, "STARTED"))
        partitions = endpoint.partitions()
        sync = StreamSync(
            endpoint,
            partitions,
            bookmark=state.bookmark if selected.incremental else None,
            fetcher=runtime.fetcher,
            report=runtime.report,
            logger=LOGGER.getChild(name),
            progress_interval_seconds=runtime.settings.run.progress_interval_seconds,
            fail_fast=runtime.settings.run.fail_fast,
        )
        counts = {"since_state": 0, "states": 0, "records": 0}

        def window_done(partition: Mapping[str, Any], window: Window) -> None:
            state.window_done(partition, window)
            write(messages.stream_state(name, state.value(), counts["since_state"]))
            counts["since_state"], counts["states"] = 0, counts["states"] + 1

        complete = False
        # Planned, and its first windows already being fetched: the stream is running.
        write(messages.stream_status(name, "RUNNING"))
        try:
            if not partitions:
                sync.nothing_to_sync()
            for partition in partitions:
                records = sync.partition(
                    partition, on_window_done=functools.partial(window_done, partition)
                )
                for record in records:
                    counts["records"] += 1
                    counts["since_state"] += 1
                    write(messages.record(name, record, messages.now_ms()))
            if not counts["states"]:
                write(messages.stream_state(name, state.value(), counts["since_state"]))
            complete = len(runtime.report.failed) == failed_before
        finally:
            sync.close()
            write(messages.stream_status(name, "COMPLETE" if complete else "INCOMPLETE"))

    def close(self) -> None:
        self.runtime.close()
