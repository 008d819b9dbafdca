"""tap-audience on Dagster: one asset, partitioned by shard, each partition one pipeline run.

    .venv/bin/python -m pip install -e '.[dagster]'   # not a dependency of the tap itself
    TAP_AUDIENCE_DAGSTER_SHARDS=3 .venv/bin/dagster dev -f orchestration/dagster/definitions.py

Materializing partition N runs shard N of `TAP_AUDIENCE_DAGSTER_SHARDS` through
orchestration/pipeline.py, the runner Kubernetes' run-shard.sh uses too: `meltano el
tap-audience <loader>` with the shard's own state id (`<environment>:tap-audience-to-<loader>:
shard-N`, as `meltano run --state-id-suffix shard-N` names it) and a Meltano run directory of
its own, so partitions may run at the same time; then the run config's `transform` (say
`dbt-duckdb:build`) if set. Its summary (the tap's numbers, each step's status) becomes the
materialization's metadata: records per stream, failed partitions, steps. A run that fails at
any step (the tap, the loader, dbt) fails the materialization, its description naming the step
and its error line, its metadata holding that step's last lines and the whole summary, so the
run's event log says why. The schedule is an example; so is the loader.

Meltano is the project's own, `.venv-meltano/bin/meltano` under the project root (what
scripts/bootstrap.sh installs), unless the run config's `meltano` or the environment variable
`TAP_AUDIENCE_DAGSTER_MELTANO` names another: a path (relative to the project root) or a command
looked up on PATH.
"""

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg


def load_runner() -> ModuleType:
    """orchestration/pipeline.py, beside this folder (a script, not a package: Dagster loads
    this file by path, and the Kubernetes image runs the runner with a plain Python)."""
    name = "tap_audience_pipeline"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "pipeline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pipeline = load_runner()

SHARDS = int(os.environ.get("TAP_AUDIENCE_DAGSTER_SHARDS", "3"))
shards = dg.StaticPartitionsDefinition([str(index) for index in range(SHARDS)])
PROJECT_DIR = Path(__file__).resolve().parents[2]
# The project's own Meltano, relative to the project root; this variable names another.
PROJECT_MELTANO = ".venv-meltano/bin/meltano"
MELTANO_VARIABLE = "TAP_AUDIENCE_DAGSTER_MELTANO"


class MeltanoShard(dg.Config):
    """Where and how a shard runs (the defaults suit `dagster dev` in the repository)."""

    project_dir: str = str(PROJECT_DIR)
    # Empty: $TAP_AUDIENCE_DAGSTER_MELTANO, else the project's .venv-meltano/bin/meltano.
    meltano: str = ""
    loader: str = "target-duckdb"
    # A command to run after the load (`dbt-duckdb:build`); empty: none.
    transform: str = ""
    summary_dir: str = "output/summaries"
    # Extra environment for the run (credentials come from yours). Pydantic copies defaults.
    env: dict[str, str] = {}  # noqa: RUF012


def meltano_executable(config: MeltanoShard, environ: Mapping[str, str] = os.environ) -> str:
    """The meltano to run: the run config's, else $TAP_AUDIENCE_DAGSTER_MELTANO's, else the
    project's own. A name without a slash is a command on PATH; a relative path is relative to
    the project root."""
    if config.meltano:
        chosen, given_by = config.meltano, "the run config's `meltano`"
    elif environ.get(MELTANO_VARIABLE):
        chosen, given_by = environ[MELTANO_VARIABLE], MELTANO_VARIABLE
    else:
        chosen, given_by = PROJECT_MELTANO, "the project's own Meltano"
    if "/" not in chosen:
        found = shutil.which(chosen, path=environ.get("PATH"))
        if found is None:
            raise dg.Failure(description=f"{given_by}: no command {chosen!r} on PATH")
        return found
    path = Path(config.project_dir) / chosen  # an absolute `chosen` stays as it is
    if not os.access(path, os.X_OK):
        raise dg.Failure(
            description=f"{given_by}: no meltano at {path}. `bash scripts/bootstrap.sh` "
            f"installs the project's own; or set `meltano` in the run config or "
            f"{MELTANO_VARIABLE}"
        )
    return str(path)


