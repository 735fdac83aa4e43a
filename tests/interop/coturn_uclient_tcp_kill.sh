#!/usr/bin/env bash
# Interop: a turnutils_uclient over TCP (-t) killed mid-run leaves no
# allocation behind. The allocation belongs to its TCP connection (RFC 8656
# §3.1 and issue 11): when the connection goes away, uturn must release it
# (and its permissions, channels and relay port) at once, not when its
# lifetime ends. uclient runs client-to-client (-y, so no echo peer is needed)
# with far more messages than it can send in the test, is SIGKILLed (it sends
# no Refresh with lifetime 0) once uturn's /metrics show relayed traffic, and
# the allocation gauge must then fall to 0 within a bound.
#   coturn_uclient_tcp_kill.sh PATH/TO/uturn MIN_PORT MAX_PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=uturn_lib.sh
source "$here/uturn_lib.sh"
# shellcheck source-path=SCRIPTDIR source=uturn_tcp_lib.sh
source "$here/uturn_tcp_lib.sh"

uturn=${1:?usage: coturn_uclient_tcp_kill.sh PATH/TO/uturn MIN_PORT MAX_PORT}
min=${2:?min port}
max=${3:?max port}
flow_bound=20    # seconds for uclient to allocate and relay its first packets
release_bound=5  # seconds for uturn to release the allocations after the kill

interop_init
require_tool turnutils_uclient "apt-get install coturn"
require_tool curl "apt-get install curl"

# See coturn_uclient.sh for the RFC 5766 channel numbers.
start_uturn "$uturn" "$min" "$max" --allow-rfc5766-channel-numbers --prometheus --prometheus-port 0
tcp_port=$(uturn_tcp_port)
metrics=$(uturn_metrics_port)

# 4 allocations (two clients, each with RTP and RTCP), one message every 20 ms
# per session: 100000 messages would take over half an hour.
spawn turnutils_uclient -t -y -n 100000 -l 101 -u "$interop_user" -w "$interop_pass" -p "$tcp_port" \
  127.0.0.1 >"$work/uclient.log" 2>&1
uclient=$spawned_pid

# Traffic flows: allocations exist and packets came back to a client. The
# gauges are per-shard snapshots taken about once a second, hence the polling.
deadline=$((SECONDS + flow_bound))
until (($(uturn_metric "$metrics" uturn_allocations_active) > 0 &&
  $(uturn_metric "$metrics" 'uturn_relayed_packets_total{direction="to_client"}') > 0)); do
  kill -0 "$uclient" 2>/dev/null || { cat "$work/uclient.log"; fail "turnutils_uclient exited before traffic flowed"; }
  ((SECONDS < deadline)) || { cat "$work/uclient.log"; fail "no relayed traffic within $flow_bound s"; }
  sleep 0.1
done
before=$(uturn_metric "$metrics" uturn_allocations_active)
echo "traffic flows: $before allocations active; SIGKILL to turnutils_uclient"
kill -KILL "$uclient"
wait "$uclient" 2>/dev/null || true

# Bounded wait for the gauge (the kill closes uclient's TCP connections, which
# uturn sees as a FIN on each).
deadline=$((SECONDS + release_bound))
until (($(uturn_metric "$metrics" uturn_allocations_active) == 0)); do
  if ((SECONDS >= deadline)); then
    left=$(uturn_metric "$metrics" uturn_allocations_active)
    fail "$left of $before allocations still active $release_bound s after the TCP client was killed"
  fi
  sleep 0.1
done

stop_uturn
echo "PASS: killing turnutils_uclient -t released all $before allocations"
