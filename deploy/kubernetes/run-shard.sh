#!/bin/sh
# One shard of tap-audience through Meltano, as a pod of an Indexed Job runs it.
#
#   TAP_AUDIENCE_SHARD_COUNT   the number of shards (the Job's completions); required
#   JOB_COMPLETION_INDEX       set by Kubernetes in each pod: the shard (the tap reads it
#                              when TAP_AUDIENCE_SHARD_INDEX is not set)
#   LOADER                     the Meltano loader (default target-postgres)
#   TAP_AUDIENCE_RUN_SUMMARY_PATH  where the run summary goes (default: the log volume)
#
# Each shard keeps its own state id (<environment>:tap-audience-to-<loader>:shard-N). The
# run summary is also printed as one line at the end, so the pod's log (which the platform
# keeps) has it. SIGTERM (a pod being stopped) is passed on to Meltano.
set -eu
: "${TAP_AUDIENCE_SHARD_COUNT:?set TAP_AUDIENCE_SHARD_COUNT to the number of shards}"
index="${TAP_AUDIENCE_SHARD_INDEX:-${JOB_COMPLETION_INDEX:-}}"
if [ -z "$index" ]; then
  echo "run-shard: neither JOB_COMPLETION_INDEX (an Indexed Job sets it) nor TAP_AUDIENCE_SHARD_INDEX is set" >&2
  exit 2
fi
export MELTANO_RUN_STATE_ID_SUFFIX="shard-${index}"
export TAP_AUDIENCE_RUN_SUMMARY_PATH="${TAP_AUDIENCE_RUN_SUMMARY_PATH:-/var/log/tap-audience/summary-shard-${index}.json}"

meltano run tap-audience "${LOADER:-target-postgres}" &
child=$!
# As PID 1 the shell would ignore SIGTERM: pass it on, then wait for Meltano to finish.
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
set +e
wait "$child"
code=$?
if [ "$code" -gt 128 ] && kill -0 "$child" 2>/dev/null; then
  wait "$child"  # the trap ran: this is Meltano's own exit status
  code=$?
fi
set -e
if [ -f "$TAP_AUDIENCE_RUN_SUMMARY_PATH" ]; then
  printf 'tap-audience run summary: %s\n' "$(tr -d '\n' < "$TAP_AUDIENCE_RUN_SUMMARY_PATH")"
fi
exit "$code"
