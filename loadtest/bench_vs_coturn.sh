#!/usr/bin/env bash
# Side-by-side benchmark: uturn against Debian's coturn (`turnserver`), issue 4.
#
# Each run starts a FRESH server pinned to one CPU (default 1), drives it with
# uturn-load pinned to another CPU (default 0), then stops the server by pid.
# Runs alternate uturn/coturn (the order flips every repetition so neither
# server always goes first), and the table gives the median of each metric
# over the repetitions plus the uturn/coturn ratio.
#
# The scaling section runs uturn alone: --relay-threads 1 pinned to the server
# CPU, then --relay-threads 2 on CPUs 0-1, under the bursty load shape offered
# faster than one shard relays; it reports relayed packets/s and packets per
# server CPU-second for each and the 2/1 ratio. On a 2-core machine the
# generator shares the cores with the 2 shards: the ratio is a lower bound.
#
# Only 127.0.0.1 is used. Every run is bounded (uturn-load bounds itself and
# is also wrapped in `timeout`); servers are stopped by pid on exit (trap).
# A benchmark, not a test: not part of CTest. Run it after a Release build
# with benchmarks (cmake -DCMAKE_BUILD_TYPE=Release -DUTURN_BUILD_BENCHMARKS=ON).
#
# Usage: bash loadtest/bench_vs_coturn.sh [--reps R] [--duration S] [--only LIST]
#          [--out DIR] [--build DIR] [--server-cpu N] [--load-cpu N]
#          [--scaling-rate PPS]
#   LIST: comma-separated subset of bursty,media,latency,alloc,scaling
#         (default all; e.g. --only scaling for a quick check)
#   --scaling-rate: packets/s offered in the scaling section (default 300000)
set -euo pipefail

reps=3
duration=5
only="bursty,media,latency,alloc,scaling"
scaling_rate=300000
out=""
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
server_cpu=1
load_cpu=0

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --server-cpu) server_cpu="$2"; shift 2 ;;
    --load-cpu) load_cpu="$2"; shift 2 ;;
    --scaling-rate) scaling_rate="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "--reps must be a positive integer" >&2; exit 2; }
[[ "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--duration must be a number of seconds" >&2; exit 2; }
[[ "$scaling_rate" =~ ^[1-9][0-9]*$ ]] || { echo "--scaling-rate must be a positive integer" >&2; exit 2; }

uturn_bin="$build/bin/uturn"
load_bin="$build/bin/uturn-load"
for b in "$uturn_bin" "$load_bin"; do
  [[ -x "$b" ]] || { echo "missing $b (build it first)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }

loads=()      # uturn vs coturn
scaling=0     # uturn 1 shard vs 2 shards
IFS=',' read -r -a wanted <<<"$only"
for l in "${wanted[@]}"; do
  case "$l" in
    bursty|media|latency|alloc) loads+=("$l") ;;
    scaling) scaling=1 ;;
    *) echo "unknown section '$l' (bursty, media, latency, alloc, scaling)" >&2; exit 2 ;;
  esac
done
if (( ${#loads[@]} > 0 )); then
  command -v turnserver >/dev/null || { echo "coturn's turnserver not found (apt-get install coturn)" >&2; exit 2; }
fi

[[ -n "$out" ]] || out="$(mktemp -d /tmp/bench_vs_coturn.XXXXXX)"
mkdir -p "$out"

# Same credentials for both servers. Listening ports and relay ranges are
# disjoint and below the kernel's ephemeral range (32768-60999 by default),
# so relay ports never collide with the generator's client sockets.
user="u:p"
realm="bench"
host="127.0.0.1"
uturn_port=7478
coturn_port=7488
uturn_min=8000;  uturn_max=19999
coturn_min=20000; coturn_max=31999

# 10,000 allocations need more than 10,000 descriptors in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=""
stop_server() {
  local pid="$server_pid"
  [[ -n "$pid" ]] || return 0
  server_pid=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

port_of() { [[ "$1" == uturn ]] && echo "$uturn_port" || echo "$coturn_port"; }

start_server() {  # $1 = uturn|coturn, $2 = log file, [$3 = uturn shards, $4 = CPU list]
  local which="$1" log="$2" shards="${3:-1}" cpus="${4:-$server_cpu}"
  if [[ "$which" == uturn ]]; then
    taskset -c "$cpus" "$uturn_bin" --listening-ip "$host" --listening-port "$uturn_port" \
      --no-tcp --relay-ip "$host" --min-port "$uturn_min" --max-port "$uturn_max" \
      --relay-threads "$shards" --realm "$realm" --user "$user" --allow-loopback-peers \
      >"$log" 2>&1 &
  else
    # -n: no config file; one relay thread; UDP only; no CLI, TLS, DTLS or RFC 5780.
    taskset -c "$server_cpu" turnserver -n --listening-ip "$host" -p "$coturn_port" \
      --relay-ip "$host" --min-port "$coturn_min" --max-port "$coturn_max" \
      --relay-threads 1 --no-tls --no-dtls --no-tcp --no-tcp-relay --no-cli --no-rfc5780 \
      --lt-cred-mech --realm "$realm" --user "$user" --allow-loopback-peers \
      --db "$out/coturn.sqlite" --log-file stdout --simple-log \
      >"$log" 2>&1 &
  fi
  server_pid=$!
  local port; port="$(port_of "$which")"
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || { echo "$which exited at start; see $log" >&2; server_pid=""; return 1; }
    if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "$which did not open UDP $host:$port within 10 s; see $log" >&2
  stop_server
  return 1
}

load_args() {  # uturn-load options of one load (172-byte payloads throughout)
  case "$1" in
    bursty)  echo "--allocations 64 --burst 32 --rate 150000 --duration $duration" ;;
    media)   echo "--allocations 1000 --burst 1 --rate 50000 --duration $duration" ;;
    latency) echo "--allocations 100 --rate 20000 --echo --duration $duration" ;;
    alloc)   echo "--allocations 10000 --window 256 --alloc-only" ;;
  esac
}

