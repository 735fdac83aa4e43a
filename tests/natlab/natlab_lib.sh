# shellcheck shell=bash
# The NAT lab: network namespaces, veth pairs, a bridge and iptables NAT, built
# and torn down by one test process (as root). Sourced by lab_check.sh,
# natlab_case.sh and loadtest/bench_ice_connect.sh.
#
#   source natlab_lib.sh
#   lab_init                       work dir, namespace prefix, EXIT trap
#   lab_up                         the public network and its namespace
#   lab_public_host a|b            a host directly on the public network
#   lab_nat_host a|b cone|symmetric  a NAT and a host behind it
#   lab_loss a|b PROBABILITY       random loss through that NAT
#   lab_block_udp a|b              that NAT forwards no UDP (TURN over TCP/TLS)
#   lab_start_uturn UTURN          the real server in the public namespace
#   lab_exec a|b|pub CMD...        run CMD in that host's namespace
#   lab_spawn a|b|pub CMD...       the same in the background, killed at exit
#
# Addresses are documentation ranges only (RFC 5737), and no namespace has a
# link to the machine's own network, so no lab packet can leave the lab:
#   public  203.0.113.0/24  a bridge in the "pub" namespace; uturn on .1 (and
#                           .5, a second address for the mapping probes), NAT a
#                           WAN .2, NAT b WAN .3, public hosts a .11, b .12
#                           (and p .13, the lab check's third host)
#   site a  192.0.2.0/24    NAT a .1, host a .10
#   site b  198.51.100.0/24 NAT b .1, host b .10
# Nothing routes between the two sites or from the public network into them:
# a site is reached only through its NAT's mappings.
#
# Namespaces are named natlab-<PID>-<role>, so several labs (CTest -j2) run side
# by side; lab_init first removes labs whose process is gone (a test killed by
# its CTest timeout cannot run its EXIT trap).

lab_server_ip=203.0.113.1
lab_server_ip2=203.0.113.5
lab_turn_user=natlab
lab_turn_pass=natlab-secret
declare -A lab_wan_ip=([a]=203.0.113.2 [b]=203.0.113.3)
declare -A lab_public_ip=([a]=203.0.113.11 [b]=203.0.113.12 [p]=203.0.113.13)
declare -A lab_lan_prefix=([a]=192.0.2 [b]=198.51.100)
declare -A lab_host_ip=()   # side -> the host's own address, set by lab_*_host

lab_fail() {
  echo "FAIL: $*" >&2
  if [[ -s ${lab_work:-}/uturn.log ]]; then
    echo "--- uturn log (tail):" >&2
    tail -n 30 "$lab_work/uturn.log" >&2
  fi
  exit 1
}

