#!/usr/bin/env bash
# One captioner training step (decoder + attribute heads on cached 7x7x1280 features, batch 32, 72 tokens, AdamW) in Swift (libtorch through Loupe's shim) and in
# Python PyTorch 1.13, on the same machine and thread count, alternating runs; prints images/s for
# both and the ratio Swift / Python. Usage: benchmarks/captioner_step.sh [rounds] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-20}
threads=${LOUPE_THREADS:-$(nproc)}
loupe=.build/release/loupe
[ -x "$loupe" ] || swift build -c release --product loupe >/dev/null

results=()
for round in $(seq "$rounds"); do
    s=$("$loupe" bench captioner-step --threads "$threads" --steps "$steps")
    p=$(/usr/bin/python3 benchmarks/captioner_step.py --threads "$threads" --steps "$steps")
    echo "round $round  swift: $s"
    echo "round $round  python: $p"
    results+=("$s" "$p")
done

printf '%s\n' "${results[@]}" | /usr/bin/python3 benchmarks/summarize.py "captioner training step on cached features, batch 32, 72 tokens, AdamW"
