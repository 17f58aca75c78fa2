# Hubspec: an Azure IoT Hub emulator and a Gherkin scenario harness.
GO ?= go
GODOG_FORMAT ?= pretty

.PHONY: setup run test lint bench fuzz

## setup: download the Go modules (the only set-up step besides Go itself)
setup:
	$(GO) mod download
	$(GO) build ./...

## run: the main job: every feature against the embedded emulator, readable output
run:
	$(GO) test ./steps -run '^TestFeatures$$' -count=1 -v -godog.format=$(GODOG_FORMAT)

## test: vet, then every test (unit, emulator, the feature suite) under the race detector
test: lint
	$(GO) test -race -count=1 ./...

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

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
