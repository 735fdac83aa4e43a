#!/usr/bin/env bash
# Test set-up (a CTest fixture): builds the libnice controlling agent
# (nice/nice_controlling.c) against Debian's libnice-dev.
#   nice_build.sh OUTPUT_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: nice_build.sh OUTPUT_BINARY}
for tool in cc pkg-config; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/install-deps.sh --test)" >&2; exit 1; }
done
pkg-config --exists nice || { echo "FAIL: libnice not found by pkg-config (apt-get install libnice-dev, or scripts/install-deps.sh --test)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046 # pkg-config's flags are meant to split
cc -std=c11 -O1 -g -Wall -Wextra -Werror -o "$out" "$here/nice/nice_controlling.c" $(pkg-config --cflags --libs nice)
echo "nice_build: built $out against libnice $(pkg-config --modversion nice)"
