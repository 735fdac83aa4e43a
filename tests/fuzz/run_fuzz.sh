#!/usr/bin/env bash
# Builds the clang/libFuzzer project in tests/fuzz and runs one fuzzer over a
# throw-away copy of its seed corpus (so the repository is never modified).
# Exit status is non-zero on any crash, leak, UB report, timeout or OOM.
#
#   run_fuzz.sh FUZZ_SOURCE_DIR BUILD_DIR TARGET SEED_DIR
#   env: UTURN_FUZZ_SECONDS (default 60), UTURN_FUZZ_JOBS (build -j, default 2)
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 FUZZ_SOURCE_DIR BUILD_DIR TARGET SEED_DIR" >&2
  exit 2
fi
src=$1 build=$2 target=$3 seeds=$4
seconds=${UTURN_FUZZ_SECONDS:-60}
jobs=${UTURN_FUZZ_JOBS:-2}

cxx=$(command -v clang++ || command -v clang++-14 || true)
cc=$(command -v clang || command -v clang-14 || true)
if [[ -z $cxx || -z $cc ]]; then
  echo "run_fuzz.sh: clang/clang++ not found" >&2
  exit 1
fi

cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$build" -j"$jobs" --target "$target"

work=$(mktemp -d "${TMPDIR:-/tmp}/uturn-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/artifacts"
cp "$seeds"/* "$work/corpus/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# -timeout: one input taking 10 s is a hang, not a slow machine.
"$build/$target" -max_total_time="$seconds" -max_len=2048 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$build/artifacts/" "$work/corpus"
