#!/usr/bin/env bash
# Test set-up (a CTest fixture): builds pion's TURN client examples from
# Debian's golang-github-pion-turn.v2-dev source tree, offline, into the build
# tree: examples/turn-client/udp, and with a second argument
# examples/turn-client/tcp (the same client and ping test over a TCP net.Conn
# wrapped by turn.NewSTUNConn, which frames STUN and padded ChannelData).
#   pion_build.sh OUTPUT_BINARY [TCP_OUTPUT_BINARY]
# GOPATH mode (GO111MODULE=off) resolves github.com/pion/... and its
# dependencies from /usr/share/gocode, where Debian's golang-*-dev packages put
# their sources; GOPROXY=off makes any attempt to fetch a module an error
# instead of a download.
set -euo pipefail
out=${1:?usage: pion_build.sh OUTPUT_BINARY [TCP_OUTPUT_BINARY]}
tcp_out=${2:-}
gocode=/usr/share/gocode
pkg=github.com/pion/turn/v2/examples/turn-client/udp
tcp_pkg=github.com/pion/turn/v2/examples/turn-client/tcp

if ! command -v go >/dev/null; then
  echo "FAIL: go not found (apt-get install golang-go, or scripts/install-deps.sh --test)" >&2
  exit 1
fi
for p in $pkg ${tcp_out:+$tcp_pkg}; do
  if [[ ! -d $gocode/src/$p ]]; then
    echo "FAIL: $gocode/src/$p missing (apt-get install golang-github-pion-turn.v2-dev, or scripts/install-deps.sh --test)" >&2
    exit 1
  fi
done

outdir=$(cd "$(dirname "$out")" && pwd)
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
# The build cache lives next to the binary so a second build is instant.
go_build() { # OUTPUT PACKAGE
  env GO111MODULE=off GOPATH="$gopath:$gocode" GOPROXY=off GOFLAGS= GOENV=off GOTOOLCHAIN=local \
    GOCACHE="$outdir/go-cache" CGO_ENABLED=0 \
    go build -o "$1" "$2"
  echo "pion_build: built $1 from $gocode/src/$2"
}
go_build "$out" "$pkg"
if [[ -n $tcp_out ]]; then
  go_build "$tcp_out" "$tcp_pkg"
fi
