#!/usr/bin/env bash
# Time to connected (issue 10): for each NAT lab case (tests/natlab/), how long
# two ICE agents take from their start to their event=connected line, with
# uturn-ice <-> uturn-ice, libnice <-> libnice and pion/ice <-> pion/ice side by
# side in one run. Also their CPU time and peak RSS at that moment.
#
# Every run builds a fresh lab (tests/natlab/natlab_case.sh, as root) and
# takes the runner's timestamps: peer start, and the moment each peer's
# event=connected line reaches the runner. Runs go round robin over the
# agents, so that a slow phase of the machine hits every agent alike. The
# table gives median and p95 (nearest rank) for the controlling side (a) and
# the controlled side (b), and how many runs failed. A benchmark, not a test:
# CTest runs it once, as a smoke test, with --runs 1. Exits 1 (after the
# table) if any run failed; the failed runs' logs are kept with --out.
#
# Usage: bash loadtest/bench_ice_connect.sh [--runs N] [--cases "C ..."]
#          [--agents "uturn nice pion"] [--build DIR] [--out DIR]
#   --runs N     runs per case and agent (default 20)
#   --cases      lab cases (default: nonat cone symmetric public_symmetric
#                role_conflict loss; restart and consent connect as cone does)
#   --agents     any of uturn, nice, pion (default all three)
#   --build DIR  build tree with bin/uturn, bin/uturn-ice and the interop
#                peers in tests/interop/ice_peers/ (default: build/)
#   --out DIR    keep the raw timings there (default: a temporary dir)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs=20
cases="nonat cone symmetric public_symmetric role_conflict loss"
agents="uturn nice pion"
build="$root/build"
out=""

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --cases) cases=${2:?}; shift 2 ;;
    --agents) agents=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench_ice_connect.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "--runs: a positive count" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench_ice_connect.sh: python3 not found" >&2; exit 1; }

runner=$root/tests/natlab/natlab_case.sh
uturn=$build/bin/uturn
declare -A peer=(
  [uturn]=$build/bin/uturn-ice
  [nice]=$build/tests/interop/ice_peers/nice-ice-peer
  [pion]=$build/tests/interop/ice_peers/pion-ice-peer
)
# pion/ice names its base as a pair's local candidate (natlab_case.sh
# --base-local), and cannot resolve a role conflict (it ignores 487).
declare -A runner_args=([uturn]="" [nice]="" [pion]="--base-local a --base-local b")
skip() { [[ $1 == pion && $2 == role_conflict ]]; }

[[ -x $uturn ]] || { echo "bench_ice_connect.sh: $uturn not built" >&2; exit 1; }
for agent in $agents; do
  [[ -n ${peer[$agent]:-} ]] || { echo "unknown agent '$agent' (uturn, nice, pion)" >&2; exit 2; }
  [[ -x ${peer[$agent]} ]] || {
    echo "bench_ice_connect.sh: ${peer[$agent]} missing: build uturn-ice, or run" \
      "tests/interop/ice_peers/build_{nice,pion}.sh (or ctest -R ice_peer_)" >&2
    exit 1
  }
done

if [[ -z $out ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
timings=$out/timings.logfmt
results=$out/results.logfmt
: >"$timings"
: >"$results"

echo "bench_ice_connect: $runs run(s) x cases [$cases] x agents [$agents]" >&2
for ((run = 1; run <= runs; run++)); do
  for c in $cases; do
    for agent in $agents; do
      skip "$agent" "$c" && continue
      # shellcheck disable=SC2086 # runner_args are separate words
      if bash "$runner" --uturn "$uturn" --timings "$timings" --connect-only ${runner_args[$agent]} \
        "$c" "${peer[$agent]}" "${peer[$agent]}" >"$out/last.log" 2>&1; then
        echo "case=$c agent=$agent run=$run result=pass" >>"$results"
      else
        echo "case=$c agent=$agent run=$run result=fail" >>"$results"
        cp "$out/last.log" "$out/fail-$c-$agent-$run.log"
        echo "  run $run $c $agent: FAIL ($(grep -m1 '^FAIL' "$out/last.log" || true))" >&2
      fi
    done
  done
  echo "  run $run/$runs done" >&2
done

python3 - "$timings" "$results" "$cases" "$agents" <<'EOF'
import sys
from collections import defaultdict

timings_file, results_file, cases, agents = sys.argv[1:5]
names = {"uturn": "uturn-ice", "nice": "libnice", "pion": "pion/ice"}
peer_of = {"uturn-ice": "uturn", "nice-ice-peer": "nice", "pion-ice-peer": "pion"}

def logfmt(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

def pct(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[int(k)]

data = defaultdict(lambda: defaultdict(list))  # (case, agent) -> key -> values
for line in open(timings_file):
    r = logfmt(line)
    key = (r["case"], peer_of.get(r["peer"], r["peer"]))
    side = r["side"]
    data[key]["ms_" + side].append(float(r["connect_ms"]))
    if r.get("cpu_ms"):
        data[key]["cpu"].append(float(r["cpu_ms"]))
    if r.get("rss_kb"):
        data[key]["rss"].append(float(r["rss_kb"]) / 1024)
    data[key]["pairs"].append(r.get("pair", "?"))
runs = defaultdict(lambda: [0, 0])
for line in open(results_file):
    r = logfmt(line)
    runs[(r["case"], r["agent"])][r["result"] == "fail"] += 1

any_failed = False
print("| case | agent | a median ms | a p95 ms | b median ms | b p95 ms "
      "| CPU ms at connect (median) | peak RSS MiB (median) | pair (a) | failed |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
for c in cases.split():
    for agent in agents.split():
        key = (c, agent)
        ok, failed = runs.get(key, (0, 0))
        if ok + failed == 0:
            print(f"| {c} | {names[agent]} | n/a | | | | | | | |")
            continue
        d = data[key]
        def cell(k, p, fmt="{:.0f}"):
            return fmt.format(pct(d[k], p)) if d[k] else "-"
        pairs = ", ".join(sorted(set(d["pairs"][0::2]))) or "-"
        any_failed = any_failed or failed > 0
        print(f"| {c} | {names[agent]} | {cell('ms_a', 50)} | {cell('ms_a', 95)} "
              f"| {cell('ms_b', 50)} | {cell('ms_b', 95)} | {cell('cpu', 50, '{:.1f}')} "
              f"| {cell('rss', 50, '{:.1f}')} | {pairs} | {failed}/{ok + failed} |")
sys.exit(1 if any_failed else 0)
EOF
