#!/usr/bin/env bash
# Interop: coturn's turnutils_uclient (Debian package `coturn`) relays
# through uturn and must lose nothing.
#   coturn_uclient.sh PATH/TO/uturn MODE MIN_PORT MAX_PORT
# MODE:
#   channel  default mode: ChannelBind + ChannelData, echoed by coturn's
#            turnutils_peer on loopback; with its default RTP+RTCP pair of
#            allocations (EVEN-PORT with the R bit, then RESERVATION-TOKEN)
#   send     -s: Send indications out, Data indications back, same echo peer
#   c2c      -y: client-to-client, each allocation's peer is the other's relay
#   tcp_channel, tcp_send, tcp_c2c: the same over TCP to uturn (-t; RFC 8656
#            §3.1), run once per payload size in tcp_lengths: odd sizes, so
#            every ChannelData message carries the RFC 8656 §12.5 padding to a
#            multiple of 4 both ways (uclient frames the stream by it, so a
#            missing or extra pad byte loses every later message).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=uturn_lib.sh
source "$here/uturn_lib.sh"

uturn=${1:?usage: coturn_uclient.sh PATH/TO/uturn [tcp_]channel|[tcp_]send|[tcp_]c2c MIN_PORT MAX_PORT}
mode=${2:?mode}
min=${3:?min port}
max=${4:?max port}
messages=50
# uclient's default length is 100; 101 and 1001 need 3 pad bytes each.
tcp_lengths=(101 1001)

interop_init
require_tool turnutils_uclient "apt-get install coturn"
require_tool turnutils_peer "apt-get install coturn"
require_tool ss "apt-get install iproute2"
require_tool curl "apt-get install curl"

case ${mode#tcp_} in
  channel) flags=() ;;
  send) flags=(-s) ;;
  c2c) flags=(-y) ;;
  *) echo "coturn_uclient.sh: unknown mode $mode" >&2; exit 2 ;;
esac
lengths=(100)
if [[ $mode == tcp_* ]]; then
  flags+=(-t)
  lengths=("${tcp_lengths[@]}")
fi

# coturn's client library draws channel numbers at random from RFC 5766's
# 0x4000-0x7FFF (RFC 5766 §11); RFC 8656 §12 narrowed the range to
# 0x4000-0x4FFF, so uturn must be told to accept the old range.
# shellcheck source-path=SCRIPTDIR source=uturn_tcp_lib.sh
source "$here/uturn_tcp_lib.sh"
start_uturn "$uturn" "$min" "$max" --allow-rfc5766-channel-numbers --prometheus --prometheus-port 0
metrics=$(uturn_metrics_port)
server_port=$uturn_port
if [[ $mode == tcp_* ]]; then
  server_port=$(uturn_tcp_port)
fi

peer_args=()
if [[ $mode != c2c ]]; then
  # turnutils_peer echoes on PORT and PORT+1 (for the RTCP allocation), takes
  # no port 0, and on a bind failure neither exits nor says so on stdout: pick
  # a free even port below the ephemeral range and check it really holds both.
  peer_port=
  for _ in $(seq 20); do
    p=$((20000 + 2 * (RANDOM % 4000)))
    if ss -Hlun "sport = :$p or sport = :$((p + 1))" | grep -q .; then continue; fi
    spawn turnutils_peer -L 127.0.0.1 -p "$p" >"$work/peer.log" 2>&1
    deadline=$((SECONDS + 3))
    until { port_owned_by "$p" "$spawned_pid" && port_owned_by $((p + 1)) "$spawned_pid"; } ||
      ((SECONDS >= deadline)); do
      sleep 0.05
    done
    if port_owned_by "$p" "$spawned_pid" && port_owned_by $((p + 1)) "$spawned_pid"; then
      peer_port=$p
      break
    fi
    kill -KILL "$spawned_pid" 2>/dev/null || true
  done
  [[ -n $peer_port ]] || fail "could not start turnutils_peer on a free port"
  peer_args=(-e 127.0.0.1 -r "$peer_port")
fi

