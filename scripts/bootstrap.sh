#!/usr/bin/env bash
# Creates the virtualenvs the project uses, on a machine with only python3 and pip:
#   .venv          the tap, its dev tools and test dependencies
#   .venv-meltano  Meltano itself with its PostgreSQL driver (kept apart: its dependencies are
#                  not the tap's)
# With --test-tools (scripts/test.sh passes it), also what only the test suite needs:
#   Dagster in .venv (the `dagster` group, for orchestration/dagster/ and its test),
#   .venv-pyairbyte PyAirbyte, which runs the connector's Airbyte face in tests/test_pyairbyte.py
#                  (kept apart: it pins its own duckdb; about 800 MB, installed once), and
#   .venv-airbyte-cdk  the Airbyte CDK (airbyte-cdk, with the pytest 7 its test suites need),
#                  whose standard connector tests tests/test_airbyte_cdk_standard.py runs
#                  against `source-audience` (kept apart: its pins are not the tap's; about
#                  340 MB, installed once)
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TEST_TOOLS=0
for arg in "$@"; do
  case "$arg" in
    --test-tools) TEST_TOOLS=1 ;;
    *) echo "bootstrap.sh: unknown argument $arg (the only one is --test-tools)" >&2; exit 2 ;;
  esac
done

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
EXTRAS=dev
if [ "$TEST_TOOLS" = 1 ]; then
  EXTRAS=dev,dagster
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"

# With the `postgres` extra (psycopg), as deploy/kubernetes/Dockerfile installs it: the pods keep
# Meltano's system database in PostgreSQL, and tests/test_kubernetes_state.py runs them so.
# Checked apart from the venv, so a .venv-meltano made before the extra gets it.
if [ ! -x .venv-meltano/bin/python ]; then
  "$PYTHON" -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
if ! .venv-meltano/bin/python -c "import importlib.metadata as m, sys, psycopg; sys.exit(m.version('meltano') != '4.4.1')" 2>/dev/null; then
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check 'meltano[postgres]==4.4.1'
fi

PYAIRBYTE_VERSION=0.71.3
if [ "$TEST_TOOLS" = 1 ] && ! .venv-pyairbyte/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('airbyte') != '$PYAIRBYTE_VERSION')" 2>/dev/null; then
  "$PYTHON" -m venv .venv-pyairbyte
  .venv-pyairbyte/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-pyairbyte/bin/python -m pip install --quiet --disable-pip-version-check "airbyte==$PYAIRBYTE_VERSION"
fi

# The `dev` extra is the pytest the CDK's test suites are written for (pytest 7).
AIRBYTE_CDK_VERSION=7.39.1
if [ "$TEST_TOOLS" = 1 ] && ! .venv-airbyte-cdk/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('airbyte-cdk') != '$AIRBYTE_CDK_VERSION' or not m.version('pytest'))" 2>/dev/null; then
  "$PYTHON" -m venv .venv-airbyte-cdk
  .venv-airbyte-cdk/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-airbyte-cdk/bin/python -m pip install --quiet --disable-pip-version-check "airbyte-cdk[dev]==$AIRBYTE_CDK_VERSION"
fi
