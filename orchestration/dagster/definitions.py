"""tap-audience on Dagster: one asset, partitioned by shard, each partition one Meltano run.

    .venv/bin/python -m pip install -e '.[dagster]'   # not a dependency of the tap itself
    TAP_AUDIENCE_DAGSTER_SHARDS=3 .venv/bin/dagster dev -f orchestration/dagster/definitions.py

Materializing partition N runs `meltano run tap-audience <loader>` in the Meltano project
with shard N of `TAP_AUDIENCE_DAGSTER_SHARDS` (`TAP_AUDIENCE_SHARD_COUNT`/`_INDEX`) and its
own state id (`--state-id-suffix shard-N`), reads the run summary the tap writes
(`run_summary_path`) and attaches it as the materialization's metadata: records per stream,
failed partitions. A run with a failed partition fails the materialization, with the same
metadata. The schedule is an example; so is the loader.

Meltano is the project's own, `.venv-meltano/bin/meltano` under the project root (what
scripts/bootstrap.sh installs), unless the run config's `meltano` or the environment variable
`TAP_AUDIENCE_DAGSTER_MELTANO` names another: a path (relative to the project root) or a command
looked up on PATH.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

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
        "shard": dg.MetadataValue.json(summary.get("shard", {})),
        "bookmarks": dg.MetadataValue.json(summary.get("bookmarks", {})),
    }


@dg.asset(partitions_def=shards, description="Every tap-audience stream, loaded; one shard each.")
def audience_tables(
    context: dg.AssetExecutionContext, config: MeltanoShard
) -> dg.MaterializeResult:
    index = context.partition_key
    project = Path(config.project_dir)
    summary_path = project / config.summary_dir / f"summary-shard-{index}.json"
    summary_path.unlink(missing_ok=True)  # never report the previous run's numbers
    env = {
        **os.environ,
        **config.env,
        "TAP_AUDIENCE_SHARD_COUNT": str(SHARDS),
        "TAP_AUDIENCE_SHARD_INDEX": index,
        "TAP_AUDIENCE_RUN_SUMMARY_PATH": str(summary_path),
    }
    meltano = meltano_executable(config, env)
    command = [meltano, "run", "--state-id-suffix", f"shard-{index}", "tap-audience"]
    context.log.info("shard %s of %s: %s %s", index, SHARDS, " ".join(command), config.loader)
    process = subprocess.run(  # noqa: S603 - the configured meltano, no shell
        [*command, config.loader], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if not summary_path.exists():
        raise dg.Failure(
            description=f"shard {index}: meltano exited {process.returncode} before the tap "
            f"wrote its summary: {process.stderr.strip().splitlines()[-1:]}"
        )
    summary = json.loads(summary_path.read_text())
    metadata = summary_metadata(summary)
    if process.returncode != 0 or summary.get("status") != "succeeded":
        raise dg.Failure(
            description=f"shard {index}: {summary.get('error') or 'meltano failed'}",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


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
