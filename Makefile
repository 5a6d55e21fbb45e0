# Interloan build. `make test` is what CI runs (.ci/run); `make up` runs the suite.
SHELL := /usr/bin/env bash
BUF   := go run github.com/bufbuild/buf/cmd/buf@v1.75.0
# Every module of the workspace (go.work), as directories.
MODULES := $(shell go list -m -f '{{.Dir}}')
BINARIES := cmd/interloan services/profiles/cmd/profiles services/mapping/cmd/mapping \
            services/harvester/cmd/harvester services/requests/cmd/requests services/gateway/cmd/gateway

.PHONY: test fmt-check vet buf-lint check-gen go-test fuzz-smoke gen build up tidy

test: fmt-check vet buf-lint check-gen go-test fuzz-smoke

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

# The buf format check is check-gen's.
buf-lint:
	scripts/sync-third-party-protos.sh
	$(BUF) lint

# Regenerate gen/ from proto/ (lint, format, generate).
gen:
	scripts/gen-proto.sh

# Fail when gen/ is not what proto/ generates.
check-gen:
	scripts/check-gen.sh

go-test:
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 ./...) || exit 1; done

# Run every fuzz target briefly (FUZZTIME per target, 3s by default: about a minute
# for all on 2 CPUs); `FUZZTIME=1m make fuzz-smoke` for a real session. A failing input
# is saved under the package's testdata/fuzz/ and fails the run.
FUZZTIME ?= 3s
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke.sh

build:
	@mkdir -p bin
	@for b in $(BINARIES); do go build -o bin/ ./$$b || exit 1; done

up:
	go run ./cmd/interloan up

tidy:
	@for m in $(MODULES); do (cd $$m && GOWORK=off go mod tidy) || exit 1; done

# Speed figures (issue 8; docs/performance.md): name=value lines and a JSON file.
# BENCH_FLAGS=-save keeps them in bench/results/<date>.json.
.PHONY: bench bench-quick
bench:
	go run ./tools/bench $(BENCH_FLAGS)

# The same figures at sizes that finish in under a minute.
bench-quick:
	go run ./tools/bench -n 10000 -ledger 50000 -list-samples 500 -rest-duration 2s $(BENCH_FLAGS)
