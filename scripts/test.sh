#!/usr/bin/env bash
# The test command: set up (scripts/bootstrap.sh), lint, type-check, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test-tools  # the demo's venvs plus PyAirbyte, the Airbyte CDK and Dagster
bash scripts/install_postgres.sh  # a PostgreSQL server for tests/test_postgres.py, if missing
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
export MELTANO_BIN="$PWD/.venv-meltano/bin/meltano"
.venv/bin/python -m pytest "$@"
