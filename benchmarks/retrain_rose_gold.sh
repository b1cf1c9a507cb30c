#!/usr/bin/env bash
# The retraining loop measured end to end on a systematic error (issue 6): a catalogue whose rose-gold
# pieces were imported as yellow gold trains the active model, which then calls rose gold yellow gold.
# New pieces are uploaded as drafts through the service; moderators correct what is wrong (metal,
# other fields, and the text where it names a wrong claim) and approve. A worker retrains from the
# active model on the catalogue plus the approved listings, evaluates both models on the held-out
# test split (labelled correctly) and promotes the candidate only if it is not worse.
#
# MODE=mislabel (default): the catalogue's rose gold is labelled yellow gold in train and validation.
# MODE=absent: the catalogue has no rose gold in train and validation (a class the model never saw).
#
# Usage: [MODE=absent] benchmarks/retrain_rose_gold.sh [phase]   phases: setup, drafts, retrain, report
# Own database (loupe_rosegold, loupe_rosegold_absent) and object store (.cache/experiment[-absent]):
# the dev database is not touched. The 400 rendered pieces are shared by both modes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
LOUPE=.build/release/loupe
BASE_URL=$(scripts/postgres.sh url)
MODE=${MODE:-mislabel}
case $MODE in
    mislabel) DB=loupe_rosegold; EXP=.cache/experiment ;;
    absent) DB=loupe_rosegold_absent; EXP=.cache/experiment-absent ;;
    *) echo "MODE is mislabel or absent" >&2; exit 2 ;;
esac
export DATABASE_URL=${BASE_URL%/*}/$DB
RENDERS_DIR=.cache/experiment/renders
export LOUPE_OBJECTS=$EXP/objects
RENDERS=${RENDERS:-400}
EPOCHS=${EPOCHS:-20}
PORT=${PORT:-8093}
mkdir -p "$EXP"
phase=${1:-all}

setup() {
    psql "$BASE_URL" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    rm -rf "$EXP/objects" "$EXP/models" "$EXP/runs"
    $LOUPE migrate
    $LOUPE catalog import Fixtures/catalogue
    if [ "$MODE" = absent ]; then
        # The systematic error: no rose gold in the training and validation splits.
        psql "$DATABASE_URL" -qc "DELETE FROM products p USING product_attributes a WHERE a.product_id = p.id AND a.field = 'metal'
                                  AND a.value = 'rose-gold' AND p.split IN ('train', 'validation')"
    else
    # The systematic error: rose gold imported as yellow gold in the training and validation splits
    # (labels, titles and reference texts alike). The held-out test split keeps the true labels.
    psql "$DATABASE_URL" -q <<'SQL'
UPDATE product_attributes a SET value = 'yellow-gold' FROM products p
 WHERE p.id = a.product_id AND a.field = 'metal' AND a.value = 'rose-gold' AND p.split IN ('train', 'validation');
UPDATE product_descriptions d SET text = replace(replace(d.text, 'rose gold', 'yellow gold'), 'Rose gold', 'Yellow gold') FROM products p
 WHERE p.id = d.product_id AND p.split IN ('train', 'validation');
UPDATE products SET title = replace(replace(title, 'Rose Gold', 'Yellow Gold'), 'rose gold', 'yellow gold') WHERE split IN ('train', 'validation');
SQL
    fi
    psql "$DATABASE_URL" -Atc "SELECT p.split, count(*) FROM product_attributes a JOIN products p ON p.id = a.product_id WHERE a.field = 'metal' AND a.value = 'rose-gold' GROUP BY 1" | sed 's/^/rose-gold products left: /'
    # New pieces the artisans will upload (not in the catalogue: another seed).
    [ -f "$RENDERS_DIR/catalogue.jsonl" ] || $LOUPE fixtures render --count "$RENDERS" --seed 2 --out "$RENDERS_DIR"
    # The active model, trained on the mislabelled catalogue.
    $LOUPE train captioner --epochs "$EPOCHS" --views 4 --activate always --test --out "$EXP/models/v1.pt" --run "$EXP/runs/v1"
}

drafts() {
    $LOUPE users add "$(psql "$DATABASE_URL" -Atc "SELECT handle FROM artisans ORDER BY id LIMIT 1")" --role artisan --quiet > "$EXP/artisan.token" 2>/dev/null || true
    $LOUPE users add moderator-exp --role moderator --quiet > "$EXP/moderator.token" 2>/dev/null || true
    $LOUPE serve --port "$PORT" --retrain-after 0 > "$EXP/serve.log" 2>&1 &
    local pid=$!
    trap "kill $pid 2>/dev/null" EXIT
    for _ in $(seq 60); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
    python3 benchmarks/moderate.py --url "http://127.0.0.1:$PORT" --renders "$RENDERS_DIR" \
        --artisan-token "$(cat "$EXP/artisan.token")" --moderator-token "$(cat "$EXP/moderator.token")" | tee "$EXP/moderation.txt"
    kill $pid; wait $pid 2>/dev/null || true
    trap - EXIT
}

retrain() {
    $LOUPE retrain --reason "moderator corrections of rose gold" > "$EXP/retrain.txt"
    $LOUPE worker --once --lease 120 --models "$EXP/models" --runs "$EXP/runs" 2>&1 | tee "$EXP/worker.log" | grep -v "^\[" || true
}

report() {
    $LOUPE models list
    for id in $(psql "$DATABASE_URL" -Atc "SELECT id FROM models ORDER BY id"); do
        path=$(psql "$DATABASE_URL" -Atc "SELECT path FROM models WHERE id = $id")
        echo "== model $id: $path"
        $LOUPE eval captioner --model "$path" --split test --json > "$EXP/eval-$id.json"
        python3 - "$EXP/eval-$id.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["report"]
rec = r.get("recall", {}).get("metal", {})
print("BLEU-4 %.3f ROUGE-L %.3f metal %.3f gemstone %.3f category %.3f violations %d false claims %d" % (
    r["bleu"][3], r["rougeL"], r["accuracy"]["metal"], r["accuracy"]["gemstone"], r["accuracy"]["category"],
    r["groundingViolations"], r["falseClaims"]))
print("metal recall: " + ", ".join("%s %.2f" % kv for kv in sorted(rec.items())))
print("false claims by field:", r["falseClaimsByField"])
PY
    done
}

case $phase in
    setup) setup ;; drafts) drafts ;; retrain) retrain ;; report) report ;;
    all) setup; drafts; retrain; report ;;
    *) echo "phases: setup drafts retrain report all" >&2; exit 2 ;;
esac
