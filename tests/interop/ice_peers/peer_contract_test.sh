#!/usr/bin/env bash
# The ice-peer contract's edges (../shared/ICE-PEER.md), checked on one peer
# alone, without a remote: usage errors and `--turn-transport tls` exit 2;
# stdout starts with a=ice-ufrag then a=ice-pwd, every candidate comes after
# them and gathering ends with a=end-of-candidates; a malformed a=candidate
# gets exactly one error line on stderr, other lines are ignored, end of
# stdin is not the end of the peer; never connected, it prints
# event=failed reason=timeout and exits 1 at --timeout.
#   peer_contract_test.sh PEER
set -euo pipefail
peer=${1:?usage: peer_contract_test.sh PEER}
[[ -x $peer ]] || { echo "FAIL: peer $peer not found (its build fixture builds it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*; do [[ -f $f ]] && { echo "--- $(basename "$f"):" >&2; cat "$f" >&2; }; done
  exit 1
}

expect_exit() { # CODE WHAT ARGS...: the peer, stdin closed, must exit CODE
  local code=$1 what=$2 rc=0
  shift 2
  timeout 10 "$peer" "$@" </dev/null >"$work/usage.out" 2>"$work/usage.err" || rc=$?
  ((rc == code)) || fail "$what: exit $rc, $code expected ($peer $*)"
  [[ -s $work/usage.err ]] || fail "$what: nothing on stderr"
}
expect_exit 2 "unknown flag" --controlling --no-such-flag
expect_exit 2 "both roles" --controlling --controlled
expect_exit 2 "--turn without credentials" --controlling --turn 127.0.0.1:3478
expect_exit 2 "bad --timeout" --controlling --timeout x
# TLS to the TURN server is not built in any of the peers yet (uturn-ice
# has TCP since issue 11; ICE-PEER.md allows "not supported yet" until then).
expect_exit 2 "--turn-transport tls" --controlling --turn-transport tls --turn 127.0.0.1:3478 \
  --turn-user u --turn-pass p
grep -qi 'not supported' "$work/usage.err" || fail "--turn-transport tls: no 'not supported' on stderr"

# A remote that sends credentials, one malformed candidate, noise, and then
# closes stdin; the peer must still be running until --timeout.
remote_in() {
  printf '%s\n' 'a=ice-ufrag:Rm0t' 'a=ice-pwd:remotepasswordremotepassword' \
    'a=candidate:this is not a candidate' 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel' \
    'a=ice-options:trickle' 'hello'
}
start=$SECONDS
rc=0
remote_in | timeout 20 "$peer" --controlled --bind 127.0.0.1 --timeout 3 >"$work/stdout" 2>"$work/stderr" || rc=$?
took=$((SECONDS - start))
((rc == 1)) || fail "unconnected peer exited $rc at --timeout, 1 expected"
((took >= 2)) || fail "the peer exited after ${took} s: end of stdin must not end it (--timeout 3)"
grep -q '^event=failed reason=timeout' "$work/stderr" || fail "no event=failed reason=timeout"
errors=$(grep -ci 'error' "$work/stderr" || true)
((errors == 1)) || fail "$errors error lines on stderr for one malformed a=candidate, 1 expected"

mapfile -t out <"$work/stdout"
[[ ${out[0]:-} == a=ice-ufrag:* ]] || fail "first stdout line is not a=ice-ufrag: '${out[0]:-}'"
[[ ${out[1]:-} == a=ice-pwd:* ]] || fail "second stdout line is not a=ice-pwd: '${out[1]:-}'"
grep -q '^a=candidate:.* 127\.0\.0\.1 [0-9]* typ host' "$work/stdout" || fail "no host candidate on 127.0.0.1"
grep -qx 'a=end-of-candidates' "$work/stdout" || fail "no a=end-of-candidates"
# Every line is an SDP attribute line (the contract's; nothing else on stdout).
bad=$(grep -vc '^a=' "$work/stdout" || true)
((bad == 0)) || fail "$bad stdout lines that are not a= lines"
gathered=$(grep -c '^event=gathered type=host address=127\.0\.0\.1:' "$work/stderr" || true)
candidates=$(grep -c '^a=candidate:' "$work/stdout" || true)
((gathered == candidates)) || fail "$gathered event=gathered lines for $candidates candidates"
echo "PASS: $(basename "$peer") keeps the contract's edges (exit codes, a= order, one error line, timeout)"
