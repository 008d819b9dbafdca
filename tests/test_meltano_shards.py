"""Sharding through Meltano: one plugin, the shard chosen at run time, each with its own state.

`TAP_AUDIENCE_SHARD_COUNT` / `TAP_AUDIENCE_SHARD_INDEX` (or Kubernetes' JOB_COMPLETION_INDEX)
pick the shard and `meltano run --state-id-suffix shard-N` gives it its own state id; run one
after another into target-jsonl, the shards write every record exactly once between them.

At the same time, shards run through orchestration/pipeline.py (`meltano el` with the same
state id, in a Meltano run directory of its own): three real runners started together into a
real PostgreSQL, from a new project (its SQLite system database new too), must all succeed and
load, between them, what one unsharded run loads, row for row, and the sandbox's truth. Two
DuckDB shards at once: the second fails at once, in one line. `meltano run` shards sharing the
run directory: the second tap refuses in one line naming the safe command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    MELTANO_VENV,
    PLUGIN_CACHE,
    REPO,
    RUN_TIMEOUT,
    STREAMS,
    MeltanoProject,
    cache_lock,
    differences,
    expected_records,
    keyed,
    loader_config,
    tap_env,
)

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

SHARDS = 3


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-shards"))


def test_one_plugin_runs_every_shard_with_its_own_state(project, sandbox, tmp_path):
    written: dict[str, list[dict]] = {stream: [] for stream in STREAMS}
    for index in range(SHARDS):
        out = tmp_path / f"shard-{index}"
        out.mkdir()
        env = {
            **tap_env(sandbox),
            "TAP_AUDIENCE_SHARD_COUNT": str(SHARDS),
            "TARGET_JSONL_DESTINATION_PATH": str(out),
        }
        # The last shard as a Kubernetes Indexed Job's pod would run it: the index from
        # JOB_COMPLETION_INDEX, the suffix from the same index.
        if index == SHARDS - 1:
            env["JOB_COMPLETION_INDEX"] = str(index)
        else:
            env["TAP_AUDIENCE_SHARD_INDEX"] = str(index)
        suffix = f"shard-{index}"
        project.meltano("run", "--state-id-suffix", suffix, "tap-audience", "target-jsonl", env=env)
        for path in out.glob("*.jsonl"):
            written[path.stem] += [json.loads(line) for line in path.read_text().splitlines()]
    expected = expected_records(sandbox)
    for stream in STREAMS:
        rows = written[stream]
        assert len(keyed(stream, rows)) == len(rows), f"{stream}: a record written twice"
        assert not differences(stream, rows, expected[stream]), stream
    # Each shard kept its own state, under the state id the suffix gives it.
    for index in range(SHARDS):
        state = project.state(f"{ENVIRONMENT}:tap-audience-to-target-jsonl:shard-{index}")
        assert state.get("bookmarks"), index


# --- at the same time ---------------------------------------------------------------------------
RUNNER = REPO / "orchestration" / "pipeline.py"
SHARD_RUN = ["tap-audience", "target-jsonl"]
# Meltano's own Python runs the runner, as the Kubernetes image's does (no tap package needed).
RUNNER_PYTHON = MELTANO_VENV / "bin" / "python"


def start(
    project: MeltanoProject, env: dict[str, str], log: Path, *args: str
) -> subprocess.Popen[str]:
    """orchestration/pipeline.py in the project, its output in `log` (never a full pipe)."""
    with log.open("w", encoding="utf-8") as out:
        return subprocess.Popen(
            [str(RUNNER_PYTHON), str(RUNNER), *args],
            cwd=project.root,
            env={**project.base_env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def shard_args(loader: str, count: int, index: int, summary: Path) -> list[str]:
    return [
        f"--loader={loader}",
        f"--shard-count={count}",
        f"--shard-index={index}",
        f"--summary={summary}",
    ]


def test_three_shards_started_together_load_what_one_unsharded_run_loads(
    sandbox, postgres_server, tmp_path
):
    project = MeltanoProject(tmp_path / "project")  # a new one: its system database is new too
    together = postgres_server.create_database("shards_together")
    alone = postgres_server.create_database("shards_alone")
    logs = [tmp_path / f"shard-{index}.log" for index in range(SHARDS)]
    summaries = [tmp_path / f"shard-{index}.json" for index in range(SHARDS)]
    with cache_lock():  # one user of the plugin cache: this test's runners
        began = time.monotonic()
        shards = [
            start(
                project,
                {**tap_env(sandbox), **together.target_env()},
                logs[index],
                *shard_args("target-postgres", SHARDS, index, summaries[index]),
            )
            for index in range(SHARDS)
        ]
        codes = [shard.wait(timeout=RUN_TIMEOUT) for shard in shards]
        at_once = time.monotonic() - began
        began = time.monotonic()
        whole = start(
            project,
            {**tap_env(sandbox), **alone.target_env()},
            tmp_path / "whole.log",
            "--loader=target-postgres",
            f"--summary={tmp_path / 'whole.json'}",
        )
        whole_code = whole.wait(timeout=RUN_TIMEOUT)
        one_run = time.monotonic() - began
    outputs = [log.read_text(encoding="utf-8") for log in logs]
    assert codes == [0] * SHARDS, "\n".join(o[-3000:] for o in outputs)
    assert whole_code == 0, (tmp_path / "whole.log").read_text(encoding="utf-8")[-3000:]
    # Reported, not asserted: the machine's load decides them.
    attempts = [json.loads(s.read_text())["steps"][1]["attempts"] for s in summaries]
    print(
        f"\nwall time on the sandbox: {SHARDS} shards started together {at_once:.1f} s "
        f"(loader attempts {attempts}), one unsharded run {one_run:.1f} s"
    )
    # Nothing else the shards share got in each other's way.
    for output in outputs:
        assert "database is locked" not in output
        assert "Invalid catalog" not in output

    schema = loader_config("target-postgres")["default_target_schema"]
    sharded, unsharded = together.records(schema), alone.records(schema)
    expected = expected_records(sandbox)
    assert set(sharded) == set(unsharded) == STREAMS
    for stream in STREAMS:
        assert keyed(stream, sharded[stream]) == keyed(stream, unsharded[stream]), stream
        assert len(keyed(stream, sharded[stream])) == len(sharded[stream]), stream
        assert not differences(stream, sharded[stream], expected[stream]), stream
    records = 0
    for index, path in enumerate(summaries):
        summary = json.loads(path.read_text(encoding="utf-8"))
        assert summary["status"] == "succeeded"
        assert summary["shard"] == {"count": SHARDS, "index": index}
        assert [step["status"] for step in summary["steps"]] == ["succeeded", "succeeded"]
        records += summary["records"]
    whole_summary = json.loads((tmp_path / "whole.json").read_text(encoding="utf-8"))
    assert whole_summary["records"] == sum(len(rows) for rows in expected.values())
    if attempts == [1] * SHARDS:  # a shard run again counts what its last attempt wrote
        assert records == whole_summary["records"]
    # Each shard under the state id `meltano run --state-id-suffix shard-N` would use.
    for index in range(SHARDS):
        state_id = f"{ENVIRONMENT}:tap-audience-to-target-postgres:shard-{index}"
        assert project.state(state_id).get("bookmarks"), state_id


def test_two_duckdb_shards_at_once_the_second_fails_fast_in_one_line(sandbox, tmp_path):
    project = MeltanoProject(tmp_path / "project")
    database = tmp_path / "shards.duckdb"
    env = {**tap_env(sandbox), "TARGET_DUCKDB_FILEPATH": str(database)}
    logs = [tmp_path / f"shard-{index}.log" for index in range(2)]
    summaries = [tmp_path / f"shard-{index}.json" for index in range(2)]
    with cache_lock():
        shards = [
            start(project, env, logs[i], *shard_args("target-duckdb", 2, i, summaries[i]))
            for i in range(2)
        ]
        deadline = time.monotonic() + RUN_TIMEOUT
        while all(shard.poll() is None for shard in shards) and time.monotonic() < deadline:
            time.sleep(0.05)
        (first,) = [i for i, shard in enumerate(shards) if shard.poll() is not None]
        # The one that ended first is the refused one, while the other still loads: no wait.
        loser, winner = shards[first], shards[1 - first]
        still_loading = winner.poll() is None
        codes = [shard.wait(timeout=RUN_TIMEOUT) for shard in shards]
    assert still_loading
    assert codes[first] == 1 and codes[1 - first] == 0, logs[1 - first].read_text()[-3000:]
    output = logs[first].read_text(encoding="utf-8")
    assert "Traceback" not in output
    assert "Running extract & load" not in output  # Meltano never started the shard
    assert output.strip().splitlines()[-1] == (
        f"pipeline: FAILED: shard {first} of 2: target-duckdb: {database} is being loaded by "
        f"shard {1 - first} of 2 (pid {winner.pid}); a DuckDB file takes one writer at a "
        "time: run DuckDB shards one after another, give each its own file "
        "(TARGET_DUCKDB_FILEPATH), or load PostgreSQL, which takes them at once"
    )
    summary = json.loads(summaries[first].read_text(encoding="utf-8"))
    assert summary["status"] == "failed"
    assert summary["failed_step"] == "target-duckdb"
    assert [step["status"] for step in summary["steps"]] == ["not run", "failed"]
    assert json.loads(summaries[1 - first].read_text())["status"] == "succeeded"
    assert loser.returncode == 1


def test_a_sharded_meltano_run_beside_a_running_shard_is_refused_in_one_line(
    project, sandbox, tmp_path
):
    """`meltano run` puts every shard's files in one run directory: a shard whose tap finds
    another shard's tap running there stops before reading them, in one line."""
    out = tmp_path / "out"
    out.mkdir()
    shared = PLUGIN_CACHE / "run" / "tap-audience"  # Meltano's, under MELTANO_SYS_DIR_ROOT
    shared.mkdir(parents=True, exist_ok=True)
    # Shard 0's tap running from there, as a `meltano run` of it holds the directory.
    hold = (
        "import sys\n"
        "from tap_audience.singer.meltano_run_dir import claim_run_dir\n"
        f"claim_run_dir(catalog={str(shared / 'tap.properties.json')!r}, state=None, "
        "config={'shard_count': 3, 'shard_index': 0}, "
        "environ={'MELTANO_PROJECT_ROOT': '.', 'MELTANO_ENVIRONMENT': 'sandbox'})\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    env = {
        **project.base_env,
        **tap_env(sandbox),
        "TAP_AUDIENCE_SHARD_COUNT": "3",
        "TAP_AUDIENCE_SHARD_INDEX": "1",
        "TARGET_JSONL_DESTINATION_PATH": str(out),
    }
    with cache_lock():
        holder = subprocess.Popen(
            [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout and holder.stdout.readline() == "held\n"
            ran = subprocess.run(
                [str(MELTANO_BIN), "run", *["--state-id-suffix", "shard-1"], *SHARD_RUN],
                cwd=project.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        finally:
            holder.communicate("")
    assert ran.returncode == 1
    refused = [line for line in ran.stderr.splitlines() if "is running from the same" in line]
    assert len(refused) == 1, ran.stderr[-3000:]
    assert "[error" in refused[0]  # at the tap's own level (structured logging)
    assert refused[0].endswith(
        f"shard 0 of 3 (pid {holder.pid}) is running from the same Meltano run directory "
        f"{shared}, where `meltano run` and `meltano invoke` put every run's config, catalog "
        "and state under the same names: shards started together read each other's. Start "
        "each shard with its own run directory: `meltano el tap-audience <loader> --state-id "
        "sandbox:tap-audience-to-<loader>:shard-1` (the state id `meltano run "
        "--state-id-suffix` uses; orchestration/pipeline.py runs it), or run the shards one "
        "after another"
    )
    assert "Traceback" not in ran.stderr
    assert not any(path.stat().st_size for path in out.glob("*.jsonl"))  # not one record
