# Sourced by service_load.sh and service_ab.sh: a fresh database on the private cluster with one artisan,
# and the 1000×1000 JPEG the uploads send. Call `service_setup DATABASE WORKDIR`; it sets loupe,
# admin_url, bench_url, work, token and exports LOUPE_BENCH_PHOTO and LOUPE_BENCH_TOKEN for upload.lua.
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
