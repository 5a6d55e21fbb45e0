#!/usr/bin/env bash
# Lints and generates the API: Go messages, gRPC stubs, gateway handlers and one merged
# OpenAPI document, all into gen/ (committed). buf is pinned and run through `go run`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF="go run github.com/bufbuild/buf/cmd/buf@v1.75.0"
scripts/sync-third-party-protos.sh
$BUF format -w --path proto/interloan
$BUF lint
rm -rf gen/interloan gen/openapi
$BUF generate
