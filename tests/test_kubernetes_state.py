"""Pods keep their state: a shard run by a new pod resumes where the previous pod stopped.

Every pod of deploy/kubernetes/'s Job starts from the image, so whatever Meltano keeps inside it
is gone with the pod. The state lives in Meltano's system database on the loader's PostgreSQL
(the Secret's MELTANO_DATABASE_URI), prepared by the pod's init container. Here the CronJob's
Job runs twice, each pod in a new copy of the project built the way the image is and deleted
once it ends, with the variables the manifests give (tests/kubernetes_pods.py), against the
test's PostgreSQL and the sandbox: the second run's pods read only from each bookmark minus
the lookback, and the tables equal the sandbox's truth.

run-shard.sh is used through its documented interface only: variables in, exit status, the
summary line in its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
import sqlite3
import subprocess
from typing import Any

import pytest

from tap_audience.sandbox import Sandbox
from tests import kubernetes_pods
from tests.meltano_project import (
    ENTITIES_PATH,
    MELTANO_BIN,
    MELTANO_MISSING,
    STREAMS,
    MeltanoProject,
    assert_resumed_from,
    bookmarks,
    differences,
    expected_records,
    hour_of,
    keyed,
    loader_config,
)
from tests.postgres_server import Postgres

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class Pod:
    index: int
    requests: int  # what it asked the sandbox, data and auth
    entity_requests: int  # Angus data requests


def system_db_state(database: Postgres, schema: str = "meltano") -> dict[str, Any]:
    """Every state Meltano stored, read straight from its table in `schema`."""
    stored: dict[str, Any] = database.query(
        "SELECT coalesce(json_object_agg(state_id, completed_state::json), '{}') "
        f"FROM {schema}.state"
    )
    return {state_id: value["singer_state"] for state_id, value in stored.items()}


def merged(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' states as one: each stream's partitions from every shard (a shard that got
    none of a stream's partitions keeps an empty bookmark for it)."""
    streams: dict[str, list[Any]] = {}
    for state in states:
        for stream, bookmark in state["bookmarks"].items():
            streams.setdefault(stream, []).extend(bookmark.get("partitions", []))
    return {"bookmarks": {s: {"partitions": p} for s, p in streams.items()}}


def assert_tables_hold(database: Postgres, schema: str, sandbox: Sandbox) -> None:
    """Every record of every stream once, each equal to the sandbox's truth."""
    loaded, expected = database.records(schema), expected_records(sandbox)
    assert set(loaded) == STREAMS
    for stream in STREAMS:
        assert expected[stream], stream  # nothing compared vacuously
        assert len(keyed(stream, loaded[stream])) == len(loaded[stream]), stream
        assert not differences(stream, loaded[stream], expected[stream])


