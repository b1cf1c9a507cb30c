#!/usr/bin/env bash
# Two `loupe serve` settings side by side under the upload load of service_load.sh: concurrency 8, a
# 1000×1000 JPEG with distinct bytes per upload, runs alternated so that both see the same hours of a
# shared VM. Prints each run's drafts/s, p50 and p99, the served batches' sizes and drafting times (from
# the service log), then the medians per setting.
# Usage: benchmarks/service_ab.sh "SERVE ARGS A" "SERVE ARGS B" [rounds, default 3] [seconds, default 15]
# e.g.   benchmarks/service_ab.sh "--length-penalty 0.7" "--length-penalty 0"
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,7p "$0" >&2; exit 2; }
a=$1 b=$2 rounds=${3:-3} seconds=${4:-15}
port=8091
source benchmarks/service_setup.sh
service_setup loupe_ab .cache/bench-ab

server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT
for round in $(seq "$rounds"); do
  for setting in A B; do
    [ $setting = A ] && args=$a || args=$b
    log=$work/serve-$setting-$round.log
    # shellcheck disable=SC2086  # the settings are word-split into flags on purpose
    LOUPE_OBJECTS=$work/objects $loupe serve --port $port --database-url "$bench_url" --model-poll 60 $args > "$log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.2; done
    curl -sf localhost:$port/readyz >/dev/null || { cat "$log"; exit 1; }
    result=$(wrk -t 2 -c 8 -d "${seconds}s" --timeout 10s -s benchmarks/upload.lua "http://127.0.0.1:$port" | grep '^RESULT')
    kill $server; wait $server || true; server=
    echo "$setting round $round ($args): ${result#RESULT }"
    /usr/bin/python3 - "$log" <<'PY'
import re, sys, collections
sizes, times = collections.Counter(), []
for line in open(sys.argv[1]):
    m = re.search(r"batch=(\d+) .*?inference_ms=(\d+)", line)
    if m:
        sizes[int(m.group(1))] += 1
        times.append(int(m.group(2)))
times.sort()  # per upload: the drafting time of the batch it was in
q = lambda p: times[min(len(times) - 1, int(p * len(times)))] if times else 0
print(f"  uploads by batch size {dict(sorted(sizes.items()))}; their batch's drafting ms p50 {q(0.5)} p90 {q(0.9)} max {q(1.0)}")
PY
  done
done | tee "$work/runs.txt"
/usr/bin/python3 - "$work/runs.txt" <<'PY'
import re, sys, statistics
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(A|B) round \d+ \((.*)\): .*rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+)", line)
    if m:
        runs.setdefault((m.group(1), m.group(2)), []).append(tuple(float(m.group(i)) for i in (3, 4, 5)))
for (setting, args), rows in runs.items():
    rps, p50, p99 = (statistics.median(c) for c in zip(*rows))
    print(f"{setting} ({args}): median of {len(rows)} runs {rps:.1f} drafts/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
PY
