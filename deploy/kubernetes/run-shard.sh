#!/bin/sh
# One shard of tap-audience through Meltano, as a pod of an Indexed Job runs it.
#
#   TAP_AUDIENCE_SHARD_COUNT   the number of shards (the Job's completions); required
#   JOB_COMPLETION_INDEX       set by Kubernetes in each pod: the shard (unless
#                              TAP_AUDIENCE_SHARD_INDEX is set)
#   LOADER                     the Meltano loader (default target-postgres)
#   TRANSFORM                  a command to run after the load, e.g. dbt-postgres:build
#                              (default: none)
#   TAP_AUDIENCE_RUN_SUMMARY_PATH  where the summary goes (default: the log volume)
#
# orchestration/pipeline.py runs the shard: `meltano el tap-audience $LOADER` with the shard's
# own state id (<environment>:tap-audience-to-<loader>:shard-N) in a Meltano run directory of
# its own, then TRANSFORM, and writes one summary: the tap's numbers, each step's status, the
# pipeline's status. Its exit status is the pipeline's: a loader or dbt that fails fails the
# pod, even when the tap itself succeeded. The summary is also printed as one line at the end,
# so the pod's log (which the platform keeps) has it. SIGTERM (a pod being stopped) is passed
# on, and from there to Meltano.
#
# `--force`: Meltano refuses to start a state id whose last job it still believes running; a
# pod killed outright (out of memory) leaves its job so for 5 minutes, and the Job's retry of
# that index would be refused. The Indexed Job already runs one pod per index at a time.
set -eu
: "${TAP_AUDIENCE_SHARD_COUNT:?set TAP_AUDIENCE_SHARD_COUNT to the number of shards}"
index="${TAP_AUDIENCE_SHARD_INDEX:-${JOB_COMPLETION_INDEX:-}}"
if [ -z "$index" ]; then
  echo "run-shard: neither JOB_COMPLETION_INDEX (an Indexed Job sets it) nor TAP_AUDIENCE_SHARD_INDEX is set" >&2
  exit 2
fi
export TAP_AUDIENCE_RUN_SUMMARY_PATH="${TAP_AUDIENCE_RUN_SUMMARY_PATH:-/var/log/tap-audience/summary-shard-${index}.json}"
runner="$(dirname "$0")/../../orchestration/pipeline.py"

python3 "$runner" --loader "${LOADER:-target-postgres}" ${TRANSFORM:+--transform "$TRANSFORM"} \
  --shard-count "$TAP_AUDIENCE_SHARD_COUNT" --shard-index "$index" \
  --summary "$TAP_AUDIENCE_RUN_SUMMARY_PATH" --force &
child=$!
# As PID 1 the shell would ignore SIGTERM: pass it on, then wait for the runner to finish.
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
set +e
wait "$child"
code=$?
if [ "$code" -gt 128 ] && kill -0 "$child" 2>/dev/null; then
  wait "$child"  # the trap ran: this is the runner's own exit status
  code=$?
fi
set -e
if [ -f "$TAP_AUDIENCE_RUN_SUMMARY_PATH" ]; then
  printf 'tap-audience run summary: %s\n' "$(tr -d '\n' < "$TAP_AUDIENCE_RUN_SUMMARY_PATH")"
fi
exit "$code"
