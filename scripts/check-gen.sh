#!/usr/bin/env bash
# Fails when the committed generated code in gen/ differs from what the protos produce,
# or when a proto file is not buf-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF="go run github.com/bufbuild/buf/cmd/buf@v1.75.0"
scripts/sync-third-party-protos.sh
$BUF format -d --exit-code --path proto/interloan
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r gen/. "$tmp/before"
rm -rf gen/interloan gen/openapi
$BUF generate
if ! diff -r "$tmp/before" gen >/dev/null; then
  diff -r "$tmp/before" gen | head -40 >&2 || true
  # Put the tree back as it was: this target checks, it does not change files.
  rm -rf gen/interloan gen/openapi && cp -r "$tmp/before/interloan" "$tmp/before/openapi" gen/
  echo "check-gen: generated code in gen/ is stale; run 'make gen' and commit" >&2
  exit 1
fi
