# wabot — see README.md. `make dev` runs the bot; `make test` passes the tests.

GO            ?= go
BIN           := $(CURDIR)/bin
GOLANGCI      := $(BIN)/golangci-lint
GOLANGCI_VER  := v2.15.0
# The embedded Temporal server for tests listens on TEST_TEMPORAL_PORT and
# the 4 ports after it (no Web UI). One server serves every test package.
TEST_TEMPORAL_PORT ?= 17233
TEST_TIMEOUT  ?= 20m
PKGS          ?= ./...

.PHONY: all build dev test test-race test-short lint bench gobench chaos fuzz migrate clean

all: build

build: $(BIN)/wabot

# The production binary: no embedded Temporal server in it.
$(BIN)/wabot: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/wabot

# The dev binary: the embedded Temporal server + Web UI (~150 MB, minutes to
# build cold; Go's build cache makes later builds fast).
$(BIN)/wabot-dev: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/wabot-dev

FORCE:

# The official Temporal CLI, for the runbook test (internal/e2e
# runbook_cli_test.go runs the README's `temporal` commands). A pinned
# release; it embeds a server of its own, so a cold build takes minutes.
TEMPORAL_CLI_VER := v1.5.1
$(BIN)/temporal:
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VER)

## dev: everything on this machine — Temporal + Web UI, migrations, worker, gateway, local chat page.
dev: $(BIN)/wabot-dev
	$(BIN)/wabot-dev

## migrate: apply schema migrations to DATABASE_URL.
migrate: $(BIN)/wabot
	$(BIN)/wabot migrate up

## test: vet, then every test with the race detector against real PostgreSQL,
## Redis and one embedded Temporal server built without -race.
test: $(BIN)/wabot $(BIN)/wabot-dev $(BIN)/temporal
	$(GO) vet ./...
	@set -e; log=$$(mktemp); \
	$(BIN)/wabot-dev temporal --port $(TEST_TEMPORAL_PORT) --ui-port -1 >$$log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -f $$log' EXIT; \
	for i in $$(seq 1 300); do grep -q '^temporal ready' $$log && break; \
	  kill -0 $$pid 2>/dev/null || { cat $$log; exit 1; }; sleep 0.1; done; \
	grep -q '^temporal ready' $$log || { echo "embedded temporal did not start"; cat $$log; exit 1; }; \
	WABOT_TEST_TEMPORAL_ADDRESS=127.0.0.1:$(TEST_TEMPORAL_PORT) WABOT_BIN_DIR=$(BIN) WABOT_TEMPORAL_CLI=$(BIN)/temporal \
	  $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

test-race: test

## test-short: unit tests only (no embedded Temporal needed).
test-short:
	$(GO) test -race -short -count=1 $(PKGS)

$(GOLANGCI):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)

## lint: go vet + golangci-lint (config in .golangci.yml).
lint: $(GOLANGCI)
	$(GO) vet ./...
	$(GOLANGCI) run ./...

## bench: the load benchmark (internal/bench): the bot and the ceiling workflow
## side by side on a Temporal server of its own (ports BENCH_TEMPORAL_PORT..+4),
## a `wabot worker` process, the real gateway handler, the fake LLM, a fresh
## PostgreSQL database and Redis; then the component benchmarks (Redis limiter
## stand-in, retention sweep of 1M rows, prompt tokens over 500 turns). Writes
## the results into BENCHMARKS.md and docs/bench-latency.svg.
## BENCH_FLAGS adds flags, e.g. BENCH_FLAGS='-sizes=1000x100,1000x1000,10000x100,10000x1000'
## for the full set or '-llm-latency=300ms'; see `bin/bench.test -h`.
BENCH_TEMPORAL_PORT ?= 27233
BENCH_FLAGS   ?=
bench: $(BIN)/wabot $(BIN)/wabot-dev
	$(GO) test -c -o $(BIN)/bench.test ./internal/bench
	cd internal/bench && WABOT_BIN_DIR=$(BIN) $(BIN)/bench.test -test.run '^TestLoad$$' \
	  -test.v -test.timeout 2h -load -temporal-port $(BENCH_TEMPORAL_PORT) -out $(CURDIR)/BENCHMARKS.md \
	  -profile-dir $(BIN)/profiles -command "make bench BENCH_FLAGS='$(BENCH_FLAGS)'" $(BENCH_FLAGS)
	cd internal/bench && WABOT_BIN_DIR=$(BIN) $(BIN)/bench.test -test.run '^Test(RateLimiterDecisions|RetentionSweep|PromptTokens)$$' \
	  -test.v -test.timeout 1h -extras -out $(CURDIR)/BENCHMARKS.md

## chaos: the long chaos run (internal/e2e TestChaos -chaos-long) on a Temporal
## server of its own: worker SIGKILL/restart, gateway down/redelivery, Redis
## stop + start and PostgreSQL restart (servers of the test's own: initdb and
## redis-server on PATH), LLM 429/500/hang, three rounds, then PostgreSQL
## down 30 s; 0 lost, 0 duplicates, 0 error replies, recovery time per fault. `make test` runs one round.
CHAOS_TEMPORAL_PORT ?= 27243
chaos: $(BIN)/wabot $(BIN)/wabot-dev
	@set -e; log=$$(mktemp); \
	$(BIN)/wabot-dev temporal --port $(CHAOS_TEMPORAL_PORT) --ui-port -1 >$$log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -f $$log' EXIT; \
	for i in $$(seq 1 300); do grep -q '^temporal ready' $$log && break; \
	  kill -0 $$pid 2>/dev/null || { cat $$log; exit 1; }; sleep 0.1; done; \
	WABOT_TEST_TEMPORAL_ADDRESS=127.0.0.1:$(CHAOS_TEMPORAL_PORT) WABOT_BIN_DIR=$(BIN) \
	  $(GO) test -race -count=1 -timeout 20m -run '^TestChaos$$' -v ./internal/e2e -chaos-long

## fuzz: every fuzz target for FUZZTIME each (the normal test run replays
## their seed corpora in testdata/fuzz/). Add a target with its package here.
FUZZTIME      ?= 10s
FUZZ_TARGETS  ?= ./gateway:FuzzHandleEvent ./internal/config:FuzzLoad ./internal/command:FuzzParse
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; done

## gobench: the Go micro-benchmarks (go test -bench) of every package.
gobench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

clean:
	rm -rf $(BIN) .data
