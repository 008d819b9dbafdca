"""``python -m tap_audience.sandbox --port 8765``: serve until Ctrl-C, printing a tap config.

Requests are not logged unless ``--log-requests`` is given (one "METHOD /path STATUS" line per
request on stderr, no query string, credentials masked). ``--quiet`` prints nothing but the tap
config. ``--fault SPEC`` (repeatable) injects a fault; the grammar follows.

Every passcode keywarden's ``/login`` "mails" is printed on stdout (not with ``--quiet``) as
``keywarden: mailed passcode 1A2B3C to analyst@eq.example (product atom)``, so that
``tap-audience eq-login`` can be tried by hand. A bad option or a port that cannot be bound ends
the process with one ``python -m tap_audience.sandbox: error: ...`` line on stderr naming the
option, the value and the fix: exit 2 for a bad value, 1 for a port or host that cannot be used.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import NoReturn, TextIO

from typing_extensions import override

from . import fault_spec
from .clock import parse_iso_with_offset
from .decoy import DECOY_HOST
from .faults import Fault
from .redact import Redactor
from .server import EQ_ANALYST, Sandbox

PROG = "python -m tap_audience.sandbox"
DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"

DESCRIPTION = f"""\
The sandbox: a local emulator of the vendors tap-audience reads (Angus.ai's console and data
APIs; EQ Works' keywarden, ATOM and LOCUS), with deterministic fake data (from --seed) and fake
credentials, so the tap can run without internet access or real accounts. Every vendor is
served on one port, under its own path prefix.

It prints its URLs and a ready tap config (JSON), then serves until Ctrl-C. To point the tap at
it, save that JSON as config.json and run `tap-audience --config config.json` (it holds every
URL and credential). Alternatively, skip this command and set `sandbox: true` in the tap's
config: the tap then starts its own sandbox in-process on a free port.

To try the interactive login, run
  tap-audience eq-login --user {EQ_ANALYST} --product atom --auth-url <eq_auth_url>
and type the passcode this command prints, e.g.
  keywarden: mailed passcode 1A2B3C to {EQ_ANALYST} (product atom)

Credentials are masked (***) in everything printed here except the tap config itself."""

_NOW_EXAMPLE = "2026-11-20T10:30:00+00:00"
_NOW_YEARS = (1900, 9000)  # the fixtures' date arithmetic overflows near years 1 and 9999
_mask = Redactor()  # errors echo what was typed; a pasted token must not be printed back


class _Parser(argparse.ArgumentParser):
    @override
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's multi-line usage + error (exit 2 as argparse)."""
        if message.startswith(("unrecognized arguments", "the following arguments")):
            message += " (--help lists the options)"
        self.exit(2, f"{self.prog}: error: {_mask(message)}\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and the --fault grammar as laid out, and every option's default."""

    @override
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if action.nargs == 0 and action.default is False:  # a flag
            return text + " (default: off)"
        return text + " (default: %(default)s)"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (and SIGINT in shells that start background jobs with SIGINT ignored) should
    # stop the server as cleanly as Ctrl-C does.
    raise KeyboardInterrupt


# --- option types: each raises ArgumentTypeError, which argparse prints as "argument --X: ..." --
def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: use a whole number from 0 to 65535 "
            "(--port 0 picks a free one)"
        )
    return port


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the host is empty: use an address of this machine, e.g. --host 127.0.0.1"
        )
    return text.strip()


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an integer: use a whole number, e.g. --seed 7 "
            "(the same seed always gives the same data)"
        ) from None


def _page_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a page size: use a whole number of at least 1, "
            "e.g. --angus-page-size 50"
        )
    return size


def _now(text: str) -> datetime:
    try:
        value = parse_iso_with_offset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_now_problem(text, exc)) from None
    low, high = _NOW_YEARS
    if not low <= value.year < high:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: use a time from year {low} to {high - 1}, "
            f"e.g. {_NOW_EXAMPLE}"
        )
    return value


def _now_problem(text: str, exc: ValueError) -> str:
    for suffix in ("+00:00", "T00:00+00:00"):  # a time, or a bare date, without an offset
        try:
            naive = parse_iso_with_offset(text.strip() + suffix).replace(tzinfo=None)
        except ValueError:
            continue
        example = naive.isoformat()
        return (
            f"{text!r} has no UTC offset: add one, e.g. {example}+00:00 or {example}Z "
            "(the sandbox never guesses a time zone)"
        )
    if "invalid datetime" in str(exc):  # not ISO-8601 at all
        return f"{text!r} is not an ISO-8601 time: use e.g. {_NOW_EXAMPLE} or 2026-11-20T10:30Z"
    # ISO-shaped but impossible: "month must be in 1..12", "invalid offset in ..."
    return f"{text!r} is not a valid time ({exc}): use e.g. {_NOW_EXAMPLE}"


