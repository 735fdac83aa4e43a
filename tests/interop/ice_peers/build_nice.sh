#!/usr/bin/env bash
# Test set-up (a CTest fixture): builds nice-ice-peer (nice_peer.c), libnice
# wrapped in the ice-peer contract, against Debian's libnice-dev.
#   build_nice.sh OUTPUT_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build_nice.sh OUTPUT_BINARY}
for tool in cc pkg-config; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/install-deps.sh --test)" >&2; exit 1; }
done
pkg-config --exists nice || { echo "FAIL: libnice not found by pkg-config (apt-get install libnice-dev, or scripts/install-deps.sh --test)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046 # pkg-config's flags are meant to split
cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -o "$out" "$here/nice_peer.c" $(pkg-config --cflags --libs nice gio-unix-2.0)
echo "build_nice: built $out against libnice $(pkg-config --modversion nice)"
