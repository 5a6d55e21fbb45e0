# Interloan build. `make test` is what CI runs (.ci/run); `make up` runs the suite.
SHELL := /usr/bin/env bash
BUF   := go run github.com/bufbuild/buf/cmd/buf@v1.75.0
# Every module of the workspace (go.work), as directories.
MODULES := $(shell go list -m -f '{{.Dir}}')
BINARIES := cmd/interloan services/profiles/cmd/profiles services/mapping/cmd/mapping \
            services/harvester/cmd/harvester services/requests/cmd/requests services/gateway/cmd/gateway \
            services/console/cmd/console

.PHONY: docs test fmt-check vet buf-lint check-gen openapi-lint go-test fuzz-smoke gen build up tidy
.PHONY: build-static images

test: fmt-check vet buf-lint check-gen openapi-lint go-test fuzz-smoke

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

# Lint the OpenAPI document the gateway serves with Redocly's recommended rules
# (tools/openapi/redocly.yaml) and check the gateway's Redoc bundle is the pinned one.
# Needs node and npm; the pinned tools are installed into tools/openapi/node_modules once.
openapi-lint:
	scripts/openapi-lint.sh

go-test:
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 ./...) || exit 1; done

# Run every fuzz target briefly (FUZZTIME per target, 3s by default: about a minute
# for all on 2 CPUs); `FUZZTIME=1m make fuzz-smoke` for a real session. A failing input
# is saved under the package's testdata/fuzz/ and fails the run.
FUZZTIME ?= 3s
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke.sh

# The staff console's pictures in the README (docs/img/console/*.png), taken by its browser
# tests in a real Chromium (docs/console.md).
.PHONY: console-screenshots
console-screenshots:
	@mkdir -p docs/img/console
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/img/console go test ./internal/consoletest -count=1 \
		-run 'TestImportJobLive|TestRequestLifecycleButtons|TestQueueTabsFiltersAndBatch|TestProfileWizard'


# Regenerate docs/config.md from the binaries' flags and the README's Operator CLI section
# from the command tree (a test fails when either is stale).
docs:
	go test ./internal/configdoc -run TestConfigReference -update
	go test ./internal/cli -run TestREADMEOperatorCLI -update

build:
	@mkdir -p bin
	@for b in $(BINARIES); do go build -o bin/ ./$$b || exit 1; done

# The binaries the container images carry (the Dockerfile runs this target): the same
# packages and go.work build list as `build` and the tests, static (CGO_ENABLED=0, no
# libc) and -trimpath. Fails if one of them is not static.
STATIC_DIR ?= bin/static
build-static:
	@mkdir -p $(STATIC_DIR)
	@for b in $(BINARIES); do CGO_ENABLED=0 go build -trimpath -o $(STATIC_DIR)/ ./$$b || exit 1; done
	@for b in $(notdir $(BINARIES)); do \
		go version -m $(STATIC_DIR)/$$b | grep -q 'CGO_ENABLED=0' || { echo "$$b is not a static build" >&2; exit 1; }; \
	done

# One image per binary, $(IMAGE_PREFIX)/<binary>:$(IMAGE_TAG) (see Dockerfile and
# docs/deploy.md). Needs Docker with BuildKit.
IMAGE_PREFIX ?= interloan
IMAGE_TAG    ?= dev
IMAGES       := $(notdir $(BINARIES))
images:
	@command -v docker >/dev/null 2>&1 || { echo "make images: docker is not installed; install Docker, or build the Dockerfile with another OCI builder (one build per binary, --build-arg BINARY=<name>). 'make build-static' builds the same binaries without it." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make images: docker cannot reach a Docker daemon (docker info fails); start one or set DOCKER_HOST." >&2; exit 1; }
	@for b in $(IMAGES); do docker build --build-arg BINARY=$$b -t $(IMAGE_PREFIX)/$$b:$(IMAGE_TAG) . || exit 1; done

up:
	go run ./cmd/interloan up

tidy:
	@for m in $(MODULES); do (cd $$m && GOWORK=off go mod tidy) || exit 1; done

# Speed figures (docs/performance.md): name=value lines and a JSON file.
# BENCH_FLAGS=-save keeps them in bench/results/<date>.json.
.PHONY: bench bench-quick
bench:
	go run ./tools/bench $(BENCH_FLAGS)

# The same figures at sizes that finish in under a minute.
bench-quick:
	go run ./tools/bench -n 10000 -ledger 50000 -list-samples 500 -rest-duration 2s $(BENCH_FLAGS)

# Robustness campaigns (docs/robustness.md), against the real service binaries
# as separate processes. CHAOS_FLAGS / FAULTS_FLAGS pass options, e.g.
# CHAOS_FLAGS="-cycles 50 -seed 42" or FAULTS_FLAGS="-quick".
.PHONY: chaos faults
chaos:
	go run ./tools/chaos $(CHAOS_FLAGS)

faults:
	go run ./tools/faults $(FAULTS_FLAGS)

# Sustained mixed load on loopback (REST by vegeta, gRPC by ghz, request actions and an
# import at once); both tools are installed from the Go module proxy into .tools/.
LOAD_TOOLS := $(CURDIR)/.tools
LOAD_FLAGS ?=
.PHONY: load
load:
	GOBIN=$(LOAD_TOOLS) go install github.com/bojand/ghz/cmd/ghz@v0.121.0
	GOBIN=$(LOAD_TOOLS) go install github.com/tsenart/vegeta/v12@v12.13.0
	go run ./tools/load -ghz $(LOAD_TOOLS)/ghz -vegeta $(LOAD_TOOLS)/vegeta $(LOAD_FLAGS)

# The dashboard picture of docs/operations.md: the import health dashboard's panels drawn
# from a live suite's metrics through a real Prometheus and screenshot by headless
# Chromium; not Grafana, which cannot be installed here. Needs Debian's prometheus and
# chromium (apt-get install -y prometheus chromium).
.PHONY: dashboard-screenshot
dashboard-screenshot:
	go run ./tools/dashshot -out docs/img/dashboard-import-health.png
