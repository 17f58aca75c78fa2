#!/usr/bin/env bash
# The dependency direction of docs/design in README "Layout", checked on the
# real import graph (tests included, so a test cannot cross a line either):
#   - steps and everything under hub/ never import the emulator: every
#     scenario stays runnable against a live hub, and the clients never share
#     code with the emulator they are checked against;
#   - the vocabulary (hub) and the emulator link no MQTT client library;
#   - nothing imports a command under cmd/;
#   - steps and hub/ never import internal/amqp, the emulator's AMQP server
#     engine: the clients speak AMQP through go-amqp, never through the
#     server code they are checked against.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
bad=0

# imports PKG...: "importer imported" for every direct import of PKG and its
# tests.
imports() {
  go list -test -f '{{$p := .ImportPath}}{{range .Imports}}{{$p}} {{.}}
{{end}}{{range .TestImports}}{{$p}} {{.}}
{{end}}{{range .XTestImports}}{{$p}} {{.}}
{{end}}' "$@" | grep -v '^$' | sort -u
}
broken() { # broken RULE HITS
  if [ -n "$2" ]; then echo "dependency rule broken: $1"; echo "$2" | sed 's/^/  /'; bad=1; fi
}

broken "steps never imports the emulator (tests included)" \
  "$(imports ./steps/... | grep -E " $mod/emulator($|/)" || true)"
broken "nothing under hub/ depends on the emulator (tests included)" \
  "$(go list -test -deps ./hub/... | grep -E "^$mod/emulator( |$|/)" | sort -u || true)"
for p in ./hub ./emulator; do
  # The package itself, not its tests: the emulator's tests may drive it
  # with the real MQTT client.
  broken "$p links no MQTT client library" "$(go list -deps "$p" | grep -E '^github.com/eclipse/paho' || true)"
done
broken "nothing imports a command under cmd/" \
  "$(imports ./... | awk -v cmd="$mod/cmd/" 'index($2, cmd) == 1 && index($1, $2) != 1' || true)"
broken "steps and hub/ never import the AMQP server engine (tests included)" \
  "$(imports ./steps/... ./hub/... | grep -E " $mod/internal/amqp($|/)" || true)"
exit "$bad"
