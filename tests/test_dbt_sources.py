"""dbt on a warehouse that is missing, empty or partly loaded: what `dbt build` does.

The rule (transform/macros/check_sources_loaded.sql, run once before anything is built): a
source table that is missing is a stream left out of the catalog, its staging model empty
with one line naming the table, and the build goes on; a table that exists but holds no rows
is a selected stream that synced no record (both targets create the table from the SCHEMA
message alone), one warning line naming it, and the build goes on; when no table holds a row
(none exists, or every one is empty) the build fails before building anything, in one line
naming the file or database and the schema dbt looked in. A DuckDB `path` whose folder does
not exist stops dbt in one line naming it (transform/profiles/duckdb/duckdb_path_check.py).

One load serves every DuckDB test: Angus and LOCUS selected, the ten ATOM streams left out of
the catalog, and no LOCUS coordinate, so its table is there but empty.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tap_audience.sandbox import Sandbox
from tests.marts import duckdb_marts, hourly_keys_as_text, mismatches, truth
from tests.meltano_project import (
    ENVIRONMENT,
    INSIGHT_STREAMS,
    MELTANO_BIN,
    MELTANO_MISSING,
    MeltanoProject,
    loader_config,
    tap_env,
)
from tests.postgres_server import POSTGRES_MISSING, Postgres

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.slow  # Meltano, dbt, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

NOW = dt.datetime(2026, 11, 20, 10, 30, tzinfo=dt.timezone.utc)
SELECTED = ("angus_entities", "locus_hh_segments")
LEFT_OUT = ("eq_campaigns", *INSIGHT_STREAMS)
DUCKDB = loader_config("target-duckdb")
SCHEMA = DUCKDB["default_target_schema"]


@dataclass(frozen=True)
class Loaded:
    project: MeltanoProject
    sandbox: Sandbox
    log: str  # of `meltano run tap-audience target-duckdb dbt-duckdb:build`

    @property
    def database(self) -> Path:
        return self.project.root / str(DUCKDB["filepath"])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    project = MeltanoProject(tmp_path_factory.mktemp("meltano-dbt-sources"))
    path = project.root / "meltano.yml"
    meltano_yml = yaml.safe_load(path.read_text(encoding="utf-8"))
    (environment,) = [e for e in meltano_yml["environments"] if e["name"] == ENVIRONMENT]
    (tap,) = [
        p for p in environment["config"]["plugins"]["extractors"] if p["name"] == "tap-audience"
    ]
    tap["select"] = [f"{stream}.*" for stream in SELECTED]
    path.write_text(yaml.safe_dump(meltano_yml, sort_keys=False), encoding="utf-8")

    with Sandbox(seed=7, now=NOW) as sandbox:
        # The LOCUS token but no coordinate: the stream is selected and syncs no record.
        env = {**tap_env(sandbox), "TAP_AUDIENCE_LOCUS_COORDS": "[]"}
        built = project.meltano("run", "tap-audience", "target-duckdb", "dbt-duckdb:build", env=env)
        yield Loaded(project, sandbox, built.stdout + built.stderr)
    assert not sandbox.errors, sandbox.errors


def failed_build(project: MeltanoProject, *command: str, env: dict[str, str] | None = None) -> str:
    """The log of a dbt command through Meltano that must exit non-zero."""
    result = project.meltano(*command, env=env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return output


def tables(database: Path) -> set[tuple[str, str]]:
    with duckdb.connect() as connection:  # closed again: an open handle locks the next run out
        connection.execute(f"ATTACH '{database}' AS warehouse (READ_ONLY)")
        return set(
            connection.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = 'warehouse'"
            ).fetchall()
        )


# --- a partly loaded warehouse: the build goes on ---------------------------------------------
def test_a_stream_left_out_of_the_catalog_leaves_its_models_empty(loaded: Loaded) -> None:
    """The ATOM streams were left out (Meltano's `select:`): they never get a table, and
    `dbt build` still passes, each of their staging models empty and naming its table in one
    line; the Angus marts are built from what was loaded."""
    for stream in LEFT_OUT:
        named = re.findall(
            rf'\."{stream}" has not been loaded \(is the stream selected\?\)', loaded.log
        )
        assert len(named) == 1, (stream, loaded.log[-3000:])
    assert {table for schema, table in tables(loaded.database) if schema == SCHEMA} == set(SELECTED)

    marts = hourly_keys_as_text(duckdb_marts(loaded.database, SCHEMA))
    want = truth(loaded.sandbox)
    for mart in ("fct_audience_hourly", "fct_audience_daily"):
        assert not mismatches(mart, marts(mart), want[mart])
    for mart in ("fct_campaign_delivery", "dim_campaigns", "fct_household_segments"):
        assert marts(mart) == []


def test_a_selected_stream_that_synced_no_record_is_a_warning(loaded: Loaded) -> None:
    """LOCUS without coordinates: target-duckdb created its table from the SCHEMA message alone,
    and it holds no rows. One warning line names it; the build passed."""
    warned = re.findall(r"tap_audience: warning: (\S+) holds no rows", loaded.log)
    assert warned == [f'"{Path(DUCKDB["filepath"]).stem}"."{SCHEMA}"."locus_hh_segments"'], (
        loaded.log[-3000:]
    )
    assert "Completed successfully" in loaded.log


# --- nothing loaded where dbt looks: the build fails -----------------------------------------
def test_an_empty_duckdb_warehouse_fails_the_build_naming_it(
    loaded: Loaded, tmp_path: Path
) -> None:
    """A DuckDB file without the tap's tables, then with only empty ones: `dbt build` fails
    before building anything, naming the file and the schema and saying to load first."""
    database = tmp_path / "empty.duckdb"
    # as target-duckdb's duckdb 1.0.0 would leave it (the profile asks for the same format)
    duckdb.connect(str(database), config={"storage_compatibility_version": "v1.0.0"}).close()
    env = {"DBT_DUCKDB_PATH": str(database)}

    output = failed_build(loaded.project, "invoke", "dbt-duckdb:build", env=env)
    assert (
        f'tap_audience: nothing loaded in schema "{SCHEMA}" of the DuckDB file {database}: '
        "no tap-audience table. Run the load first (meltano run tap-audience target-duckdb)"
    ) in output, output[-3000:]
    assert tables(database) == set()  # nothing built

    with duckdb.connect(str(database)) as connection:
        connection.execute(f'CREATE SCHEMA "{SCHEMA}"')
        connection.execute(f'CREATE TABLE "{SCHEMA}".angus_entities (client_id VARCHAR)')
        connection.execute(f'CREATE TABLE "{SCHEMA}".eq_os (campaign_id BIGINT)')
    output = failed_build(loaded.project, "invoke", "dbt-duckdb:build", env=env)
    assert (
        f'nothing loaded in schema "{SCHEMA}" of the DuckDB file {database}: every tap-audience '
        "table there is empty (angus_entities, eq_os). Run the load first"
    ) in output, output[-3000:]
    assert not [table for schema, table in tables(database) if schema == f"{SCHEMA}_marts"]


def test_a_wrong_schema_fails_the_build_naming_it(loaded: Loaded) -> None:
    """dbt pointed at a schema the loader did not write (production's, in the sandbox's file)."""
    output = failed_build(
        loaded.project, "invoke", "dbt-duckdb:build", env={"DBT_DUCKDB_SCHEMA": "tap_audience"}
    )
    assert (
        'tap_audience: nothing loaded in schema "tap_audience" of the DuckDB file '
        f"{loaded.database}: no tap-audience table."
    ) in output, output[-3000:]


def test_a_missing_folder_of_the_duckdb_path_is_one_line(loaded: Loaded, tmp_path: Path) -> None:
    """`path` in a folder that does not exist, through `meltano run` (dbt-duckdb would print
    three tracebacks): one line naming the path and the fix, non-zero exit, nothing created."""
    database = tmp_path / "no-such-folder" / "audience.duckdb"
    output = failed_build(
        loaded.project, "run", "dbt-duckdb:build", env={"DBT_DUCKDB_PATH": str(database)}
    )
    line = (
        f"tap_audience: the DuckDB file {database} cannot be opened: its folder "
        f"{database.parent} does not exist. Set dbt-duckdb's path to the file target-duckdb loads"
    )
    assert output.count(line) == 1, output[-3000:]
    assert not database.parent.exists()


@pytest.mark.skipif(bool(POSTGRES_MISSING), reason=POSTGRES_MISSING or "")
def test_an_empty_postgres_schema_fails_the_build_naming_it(
    loaded: Loaded, postgres_server: Postgres
) -> None:
    """The schema exists (as after a failed first load) but holds no table of the tap's."""
    database = postgres_server.create_database("audience_empty")
    schema = loader_config("target-postgres")["default_target_schema"]
    database.execute(f'CREATE SCHEMA "{schema}"')
    output = failed_build(loaded.project, "invoke", "dbt-postgres:build", env=database.dbt_env())
    assert (
        f'tap_audience: nothing loaded in schema "{schema}" of the PostgreSQL database '
        f"audience_empty on {database.host}:{database.port}: no tap-audience table. Run the "
        "load first (meltano run tap-audience target-postgres)"
    ) in output, output[-3000:]
    built = database.query(
        "SELECT count(*) FROM information_schema.tables "
        f"WHERE table_schema IN ('{schema}_staging', '{schema}_marts')"
    )
    assert built == 0
