"""tap-audience: the Singer tap (settings, streams, run lifecycle)."""

from __future__ import annotations

import copy
import logging
import sys
import typing as t
import weakref
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import click
from singer_sdk.exceptions import MappingError
from singer_sdk.singerlib.encoding.simple import StateMessage
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_audience.connector.checks import check_vendors
from tap_audience.connector.config_checks import config_problems
from tap_audience.connector.config_warnings import warn_about_config
from tap_audience.connector.runtime import Runtime
from tap_audience.connector.sandbox_guard import no_environment_hint
from tap_audience.connector.settings import CONFIG_SCHEMA, secret_values
from tap_audience.core.bookmarks import check_bookmarks, warn_unmatched
from tap_audience.core.errors import ConfigProblemsError, ConfigurationError, TapAudienceError
from tap_audience.core.interrupt import INTERRUPTS, SyncInterrupted
from tap_audience.core.redaction import REDACTOR, install_redaction
from tap_audience.core.report import RunReport, failed_partitions_line
from tap_audience.core.summary import shard_of_run, summarised, summary, write_run_files
from tap_audience.singer import input_catalog
from tap_audience.singer.batch_config import batch_problems
from tap_audience.singer.config_input import env_problems, read_config_file
from tap_audience.singer.input_state import (
    StateError,
    read_catalog_file,
    read_state_file,
    unwrap,
)
from tap_audience.singer.meltano_run_dir import claim_run_dir
from tap_audience.singer.sdk_hooks import DropDryRunStops, SdkTapHooks
from tap_audience.singer.stream import EndpointStream
from tap_audience.singer.streams import endpoint_streams
from tap_audience.singer.writer import BufferedSingerWriter


class RunFailedError(TapAudienceError):
    """Some partitions failed; the others synced and their state was emitted."""


class OutputClosedError(TapAudienceError):
    """stdout was closed under the tap (the target exited)."""


