from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tap_audience.sandbox import Sandbox
from tests.postgres_server import Postgres, running_postgres

# Airbyte's standard tests: a pytest project of its own, run in .venv-airbyte-cdk by
# tests/test_airbyte_cdk_standard.py (this virtualenv has no airbyte-cdk).
collect_ignore = ["airbyte_cdk_standard"]

# A fixed data clock in the middle of an hour, so the newest bucket is partial.
NOW = dt.datetime(2026, 11, 20, 10, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7, now=NOW) as running:
        yield running
    assert not running.errors, running.errors


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One throwaway PostgreSQL server for the session; each module creates its own database."""
    with running_postgres() as server:
        yield server
