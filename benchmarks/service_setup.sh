# Sourced by service_load.sh and service_ab.sh: a fresh database on the private cluster with one artisan,
# and the 1000×1000 JPEG the uploads send. Call `service_setup DATABASE WORKDIR`; it sets loupe,
# admin_url, bench_url, work, token and exports LOUPE_BENCH_PHOTO and LOUPE_BENCH_TOKEN for upload.lua.
# Then `start_server` and `upload_run` (below) serve and load it.
service_setup() {
    local database=$1
    loupe=.build/release/loupe
    admin_url=$(scripts/postgres.sh url)
    bench_url=${admin_url%/*}/$database
    work=$2
    rm -rf "$work" && mkdir -p "$work"
    command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps.sh" >&2; exit 1; }
    [ -f .cache/models/captioner/default.pt ] || { echo "no default model: make captioner" >&2; exit 1; }
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
    $loupe migrate --database-url "$bench_url" >/dev/null 2>&1
    token=$($loupe users add bench-artisan --role artisan --quiet --database-url "$bench_url")
    /usr/bin/python3 - "$work/photo.jpg" <<'PY'
import sys
from PIL import Image
Image.open("Fixtures/catalogue/images/fx-2026-000001.jpg").convert("RGB").resize((1000, 1000), Image.LANCZOS).save(sys.argv[1], quality=90)
PY
    export LOUPE_BENCH_PHOTO=$work/photo.jpg LOUPE_BENCH_TOKEN=$token
}

# `start_server PORT LOG [SERVE ARGS…]`: `loupe serve` on the bench database and object store, in the
# background (its pid in $server), returning once /readyz answers; if it never does, prints the log
# and exits.
start_server() {
    local port=$1 log=$2
    shift 2
    LOUPE_OBJECTS=$work/objects $loupe serve --port "$port" --database-url "$bench_url" --model-poll 60 "$@" > "$log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -sf "localhost:$port/readyz" >/dev/null && break; sleep 0.2; done
    curl -sf "localhost:$port/readyz" >/dev/null || { cat "$log"; exit 1; }
}

# `stop_server`: SIGTERM to that server, which finishes its requests and stops; fails, after killing it,
# if it is still running 30 s later (as it did before the connection guard, when an upload whose
# connection PostgreSQL closed between two statements waited forever: README, Service).
stop_server() {
    kill -TERM "$server"
    for _ in $(seq 60); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
    local stuck=0
    if kill -0 "$server" 2>/dev/null; then stuck=1; kill -9 "$server"; fi
    wait "$server" 2>/dev/null || true
    server=
    return $stuck
}

# `upload_run PORT THREADS CONNECTIONS SECONDS`: a wrk run of upload.lua; prints its RESULT line.
upload_run() {
    wrk -t "$2" -c "$3" -d "${4}s" --timeout 10s -s benchmarks/upload.lua "http://127.0.0.1:$1" | grep '^RESULT'
}
