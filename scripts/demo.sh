#!/usr/bin/env bash
# The demo: set up, sync every stream from the built-in sandbox into DuckDB through Meltano,
# build and test the dbt marts (transform/) beside the loaded tables, then print a few rows of
# every loaded table and every mart. It runs in the `sandbox` environment, whose loaders write
# their own outputs (output/sandbox.duckdb, schema `tap_audience_sandbox`, the marts in
# `tap_audience_sandbox_marts`), never the production ones.
# Run it again and it shows the same tables: each run starts from scratch (below).
set -euo pipefail
cd "$(dirname "$0")/.."
# DEMO_SKIP_BOOTSTRAP=1 skips the pip checks when the venvs are known to exist
# (tests/test_demo_twice.py runs the demo this way).
if [ "${DEMO_SKIP_BOOTSTRAP:-}" != 1 ]; then
  bash scripts/bootstrap.sh
fi
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
rm -f output/sandbox.duckdb
mkdir -p output  # target-duckdb does not create the folder
# Named, not left to the default: an exported MELTANO_ENVIRONMENT=prod must not steer the demo.
# --full-refresh: the file was just deleted, so the run must not resume from the state the
# previous demo stored (it would load only the lookback: 9 Angus rows instead of ~2,000).
# Meltano still stores this run's state, which then matches the new file, so a later
# `meltano --environment sandbox run tap-audience target-duckdb` resumes on top of it. (Clearing
# the state instead, `meltano state clear --force sandbox:tap-audience-to-target-duckdb`, is a
# second Meltano start and spells out the state id.)
.venv-meltano/bin/meltano --environment sandbox run --full-refresh tap-audience target-duckdb dbt-duckdb:build
.venv/bin/python scripts/show_duckdb.py output/sandbox.duckdb
# Where the data is and what to try next (tests/test_demo_twice.py runs the commands printed).
# `meltano config` ignores default_environment, so the config check names the environment.
cat <<'NEXT'

Done. The data: output/sandbox.duckdb (loaded tables in schema tap_audience_sandbox, dbt marts in tap_audience_sandbox_marts).
Query it:
  .venv/bin/python scripts/show_duckdb.py output/sandbox.duckdb "select camera_id, day_utc, passing_by, interested, round(attention_rate, 3) as attention_rate from tap_audience_sandbox_marts.fct_audience_daily where is_complete_day order by day_utc desc, camera_id limit 5"
Check the sandbox's config (meltano config ignores the default environment: name it):
  .venv-meltano/bin/meltano --environment sandbox config test tap-audience
Next: README.md, section "Using real credentials": sync your own accounts.
NEXT
