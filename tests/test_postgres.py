"""End to end into a real PostgreSQL: `meltano run tap-audience target-postgres`, twice.

The server is the session's throwaway one (tests/postgres_server.py); this module loads into its
own database, `audience`. Tables are read back with the `psql` client as JSON, so the test needs
no Python driver, from the schema the `sandbox` environment loads (`audience_sandbox`); the
production schema (`audience`) must stay empty.

How the runs are set up: tests/meltano_project.py.
"""

from __future__ import annotations

import datetime as dt
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
from tests.postgres_server import POSTGRES_MISSING, Postgres

pytestmark = pytest.mark.slow  # Meltano, targets, databases: see pyproject markers

if not MELTANO_BIN.exists():
    pytest.skip(MELTANO_MISSING, allow_module_level=True)
if POSTGRES_MISSING:
    pytest.skip(POSTGRES_MISSING, allow_module_level=True)

# Where the sandbox environment loads, and the production schema it must leave alone (one
# database, so both are visible to the test).
SCHEMA = loader_config("target-postgres")["default_target_schema"]
PRODUCTION_SCHEMA = loader_config("target-postgres", PRODUCTION)["default_target_schema"]
STATE_ID = f"{ENVIRONMENT}:tap-audience-to-target-postgres"


@pytest.fixture(scope="module")
def postgres(postgres_server: Postgres) -> Postgres:
    return postgres_server.create_database("audience")


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
    return [
        {
            column: from_json(value, types[column])
            for column, value in row.items()
            if not column.startswith("_sdc_")
        }
        for row in server.rows(SCHEMA, stream)
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
