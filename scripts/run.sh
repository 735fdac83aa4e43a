#!/usr/bin/env bash
# Installs dependencies, builds uturn (Release) and runs it in the foreground.
# Extra arguments go to uturn:  scripts/run.sh --listening-port 3479
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target uturn
exec "$root/build/bin/uturn" "$@"
