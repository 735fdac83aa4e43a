#!/usr/bin/env bash
# Interop: headless Chromium (Debian's /usr/bin/chromium through playwright-
# core) as a full, controlling ICE agent against uturn-ice as a full,
# controlled one, through uturn-ice's HTTP offer/answer mode
# (client/README.md). The page (browser/ice_full_offer.cjs) posts a
# non-trickle offer and must reach iceConnectionState 'connected'; uturn-ice
# must print event=selected and event=connected, and its selected pair must be
# the one Chromium's getStats() names: Chromium's remote candidate is
# uturn-ice's local address, and Chromium's local port is uturn-ice's remote
# port (Chromium hides its own address in getStats, so the port is compared).
#   ice_full_chromium.sh PATH/TO/uturn-ice NODE_MODULES_PARENT
# UTURN_ICE_EXTRA adds flags to uturn-ice's command line (e.g. --verbose).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=interop_lib.sh
source "$here/interop_lib.sh"

peer=${1:?usage: ice_full_chromium.sh PATH/TO/uturn-ice NODE_MODULES_PARENT}
modules=${2:?node_modules parent}

interop_init uturn-ice
require_tool node "apt-get install nodejs"
[[ -x $peer ]] || fail "uturn-ice binary $peer not found"
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium not found (apt-get install chromium, or scripts/install-deps.sh --test)"
[[ -f $modules/node_modules/playwright-core/package.json ]] ||
  fail "playwright-core not installed in $modules (the interop.browser_npm fixture runs npm_setup.sh)"

# stdin is not read in --http mode; stdout gets our a= lines (kept for the log).
# shellcheck disable=SC2086 # UTURN_ICE_EXTRA holds flags, meant to split
"$peer" --controlled --http 127.0.0.1:0 --bind 127.0.0.1 --timeout 30 ${UTURN_ICE_EXTRA:-} \
  </dev/null >"$work/uturn-ice.out" 2>"$server_log" &
server_pid=$!
wait_ready 'event=listening address='
http_addr=$(sed -n 's/^event=listening address=\([0-9.]*:[0-9]*\)$/\1/p' "$server_log" | head -n1)
[[ -n $http_addr ]] || fail "no 'event=listening address=IP:PORT' line"

set +e
result=$(timeout 60 node "$here/browser/ice_full_offer.cjs" "$modules" "http://$http_addr/offer")
rc=$?
set -e
echo "$result"
((rc == 0)) || fail "Chromium did not connect to uturn-ice (exit $rc)"

# uturn-ice concludes when Chromium nominates, which may come after the
# page saw 'connected': wait for it (bounded).
deadline=$((SECONDS + 10))
until grep -q '^event=connected' "$server_log"; do
  kill -0 "$server_pid" 2>/dev/null || fail "uturn-ice exited before event=connected"
  ((SECONDS < deadline)) || fail "uturn-ice printed no event=connected within 10 s of Chromium's"
  sleep 0.05
done
selected=$(grep '^event=selected' "$server_log" | tail -n1)
[[ -n $selected ]] || fail "uturn-ice printed no event=selected"
echo "uturn-ice: $selected"
ours_local=$(sed -n 's/.* local=\([^ ]*\) .*/\1/p' <<<"$selected")
ours_remote=$(sed -n 's/.* remote=\([^ ]*\)$/\1/p' <<<"$selected")
# shellcheck disable=SC2016 # JavaScript, not shell
read -r chrome_remote chrome_local_port < <(node -e '
  const r = JSON.parse(process.argv[1]);
  const s = r.selected;
  console.log(`${s.remote.address}:${s.remote.port} ${s.local.port}`);
' "$(head -n1 <<<"$result")")
[[ $chrome_remote == "$ours_local" ]] ||
  fail "Chromium's selected remote $chrome_remote is not uturn-ice's local $ours_local"
[[ ${ours_remote##*:} == "$chrome_local_port" ]] ||
  fail "uturn-ice's selected remote $ours_remote is not Chromium's local port $chrome_local_port"
grep -q '^a=ice-lite' "$work/uturn-ice.out" && fail "uturn-ice wrote a=ice-lite: it must be a full agent"

stop_server
echo "--- uturn-ice log:"
cat "$server_log"
echo "PASS: Chromium (controlling) and uturn-ice (controlled) selected the same pair: $ours_local <-> $ours_remote"
