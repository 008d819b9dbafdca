#!/usr/bin/env bash
# The demo: set up, sync every stream from the built-in sandbox into DuckDB through Meltano,
# then print a few rows per table. It runs in the `sandbox` environment, whose loaders write
# their own outputs (output/sandbox.duckdb, schema `sandbox`), never the production ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
rm -f output/sandbox.duckdb
mkdir -p output  # target-duckdb does not create the folder
# Named, not left to the default: an exported MELTANO_ENVIRONMENT=prod must not steer the demo.
.venv-meltano/bin/meltano --environment sandbox run tap-audience target-duckdb
.venv/bin/python scripts/show_duckdb.py output/sandbox.duckdb