run_one() {  # $1 = load, $2 = server, $3 = rep
  local load="$1" which="$2" rep="$3"
  local base="$out/$load.$which.$rep"
  start_server "$which" "$base.server.log" || { echo "  $load $which rep $rep: server did not start" >&2; return 0; }
  # shellcheck disable=SC2046
  if timeout 180 taskset -c "$load_cpu" "$load_bin" --server "$host:$(port_of "$which")" \
       --user "$user" --payload 172 $(load_args "$load") --server-pid "$server_pid" \
       --json --quiet >"$base.json" 2>"$base.load.log"; then
    echo "  $load $which rep $rep: ok" >&2
  else
    echo "  $load $which rep $rep: uturn-load exit $? (see $base.load.log)" >&2
    mv "$base.json" "$base.failed.json" 2>/dev/null || true
  fi
  stop_server
}

# Scaling: the bursty shape (64 allocations, bursts of 32) offered at
# --scaling-rate, against uturn with 1 shard on the server CPU, then with 2
# shards on CPUs 0-1 (where the generator runs too).
scaling_cpus="0-$(( $(nproc) > 1 ? 1 : 0 ))"
run_scaling() {  # $1 = shards (1|2), $2 = rep
  local shards="$1" rep="$2"
  local base="$out/scaling.s$shards.$rep" cpus="$server_cpu"
  (( shards == 1 )) || cpus="$scaling_cpus"
  start_server uturn "$base.server.log" "$shards" "$cpus" || { echo "  scaling $shards shard(s) rep $rep: server did not start" >&2; return 0; }
  if timeout 180 taskset -c "$load_cpu" "$load_bin" --server "$host:$uturn_port" --user "$user" \
       --payload 172 --allocations 64 --burst 32 --rate "$scaling_rate" --duration "$duration" \
       --server-pid "$server_pid" --json --quiet >"$base.json" 2>"$base.load.log"; then
    echo "  scaling $shards shard(s) on CPU $cpus rep $rep: ok" >&2
  else
    echo "  scaling $shards shard(s) rep $rep: uturn-load exit $? (see $base.load.log)" >&2
    mv "$base.json" "$base.failed.json" 2>/dev/null || true
  fi
  stop_server
}

