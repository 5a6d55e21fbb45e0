#!/usr/bin/env bash
# Copies Google's API annotation protos from the grpc-gateway v2.2.0 module (fetched through
# the Go module proxy) into the git-ignored proto/third_party. They are a dependency, not our
# code: never commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
GW=github.com/grpc-ecosystem/grpc-gateway/v2@v2.2.0
dir=$(cd gen && GOFLAGS=-mod=mod go mod download -json "$GW" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -n "$dir" ] || { echo "could not download $GW" >&2; exit 1; }
dst=proto/third_party
rm -rf "$dst"
mkdir -p "$dst/google/api" "$dst/google/rpc"
for f in annotations http httpbody field_behavior; do
  install -m 0644 "$dir/third_party/googleapis/google/api/$f.proto" "$dst/google/api/"
done
install -m 0644 "$dir/third_party/googleapis/google/rpc/status.proto" "$dst/google/rpc/"
# The resource annotations (AIP-123) and the visibility rules are printed from the
# descriptors genproto compiles in.
go run ./scripts/resourceproto > "$dst/google/api/resource.proto"
go run ./scripts/resourceproto visibility > "$dst/google/api/visibility.proto"
install -m 0644 "$dir/third_party/googleapis/LICENSE" "$dst/google/LICENSE"
