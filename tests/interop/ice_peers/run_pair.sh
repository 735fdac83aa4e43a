#!/usr/bin/env bash
# Runs two ice-peer contract programs (../shared/ICE-PEER.md) against each
# other: A's stdout is B's stdin and B's stdout is A's stdin (each copied to a
# log by tee). Peers started with --send exit on their own; the others get
# SIGTERM once those have exited (or, when neither sends, once both have
# connected). Then, for each peer: exit status 0, event=connected, and the last
# event=selected naming local type EXPECT (`any` accepts every type).
#   run_pair.sh 'CMD_A' 'CMD_B' EXPECT_A EXPECT_B [TIMEOUT_S]
# On success prints both peers' event=selected lines; on failure every log.
# RUN_PAIR_KEEP=DIR keeps the logs in DIR (for the lab and benchmarks); the
# peers' pids are in DIR/a.pid and DIR/b.pid while they run (to SIGSTOP one).
set -euo pipefail
cmd_a=${1:?usage: run_pair.sh CMD_A CMD_B EXPECT_A EXPECT_B [TIMEOUT_S]}
cmd_b=${2:?CMD_B}
# expect_a/expect_b are read through ${!name}.
# shellcheck disable=SC2034
{
  expect_a=${3:?EXPECT_A}
  expect_b=${4:?EXPECT_B}
}
limit=${5:-60}

work=${RUN_PAIR_KEEP:-$(mktemp -d)}
mkdir -p "$work"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true; fi
  done
  [[ -n ${RUN_PAIR_KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

dump() {
  local s
  for s in a b; do
    echo "--- peer $s: $(cat "$work/$s.cmd")" >&2
    echo "--- $s stdout:" >&2; cat "$work/$s.out" >&2 || true
    echo "--- $s stderr:" >&2; cat "$work/$s.err" >&2 || true
  done
}
fail() { echo "FAIL: $*" >&2; dump; exit 1; }

rm -f "$work"/{a,b}.{raw,in,out,err,cmd,pid}
mkfifo "$work/a.raw" "$work/b.raw" "$work/a.in" "$work/b.in"
printf '%s\n' "$cmd_a" >"$work/a.cmd"
printf '%s\n' "$cmd_b" >"$work/b.cmd"
# Each peer opens its stdout before its stdin, so every FIFO finds its other
# end: peer -> X.raw -> tee -> (X.out, the other's .in).
tee "$work/a.out" <"$work/a.raw" >"$work/b.in" &
pids+=($!)
tee "$work/b.out" <"$work/b.raw" >"$work/a.in" &
pids+=($!)
bash -c "exec $cmd_a" >"$work/a.raw" <"$work/a.in" 2>"$work/a.err" &
pid_a=$!
pids+=("$pid_a")
bash -c "exec $cmd_b" >"$work/b.raw" <"$work/b.in" 2>"$work/b.err" &
pid_b=$!
pids+=("$pid_b")
echo "$pid_a" >"$work/a.pid"
echo "$pid_b" >"$work/b.pid"

sends() { [[ " $1 " == *" --send "* ]]; }
alive() { kill -0 "$1" 2>/dev/null; }
status_a=
status_b=
reap() { # NAME PID: collect the exit status of a peer that has exited
  local st=0
  wait "$2" || st=$?
  printf -v "status_$1" '%s' "$st"
}

deadline=$((SECONDS + limit))
while [[ -z $status_a || -z $status_b ]]; do
  ((SECONDS < deadline)) || fail "peers still running after ${limit} s"
  [[ -z $status_a ]] && ! alive "$pid_a" && reap a "$pid_a"
  [[ -z $status_b ]] && ! alive "$pid_b" && reap b "$pid_b"
  # Who still runs only because nobody told it to stop?
  waiting=0
  { [[ -z $status_a ]] && sends "$cmd_a"; } && waiting=1
  { [[ -z $status_b ]] && sends "$cmd_b"; } && waiting=1
  if ! sends "$cmd_a" && ! sends "$cmd_b"; then
    grep -q '^event=connected' "$work/a.err" && grep -q '^event=connected' "$work/b.err" || waiting=1
  fi
  if ((waiting == 0)); then
    [[ -z $status_a ]] && kill -TERM "$pid_a" 2>/dev/null && reap a "$pid_a"
    [[ -z $status_b ]] && kill -TERM "$pid_b" 2>/dev/null && reap b "$pid_b"
  fi
  sleep 0.05
done

for s in a b; do
  st_var=status_$s expect_var=expect_$s
  st=${!st_var} expect=${!expect_var}
  ((st == 0)) || fail "peer $s exited with $st"
  grep -q '^event=connected' "$work/$s.err" || fail "peer $s never printed event=connected"
  sel=$(grep '^event=selected' "$work/$s.err" | tail -n1)
  [[ -n $sel ]] || fail "peer $s printed no event=selected"
  if [[ $expect != any && $sel != *"local_type=$expect "* ]]; then
    fail "peer $s selected '$sel', expected local_type=$expect"
  fi
  echo "peer $s: $sel"
  grep '^event=data' "$work/$s.err" | tail -n1 | sed "s/^/peer $s: /"
done
