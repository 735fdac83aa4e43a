# shellcheck shell=bash
# Shared by the interop libraries (uturn_lib.sh, ice_lite_lib.sh): a work
# directory, the server under test and helper processes killed at exit, and
# failing with the tail of the server's log. The server's log and pid are
# `server_log` and `server_pid`; `server_name` names it in messages.

# interop_init [NAME]: sets work, server_log, server_pid, interop_pids.
# NAME defaults to $interop_server_name (set by the sourcing library).
interop_init() {
  server_name=${1:-${interop_server_name:-server}}
  work=$(mktemp -d)
  server_log=$work/$server_name.log
  server_pid=
  interop_pids=()
  trap interop_cleanup EXIT
}

interop_cleanup() {
  local p
  for p in "${interop_pids[@]}" $server_pid; do
    if kill -0 "$p" 2>/dev/null; then
      # Reaped here so bash prints no "Killed" job notice.
      { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}

fail() {
  echo "FAIL: $*" >&2
  # Stop the server first so its log ends with its final counters.
  if [[ -n ${server_pid:-} ]] && kill -TERM "$server_pid" 2>/dev/null; then
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
  if [[ -s ${server_log:-} ]]; then
    echo "--- $server_name log:" >&2
    tail -n 60 "$server_log" >&2
  fi
  exit 1
}

require_tool() { # NAME HINT
  command -v "$1" >/dev/null || fail "$1 not found ($2, or scripts/install-deps.sh --test)"
}

# wait_ready PATTERN: polls the server log for PATTERN (grep -q), bounded
# (10 s); fails if the server exits first.
wait_ready() {
  local deadline=$((SECONDS + 10))
  until grep -q -- "$1" "$server_log"; do
    kill -0 "$server_pid" 2>/dev/null || fail "$server_name exited before it was ready"
    ((SECONDS < deadline)) || fail "$server_name not ready within 10 s"
    sleep 0.05
  done
}

# stop_server: SIGTERM, and the server must exit 0.
stop_server() {
  kill -TERM "$server_pid"
  local status=0
  wait "$server_pid" || status=$?
  server_pid=
  ((status == 0)) || fail "$server_name exited with $status on SIGTERM"
}

# spawn CMD...: run in the background, killed at exit; sets spawned_pid.
spawn() {
  "$@" &
  spawned_pid=$!
  interop_pids+=("$spawned_pid")
}
