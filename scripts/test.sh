#!/usr/bin/env bash
# Installs dependencies and test tools, builds everything (Release, warnings
# are errors) and runs every test layer through CTest. The CTest summary is the
# last thing printed; the exit status is non-zero if anything failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
jobs=$(nproc)
((jobs > 2)) && jobs=2
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DUTURN_WERROR=ON
cmake --build "$root/build" -j"$jobs"
cd "$root"
exec ctest --test-dir build --output-on-failure -j2
