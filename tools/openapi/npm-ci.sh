#!/usr/bin/env bash
# Installs the pinned npm tools of package-lock.json into tools/openapi/node_modules
# (git-ignored), once: a stamp records which lock file the tree was installed from, so a
# later call with the same lock returns at once. npm's download cache stays in $HOME/.npm.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null 2>&1 || {
  echo "npm-ci: node and npm are needed for the OpenAPI tools (Node.js 20.19+ or 22.12+; e.g. apt-get install nodejs npm)" >&2
  exit 1
}
stamp=node_modules/.installed-from-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# Peers (React and friends) only matter to programs that import Redoc as a library; the
# standalone bundle carries its own. No install scripts run: none of these tools needs one.
npm ci --omit=peer --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
