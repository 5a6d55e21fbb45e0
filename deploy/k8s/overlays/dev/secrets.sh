#!/usr/bin/env bash
# Writes the files the dev overlay turns into Secrets, once: secrets/tokens (token
# hashes), secrets/harvester.token (the harvester's own token), secrets/secret.key (the
# profiles credential key) and secrets/admin.token (an admin token for you, not put in
# the cluster). Existing files are kept, so re-running never locks you out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
out=$here/secrets
umask 077
mkdir -p "$out"
interloan() { (cd "$root" && go run ./cmd/interloan "$@"); }

if [[ ! -e $out/secret.key ]]; then
	interloan keys new --out "$out/secret.key"
fi
if [[ ! -e $out/harvester.token ]]; then
	interloan token create --role harvester --principal harvester --tokens-file "$out/tokens" >"$out/harvester.token"
fi
if [[ ! -e $out/admin.token ]]; then
	interloan token create --role admin --principal admin --tokens-file "$out/tokens" >"$out/admin.token"
fi
echo "dev secrets in $out; apply with: kubectl apply -k $here"
