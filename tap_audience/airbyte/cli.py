"""`source-audience`: the Airbyte protocol's commands, every stdout line one AirbyteMessage.

    source-audience spec
    source-audience check --config config.json
    source-audience discover --config config.json
    source-audience read --config config.json --catalog catalog.json [--state state.json]

Logs are LOG messages on stdout too (redacted, one line each); `--debug` (before or after the
command name, as the Airbyte platform passes it) or `LOG_LEVEL=debug` adds DEBUG ones. A
problem the user must fix (config, catalog, state, credentials) is a TRACE ERROR with one
readable line and exit 1; so is anything unexpected (a `system_error`, its traceback in LOG
lines). `check` always answers with one CONNECTION_STATUS (exit 0, as Airbyte expects).
SIGTERM and SIGINT stop the read with exit 128 + signal: the last STATE on stdout covers
every record a resumed read must not fetch again.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import Any

from jsonschema import Draft202012Validator

from tap_audience.airbyte import catalog, messages, source, spec, state
from tap_audience.airbyte.messages import AirbyteWriter, LogMessageHandler
from tap_audience.connector.config_checks import config_problems
from tap_audience.connector.config_warnings import warn_about_config
from tap_audience.connector.settings import CONFIG_SCHEMA, secret_values
from tap_audience.core.errors import ConfigProblemsError, TapAudienceError
from tap_audience.core.inputs import read_json, read_json_object
from tap_audience.core.interrupt import INTERRUPTS, SyncInterrupted
from tap_audience.core.redaction import REDACTOR

LOGGER = logging.getLogger("tap_audience.airbyte")


def load_config(path: str) -> dict[str, Any]:
    """The config in `path`, checked as the Singer face checks it: every problem, one line."""
    # Read as the Singer face reads its config (`core.inputs`): the same lines for a folder,
    # UTF-16, YAML or a cut-off file.
    config = read_json_object(
        path, "config file", "write the settings `source-audience spec` lists as one JSON object"
    )
    REDACTOR.register(secret_values(config))  # before anything quotes a value
    warn_about_config(config, CONFIG_SCHEMA["properties"], "`source-audience spec`")
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
    # The airbyte-cdk's entrypoint takes `--debug` after the command name; accepted before it
    # too. SUPPRESS: a default of False from the command's parser would overwrite a `--debug`
    # given before the command name.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log at DEBUG level (LOG messages, secrets still redacted)",
    )
    top = argparse.ArgumentParser(
        prog="source-audience",
        description="tap-audience as an Airbyte source (Airbyte protocol v0).",
        parents=[debug],
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("spec", help="the settings schema (SPEC)", parents=[debug])
    for name, text in (("check", "test the credentials"), ("discover", "list the streams")):
        command = commands.add_parser(name, help=text, parents=[debug])
        command.add_argument("--config", required=True)
    read = commands.add_parser("read", help="read the configured streams", parents=[debug])
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


def debug_switch(args: argparse.Namespace) -> str | None:
    """What turned DEBUG logs on, if anything: `--debug`, or the platform's `LOG_LEVEL=debug`
    (which the airbyte-cdk honours too)."""
    if getattr(args, "debug", False):
        return "--debug"
    if os.environ.get("LOG_LEVEL", "").strip().lower() == "debug":
        return "LOG_LEVEL=debug"
    return None


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    writer = AirbyteWriter()
    root = logging.getLogger()
    root.handlers[:] = [LogMessageHandler(writer)]
    debug = debug_switch(args)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if debug:
        LOGGER.debug("debug logs on (%s): source-audience %s", debug, args.command)
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
