#!/usr/bin/env bash
# The issue-7 options table: the seed DCGAN and each option beyond it, trained for the same number of
# Fashion-MNIST epochs from the same seed, every run tracking an EMA of its generator, so that each
# row yields the live generator's FID and the EMA's. FID on N generated vs N test images (N = FID,
# default 1000; the table is for comparing options at equal cost, 10,000 samples is `loupe eval gan`).
#   benchmarks/gan_options.sh [epochs] [fid-samples]    (LOUPE=path/to/loupe, OUT=.cache/gan-options)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-3}
FID=${2:-1000}
LOUPE=${LOUPE:-.build/release/loupe}
OUT=${OUT:-.cache/gan-options}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
[ -x "$LOUPE" ] || swift build -c release --product loupe
declare -A ARGS=(
  [seed]=""
  [hinge-sn]="--loss hinge --spectral-norm"
  [conditional]="--condition class"
  [conditional-hinge-sn]="--condition class --loss hinge --spectral-norm"
)
ORDER=${ORDER:-"seed hinge-sn conditional conditional-hinge-sn"}
for name in $ORDER; do
  run="$OUT/$name"
  if [ ! -f "$run/generator.pt" ]; then
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$LOUPE" train gan --data fashion-mnist --epochs "$EPOCHS" --ema 0.999 --fid-every 0 --threads "$THREADS" \
      --run "$run" --out "$run/generator.pt" ${ARGS[$name]} 2>&1 | tr '\r' '\n' | grep -v '%) ETA' > "$run.log" || { tail -5 "$run.log"; exit 1; }
    echo $(( $(date +%s) - start )) > "$run.seconds"
  fi
  cp "$run/generator.json" "$run/generator-last.json"
  for which in last ema; do
    model="$run/generator.pt"; [ "$which" = last ] && model="$run/generator-last.pt"
    [ -f "$run/fid-$which.json" ] || "$LOUPE" eval gan --model "$model" --samples "$FID" --threads "$THREADS" --json 2>/dev/null | tail -1 > "$run/fid-$which.json"
  done
done
printf "| run | epochs | train s | FID live | FID EMA 0.999 | classes covered (entropy), EMA |\n|---|---|---|---|---|---|\n"
for name in $ORDER; do
  run="$OUT/$name"
  modes=$(python3 -c "import json; m = json.load(open('$run/state.json'))['history'][-1]['modes']; print('%d (%.2f)' % (m['distinctModes'], m['entropy']))")
  printf "| %s | %s | %s | %s | %s | %s |\n" "$name" "$EPOCHS" "$(cat "$run.seconds")" \
    "$(python3 -c "import json;print('%.1f'%json.load(open('$run/fid-last.json'))['fid'])")" \
    "$(python3 -c "import json;print('%.1f'%json.load(open('$run/fid-ema.json'))['fid'])")" "$modes"
done
