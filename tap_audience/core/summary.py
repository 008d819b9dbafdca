"""The run summary: one JSON file at the end of every run, for the engine that runs the tap.

Written when `run_summary_path` is set (and, from the same numbers, a Prometheus textfile
when `run_metrics_path` is), at the end of every run that gets to start: also
after SIGTERM/SIGINT, a failed partition or a config problem found once the run started (a
`kill -9` leaves the previous file in place). Atomic (temp file + rename), so a reader sees
the old summary or the new one, never half. Its numbers are the run report's: records are
those written (a failed partition's records of its unfinished window included).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from tap_audience.core.errors import ConfigurationError
from tap_audience.core.files import replace_file
from tap_audience.core.interrupt import SyncInterrupted
from tap_audience.core.redaction import REDACTOR, one_line
from tap_audience.core.report import RunReport
from tap_audience.core.timeutil import UTC

SUMMARY_VERSION = 1
LOGGER = logging.getLogger("tap_audience.summary")


class HasRunSettings(Protocol):
    @property
    def settings(self) -> Any: ...


def shard_of_run(runtime: HasRunSettings | None, config: Mapping[str, Any]) -> tuple[int, int]:
    """(shard_count, shard_index) of the run, as resolved, or as configured before that."""
    if runtime is not None:
        run = runtime.settings.run
        return run.shard_count, run.shard_index
    return int(config.get("shard_count") or 1), int(config.get("shard_index") or 0)


def exit_code_of(error: BaseException | None) -> int:
    """The exit code a run ending with `error` (None: it succeeded) has."""
    if error is None:
        return 0
    if isinstance(error, SyncInterrupted):
        return error.exit_code
    return 1


def error_line(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return one_line(REDACTOR.redact(str(error) or type(error).__name__))


def exit_status(code: int) -> str:
    if code == 0:
        return "succeeded"
    if code > 128:
        return "interrupted"
    return "failed"


def summary(
    report: RunReport,
    *,
    connector: str,
    protocol: str,
    error: BaseException | None,
    shard: tuple[int, int],
    bookmarks: Mapping[str, Any],
) -> dict[str, Any]:
    streams: dict[str, dict[str, Any]] = {}
    for outcome in report.outcomes:
        entry = streams.setdefault(
            outcome.stream,
            {
                "records": 0,
                "partitions_ok": 0,
                "partitions_failed": 0,
                "windows_done": 0,
                "windows_planned": 0,
                "requests": 0,
                "retries": 0,
                "seconds": 0.0,
                "failures": [],
            },
        )
        entry["records"] += outcome.records
        entry["partitions_ok"] += outcome.status == "ok"
        entry["partitions_failed"] += outcome.status == "failed"
        entry["windows_done"] += outcome.windows_done
        entry["windows_planned"] += outcome.windows_planned
        entry["requests"] += outcome.requests
        entry["retries"] += outcome.retries
        entry["seconds"] = round(entry["seconds"] + outcome.seconds, 3)
        if outcome.status == "failed":
            entry["failures"].append({"partition": dict(outcome.partition), "error": outcome.error})
    count, index = shard
    exit_code = exit_code_of(error)
    return {
        "summary_version": SUMMARY_VERSION,
        "connector": connector,
        "protocol": protocol,
        "finished_at": dt.datetime.now(UTC).isoformat(),
        "exit_code": exit_code,
        "status": exit_status(exit_code),
        "error": error_line(error),
        "shard": {"count": count, "index": index},
        # Unsharded, or ended before its shard plan was decided: None.
        "shard_work": dataclasses.asdict(report.shard_work) if report.shard_work else None,
        "records": sum(s["records"] for s in streams.values()),
        "retries": report.retries,
        "streams": streams,
        "bookmarks": dict(bookmarks),
    }


@contextlib.contextmanager
def summarised(write: Callable[[BaseException | None], None]) -> Iterator[None]:
    """Run the body, then `write(error)` however it ended (None: it succeeded); the error
    still propagates. Both faces wrap their run in it."""
    try:
        yield
    except BaseException as error:
        write(error)
        raise
    write(None)


def write_run_files(
    content: Mapping[str, Any], *, summary_path: str | None, metrics_path: str | None
) -> None:
    """The run summary (`run_summary_path`) and its Prometheus textfile (`run_metrics_path`),
    each where it is configured. A file that cannot be written is one readable line: an
    ERROR beside the run's own failure, or the run's failure (a ConfigurationError)."""
    files: list[tuple[str, str, str]] = []
    if summary_path:
        # One line: a log shipper (or `run-shard.sh` printing it) keeps it one record.
        text = json.dumps(content, separators=(",", ":"), default=str) + "\n"
        files.append(("run_summary_path", summary_path, text))
    if metrics_path:
        files.append(("run_metrics_path", metrics_path, prometheus_text(content)))
    for setting, path, text in files:
        try:
            # Readable by others: node-exporter (or a log agent) reads it as its own user; it
            # holds counts, bookmarks and redacted errors, no secret.
            replace_file(path, text, mode=0o644)
        except OSError as exc:
            problem = (
                f"{setting}: cannot write {path} ({exc.strerror}): set it to a file in a "
                "writable folder"
            )
            if content["exit_code"] != 0:
                LOGGER.error("%s", problem)  # the run's own error is the one to report
            else:
                raise ConfigurationError(problem) from None


def prometheus_text(content: Mapping[str, Any]) -> str:
    """The summary's numbers in node-exporter's textfile collector format."""
    shard = content["shard"]
    run = f'connector="{content["connector"]}",shard="{shard["index"]}",shards="{shard["count"]}"'
    lines = [
        "# HELP tap_audience_run_exit_code Exit code of the last run (0: succeeded).",
        "# TYPE tap_audience_run_exit_code gauge",
        f"tap_audience_run_exit_code{{{run}}} {content['exit_code']}",
        "# HELP tap_audience_run_finished_timestamp_seconds When the last run ended.",
        "# TYPE tap_audience_run_finished_timestamp_seconds gauge",
        f"tap_audience_run_finished_timestamp_seconds{{{run}}} "
        f"{dt.datetime.fromisoformat(content['finished_at']).timestamp():.3f}",
    ]
    per_stream = (
        ("records", "Records written in the last run."),
        ("partitions_ok", "Partitions synced in the last run."),
        ("partitions_failed", "Partitions that failed in the last run."),
        ("windows_done", "Windows finished in the last run."),
        ("requests", "Requests sent in the last run."),
        ("retries", "Requests retried in the last run."),
        ("seconds", "Seconds spent on the stream's partitions in the last run."),
    )
    for key, text in per_stream:
        name = f"tap_audience_stream_{key}"
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
        for stream, numbers in content["streams"].items():
            lines.append(f'{name}{{{run},stream="{stream}"}} {numbers[key]}')
    return "\n".join(lines) + "\n"
