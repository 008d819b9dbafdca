"""End to end into a real PostgreSQL: `meltano run tap-audience target-postgres`, twice.

The `postgres` fixture starts a throwaway server (Debian's postgresql package; CI installs it
through scripts/install_postgres.sh) on a free loopback port, in a temporary data directory, with
a password-protected role that owns the `audience` database. Tables are read back with the
`psql` client as JSON, so the test needs no Python driver, from the schema the `sandbox`
environment loads (`audience_sandbox`); the production schema (`audience`) must stay empty.

How the runs are set up: tests/meltano_project.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.meltano_project import (
    ENVIRONMENT,
    MELTANO_BIN,
    MELTANO_MISSING,
    PRIMARY_KEYS,
    PRODUCTION,
    STREAMS,
    UTC,
    MeltanoProject,
    assert_readme_types,
    assert_resumed_from,
    bookmarks,
    differences,
    expected_records,
    hour_of,
    keyed,
    loader_config,
    revised_buckets,
    tap_env,
)

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)


def postgres_bin_dir() -> Path | None:
    """The newest server install (Debian: /usr/lib/postgresql/<major>/bin), or $PG_BIN."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    return Path(max(found, key=lambda path: int(Path(path).parts[-3]))).parent


PG_BIN = postgres_bin_dir()
if PG_BIN is None or not all((PG_BIN / name).exists() for name in ("initdb", "pg_ctl", "psql")):
    pytest.skip(
        "PostgreSQL server binaries (initdb, pg_ctl, psql) not found under "
        "/usr/lib/postgresql/*/bin or $PG_BIN: `bash scripts/install_postgres.sh` installs them",
        allow_module_level=True,
    )

# Where the sandbox environment loads, and the production schema it must leave alone (one
# database, so both are visible to the test).
SCHEMA = loader_config("target-postgres")["default_target_schema"]
PRODUCTION_SCHEMA = loader_config("target-postgres", PRODUCTION)["default_target_schema"]
STATE_ID = f"{ENVIRONMENT}:tap-audience-to-target-postgres"
PG_TIMEOUT = 60
# Not UTC on purpose: the target writes date-times into `timestamp without time zone` columns as
# the session's wall time. In this zone 2026-11-01 05:00 and 06:00 UTC (inside the synced range)
# are both 01:00, so without meltano.yml's `PGTZ: UTC` for the target two Angus buckets collide
# ("duplicate key value violates unique constraint") and every other row is shifted.
SERVER_TIME_ZONE = "America/Toronto"


