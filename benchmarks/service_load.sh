#!/usr/bin/env bash
# Load on the listing service over loopback with wrk: drafts/s and p50/p99 for uploads of a 1000×1000
# JPEG at concurrency 1, 8 and 32, read requests/s, then a PostgreSQL restart in the middle of an
# upload run: every request either succeeds or fails cleanly (503 JSON), and every 201 has its row.
# Uses a separate database (loupe_bench) on the private cluster and the default captioner model.
# Usage: benchmarks/service_load.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
port=8090
source benchmarks/service_setup.sh
service_setup loupe_bench .cache/bench-service

server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT
start_server $port "$work/serve.log"

run() { upload_run $port "$1" "$2" "$3" | sed "s/^RESULT/$4/"; }
echo "photo: 1000x1000 JPEG ($(stat -c %s "$work/photo.jpg") bytes), $(nproc) cores, beam 3"
run 1 1 "$seconds" "upload c=1 "
run 2 8 "$seconds" "upload c=8 "
run 2 32 "$seconds" "upload c=32"
id=$(psql "$bench_url" -Atc "SELECT max(id) FROM drafts")
LOUPE_BENCH_PATH=/v1/drafts/$id run 2 8 "$seconds" "read c=8   "
LOUPE_BENCH_PATH=/v1/listings run 2 8 "$seconds" "listings c=8"

# PostgreSQL restarts 5 s into a 20 s upload run. Every 201 must name a draft that exists with its
# photos; the only other new rows may be those of the (at most 8) uploads still in flight when wrk
# stopped, which the service finishes after wrk has gone; and no draft is ever without its photos.
before=$(psql "$bench_url" -Atc "SELECT coalesce(max(id), 0) FROM drafts")
(sleep 5; scripts/postgres.sh stop >/dev/null; sleep 2; scripts/postgres.sh start >/dev/null) &
restarter=$!
restart=$(LOUPE_BENCH_IDS=$work/created.txt run 2 8 20 "restart c=8")
wait $restarter
sleep 3  # the abandoned in-flight uploads finish
echo "$restart"
created=$(grep -c . "$work/created.txt" || true)
answered=$(grep -o '201=[0-9]*' <<<"$restart" | cut -d= -f2)
ids="{$(paste -sd, "$work/created.txt")}"
missing=$(psql "$bench_url" -Atc "SELECT count(*) FROM unnest('$ids'::bigint[]) AS c(id) WHERE NOT EXISTS (SELECT 1 FROM drafts d JOIN draft_images i ON i.draft_id = d.id WHERE d.id = c.id)")
extra=$(psql "$bench_url" -Atc "SELECT count(*) FROM drafts WHERE id > $before AND id <> ALL('$ids'::bigint[])")
orphans=$(psql "$bench_url" -Atc "SELECT count(*) FROM drafts d WHERE NOT EXISTS (SELECT 1 FROM draft_images i WHERE i.draft_id = d.id)")
echo "restart: 201 responses $created, their drafts missing $missing, other new drafts $extra (uploads in flight when wrk stopped), drafts without photos $orphans"
curl -s -o /dev/null -w "after restart: readyz %{http_code}\n" localhost:$port/readyz
# Every upload was its own photo (upload.lua makes each file different), so each was written to the
# object store rather than found there already. Objects beyond those are the photos of uploads whose
# transaction failed during the restart: unreferenced, for the object collector.
read -r images distinct < <(psql "$bench_url" -AtF' ' -c "SELECT count(*), count(DISTINCT object_key) FROM draft_images")
files=$(find "$work/objects/objects" -type f | wc -l)
echo "photos: $images draft images, $distinct distinct objects, $((files - distinct)) unreferenced objects in the store"
[ "$images" -eq "$distinct" ] && [ "$files" -ge "$distinct" ] || { echo "FAIL: uploads were not all distinct photos" >&2; exit 1; }
[ "$created" -gt 0 ] && [ "$created" -eq "${answered:-0}" ] && [ "$missing" -eq 0 ] && [ "$extra" -le 8 ] && [ "$orphans" -eq 0 ] || { echo "FAIL: rows and responses disagree" >&2; exit 1; }
# Graceful shutdown after the restart: SIGTERM must end the service once its requests are done.
if stop_server; then
  echo "shutdown: stopped after SIGTERM"
else
  echo "FAIL: shutdown: still running 30 s after SIGTERM (requests stuck in queries the restart cut off); killed" >&2
  exit 1
fi