class TapAudience(SdkTapHooks):
    """Audience analytics from Angus.ai and EQ Works (ATOM insights, LOCUS segments)."""

    name = "tap-audience"
    # A copy: the SDK appends its built-in settings (stream maps, flattening) to this dict.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = BufferedSingerWriter

    # Discovery validates the config too: a config problem is reported the same way by every
    # command (`--discover`, `--test`, a sync), not only once a sync starts.
    dynamic_catalog = True

    def __init__(
        self, *args: Any, catalog: Any = None, parse_env_config: bool = False, **kwargs: Any
    ) -> None:
        install_redaction()
        if isinstance(catalog, dict):
            catalog = input_catalog.prepare(catalog)
        self._parse_env = parse_env_config
        try:
            super().__init__(*args, catalog=catalog, parse_env_config=parse_env_config, **kwargs)
        except MappingError as error:  # a stream map that does not parse
            raise ConfigurationError(map_problem(error, self.config)) from None
        except (ValueError, TypeError):
            # singer-sdk parses TAP_AUDIENCE_* variables without naming the one it failed on.
            if parse_env_config and (problems := env_problems(self.config_jsonschema)):
                raise ConfigProblemsError(problems) from None
            raise

    @override
    def install_signal_handlers(self) -> None:
        # Instead of the SDK's handler (write state, exit 0): see core/interrupt.py.
        INTERRUPTS.install()

    @override
    def config_problems_after_schema(
        self, schema_errors: list[str], *, raise_errors: bool
    ) -> list[str]:
        # Secrets are registered before anything is shown: schema errors may quote them.
        REDACTOR.register(secret_values(self.config))
        errors = schema_errors
        if self._parse_env:
            errors += env_problems(self.config_jsonschema)
        errors = [
            REDACTOR.redact(e) for e in [*errors, *config_problems(self.config, (batch_problems,))]
        ]
        if raise_errors:
            warn_about_config(
                self.config, self.config_jsonschema["properties"], "`tap-audience --about`"
            )
            if errors:
                raise ConfigProblemsError(errors)
        return errors

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Check the input state before any stream reads it (see `input_state`)."""
        state = unwrap(state)
        if "bookmarks" in state:
            endpoints = {name: stream.endpoint for name, stream in self.endpoint_streams.items()}
            if problems := check_bookmarks(state, endpoints):
                raise StateError("; ".join(problems))
        super().load_state(state)

    @property
    def endpoint_streams(self) -> dict[str, EndpointStream]:
        """`streams`, typed: every stream of this tap adapts an endpoint."""
        return t.cast("dict[str, EndpointStream]", self.streams)

    # Set by `--test` before the runtime exists: unreachable hosts are reported at once.
    connection_test = False

    @cached_property
    def runtime(self) -> Runtime:
        runtime = Runtime(self.config, probing=self.connection_test)
        # Tap.sync_all is final, so the sandbox and sessions close when the tap goes away.
        weakref.finalize(self, runtime.close)
        return runtime

    @override
    def discover_streams(self) -> list[EndpointStream]:
        return endpoint_streams(self, lambda: self.runtime)

    def check_connections(self) -> None:
        """One line per vendor on stderr; raise if any vendor's credentials do not work."""
        results = check_vendors(self.runtime)
        for result in results:
            click.echo(REDACTOR.redact(result.line()), err=True)
        if failed := [r for r in results if r.status == "FAILED"]:
            # Every reason on the last line: `meltano config test` shows only that one.
            reasons = "; ".join(f"{r.vendor}: {r.message}" for r in failed)
            raise TapAudienceError(f"connection test failed: {reasons}")
        if not any(r.ok for r in results):
            raise TapAudienceError(
                "connection test: no vendor is configured, so nothing was tested (the lines "
                "above say which settings each vendor needs)" + no_environment_hint()
            )

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        for param in command.params:
            if param.name in ("state", "catalog"):
                # A path, read by `core.inputs` like `--config`: with the SDK's `click.File`,
                # a folder or a missing file is click's usage error (exit 2, three lines),
                # and the text is decoded in the locale's encoding.
                param.type = click.STRING
        command.epilog = (
            "Also: `tap-audience eq-login --help`: log in to EQ Works with a one-time "
            "passcode and store or print the token (for eq_token_file / locus_token_file)."
        )
        return command

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        # The files are read here, as the Airbyte face reads its config (`core.inputs`): a
        # missing file, a folder, UTF-16 or YAML is one readable line, not singer-sdk's
        # traceback. The SDK is left only `ENV`; the files are merged in order, as it would.
        config: dict[str, Any] = {}
        for path in value:
            if path != "ENV":
                config |= read_config_file(path)
        given = super().cb_config(ctx, param, tuple(path for path in value if path == "ENV"))
        given.config = config
        return given

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        # As the SDK's, with the per-vendor check first: `--test` (all) checks each vendor,
        # then syncs one record per stream; `--test=schema` only writes the schemas.
        if value == CliTestOptionValue.All.value:
            tap = cls._from_cli(ctx.params.get("config"))
            tap.connection_test = True
            tap.check_connections()
            # The SDK stops each stream after one record by raising, and logs that stop as
            # "An unhandled error occurred" at ERROR; a real failure still propagates.
            quiet = DropDryRunStops()
            logging.getLogger().addFilter(quiet)
            for handler in logging.getLogger().handlers:
                handler.addFilter(quiet)
            tap.run_connection_test()
            if failed := tap.runtime.report.failed:
                # A failed partition is logged and skipped in a sync; here it fails the test.
                reasons = "; ".join(f"{o.stream} [{o.describe()}]: {o.error}" for o in failed)
                raise TapAudienceError(f"connection test failed: {reasons}")
            ctx.exit()
        super().cb_test(ctx, param, value)

    def run(self) -> None:
        """Sync every selected stream, then report; raise if any partition failed.

        On SIGTERM/SIGINT the STATE on stdout already covers every finished window; the
        final STATE is written again on the way out and `SyncInterrupted` propagates. The
        run summary (`run_summary_path`) is written however the run ends.
        """
        with summarised(self._write_summary):
            self._run()

    def _write_summary(self, error: BaseException | None) -> None:
        summary_path = self.config.get("run_summary_path")
        metrics_path = self.config.get("run_metrics_path")
        if not summary_path and not metrics_path:
            return
        # The runtime exists once streams were planned; a run refused before has no report.
        runtime: Runtime | None = self.__dict__.get("runtime")
        write_run_files(
            summary(
                runtime.report if runtime else RunReport(),
                connector=self.name,
                protocol="singer",
                error=error,
                shard=shard_of_run(runtime, self.config),
                bookmarks=self.state.get("bookmarks", {}),
            ),
            summary_path=summary_path,
            metrics_path=metrics_path,
        )

    def _run(self) -> None:
        streams = self.endpoint_streams
        if problems := input_catalog.problems(streams.values()):
            raise input_catalog.CatalogError("; ".join(problems))
        selected = [name for name, stream in streams.items() if stream.selected]
        if not selected:
            raise input_catalog.CatalogError(
                "the catalog selects no stream: select at least one (in Meltano, `select:`)"
            )
        self.runtime.require_a_vendor({streams[name].info.vendor for name in selected})
        try:
            self._sync(selected)
        except MappingError as error:  # a stream map that fails on a record
            raise ConfigurationError(map_problem(error, self.config)) from None
        except BrokenPipeError:
            raise OutputClosedError(
                "the output was closed before the tap finished: did the target fail? (its "
                "own log says why)"
            ) from None

    def _sync(self, selected: list[str]) -> None:
        try:
            self.runtime.preflight(selected)
            streams = self.endpoint_streams
            warn_unmatched(self.state, {name: streams[name].endpoint for name in selected})
            self.sync_all()
        except SyncInterrupted as interrupted:
            self.logger.warning(
                "%s: stopping; the last STATE covers every window whose records were written",
                interrupted,
            )
            self._finish_output()
            raise
        finally:
            # Requests still in flight or waiting to retry (abandoned partitions, look-ahead)
            # give up now rather than hold the process open.
            self.runtime.clients.stopping.set()
        self._finish_output()
        for line in self.runtime.report.summary_lines():
            self.logger.info("summary: %s", line)
        if failed := self.runtime.report.failed:
            # The reasons are in the ERROR lines above, one per partition.
            raise RunFailedError(failed_partitions_line(failed, reasons=False))

    def _finish_output(self) -> None:
        """End the output with a STATE, even one equal to the last: records may follow that
        one, and some targets (target-jsonl) forget the state they hold at every RECORD."""
        INTERRUPTS.writing = True  # a second signal must not cut the final STATE in half
        try:
            self.message_writer.write_message(StateMessage(value=self.state))
            writer = self.message_writer
            if isinstance(writer, BufferedSingerWriter):
                writer.flush()
        finally:
            INTERRUPTS.writing = False

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        # As singer-sdk's Tap.invoke, but ending with `run()` so failures change the exit code.
        if about:
            if config and (config.config or config.parse_env):
                cls._from_cli(config)  # `--about --config F` reports F's problems like a sync
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        # Before the catalog and state are read: they may be another shard's (see the module).
        claim_run_dir(catalog=catalog, state=state, config=config.config if config else {})
        tap = cls._from_cli(
            config,
            state=None if state is None else read_state_file(state),
            catalog=None if catalog is None else read_catalog_file(catalog),
        )
        tap.run()

    @classmethod
    def _from_cli(cls, config: Any, **kwargs: Any) -> TapAudience:
        """The tap for the CLI's `--config` input (files or `ENV`), config validated."""
        return cls(
            config=config.config if config else {},
            parse_env_config=bool(config and config.parse_env),
            validate_config=True,
            **kwargs,
        )


def map_problem(error: MappingError, config: Mapping[str, Any]) -> str:
    """One line naming the stream map that failed, what failed and where to read about it."""
    cause = f" ({error.__cause__})" if error.__cause__ else ""
    where = ""
    maps = config.get("stream_maps")
    for stream, properties in (maps or {}).items() if isinstance(maps, dict) else ():
        for name, expression in (properties or {}).items() if isinstance(properties, dict) else ():
            if isinstance(expression, str) and expression and expression in str(error):
                where = f" in stream_maps.{stream}.{name}"
    return (
        f"stream_maps: {error}{cause}{where}. Fix the expression "
        "(https://sdk.meltano.com/en/latest/stream_maps.html)"
    )
