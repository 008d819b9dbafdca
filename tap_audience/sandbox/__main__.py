"""``python -m tap_audience.sandbox --port 8765``: serve until Ctrl-C, printing a tap config.

Requests are not logged unless ``--log-requests`` is given (one "METHOD /path STATUS" line per
request on stderr, no query string, credentials masked). ``--quiet`` prints nothing but the tap
config. ``--fault SPEC`` (repeatable) injects a fault; the grammar follows.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from . import fault_spec
from .clock import parse_iso_with_offset
from .faults import Fault
from .server import Sandbox


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (and SIGINT in shells that start background jobs with SIGINT ignored) should
    # stop the server as cleanly as Ctrl-C does.
    raise KeyboardInterrupt


def _fault(text: str) -> Fault:
    try:
        return fault_spec.parse_fault_spec(text)
    except ValueError as exc:  # argparse turns this into "argument --fault: ..." and exit 2
        raise argparse.ArgumentTypeError(f"bad fault spec {text!r}: {exc}") from None


def _stderr_sink() -> Callable[[str], None]:
    lock = threading.Lock()  # request threads write concurrently; keep lines whole

    def write(line: str) -> None:
        with lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    return write


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tap_audience.sandbox",
        description=__doc__,
        epilog=fault_spec.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--now", help="data clock, ISO-8601 with offset (default: real now)")
    parser.add_argument("--angus-page-size", type=int, default=50)
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="SPEC",
        help='inject a fault, e.g. "status=503,path=/locus,rate=0.3,seed=2" (repeatable)',
    )
    parser.add_argument("--quiet", action="store_true", help="print only the tap config")
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="log method, path and status of each request to stderr (credentials masked)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    now = parse_iso_with_offset(args.now) if args.now else None
    sandbox = Sandbox(
        seed=args.seed,
        now=now,
        port=args.port,
        host=args.host,
        angus_page_size=args.angus_page_size,
    )
    for fault in args.fault:
        sandbox.inject(fault)
    if args.log_requests:
        sandbox.log_requests_to(_stderr_sink())
    sandbox.start()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
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
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
