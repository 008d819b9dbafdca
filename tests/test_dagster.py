"""orchestration/dagster/: one asset partitioned by shard, materialized in-process.

Each partition runs its shard through orchestration/pipeline.py (Meltano) against the sandbox
into DuckDB; the three shards, materialized one by one, must equal one unsharded run row for
row in the loaded tables, and the run summary must come back as the materialization's
metadata. A partition that fails fails with its cause in the run's event log: the step, its
error line, its last lines, the summary. Which meltano it runs: the
project's own `.venv-meltano/bin/meltano` unless the run config or an environment variable
names another (the README's block runs it with no meltano on PATH: tests/test_readme.py).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

from tests.meltano_project import (
    MELTANO_BIN,
    MELTANO_MISSING,
    PRIMARY_KEYS,
    STREAMS,
    MeltanoProject,
    cache_lock,
    read_duckdb_table,
    tap_env,
)
from tests.postgres_server import free_port

if os.environ.get("CI"):
    import dagster as dg  # in CI a missing install fails, it is never skipped
else:
    dg = pytest.importorskip("dagster", reason="bash scripts/bootstrap.sh --test-tools")
duckdb = pytest.importorskip("duckdb")

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

DEFINITIONS = Path(__file__).resolve().parents[1] / "orchestration" / "dagster" / "definitions.py"


def load_definitions() -> Any:
    spec = importlib.util.spec_from_file_location("tap_audience_dagster", DEFINITIONS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_config(project: MeltanoProject, env: dict[str, str]) -> dict[str, Any]:
    config = {"project_dir": str(project.root), "meltano": str(MELTANO_BIN), "env": env}
    return {"ops": {"audience_tables": {"config": config}}}


def tables(database: Path) -> dict[str, dict[tuple, dict]]:
    with duckdb.connect() as connection:
        connection.execute(f"ATTACH '{database}' AS loaded (READ_ONLY)")
        return {
            stream: {
                tuple(row[k] for k in PRIMARY_KEYS[stream]): row
                for row in read_duckdb_table(connection, stream)
            }
            for stream in STREAMS
        }


def test_the_default_meltano_is_the_projects_own_and_overrides_are_kept(tmp_path):
    definitions = load_definitions()
    shard = definitions.MeltanoShard
    repository = DEFINITIONS.parents[2]
    own = repository / ".venv-meltano" / "bin" / "meltano"
    # The project's own, relative to the project root (two folders above definitions.py).
    assert shard().project_dir == str(repository)
    assert definitions.meltano_executable(shard(), {}) == str(own)
    # The variable names another; the run config's `meltano` wins over it.
    other = tmp_path / "bin" / "meltano"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    variable = {definitions.MELTANO_VARIABLE: str(other)}
    assert definitions.meltano_executable(shard(), variable) == str(other)
    assert definitions.meltano_executable(shard(meltano=str(own)), variable) == str(own)
    # A relative path is relative to the project; a bare name is a command on PATH.
    assert definitions.meltano_executable(
        shard(project_dir=str(tmp_path), meltano="bin/meltano"), {}
    ) == str(other)
    on_path = {"PATH": str(other.parent)}
    assert definitions.meltano_executable(shard(meltano="meltano"), on_path) == str(other)


def test_a_missing_meltano_is_one_line_naming_the_path(tmp_path):
    definitions = load_definitions()
    empty = definitions.MeltanoShard(project_dir=str(tmp_path))
    with pytest.raises(dg.Failure) as failed:
        definitions.meltano_executable(empty, {})
    expected = tmp_path / ".venv-meltano" / "bin" / "meltano"
    assert failed.value.description == (
        f"the project's own Meltano: no meltano at {expected}. `bash scripts/bootstrap.sh` "
        "installs the project's own; or set `meltano` in the run config or "
        "TAP_AUDIENCE_DAGSTER_MELTANO"
    )
    with pytest.raises(dg.Failure, match="no command 'meltano' on PATH"):
        definitions.meltano_executable(
            definitions.MeltanoShard(meltano="meltano"), {"PATH": str(tmp_path)}
        )


@pytest.mark.slow  # Meltano runs
def test_three_shards_one_by_one_equal_one_unsharded_run(sandbox, tmp_path):
    definitions = load_definitions()
    assert definitions.shards.get_partition_keys() == ["0", "1", "2"]
    dg.Definitions.validate_loadable(definitions.defs)
    project = MeltanoProject(tmp_path / "project")
    sharded, whole = tmp_path / "sharded.duckdb", tmp_path / "whole.duckdb"
    env = {**project.base_env, **tap_env(sandbox), "TARGET_DUCKDB_FILEPATH": str(sharded)}
    records = 0
    with cache_lock():  # one meltano at a time per plugin cache (and a current tap venv)
        for key in definitions.shards.get_partition_keys():
            result = dg.materialize(
                [definitions.audience_tables],
                partition_key=key,
                run_config=run_config(project, env),
            )
            assert result.success
            (materialization,) = result.asset_materializations_for_node("audience_tables")
            metadata = materialization.metadata
            assert metadata["status"].value == "succeeded"
            assert metadata["shard"].value == {"count": 3, "index": int(key)}
            assert metadata["failed_partitions"].value == []
            records += metadata["records"].value
    project.meltano(
        "run",
        "tap-audience",
        "target-duckdb",
        env={**tap_env(sandbox), "TARGET_DUCKDB_FILEPATH": str(whole)},
    )
    got, expected = tables(sharded), tables(whole)
    assert got == expected
    assert records == sum(len(rows) for rows in expected.values())


@pytest.mark.slow
def test_a_failed_partition_fails_the_materialization_with_the_summary(sandbox, tmp_path):
    from tap_audience.sandbox import Fault

    sandbox.inject(Fault.wrong_types(path="/eq-api/beta/insights/os", limit=1))
    definitions = load_definitions()
    project = MeltanoProject(tmp_path / "project")
    env = {
        **project.base_env,
        **tap_env(sandbox),
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "one.duckdb"),
    }
    with cache_lock():
        results = [
            dg.materialize(
                [definitions.audience_tables],
                partition_key=key,
                run_config=run_config(project, env),
                raise_on_error=False,
            )
            for key in definitions.shards.get_partition_keys()
        ]
    failed = [r for r in results if not r.success]
    assert len(failed) == 1  # only the shard holding the faulty campaign
    (failure,) = [e for e in failed[0].all_events if e.event_type_value == "STEP_FAILURE"]
    data = failure.event_specific_data.user_failure_data
    assert "partition(s) failed" in data.description
    assert any("eq_os" in line for line in data.metadata["failed_partitions"].value)


@pytest.mark.slow
def test_a_failed_loader_fails_the_partition_with_its_cause_in_the_event_log(sandbox, tmp_path):
    """The tap succeeds, target-postgres cannot connect: the failure names the loader and its
    error line (not only "Run completed"), its last lines and the whole summary."""
    definitions = load_definitions()
    project = MeltanoProject(tmp_path / "project")
    closed = free_port()  # nothing listens there
    env = {
        **project.base_env,
        **tap_env(sandbox),
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(closed),
        "TARGET_POSTGRES_USER": "tap_audience",
        "TARGET_POSTGRES_PASSWORD": "not-a-secret",
    }
    config = run_config(project, env)
    config["ops"]["audience_tables"]["config"]["loader"] = "target-postgres"
    with cache_lock():
        result = dg.materialize(
            [definitions.audience_tables],
            partition_key="0",
            run_config=config,
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = failure.event_specific_data.user_failure_data
    metadata = {key: value.value for key, value in data.metadata.items()}
    error = metadata["error"]
    assert error.startswith("target-postgres: ") and "Connection refused" in error, error
    assert metadata["failed_step"] == "target-postgres"
    assert data.description.startswith(f"shard 0 failed: {error}\n\nIts last lines:\n")
    assert error.removeprefix("target-postgres: ") in metadata["last_lines"].splitlines()
    steps = {step["name"]: step["status"] for step in metadata["steps"]}
    assert steps == {"tap-audience": "succeeded", "target-postgres": "failed"}
    summary = metadata["summary"]
    assert summary["status"] == "failed" and summary["shard"] == {"count": 3, "index": 0}
    assert summary["records"] == metadata["records"] > 0  # what the tap wrote, not loaded
