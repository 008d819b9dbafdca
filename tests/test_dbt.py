"""The T of ELT: sandbox -> Meltano -> target -> `dbt build`, on DuckDB and on PostgreSQL.

The marts must equal the sandbox's own truth (its oracle; tests/marts.py computes it
independently of the SQL, at every mart's grain). Then
the data clock moves on past a local midnight (Angus fills the hour that was partial, ATOM
revises its last three days) and a second, incremental run re-reads the lookback: the marts
must equal the new truth, nothing counted twice, every revision applied. `dbt build` runs every
data test and unit test of transform/ on both warehouses, and fails the run if one fails.

How the Meltano runs are set up: tests/meltano_project.py. The PostgreSQL server is the
session's (tests/postgres_server.py), one database per test.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.marts import (
    GRAINS,
    assert_marts_equal_truth,
    assert_revised,
    duckdb_marts,
    hourly_keys_as_text,
    postgres_marts,
)
from tests.meltano_project import (
    MELTANO_BIN,
    MELTANO_MISSING,
    STREAMS,
    MeltanoProject,
    hour_of,
    loader_config,
    tap_env,
)
from tests.postgres_server import POSTGRES_MISSING

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.slow  # Meltano, dbt, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)

# Past the campaigns' local midnights (Toronto, Vancouver, UTC): ATOM's revision factors move
# on for the last three days, and the Angus hour that was partial is complete.
LATER = dt.timedelta(hours=29)


# --- tests -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    return MeltanoProject(tmp_path_factory.mktemp("meltano-dbt"))


def test_duckdb_marts_equal_the_truth_before_and_after_an_incremental_run(project, sandbox):
    target = loader_config("target-duckdb")
    marts = hourly_keys_as_text(
        duckdb_marts(project.root / target["filepath"], target["default_target_schema"])
    )
    partial = hour_of(sandbox.now)

    project.meltano(
        "run", "tap-audience", "target-duckdb", "dbt-duckdb:build", env=tap_env(sandbox)
    )
    before = assert_marts_equal_truth(marts, sandbox)

    sandbox.advance(LATER)
    project.meltano(
        "run", "tap-audience", "target-duckdb", "dbt-duckdb:build", env=tap_env(sandbox)
    )
    after = assert_marts_equal_truth(marts, sandbox)
    assert_revised(before, after, partial)

    # `dbt docs generate` documents every model from the warehouse's catalog.
    project.meltano("invoke", "dbt-duckdb:docs-generate")
    catalog = json.loads((project.root / "transform" / "target" / "catalog.json").read_text())
    documented = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert set(GRAINS) | {"fct_audience_hourly", "dim_cameras"} <= documented
    assert (project.root / "transform" / "target" / "index.html").is_file()


def test_source_freshness_follows_each_vendors_cadence(project, sandbox):
    """Angus is hourly, ATOM daily: a load 7 hours old is stale for Angus alone."""
    target = loader_config("target-duckdb")
    # A state of its own: the previous test's bookmarks lie ahead of this sandbox's clock.
    project.meltano(
        "run", "--state-id-suffix=freshness", "tap-audience", "target-duckdb", env=tap_env(sandbox)
    )
    fresh = project.meltano("invoke", "dbt-duckdb:freshness")
    assert checked(fresh.stdout + fresh.stderr, "PASS") == STREAMS

    with duckdb.connect(str(project.root / target["filepath"])) as connection:
        connection.execute(
            f'UPDATE "{target["default_target_schema"]}".angus_entities '
            "SET _sdc_extracted_at = _sdc_extracted_at - INTERVAL 7 HOUR"
        )
    stale = project.meltano("invoke", "dbt-duckdb:freshness", check=False)
    output = stale.stdout + stale.stderr
    assert stale.returncode != 0
    assert checked(output, "ERROR STALE") == {"angus_entities"}, output[-3000:]
    assert checked(output, "PASS") == STREAMS - {"angus_entities"}


def checked(output: str, outcome: str) -> set[str]:
    """The sources `dbt source freshness` reports with `outcome` (PASS, WARN, ERROR STALE)."""
    return set(re.findall(rf" {outcome} freshness of tap_audience\.(\w+)", output))


def test_odd_vendor_data_warns_and_a_broken_invariant_fails_the_run(project, sandbox):
    """The data tests are real. A bucket with more interested people than passers-by is what
    Angus reported: a WARN naming the test, and the marts are still built. A bucket size the
    models do not know breaks what they compute: `dbt build`, and with it the run, fails naming
    the test, and the marts built on it are skipped rather than rebuilt from it."""
    target = loader_config("target-duckdb")
    table = f'"{target["default_target_schema"]}".angus_entities'
    project.meltano(
        "run", "--state-id-suffix=broken", "tap-audience", "target-duckdb", env=tap_env(sandbox)
    )

    def corrupt(assignment: str) -> None:
        with duckdb.connect(str(project.root / target["filepath"])) as connection:
            connection.execute(
                f"UPDATE {table} SET {assignment} "
                f"WHERE bucket_start = (SELECT min(bucket_start) FROM {table})"
            )

    corrupt("interested = passing_by + 1")
    warned = project.meltano("invoke", "dbt-duckdb:build")
    output = warned.stdout + warned.stderr
    assert "WARN 3 at_most_stg_angus__entities_interested__passing_by" in output, output[-3000:]
    assert "OK created sql table model" in output and "fct_audience_daily" in output

    corrupt("time_bucket = 'by_week'")
    failed = project.meltano("invoke", "dbt-duckdb:build", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "FAIL 1 accepted_values_stg_angus__entities_time_bucket" in output, output[-3000:]
    assert re.search(r"SKIP relation \S+fct_audience_daily", output), output[-3000:]


def test_a_duckdb_file_dbt_creates_stays_loadable_by_target_duckdb(tmp_path, sandbox):
    """dbt's duckdb (2.x) creates the file in the storage format target-duckdb's 1.0.0 reads."""
    project = MeltanoProject(tmp_path / "project")
    database = project.root / loader_config("target-duckdb")["filepath"]
    assert not database.exists()
    project.meltano("invoke", "dbt-duckdb:debug")
    assert database.exists()
    project.meltano(
        "run", "tap-audience", "target-duckdb", "dbt-duckdb:build", env=tap_env(sandbox)
    )


@pytest.mark.skipif(bool(POSTGRES_MISSING), reason=POSTGRES_MISSING or "")
def test_postgres_marts_equal_the_truth_before_and_after_an_incremental_run(
    project, sandbox, postgres_server
):
    database = postgres_server.create_database("audience_dbt")
    schema = loader_config("target-postgres")["default_target_schema"]
    marts = hourly_keys_as_text(postgres_marts(database, schema))
    partial = hour_of(sandbox.now)

    def env() -> dict[str, str]:
        return {**tap_env(sandbox), **database.target_env(), **database.dbt_env()}

    project.meltano("run", "tap-audience", "target-postgres", "dbt-postgres:build", env=env())
    before = assert_marts_equal_truth(marts, sandbox)

    sandbox.advance(LATER)
    project.meltano("run", "tap-audience", "target-postgres", "dbt-postgres:build", env=env())
    after = assert_marts_equal_truth(marts, sandbox)
    assert_revised(before, after, partial)


@pytest.mark.skipif(bool(POSTGRES_MISSING), reason=POSTGRES_MISSING or "")
def test_postgres_marts_keep_the_latest_of_every_version_an_appending_load_holds(
    tmp_path, sandbox, postgres_server
):
    """Stream maps without key properties make target-postgres append: after the second run the
    tables hold the lookback's rows twice (the partial hour, ATOM's revised days); the staging
    models keep the latest extraction of each, so the marts equal the truth."""
    project = MeltanoProject(tmp_path / "project")
    project.configure_tap(
        stream_maps={stream: {"__key_properties__": []} for stream in sorted(STREAMS)}
    )
    database = postgres_server.create_database("audience_appended")
    schema = loader_config("target-postgres")["default_target_schema"]
    marts = hourly_keys_as_text(postgres_marts(database, schema))

    def env() -> dict[str, str]:
        return {**tap_env(sandbox), **database.target_env(), **database.dbt_env()}

    project.meltano("run", "tap-audience", "target-postgres", "dbt-postgres:build", env=env())
    sandbox.advance(LATER)
    project.meltano("run", "tap-audience", "target-postgres", "dbt-postgres:build", env=env())

    rows, buckets = database.query(
        "SELECT json_build_array(count(*), count(DISTINCT (client_id, bucket_start))) "
        f'FROM "{schema}".angus_entities'
    )
    assert rows > buckets  # appended: the lookback's buckets are there twice
    assert_marts_equal_truth(marts, sandbox)


def test_a_missing_postgres_connection_setting_is_named(tmp_path):
    """Without the dbt-postgres user (and password), dbt stops at once naming the variable that
    `meltano config set dbt-postgres user ...` fills, before it connects anywhere."""
    project = MeltanoProject(tmp_path / "project")
    result = project.meltano("invoke", "dbt-postgres:build", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Env var required but not provided: 'DBT_POSTGRES_USER'" in output, output[-2000:]
    assert "Traceback" not in output
