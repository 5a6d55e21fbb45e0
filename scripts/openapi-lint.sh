#!/usr/bin/env bash
# Lints the OpenAPI document the gateway serves with Redocly's recommended rules
# (tools/openapi/redocly.yaml), failing on any error, and checks that the Redoc bundle the
# gateway serves at /docs is the pinned npm package's. The gateway serves
# gen/openapi/interloan.swagger.json byte for byte (go:embed in gen/openapi.go; the
# gateway's TestOpenAPI compares the served body with it), so the file is what is linted.
# The tools come from npm, pinned in tools/openapi/package-lock.json, installed once.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/openapi/npm-ci.sh
# No usage reports or update checks from the linter: a build talks to npm only.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  tools/openapi/node_modules/.bin/redocly lint --config tools/openapi/redocly.yaml \
  --format=stylish gen/openapi/interloan.swagger.json
tools/openapi/update-reference.sh -check
