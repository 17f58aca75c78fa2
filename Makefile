# Hubspec: an Azure IoT Hub emulator and a Gherkin scenario harness.
GO ?= go
# The emulator image make image builds and make test/run hand to the harness;
# IOTHUB_EMULATOR_IMAGE names it when IMAGE is not given.
IMAGE ?= $(or $(IOTHUB_EMULATOR_IMAGE),hubspec/iothub-emulator:dev)
REPORTS ?= build/reports
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The container target runs without testcontainers' Ryuk reaper (no image can
# be pulled here); Hubspec terminates its containers itself.
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: setup run test test-image lint image bench bench-go bench-suite load fuzz soak

## setup: Go modules, a first build, the command-line MQTT/HTTP clients the
## foreign-client test uses (mosquitto-clients, curl, openssl from Debian), the
## Python Azure SDKs the foreign AMQP tests run (python3-azure with
## azure-eventhub, python3-uamqp, python3-websocket, for Debian's
## /usr/bin/python3), Chromium, the headless browser that checks the HTML
## report, and Debian's Mosquitto broker, which make bench measures beside the
## emulator (installed only: the bench starts and stops its own)
setup:
	$(GO) mod download
	$(GO) build ./...
	@if ! command -v mosquitto_sub >/dev/null || ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto-clients curl openssl; \
	fi
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto; \
	fi
	@if ! /usr/bin/python3 -c 'import azure.eventhub, uamqp, websocket' 2>/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-azure python3-uamqp python3-websocket; \
	fi
	@if ! command -v chromium >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; \
	fi

## run: the main job: every feature against the embedded emulator, readable on
## the terminal, with JUnit XML, Cucumber JSON and HTML reports in $(REPORTS).
## With IOTHUB_TARGET=container it builds the image first and runs that.
GODOG_FORMAT ?= pretty
run: $(if $(filter container,$(IOTHUB_TARGET)),image)
	IOTHUB_EMULATOR_IMAGE=$(IMAGE) $(GO) run ./cmd/hubspec --format $(GODOG_FORMAT) --junit $(REPORTS)/junit.xml --cucumber $(REPORTS)/cucumber.json --html $(REPORTS)/report.html

## test: lint, then the emulator image of this checkout (test-image), then
## every test under the race detector: unit tests, the emulator, the feature
## suite on the embedded emulator, on the container (IOTHUB_EMULATOR_IMAGE,
## the image just built) and on a separate emulator process used as a live hub.
## go test runs TEST_PACKAGES_AT_ONCE test binaries at a time in the order
## it is given them. Four, not go test's GOMAXPROCS (2 here): the slow
## packages wait (on their emulators, containers, timeouts and the Python
## Event Hubs client) more than they compute: on this 2-core machine, quiet
## and with a warm cache, make test took 118 s two at a time and 80 s four
## at a time, for about the same CPU (132 and 124 s). The packages whose tests take longest (SLOW_PACKAGES, longest first)
## go first, so the short ones fill in beside them instead of one of them
## running alone at the end.
TEST_PACKAGES_AT_ONCE ?= 4
SLOW_PACKAGES ?= ./steps ./internal/adversarial ./cmd/iothub-emulator ./emulator ./cmd/hubspec ./harness
test: lint test-image
	IOTHUB_EMULATOR_IMAGE=$(IMAGE) $(GO) test -race -count=1 -p $(TEST_PACKAGES_AT_ONCE) -timeout 30m $(SLOW_PACKAGES) ./...

## test-image: `make image` when a Docker engine answers; without one the
## container tests skip, saying so (or fail, with HUBSPEC_REQUIRE_DOCKER set)
test-image:
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory image IMAGE=$(IMAGE); \
	elif [ -n "$$HUBSPEC_REQUIRE_DOCKER" ]; then echo "HUBSPEC_REQUIRE_DOCKER is set and no Docker engine answers: cannot build $(IMAGE)"; exit 1; \
	else echo "no Docker engine answers: $(IMAGE) not built, the container target's tests will skip"; fi

