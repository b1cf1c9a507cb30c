#!/usr/bin/env bash
# PostgreSQL stopped under uploads, N times: does every upload end (201 or 503) and does `serve` stop on
# SIGTERM afterwards? Each trial: a fresh loupe_bench database, `serve`, wrk c=8 for 12 s, PostgreSQL
# stopped 4 s in and started 3 s later, SIGTERM 3 s after wrk. Prints wrk's result, how many uploads the
# connection guard failed (DatabaseConnectionLost: each would have waited forever without it) and
# whether the service stopped; exits non-zero if any trial left it running. README, Service, Load.
#   benchmarks/restart_trials.sh [TRIALS=6]
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-6}
source benchmarks/service_setup.sh
hung=0
for t in $(seq "$trials"); do
  service_setup loupe_bench "${TMPDIR:-/tmp}/loupe-restart-trials"
  log=$work/serve.log
  start_server 8094 "$log"
  (sleep 4; scripts/postgres.sh stop >/dev/null; sleep 3; scripts/postgres.sh start >/dev/null) &
  restarter=$!
  result=$(upload_run 8094 2 8 12)
  wait $restarter
  sleep 3
  lost=$(grep -c "closed during the operation" "$log" || true)
  if stop_server; then stopped=stopped; else stopped="STILL RUNNING 30 s after SIGTERM (killed)"; hung=$((hung + 1)); fi
  echo "trial $t: ${result#RESULT } guard_failed=$lost shutdown: $stopped"
done
echo "trials $trials, left running $hung"
[ "$hung" -eq 0 ]
