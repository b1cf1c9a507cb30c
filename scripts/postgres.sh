#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for development and tests, inside the checkout (.cache/postgres).
#   scripts/postgres.sh start   initialise on first use, start if not running, create the databases
#   scripts/postgres.sh stop
#   scripts/postgres.sh url     print the DATABASE_URL to use
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
# Settings: LOUPE_PG_DIR (data directory), LOUPE_PG_PORT (default 54329). Loopback only, trust auth:
# this cluster is for one developer's machine and CI, never for production.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=/usr/lib/postgresql/15/bin
dir=${LOUPE_PG_DIR:-$PWD/.cache/postgres}
# As root the server runs as `postgres`, which must be able to reach the data directory; a checkout under
# a private directory (a 0700 home) is not reachable, so the cluster then lives under /tmp instead.
if [ -z "${LOUPE_PG_DIR:-}" ] && [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
    dir=/tmp/loupe-postgres-$(echo "$PWD" | md5sum | cut -c1-12)
fi
port=${LOUPE_PG_PORT:-54329}
data=$dir/data
log=$dir/server.log
url="postgres://loupe@127.0.0.1:$port/loupe"

as_owner() {
    # From / so that the postgres user never inherits an unreachable working directory.
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start() {
    [ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL 15 is not installed (make deps)" >&2; exit 1; }
    mkdir -p "$dir"
    chmod 755 "$(dirname "$dir")" "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bin/initdb" --pgdata="$data" --username=loupe --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = ''   # TCP on loopback only: no socket path-length limit"
            echo "max_connections = 200"
            echo "fsync = on"
        } | as_owner tee -a "$data/postgresql.conf" >/dev/null
        echo "postgres.sh: initialised $data"
    fi
    if ! as_owner "$bin/pg_ctl" status --pgdata="$data" >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" start --pgdata="$data" --log="$log" --wait --timeout=60 >/dev/null
        echo "postgres.sh: started on 127.0.0.1:$port"
    fi
    for db in loupe loupe_test; do
        if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U loupe -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
            "$bin/createdb" -h 127.0.0.1 -p "$port" -U loupe "$db"
        fi
    done
}

case "${1:-start}" in
    start) start ;;
    stop) as_owner "$bin/pg_ctl" stop --pgdata="$data" --mode=fast ;;
    url) echo "$url" ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
