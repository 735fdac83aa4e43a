#!/usr/bin/env bash
# Interop: two full ICE agents that speak ../shared/ICE-PEER.md connect on
# loopback and exchange the contract's datagrams. A is controlling and sends
# 100 datagrams, B is controlled and echoes them; both must connect, select a
# pair of the expected type and A must get >= 90% of its datagrams back.
#   ice_pair_test.sh host|restart|conflict|consent PEER_A PEER_B
#   ice_pair_test.sh relay PEER_A PEER_B UTURN MIN_PORT MAX_PORT
# host: host candidates on 127.0.0.1, host/host expected. restart: the same,
# A restarts ICE 1 s after connecting (--restart-after 1): both must print
# event=restarted, select a pair again and the echoes keep coming. conflict:
# B is started --controlling too (RFC 8445 §7.3.1.1 must sort it out).
# consent: once A has connected, B is stopped (SIGSTOP): A must print
# event=disconnected and event=failed reason=consent (RFC 7675) and exit 1
# within 45 s. relay:
# the real uturn as TURN server (../uturn_lib.sh), both --relay-only,
# relay/relay expected, and uturn must count the relayed datagrams. PEER_* are
# binaries (extra flags may follow them, quoted: 'nice-ice-peer --nomination
# aggressive').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: ice_pair_test.sh host|relay PEER_A PEER_B [UTURN MIN MAX]}
peer_a=${2:?PEER_A}
peer_b=${3:?PEER_B}
# shellcheck source-path=SCRIPTDIR source=../uturn_lib.sh
source "$here/../uturn_lib.sh"
interop_init uturn

for p in "$peer_a" "$peer_b"; do
  bin=${p%% *}
  [[ -x $bin ]] || fail "peer $bin not found (its build fixture builds it)"
done

flags="--bind 127.0.0.1 --timeout 20"
role_b=--controlled
extra_a=
case $mode in
  host) expect=host ;;
  restart) expect=host extra_a="--restart-after 1" ;;
  conflict) expect=host role_b=--controlling ;;
  consent) expect=host ;;
  relay)
    start_uturn "${4:?UTURN}" "${5:?MIN_PORT}" "${6:?MAX_PORT}"
    flags+=" --relay-only --turn 127.0.0.1:$uturn_port --turn-user $interop_user --turn-pass $interop_pass"
    expect=relay
    ;;
  *) fail "mode must be host or relay" ;;
esac

if [[ $mode == consent ]]; then
  # A sends for up to 60 s; it must give up on its own when B stops.
  RUN_PAIR_KEEP=$work/pair bash "$here/run_pair.sh" "$peer_a --controlling $flags --send 3000" \
    "$peer_b --controlled $flags --echo" host host 70 >"$work/pair.log" 2>&1 &
  spawned=$!
  interop_pids+=("$spawned")
  deadline=$((SECONDS + 20))
  until grep -q '^event=connected' "$work/pair/a.err" 2>/dev/null && [[ -s $work/pair/b.pid ]]; do
    ((SECONDS < deadline)) || { cat "$work/pair.log"; fail "A did not connect within 20 s"; }
    sleep 0.05
  done
  b_pid=$(cat "$work/pair/b.pid")
  interop_pids+=("$b_pid")
  kill -STOP "$b_pid"
  stopped_at=$SECONDS
  deadline=$((SECONDS + 45))
  until ! kill -0 "$(cat "$work/pair/a.pid")" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "A still running 45 s after B was stopped"
    sleep 0.1
  done
  took=$((SECONDS - stopped_at))
  kill -CONT "$b_pid" 2>/dev/null || true
  wait "$spawned" || true
  grep -v '^level=debug' "$work/pair/a.err"
  grep -q '^event=disconnected reason=consent' "$work/pair/a.err" || fail "A printed no event=disconnected reason=consent"
  grep -q '^event=failed reason=consent' "$work/pair/a.err" || fail "A printed no event=failed reason=consent"
  grep -q '^FAIL: peer a exited with 1$' "$work/pair.log" || { cat "$work/pair.log"; fail "A did not exit 1 after losing consent"; }
  echo "PASS: consent lost, $(basename "${peer_a%% *}") gave up ${took} s after $(basename "${peer_b%% *}") was stopped"
  exit 0
fi
set +e
out=$(RUN_PAIR_KEEP=$work/pair bash "$here/run_pair.sh" "$peer_a --controlling $flags $extra_a --send 100" \
  "$peer_b $role_b $flags --echo" "$expect" "$expect" 45 2>&1)
rc=$?
set -e
echo "$out"
((rc == 0)) || fail "the peers did not connect and echo (run_pair.sh exit $rc)"
# Both sides name the same pair, mirrored.
sel_a=$(sed -n 's/^peer a: event=selected .* local=\([^ ]*\) remote=\([^ ]*\)$/\1 \2/p' <<<"$out")
sel_b=$(sed -n 's/^peer b: event=selected .* local=\([^ ]*\) remote=\([^ ]*\)$/\2 \1/p' <<<"$out")
[[ -n $sel_a && $sel_a == "$sel_b" ]] || fail "the peers name different pairs: a '$sel_a', b mirrored '$sel_b'"
if [[ $mode == restart ]]; then
  for s in a b; do
    grep -q '^event=restarted' "$work/pair/$s.err" || fail "peer $s never printed event=restarted"
    # A pair is selected again after the restart.
    sed -n '/^event=restarted/,$p' "$work/pair/$s.err" | grep -q '^event=selected' ||
      fail "peer $s selected no pair after its restart"
  done
fi
if [[ $mode == relay ]]; then
  for addr in $sel_a; do
    port=${addr##*:}
    ((port >= $5 && port <= $6)) || fail "selected relayed address $addr outside uturn's ports $5-$6"
  done
  stop_uturn
  # 100 datagrams each way, plus the checks, went through uturn's relays.
  to_peer=$(sed -n 's/.*event=stopped .* packets_to_peer=\([0-9]*\).*/\1/p' "$uturn_log")
  [[ -n $to_peer ]] || fail "no packets_to_peer counter in uturn's event=stopped line"
  ((to_peer >= 180)) || fail "uturn relayed only $to_peer packets to peers (>= 180 expected)"
  # Both peers deallocated when they exited (a Refresh with lifetime 0, RFC 8656 §7).
  active=$(sed -n 's/.*event=stopped .* allocations_active=\([0-9]*\).*/\1/p' "$uturn_log")
  [[ $active == 0 ]] || fail "uturn still had ${active:-?} allocations after both peers exited"
  echo "uturn: packets_to_peer=$to_peer, allocations_active=0 after the peers exited"
fi
echo "PASS: $mode pair, $(basename "${peer_a%% *}") --controlling, $(basename "${peer_b%% *}") $role_b"
