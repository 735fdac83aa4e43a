#!/usr/bin/env bash
# ICE-lite benchmark (issue 5): connectivity checks answered per server
# CPU-second by ice-lite-endpoint (USERNAME, PRIORITY, ICE-CONTROLLING,
# USE-CANDIDATE, short-term MESSAGE-INTEGRITY and FINGERPRINT verified, a
# success response with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and
# FINGERPRINT built), next to the plain Binding answer rate of Debian's
# coturn and of uturn on the same machine.
#
# Each run starts a fresh server pinned to one CPU (default 1) and drives it
# with ice-check-load pinned to another (default 0). For the endpoint, the
# script first creates --sessions sessions through POST /whip (curl) and
# hands their credentials to the generator, one socket per session. Runs
# alternate between the servers; the table gives medians and the ratios.
# A benchmark, not a test: CTest does not run it.
#
# Usage: bash loadtest/bench_ice_lite.sh [--reps R] [--duration S] [--rate PPS]
#          [--sessions N] [--build DIR] [--server-cpu N] [--load-cpu N] [--out DIR]
set -euo pipefail

reps=3
duration=5
rate=150000
sessions=64
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
server_cpu=1
load_cpu=0
out=""

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --sessions) sessions="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --server-cpu) server_cpu="$2"; shift 2 ;;
    --load-cpu) load_cpu="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "--reps must be a positive integer" >&2; exit 2; }
[[ "$sessions" =~ ^[1-9][0-9]*$ ]] || { echo "--sessions must be a positive integer" >&2; exit 2; }

endpoint_bin="$build/bin/ice-lite-endpoint"
uturn_bin="$build/bin/uturn"
load_bin="$build/bin/ice-check-load"
for b in "$endpoint_bin" "$uturn_bin" "$load_bin"; do
  [[ -x "$b" ]] || { echo "missing $b (build it first)" >&2; exit 2; }
done
for t in turnserver curl python3 taskset; do
  command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }
done
[[ -n "$out" ]] || out="$(mktemp -d /tmp/bench_ice_lite.XXXXXX)"
mkdir -p "$out"

host=127.0.0.1
ice_port=7590; http_port=7591; coturn_port=7592; uturn_port=7593
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT INT TERM

# Waits until `pattern` appears in `file` (10 s at most).
wait_for() {
  local file="$1" pattern="$2"
  for _ in $(seq 100); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$pattern' in $file" >&2
  return 1
}

# A minimal WebRTC-shaped offer (one data channel section) from client
# credentials $1/$2.
offer() {
  printf 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n'
  printf 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n'
  printf 'a=mid:0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n' "$1" "$2"
  printf 'a=fingerprint:sha-256 %s\r\n' \
    "$(python3 -c 'print(":".join(["AB"]*32))')"
  printf 'a=setup:actpass\r\na=sctp-port:5000\r\n'
}

start() {  # start WHICH LOGFILE
  case "$1" in
    endpoint)
      taskset -c "$server_cpu" "$endpoint_bin" --listen "$host:$ice_port" \
        --http "$host:$http_port" >"$2" 2>&1 &
      server_pid=$!
      wait_for "$2" '"ready"' ;;
    coturn)
      taskset -c "$server_cpu" turnserver -n --listening-ip "$host" -p "$coturn_port" \
        --relay-threads 1 --no-tls --no-dtls --no-tcp --no-cli --no-rfc5780 \
        --log-file stdout --simple-log >"$2" 2>&1 &
      server_pid=$!
      for _ in $(seq 100); do ss -lun | grep -q ":$coturn_port " && break; sleep 0.1; done ;;
    uturn)
      taskset -c "$server_cpu" "$uturn_bin" --listening-ip "$host" --listening-port "$uturn_port" \
        --no-tcp --relay-threads 1 --user u:p --realm bench >"$2" 2>&1 &
      server_pid=$!
      wait_for "$2" 'event=ready' ;;
  esac
}

run() {  # run WHICH REP
  local which="$1" rep="$2" base="$out/$1.$2"
  start "$which" "$base.server.log"
  local args=(--server "$host:$uturn_port")
  case "$which" in
    endpoint)
      : >"$base.creds"
      for i in $(seq "$sessions"); do
        local cu cp answer
        cu="bench$i$rep"; cp="benchpasswordbenchpassword$i"
        answer=$(offer "$cu" "$cp" | curl -sS -f -X POST -H 'Content-Type: application/sdp' \
          --data-binary @- "http://$host:$http_port/whip")
        local su sp
        su=$(sed -n 's/^a=ice-ufrag:\([^\r]*\).*/\1/p' <<<"$answer" | head -1)
        sp=$(sed -n 's/^a=ice-pwd:\([^\r]*\).*/\1/p' <<<"$answer" | head -1)
        [[ -n "$su" && -n "$sp" ]] || { echo "no credentials in the answer" >&2; exit 1; }
        echo "$su $cu $sp" >>"$base.creds"
      done
      args=(--server "$host:$ice_port" --credentials "$base.creds" --sockets "$sessions") ;;
    coturn) args=(--server "$host:$coturn_port") ;;
  esac
  taskset -c "$load_cpu" timeout 120 "$load_bin" "${args[@]}" --rate "$rate" \
    --duration "$duration" --server-pid "$server_pid" --json >"$base.json"
  stop_server
  echo "  $which rep $rep: $(cat "$base.json")" >&2
}

echo "server on CPU $server_cpu, ice-check-load on CPU $load_cpu, $rate checks/s offered," \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq "$reps"); do
  if (( rep % 2 )); then order=(endpoint coturn uturn); else order=(uturn coturn endpoint); fi
  for which in "${order[@]}"; do run "$which" "$rep"; done
done

python3 - "$out" "$reps" <<'EOF'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def med(which, key):
    vals = [json.load(open(f"{out}/{which}.{r}.json"))[key] for r in range(1, reps + 1)]
    return statistics.median(vals)
rows = [("answered per server CPU-s", "answered_per_server_cpu_second"),
        ("answered per second", "answered_per_second"),
        ("not success (error responses)", "not_success")]
print("| metric | ice-lite-endpoint (ICE checks) | coturn (Binding) | uturn (Binding) | endpoint/coturn |")
print("|---|---:|---:|---:|---:|")
for label, key in rows:
    e, c, u = med("endpoint", key), med("coturn", key), med("uturn", key)
    ratio = f"{e / c:.2f}" if c else "n/a"
    print(f"| {label} | {e:,.0f} | {c:,.0f} | {u:,.0f} | {ratio} |")
EOF
echo "per-run JSON and logs: $out" >&2
