#!/usr/bin/env bash
# The issue-7 augmentation experiment: does adding generated images of a deliberately thinned category
# help the captioner on that category? Three captioners per seed, all frozen-encoder with the same
# settings: `full` (every training product), `thinned` (only the first KEEP products of CATEGORY),
# `oversampled` (thinned, each kept product of CATEGORY shown OVERSAMPLE times an epoch: the plain
# baseline) and `synthetic` (thinned, plus N images of CATEGORY drawn by the catalogue GAN, which was
# itself trained with the same --thin, so it has seen only the photos the thinned captioner sees; labels
# only: category and the metal each was drawn for). By default the last two restore the category to
# 90 examples an epoch (10 × 9, or 10 + 80), about its full 92. Each is evaluated on the test split, on CATEGORY's products and on
# all of them. Needs the dev database with the catalogue (make catalog) and a GAN from
#   loupe train gan --data catalogue --condition category,metal --thin CATEGORY=KEEP ...
#   benchmarks/thinned_category.sh [seeds]   (GAN=…, CATEGORY=bracelet, KEEP=10, N=80, OVERSAMPLE=9, EPOCHS=15, VIEWS=2,
#                                             LOUPE=path/to/loupe, OUT=.cache/thinned, DATABASE_URL=…)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-"0 1 2"}
CATEGORY=${CATEGORY:-bracelet}
KEEP=${KEEP:-10}
N=${N:-80}
OVERSAMPLE=${OVERSAMPLE:-9}
EPOCHS=${EPOCHS:-15}
VIEWS=${VIEWS:-2}
GAN=${GAN:-.cache/models/gan/catalogue-snhinge-thin.pt}
LOUPE=${LOUPE:-.build/release/loupe}
OUT=${OUT:-.cache/thinned}
DB=(--database-url "${DATABASE_URL:-$(scripts/postgres.sh url)}")
[ -x "$LOUPE" ] || swift build -c release --product loupe
[ -f "$GAN" ] || { echo "no generator at $GAN (train one with --thin $CATEGORY=$KEEP, see the header)" >&2; exit 1; }
mkdir -p "$OUT"
[ -f "$OUT/synthetic/samples.tsv" ] || "$LOUPE" gan sample --model "$GAN" --n "$N" --category "$CATEGORY" --out "$OUT/synthetic"
declare -A ARGS=(
  [full]=""
  [thinned]="--thin $CATEGORY=$KEEP"
  [oversampled]="--thin $CATEGORY=$KEEP --oversample $OVERSAMPLE"
  [synthetic]="--thin $CATEGORY=$KEEP --synthetic $OUT/synthetic"
)
for seed in $SEEDS; do
  for variant in full thinned oversampled synthetic; do
    name="$variant-$seed"
    if [ ! -f "$OUT/$name.pt" ]; then
      start=$(date +%s)
      # shellcheck disable=SC2086
      "$LOUPE" train captioner "${DB[@]}" --seed "$seed" --epochs "$EPOCHS" --views "$VIEWS" --no-register \
        --run "$OUT/$name" --out "$OUT/$name.pt" ${ARGS[$variant]} 2>&1 | tr '\r' '\n' | grep -v '%) ETA' > "$OUT/$name.log" \
        || { tail -5 "$OUT/$name.log"; exit 1; }
      echo $(( $(date +%s) - start )) > "$OUT/$name.seconds"
    fi
    [ -s "$OUT/$name.category.json" ] || "$LOUPE" eval captioner "${DB[@]}" --model "$OUT/$name.pt" --split test --category "$CATEGORY" --json \
      2>/dev/null > "$OUT/$name.category.json"
    [ -s "$OUT/$name.all.json" ] || "$LOUPE" eval captioner "${DB[@]}" --model "$OUT/$name.pt" --split test --json 2>/dev/null > "$OUT/$name.all.json"
  done
done
python3 - "$OUT" "$CATEGORY" "$SEEDS" <<'PY'
import json, statistics, sys
out, category, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split()
def report(name, part):
    return json.load(open(f"{out}/{name}.{part}.json"))["report"]
print(f"| variant | {category}: category acc | {category}: metal acc | {category}: BLEU-4 | all test: category acc | all test: BLEU-4 | train s |")
print("|---|---|---|---|---|---|---|")
for variant in ["full", "thinned", "oversampled", "synthetic"]:
    cells = []
    for part, key in [("category", ("accuracy", "category")), ("category", ("accuracy", "metal")), ("category", ("bleu4",)),
                      ("all", ("accuracy", "category")), ("all", ("bleu4",))]:
        values = []
        for s in seeds:
            r = report(f"{variant}-{s}", part)
            values.append(r[key[0]][key[1]] if len(key) == 2 else r["bleu"][3])
        n = report(f"{variant}-{seeds[0]}", part)["examples"]
        cells.append(f"{statistics.mean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "") + (f" (n {n})" if key == ("accuracy", "category") else ""))
    secs = statistics.mean(int(open(f"{out}/{variant}-{s}.seconds").read()) for s in seeds)
    print(f"| {variant} | " + " | ".join(cells) + f" | {secs:.0f} |")
PY