def summary_metadata(summary: dict[str, Any]) -> dict[str, Any]:
    streams = summary.get("streams", {})
    failed = [
        f"{name} {failure['partition']}: {failure['error']}"
        for name, stream in streams.items()
        for failure in stream.get("failures", [])
    ]
    return {
        "status": summary.get("status"),
        "records": dg.MetadataValue.int(int(summary.get("records", 0))),
        "records_per_stream": dg.MetadataValue.json(
            {name: stream["records"] for name, stream in streams.items()}
        ),
        "failed_partitions": dg.MetadataValue.json(failed),
        "steps": dg.MetadataValue.json(
            [
                {k: step[k] for k in ("name", "status", "exit_code", "error")}
                for step in summary["steps"]
            ]
        ),
        "state_id": summary.get("state_id"),
        "shard": dg.MetadataValue.json(summary.get("shard", {})),
        "bookmarks": dg.MetadataValue.json(summary.get("bookmarks", {})),
    }


def failure(index: str, summary: dict[str, Any]) -> dg.Failure:
    """Why the partition failed, where the run's event log shows it: the step and its error
    line in the description, with that step's last lines; the whole summary in the metadata."""
    failed = [s for s in summary["steps"] if s["name"] == summary.get("failed_step")]
    last_lines = failed[0]["last_lines"] if failed else []
    # The error names its step: "target-postgres: <its error line>".
    description = f"shard {index} {summary['status']}: {summary.get('error')}"
    if last_lines:
        description += "\n\nIts last lines:\n" + "\n".join(last_lines)
    return dg.Failure(
        description=description,
        metadata={
            **summary_metadata(summary),
            "failed_step": summary.get("failed_step"),
            "error": summary.get("error"),
            "last_lines": dg.MetadataValue.text("\n".join(last_lines)),
            "summary": dg.MetadataValue.json(summary),
        },
    )


@dg.asset(partitions_def=shards, description="Every tap-audience stream, loaded; one shard each.")
def audience_tables(
    context: dg.AssetExecutionContext, config: MeltanoShard
) -> dg.MaterializeResult:
    index = context.partition_key
    project = Path(config.project_dir)
    summary_path = project / config.summary_dir / f"summary-shard-{index}.json"
    summary_path.unlink(missing_ok=True)  # never report the previous run's numbers
    env = {**os.environ, **config.env}
    shard = pipeline.Pipeline(
        loader=config.loader,
        project_dir=project,
        shard_count=SHARDS,
        shard_index=int(index),
        transform=config.transform or None,
        meltano=meltano_executable(config, env),
        summary_path=summary_path,
    )
    context.log.info(
        "shard %s of %s: meltano el tap-audience %s (then %s)",
        index,
        SHARDS,
        config.loader,
        config.transform or "nothing",
    )
    # Meltano's lines go to this step's stderr (Dagster keeps it as the compute log).
    summary: dict[str, Any] = pipeline.run_pipeline(shard, pipeline.Runner(sys.stderr), env)
    if summary["status"] != "succeeded":
        raise failure(index, summary)
    return dg.MaterializeResult(metadata=summary_metadata(summary))


all_shards = dg.define_asset_job("audience_all_shards", selection=[audience_tables])


@dg.schedule(job=all_shards, cron_schedule="15 * * * *")
def hourly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """An example: every shard at a quarter past each hour, one run per shard."""
    when = context.scheduled_execution_time.isoformat()
    return [
        dg.RunRequest(partition_key=key, run_key=f"{when}:{key}")
        for key in shards.get_partition_keys()
    ]


defs = dg.Definitions(assets=[audience_tables], jobs=[all_shards], schedules=[hourly])
