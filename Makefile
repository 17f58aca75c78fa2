# Hubspec: an Azure IoT Hub emulator and a Gherkin scenario harness.
GO ?= go
IMAGE ?= hubspec/iothub-emulator:dev
REPORTS ?= build/reports
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The container target runs without testcontainers' Ryuk reaper (no image can
# be pulled here); Hubspec terminates its containers itself.
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: setup run test lint image bench fuzz soak

## setup: Go modules, a first build, the command-line MQTT/HTTP clients the
## foreign-client test uses (mosquitto-clients, curl, openssl from Debian) and
## Chromium, the headless browser that checks the HTML report
setup:
	$(GO) mod download
	$(GO) build ./...
	@if ! command -v mosquitto_sub >/dev/null || ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq mosquitto-clients curl openssl; \
	fi
	@if ! command -v chromium >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; \
	fi

## run: the main job: every feature against the embedded emulator, readable on
## the terminal, with JUnit XML, Cucumber JSON and HTML reports in $(REPORTS)
GODOG_FORMAT ?= pretty
run:
	$(GO) run ./cmd/hubspec --format $(GODOG_FORMAT) --junit $(REPORTS)/junit.xml --cucumber $(REPORTS)/cucumber.json --html $(REPORTS)/report.html

## test: lint, then every test under the race detector: unit tests, the emulator,
## the feature suite on the embedded emulator, on the container (when Docker
## answers) and on a separate emulator process used as a live hub
test: lint
	$(GO) test -race -count=1 -timeout 30m ./...

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

## image: the emulator's container image, FROM scratch around a static binary
image:
	mkdir -p build/image
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags='-s -w' -o build/image/iothub-emulator ./cmd/iothub-emulator
	cp Dockerfile build/image/
	docker build -t $(IMAGE) build/image
	@docker image inspect -f 'image $(IMAGE): {{.Size}} bytes' $(IMAGE)

## bench: the emulator's benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./emulator

## fuzz: every fuzz target for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in ./hub ./emulator; do \
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
