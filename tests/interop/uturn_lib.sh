# shellcheck shell=bash
# Sourced by the interop scripts: start the real uturn on loopback as a TURN
# server, wait for it, stop it, and clean up whatever was started.
#   source uturn_lib.sh; interop_init; start_uturn UTURN MIN_PORT MAX_PORT; ...; stop_uturn
# Every test gives uturn its own relay port range so tests can run in parallel.
# UTURN_IO_BACKEND (auto, uring, epoll), when set, is passed as --io-backend
# and checked in the log: CTest runs the suite once per backend.
# Ranges sit below the kernel's ephemeral range (32768+), where client sockets
# of the tools would otherwise take the ports.

interop_user=user
interop_pass=pass

source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.sh"

# The scripts' names for the shared server variables; interop_init (no
# argument) names the server "uturn".
interop_server_name=uturn
declare -n uturn_log=server_log uturn_pid=server_pid

# start_uturn UTURN MIN_PORT MAX_PORT [EXTRA ARGS...]: sets uturn_port (UDP).
start_uturn() {
  local bin=$1 min=$2 max=$3
  shift 3
  [[ -x $bin ]] || fail "uturn binary $bin not found"
  local backend=()
  [[ -n ${UTURN_IO_BACKEND:-} ]] && backend=(--io-backend="$UTURN_IO_BACKEND")
  "$bin" --listening-ip 127.0.0.1 --listening-port 0 --relay-ip 127.0.0.1 --allow-loopback-peers \
    --user "$interop_user:$interop_pass" --min-port "$min" --max-port "$max" "${backend[@]}" "$@" \
    2>"$uturn_log" &
  uturn_pid=$!
  wait_ready 'event=ready'
  if [[ ${UTURN_IO_BACKEND:-} == epoll ]]; then
    grep -q 'event=io_backend backend=epoll' "$uturn_log" || fail "uturn did not run the epoll backend"
  fi
  uturn_port=$(sed -n 's/.*event=listening transport=udp address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$uturn_log" | head -n1)
  [[ -n $uturn_port ]] || fail "no UDP listening line in the log"
  # The contract: 'level=info event=relay address=IP ports=MIN-MAX' before ready.
  grep -q "event=relay address=127\.0\.0\.1 ports=$min-$max" "$uturn_log" ||
    fail "no 'event=relay address=127.0.0.1 ports=$min-$max' line: is TURN relaying wired into uturn?"
}

stop_uturn() { stop_server; }

# port_owned_by PORT PID: is UDP PORT on 127.0.0.1 bound by process PID?
port_owned_by() {
  ss -Hlunp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}
