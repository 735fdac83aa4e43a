#!/usr/bin/env bash
# Interop: pion's TURN client (examples/turn-client/udp from Debian's
# golang-github-pion-turn.v2-dev, built by pion_build.sh) allocates on uturn
# and, with -ping, pings through the relay: a plain UDP socket on loopback
# sends 10 timestamps to the relayed address, pion's client echoes each back
# through the relay (Data indication in, CreatePermission + Send/ChannelData
# out), and the pinger logs every echo it gets.
#   pion_turn_client.sh PATH/TO/uturn PATH/TO/pion-turn-client MIN_PORT MAX_PORT [udp|tcp]
# With tcp the client is examples/turn-client/tcp, which talks TURN to uturn's
# TCP port (RFC 8656 §3.1) through turn.NewSTUNConn; the pinger and the relay
# stay UDP. Its timestamps (RFC 3339, nanoseconds, trailing zeros dropped) are
# at most 30 bytes and rarely a multiple of 4, so ChannelData both ways
# carries the RFC 8656 §12.5 padding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=uturn_lib.sh
source "$here/uturn_lib.sh"

uturn=${1:?usage: pion_turn_client.sh PATH/TO/uturn PATH/TO/pion-turn-client MIN_PORT MAX_PORT [udp|tcp]}
client=${2:?pion client binary}
min=${3:?min port}
max=${4:?max port}
transport=${5:-udp}
pings=10 # fixed in the example's doPingTest

interop_init
[[ -x $client ]] || fail "$client not built (the interop.pion_build fixture builds it with pion_build.sh)"
require_tool curl "apt-get install curl"
# shellcheck source-path=SCRIPTDIR source=uturn_tcp_lib.sh
source "$here/uturn_tcp_lib.sh"
start_uturn "$uturn" "$min" "$max" --prometheus --prometheus-port 0
metrics=$(uturn_metrics_port)
case $transport in
  udp) server_port=$uturn_port ;;
  tcp) server_port=$(uturn_tcp_port) ;;
  *) fail "unknown transport $transport" ;;
esac

set +e
out=$(timeout 60 "$client" -host 127.0.0.1 -port "$server_port" -user "$interop_user=$interop_pass" -ping 2>&1)
rc=$?
set -e
echo "$out"
# It log.Panicf's (exit 2) on any failed Allocate, permission or send.
((rc == 0)) || fail "pion turn-client ($transport) exited with $rc"

# What it prints on success (Go's log format), e.g.:
#   2026/01/01 10:00:00 relayed-address=127.0.0.1:50123
#   2026/01/01 10:00:01 30 bytes from from 127.0.0.1:50123 time=0 ms
relayed=$(sed -n 's/.* relayed-address=\([0-9.]*:[0-9]*\)$/\1/p' <<<"$out" | head -n1)
[[ $relayed =~ ^127\.0\.0\.1:([0-9]+)$ ]] || fail "no 'relayed-address=127.0.0.1:PORT' line"
relay_port=${BASH_REMATCH[1]}
((relay_port >= min && relay_port <= max)) || fail "relayed port $relay_port outside --min-port/--max-port $min-$max"
# Each echo comes back from the relayed address, since it went out through it.
echoes=$(grep -cE " [0-9]+ bytes from from $relayed time=[0-9]+ ms$" <<<"$out" || true)
((echoes == pings)) || fail "pinger got $echoes of $pings echoes through the relay $relayed"
# pion sends its first packets to a peer as Send indications while it binds a
# channel, then ChannelData: uturn must have counted some (the counters are
# per-shard snapshots taken about once a second, hence the bounded poll).
channel_data='uturn_client_messages_total{kind="channel_data"}'
deadline=$((SECONDS + 5))
until (($(uturn_metric "$metrics" "$channel_data") > 0)); do
  ((SECONDS < deadline)) || fail "uturn counted no ChannelData from pion's client"
  sleep 0.1
done
echo "uturn counted $(uturn_metric "$metrics" "$channel_data") ChannelData messages from pion's client"

stop_uturn
if [[ $transport == tcp ]]; then uturn_check_tcp_accepted; fi
echo "PASS: pion turn-client over $transport pinged $echoes/$pings times through uturn's relay $relayed"
