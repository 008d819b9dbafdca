"""Run the tap in-process against a sandbox and collect the Singer messages it writes."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tap_audience.singer.tap import RunFailedError, TapAudience

START = "2026-11-01T00:00:00+00:00"


@dataclass
class SyncResult:
    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)
    failure: Exception | None = None

    @property
    def final_state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}


def parse_messages(text: str) -> SyncResult:
    messages = [json.loads(line) for line in text.splitlines() if line.strip()]
    result = SyncResult(messages=messages)
    for message in messages:
        if message["type"] == "RECORD":
            result.records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            result.states.append(message["value"])
    return result


def sandbox_config(sandbox: Any, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        **sandbox.credentials(),
        "start_date": START,
        "end_date": sandbox.now.isoformat(),
        "max_retries": 2,
    }
    config.update(overrides)
    return config


def run_tap(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    streams: list[str] | None = None,
) -> SyncResult:
    tap = TapAudience(config=config, state=state)
    if streams is not None:
        for name, stream in tap.streams.items():
            stream.selected = name in streams
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            tap.run()
    except RunFailedError as failure:
        result = parse_messages(out.getvalue())
        result.failure = failure
        return result
    finally:
        tap.runtime.close()
    return parse_messages(out.getvalue())


def by_key(records: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple[Any, ...], dict]:
    """Upsert semantics: the last record per primary key wins, like the targets."""
    return {tuple(r[k] for k in keys): r for r in records}


def campaign_days(sandbox: Any, campaign_id: int, start: Any, end: Any) -> tuple[Any, Any]:
    """The campaign-local dates a sync of [start, end) covers: insights days are local."""
    zone = ZoneInfo(next(c["TimeZone"] for c in sandbox.campaigns if c["CampCode"] == campaign_id))
    return start.astimezone(zone).date(), (end - dt.timedelta(microseconds=1)).astimezone(
        zone
    ).date()


def expected_insights(
    sandbox: Any, dimension: str, campaign_ids: Any, start: Any, end: Any
) -> list:
    """Every insights row a sync of [start, end) must produce, in the campaigns' local days."""
    rows: list[dict[str, Any]] = []
    for campaign_id in campaign_ids:
        first, last = campaign_days(sandbox, campaign_id, start, end)
        rows += sandbox.expected_insights(dimension, campaign_id, first, last)
    return rows


ROOT = Path(__file__).resolve().parents[1]


def start_sandbox_process(*args: str) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    """`python -m tap_audience.sandbox --port 0 ARGS...`: the process, what it printed up to
    the end of its tap config, and that config. The caller stops it (SIGINT)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_audience.sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    head = []
    for line in process.stdout:
        head.append(line)
        if line.rstrip("\n") == "}":  # the closing brace of the top-level object
            break
    text = "".join(head)
    return process, text, json.loads(text[text.index("{") :])


def eq_login_without_input(auth_url: str, user: str = "analyst@eq.example"):
    """`tap-audience eq-login` for an ATOM token with nothing on stdin: for the paths that
    must fail before the passcode prompt."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_audience",
            "eq-login",
            "--user",
            user,
            "--product",
            "atom",
            "--auth-url",
            auth_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
