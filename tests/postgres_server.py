"""A throwaway PostgreSQL server for the tests that load into one (test_postgres, test_dbt).

One server per test session (the `postgres_server` fixture in tests/conftest.py), started from
Debian's postgresql package (CI installs it through scripts/install_postgres.sh) on a free
loopback port, in a temporary data directory, with a password-protected role. Each test module
takes its own database (`Postgres.create_database`), so their tables and schemas never meet.
Tables are read back with the `psql` client as JSON: no Python driver needed.
"""

from __future__ import annotations

import contextlib
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

PG_TIMEOUT = 60
# Not UTC on purpose: the target writes date-times into `timestamp without time zone` columns as
# the session's wall time. In this zone 2026-11-01 05:00 and 06:00 UTC (inside the synced range)
# are both 01:00, so without meltano.yml's `PGTZ: UTC` for the target two Angus buckets collide
# ("duplicate key value violates unique constraint") and every other row is shifted.
SERVER_TIME_ZONE = "America/Toronto"


def postgres_bin_dir() -> Path | None:
    """The newest server install (Debian: /usr/lib/postgresql/<major>/bin), or $PG_BIN."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    return Path(max(found, key=lambda path: int(Path(path).parts[-3]))).parent


PG_BIN = postgres_bin_dir()
POSTGRES_MISSING = (
    None
    if PG_BIN is not None and all((PG_BIN / name).exists() for name in ("initdb", "pg_ctl", "psql"))
    else "PostgreSQL server binaries (initdb, pg_ctl, psql) not found under "
    "/usr/lib/postgresql/*/bin or $PG_BIN: `bash scripts/install_postgres.sh` installs them"
)


@dataclasses.dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    port: int
    user: str = "tap_audience"
    password: str = "not-a-secret-3fKq"
    database: str = "postgres"
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

    def dbt_env(self) -> dict[str, str]:
        """The same connection as the dbt-postgres utility's declared `DBT_POSTGRES_*` settings."""
        return {
            "DBT_POSTGRES_HOST": self.host,
            "DBT_POSTGRES_PORT": str(self.port),
            "DBT_POSTGRES_USER": self.user,
            "DBT_POSTGRES_PASSWORD": self.password,
            "DBT_POSTGRES_DBNAME": self.database,
        }

    def create_database(self, name: str) -> Postgres:
        """A new database owned by the role; this server, connected to it."""
        dataclasses.replace(self, database="postgres").execute(f"CREATE DATABASE {name}")
        return dataclasses.replace(self, database=name)

    def rows(self, schema: str, table: str) -> list[dict[str, Any]]:
        """Every row of a table as a JSON object (json_agg: timestamps as 2026-11-20T10:00:00)."""
        rows: list[dict[str, Any]] = self.query(
            f'SELECT coalesce(json_agg(t), \'[]\') FROM "{schema}"."{table}" t'
        )
        return rows

    def records(self, schema: str) -> dict[str, list[dict[str, Any]]]:
        """Every table of `schema` as records shaped like the tap's: no `_sdc_*` columns,
        date-times as UTC ISO text (`timestamp without time zone` holds the UTC wall time)."""
        columns = self.query(
            "SELECT coalesce(json_agg(json_build_array(table_name, column_name, data_type)), "
            f"'[]') FROM information_schema.columns WHERE table_schema = '{schema}'"
        )
        types: dict[str, dict[str, str]] = {}
        for table, column, data_type in columns:
            types.setdefault(table, {})[column] = data_type
        return {
            table: [
                {
                    column: utc_text(value)
                    if table_types[column].startswith("timestamp")
                    else value
                    for column, value in row.items()
                    if not column.startswith("_sdc_")
                }
                for row in self.rows(schema, table)
            ]
            for table, table_types in types.items()
        }

    def execute(self, sql: str) -> None:
        """Run SQL as the role (anything but a query whose result matters)."""
        self.query(sql, json_out=False)

    def query(self, sql: str, json_out: bool = True) -> Any:
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
        return json.loads(result.stdout) if json_out else None


def utc_text(value: str | None) -> str | None:
    """A timestamp as json_agg writes it (`2026-11-20T10:00:00`, UTC wall time; with an offset
    for `timestamp with time zone`), as the tap writes it (`2026-11-20T10:00:00+00:00`)."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value)
    aware = moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment
    return aware.astimezone(dt.timezone.utc).isoformat()


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


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A server with the role `tap_audience` (CREATEDB), stopped and deleted afterwards."""
    if POSTGRES_MISSING or PG_BIN is None:
        pytest.skip(POSTGRES_MISSING or "no PostgreSQL")
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
                f"--command=CREATE ROLE {server.user} LOGIN CREATEDB PASSWORD '{server.password}'",
            ]
        )
        yield server
    finally:
        if (data / "postmaster.pid").exists():  # running, however far the setup got
            pg_ctl("--mode=fast", "--wait", "stop")
        shutil.rmtree(root, ignore_errors=True)