echo "results in $out; reps $reps, duration ${duration}s, loads ${loads[*]:-none}, scaling $([[ $scaling == 1 ]] && echo yes || echo no)" >&2
echo "server on CPU $server_cpu, uturn-load on CPU $load_cpu; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq "$reps"); do
  # Flip the order each repetition so drift in machine load hits both.
  if (( rep % 2 )); then order=(uturn coturn); shard_order=(1 2); else order=(coturn uturn); shard_order=(2 1); fi
  for load in "${loads[@]}"; do
    for which in "${order[@]}"; do run_one "$load" "$which" "$rep"; done
  done
  if (( scaling )); then
    for shards in "${shard_order[@]}"; do run_scaling "$shards" "$rep"; done
  fi
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if (( ${#loads[@]} > 0 )); then
PYTHONPATH="$root/loadtest" python3 - "$out" "$reps" "${loads[@]}" <<'PY'
import bench_lib
import json, os, statistics, sys

out, reps, loads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def runs(load, which):
    return bench_lib.runs(out, reps, f"{load}.{which}")

med = bench_lib.med

# (load, label, extractor, target kind, target value)
#   ratio_ge: uturn/coturn >= x; ratio_le: uturn/coturn <= x; abs_le: uturn <= x
data, loss_pct = bench_lib.data, bench_lib.loss_pct
rows = {
    "bursty": [
        ("relayed pkts/CPU-s", lambda j: j.get("relayed_per_cpu_second"), "ratio_ge", 2.5),
        ("delivered pps", data("delivered_pps"), None, None),
        ("loss %", loss_pct, "abs_le", 0.1),
        ("generator relayed pkts/CPU-s", lambda j: j.get("client_relayed_per_cpu_second"), None, None),
    ],
    "media": [
        ("relayed pkts/CPU-s", lambda j: j.get("relayed_per_cpu_second"), "ratio_ge", 3.0),
        ("delivered pps", data("delivered_pps"), None, None),
        ("loss %", loss_pct, "abs_le", 0.1),
        ("generator relayed pkts/CPU-s", lambda j: j.get("client_relayed_per_cpu_second"), None, None),
    ],
    "latency": [
        ("RTT p50 us", lambda j: ((j.get("data") or {}).get("rtt_us") or {}).get("p50"), None, None),
        ("RTT p99 us", lambda j: ((j.get("data") or {}).get("rtt_us") or {}).get("p99"), "ratio_le", 1.0),
        ("loss %", loss_pct, None, None),
    ],
    "alloc": [
        ("allocations/s", lambda j: (j.get("allocations") or {}).get("per_second"), "ratio_ge", 20.0),
        ("RSS bytes/alloc", lambda j: (j.get("allocations") or {}).get("rss_bytes_per_allocation"), "abs_le", 2048.0),
    ],
}
names = {"bursty": "bursty (64 alloc, burst 32, 150k pps)",
         "media": "media-like (1000 alloc, 50k pps)",
         "latency": "latency (100 alloc, echo, 20k pps)",
         "alloc": "alloc-only (10,000 alloc)"}

def fmt(v):
    if v is None: return "n/a"
    if abs(v) >= 1000: return f"{v:,.0f}"
    if abs(v) >= 10: return f"{v:.1f}"
    return f"{v:.3f}"

print(f"| load | metric | uturn | coturn | uturn/coturn | target | verdict |")
print(f"|---|---|---:|---:|---:|---|---|")
for load in loads:
    u_runs, c_runs = runs(load, "uturn"), runs(load, "coturn")
    for label, get, kind, x in rows[load]:
        u = med([get(j) for j in u_runs])
        c = med([get(j) for j in c_runs])
        ratio = (u / c) if (u is not None and c not in (None, 0)) else None
        target, verdict = "", ""
        if kind == "ratio_ge":
            target = f"≥{x:g}×"
            verdict = "n/a" if ratio is None else ("met" if ratio >= x else "missed")
        elif kind == "ratio_le":
            target = f"≤{x:g}× (no worse)"
            verdict = "n/a" if ratio is None else ("met" if ratio <= x else "missed")
        elif kind == "abs_le":
            target = f"uturn ≤{x:g}"
            verdict = "n/a" if u is None else ("met" if u <= x else "missed")
        ratio_s = "n/a" if ratio is None else f"{ratio:.2f}"
        print(f"| {names[load]} | {label} | {fmt(u)} | {fmt(c)} | {ratio_s} | {target} | {verdict} |")
    print(f"| {names[load]} | runs used (uturn/coturn) | {len(u_runs)} | {len(c_runs)} | | | |")
PY
fi

if (( scaling )); then
echo
echo "Shard scaling (uturn only; bursty shape: 64 allocations, bursts of 32, ${scaling_rate} pps offered):"
echo "1 shard pinned to CPU $server_cpu; 2 shards on CPUs $scaling_cpus; uturn-load on CPU $load_cpu."
if (( $(nproc) <= 2 )); then
  echo "NOTE: this machine has $(nproc) CPUs, so the generator shares the cores with the 2 shards:"
  echo "the 2-shard figures, and so the scaling ratio, are a lower bound."
fi
PYTHONPATH="$root/loadtest" python3 - "$out" "$reps" <<'PY'
import bench_lib
import json, os, statistics, sys

out, reps = sys.argv[1], int(sys.argv[2])

def runs(shards):
    return bench_lib.runs(out, reps, f"scaling.s{shards}")

med, data, loss_pct = bench_lib.med, bench_lib.data, bench_lib.loss_pct

def fmt(v):
    if v is None: return "n/a"
    if abs(v) >= 1000: return f"{v:,.0f}"
    if abs(v) >= 10: return f"{v:.1f}"
    return f"{v:.3f}"

rows = [
    ("relayed pkts/s (delivered pps)", data("delivered_pps"), True),
    ("relayed pkts/CPU-s (server)", lambda j: j.get("relayed_per_cpu_second"), True),
    ("server CPU-s", lambda j: j.get("server_cpu_seconds"), True),
    ("sent pps", data("sent_pps"), True),
    ("loss %", loss_pct, False),
    ("generator CPU-s", lambda j: j.get("client_cpu_seconds"), True),
]
one, two = runs(1), runs(2)
print("| metric | 1 shard | 2 shards | 2/1 |")
print("|---|---:|---:|---:|")
for label, get, want_ratio in rows:
    a, b = med([get(j) for j in one]), med([get(j) for j in two])
    ratio = f"{b / a:.2f}" if (want_ratio and a not in (None, 0) and b is not None) else ""
    print(f"| {label} | {fmt(a)} | {fmt(b)} | {ratio} |")
print(f"| runs used | {len(one)} | {len(two)} | |")
PY
fi
