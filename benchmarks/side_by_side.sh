#!/usr/bin/env bash
# Runs a `loupe bench` subcommand and its Python PyTorch 1.13 twin on the same machine and thread count,
# alternating, and prints images/s for both with the ratio Swift / Python.
# Usage: benchmarks/side_by_side.sh SUBCOMMAND PYTHON_SCRIPT TITLE [rounds] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
subcommand=$1 script=$2 title=$3
rounds=${4:-3}
steps=${5:-20}
threads=${LOUPE_THREADS:-$(nproc)}
loupe=.build/release/loupe
[ -x "$loupe" ] || swift build -c release --product loupe >/dev/null
source benchmarks/blas_env.sh

results=()
for round in $(seq "$rounds"); do
    s=$("$loupe" bench "$subcommand" --threads "$threads" --steps "$steps")
    p=$(/usr/bin/python3 "$script" --threads "$threads" --steps "$steps")
    echo "round $round  swift: $s"
    echo "round $round  python: $p"
    results+=("$s" "$p")
done

printf '%s\n' "${results[@]}" | /usr/bin/python3 benchmarks/summarize.py "$title"