def _fault(text: str) -> Fault:
    try:
        return fault_spec.parse_fault_spec(text)
    except ValueError as exc:  # argparse turns this into "argument --fault: ..." and exit 2
        raise argparse.ArgumentTypeError(
            f"bad fault spec {text!r}: {exc} (--help shows the grammar)"
        ) from None


# --- output --------------------------------------------------------------------------------------
def _line_sink(stream: TextIO) -> Callable[[str], None]:
    lock = threading.Lock()  # request threads write concurrently; keep lines whole

    def write(line: str) -> None:
        with lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):  # the reader went away: never fail the request
                pass

    return write


def _fail(message: str, code: int = 1) -> int:
    print(f"{PROG}: error: {_mask(message)}", file=sys.stderr, flush=True)
    return code


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use (--port {port}); "
            "pass another --port, or --port 0 for a free one"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"cannot listen on {where}: {reason} (--port {port}; ports below 1024 need "
            "privileges); pass another --port, or --port 0 for a free one"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where}: --host {host!r} is not an address of this machine "
            f"({reason}); use e.g. --host 127.0.0.1"
        )
    return f"cannot listen on {where} (--host, --port): {reason}; try --host 127.0.0.1 --port 0"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=fault_spec.__doc__,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="TCP port to serve every vendor on; 0 picks a free one",
    )
    parser.add_argument(
        "--host",
        type=_host,
        default=DEFAULT_HOST,
        help="address to listen on (the printed URLs use it)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the fake data, credentials and passcodes (same seed, same data)",
    )
    parser.add_argument(
        "--now",
        type=_now,
        metavar="TIME",
        help="data clock (which data exists), ISO-8601 with a UTC offset, e.g. "
        f"{_NOW_EXAMPLE} or 2026-11-20T10:30Z (default: the real current time, to the "
        "second); token expiry always uses real time",
    )
    parser.add_argument(
        "--angus-page-size",
        type=_page_size,
        default=50,
        metavar="N",
        help="buckets per Angus entities page (at least 1)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="SPEC",
        help='inject a fault, e.g. "status=503,path=/locus,rate=0.3,seed=2"; repeatable, '
        "grammar below (default: none)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print only the tap config (no URLs, fault list or passcode lines)",
    )
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="log method, path and status of each request to stderr (credentials masked)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sandbox: Sandbox | None = None
    try:
        sandbox = Sandbox(
            seed=args.seed,
            now=args.now,
            port=args.port,
            host=args.host,
            angus_page_size=args.angus_page_size,
        )
        return _serve(sandbox, args)
    except KeyboardInterrupt:  # Ctrl-C while still starting up
        return 130
    except BrokenPipeError:  # stdout closed (e.g. `| head -1`): nothing left to tell anyone
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 1
    finally:
        if sandbox is not None:
            sandbox.stop()


def _serve(sandbox: Sandbox, args: argparse.Namespace) -> int:
    for fault in args.fault:
        try:
            sandbox.inject(fault)
        except OSError as exc:  # a redirect to the decoy, which could not bind its host
            return _fail(
                f"--fault {fault.describe()!r} needs the decoy host {DECOY_HOST}, "
                f"which cannot be used ({exc.strerror or exc}); drop that --fault or give it "
                "to=self"
            )
    if args.log_requests:
        sandbox.log_requests_to(_line_sink(sys.stderr))
    if not args.quiet:
        sandbox.announce_passcodes_to(_line_sink(sys.stdout))
    try:
        sandbox.start()
    except OSError as exc:
        return _fail(_bind_problem(args.host, args.port, exc))
    try:
        if not args.quiet:
            print(f"sandbox serving at {sandbox.base_url} (data clock {sandbox.now.isoformat()})")
            for name in ("angus_auth_url", "angus_api_url", "eq_auth_url", "eq_api_url"):
                print(f"  {name:15} {getattr(sandbox, name)}")
            print(f"  {'locus_api_url':15} {sandbox.locus_api_url}")
            if sandbox.decoy.running:
                # Not a vendor: the other host redirect faults send clients to (it records all).
                print(f"  {'decoy_url':15} {sandbox.decoy.base_url}")
            print("faults:" if args.fault else "faults: none")
            for fault in args.fault:
                print("  " + sandbox.redact(fault.describe()))
            print("tap config:")
        # The one deliberate exception to masking: the tap needs these credentials.
        print(json.dumps(sandbox.credentials(), indent=2), flush=True)
        if not args.quiet:
            print("serving until Ctrl-C", flush=True)
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        if not args.quiet:
            print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
