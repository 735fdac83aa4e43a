#!/usr/bin/env bash
# Test set-up (a CTest fixture): builds pion-ice-peer (pion_peer.go), pion/ice
# wrapped in the ice-peer contract, from Debian's golang-github-pion-ice.v2-dev
# source tree, offline, into the build tree.
#   build_pion.sh OUTPUT_BINARY
# GOPATH mode (GO111MODULE=off) resolves github.com/pion/... and its
# dependencies from /usr/share/gocode, where Debian's golang-*-dev packages put
# their sources; GOPROXY=off makes any attempt to fetch a module an error
# instead of a download (as ../pion_build.sh does for pion's TURN client).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build_pion.sh OUTPUT_BINARY}
gocode=/usr/share/gocode

if ! command -v go >/dev/null; then
  echo "FAIL: go not found (apt-get install golang-go, or scripts/install-deps.sh --test)" >&2
  exit 1
fi
if [[ ! -d $gocode/src/github.com/pion/ice/v2 ]]; then
  echo "FAIL: $gocode/src/github.com/pion/ice/v2 missing (apt-get install golang-github-pion-ice.v2-dev, or scripts/install-deps.sh --test)" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
outdir=$(cd "$(dirname "$out")" && pwd)
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
# The build cache lives next to the binary so a second build is instant.
env GO111MODULE=off GOPATH="$gopath:$gocode" GOPROXY=off GOFLAGS= GOENV=off GOTOOLCHAIN=local \
  GOCACHE="$outdir/go-cache" CGO_ENABLED=0 \
  go build -o "$out" "$here/pion_peer.go"
echo "build_pion: built $out from $here/pion_peer.go against $gocode/src/github.com/pion/ice/v2"
