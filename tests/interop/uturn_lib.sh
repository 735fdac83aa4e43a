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

interop_init() {
  work=$(mktemp -d)
  uturn_log=$work/uturn.log
  uturn_pid=
  interop_pids=()
  trap interop_cleanup EXIT
}

interop_cleanup() {
  local p
  for p in "${interop_pids[@]}" $uturn_pid; do
    if kill -0 "$p" 2>/dev/null; then
      # Reaped here so bash prints no "Killed" job notice.
      { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}

fail() {
  echo "FAIL: $*" >&2
  # Stop uturn first so its log ends with the event=stopped counters.
  if [[ -n ${uturn_pid:-} ]] && kill -TERM "$uturn_pid" 2>/dev/null; then
    wait "$uturn_pid" 2>/dev/null || true
    uturn_pid=
  fi
  if [[ -s ${uturn_log:-} ]]; then
    echo "--- uturn log:" >&2
    tail -n 60 "$uturn_log" >&2
  fi
  exit 1
}

require_tool() { # NAME HINT
  command -v "$1" >/dev/null || fail "$1 not found ($2, or scripts/install-deps.sh --test)"
}

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
  # Readiness: poll the log for event=ready, bounded (10 s).
  local deadline=$((SECONDS + 10))
  until grep -q 'event=ready' "$uturn_log"; do
    kill -0 "$uturn_pid" 2>/dev/null || fail "uturn exited before it was ready"
    ((SECONDS < deadline)) || fail "uturn not ready within 10 s"
    sleep 0.05
  done
  if [[ ${UTURN_IO_BACKEND:-} == epoll ]]; then
    grep -q 'event=io_backend backend=epoll' "$uturn_log" || fail "uturn did not run the epoll backend"
  fi
  uturn_port=$(sed -n 's/.*event=listening transport=udp address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$uturn_log" | head -n1)
  [[ -n $uturn_port ]] || fail "no UDP listening line in the log"
  # The contract: 'level=info event=relay address=IP ports=MIN-MAX' before ready.
  grep -q "event=relay address=127\.0\.0\.1 ports=$min-$max" "$uturn_log" ||
    fail "no 'event=relay address=127.0.0.1 ports=$min-$max' line: is TURN relaying wired into uturn?"
}

# stop_uturn: SIGTERM, and uturn must exit 0.
stop_uturn() {
  kill -TERM "$uturn_pid"
  local status=0
  wait "$uturn_pid" || status=$?
  uturn_pid=
  ((status == 0)) || fail "uturn exited with $status on SIGTERM"
}

# spawn CMD...: run in the background, killed at exit; sets spawned_pid.
spawn() {
  "$@" &
  spawned_pid=$!
  interop_pids+=("$spawned_pid")
}

# port_owned_by PORT PID: is UDP PORT on 127.0.0.1 bound by process PID?
port_owned_by() {
  ss -Hlunp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}
