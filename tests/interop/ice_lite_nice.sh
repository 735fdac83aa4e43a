#!/usr/bin/env bash
# Interop: libnice as a full controlling ICE agent (RFC 5245 compatibility)
# against ice-lite-endpoint. The agent writes an offer from its gathered
# 127.0.0.1 candidates; this script POSTs it with curl, hands the answer
# back, and the agent must reach READY; the endpoint must log `connected`
# with the pair libnice selected. Then DELETE ends the session.
#   ice_lite_nice.sh PATH/TO/ice-lite-endpoint PATH/TO/nice_controlling
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=ice_lite_lib.sh
source "$here/ice_lite_lib.sh"

endpoint=${1:?usage: ice_lite_nice.sh PATH/TO/ice-lite-endpoint PATH/TO/nice_controlling}
agent=${2:?nice_controlling binary}

ice_init
require_tool curl "apt-get install curl"
[[ -x $agent ]] || fail "$agent not built (the interop.ice_lite_nice_build fixture runs nice_build.sh)"

start_endpoint "$endpoint"
"$agent" "$work/offer.sdp" "$work/answer.sdp" 30 >"$work/nice.out" 2>"$work/nice.err" &
agent_pid=$!
ice_pids+=("$agent_pid")

deadline=$((SECONDS + 15))
until [[ -f $work/offer.sdp ]]; do
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/nice.err" >&2; fail "libnice agent exited before writing its offer"; }
  ((SECONDS < deadline)) || fail "libnice wrote no offer within 15 s"
  sleep 0.05
done
echo "--- offer:"
cat "$work/offer.sdp"

status=$(curl -sS -o "$work/answer.tmp" -D "$work/headers" -w '%{http_code}' --max-time 10 \
  -X POST -H 'Content-Type: application/sdp' --data-binary "@$work/offer.sdp" "$http_url/whip")
[[ $status == 201 ]] || fail "POST /whip answered $status: $(cat "$work/answer.tmp")"
location=$(sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$work/headers")
session=${location##*/}
[[ -n $session ]] || fail "no Location in the 201"
grep -q '^a=ice-lite' "$work/answer.tmp" || fail "answer has no a=ice-lite"
mv "$work/answer.tmp" "$work/answer.sdp"

set +e
wait "$agent_pid"
rc=$?
set -e
cat "$work/nice.out"
if ((rc != 0)); then
  cat "$work/nice.err" >&2
  fail "libnice did not reach READY (exit $rc)"
fi

wait_log "\"event\":\"connected\",\"session\":\"$session\"" 10 || fail "no connected line for session $session"
connected=$(session_line connected "$session")
echo "endpoint: $connected"
# libnice's selected local candidate is the endpoint's remote.
nice_local=$(sed -n 's/^selected local=\([^ ]*\) .*/\1/p' "$work/nice.out")
[[ -n $nice_local ]] || fail "libnice printed no selected pair"
grep -qF "\"remote\":\"$nice_local\"" <<<"$connected" ||
  fail "endpoint's connected pair is not libnice's selected one ($nice_local)"

status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE "$http_url$location")
[[ $status == 200 ]] || fail "DELETE $location answered $status"
wait_log "\"event\":\"deleted\",\"session\":\"$session\"" 5 || fail "no deleted line after DELETE"
stop_endpoint
echo "--- endpoint log:"
cat "$ep_log"
echo "PASS: libnice (controlling, RFC 5245) reached READY against ice-lite-endpoint"
