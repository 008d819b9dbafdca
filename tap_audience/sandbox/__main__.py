"""``python -m tap_audience.sandbox --port 8765``: serve until Ctrl-C, printing a tap config."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from .clock import parse_iso_with_offset
from .server import Sandbox


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (and SIGINT in shells that start background jobs with SIGINT ignored) should
    # stop the server as cleanly as Ctrl-C does.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tap_audience.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--now", help="data clock, ISO-8601 with offset (default: real now)")
    parser.add_argument("--angus-page-size", type=int, default=50)
    args = parser.parse_args(argv)
    now = parse_iso_with_offset(args.now) if args.now else None
    sandbox = Sandbox(
        seed=args.seed,
        now=now,
        port=args.port,
        host=args.host,
        angus_page_size=args.angus_page_size,
    ).start()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        print(f"sandbox serving at {sandbox.base_url} (data clock {sandbox.now.isoformat()})")
        for name in ("angus_auth_url", "angus_api_url", "eq_auth_url", "eq_api_url"):
            print(f"  {name:15} {getattr(sandbox, name)}")
        print(f"  {'locus_api_url':15} {sandbox.locus_api_url}")
        print("tap config:")
        print(json.dumps(sandbox.credentials(), indent=2))
        print("serving until Ctrl-C", flush=True)
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
