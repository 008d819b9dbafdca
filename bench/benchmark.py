"""Benchmark: tap-audience against a plain `requests` client, on the sandbox.

    .venv/bin/python bench/benchmark.py                 # every scenario (a few minutes)
    .venv/bin/python bench/benchmark.py throughput      # or: latency, memory
    .venv/bin/python bench/benchmark.py --quick         # smaller numbers, for a smoke run

Each run is a separate process whose stdout goes to a file; the table shows wall seconds,
records/s, CPU seconds (user + system of that process) and peak RSS, and ratios to the
baseline client measured in the same invocation.

- throughput: 200k Angus records (10 cameras x 20,000 hourly buckets), pages of 50, no
  latency. The sandbox serves pages from a cache filled by an untimed warm-up, so it is not
  the bottleneck: the numbers measure the clients.
- latency: 50 camera streams x 2 pages, 50 ms per request (token requests included).
  "span" is what the sandbox saw, first request in to last response out: the fetching
  itself, without interpreter start-up.
- memory: peak RSS of the tap at 100k and at 1M records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tap_audience.sandbox import Fault, Response, Sandbox  # noqa: E402
from tap_audience.sandbox.http_types import Request  # noqa: E402

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


@dataclass
class Measurement:
    name: str
    wall: float
    records: int
    cpu: float
    peak_rss_mb: float
    span: float | None = None

    @property
    def rate(self) -> float:
        return self.records / self.wall if self.wall else 0.0


class ResponseCache:
    """A sandbox hook that answers repeated GETs from memory (pages are deterministic)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.store: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Response] = {}
        self.local = threading.local()

    def __call__(self, request: Request) -> Response | None:
        if request.method != "GET" or getattr(self.local, "busy", False):
            return None
        key = (request.path, tuple(sorted((k, tuple(v)) for k, v in request.query.items())))
        cached = self.store.get(key)
        if cached is None:
            self.local.busy = True
            try:
                cached = self.sandbox.dispatch(request)
            finally:
                self.local.busy = False
            if cached.status == 200:
                self.store[key] = cached
        return cached


