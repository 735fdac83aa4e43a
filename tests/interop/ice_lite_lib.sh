# shellcheck shell=bash
# Sourced by the ice-lite-endpoint interop scripts: start the real endpoint
# on loopback (port 0 everywhere), wait for lines of its JSON event log with
# time bounds (no fixed sleeps), stop it, clean up.
#   source ice_lite_lib.sh; ice_init; start_endpoint BIN [ARGS...]; ...; stop_endpoint

source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.sh"

# The scripts' names for the shared variables (interop_lib.sh).
declare -n ep_log=server_log ep_pid=server_pid ice_pids=interop_pids
ice_init() { interop_init endpoint; }

# wait_log FIXED_STRING SECONDS: until the endpoint log has a line containing it.
wait_log() {
  local deadline=$((SECONDS + $2))
  until grep -qF -- "$1" "$ep_log"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# start_endpoint BIN [ARGS...]: listens on 127.0.0.1 with kernel-picked
# ports; sets http_url, udp_addr.
start_endpoint() {
  local bin=$1
  shift
  [[ -x $bin ]] || fail "endpoint binary $bin not found"
  "$bin" --listen 127.0.0.1:0 --http 127.0.0.1:0 "$@" >"$ep_log" 2>&1 &
  ep_pid=$!
  wait_ready '"event":"ready"'
  local http
  http=$(sed -n 's/.*"event":"listening","transport":"http","address":"\([^"]*\)".*/\1/p' "$ep_log")
  udp_addr=$(sed -n 's/.*"event":"listening","transport":"udp","address":"\([^"]*\)".*/\1/p' "$ep_log")
  [[ -n $http && -n $udp_addr ]] || fail "no listening lines in the endpoint log"
  # shellcheck disable=SC2034 # read by the scripts that source this file
  http_url="http://$http"
}

# stop_endpoint: SIGTERM; it must exit 0 after logging `stopped`.
stop_endpoint() {
  stop_server
  grep -q '"event":"stopped"' "$ep_log" || fail "no stopped line"
}

# The endpoint's log line for EVENT of SESSION (empty if none yet).
session_line() { # EVENT SESSION
  grep -F "\"event\":\"$1\",\"session\":\"$2\"" "$ep_log" | head -n1
}