# --- the server --------------------------------------------------------------------------------
@dataclasses.dataclass
class Postgres:
    bin_dir: Path
    port: int
    user: str = "tap_audience"
    password: str = "not-a-secret-3fKq"
    database: str = "audience"
    host: str = "127.0.0.1"

    def target_env(self) -> dict[str, str]:
        """The connection as the declared `TARGET_POSTGRES_*` settings."""
        return {
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": self.password,
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def query(self, sql: str) -> Any:
        """One value of JSON, as the target's role over TCP with its password (like the target)."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "--no-psqlrc",
                "--no-align",
                "--tuples-only",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                f"--host={self.host}",
                f"--port={self.port}",
                f"--username={self.user}",
                f"--dbname={self.database}",
                f"--command={sql}",
            ],
            env={
                **os.environ,
                "PGPASSWORD": self.password,
                "PGTZ": "UTC",
                "PGCLIENTENCODING": "UTF8",
                "PGCONNECT_TIMEOUT": "10",
            },
            capture_output=True,
            text=True,
            timeout=PG_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, f"psql failed on {sql!r}: {result.stderr}"
        return json.loads(result.stdout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=PG_TIMEOUT, check=False, **kwargs
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    assert PG_BIN is not None
    # initdb refuses to run as root: the server then belongs to the `postgres` user, who must be
    # able to reach its directory, so not under pytest's private tmp (0700, root's).
    owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="tap-audience-pg-"))
    data, log = root / "data", root / "server.log"

    def pg_ctl(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*owner, str(PG_BIN / "pg_ctl"), f"--pgdata={data}", f"--log={log}", *args]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=PG_TIMEOUT, check=False
        )

    try:
        if owner:
            shutil.chown(root, "postgres", "postgres")
        run(
            [
                *owner,
                str(PG_BIN / "initdb"),
                f"--pgdata={data}",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                # the superuser over the socket in the data dir; everyone else with a password
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            ]
        )
        for _ in range(3):  # the free port may be taken before the server binds it
            port = free_port()
            options = (
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c timezone={SERVER_TIME_ZONE}"
            )
            if pg_ctl("--options", options, "--wait", "start").returncode == 0:
                break
        else:
            pytest.fail(f"PostgreSQL did not start:\n{log.read_text(errors='replace')}")
        server = Postgres(bin_dir=PG_BIN, port=port)
        run(
            [
                str(PG_BIN / "psql"),
                "--no-psqlrc",
                "--set=ON_ERROR_STOP=1",
                f"--host={data}",
                f"--port={port}",
                "--username=postgres",
                "--dbname=postgres",
                f"--command=CREATE ROLE {server.user} LOGIN PASSWORD '{server.password}'",
                f"--command=CREATE DATABASE {server.database} OWNER {server.user}",
            ]
        )
        yield server
    finally:
        if (data / "postmaster.pid").exists():  # running, however far the setup got
            pg_ctl("--mode=fast", "--wait", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-postgres"))


# --- reading the tables back -------------------------------------------------------------------
def column_types(server: Postgres, schema: str = SCHEMA) -> dict[str, dict[str, str]]:
    rows = server.query(
        "SELECT coalesce(json_agg(json_build_array(table_name, column_name, data_type)), '[]') "
        f"FROM information_schema.columns WHERE table_schema = '{schema}'"
    )
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        types.setdefault(table, {})[column] = data_type
    return types


def read_table(server: Postgres, stream: str, types: dict[str, str]) -> list[dict[str, Any]]:
    """The rows as records shaped like the tap's: no `_sdc_*` columns, date-times in UTC."""
    rows = server.query(f"SELECT coalesce(json_agg(t), '[]') FROM {SCHEMA}.\"{stream}\" t")
    return [
        {
            column: from_json(value, types[column])
            for column, value in row.items()
            if not column.startswith("_sdc_")
        }
        for row in rows
    ]


def from_json(value: Any, data_type: str) -> Any:
    if value is not None and data_type.startswith("timestamp"):
        # `timestamp without time zone` holds the UTC wall time; PGTZ=UTC prints the other kind
        # in UTC too.
        moment = dt.datetime.fromisoformat(value)
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return aware.isoformat()
    return value


def row_counts(server: Postgres, stream: str) -> tuple[int, int]:
    """(rows, distinct primary keys) of a table."""
    keys = ", ".join(f'"{key}"' for key in PRIMARY_KEYS[stream])
    rows, distinct = server.query(
        f'SELECT json_build_array(count(*), count(DISTINCT ({keys}, 0))) FROM {SCHEMA}."{stream}"'
    )
    return rows, distinct


def assert_tables_hold(server: Postgres, expected: dict[str, list[dict[str, Any]]]) -> None:
    types = column_types(server)
    assert set(types) == STREAMS
    for stream in STREAMS:
        assert expected[stream], stream  # nothing is compared vacuously
        # Every sandbox row exactly once: the lookback re-sends rows, the target must merge them.
        assert row_counts(server, stream) == (len(expected[stream]),) * 2, stream
        # ... and every value equals the oracle's (a stale row would differ here).
        got = read_table(server, stream, types[stream])
        assert not differences(stream, got, expected[stream])


# --- the test ----------------------------------------------------------------------------------
def test_postgres_resumes_from_meltano_state_and_upserts_revisions(project, sandbox, postgres):
    env = {**tap_env(sandbox), **postgres.target_env()}
    assert project.state(STATE_ID) == {}
    partial = hour_of(sandbox.now)  # the newest bucket, still filling up

    project.meltano("run", "tap-audience", "target-postgres", env=env)
    first_state = project.state(STATE_ID)
    assert bookmarks(first_state, "angus_entities") == {partial.isoformat()}
    first_expected = expected_records(sandbox)
    assert_tables_hold(postgres, first_expected)

    # What the target made of the schemas: nested objects as jsonb, date-times as timestamps
    # without time zone (UTC wall time), plus the SDK's `_sdc_*` metadata columns.
    types = column_types(postgres)
    assert types["angus_entities"]["category"] == "jsonb"
    assert types["angus_entities"]["gender"] == "jsonb"
    assert types["angus_entities"]["bucket_start"] == "timestamp without time zone"
    assert types["eq_os"]["_id"] == "jsonb"
    assert {column for column in types["eq_os"] if column.startswith("_sdc_")} >= {
        "_sdc_extracted_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
    }
    assert_readme_types("target-postgres", types)  # the README's types table, PostgreSQL column

    # Five hours later the partial bucket has filled up and five more buckets exist.
    sandbox.advance(dt.timedelta(hours=5))
    sandbox.clear_requests()
    env = {**tap_env(sandbox), **postgres.target_env()}  # end_date moved on with the clock
    project.meltano("run", "tap-audience", "target-postgres", env=env)
    assert bookmarks(project.state(STATE_ID), "angus_entities") == {
        hour_of(sandbox.now).isoformat()
    }
    assert_resumed_from(first_state, sandbox)  # Meltano handed the stored state to the tap

    expected = expected_records(sandbox)
    assert_tables_hold(postgres, expected)

    # The comparison covers an update, not only inserts: the bucket that was partial in the
    # first run has other values now, and the table holds the revised ones.
    revised = revised_buckets(first_expected["angus_entities"], expected["angus_entities"])
    assert {key[2] for key in revised} == {partial.isoformat()}
    got = keyed(
        "angus_entities",
        read_table(postgres, "angus_entities", column_types(postgres)["angus_entities"]),
    )
    before = keyed("angus_entities", first_expected["angus_entities"])
    after = keyed("angus_entities", expected["angus_entities"])
    for key in revised:
        assert got[key] == after[key] != before[key]

    # Both runs loaded the sandbox environment's schema; the production one has no table.
    assert SCHEMA != PRODUCTION_SCHEMA
    assert column_types(postgres, PRODUCTION_SCHEMA) == {}
