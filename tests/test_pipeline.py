"""orchestration/pipeline.py: one shard through Meltano, and a summary that tells the truth.

The runner Kubernetes' run-shard.sh and the Dagster asset both use. Run for real (Meltano,
its plugins, the sandbox) with Meltano's own Python, as the image runs it: a good run with
its dbt step; a loader that fails after the tap succeeded, and a dbt step that fails, each
failing the pipeline by name with its error line; SIGTERM through run-shard.sh. Then, without
Meltano, how the runner reads what Meltano printed (lines captured from Meltano 4.4.1).
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tap_audience.sandbox import Fault
from tests.marts import assert_marts_equal_truth, duckdb_marts, hourly_keys_as_text
from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    MELTANO_VENV,
    REPO,
    RUN_TIMEOUT,
    MeltanoProject,
    cache_lock,
    loader_config,
    read_duckdb_table,
    tap_env,
)
from tests.postgres_server import free_port

RUNNER = REPO / "orchestration" / "pipeline.py"
RUN_SHARD = REPO / "deploy" / "kubernetes" / "run-shard.sh"
# Meltano's own Python, as the Kubernetes image runs the runner: nothing of the tap's needed.
RUNNER_PYTHON = MELTANO_VENV / "bin" / "python"
needs_meltano = pytest.mark.skipif(not MELTANO_BIN.exists(), reason=MELTANO_MISSING)


def runner_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pipeline_under_test", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pipeline = runner_module()


def run(
    project: MeltanoProject, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The runner in the project (cache lock held); its exit, output and summary."""
    summary = project.root / "summary.json"
    with cache_lock():
        done = subprocess.run(
            [str(RUNNER_PYTHON), str(RUNNER), *args, f"--summary={summary}"],
            cwd=project.root,
            env={**project.base_env, **env},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    return done, json.loads(summary.read_text(encoding="utf-8"))


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {step["name"]: step["status"] for step in summary["steps"]}


@pytest.mark.slow
@needs_meltano
def test_a_good_run_with_its_dbt_step_succeeds_with_the_taps_counts(sandbox, tmp_path):
    project = MeltanoProject(tmp_path / "project")
    done, summary = run(
        project, tap_env(sandbox), "--loader=target-duckdb", "--transform=dbt-duckdb:build"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary["status"] == "succeeded"
    assert summary["error"] is None and summary["failed_step"] is None
    assert statuses(summary) == {
        "tap-audience": "succeeded",
        "target-duckdb": "succeeded",
        "dbt-duckdb:build": "succeeded",
    }
    assert summary["state_id"] == f"{ENVIRONMENT}:tap-audience-to-target-duckdb"  # unsharded
    assert summary["shard"] == {"count": 1, "index": 0}
    # The tap's numbers: what it wrote, which is what the loader holds.
    target = loader_config("target-duckdb")
    duckdb = pytest.importorskip("duckdb")
    path = project.root / target["filepath"]
    with duckdb.connect() as connection:
        connection.execute(f"ATTACH '{path}' AS loaded (READ_ONLY)")
        for stream, numbers in summary["streams"].items():
            rows = read_duckdb_table(connection, stream, target["default_target_schema"])
            assert len(rows) == numbers["records"], stream
    assert summary["records"] == sum(s["records"] for s in summary["streams"].values()) > 0
    marts = duckdb_marts(path, target["default_target_schema"])
    assert_marts_equal_truth(hourly_keys_as_text(marts), sandbox)
    assert (
        done.stderr.splitlines()[-1]
        == f"pipeline: succeeded: unsharded, {summary['records']} records"
    )


@pytest.mark.slow
@needs_meltano
def test_a_loader_that_fails_after_the_tap_succeeded_fails_the_pipeline_naming_it(
    sandbox, tmp_path
):
    project = MeltanoProject(tmp_path / "project")
    password = "pw-that-must-not-show-9Kq"
    closed = free_port()  # nothing listens there
    env = {
        **tap_env(sandbox),
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(closed),
        "TARGET_POSTGRES_USER": "tap_audience",
        "TARGET_POSTGRES_PASSWORD": password,
    }
    done, summary = run(project, env, "--loader=target-postgres")
    assert done.returncode == 1
    assert summary["status"] == "failed"
    assert summary["failed_step"] == "target-postgres"
    (loader,) = [step for step in summary["steps"] if step["name"] == "target-postgres"]
    assert loader["status"] == "failed"
    assert "Connection refused" in loader["error"], loader
    assert str(closed) in loader["error"]
    assert loader["error"] in loader["last_lines"]
    assert summary["error"] == f"target-postgres: {loader['error']}"
    # The tap did its part, and says so; the pipeline still failed.
    (tap,) = [step for step in summary["steps"] if step["name"] == "tap-audience"]
    assert tap["status"] == "succeeded" and tap["exit_code"] == 0
    assert summary["records"] == sum(s["records"] for s in summary["streams"].values()) > 0
    assert done.stderr.splitlines()[-1] == f"pipeline: FAILED: unsharded: {summary['error']}"
    assert password not in json.dumps(summary)


@pytest.mark.slow
@needs_meltano
def test_a_failed_dbt_step_fails_the_pipeline_naming_it(sandbox, tmp_path):
    project = MeltanoProject(tmp_path / "project")
    out = tmp_path / "out"
    out.mkdir()
    env = {**tap_env(sandbox), "TARGET_JSONL_DESTINATION_PATH": str(out)}
    # dbt-postgres without its user: dbt stops before connecting (tests/test_dbt.py).
    done, summary = run(project, env, "--loader=target-jsonl", "--transform=dbt-postgres:build")
    assert done.returncode != 0
    assert statuses(summary) == {
        "tap-audience": "succeeded",
        "target-jsonl": "succeeded",
        "dbt-postgres:build": "failed",
    }
    assert summary["failed_step"] == "dbt-postgres:build"
    assert summary["error"] == (
        "dbt-postgres:build: Parsing Error: Env var required but not provided: 'DBT_POSTGRES_USER'"
    )
    (dbt,) = [step for step in summary["steps"] if step["role"] == "transform"]
    assert dbt["exit_code"] == done.returncode
    assert summary["records"] > 0


@pytest.mark.slow
@needs_meltano
def test_sigterm_to_the_pod_stops_meltano_and_the_summary_says_interrupted(sandbox, tmp_path):
    project = MeltanoProject(tmp_path / "project")
    # Slow Angus answers keep the shard syncing while the pod is stopped.
    sandbox.inject(Fault.slow(delay_seconds=2, path="/angus-data/api/1/entities"))
    summary_path = tmp_path / "summary.json"
    env = {
        **project.base_env,
        **tap_env(sandbox),
        "PATH": f"{MELTANO_VENV / 'bin'}:/usr/bin:/bin",  # the image's python3 and meltano
        "TAP_AUDIENCE_SHARD_COUNT": "3",
        "JOB_COMPLETION_INDEX": "0",
        "LOADER": "target-jsonl",
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
        "TAP_AUDIENCE_RUN_SUMMARY_PATH": str(summary_path),
    }
    lines = []
    with cache_lock():
        pod = subprocess.Popen(
            ["sh", str(RUN_SHARD)],
            cwd=project.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert pod.stdout is not None
        for line in pod.stdout:
            lines.append(line)
            if "Starting incremental sync of 'angus_entities'" in line and pod.poll() is None:
                pod.send_signal(signal.SIGTERM)  # Kubernetes stopping the pod
        code = pod.wait(timeout=RUN_TIMEOUT)
    assert code == 143, "".join(lines[-40:])
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["status"] == "interrupted"
    assert summary["exit_code"] == 143
    assert summary["error"] == "stopped by SIGTERM"
    assert f"tap-audience run summary: {summary_path.read_text().strip()}\n" in lines
    assert lines[-2] == "pipeline: INTERRUPTED: shard 0 of 3: stopped by SIGTERM\n"


# --- reading what Meltano printed ----------------------------------------------------------------
def output_of(*records: dict[str, Any] | str) -> Any:
    """An Output fed these lines (JSON records as `meltano --log-format=json` writes them)."""
    output = pipeline.Output()
    sink = open("/dev/null", "w")  # noqa: SIM115 - closed below
    with sink:
        for record in records:
            line = record if isinstance(record, str) else json.dumps(record)
            output.read(line + "\n", sink)
    return output


def loader_line(text: str) -> dict[str, Any]:
    return {"name": "target-postgres", "cmd_type": "loader", "event": text, "level": "info"}


# A loader's chained traceback, as target-postgres 0.8.1 prints it on a closed port.
CHAINED = [
    "Traceback (most recent call last):",
    '  File "/venv/sqlalchemy/engine/base.py", line 154, in __init__',
    "    self._dbapi_connection = engine.raw_connection()",
    "                             ^^^^^^^^^^^^^^^^^^^^^^^",
    "psycopg.OperationalError: connection failed: port 5 failed: Connection refused",
    "The above exception was the direct cause of the following exception:",
    "Traceback (most recent call last):",
    '  File "/venv/bin/target-postgres", line 10, in <module>',
    "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: port 5 "
    "failed: Connection refused",
    "\tIs the server running on that host and accepting TCP/IP connections?",
    "(Background on this error at: https://sqlalche.me/e/21/e3q8)",
]


def test_a_loader_that_died_under_a_crashing_meltano_is_the_failed_step():
    """Meltano 4.4.1, its loader dead, often crashes on the broken pipe instead of reporting
    `Loading failed`: no exit code for anyone. The traceback the loader left is the evidence,
    and its exception line the error."""
    output = output_of(
        {
            "name": "tap-audience",
            "cmd_type": "extractor",
            "event": "summary: total",
            "level": "info",
        },
        *(loader_line(text) for text in CHAINED),
        {"event": "", "level": "error", "exception": [{"exc_type": "BrokenPipeError"}]},
    )
    tap_summary = {"status": "succeeded", "exit_code": 0, "error": None}
    shard = pipeline.Pipeline(loader="target-postgres")
    tap, loader = pipeline.judge_extract_load(shard, 1, output, tap_summary, pipeline.Redactor({}))
    assert (tap.status, loader.status, loader.exit_code) == ("succeeded", "failed", None)
    assert loader.error == CHAINED[8]
    assert "^^^" not in "".join(loader.last_lines)
    assert output.meltano_error() == "BrokenPipeError"


def test_meltanos_own_report_of_a_failed_plugin_gives_its_exit_code():
    output = output_of(
        {
            "name": "tap-audience",
            "cmd_type": "extractor",
            "event": "1 partition(s) failed",
            "level": "error",
        },
        loader_line("Target sink for 'eq_os' is full"),
        {
            "name": "meltano",
            "event": "Extraction failed",
            "code": 1,
            "message": "x",
            "level": "error",
        },
    )
    shard = pipeline.Pipeline(loader="target-postgres")
    tap, loader = pipeline.judge_extract_load(shard, 1, output, None, pipeline.Redactor({}))
    assert (tap.status, tap.exit_code, tap.error) == ("failed", 1, "1 partition(s) failed")
    assert (loader.status, loader.exit_code) == ("succeeded", 0)  # not among the failed


def test_two_shards_creating_the_same_table_is_recognised_as_a_race():
    unique = "psycopg.errors.UniqueViolation: duplicate key value violates unique constraint"
    for message in (
        f'{unique} "pg_namespace_nspname_index"',  # CREATE SCHEMA, seen with three shards
        f'{unique} "pg_type_typname_nsp_index"',  # CREATE TABLE
        '(psycopg.errors.DuplicateTable) relation "eq_os" already exists',
    ):
        assert pipeline.DDL_RACE.search(message), message
    assert not pipeline.DDL_RACE.search(
        'duplicate key value violates unique constraint "eq_os_pkey"'  # a data problem
    )


def test_the_state_id_is_the_one_meltano_run_gives_the_shard(tmp_path):
    sharded = pipeline.Pipeline(loader="target-postgres", shard_count=3, shard_index=2)
    assert pipeline.state_id(sharded, "prod") == "prod:tap-audience-to-target-postgres:shard-2"
    alone = pipeline.Pipeline(loader="target-postgres")
    assert pipeline.state_id(alone, "prod") == "prod:tap-audience-to-target-postgres"
    in_repo = pipeline.Pipeline(loader="target-postgres", project_dir=REPO)
    assert pipeline.environment_of(in_repo, {}) == ENVIRONMENT  # meltano.yml's default
    assert pipeline.environment_of(in_repo, {"MELTANO_ENVIRONMENT": "prod"}) == "prod"
    nowhere = pipeline.Pipeline(loader="target-postgres", project_dir=tmp_path)
    with pytest.raises(pipeline.PipelineError, match="no Meltano project in"):
        pipeline.environment_of(nowhere, {})


def test_the_shard_comes_from_the_variables_the_tap_reads():
    shard_from = pipeline.shard_from
    assert shard_from({}) == (1, 0)
    assert shard_from({"TAP_AUDIENCE_SHARD_COUNT": "3", "JOB_COMPLETION_INDEX": "2"}) == (3, 2)
    both = {"TAP_AUDIENCE_SHARD_COUNT": "3", "TAP_AUDIENCE_SHARD_INDEX": "1"}
    assert shard_from({**both, "JOB_COMPLETION_INDEX": "2"}) == (3, 1)
    # An index 0 counts as unset, as in the tap: Kubernetes' index wins.
    zero = {**both, "TAP_AUDIENCE_SHARD_INDEX": "0", "JOB_COMPLETION_INDEX": "2"}
    assert shard_from(zero) == (3, 2)


def test_problems_before_meltano_runs_are_one_line(tmp_path, capsys):
    assert pipeline.main(["--loader=target-jsonl", "--shard-count=2", "--shard-index=2"]) == 2
    assert capsys.readouterr().err == (
        "pipeline: shard index 2 must be from 0 to shard count - 1 (1)\n"
    )
    (tmp_path / "meltano.yml").write_text("default_environment: sandbox\n", encoding="utf-8")
    missing = tmp_path / "bin" / "meltano"
    summary = pipeline.run_pipeline(
        pipeline.Pipeline(
            loader="target-jsonl",
            project_dir=tmp_path,
            meltano=str(missing),
            summary_path=tmp_path / "summary.json",
        ),
        environ={"PATH": ""},
    )
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert summary["failed_step"] == "pipeline"
    assert summary["error"] == (
        f"pipeline: no meltano found: tried {missing} (--meltano). `bash scripts/bootstrap.sh` "
        "installs the project's own; or pass --meltano"
    )
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert [s["status"] for s in summary["steps"]] == ["not run", "not run"]


def test_a_tap_whose_output_was_closed_points_at_its_loader():
    """A loader that exits without a word leaves only the tap's complaint: the loader is the
    failed step, the tap's line its consequence."""
    output = output_of(loader_line("target-postgres v0.8.1"))
    closed = (
        "the output was closed before the tap finished: did the target fail? (its own log says why)"
    )
    tap_summary = {"status": "failed", "exit_code": 1, "error": closed}
    shard = pipeline.Pipeline(loader="target-postgres")
    steps = list(pipeline.judge_extract_load(shard, 1, output, tap_summary, pipeline.Redactor({})))
    assert [step.status for step in steps] == ["failed", "failed"]
    summary = pipeline.pipeline_summary(
        shard,
        {"shard": {"count": 1, "index": 0}},
        steps,
        pipeline.Outcome(code=1, tap_summary=tap_summary),
        interrupted=None,
        started_at=pipeline.dt.datetime.now(pipeline.dt.timezone.utc),
        seconds=1.0,
    )
    assert summary["failed_step"] == "target-postgres"
    assert summary["error"] == (
        "target-postgres: stopped reading the tap's output (no error line; see the log above)"
    )