# run_uclient LENGTH: one uclient run with LENGTH-byte payloads; fails unless
# every message came back.
run_uclient() {
  local length=$1
  # turnutils_uclient exits 0 even when every packet is lost, so the verdict
  # comes from its summary; bound its run time since it retries on no answer.
  set +e
  out=$(timeout 60 turnutils_uclient "${flags[@]}" -l "$length" -n "$messages" -u "$interop_user" \
    -w "$interop_pass" -p "$server_port" "${peer_args[@]}" 127.0.0.1 2>&1)
  rc=$?
  set -e
  echo "$out"
  ((rc == 0)) || fail "turnutils_uclient ($mode, -l $length) exited with $rc"

  # The lines we read, as coturn 4.6.1 prints them:
  #   1: : start_mclient: msz=2, tot_send_msgs=0, tot_recv_msgs=0, tot_send_bytes ~ 0, tot_recv_bytes ~ 0
  #   5: : start_mclient: tot_send_msgs=100, tot_recv_msgs=100
  #   5: : start_mclient: tot_send_bytes ~ 10000, tot_recv_bytes ~ 10000
  #   5: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
  # msz is the number of relayed sessions still running when the line is
  # printed (2 per client with RTCP, 4 with -y), each of which sends -n
  # messages: the largest value is the number of sessions (sessions that have
  # finished drop out of later lines, so the last value may be smaller).
  msz=$(sed -n 's/.*start_mclient: msz=\([0-9]*\),.*/\1/p' <<<"$out" | sort -n | tail -n1)
  [[ -n $msz ]] || fail "no 'start_mclient: msz=' line from turnutils_uclient"
  expected=$((msz * messages))
  totals=$(grep -E 'start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$' <<<"$out" | tail -n1 || true)
  [[ $totals =~ tot_send_msgs=([0-9]+),\ tot_recv_msgs=([0-9]+)$ ]] ||
    fail "no final 'start_mclient: tot_send_msgs=N, tot_recv_msgs=M' line"
  sent=${BASH_REMATCH[1]}
  recv=${BASH_REMATCH[2]}
  ((sent == expected)) || fail "turnutils_uclient sent $sent messages, expected $msz sessions x $messages = $expected"
  ((recv == sent)) || fail "turnutils_uclient received $recv of $sent messages ($mode, -l $length)"
  grep -Eq 'Total lost packets 0 \([0-9.]+%\), total send dropped 0 ' <<<"$out" ||
    fail "turnutils_uclient reports lost or dropped packets ($mode, -l $length)"
  # Whole payloads both ways: a relay that cut or padded them would still
  # count messages.
  bytes=$(grep -E 'start_mclient: tot_send_bytes ~ [0-9]+, tot_recv_bytes ~ [0-9]+$' <<<"$out" | tail -n1 || true)
  [[ $bytes =~ tot_send_bytes\ ~\ ([0-9]+),\ tot_recv_bytes\ ~\ ([0-9]+)$ ]] ||
    fail "no final 'start_mclient: tot_send_bytes ~ N, tot_recv_bytes ~ M' line"
  ((BASH_REMATCH[1] == sent * length && BASH_REMATCH[2] == sent * length)) ||
    fail "turnutils_uclient sent ${BASH_REMATCH[1]} and received ${BASH_REMATCH[2]} bytes, expected $sent x $length ($mode)"
  echo "ok: -l $length: $recv/$sent messages of $length bytes"
}

total_sent=0
for length in "${lengths[@]}"; do
  run_uclient "$length"
  total_sent=$((total_sent + sent))
done

# The mode's relay path carried every message the clients sent: uturn's
# counters of client messages by kind (per-shard snapshots taken about once a
# second, hence the bounded poll).
case ${mode#tcp_} in
  send) used=send_indication unused=channel_data ;;
  *) used=channel_data unused=send_indication ;;
esac
deadline=$((SECONDS + 5))
until (($(uturn_metric "$metrics" "uturn_client_messages_total{kind=\"$used\"}") >= total_sent)); do
  ((SECONDS < deadline)) ||
    fail "uturn counted $(uturn_metric "$metrics" "uturn_client_messages_total{kind=\"$used\"}") $used messages, uclient sent $total_sent"
  sleep 0.1
done
other=$(uturn_metric "$metrics" "uturn_client_messages_total{kind=\"$unused\"}")
((other == 0)) || fail "uturn counted $other $unused messages in mode $mode"
echo "uturn counted $(uturn_metric "$metrics" "uturn_client_messages_total{kind=\"$used\"}") $used messages from the clients (they sent $total_sent), no $unused"

stop_uturn
if [[ $mode == tcp_* ]]; then uturn_check_tcp_accepted; fi
echo "PASS: turnutils_uclient ($mode) relayed $total_sent messages (payloads of ${lengths[*]} bytes) through uturn with zero loss"
