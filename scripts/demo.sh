#!/usr/bin/env bash
# The demo: set up, sync every stream from the built-in sandbox into DuckDB through Meltano,
# then print a few rows per table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
rm -f output/audience.duckdb
mkdir -p output
.venv-meltano/bin/meltano run tap-audience target-duckdb
.venv/bin/python scripts/show_duckdb.py output/audience.duckdb
