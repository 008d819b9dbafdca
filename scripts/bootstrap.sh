#!/usr/bin/env bash
# Creates the two virtualenvs the project uses, on a machine with only python3 and pip:
#   .venv          the tap, its dev tools and test dependencies
#   .venv-meltano  Meltano itself (kept apart: its dependencies are not the tap's)
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

if [ ! -x .venv-meltano/bin/meltano ]; then
  "$PYTHON" -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-meltano/bin/python -m pip install --quiet --disable-pip-version-check 'meltano==4.4.1'
fi
