#!/usr/bin/env bash
# Test set-up (a CTest fixture): builds pion's TURN client example
# (examples/turn-client/udp) from Debian's golang-github-pion-turn.v2-dev
# source tree, offline, into the build tree.
#   pion_build.sh OUTPUT_BINARY
# GOPATH mode (GO111MODULE=off) resolves github.com/pion/... and its
# dependencies from /usr/share/gocode, where Debian's golang-*-dev packages put
# their sources; GOPROXY=off makes any attempt to fetch a module an error
# instead of a download.
set -euo pipefail
out=${1:?usage: pion_build.sh OUTPUT_BINARY}
gocode=/usr/share/gocode
pkg=github.com/pion/turn/v2/examples/turn-client/udp

if ! command -v go >/dev/null; then
  echo "FAIL: go not found (apt-get install golang-go, or scripts/install-deps.sh --test)" >&2
  exit 1
fi
if [[ ! -d $gocode/src/$pkg ]]; then
  echo "FAIL: $gocode/src/$pkg missing (apt-get install golang-github-pion-turn.v2-dev, or scripts/install-deps.sh --test)" >&2
  exit 1
fi

outdir=$(cd "$(dirname "$out")" && pwd)
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
# The build cache lives next to the binary so a second build is instant.
env GO111MODULE=off GOPATH="$gopath:$gocode" GOPROXY=off GOFLAGS= GOENV=off GOTOOLCHAIN=local \
  GOCACHE="$outdir/go-cache" CGO_ENABLED=0 \
  go build -o "$out" "$pkg"
echo "pion_build: built $out from $gocode/src/$pkg"
