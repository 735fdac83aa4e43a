#!/usr/bin/env bash
# Interop: headless Chromium (Debian's /usr/bin/chromium, driven by
# playwright-core from Node) connects two RTCPeerConnections through uturn with
# iceTransportPolicy 'relay' and exchanges data-channel messages both ways
# (browser/turn_webrtc.cjs says what it checks).
#   chromium_webrtc.sh PATH/TO/uturn NODE_MODULES_PARENT MIN_PORT MAX_PORT
# NODE_MODULES_PARENT is where the interop.browser_npm fixture ran `npm ci`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=uturn_lib.sh
source "$here/uturn_lib.sh"

uturn=${1:?usage: chromium_webrtc.sh PATH/TO/uturn NODE_MODULES_PARENT MIN_PORT MAX_PORT}
modules=${2:?node_modules parent}
min=${3:?min port}
max=${4:?max port}

interop_init
require_tool node "apt-get install nodejs"
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium not found (apt-get install chromium, or scripts/install-deps.sh --test)"
[[ -f $modules/node_modules/playwright-core/package.json ]] ||
  fail "playwright-core not installed in $modules (the interop.browser_npm fixture runs npm_setup.sh)"

# One TURN allocation per peer connection: two relayed ports.
start_uturn "$uturn" "$min" "$max"
set +e
timeout 90 node "$here/browser/turn_webrtc.cjs" "$modules" "turn:127.0.0.1:$uturn_port" \
  "$interop_user" "$interop_pass"
rc=$?
set -e
((rc == 0)) || fail "Chromium did not relay through uturn (exit $rc)"
stop_uturn
echo "PASS: Chromium's two peer connections talked through uturn over relay/relay"
