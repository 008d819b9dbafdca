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
    HostUnreachableError,
    NotEntitledError,
    RequestFailedError,
    RetriesExhaustedError,
    TapAudienceError,
)
from tap_audience.core.interrupt import INTERRUPTS
from tap_audience.core.redaction import REDACTOR
from tap_audience.core.report import PartitionOutcome, failed_partitions_line
from tap_audience.core.summary import shard_of_run, summarised, summary, write_run_files
from tap_audience.core.sync import StreamSync
from tap_audience.core.windows import Window

LOGGER = logging.getLogger("tap_audience.airbyte")


class ReadFailedError(TapAudienceError):
    """Some partitions failed; the others were read and their state written."""

    def __init__(self, message: str, failure_type: str) -> None:
        super().__init__(message)
        self.failure_type = failure_type


def failure_type(error: BaseException | None) -> str:
    """The Airbyte failure type of an error: whose move it is to fix it."""
    if isinstance(error, ReadFailedError):
        return error.failure_type
    if isinstance(error, ConfigurationError | CredentialsError | NotEntitledError):
        return "config_error"  # the user's: settings, credentials, entitlements
    if isinstance(error, HostUnreachableError) and error.permanent:
        return "config_error"  # an unknown host, an untrusted certificate: fix the URL setting
    if isinstance(error, RetriesExhaustedError | RequestFailedError):
        return "transient_error"  # the vendor's or the network's, for now
    return "system_error"


def failure_type_of(outcomes: list[PartitionOutcome]) -> str:
    """One failure type for several failed partitions: theirs if they agree."""
    kinds = {failure_type(outcome.exception) for outcome in outcomes}
    return kinds.pop() if len(kinds) == 1 else "system_error"


def check(config: Mapping[str, Any], writer: AirbyteWriter) -> dict[str, Any]:
    """One CONNECTION_STATUS: each vendor's line, as `tap-audience --test` prints them. An EQ
    token the check refreshes is handed back (CONTROL) before it, as a read does."""
    handed_back = ConfigHandback(writer, config)
    try:
        runtime = Runtime(config, probing=True, on_token_refreshed=handed_back)
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


class ConfigHandback:
    """Hands every refreshed EQ token back to the platform as the config to store from now
    on (CONTROL `CONNECTOR_CONFIG`): the next sync starts with it."""

    def __init__(self, writer: AirbyteWriter, config: Mapping[str, Any]) -> None:
        self.writer = writer
        self.config = dict(config)

    def __call__(self, setting: str, token: str) -> None:
        self.config[setting] = token
        self.writer.write(messages.connector_config(self.config))


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
        self.input_states = states
        self.runtime = Runtime(config, on_token_refreshed=ConfigHandback(writer, config))
        # Each stream's last state written (what a resumed read starts from).
        self.written_states: dict[str, dict[str, Any]] = {}
        self.finished: set[str] = set()  # streams whose closing status is written

    def run(self) -> None:
        """Read every selected stream; the run summary is written however the read ends."""
        with summarised(self._write_summary):
            self._run()

    def _write_summary(self, error: BaseException | None) -> None:
        run = self.runtime.settings.run
        if run.run_summary_path or run.run_metrics_path:
            write_run_files(
                summary(
                    self.runtime.report,
                    connector="source-audience",
                    protocol="airbyte",
                    error=error,
                    shard=shard_of_run(self.runtime, self.config),
                    bookmarks=self.written_states,
                ),
                summary_path=run.run_summary_path,
                metrics_path=run.run_metrics_path,
            )

    def _run(self) -> None:
        runtime = self.runtime
        try:
            runtime.require_a_vendor({selected.info.vendor for selected in self.streams})
            endpoints = {s.info.name: runtime.endpoints[s.info.name] for s in self.streams}
            for name in sorted(self.input_states.keys() - endpoints.keys()):
                LOGGER.warning(
                    "the state has an entry for %r, which this read does not select (or which "
                    "is not a stream of this source): it is not used",
                    name,
                )
            used = {
                s.info.name: self.input_states.get(s.info.name, {})
                for s in self.streams
                if s.incremental
            }
            if problems := check_bookmarks({"bookmarks": used}, endpoints):
                raise StateError("; ".join(problems))
            runtime.preflight(list(endpoints))
            warn_unmatched({"bookmarks": used}, endpoints)
            for selected in self.streams:
                self._read_stream(selected, used.get(selected.info.name))
        finally:
            runtime.clients.stopping.set()
            # A stream the read did not get to (a stop, fail_fast) still gets its closing
            # status. Held: after a signal, each status line's flush would raise the pending
            # signal again and cut this loop short after the first one.
            with INTERRUPTS.held():
                for selected in self.streams:
                    if selected.info.name not in self.finished:
                        self._close_stream(selected.info.name, complete=False)
                self.writer.flush()
        for line in runtime.report.summary_lines():
            LOGGER.info("summary: %s", line)
        if failed := runtime.report.failed:
            raise ReadFailedError(failed_partitions_line(failed), failure_type_of(failed))

    def _close_stream(self, name: str, *, complete: bool) -> None:
        self.finished.add(name)
        self.writer.write(messages.stream_status(name, "COMPLETE" if complete else "INCOMPLETE"))

    def _read_stream(self, selected: SelectedStream, entry: dict[str, Any] | None) -> None:
        name, runtime, write = selected.info.name, self.runtime, self.writer.write
        endpoint = runtime.endpoints[name]
        # `entry` is None in full_refresh: the stored state is ignored, the one written afresh.
        state = StreamState(entry, endpoint.replication_key)
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
        counts = {"since_state": 0, "states": 0}

        def write_state() -> None:
            value = state.value()
            # Held: the run summary's bookmarks are those of a STATE that reached stdout.
            with INTERRUPTS.held():
                write(messages.stream_state(name, value, counts["since_state"]))
                self.written_states[name] = value
                counts["since_state"], counts["states"] = 0, counts["states"] + 1

        def window_done(partition: Mapping[str, Any], window: Window) -> None:
            state.window_done(partition, window)
            write_state()

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
                    message = messages.record(name, record, messages.now_ms())
                    # Held: a signal lands before the line and its count, or after both.
                    with INTERRUPTS.held():
                        write(message)
                        counts["since_state"] += 1
                        sync.delivered()
            if not counts["states"]:
                write_state()
            failed = runtime.report.failed[failed_before:]
            complete = not failed
            if failed:  # this stream's own error, before the read's closing one
                write(
                    messages.error_trace(
                        failed_partitions_line(failed), failure_type_of(failed), stream=name
                    )
                )
        finally:
            sync.close()
            self._close_stream(name, complete=complete)

    def close(self) -> None:
        self.runtime.close()
