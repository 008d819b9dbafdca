#!/usr/bin/env bash
# Creates the two virtualenvs the project uses, on a machine with only python3 and pip:
#   .venv          the tap, its dev tools and test dependencies (Dagster included, for
#                  orchestration/dagster/ and its test)
#   .venv-meltano  Meltano itself (kept apart: its dependencies are not the tap's)
#   .venv-pyairbyte PyAirbyte, which runs the connector's Airbyte face in tests/test_pyairbyte.py
#                  (kept apart: it pins its own duckdb; about 800 MB, installed once)
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,dagster]'

if [ ! -x .venv-meltano/bin/meltano ]; then
  "$PYTHON" -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check 'meltano==4.4.1'
fi

PYAIRBYTE_VERSION=0.71.3
if ! .venv-pyairbyte/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('airbyte') != '$PYAIRBYTE_VERSION')" 2>/dev/null; then
  "$PYTHON" -m venv .venv-pyairbyte
  .venv-pyairbyte/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-pyairbyte/bin/python -m pip install --quiet --disable-pip-version-check "airbyte==$PYAIRBYTE_VERSION"
fi
