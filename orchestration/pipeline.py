"""One shard of tap-audience through Meltano, and one summary that says how it really went.

    python orchestration/pipeline.py --loader target-postgres --shard-count 3 --shard-index 1
    python orchestration/pipeline.py --loader target-duckdb --transform dbt-duckdb:build

Used by deploy/kubernetes/run-shard.sh (a pod) and orchestration/dagster/definitions.py (a
partition). Standard library only, so any Python 3.10+ runs it: the image's, `.venv-meltano`'s,
`.venv`'s. It runs, in the Meltano project (the current folder, or --project-dir):

1. `meltano el <extractor> <loader> --state-id <environment>:<extractor>-to-<loader>:shard-N`:
   the state id `meltano run --state-id-suffix shard-N` uses, so runs through either share
   their state, but a run directory of its own (`run/elt/<state id>/<run id>/`) where `meltano
   run` gives every run of the tap the same one: shards started together would read each
   other's catalog and state there (README, "Running at scale"). Unsharded: no suffix, the
   state id of `meltano run <extractor> <loader>`.
2. optionally `meltano invoke <transform>` (say `dbt-postgres:build`), once the load succeeded.

and writes ONE summary (--summary, else $TAP_AUDIENCE_RUN_SUMMARY_PATH, else
output/summaries/<state id>.json): the tap's own run summary (records per stream, partitions,
bookmarks, shard), with the pipeline's status over it and each step's status, exit code and
last error line. A step that fails fails the pipeline, whatever the tap said: a tap that wrote
every record to a loader that could not connect is `"status": "failed"`, `"failed_step":
"target-postgres"`, `"error": "target-postgres: <its error line>"`, and the exit status is
non-zero. SIGTERM and SIGINT are passed on to Meltano; the summary then says `interrupted`.

Before Meltano starts, what would otherwise fail in the middle or corrupt, fails in one line:
a DuckDB file another pipeline is loading (DuckDB takes one writer at a time); and a new SQLite
system database, and plugins not installed yet, are made ready once, under a lock, rather than
by every shard at once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

EXTRACTOR = "tap-audience"
SUMMARY_VERSION = 1
PROJECT_MELTANO = ".venv-meltano/bin/meltano"  # what scripts/bootstrap.sh installs
TAP_SUMMARY_VARIABLE = "TAP_AUDIENCE_RUN_SUMMARY_PATH"
JOB_INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # Kubernetes' Indexed Job
LAST_LINES = 10  # of a failed step's output, in the summary
# target-postgres creates a schema or table when the first shard's records reach it; two
# shards doing it at the same moment collide in PostgreSQL's catalog (CREATE ... IF NOT EXISTS
# does not help). The object exists by then: running the shard again succeeds. Nothing was
# loaded by the failed attempt past its last state, which Meltano kept.
DDL_RACE = re.compile(
    r'duplicate key value violates unique constraint "pg_|\b(DuplicateSchema|DuplicateTable|'
    r"DuplicateObject)\b"
)
ATTEMPTS = 3
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|JWT|_KEY$|STREAMS|DATABASE_URI")
TRACEBACK = "Traceback (most recent call last):"
NO_ERROR_LINE = "(no error line; see the log above)"
OUTPUT_CLOSED = "the output was closed before the tap finished"


class PipelineError(Exception):
    """A problem found before Meltano runs: one line that says what to do, and the step it
    stops (`pipeline`: the runner itself)."""

    def __init__(self, message: str, step: str = "pipeline") -> None:
        super().__init__(message)
        self.step = step


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """One shard of the extractor into the loader, and what to run after it."""

    loader: str
    project_dir: Path = dataclasses.field(default_factory=Path.cwd)
    extractor: str = EXTRACTOR
    shard_count: int = 1
    shard_index: int = 0
    transform: str | None = None  # a utility command, e.g. dbt-postgres:build
    environment: str | None = None  # default: $MELTANO_ENVIRONMENT, else default_environment
    meltano: str | None = None  # default: see find_meltano
    summary_path: Path | None = None
    force: bool = False  # `meltano el --force`: run even if Meltano thinks the shard is running

    @property
    def sharded(self) -> bool:
        return self.shard_count > 1


@dataclasses.dataclass
class Step:
    """A part of the pipeline: a plugin Meltano runs, or Meltano itself."""

    name: str
    role: str  # extractor, loader, transform
    status: str = "not run"  # succeeded, failed, interrupted, unknown, not run
    exit_code: int | None = None
    error: str | None = None
    last_lines: list[str] = dataclasses.field(default_factory=list)
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- what to run ---------------------------------------------------------------------------
def environment_of(pipeline: Pipeline, environ: Mapping[str, str]) -> str:
    """The Meltano environment: given, else MELTANO_ENVIRONMENT, else meltano.yml's default.

    Named on every command (`meltano --environment`), so the state id and the environment
    Meltano runs in cannot differ."""
    if pipeline.environment:
        return pipeline.environment
    if environ.get("MELTANO_ENVIRONMENT"):
        return environ["MELTANO_ENVIRONMENT"]
    project_file = pipeline.project_dir / "meltano.yml"
    try:
        text = project_file.read_text(encoding="utf-8")
    except OSError as error:
        raise PipelineError(
            f"no Meltano project in {pipeline.project_dir} ({project_file}: {error.strerror}): "
            "run in the project's folder or pass --project-dir"
        ) from None
    # A top-level scalar: no YAML parser needed (this runs with any Python).
    found = re.search(r"^default_environment:\s*['\"]?([\w.-]+)", text, re.MULTILINE)
    if not found:
        raise PipelineError(
            f"{project_file} names no default_environment: pass --environment or set "
            "MELTANO_ENVIRONMENT (the state id includes it)"
        )
    return found[1]


def state_id(pipeline: Pipeline, environment: str) -> str:
    """What `meltano run [--state-id-suffix shard-N] <extractor> <loader>` would use."""
    base = f"{environment}:{pipeline.extractor}-to-{pipeline.loader}"
    return f"{base}:shard-{pipeline.shard_index}" if pipeline.sharded else base


def find_meltano(pipeline: Pipeline, environ: Mapping[str, str]) -> str:
    """The meltano to run: given (a path, relative to the project, or a command on PATH);
    else the one beside this Python (`.venv-meltano/bin/python`, the image's python); else
    the project's `.venv-meltano/bin/meltano`; else `meltano` on PATH."""
    candidates: list[tuple[str, str]] = []
    if pipeline.meltano:
        candidates.append((pipeline.meltano, "--meltano"))
    else:
        candidates += [
            (str(Path(sys.executable).with_name("meltano")), "beside this Python"),
            (PROJECT_MELTANO, "the project's own"),
            ("meltano", "on PATH"),
        ]
    for chosen, _ in candidates:
        if "/" not in chosen:
            if found := shutil.which(chosen, path=environ.get("PATH")):
                return found
            continue
        path = pipeline.project_dir / chosen  # an absolute `chosen` stays as it is
        if os.access(path, os.X_OK) and path.is_file():
            return str(path)
    tried = ", ".join(f"{chosen} ({why})" for chosen, why in candidates)
    raise PipelineError(
        f"no meltano found: tried {tried}. `bash scripts/bootstrap.sh` installs the project's "
        "own; or pass --meltano"
    )


def shard_from(environ: Mapping[str, str]) -> tuple[int, int]:
    """(count, index) as the tap resolves them: TAP_AUDIENCE_SHARD_COUNT, and
    TAP_AUDIENCE_SHARD_INDEX unless unset or 0, then JOB_COMPLETION_INDEX."""
    count = environ.get("TAP_AUDIENCE_SHARD_COUNT", "").strip() or "1"
    index = environ.get("TAP_AUDIENCE_SHARD_INDEX", "").strip()
    if not index or index == "0":
        index = environ.get(JOB_INDEX_VARIABLE, "").strip() or "0"
    if not count.isdigit() or not index.isdigit():
        raise PipelineError(
            f"shard count {count!r} and index {index!r} must be whole numbers "
            "(TAP_AUDIENCE_SHARD_COUNT, TAP_AUDIENCE_SHARD_INDEX or JOB_COMPLETION_INDEX)"
        )
    return int(count), int(index)


# --- what could fail halfway or corrupt, checked first --------------------------------------
def sqlite_system_database(pipeline: Pipeline, environ: Mapping[str, str]) -> Path | None:
    """The SQLite file Meltano keeps its state in, if it is one (None: another database)."""
    uri = environ.get("MELTANO_DATABASE_URI")
    if uri is None:
        # Meltano's default; a `database_uri` in meltano.yml would win, and this project sets
        # none.
        return system_dir(pipeline, environ) / "meltano.db"
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        return path if path.is_absolute() else pipeline.project_dir / path
    return None


def migrated(database: Path) -> bool:
    if not database.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return bool(db.execute("SELECT count(*) FROM alembic_version").fetchone()[0])
    except sqlite3.Error:
        return False


def system_dir(pipeline: Pipeline, environ: Mapping[str, str]) -> Path:
    """Meltano's own folder: $MELTANO_SYS_DIR_ROOT, else the project's .meltano/."""
    return pipeline.project_dir / (environ.get("MELTANO_SYS_DIR_ROOT") or ".meltano")


def missing_plugins(pipeline: Pipeline, environ: Mapping[str, str]) -> list[str]:
    """The pipeline's plugins without a venv yet (where Meltano installs each)."""
    wanted = [("extractors", pipeline.extractor), ("loaders", pipeline.loader)]
    if pipeline.transform:
        wanted.append(("utilities", pipeline.transform.split(":")[0]))
    folder = system_dir(pipeline, environ)
    return [name for kind, name in wanted if not (folder / kind / name / "venv").is_dir()]


def prepare(pipeline: Pipeline, meltano: Meltano, environ: Mapping[str, str], log: TextIO) -> None:
    """Install missing plugins and create a new SQLite system database once, before shards
    started together would each do it.

    Every Meltano command creates the system database's tables first, and `meltano el`
    installs a plugin that has no venv: three shards doing either at once collide (a new
    SQLite file: "table job already exists", two of three failed; a venv written by three
    pips at once is worse). So the first runner does it (`meltano install <plugins>`, which
    also creates the tables) under a lock in Meltano's folder, and the others wait for it,
    then find nothing to do. Installed plugins and an existing database cost two checks of
    the file system. A PostgreSQL system database is made ready by its own step
    (deploy/kubernetes/prepare-system-db.py); a plugin whose pip_url changed is reinstalled
    by `meltano el` itself (run `meltano install` before starting shards after such a change)."""
    database = sqlite_system_database(pipeline, environ)

    def ready() -> bool:
        return (database is None or migrated(database)) and not missing_plugins(pipeline, environ)

    if ready():
        return
    folder = system_dir(pipeline, environ)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "tap-audience-pipeline.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready():
            return
        if missing := missing_plugins(pipeline, environ):
            what = f"installing {', '.join(missing)}"
            command = meltano.command("install", *missing)
        else:
            what = f"creating Meltano's system database {database}"
            command = meltano.command("state", "list")
        print(f"pipeline: {what} (once, for every shard)", file=log, flush=True)
        done = subprocess.run(  # noqa: S603 - the chosen meltano, fixed arguments, no shell
            command,
            cwd=pipeline.project_dir,
            env=dict(environ),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or [""]
            raise PipelineError(f"{what} failed: {lines[-1]}", "meltano")


def duckdb_file(
    pipeline: Pipeline, meltano: Meltano, ids: str, environ: Mapping[str, str]
) -> Path | None:
    """The DuckDB file a DuckDB loader writes, as Meltano configures it (its `filepath`)."""
    if "duckdb" not in pipeline.loader:
        return None
    dumped = subprocess.run(  # noqa: S603 - the chosen meltano, fixed arguments, no shell
        meltano.command(
            "el", pipeline.extractor, pipeline.loader, "--state-id", ids, "--dump", "loader-config"
        ),
        cwd=pipeline.project_dir,
        env=dict(environ),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        config = json.loads(dumped.stdout)
    except ValueError:
        config = None
    if not isinstance(config, dict) or not isinstance(config.get("filepath"), str):
        return None  # Meltano itself fails the same way in the run, and says why there
    path = Path(config["filepath"])
    return path if path.is_absolute() else pipeline.project_dir / path


@contextlib.contextmanager
def only_writer(database: Path | None, pipeline: Pipeline) -> Iterator[None]:
    """Be the only pipeline writing `database` (a DuckDB file) while the body runs.

    DuckDB takes one writer per file: a second target-duckdb fails with a traceback once the
    tap has already read everything. Two checks, both before Meltano starts: a lock beside
    the file that every runner holds until its pipeline (loader and dbt) ends; and the lock
    DuckDB itself holds on the file while it is open anywhere (a `meltano run`, a query)."""
    if database is None or not database.parent.is_dir():
        yield  # a missing folder: the loader says so in its own words
        return
    lock_path = database.with_name(database.name + ".lock")
    with lock_path.open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                f"{database} is being loaded by {holder(lock)}; a DuckDB file takes one "
                "writer at "
                "a time: run DuckDB shards one after another, give each its own file "
                "(TARGET_DUCKDB_FILEPATH), or load PostgreSQL, which takes them at once",
                pipeline.loader,
            ) from None
        if in_use(database):
            raise PipelineError(
                f"{database} is open in another process (DuckDB locks the file while it is "
                "open): wait for it to end, then run again",
                pipeline.loader,
            )
        lock.seek(0)
        lock.truncate()
        where = f"shard {pipeline.shard_index} of {pipeline.shard_count}"
        lock.write(f"{where} (pid {os.getpid()})\n")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)  # no holder named once it is free


def holder(lock: TextIO) -> str:
    """Who holds the lock, as it wrote right after taking it (waiting a moment for a holder
    that has taken it but not written yet)."""
    deadline = time.monotonic() + 2
    while True:
        lock.seek(0)
        if (text := lock.read().strip()) or time.monotonic() > deadline:
            return text or "another pipeline"
        time.sleep(0.05)


def in_use(database: Path) -> bool:
    """Whether a process holds DuckDB's own lock on the file (a POSIX record lock, which this
    process takes and drops at once: it keeps no other descriptor of the file open)."""
    try:
        descriptor = os.open(database, os.O_RDWR)
    except OSError:
        return False  # no file yet (or not ours to write: the loader will say so)
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


# --- running Meltano and reading what it says --------------------------------------------------
class Redactor:
    """Secret values the runner was given (passwords, tokens), never copied into a summary."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.secrets = sorted(
            (v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= 4),
            key=len,
            reverse=True,
        )

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


@dataclasses.dataclass
class Output:
    """What a Meltano command printed, by who printed it.

    With `--log-format=json` every line Meltano logs is one JSON object: a plugin's lines
    carry its `name` (and `cmd_type`), Meltano's own do not; the failures Meltano reports
    (`Extraction failed`, `Loading failed`) carry the plugin's exit `code`."""

    redact: Redactor = dataclasses.field(default_factory=lambda: Redactor({}))
    lines: dict[str, list[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    every: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (level, text)
    codes: dict[str, int] = dataclasses.field(default_factory=dict)
    meltano_errors: list[str] = dataclasses.field(default_factory=list)

    def read(self, line: str, log: TextIO) -> None:
        """Take one line of Meltano's output and show it, readable, on `log` (a secret the
        runner was given never shown: a plugin may print its connection string)."""
        text = self.redact(line.rstrip("\n"))
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            # Not Meltano's logger (a plugin `meltano invoke` runs prints straight through).
            self.lines.setdefault("", []).append(("info", text))
            self.every.append(("info", text))
            print(text, file=log, flush=True)
            return
        level = str(record.get("level", "info"))
        event = self.redact(str(record.get("event", ""))).rstrip()
        name = record.get("name")
        if record.get("exception"):
            causes = [
                f"{e.get('exc_type') or ''}: {e.get('exc_value') or ''}".strip(": ")
                for e in record["exception"]
                if isinstance(e, dict)
            ]
            event = self.redact("; ".join(filter(None, [event, *causes])))
        who = name if isinstance(name, str) and name != "meltano" else ""
        self.every.append((level, event))
        if who:
            self.lines.setdefault(who, []).append((level, event))
        elif event in ("Extraction failed", "Loading failed") and "code" in record:
            role = "extractor" if event == "Extraction failed" else "loader"
            self.codes[role] = int(record["code"])
        elif level in ("error", "critical") and event:
            self.meltano_errors.append(event)
        for part in event.splitlines() or [""]:
            stamp = str(record.get("timestamp", ""))
            print(f"{stamp} [{level:<8}] {who or 'meltano':<14} {part}", file=log, flush=True)

    def of(self, name: str) -> list[tuple[str, str]]:
        return self.lines.get(name, [])

    def meltano_error(self) -> str | None:
        return self.meltano_errors[-1].splitlines()[0] if self.meltano_errors else None


def error_line(lines: Sequence[tuple[str, str]]) -> str | None:
    """The line that says what went wrong: the last one logged at ERROR (a plugin with
    structured logging, the tap), else the exception line of the last Python traceback,
    else None."""
    errors = [text for level, text in lines if level in ("error", "critical") and text.strip()]
    if errors:
        return errors[-1].strip()
    texts = [text for _, text in lines]
    if TRACEBACK in texts:
        start = len(texts) - 1 - texts[::-1].index(TRACEBACK)
        for text in texts[start + 1 :]:
            if text.strip() and not text[0].isspace():
                return text.strip()
    return None


def tail(lines: Sequence[tuple[str, str]]) -> list[str]:
    """The last lines worth reading: not blank, not a traceback's `^^^^` markers."""
    return [text for _, text in lines if text.strip(" \t^~")][-LAST_LINES:]


class Runner:
    """Runs Meltano commands one at a time, passing SIGTERM and SIGINT on to the one running.

    Meltano runs in a session of its own, so a terminal's Ctrl-C reaches it once, from here,
    as a pod's SIGTERM does; it stops its plugins and ends the job with its own exit status."""

    def __init__(self, log: TextIO | None = None) -> None:
        self.log = log or sys.stderr
        self.child: subprocess.Popen[str] | None = None
        self.interrupted: int | None = None

    def interrupt(self, signum: int, _frame: object = None) -> None:
        self.interrupted = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self, command: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, Output]:
        output = Output(Redactor(env))
        if self.interrupted is not None:
            return 128 + self.interrupted, output
        child = subprocess.Popen(  # noqa: S603 - the chosen meltano, no shell
            command,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.child = child
        try:
            assert child.stdout is not None
            for line in child.stdout:
                output.read(line, self.log)
            code = child.wait()
        except BaseException:
            # Stopped from outside (Dagster cancelling the step): Meltano stops too.
            child.terminate()
            child.wait()
            raise
        finally:
            self.child = None
        return code, output


# --- the pipeline ------------------------------------------------------------------------------
def read_tap_summary(path: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def judge_extract_load(
    pipeline: Pipeline,
    code: int,
    output: Output,
    tap_summary: dict[str, Any] | None,
    redact: Redactor,
) -> tuple[Step, Step]:
    """Each plugin's step, from what Meltano, the plugins and the tap's summary said.

    Meltano reports a plugin's exit code only when it ends the job itself (`Extraction
    failed`, `Loading failed`); a loader that dies first often makes Meltano crash on the
    broken pipe instead, with no code at all. So a step is failed on the evidence it left:
    the tap's summary for the tap; a traceback or an ERROR line for the loader."""
    tap = Step(pipeline.extractor, "extractor", attempts=1)
    loader = Step(pipeline.loader, "loader", attempts=1)
    tap_lines, loader_lines = output.of(pipeline.extractor), output.of(pipeline.loader)
    if tap_summary is not None:
        tap.status = str(tap_summary.get("status"))
        tap.exit_code = tap_summary.get("exit_code")
        tap.error = tap_summary.get("error")
    elif "extractor" in output.codes or (tap_lines and code != 0):
        tap.status, tap.exit_code = "failed", output.codes.get("extractor")
        tap.error = redact(error_line(tap_lines) or NO_ERROR_LINE)
    elif tap_lines:
        tap.status, tap.exit_code = "succeeded", 0
    loader_error = error_line(loader_lines)
    if "loader" in output.codes or (code != 0 and loader_error):
        loader.status, loader.exit_code = "failed", output.codes.get("loader")
        loader.error = redact(loader_error or NO_ERROR_LINE)
    elif code == 0:
        loader.status, loader.exit_code = "succeeded", 0
    elif "extractor" in output.codes and loader_lines and not closed_under(tap):
        # Meltano lists every plugin that failed; the loader is not among them.
        loader.status, loader.exit_code = "succeeded", 0
    elif closed_under(tap):
        # The loader stopped reading without a word: the tap's failure is its consequence.
        loader.status = "failed"
        loader.error = f"stopped reading the tap's output {NO_ERROR_LINE}"
    elif loader_lines:
        loader.status = "unknown"
    for step, lines in ((tap, tap_lines), (loader, loader_lines)):
        if step.status not in ("succeeded", "not run"):
            step.last_lines = [redact(text) for text in tail(lines)]
    return tap, loader


@dataclasses.dataclass(frozen=True)
class Meltano:
    """A meltano executable, every command of it in one environment of the project."""

    executable: str
    environment: str

    def command(self, *args: str, json_logs: bool = False) -> list[str]:
        logs = ["--log-format=json"] if json_logs else []
        return [self.executable, *logs, f"--environment={self.environment}", *args]


def closed_under(tap: Step) -> bool:
    """Whether the tap failed because its output was closed (the loader exited first)."""
    return tap.status == "failed" and (tap.error or "").startswith(OUTPUT_CLOSED)


def run_pipeline(
    pipeline: Pipeline,
    runner: Runner | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run the pipeline; return its summary (also written to its summary path)."""
    runner = runner or Runner()
    base = dict(os.environ if environ is None else environ)
    started, started_at = time.monotonic(), dt.datetime.now(dt.timezone.utc)
    redact = Redactor(base)
    steps = [Step(pipeline.extractor, "extractor"), Step(pipeline.loader, "loader")]
    if pipeline.transform:
        steps.append(Step(pipeline.transform, "transform"))
    context: dict[str, Any] = {
        "environment": pipeline.environment,
        "state_id": None,
        "shard": {"count": pipeline.shard_count, "index": pipeline.shard_index},
    }
    outcome = Outcome()
    summary_path = pipeline.summary_path
    try:
        environment = environment_of(pipeline, base)
        context["environment"] = environment
        context["state_id"] = ids = state_id(pipeline, environment)
        summary_path = summary_path or default_summary_path(pipeline, base, ids)
        meltano = Meltano(find_meltano(pipeline, base), environment)
        env = {
            **base,
            "TAP_AUDIENCE_SHARD_COUNT": str(pipeline.shard_count),
            "TAP_AUDIENCE_SHARD_INDEX": str(pipeline.shard_index),
        }
        # The index is given: Kubernetes' variable would win over an index 0 in the tap.
        env.pop(JOB_INDEX_VARIABLE, None)
        prepare(pipeline, meltano, env, runner.log)
        with (
            only_writer(duckdb_file(pipeline, meltano, ids, env), pipeline),
            tempfile.TemporaryDirectory(prefix="tap-audience-pipeline-") as scratch,
        ):
            # The tap's own summary, read into this one.
            env[TAP_SUMMARY_VARIABLE] = str(Path(scratch) / "tap-summary.json")
            run = Run(pipeline, meltano, ids, env, runner, redact, outcome)
            extract_load(run, steps)
            if outcome.code == 0 and pipeline.transform and runner.interrupted is None:
                transform(run, steps[2])
    except PipelineError as problem:
        outcome.code, outcome.problem = 1, (problem.step, str(problem))
        for step in steps:
            if step.name == problem.step:
                step.status, step.error = "failed", str(problem)
    summary = pipeline_summary(
        pipeline,
        context,
        steps,
        outcome,
        interrupted=runner.interrupted,
        started_at=started_at,
        seconds=time.monotonic() - started,
    )
    if summary_path is not None:
        write_summary(summary_path, summary)
    return summary


@dataclasses.dataclass(frozen=True)
class Run:
    """What every Meltano command of one pipeline run shares."""

    pipeline: Pipeline
    meltano: Meltano
    state_id: str
    env: dict[str, str]
    runner: Runner
    redact: Redactor
    outcome: Outcome


@dataclasses.dataclass
class Outcome:
    """How the Meltano commands ended: the last exit code, Meltano's own last error line, the
    tap's summary, and a problem found before Meltano ran (step, line)."""

    code: int = 0
    meltano_error: str | None = None
    tap_summary: dict[str, Any] | None = None
    problem: tuple[str, str] | None = None


def extract_load(run: Run, steps: list[Step]) -> None:
    """`meltano el`, run again when the loader collided with another shard's DDL."""
    pipeline, outcome, redact, runner = run.pipeline, run.outcome, run.redact, run.runner
    tap_file = Path(run.env[TAP_SUMMARY_VARIABLE])
    command = run.meltano.command(
        "el", pipeline.extractor, pipeline.loader, "--state-id", run.state_id, json_logs=True
    )
    if pipeline.force:
        command.append("--force")
    for attempt in range(1, ATTEMPTS + 1):
        tap_file.unlink(missing_ok=True)
        code, output = runner.run(command, pipeline.project_dir, run.env)
        tap_summary = read_tap_summary(tap_file)
        steps[0], steps[1] = judge_extract_load(pipeline, code, output, tap_summary, redact)
        steps[0].attempts = steps[1].attempts = attempt
        outcome.code, outcome.tap_summary = code, tap_summary
        error = output.meltano_error()
        outcome.meltano_error = redact(error) if error else None
        raced = steps[1].status == "failed" and any(
            DDL_RACE.search(text) for _, text in output.of(pipeline.loader)
        )
        if not raced or attempt == ATTEMPTS or runner.interrupted is not None:
            return
        print(
            f"pipeline: {pipeline.loader} collided with another shard creating the same "
            f"schema or table ({steps[1].error}); running the shard again (attempt "
            f"{attempt + 1} of {ATTEMPTS})",
            file=runner.log,
            flush=True,
        )


def transform(run: Run, step: Step) -> None:
    """`meltano invoke <transform>`: its exit status, and dbt's error line if it failed."""
    assert run.pipeline.transform
    command = run.meltano.command("invoke", run.pipeline.transform, json_logs=True)
    code, output = run.runner.run(command, run.pipeline.project_dir, run.env)
    outcome, redact = run.outcome, run.redact
    outcome.code = code
    step.exit_code, step.attempts = code, 1
    step.status = "succeeded" if code == 0 else "failed"
    if code != 0:
        # dbt's lines come through Meltano's (dbt-ext logs them as its own), in order.
        lines = output.every
        found = dbt_error(lines) or error_line(lines) or output.meltano_error()
        step.error = redact(found or f"exited {code}")
        step.last_lines = [redact(text) for text in tail(lines)]


DBT_TIME = re.compile(r"^\d\d:\d\d:\d\d\s+")
# What dbt prints above the lines that say what failed: a run it could not start, and a run
# in which models or tests failed (then `Done. PASS=... ERROR=...`).
DBT_MARKERS = re.compile(r"^(Encountered an error:|Completed with \d+ errors?)")


def dbt_error(lines: Sequence[tuple[str, str]]) -> str | None:
    """dbt's error, on one line: the two lines after its last failure marker (`Parsing Error:
    Env var required but not provided: 'DBT_POSTGRES_USER'`, `Database Error in model x
    (models/x.sql): relation "y" does not exist`). dbt prints no traceback."""
    texts = [DBT_TIME.sub("", text).strip() for _, text in lines]
    marks = [i for i, text in enumerate(texts) if DBT_MARKERS.match(text)]
    if not marks:
        return None
    after = [t for t in texts[marks[-1] + 1 :] if t and not t.startswith("Done. PASS=")]
    return ": ".join(part.rstrip(":") for part in after[:2]) or None


def default_summary_path(pipeline: Pipeline, environ: Mapping[str, str], ids: str) -> Path:
    if environ.get(TAP_SUMMARY_VARIABLE):
        return Path(environ[TAP_SUMMARY_VARIABLE])
    return pipeline.project_dir / "output" / "summaries" / (ids.replace(":", ".") + ".json")


def pipeline_summary(
    pipeline: Pipeline,
    context: dict[str, Any],
    steps: list[Step],
    outcome: Outcome,
    *,
    interrupted: int | None,
    started_at: dt.datetime,
    seconds: float,
) -> dict[str, Any]:
    """The tap's numbers, with the pipeline's outcome over them."""
    tap_step, loader_step = steps[0], steps[1]
    failed_step: str | None = None
    error: str | None = None
    if interrupted is not None:
        status, exit_code = "interrupted", 128 + interrupted
        error = f"stopped by {signal.Signals(interrupted).name}"
        for step in steps:
            if step.status in ("failed", "unknown"):
                step.status = "interrupted"
                step.error = None if step.error == NO_ERROR_LINE else step.error
    else:
        # The root cause first: a tap whose output closed failed because its loader did.
        order = [loader_step, tap_step] if loader_step.status == "failed" else [tap_step]
        order += [s for s in steps[1:] if s not in order]
        failed = next((s for s in order if s.status == "failed"), None)
        if failed is not None:
            failed_step, error = failed.name, f"{failed.name}: {failed.error}"
        elif outcome.problem is not None:
            failed_step, error = outcome.problem[0], ": ".join(outcome.problem)
        elif outcome.code != 0:
            failed_step = "meltano"
            error = f"meltano: {outcome.meltano_error or f'exited {outcome.code}'}"
        status = "failed" if failed_step else "succeeded"
        exit_code = 0 if status == "succeeded" else (outcome.code or 1)
    numbers = {
        key: value
        for key, value in (outcome.tap_summary or {}).items()
        if key not in ("summary_version", "status", "exit_code", "error", "finished_at")
    }
    return {
        "summary_version": SUMMARY_VERSION,
        "kind": "pipeline",
        "status": status,
        "exit_code": exit_code,
        "error": error,
        "failed_step": failed_step,
        "started_at": started_at.isoformat(),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "seconds": round(seconds, 1),
        **context,
        "steps": [step.as_dict() for step in steps],
        # The tap's own numbers: what it wrote to the loader (none when it did not run).
        "connector": pipeline.extractor,
        "records": 0,
        "streams": {},
        "bookmarks": {},
        **numbers,
    }


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """One line of JSON (a log shipper keeps it one record), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, separators=(",", ":"), default=str) + "\n"
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
    os.chmod(handle.name, 0o644)  # a log agent reads it as its own user
    os.replace(handle.name, path)


def outcome_line(summary: Mapping[str, Any]) -> str:
    shard = summary["shard"]
    where = f"shard {shard['index']} of {shard['count']}" if shard["count"] > 1 else "unsharded"
    if summary["status"] == "succeeded":
        return f"pipeline: succeeded: {where}, {summary['records']} records"
    return f"pipeline: {summary['status'].upper()}: {where}: {summary['error']}"


# --- command line ------------------------------------------------------------------------------
def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Pipeline:
    parser = argparse.ArgumentParser(
        prog="pipeline.py",
        description="Run one shard of tap-audience through Meltano (`meltano el`, then an "
        "optional transform) and write one summary of how every step went.",
    )
    parser.add_argument("--loader", required=True, help="the Meltano loader, e.g. target-postgres")
    parser.add_argument("--extractor", default=EXTRACTOR)
    parser.add_argument(
        "--shard-count", type=int, help="default: $TAP_AUDIENCE_SHARD_COUNT, else 1"
    )
    parser.add_argument(
        "--shard-index",
        type=int,
        help="default: $TAP_AUDIENCE_SHARD_INDEX, else $JOB_COMPLETION_INDEX, else 0",
    )
    parser.add_argument("--transform", help="a command to run after the load: dbt-postgres:build")
    parser.add_argument("--environment", help="default: $MELTANO_ENVIRONMENT, else meltano.yml's")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--meltano", help="default: beside this Python, else the project's own")
    parser.add_argument(
        "--summary",
        type=Path,
        help=f"default: ${TAP_SUMMARY_VARIABLE}, else output/summaries/<state id>.json",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="`meltano el --force`: run even if Meltano's last job of this shard never ended",
    )
    args = parser.parse_args(argv)
    count, index = shard_from(environ)
    pipeline = Pipeline(
        loader=args.loader,
        project_dir=args.project_dir,
        extractor=args.extractor,
        shard_count=count if args.shard_count is None else args.shard_count,
        shard_index=index if args.shard_index is None else args.shard_index,
        transform=args.transform,
        environment=args.environment,
        meltano=args.meltano,
        summary_path=args.summary,
        force=args.force,
    )
    if not 0 <= pipeline.shard_index < pipeline.shard_count:
        raise PipelineError(
            f"shard index {pipeline.shard_index} must be from 0 to shard count - 1 "
            f"({pipeline.shard_count - 1})"
        )
    return pipeline


def main(argv: Sequence[str] | None = None, log: TextIO | None = None) -> int:
    log = log or sys.stderr
    try:
        pipeline = parse(sys.argv[1:] if argv is None else argv, os.environ)
    except PipelineError as problem:
        print(f"pipeline: {problem}", file=log)
        return 2
    runner = Runner(log)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, runner.interrupt)
    summary = run_pipeline(pipeline, runner)
    print(outcome_line(summary), file=log, flush=True)
    exit_code: int = summary["exit_code"]
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
