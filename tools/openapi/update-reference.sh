#!/usr/bin/env bash
# Copies Redoc's standalone bundle (and its license notice) from the pinned npm package
# into the gateway, which embeds it and serves it at /docs. The bundle is committed, so a
# build needs no npm. With -check it changes nothing and fails when the committed copy is
# not the package's (scripts/openapi-lint.sh runs that).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/openapi/npm-ci.sh
src=tools/openapi/node_modules/redoc/bundles
dst=services/gateway/app/reference
stale=0
for f in redoc.standalone.js redoc.standalone.js.LICENSE.txt; do
  if [ "${1:-}" = -check ]; then
    cmp -s "$src/$f" "$dst/$f" || { echo "update-reference: $dst/$f is not the pinned Redoc's; run tools/openapi/update-reference.sh and commit" >&2; stale=1; }
  else
    install -m 0644 "$src/$f" "$dst/$f"
  fi
done
exit "$stale"
