#!/usr/bin/env bash
# Fails when the committed generated code in gen/ differs from what the protos produce,
# or when a proto file is not buf-formatted. It generates into a temporary directory and
# never touches gen/ itself, so a failing generation cannot damage the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF="go run github.com/bufbuild/buf/cmd/buf@v1.75.0"
scripts/sync-third-party-protos.sh
$BUF format -d --exit-code --path proto/interloan
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$BUF generate -o "$tmp"
stale=0
for d in interloan openapi; do
  if ! diff -r "$tmp/gen/$d" "gen/$d" >"$tmp/diff" 2>&1; then
    head -40 "$tmp/diff" >&2
    stale=1
  fi
done
if [ "$stale" = 1 ]; then
  echo "check-gen: generated code in gen/ is stale; run 'make gen' and commit" >&2
  exit 1
fi
