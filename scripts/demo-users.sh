#!/usr/bin/env bash
# `make run`: one artisan, one moderator and one admin for trying the service, and how to use them.
# Tokens are shown once by `loupe users add` and only their hashes are stored, so this development
# helper keeps the demo tokens in .cache/demo-tokens (mode 600, git-ignored) to print them on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
loupe=${1:-.build/release/loupe}
port=${LOUPE_PORT:-8080}
file=.cache/demo-tokens
mkdir -p .cache
touch "$file" && chmod 600 "$file"
existing=$("$loupe" users list | cut -f2)
for spec in demo-artisan:artisan demo-moderator:moderator demo-admin:admin; do
    name=${spec%%:*} role=${spec##*:}
    if ! grep -qx "$name" <<<"$existing"; then
        token=$("$loupe" users add "$name" --role "$role" --quiet)
        grep -v "^$name=" "$file" > "$file.tmp" || true
        echo "$name=$token" >> "$file.tmp" && mv "$file.tmp" "$file"
    elif ! grep -q "^$name=" "$file"; then
        echo "demo-users: $name exists but its token is not in $file (disable it: loupe users disable $name)" >&2
    fi
done
echo
echo "Loupe is starting on http://localhost:$port"
echo "  web pages:  http://localhost:$port/  (sign in with a token below)"
echo "  API:        http://localhost:$port/openapi.json   metrics: http://localhost:$port/metrics   ready: http://localhost:$port/readyz"
echo "  tokens:"
sed 's/^/    /' "$file"
artisan=$(grep '^demo-artisan=' "$file" | cut -d= -f2 || true)
admin=$(grep '^demo-admin=' "$file" | cut -d= -f2 || true)
echo "  try:        curl -H 'Authorization: Bearer $artisan' -F photo=@Fixtures/catalogue/images/fx-2026-000001.jpg http://localhost:$port/v1/drafts"
echo "  retrain:    curl -X POST -H 'Authorization: Bearer $admin' http://localhost:$port/v1/admin/retrain   (the worker runs it)"
echo "  report:     curl -H 'Authorization: Bearer $admin' http://localhost:$port/v1/admin/feedback-report"
echo "  review:     curl -H 'Authorization: Bearer $admin' -H 'Content-Type: application/json' -d '{\"text\": \"Lovely colour but it tarnished in a week\", \"rating\": 3}' http://localhost:$port/v1/products/1/reviews"
echo "  summary:    curl -H 'Authorization: Bearer $admin' http://localhost:$port/v1/products/1/review-summary"
echo "  synthetic:  curl -H 'Authorization: Bearer $admin' -H 'Content-Type: application/json' -d '{\"category\": \"ring\", \"metal\": \"rose-gold\", \"n\": 4}' http://localhost:$port/v1/synthetic-images   (after make gan)"
echo
