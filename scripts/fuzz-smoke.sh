#!/usr/bin/env bash
# Runs every Go fuzz target of every workspace module for a short time (FUZZTIME, default
# 3s), so `make test` exercises the hostile-input fuzzers beyond their seed corpora on each
# run. `go test -fuzz` accepts only one target and one package per invocation, hence one
# run per target. A failure leaves its input in the package's testdata/fuzz/<Target>/
# (commit it as a regression seed once fixed); the script runs the remaining targets, then
# fails naming every failed one. The generated corpus accumulates in $(go env GOCACHE)/fuzz,
# so later runs start from what earlier ones found.
#
# Usage: scripts/fuzz-smoke.sh [FUZZ_REGEXP]   (e.g. scripts/fuzz-smoke.sh Gateway)
#   FUZZTIME=30s scripts/fuzz-smoke.sh          a longer run of everything
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
filter=${1:-.}

start=$SECONDS
failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# fuzz_once runs one target, showing its output and keeping it in $log.
fuzz_once() {
  (cd "$1" && go test -run='^$' -fuzz="^${2}\$" -fuzztime="$fuzztime" .) 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}
ran=0
# Targets are found by their declaration in the packages' test files rather than with
# `go test -list`, which would first build every test binary of the workspace (a minute
# here) only to print names; `go vet` and the normal test run already check these files
# compile, and -fuzz with a name that is not a fuzz target fails loudly below.
for mod in $(go list -m -f '{{.Dir}}'); do
  while read -r dir files; do
    [ -n "$files" ] || continue
    targets=$(cd "$dir" && sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\).*/\1/p' $files | sort -u)
    for target in $targets; do
      [[ $target =~ $filter ]] || continue
      rel=${dir#"$PWD"/}
      echo "== fuzz $rel $target ($fuzztime)"
      ran=$((ran + 1))
      # -run='^$' skips the unit tests (make go-test runs them); the seed corpus is still
      # run first, as the baseline of the fuzzing.
      if ! fuzz_once "$dir" "$target"; then
        # Go's fuzzing coordinator sometimes ends a -fuzztime run with a bare "context
        # deadline exceeded" and no failing input: a toolchain hiccup, not a finding.
        # Only that case is run again, once; a real finding writes its input and fails.
        if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
          echo "fuzz-smoke: $rel $target ended on the fuzzer's own deadline without an input; once more"
          fuzz_once "$dir" "$target" || failed+=("$rel $target")
        else
          failed+=("$rel $target")
        fi
      fi
    done
  done < <(cd "$mod" && go list -f '{{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...)
done

echo "fuzz-smoke: $ran targets in $((SECONDS - start))s"
if [ "$ran" = 0 ]; then
  echo "fuzz-smoke: no fuzz target matched '$filter'" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz-smoke: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
