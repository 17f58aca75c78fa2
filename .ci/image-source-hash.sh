#!/usr/bin/env bash
# Prints the hash `make image` labels the emulator image with
# (org.hubspec.source): SHA-256 over everything the image is built from —
# the Go version and target platform, the Go and embedded files of this
# module's packages that cmd/iothub-emulator links (as go list sees them for
# a static Linux build), go.mod, go.sum (which pin every other dependency)
# and the Dockerfile. The container tests compare it with the image's label,
# so a checkout that changed since the last `make image` is never tested
# through the old image. GO names the go command (default: go).
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0 GOOS=linux
go=${GO:-go}
root=$(pwd)
{
  "$go" env GOVERSION GOOS GOARCH
  {
    "$go" list -deps -f '{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}' ./cmd/iothub-emulator | sed "s|^$root/||"
    printf '%s\n' go.mod go.sum Dockerfile
  } | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -d' ' -f1