## lint: formatting, vet, staticcheck (pinned, fetched by go run, so set-up
## stays two commands), the dependency direction (.ci/check-deps.sh) and no
## tracked binaries or files over 1 MB (.ci/check-tracked-files.sh)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	bash .ci/check-deps.sh
	bash .ci/check-tracked-files.sh

## image: the emulator's container image, FROM scratch around a static binary,
## labelled org.hubspec.source with the hash of the sources it was built from
## (.ci/image-source-hash.sh): the container tests refuse an image whose label
## is not this checkout's. Go's build cache and Docker's layer cache make a
## rebuild of an unchanged tree take about a second, to the same image.
image:
	mkdir -p build/image
	source=$$(GO=$(GO) bash .ci/image-source-hash.sh) && \
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags='-s -w' -o build/image/iothub-emulator ./cmd/iothub-emulator && \
	cp Dockerfile build/image/ && \
	docker build --label org.hubspec.source=$$source -t $(IMAGE) build/image
	@docker image inspect -f 'image $(IMAGE): {{.Size}} bytes, source {{index .Config.Labels "org.hubspec.source"}}' $(IMAGE)

## bench: the project's benchmark table (cmd/hubspec-bench, internal/bench):
## suite wall time, desired-patch and MQTT-path latency, memory per
## connection, connections held, connect and registry rates, on the emulator
## binary and on Debian's Mosquitto side by side with their ratio, the median
## of BENCH_RUNS runs (3: about 4 minutes on a 2-core machine); JSON in
## $(REPORTS)/bench.json. BENCH_FLAGS adds hubspec-bench flags
## (e.g. --connections 5000; go run ./cmd/hubspec-bench -h lists them).
BENCH_RUNS ?= 3
BENCH_FLAGS ?=
bench:
	mkdir -p build/bench
	$(GO) build -o build/bench/iothub-emulator ./cmd/iothub-emulator
	$(GO) run ./cmd/hubspec-bench --emulator build/bench/iothub-emulator --runs $(BENCH_RUNS) --json $(REPORTS)/bench.json $(BENCH_FLAGS)

## bench-go: the Go benchmarks of the emulator and the AMQP engine
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./emulator ./internal/amqp

## load: hubspec load against the embedded emulator (or IOTHUB_TARGET's hub):
## LOAD_DEVICES devices with LOAD_MODULES modules each, their creates, connects
## and patch latencies as a table and in $(REPORTS)/load.json
LOAD_DEVICES ?= 100
LOAD_MODULES ?= 10
load:
	IOTHUB_EMULATOR_IMAGE=$(IMAGE) $(GO) run ./cmd/hubspec load --devices $(LOAD_DEVICES) --modules-per-device $(LOAD_MODULES) --json $(REPORTS)/load.json

## bench-suite: the built-in feature suite's wall time on the embedded
## emulator at the default concurrency (steps.BenchmarkSuite), three runs
## and their median
bench-suite:
	@$(GO) test -run '^$$' -bench '^BenchmarkSuite$$' -benchtime 1x -count 3 ./steps | tee /dev/stderr | \
	  awk '{ for (i = 1; i < NF; i++) if ($$(i+1) == "s/suite") print $$i }' | sort -n | \
	  awk '{ t[NR] = $$1 } END { if (NR != 3) exit 1; printf "suite wall time on the embedded emulator, median of 3: %.2f s (runs %.2f %.2f %.2f)\n", t[2], t[1], t[2], t[3] }'

## fuzz: every fuzz target for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in ./hub ./hub/device ./emulator ./internal/iotquery ./internal/amqp; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z]*' $$pkg/*_test.go | cut -d' ' -f2); do \
	    $(GO) test -run '^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## soak: the adversarial suite (internal/adversarial) at soak counts against
## the emulator binary, for minutes; prints connections held, RSS before and
## after, lost updates (must be 0) and whether MQTT outlives descriptor
## exhaustion
soak:
	$(GO) test -count=1 -v -run Soak -timeout 20m ./internal/adversarial -soak
