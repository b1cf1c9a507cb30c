#!/usr/bin/env bash
# Two `loupe serve` settings side by side under the upload load of service_load.sh: concurrency 8, a
# 1000×1000 JPEG with distinct bytes per upload, runs alternated so that both see the same hours of a
# shared VM. Prints each run's drafts/s, p50 and p99, then from the service log the batch sizes and
# where the uploads' time went (read, queue for the batch, the batch's inference, store, and their sum:
# the server's share of wrk's latency), then the medians per setting.
# Usage: benchmarks/service_ab.sh "SERVE ARGS A" "SERVE ARGS B" [rounds, default 3] [seconds, default 15]
# e.g.   benchmarks/service_ab.sh "--length-penalty 0.7" "--length-penalty 0"
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,8p "$0" >&2; exit 2; }
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
    start_server $port "$log" $args
    result=$(upload_run $port 2 8 "$seconds")
    stop_server || echo "  the server was still running 30 s after SIGTERM; killed"
    echo "$setting round $round ($args): ${result#RESULT }"
    /usr/bin/python3 - "$log" <<'PY'
import re, sys, collections
sizes, phases = collections.Counter(), collections.defaultdict(list)
for line in open(sys.argv[1]):
    if "draft created" not in line:
        continue
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    sizes[int(fields["batch"])] += 1
    times = {k: int(fields[k + "_ms"]) for k in ("auth", "read", "queue", "inference", "store") if k + "_ms" in fields}
    for k, v in times.items():
        phases[k].append(v)
    phases["server"].append(sum(times.values()))
def q(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else 0
print(f"  uploads by batch size {dict(sorted(sizes.items()))}; ms p50/p99 per upload: "
      + ", ".join(f"{k} {q(v, 0.5)}/{q(v, 0.99)}" for k, v in phases.items()))
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
