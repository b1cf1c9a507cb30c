#!/usr/bin/env bash
# One CNN training step (batch 32, 3x96x96, Adam) in Swift (libtorch through Loupe's shim) and in
# Python PyTorch 1.13, on the same machine and thread count, alternating runs; prints images/s for
# both and the ratio Swift / Python. Usage: benchmarks/train_step.sh [rounds] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-20}
threads=${LOUPE_THREADS:-$(nproc)}
loupe=.build/release/loupe
[ -x "$loupe" ] || swift build -c release --product loupe >/dev/null

swift_rates=()
python_rates=()
for round in $(seq "$rounds"); do
    s=$("$loupe" bench train-step --threads "$threads" --steps "$steps")
    p=$(/usr/bin/python3 benchmarks/train_step.py --threads "$threads" --steps "$steps")
    echo "round $round  swift: $s"
    echo "round $round  python: $p"
    swift_rates+=("$(echo "$s" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
    python_rates+=("$(echo "$p" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')")
done

/usr/bin/python3 - "$threads" "${swift_rates[*]}" "${python_rates[*]}" <<'PY'
import statistics, sys
threads, s, p = sys.argv[1], [float(v) for v in sys.argv[2].split()], [float(v) for v in sys.argv[3].split()]
ms, mp = statistics.median(s), statistics.median(p)
print()
print(f"small CNN training step, batch 32, 3x96x96, Adam, {threads} threads (median of {len(s)} rounds)")
print(f"{'':10}{'images/s':>10}")
print(f"{'swift':10}{ms:10.1f}")
print(f"{'python':10}{mp:10.1f}")
print(f"ratio swift/python: {ms / mp:.3f}  (target >= 1.0)")
PY
