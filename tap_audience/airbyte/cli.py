"""`source-audience`: the Airbyte protocol's commands, every stdout line one AirbyteMessage.

    source-audience spec
    source-audience check --config config.json
    source-audience discover --config config.json
    source-audience read --config config.json --catalog catalog.json [--state state.json]

Logs are LOG messages on stdout too (redacted, one line each). A problem the user must fix
(config, catalog, state, credentials) is a TRACE ERROR with one readable line and exit 1;
so is anything unexpected (a `system_error`, its traceback in LOG lines). `check` always
answers with one CONNECTION_STATUS (exit 0, as Airbyte expects). SIGTERM and SIGINT stop
the read with exit 128 + signal: the last STATE on stdout covers every record a resumed read
must not fetch again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tap_audience.airbyte import catalog, messages, source, spec, state
from tap_audience.airbyte.messages import AirbyteWriter, LogMessageHandler
from tap_audience.connector.config_checks import config_problems
from tap_audience.connector.settings import CONFIG_SCHEMA, secret_values
from tap_audience.core.errors import ConfigProblemsError, ConfigurationError, TapAudienceError
from tap_audience.core.interrupt import INTERRUPTS, SyncInterrupted
from tap_audience.core.redaction import REDACTOR

LOGGER = logging.getLogger("tap_audience.airbyte")


class InputError(ConfigurationError):
    """A file given on the command line cannot be read as what it should hold."""


def read_json(path: str, what: str, fix: str) -> Any:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read it ({exc.strerror}): {fix}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text ({exc.reason}): {fix}") from None
    if not text.strip():
        raise InputError(f"{what} {path} is empty: {fix}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} {path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}): {fix}"
        ) from None


def load_config(path: str) -> dict[str, Any]:
    """The config in `path`, checked as the Singer face checks it: every problem, one line."""
    config = read_json(path, "config file", "write the settings `source-audience spec` lists")
    if not isinstance(config, Mapping):
        raise InputError(f"config file {path} must hold a JSON object of settings")
    REDACTOR.register(secret_values(config))  # before anything quotes a value
    validator = Draft202012Validator(CONFIG_SCHEMA)
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or 'config'}: {error.message}"
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    ]
    problems += config_problems(config)
    if problems:
        raise ConfigProblemsError([REDACTOR.redact(problem) for problem in problems])
    return dict(config)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="source-audience",
        description="tap-audience as an Airbyte source (Airbyte protocol v0).",
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("spec", help="the settings schema (SPEC)")
    for name, text in (("check", "test the credentials"), ("discover", "list the streams")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", required=True)
    read = commands.add_parser("read", help="read the configured streams")
    read.add_argument("--config", required=True)
    read.add_argument("--catalog", required=True)
    read.add_argument("--state")
    return top


def run(args: argparse.Namespace, writer: AirbyteWriter) -> None:
    if args.command == "spec":
        writer.write(messages.spec(spec.connection_specification(), spec.DOCUMENTATION_URL))
    elif args.command == "check":
        try:
            config = load_config(args.config)
        except TapAudienceError as exc:
            writer.write(messages.connection_status(False, REDACTOR.redact(str(exc))))
            return
        writer.write(source.check(config, writer))
    elif args.command == "discover":
        load_config(args.config)
        writer.write(messages.catalog(catalog.discovered()))
    else:
        config = load_config(args.config)
        configured = read_json(
            args.catalog, "catalog file", "write it from `source-audience discover` output"
        )
        selected = catalog.selected_streams(configured)
        states = (
            state.stream_states(read_json(args.state, "state file", state.FIX))
            if args.state
            else {}
        )
        INTERRUPTS.install()
        reader = source.Read(writer, config, selected, states)
        try:
            reader.run()
        finally:
            reader.close()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    writer = AirbyteWriter()
    root = logging.getLogger()
    root.handlers[:] = [LogMessageHandler(writer)]
    root.setLevel(logging.INFO)
    code = 0
    try:
        run(args, writer)
    except ConfigProblemsError as error:
        for problem in error.problems if len(error.problems) > 1 else []:
            LOGGER.error("config: %s", problem)
        writer.write(messages.error_trace(str(error), "config_error"))
        code = 1
    except TapAudienceError as error:
        LOGGER.error("%s", REDACTOR.redact(str(error)))
        writer.write(messages.error_trace(str(error), source.failure_type(error)))
        code = 1
    except SyncInterrupted as interrupted:
        INTERRUPTS.pending = None  # handled here: the lines below must not raise it again
        LOGGER.warning(
            "%s: stopping; the last STATE covers every window whose records were written",
            interrupted,
        )
        code = interrupted.exit_code
    except BrokenPipeError:
        code = 1  # whoever read stdout went away: nobody is left to tell
    except Exception as error:
        LOGGER.exception("unexpected error")  # the traceback as LOG lines, redacted
        line = f"unexpected {type(error).__name__}: {error}"
        if args.command == "check":
            writer.write(messages.connection_status(False, REDACTOR.redact(line)))
        else:
            writer.write(messages.error_trace(line, "system_error"))
        code = 1
    with contextlib.suppress(OSError, SyncInterrupted):
        writer.flush()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    # Exit without waiting for fetch workers that may still sit in a slow vendor's request.
    os._exit(code)
