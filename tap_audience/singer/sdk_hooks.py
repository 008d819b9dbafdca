"""Every place the Singer face reaches past singer-sdk's public API, and why.

Checked against singer-sdk 0.54.9 (`scripts/check-next-sdk.sh` runs the suite against the
newest release or pre-release). Everything else in `tap_audience.singer` uses public API.
Each override is marked `@override`, and mypy's `explicit-override` makes an override that
no longer overrides anything (a renamed hook) a type error, not a silent change.

Tap (`SdkTapHooks`):
- `_validate_config`: the SDK validates the config in `Tap.__init__` and offers no public
  hook to add checks JSON Schema cannot express; the tap adds its own (one readable line
  each, secrets redacted) through `config_problems_after_schema`.
- `_setup_signal_handlers`: the SDK's SIGTERM/SIGINT handler writes a STATE and exits 0,
  which may cut a message in half and hides the interruption; the tap installs its own
  (`core.interrupt`) through `install_signal_handlers`.
- `cb_config`'s result (singer-sdk's private `_ConfigInput`): the tap reads the `--config`
  files itself (`core.inputs`, shared with the Airbyte face) and sets its `config`, leaving
  the SDK only `ENV`; the SDK's reader stops with a traceback on a folder, UTF-16 or YAML.
  For the same reason the `--state` and `--catalog` options take a path, not `click.File`.

Stream (`SdkStreamHooks`):
- `_increment_stream_state`: a no-op, because bookmarks advance per finished window, never
  per record (the SDK would move them past records of a window not yet finished).
- `_write_state_message`, `state_manager.is_flushed`: a STATE goes out when a window is
  bookmarked; the SDK's own writer keeps its "already written" flag in step, so it writes
  no duplicate STATE afterwards (`write_state`, `state_changed`).
- `_sync_records(write_messages=False)`: the records of a BATCH-mode sync, as the SDK's
  own `get_batches` reads them (`unwritten_records`).
- `helpers._catalog.pop_deselected_record_properties`: the SDK drops deselected properties
  only on the RECORD path; BATCH files get the same treatment (`drop_deselected`).
- `_generate_record_messages` and `_stream_version`: the per-record fast path, without the
  SDK's selection walk and map dispatch when no map, flattening or deselection applies.
  bench/benchmark.py measures what it saves (README, Performance).
- `_write_record_message`, `_write_batch_message`: the run report counts a record once its
  RECORD line is in the output buffer, or once the BATCH line announcing its file is
  (`records_delivered`, with signals held around the write and the count: see `core.sync`).

Log text (`DropDryRunStops`): `--test` stops each stream after one record by raising, and
the SDK logs that stop as "An unhandled error occurred while syncing" at ERROR.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from collections.abc import Generator, Iterator
from functools import cached_property

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.encoding.simple import RecordMessage
from typing_extensions import override

from tap_audience.core.interrupt import INTERRUPTS
from tap_audience.core.timeutil import UTC

if t.TYPE_CHECKING:
    from singer_sdk.helpers import types
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

SDK_CHECKED = "0.54.9"


class SdkTapHooks(Tap):
    """A Tap whose config checks and signal handling the subclass supplies."""

    def config_problems_after_schema(
        self, schema_errors: list[str], *, raise_errors: bool
    ) -> list[str]:
        """Every config problem, given the schema validator's; raise when `raise_errors`."""
        return schema_errors

    def install_signal_handlers(self) -> None:
        super()._setup_signal_handlers()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            errors = super()._validate_config(raise_errors=False)
        except ConfigValidationError as exc:  # pragma: no cover - raise_errors=False
            errors = list(exc.errors)
        return self.config_problems_after_schema(errors, raise_errors=raise_errors)

    @override
    def _setup_signal_handlers(self) -> None:
        self.install_signal_handlers()


class SdkStreamHooks(Stream):
    """A Stream that bookmarks per window and writes records without per-record overhead."""

    @override
    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        return None

    def state_changed(self) -> None:
        """The stream's state changed: the next `write_state` writes it."""
        self.state_manager.is_flushed = False

    def write_state(self) -> None:
        """A STATE message, unless nothing changed since the last one."""
        self._write_state_message()

    def records_delivered(self) -> None:
        """Every record the stream handed to the SDK so far is in the output: a RECORD line
        in the output buffer, or a record of a batch file whose BATCH line is."""

    @override
    def _write_record_message(self, record: types.Record) -> None:
        # Held: a signal lands before the line and its count, or after both.
        with INTERRUPTS.held():
            super()._write_record_message(record)
            self.records_delivered()

    @override
    def _write_batch_message(self, encoding: BaseBatchFileEncoding, manifest: list[str]) -> None:
        # The batcher takes exactly a file's records before it hands the file over, so every
        # record handed to the SDK so far is in this file or an announced one.
        with INTERRUPTS.held():
            super()._write_batch_message(encoding, manifest)
            self.records_delivered()

    def unwritten_records(self, context: types.Context | None) -> Iterator[types.Record]:
        """The stream's records, synced but not written as RECORD messages (BATCH mode)."""
        return self._sync_records(context, write_messages=False)

    def drop_deselected(self, record: types.Record) -> types.Record:
        pop_deselected_record_properties(record, self.schema, self.mask)
        return record

    @cached_property
    def emits_records_unchanged(self) -> bool:
        """True when no property is deselected and no map or flattening applies."""
        maps = self.stream_maps
        return (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and all(self.mask.values())
        )

    @override
    def _generate_record_messages(
        self, record: types.Record
    ) -> Generator[RecordMessage, None, None]:
        if not self.emits_records_unchanged:
            yield from super()._generate_record_messages(record)
            return
        # The common case, without the SDK's per-record selection walk and map dispatch.
        yield RecordMessage(
            stream=self.stream_maps[0].stream_alias,
            record=record,
            version=self._stream_version,
            time_extracted=dt.datetime.now(UTC),
        )


class DropDryRunStops(logging.Filter):
    """Drops the SDK's ERROR line for the deliberate stop after one record in `--test`."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("An unhandled error occurred while syncing")