# lab_init: sets lab_work (removed at exit unless NATLAB_KEEP=1) and the EXIT
# trap that tears everything down, whatever way the script ends.
lab_init() {
  [[ $EUID -eq 0 ]] || lab_fail "the NAT lab needs root (network namespaces, iptables)"
  local tool
  for tool in ip iptables sysctl curl; do
    command -v "$tool" >/dev/null || lab_fail "$tool not found (scripts/install-deps.sh --test)"
  done
  lab_prefix=natlab-$$
  lab_namespaces=()
  lab_pids=()
  lab_work=$(mktemp -d "${TMPDIR:-/tmp}/natlab.XXXXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  lab_reap_stale
}

# Labs left by processes that no longer exist: their processes are killed and
# their namespaces deleted. Only names of this lab's own pattern are touched.
lab_reap_stale() {
  local ns pid
  while read -r ns _; do
    [[ $ns =~ ^natlab-([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null && continue
    lab_kill_ns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done < <(ip netns list 2>/dev/null)
}

lab_kill_ns_processes() {
  local p
  for p in $(ip netns pids "$1" 2>/dev/null); do
    kill -KILL "$p" 2>/dev/null || true
  done
}

lab_cleanup() {
  local status=$? p ns
  for p in "${lab_pids[@]}"; do
    # SIGKILL also ends a process stopped with SIGSTOP.
    if kill -0 "$p" 2>/dev/null; then
      { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    fi
  done
  for ns in "${lab_namespaces[@]}"; do
    lab_kill_ns_processes "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  if [[ ${NATLAB_KEEP:-0} == 1 ]]; then
    echo "natlab: logs kept in $lab_work" >&2
  else
    rm -rf "$lab_work"
  fi
  exit "$status"
}

lab_ns() { echo "$lab_prefix-$1"; }

# lab_new_ns ROLE: an empty namespace with loopback up and IPv6 off (the lab is
# IPv4; link-local IPv6 would add host candidates that bypass the NATs).
lab_new_ns() {
  local ns
  ns=$(lab_ns "$1")
  ip netns add "$ns" || lab_fail "ip netns add $ns"
  lab_namespaces+=("$ns")
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  ip -n "$ns" link set lo up
}

# lab_attach ROLE IP: a veth from namespace ROLE (its end named "wan") to a port
# of the public bridge, with IP/24 on it.
lab_attach() {
  local role=$1 ip=$2 ns pub
  ns=$(lab_ns "$role")
  pub=$(lab_ns pub)
  ip -n "$ns" link add wan type veth peer name "p-$role" netns "$pub" ||
    lab_fail "veth from $role to the public bridge"
  ip -n "$pub" link set "p-$role" master br0 up
  ip -n "$ns" addr add "$ip/24" dev wan
  ip -n "$ns" link set wan up
}

lab_up() {
  lab_new_ns pub
  local pub
  pub=$(lab_ns pub)
  ip -n "$pub" link add br0 type bridge || lab_fail "bridge in $pub"
  ip -n "$pub" addr add "$lab_server_ip/24" dev br0
  ip -n "$pub" addr add "$lab_server_ip2/24" dev br0
  ip -n "$pub" link set br0 up
}

# lab_public_host SIDE: host namespace SIDE on the public network.
lab_public_host() {
  local side=$1
  lab_new_ns "$side"
  lab_attach "$side" "${lab_public_ip[$side]}"
  lab_host_ip[$side]=${lab_public_ip[$side]}
}

# lab_nat_host SIDE cone|symmetric: NAT namespace nat-SIDE between the public
# network and site SIDE's LAN, and host namespace SIDE on that LAN.
#   cone:      MASQUERADE keeps the source port where it is free, and Linux
#              filters replies by address and port (a port-restricted cone).
#   symmetric: MASQUERADE --random-fully: a random port for every new
#              destination, so the mapping depends on address and port.
lab_nat_host() {
  local side=$1 mode=$2 nat host lan
  case $mode in
    cone) local masq=(-j MASQUERADE) ;;
    symmetric) local masq=(-j MASQUERADE --random-fully) ;;
    *) lab_fail "lab_nat_host: unknown NAT mode '$mode'" ;;
  esac
  lan=${lab_lan_prefix[$side]}
  lab_new_ns "nat-$side"
  lab_new_ns "$side"
  nat=$(lab_ns "nat-$side")
  host=$(lab_ns "$side")
  lab_attach "nat-$side" "${lab_wan_ip[$side]}"
  ip -n "$nat" link add lan type veth peer name eth0 netns "$host" || lab_fail "veth to host $side"
  ip -n "$nat" addr add "$lan.1/24" dev lan
  ip -n "$nat" link set lan up
  ip -n "$host" addr add "$lan.10/24" dev eth0
  ip -n "$host" link set eth0 up
  ip -n "$host" route add default via "$lan.1"
  ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$nat" iptables -t nat -A POSTROUTING -o wan "${masq[@]}" ||
    lab_fail "iptables MASQUERADE in $nat"
  # Unsolicited packets to the NAT itself are dropped, as a home router's
  # firewall does. Without this, a peer's check that arrives before the
  # host's own first packet to that peer leaves a conntrack entry for the NAT
  # itself, and that entry makes MASQUERADE give the host's outgoing packets
  # another port: no hole could ever be punched. Dropped in the filter table,
  # the packet's entry is never confirmed, so it does not exist.
  ip netns exec "$nat" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP ||
    lab_fail "iptables INPUT drop in $nat"
  lab_host_ip[$side]=$lan.10
}

# lab_loss SIDE PROBABILITY: drop that share of the packets NAT SIDE forwards,
# both ways (the kernels here have no netem).
lab_loss() {
  ip netns exec "$(lab_ns "nat-$1")" iptables -A FORWARD -m statistic --mode random \
    --probability "$2" -j DROP || lab_fail "iptables statistic on nat-$1"
}

# lab_block_udp SIDE: NAT SIDE forwards no UDP at all, as on networks where
# only TCP/TLS to the TURN server gets through (issue 11).
lab_block_udp() {
  ip netns exec "$(lab_ns "nat-$1")" iptables -A FORWARD -p udp -j DROP ||
    lab_fail "iptables UDP drop on nat-$1"
}

lab_exec() {
  local ns
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# lab_spawn ROLE CMD...: in the background, with the caller's stdin (bash
# would give a background command /dev/null); sets lab_spawned_pid (the
# command's own PID: `ip netns exec` execs it).
lab_spawn() {
  local ns
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@" <&0 &
  lab_spawned_pid=$!
  lab_pids+=("$lab_spawned_pid")
}

# lab_wait_log FILE PATTERN SECONDS [PID]: until grep -E PATTERN matches in
# FILE, bounded; returns 1 on timeout or if PID exits first.
lab_wait_log() {
  local file=$1 pattern=$2 deadline=$((SECONDS + $3)) pid=${4:-}
  until grep -qE -- "$pattern" "$file" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      grep -qE -- "$pattern" "$file" 2>/dev/null
      return
    fi
    sleep 0.05
  done
}

# lab_start_uturn UTURN: STUN and TURN on the public network (UDP and TCP,
# both server addresses), relaying from 203.0.113.1, metrics on the public
# namespace's loopback. Sets lab_uturn_pid.
lab_start_uturn() {
  local bin=$1
  [[ -x $bin ]] || lab_fail "uturn binary '$bin' not found"
  local backend=()
  [[ -n ${UTURN_IO_BACKEND:-} ]] && backend=(--io-backend="$UTURN_IO_BACKEND")
  lab_spawn pub "$bin" --listening-ip "$lab_server_ip" --listening-ip "$lab_server_ip2" \
    --relay-ip "$lab_server_ip" --relay-threads 1 --user "$lab_turn_user:$lab_turn_pass" \
    --prometheus --prometheus-ip 127.0.0.1 --prometheus-port 9641 "${backend[@]}" \
    </dev/null 2>"$lab_work/uturn.log"
  lab_uturn_pid=$lab_spawned_pid
  lab_wait_log "$lab_work/uturn.log" 'event=ready' 10 "$lab_uturn_pid" ||
    lab_fail "uturn not ready within 10 s"
}

# lab_metric NAME LABELS: the value of one sample of uturn's Prometheus
# metrics, e.g. lab_metric uturn_relayed_packets_total 'direction="to_peer"'.
lab_metric() {
  local text
  text=$(lab_exec pub curl -sf --max-time 5 http://127.0.0.1:9641/metrics) ||
    lab_fail "could not read uturn's metrics"
  awk -v key="$1{$2}" '$1 == key { printf "%d\n", $2; found = 1 } END { if (!found) exit 1 }' \
    <<<"$text" || lab_fail "no sample $1{$2} in uturn's metrics"
}
