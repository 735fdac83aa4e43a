#!/usr/bin/env bash
# The NAT lab checked on its own, without any ICE agent: that each NAT maps the
# way the ICE cases assume, and that the sites are isolated.
#   lab_check.sh UTURN UTURN_STUNCLIENT
# Host a sits behind a port-preserving NAT, host b behind a symmetric one, host
# p on the public network. Checked:
#   - uturn-stunclient from each host sees its public address (NAT WAN or own);
#   - one socket behind the cone NAT keeps its port towards two server
#     addresses (endpoint-independent mapping, port preserved);
#   - one socket behind the symmetric NAT gets a different port towards each
#     (address-and-port-dependent mapping);
#   - a STUN server inside site b answers on its own LAN only: neither site a
#     nor the public network reach it (no route into a site);
#   - no namespace has a route out of the lab.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/natlab_lib.sh"

uturn=$1 stunclient=$2
[[ -x $stunclient ]] || lab_fail "uturn-stunclient '$stunclient' not found"
command -v python3 >/dev/null || lab_fail "python3 not found"

lab_init
lab_up
lab_nat_host a cone
lab_nat_host b symmetric
lab_public_host p
lab_start_uturn "$uturn"
server=$lab_server_ip:3478 server2=$lab_server_ip2:3478

# mapped_ip SIDE EXPECTED_IP: uturn-stunclient's answer from that host.
check_mapped_ip() {
  local out
  out=$(lab_exec "$1" "$stunclient" --timeout-ms 3000 "$lab_server_ip" 3478) ||
    lab_fail "uturn-stunclient from host $1 got no answer"
  [[ $out =~ ^mapped-address=$2:[0-9]+$ ]] ||
    lab_fail "host $1: expected mapped address $2:*, got '$out'"
  echo "ok: host $1 is seen as ${out#mapped-address=}"
}
check_mapped_ip a "${lab_wan_ip[a]}"
check_mapped_ip b "${lab_wan_ip[b]}"
check_mapped_ip p "${lab_public_ip[p]}"

# probe SIDE: stun_probe.py from one socket to both server addresses; sets
# probe_local_port and probe_mapped (ip:port per server, in order).
probe() {
  local out line
  out=$(lab_exec "$1" python3 "$here/stun_probe.py" "$server" "$server2") ||
    lab_fail "stun_probe from host $1 failed: $out"
  probe_mapped=()
  while read -r line; do
    case $line in
      local=*) probe_local_port=${line##*:} ;;
      server=*) probe_mapped+=("${line##*mapped=}") ;;
    esac
  done <<<"$out"
  ((${#probe_mapped[@]} == 2)) || lab_fail "stun_probe from host $1 printed: $out"
}

probe a
for m in "${probe_mapped[@]}"; do
  [[ $m == "${lab_wan_ip[a]}:$probe_local_port" ]] ||
    lab_fail "cone NAT: local port $probe_local_port mapped to $m, not preserved"
done
echo "ok: cone NAT keeps port $probe_local_port towards both servers"

probe b
for m in "${probe_mapped[@]}"; do
  [[ $m == "${lab_wan_ip[b]}:"* ]] || lab_fail "symmetric NAT: unexpected mapping $m"
done
# --random-fully draws each port from 28k+: equal ports mean the mapping did
# not depend on the destination (a chance collision is ~1 in 30,000).
[[ ${probe_mapped[0]} != "${probe_mapped[1]}" ]] ||
  lab_fail "symmetric NAT: one mapping ${probe_mapped[0]} for two destinations"
echo "ok: symmetric NAT maps local port $probe_local_port to ${probe_mapped[*]}"

# Hole punching survives a peer that sends first: a packet from p's port 3478
# reaches NAT a's port 40000 before host a has sent anything to p; host a's
# own packets from port 40000 to p must still leave from 40000 (the NAT's
# INPUT drop keeps that early packet from holding a conntrack entry).
early_port=40000
lab_exec p python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${lab_public_ip[p]}', 3478))
s.sendto(b'early', ('${lab_wan_ip[a]}', $early_port))" || lab_fail "early packet from p"
lab_spawn p "$uturn" --listening-ip "${lab_public_ip[p]}" --no-tcp --relay-threads 1 --no-auth \
  </dev/null 2>"$lab_work/p-stun.log"
lab_wait_log "$lab_work/p-stun.log" 'event=ready' 10 "$lab_spawned_pid" ||
  lab_fail "the STUN server on p did not start"
out=$(lab_exec a python3 "$here/stun_probe.py" --port "$early_port" "${lab_public_ip[p]}:3478") ||
  lab_fail "stun_probe from host a to p failed: $out"
[[ $out == *"mapped=${lab_wan_ip[a]}:$early_port"* ]] ||
  lab_fail "after an early packet from p, cone NAT no longer preserves port $early_port: $out"
echo "ok: an unsolicited packet does not move the cone NAT's mapping"

# A STUN server inside site b: reachable on its LAN, from nowhere else.
lab_spawn b "$uturn" --listening-ip "${lab_host_ip[b]}" --no-tcp --relay-threads 1 --no-auth </dev/null \
  2>"$lab_work/site-b-stun.log"
lab_wait_log "$lab_work/site-b-stun.log" 'event=ready' 10 "$lab_spawned_pid" ||
  lab_fail "the STUN server in site b did not start"
lab_exec b "$stunclient" --timeout-ms 2000 "${lab_host_ip[b]}" 3478 >/dev/null ||
  lab_fail "site b's own STUN server does not answer inside site b"
for from in a p pub; do
  if lab_exec "$from" "$stunclient" --timeout-ms 1500 "${lab_host_ip[b]}" 3478 >/dev/null 2>&1; then
    lab_fail "$from reached ${lab_host_ip[b]} inside site b: the sites are not isolated"
  fi
done
echo "ok: site b's LAN is unreachable from site a and the public network"

# No namespace routes anywhere outside the lab's own networks (198.18.0.1 is
# an address no lab network holds; `ip route get` sends nothing).
for role in pub nat-a nat-b p; do
  if lab_exec "$role" ip route get 198.18.0.1 >/dev/null 2>&1; then
    lab_fail "namespace $role has a route out of the lab"
  fi
done
for side in a b; do
  via=$(lab_exec "$side" ip route get 198.18.0.1 2>/dev/null) || true
  [[ $via == *"via ${lab_lan_prefix[$side]}.1 "* ]] ||
    lab_fail "host $side does not route through its NAT: $via"
done
echo "ok: no route out of the lab; the hosts behind NATs route only through them"
echo "PASS: natlab lab_check"
