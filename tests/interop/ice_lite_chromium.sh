#!/usr/bin/env bash
# Interop: headless Chromium (Debian's /usr/bin/chromium through playwright-
# core) against ice-lite-endpoint. The page POSTs a real offer to /whip and
# must reach iceConnectionState 'connected' (browser/ice_lite_whip.cjs); the
# endpoint must log `connected` with the pair Chromium selected. Then the page
# goes away and, with a short consent timeout, the endpoint must log
# `disconnected` and then `failed` for that session (RFC 7675).
#   ice_lite_chromium.sh PATH/TO/ice-lite-endpoint NODE_MODULES_PARENT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=ice_lite_lib.sh
source "$here/ice_lite_lib.sh"

endpoint=${1:?usage: ice_lite_chromium.sh PATH/TO/ice-lite-endpoint NODE_MODULES_PARENT}
modules=${2:?node_modules parent}

ice_init
require_tool node "apt-get install nodejs"
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium not found (apt-get install chromium, or scripts/install-deps.sh --test)"
[[ -f $modules/node_modules/playwright-core/package.json ]] ||
  fail "playwright-core not installed in $modules (the interop.browser_npm fixture runs npm_setup.sh)"

# Consent: disconnected 2 s after the last check, failed after 6 s.
start_endpoint "$endpoint" --consent-timeout 6 --disconnected-after 2
set +e
result=$(timeout 60 node "$here/browser/ice_lite_whip.cjs" "$modules" "$http_url/whip" "$ep_log")
rc=$?
set -e
echo "$result"
((rc == 0)) || fail "Chromium did not connect to the endpoint (exit $rc)"
session=$(sed -n 's/.*"location":"\/whip\/\([0-9a-f]*\)".*/\1/p' <<<"$result" | head -n1)
[[ -n $session ]] || fail "no session id in the browser's result"

wait_log "\"event\":\"connected\",\"session\":\"$session\"" 10 || fail "no connected line for session $session"
connected=$(session_line connected "$session")
echo "endpoint: $connected"
# The pair in the log is the one Chromium says it selected: its local
# candidate is the endpoint's remote. Chromium hides its own address in
# getStats() (prflx, empty address), so the port is what is compared.
browser_port=$(node -e '
  const r = JSON.parse(process.argv[1]);
  const l = r.selected && r.selected.local;
  if (l && l.port) console.log(l.port);
' "$(head -n1 <<<"$result")")
[[ -n $browser_port ]] || fail "Chromium reported no local port for its selected pair"
grep -qE "\"remote\":\"[^\"]*:$browser_port\"" <<<"$connected" ||
  fail "endpoint's connected pair is not Chromium's selected one (port $browser_port)"

# The page and browser are gone: consent must run out.
wait_log "\"event\":\"disconnected\",\"session\":\"$session\"" 15 || fail "no disconnected line after the browser left"
wait_log "\"event\":\"failed\",\"session\":\"$session\"" 15 || fail "no failed line after the browser left"
n_conn=$(grep -nF "\"event\":\"connected\",\"session\":\"$session\"" "$ep_log" | head -n1 | cut -d: -f1)
n_disc=$(grep -nF "\"event\":\"disconnected\",\"session\":\"$session\"" "$ep_log" | tail -n1 | cut -d: -f1)
n_fail=$(grep -nF "\"event\":\"failed\",\"session\":\"$session\"" "$ep_log" | head -n1 | cut -d: -f1)
((n_conn < n_disc && n_disc < n_fail)) || fail "events out of order: connected@$n_conn disconnected@$n_disc failed@$n_fail"
stop_endpoint
echo "--- endpoint log:"
cat "$ep_log"
echo "PASS: Chromium connected to ice-lite-endpoint; consent expired (disconnected, failed) after it left"
