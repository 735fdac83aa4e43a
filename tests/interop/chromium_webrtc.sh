#!/usr/bin/env bash
# Interop: headless Chromium (Debian's /usr/bin/chromium, driven by
# playwright-core from Node) connects two RTCPeerConnections through uturn with
# iceTransportPolicy 'relay' and exchanges data-channel messages both ways
# (browser/turn_webrtc.cjs says what it checks).
#   chromium_webrtc.sh PATH/TO/uturn NODE_MODULES_PARENT MIN_PORT MAX_PORT [udp|tcp]
# NODE_MODULES_PARENT is where the interop.browser_npm fixture ran `npm ci`.
# With tcp, Chromium reaches uturn through turn:127.0.0.1:PORT?transport=tcp
# (RFC 7065's transport parameter; TURN over TCP, RFC 8656 §3.1) and its
# getStats() must show relayProtocol tcp on both local relay candidates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=uturn_lib.sh
source "$here/uturn_lib.sh"

uturn=${1:?usage: chromium_webrtc.sh PATH/TO/uturn NODE_MODULES_PARENT MIN_PORT MAX_PORT [udp|tcp]}
modules=${2:?node_modules parent}
min=${3:?min port}
max=${4:?max port}
transport=${5:-udp}

interop_init
require_tool node "apt-get install nodejs"
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium not found (apt-get install chromium, or scripts/install-deps.sh --test)"
[[ -f $modules/node_modules/playwright-core/package.json ]] ||
  fail "playwright-core not installed in $modules (the interop.browser_npm fixture runs npm_setup.sh)"

# One TURN allocation per peer connection: two relayed ports.
start_uturn "$uturn" "$min" "$max"
case $transport in
  udp) url="turn:127.0.0.1:$uturn_port" ;;
  tcp)
    # shellcheck source-path=SCRIPTDIR source=uturn_tcp_lib.sh
    source "$here/uturn_tcp_lib.sh"
    url="turn:127.0.0.1:$(uturn_tcp_port)?transport=tcp"
    ;;
  *) fail "unknown transport $transport" ;;
esac
set +e
timeout 90 node "$here/browser/turn_webrtc.cjs" "$modules" "$url" "$interop_user" "$interop_pass" "$transport"
rc=$?
set -e
((rc == 0)) || fail "Chromium did not relay through uturn over $transport (exit $rc)"
stop_uturn
if [[ $transport == tcp ]]; then uturn_check_tcp_accepted; fi
echo "PASS: Chromium's two peer connections talked through uturn ($url) over relay/relay"
