#!/usr/bin/env bash
# The issue-8 report: every sentiment model on both corpora — MiniLM-L6 fine-tuned, the product model
# fine-tuned from the movie one, the product model on soft targets with the neutral-band sentences, the
# small transformer from scratch and NB-SVM — with test accuracy, F1, training seconds, inference ms per
# review in batches of 32 (by length, and in corpus order) and size, and beside each transformer the same
# encoder's time in Python (transformers over PyTorch 1.13).
#   benchmarks/sentiment.sh            (≈ 40 min on 2 cores; LOUPE=path/to/loupe, OUT=.cache/bench/sentiment)
#   SKIP_TRAIN=1 benchmarks/sentiment.sh   re-evaluates the models already in OUT
set -euo pipefail
cd "$(dirname "$0")/.."
LOUPE=${LOUPE:-.build/release/loupe}
OUT=${OUT:-.cache/bench/sentiment}
PY=${PY:-.cache/pyref-torch/bin/python}
mkdir -p "$OUT"
[ -x "$LOUPE" ] || swift build -c release --product loupe
source benchmarks/blas_env.sh

# name | corpus | arguments of `loupe train sentiment`
RUNS=(
  "minilm-movie|movie|--model minilm --epochs 3"
  "minilm-product|product|--model minilm --epochs 3"
  "minilm-product-from-movie|product|--model minilm --epochs 3 --lr 3e-5 --init-from $OUT/minilm-movie.pt"
  "minilm-product-soft-neutral|product|--model minilm --epochs 3 --soft-labels 1.5 --neutral"
  "scratch-movie|movie|--model scratch --epochs 8"
  "scratch-product|product|--model scratch --epochs 8"
  "nbsvm-movie|movie|--model nbsvm"
  "nbsvm-product|product|--model nbsvm"
)
for row in "${RUNS[@]}"; do
  IFS='|' read -r name corpus args <<< "$row"
  model="$OUT/$name.pt"; [[ $name == nbsvm-* ]] && model="$OUT/$name.nbsvm.json"
  if [ -z "${SKIP_TRAIN:-}" ] || [ ! -f "$model" ]; then
    rm -rf "$OUT/run-$name"
    echo "training $name" >&2
    # shellcheck disable=SC2086
    "$LOUPE" train sentiment --corpus "$corpus" $args --run "$OUT/run-$name" --out "$model" 2>&1 | tr '\r' '\n' | grep -v '%) ETA' > "$OUT/$name.train.log" \
      || { tail -5 "$OUT/$name.train.log"; exit 1; }
  fi
  "$LOUPE" eval sentiment --model "$model" --corpus "$corpus" --json --texts-out "$OUT/$corpus.test.txt" > "$OUT/$name.eval.json"
  if [[ $name != nbsvm-* ]]; then
    "$PY" benchmarks/sentiment_reference.py "${model%.pt}.json" "${model%.pt}.vocab.txt" "$OUT/$corpus.test.txt" 2>/dev/null | tail -1 > "$OUT/$name.reference.json"
  else
    rm -f "$OUT/$name.reference.json"
  fi
done

python3 - "$OUT" "${RUNS[@]}" <<'PY'
import json, os, re, sys
out, rows = sys.argv[1], [r.split("|")[0] for r in sys.argv[2:]]
print("| model | corpus | test accuracy | F1 | training s | ms/review, by length | ms/review, corpus order | Python ms/review (by length / order) | Swift ÷ Python | parameters | MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in rows:
    e = json.load(open(f"{out}/{name}.eval.json"))
    log = open(f"{out}/{name}.train.log").read() if os.path.exists(f"{out}/{name}.train.log") else ""
    seconds = re.findall(r"training ([0-9.]+) s", log)
    ref = f"{out}/{name}.reference.json"
    if os.path.exists(ref) and os.path.getsize(ref):
        r = json.load(open(ref))
        python = f"{r['ms_per_review']:.2f} / {r['ms_per_review_arrival_order']:.2f}"
        ratio = f"{e['ms_per_review'] / r['ms_per_review']:.2f} / {e['ms_per_review_arrival_order'] / r['ms_per_review_arrival_order']:.2f}"
    else:
        python = ratio = "—"
    print(f"| {name} | {e['corpus']} | {e['accuracy']:.4f} | {e['f1']:.4f} | {seconds[-1] if seconds else '—'} | {e['ms_per_review']:.2f} | "
          f"{e['ms_per_review_arrival_order']:.2f} | {python} | {ratio} | {e['parameters']:,} | {e['bytes'] / 1e6:.1f} |")
PY