def test_each_new_pod_resumes_from_the_last_pods_bookmarks(sandbox, postgres_server, tmp_path):
    if not MELTANO_BIN.exists():
        pytest.skip(MELTANO_MISSING)
    database = postgres_server.create_database("kubernetes_state_resume")
    image = kubernetes_pods.image()
    kubernetes_pods.assert_tests_run_the_images_meltano(image)
    secret = kubernetes_pods.load("secret.example.yaml")
    secrets = {secret["metadata"]["name"]: kubernetes_pods.fill_secret(secret, sandbox, database)}
    job = kubernetes_pods.job_spec(kubernetes_pods.load("cronjob.yaml"))
    pod_spec = job["template"]["spec"]
    (container,) = pod_spec["containers"]
    loader = kubernetes_pods.container_env(container, secrets)["LOADER"]
    environment = image.env["MELTANO_ENVIRONMENT"]
    schema = loader_config(loader, environment)["default_target_schema"]
    state_ids = [f"{environment}:tap-audience-to-{loader}:shard-{i}" for i in range(3)]
    assert job["completions"] == 3

    def run_job(hour: str) -> list[Pod]:
        """One run of the CronJob's Job: each index a new pod from the image, gone after."""
        pods = []
        for index in range(job["completions"]):
            project = kubernetes_pods.build(tmp_path / hour / f"pod-{index}", image)
            before = sandbox.requests
            result = kubernetes_pods.run_pod(
                project,
                pod_spec,
                image,
                secrets,
                {
                    "JOB_COMPLETION_INDEX": str(index),
                    **kubernetes_pods.cluster_and_sandbox(database, sandbox),
                    # the log volume's mount path is not writable here
                    "TAP_AUDIENCE_RUN_SUMMARY_PATH": str(project.root / "summary.json"),
                },
            )
            asked = sandbox.requests[len(before) :]
            summary = kubernetes_pods.summary_of(result.stdout)
            assert summary["status"] == "succeeded", summary
            assert summary["shard"] == {"count": job["completions"], "index": index}
            # Nothing went to the SQLite file the image carries: the pod used the Secret's.
            with contextlib.closing(sqlite3.connect(project.root / "meltano.db")) as image_db:
                assert image_db.execute("SELECT count(*) FROM state").fetchone() == (0,)
            pods.append(
                Pod(
                    index=index,
                    requests=len(asked),
                    entity_requests=sum(r.path == ENTITIES_PATH for r in asked),
                )
            )
            shutil.rmtree(project.root)  # the pod is gone, and its files with it
        return pods

    first = run_job("first")
    first_states = system_db_state(database)
    assert set(first_states) == set(state_ids)  # one state per shard, in the `meltano` schema
    every_shard = merged([first_states[i] for i in state_ids])
    assert bookmarks(every_shard, "angus_entities") == {hour_of(sandbox.now).isoformat()}
    assert_tables_hold(database, schema, sandbox)

    # Five hours later: new buckets, and the partial one has filled up.
    sandbox.advance(dt.timedelta(hours=5))
    sandbox.clear_requests()
    second = run_job("second")
    for pod in second:
        # What it read is what the bookmarks left to read, far less than the first pod's.
        assert pod.requests < first[pod.index].requests
        assert pod.entity_requests <= first[pod.index].entity_requests
    # Every request of the second run started at its partition's bookmark minus the lookback
    # (the Angus windows all at one hour), never at start_date.
    assert_resumed_from(every_shard, sandbox)
    second_states = system_db_state(database)
    assert set(second_states) == set(state_ids)
    assert bookmarks(merged(list(second_states.values())), "angus_entities") == {
        hour_of(sandbox.now).isoformat()
    }
    # Upserted: the revised partial bucket and the new hours, each row once.
    assert_tables_hold(database, schema, sandbox)
    assert (
        database.query(
            "SELECT coalesce(json_agg(tablename ORDER BY tablename), '[]') FROM pg_tables "
            "WHERE schemaname = 'public'"
        )
        == []
    )  # Meltano's tables are in their own schema, not beside the user's


def test_pods_starting_together_prepare_a_new_system_database_once(
    sandbox, postgres_server, tmp_path
):
    """The Job's pods start at once; on a new database their init containers take turns (an
    advisory lock): one creates the schema and Meltano's tables, the others find them ready.
    Without the lock, two of three Meltano processes migrating at once failed."""
    if not MELTANO_BIN.exists():
        pytest.skip(MELTANO_MISSING)
    database = postgres_server.create_database("kubernetes_state_together")
    image = kubernetes_pods.image()
    secret = kubernetes_pods.load("secret.example.yaml")
    secrets = {secret["metadata"]["name"]: kubernetes_pods.fill_secret(secret, sandbox, database)}
    pod_spec = kubernetes_pods.job_spec(kubernetes_pods.load("job.yaml"))["template"]["spec"]
    (init,) = pod_spec["initContainers"]
    started = []
    for index in range(3):
        # No plugin runs here, so no `meltano install`: the project file is enough.
        project = MeltanoProject(tmp_path / f"pod-{index}")
        env = kubernetes_pods.pod_env(init, image, secrets, {"JOB_COMPLETION_INDEX": str(index)})
        started.append(
            subprocess.Popen(
                kubernetes_pods.command_of(init, image),
                cwd=project.root,
                env={**project.base_env, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [process.communicate(timeout=300)[0] for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], logs
    assert sum("Upgrading database to" in log for log in logs) == 1, logs  # migrated once
    assert sum("System database up-to-date." in log for log in logs) == 2, logs
    tables = database.query(
        "SELECT json_object_agg(schemaname, names) FROM (SELECT schemaname, "
        "json_agg(tablename ORDER BY tablename) AS names FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') GROUP BY 1) t"
    )
    assert tables == {"meltano": ["alembic_version", "plugin_settings", "runs", "state"]}