class Span:
    """First request in, last request in: a sandbox hook."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> None:
        now = time.monotonic()
        with self.lock:
            self.first = now if self.first is None else self.first
            self.last = now

    def reset(self) -> None:
        self.first, self.last = None, 0.0


class PeakRss:
    """The process's own VmHWM from /proc, polled until it exits.

    Not `ru_maxrss`: Linux carries the parent's RSS high-water mark across fork and exec, so
    a child of this (large, sandbox-holding) process would report at least the parent's size.
    """

    def __init__(self, pid: int) -> None:
        self.kib = 0
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.02):
            try:
                for line in self._path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (OSError, ValueError):
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def count_records(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(
            1
            for line in handle
            if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"')
        )


def run(
    name: str, command: list[str], out: Path, span: Span | None = None, latency: float = 0
) -> Measurement:
    if span:
        span.reset()
    started = time.monotonic()
    with out.open("wb") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL, cwd=ROOT)
        peak = PeakRss(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        peak.stop()
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"{name} failed with status {status}: {' '.join(command)}")
    return Measurement(
        name=name,
        wall=wall,
        records=count_records(out),
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak.kib / 1024,
        span=(span.last - span.first + latency) if span and span.first is not None else None,
    )


def config_for(sandbox: Sandbox, hours: int, workdir: Path, **extra: object) -> Path:
    config = {
        **sandbox.credentials(),
        # Angus only: without EQ tokens or coordinates the EQ streams have no partitions (and
        # the run exits 0: coordinates without a LOCUS token would be a config problem).
        "eq_jwt": None,
        "locus_jwt": None,
        "locus_coords": [],
        "start_date": (NOW - dt.timedelta(hours=hours)).isoformat(),
        "end_date": NOW.isoformat(),
        "max_retries": 0,
        **extra,
    }
    path = workdir / f"config-{len(list(workdir.iterdir()))}.json"
    path.write_text(json.dumps(config))
    return path


TAP = [sys.executable, "-m", "tap_audience", "--config"]
BASELINE = [sys.executable, str(ROOT / "bench" / "baseline_client.py")]


def table(title: str, rows: list[Measurement], baseline: Measurement) -> None:
    print(f"\n### {title}\n")
    print("| run | wall s | span s | records | records/s | × baseline | CPU s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        span = f"{row.span:.2f}" if row.span is not None else "—"
        ratio = row.rate / baseline.rate if baseline.rate else 0
        print(
            f"| {row.name} | {row.wall:.2f} | {span} | {row.records} | {row.rate:,.0f} | "
            f"{ratio:.2f} | {row.cpu:.2f} | {row.peak_rss_mb:.0f} |"
        )


def throughput(workdir: Path, quick: bool) -> None:
    cameras, hours = (10, 2000) if quick else (10, 20000)
    with Sandbox(seed=1, now=NOW, n_cameras=cameras) as sandbox:
        cache = ResponseCache(sandbox)
        sandbox.faults.append(cache)
        out = workdir / "out.jsonl"
        config = config_for(sandbox, hours, workdir)
        run("warm-up", [*BASELINE, str(config)], out)  # fills the cache, not reported
        base = run("baseline requests client, 1 worker", [*BASELINE, str(config)], out)
        rows = [base]
        for workers in (1, 8):
            config = config_for(sandbox, hours, workdir, max_concurrency=workers)
            rows.append(run(f"tap-audience, max_concurrency {workers}", [*TAP, str(config)], out))
        table(
            f"Throughput: {cameras * hours:,} Angus records, 0 ms latency, output to a file",
            rows,
            base,
        )


def latency(workdir: Path, quick: bool) -> None:
    cameras, delay = (20, 0.05) if quick else (50, 0.05)
    with Sandbox(seed=1, now=NOW, n_cameras=cameras) as sandbox:
        span = Span()
        sandbox.faults.append(span)
        sandbox.inject(Fault.slow(delay_seconds=delay))
        out = workdir / "out.jsonl"
        rows = []
        baselines = {}
        for workers in (50, 8, 1):
            config = config_for(sandbox, 100, workdir, max_concurrency=workers)
            if workers != 1:
                baselines[workers] = run(
                    f"baseline, {workers} workers",
                    [*BASELINE, str(config), "--workers", str(workers)],
                    out,
                    span,
                    delay,
                )
                rows.append(baselines[workers])
            rows.append(
                run(
                    f"tap-audience, max_concurrency {workers}",
                    [*TAP, str(config)],
                    out,
                    span,
                    delay,
                )
            )
        table(
            f"Latency: {cameras} camera streams × 2 pages, {delay * 1000:.0f} ms per request",
            rows,
            baselines[50],
        )


def memory(workdir: Path, quick: bool) -> None:
    sizes = (10_000, 100_000) if quick else (100_000, 1_000_000)
    rows = []
    for records in sizes:
        cameras = 10
        with Sandbox(seed=1, now=NOW, n_cameras=cameras) as sandbox:
            config = config_for(sandbox, records // cameras, workdir, max_concurrency=8)
            rows.append(
                run(
                    f"tap-audience, {records:,} records", [*TAP, str(config)], workdir / "out.jsonl"
                )
            )
    table("Memory: peak RSS does not grow with history", rows, rows[0])
    growth = rows[1].peak_rss_mb / rows[0].peak_rss_mb - 1
    print(f"\npeak RSS growth from {sizes[0]:,} to {sizes[1]:,} records: {growth:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenarios", nargs="*", choices=["throughput", "latency", "memory", []], default=[]
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scenarios = args.scenarios or ["throughput", "latency", "memory"]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {dt.date.today()}")
    with tempfile.TemporaryDirectory() as workdir:
        for scenario in scenarios:
            globals()[scenario](Path(workdir), args.quick)


if __name__ == "__main__":
    main()
