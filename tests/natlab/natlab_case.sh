#!/usr/bin/env bash
# One NAT lab case: two ICE peers that speak ../../../shared/ICE-PEER.md, one in
# host namespace a (controlling, --send), one in host namespace b (controlled,
# --echo), each one's stdout piped into the other's stdin, the real uturn on
# the public network as their STUN and TURN server. Checks what the case
# expects of both peers' last event=selected line, that data flowed, the exit
# codes, and for the relay case uturn's relayed-packet metrics.
#
#   natlab_case.sh [--uturn PATH] [--timings FILE] [--base-local a|b]...
#                  [--send N | --connect-only] CASE PEER_A_CMD PEER_B_CMD
#
# PEER_x_CMD is a command line (split on spaces), e.g. "bin/uturn-ice" or
# "nice-ice-peer --nomination aggressive"; the runner appends the contract
# flags. Cases (README.md has the table):
#   nonat             both hosts public                 -> host/host
#   cone              both behind port-preserving NATs  -> srflx/prflx pair, no relay
#   symmetric         both behind symmetric NATs        -> relay at one end at least
#   public_symmetric  a public, b behind symmetric NAT  -> direct, peer-reflexive
#   role_conflict     cone, both --controlling          -> resolved, direct
#   restart           cone, a restarts 2 s after connecting -> new pair, data flows
#   consent           cone, b stopped (SIGSTOP) after connecting -> a: consent lost
#   loss              cone, 10% random loss on both NATs -> still connects
# --base-local SIDE: that peer prints its candidate's base (its host address)
# as the local end of a pair found through its NAT's mapping, where RFC 8445
# §7.2.5.3.1 names the srflx/prflx candidate (pion/ice does); the pair's path
# is still checked, the two ends' agreement on it is not.
# --send N: a sends N datagrams instead of the case's count (benchmarks use
# few; not for consent, which sends none).
# --connect-only: no data; both peers (a --echo) get SIGTERM once connected
# and must exit 0 (benchmarks; not for consent or restart).
# --timings FILE appends one logfmt line per peer (time from start to
# event=connected, CPU and peak RSS at that moment) for bench_ice_connect.sh.
# NATLAB_KEEP=1 keeps the logs. Exit 0 on PASS, 1 on FAIL, 2 on bad usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/natlab_lib.sh"

usage() { sed -n '9,10p' "$0" >&2; exit 2; }
uturn=${NATLAB_UTURN:-}
timings=
declare -A base_local=()
send_override=
connect_only=0
while (($#)); do
  case $1 in
    --connect-only) connect_only=1; shift ;;
    --send) send_override=${2:?}; shift 2 ;;
    --uturn) uturn=${2:?}; shift 2 ;;
    --timings) timings=${2:?}; shift 2 ;;
    --base-local)
      [[ ${2:-} =~ ^(a|b)$ ]] || usage
      base_local[$2]=1; shift 2 ;;
    -h | --help) usage ;;
    --*) echo "natlab_case.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 3)) || usage
case_name=$1
read -r -a peer_a <<<"$2"
read -r -a peer_b <<<"$3"
((${#peer_a[@]} && ${#peer_b[@]})) || usage
[[ -n $uturn ]] || uturn=$here/../../build/bin/uturn

# --- The case table ----------------------------------------------------------
# site_x: public|cone|symmetric. path_x: an ERE over "LOCAL/REMOTE" address
# classes of side x's last event=selected, where H is a host's own address,
# N a NAT's public mapping and R uturn's relay address; the types printed must
# fit the addresses (check_types below). send: datagrams a sends; min_echo:
# the share (percent) of them that must come back.
site_a=cone site_b=cone
role_b=--controlled
args_a=() args_b=()
send=50 min_echo=90
path_a=N/N path_b=N/N
loss=
udp_blocked=  # a side whose NAT forwards no UDP
check_relay_metrics=0 check_relay_gathered=0
case $case_name in
  nonat)
    site_a=public site_b=public
    path_a=H/H path_b=H/H ;;
  cone)
    # Behind NAT neither host address is reachable: the pair is made of the
    # NATs' mappings, learnt through STUN (srflx) or from checks (prflx). TURN
    # is configured, and must have worked, yet not be chosen.
    check_relay_gathered=1 ;;
  symmetric)
    # A mapping per destination defeats every direct pair: one end relays.
    site_a=symmetric site_b=symmetric
    path_a='R/.|./R' path_b=$path_a
    check_relay_metrics=1 ;;
  public_symmetric)
    # b's checks open a mapping towards a's host address; a learns it as a
    # peer-reflexive remote (RFC 8445 §7.3.1.3), b as a peer-reflexive local
    # from the response (§7.2.5.3.1).
    site_a=public site_b=symmetric
    path_a=H/N path_b=N/H ;;
  role_conflict)
    role_b=--controlling ;;  # RFC 8445 §7.3.1.1 resolves it
  restart)
    args_a=(--restart-after 2)
    send=250 ;;  # 5 s of data, so the restart happens while it flows
  consent)
    send=0 ;;
  loss)
    # 10% at each NAT, both ways: an echo crosses four drops (0.9^4 = 66%
    # expected back), so the contract's 90% exit rule cannot hold; the case
    # asks for a connection (any pair, relayed too) and data well above chance.
    loss=0.1 send=100 min_echo=40
    path_a='[HNR]/[HNR]' path_b=$path_a ;;
  udp_blocked)
    # a's NAT forwards no UDP: its only way out is TURN over TCP (RFC 8656
    # §3.1, --turn-transport tcp). Its relayed candidate is still a UDP relay
    # on uturn, which b (plain UDP) reaches: a relays, b may too.
    udp_blocked=a args_a=(--turn-transport tcp)
    path_a='R/.' path_b='./R'
    check_relay_metrics=1 ;;
  *) echo "natlab_case.sh: unknown case '$case_name'" >&2; usage ;;
esac
if ((connect_only)); then
  [[ $case_name != consent && $case_name != restart ]] || usage
  send=0 check_relay_metrics=0
fi
if [[ -n $send_override ]] && ((send > 0)); then
  [[ $send_override =~ ^[1-9][0-9]*$ ]] || usage
  send=$send_override
fi

lab_init
lab_up
for side in a b; do
  site=site_$side
  if [[ ${!site} == public ]]; then
    lab_public_host "$side"
  else
    lab_nat_host "$side" "${!site}"
    if [[ -n $loss ]]; then lab_loss "$side" "$loss"; fi
    if [[ $udp_blocked == "$side" ]]; then lab_block_udp "$side"; fi
  fi
done
lab_start_uturn "$uturn"

connect_timeout=20
common=(--stun "$lab_server_ip:3478" --turn "$lab_server_ip:3478"
  --turn-user "$lab_turn_user" --turn-pass "$lab_turn_pass" --timeout "$connect_timeout")
args_a=(--controlling "${common[@]}" "${args_a[@]}")
args_b=("$role_b" "${common[@]}" --echo "${args_b[@]}")
((send > 0)) && args_a+=(--send "$send") || args_a+=(--echo)

w=$lab_work
# Timestamps each line as it arrives (the runner's clock, not the peer's).
stamp() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

# --- Run the two peers -------------------------------------------------------
mkfifo "$w/a.out" "$w/b.out" "$w/a.err" "$w/b.err" "$w/a2b" "$w/b2a"
# Held open read-write by the runner so that no open() of the signalling pipes
# waits for the other peer (which waits in turn for this one).
exec {hold_a2b}<>"$w/a2b" {hold_b2a}<>"$w/b2a"
declare -A pid=() t0=()
for side in a b; do
  stamp <"$w/$side.err" >"$w/$side.log" &
  lab_pids+=($!)
  declare "stamper_$side=$!"
  other=b
  [[ $side == b ]] && other=a
  # tee keeps a copy of the signalling for the verdict.
  tee "$w/$side.sig" <"$w/$side.out" >"$w/${side}2$other" &
  lab_pids+=($!)
done
t0[a]=$EPOCHREALTIME
lab_spawn a "${peer_a[@]}" "${args_a[@]}" <"$w/b2a" >"$w/a.out" 2>"$w/a.err"
pid[a]=$lab_spawned_pid
t0[b]=$EPOCHREALTIME
lab_spawn b "${peer_b[@]}" "${args_b[@]}" <"$w/a2b" >"$w/b.out" 2>"$w/b.err"
pid[b]=$lab_spawned_pid

declare -A peer_name=([a]=${peer_a[0]##*/} [b]=${peer_b[0]##*/})
show_logs() {
  local side
  for side in a b; do
    echo "--- peer $side, ${peer_name[$side]} (stderr, runner timestamps):" >&2
    tail -n 60 "$w/$side.log" >&2 || true
    echo "--- peer $side signalling (stdout):" >&2
    tail -n 20 "$w/$side.sig" >&2 || true
  done
}
fail() {
  echo "FAIL: natlab $case_name (a: ${peer_a[*]}, b: ${peer_b[*]}): $*" >&2
  show_logs
  lab_fail "see the logs above"
}

# wait_exit SIDE SECONDS: bounded wait for the peer to exit; sets status_SIDE.
wait_exit() {
  local side=$1 deadline=$((SECONDS + $2)) s=0
  while kill -0 "${pid[$side]}" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "peer $side still running after $2 s"
    sleep 0.05
  done
  wait "${pid[$side]}" || s=$?
  declare -g "status_$side=$s"
  # Its stderr stamper ends with it; wait for the last lines to be written.
  local stamper=stamper_$side
  deadline=$((SECONDS + 5))
  while kill -0 "${!stamper}" 2>/dev/null; do
    ((SECONDS < deadline)) || break
    sleep 0.02
  done
}

# Both connect (the peers' own --timeout bounds this; one more second here).
declare -A t_conn=() cpu_ms=() rss_kb=() ms=()
deadline=$((SECONDS + connect_timeout + 1))
clk_tck=$(getconf CLK_TCK)
while :; do
  for side in a b; do
    [[ -n ${t_conn[$side]:-} ]] && continue
    line=$(grep -m1 -E 'event=connected( |$)' "$w/$side.log" 2>/dev/null) || continue
    t_conn[$side]=${line%% *}
    # CPU and peak RSS spent until connected, read while the peer still runs.
    # schedstat's first field is the time on CPU in ns; stat's utime+stime
    # only counts clock ticks.
    if read -r cpu_ns _ <"/proc/${pid[$side]}/schedstat" 2>/dev/null && ((cpu_ns > 0)); then
      cpu_ms[$side]=$(awk -v ns="$cpu_ns" 'BEGIN { printf "%.1f", ns / 1e6 }')
    elif stat=$(cat "/proc/${pid[$side]}/stat" 2>/dev/null); then
      read -r -a f <<<"${stat##*) }"
      cpu_ms[$side]=$(((f[11] + f[12]) * 1000 / clk_tck))
    fi
    rss_kb[$side]=$(awk '/^VmHWM:/ { print $2 }' "/proc/${pid[$side]}/status" 2>/dev/null) || true
  done
  [[ -n ${t_conn[a]:-} && -n ${t_conn[b]:-} ]] && break
  for side in a b; do
    [[ -n ${t_conn[$side]:-} ]] || kill -0 "${pid[$side]}" 2>/dev/null ||
      fail "peer $side exited without event=connected"
  done
  ((SECONDS < deadline)) || fail "not connected within $connect_timeout s"
  sleep 0.02
done
connect_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
for side in a b; do
  ms[$side]=$(connect_ms "${t0[$side]}" "${t_conn[$side]}")
done

if ((connect_only)); then
  # Both are told to stop once connected: exit 0 (ICE-PEER.md).
  for side in a b; do kill -TERM "${pid[$side]}" 2>/dev/null || true; done
  wait_exit a 10
  wait_exit b 10
  for side in a b; do
    status=status_$side
    ((${!status} == 0)) || fail "$side exited ${!status} on SIGTERM after connecting"
  done
elif [[ $case_name == consent ]]; then
  # The remote goes silent: consent (RFC 7675 §5.1) is lost 30 s after the
  # last response; a must say so and exit 1 (ICE-PEER.md).
  kill -STOP "${pid[b]}"
  lab_wait_log "$w/a.log" 'event=failed reason=consent' 45 "${pid[a]}" ||
    fail "a did not report event=failed reason=consent within 45 s of b stopping"
  wait_exit a 10
  ((status_a == 1)) || fail "a exited $status_a after losing consent, the contract says 1"
  kill -KILL "${pid[b]}"
  wait_exit b 5
else
  wait_exit a $((connect_timeout + send / 50 + 2 + 15))
  # b echoes until told to stop; exit 0 since it connected.
  kill -TERM "${pid[b]}" 2>/dev/null || true
  wait_exit b 10
fi

# --- Verdict -----------------------------------------------------------------
# The address classes of a selected pair, from the lab's own addresses.
declare -A own_nat=([a]=${lab_wan_ip[a]} [b]=${lab_wan_ip[b]})
for side in a b; do
  site=site_$side
  [[ ${!site} == public ]] && own_nat[$side]=none
done
class_of() { # SIDE IP_PORT: H, N or R as seen from SIDE's host; ? if foreign
  local ip=${2%:*}
  case $ip in
    "${lab_host_ip[$1]}") echo H ;;
    "${own_nat[$1]}") echo N ;;
    "$lab_server_ip") echo R ;;
    *) echo '?' ;;
  esac
}
# Types that fit an address class. A local address is the host's own (host),
# its NAT's mapping (srflx from STUN, or prflx from a check's response, RFC
# 8445 §7.2.5.3.1) or the relay. A remote one may also be peer-reflexive
# whatever it is: a check can arrive before the candidate is signalled
# (§7.3.1.3, trickle), and the agent need not retype it later.
declare -A local_types=([H]=host [N]='srflx|prflx' [R]=relay)
declare -A remote_types=([H]='host|prflx' [N]='srflx|prflx' [R]='relay|prflx')
declare -A types=() addr_local=() addr_remote=() path=()
for side in a b; do
  other=b
  [[ $side == b ]] && other=a
  sel=$(grep -E 'event=selected( |$)' "$w/$side.log" | tail -n1) ||
    fail "peer $side printed no event=selected"
  for key in local_type remote_type local remote; do
    [[ $sel =~ [[:space:]]$key=([^[:space:]]+) ]] || fail "peer $side: no $key= in '$sel'"
    printf -v "sel_$key" '%s' "${BASH_REMATCH[1]}"
  done
  types[$side]=$sel_local_type/$sel_remote_type
  addr_local[$side]=$sel_local addr_remote[$side]=$sel_remote
  lc=$(class_of "$side" "$sel_local")
  rc=$(class_of "$other" "$sel_remote")
  [[ $lc != '?' ]] || fail "peer $side: local address $sel_local is none of its own"
  [[ $rc != '?' ]] || fail "peer $side: remote address $sel_remote is none of $other's"
  if [[ ${base_local[$side]:-0} == 1 && $lc == H && ${own_nat[$side]} != none ]]; then
    # This peer names the base for a local candidate that is its NAT's
    # mapping (see --base-local): the path is the mapping's.
    lc=N
    [[ $sel_local_type =~ ^(host|srflx|prflx)$ ]] || fail "peer $side: local type $sel_local_type"
  else
    [[ $sel_local_type =~ ^(${local_types[$lc]})$ ]] ||
      fail "peer $side: local $sel_local is class $lc, printed as $sel_local_type"
  fi
  [[ $sel_remote_type =~ ^(${remote_types[$rc]})$ ]] ||
    fail "peer $side: remote $sel_remote is class $rc, printed as $sel_remote_type"
  path[$side]=$lc/$rc
  expect=path_$side
  [[ ${path[$side]} =~ ^(${!expect})$ ]] ||
    fail "peer $side selected ${types[$side]} (path ${path[$side]}: H host, N NAT mapping," \
      "R relay), expected path ${!expect}"
done
# Both ends must name the same pair: a's local address is b's remote one.
for side in a b; do
  other=b
  [[ $side == b ]] && other=a
  [[ ${base_local[$side]:-0} == 1 ]] && continue
  [[ ${addr_local[$side]} == "${addr_remote[$other]}" ]] ||
    fail "the ends disagree on the pair: $side's local is ${addr_local[$side]}," \
      "$other's remote ${addr_remote[$other]}"
done

if ((check_relay_gathered)); then
  for side in a b; do
    grep -qE 'event=gathered type=relay' "$w/$side.log" ||
      fail "peer $side gathered no relayed candidate: TURN did not work"
  done
fi

if [[ $case_name == restart ]]; then
  grep -q 'event=restarted' "$w/a.log" || fail "a printed no event=restarted"
  # A pair selected after the restart (the old one was kept meanwhile, §9).
  awk '/event=restarted/ { r = 1 } r && /event=selected/ { ok = 1 } END { exit !ok }' "$w/a.log" ||
    fail "no event=selected after a's event=restarted"
fi

if ((send > 0)); then
  data=$(grep -E 'event=data( |$)' "$w/a.log" | tail -n1) || fail "a printed no event=data"
  [[ $data =~ sent=([0-9]+) ]] || fail "a: no sent= in '$data'"
  sent=${BASH_REMATCH[1]}
  [[ $data =~ received=([0-9]+) ]] || fail "a: no received= in '$data'"
  received=${BASH_REMATCH[1]}
  ((sent == send)) || fail "a sent $sent datagrams, asked for $send"
  ((received * 100 >= send * min_echo)) ||
    fail "a got back $received of $sent datagrams, needs $min_echo%"
  if ((min_echo >= 90)); then
    ((status_a == 0)) || fail "a exited $status_a with $received of $sent back"
  else
    ((status_a == 0 || status_a == 1)) || fail "a exited $status_a"
  fi
  ((status_b == 0)) || fail "b exited $status_b on SIGTERM after connecting"
  data_note=" data=$received/$sent"
else
  data_note=
fi

if ((check_relay_metrics)); then
  # Shards publish counters about once a second: poll, bounded.
  need=$((send * min_echo / 100))
  deadline=$((SECONDS + 5))
  while :; do
    to_peer=$(lab_metric uturn_relayed_packets_total 'direction="to_peer"') || fail "metrics"
    to_client=$(lab_metric uturn_relayed_packets_total 'direction="to_client"') || fail "metrics"
    ((to_peer >= need && to_client >= need)) && break
    ((SECONDS < deadline)) ||
      fail "uturn relayed to_peer=$to_peer to_client=$to_client packets, expected >= $need each way"
    sleep 0.2
  done
  data_note+=" relayed=$to_peer/$to_client"
fi

if [[ -n $timings ]]; then
  for side in a b; do
    echo "case=$case_name side=$side peer=${peer_name[$side]} connect_ms=${ms[$side]}" \
      "cpu_ms=${cpu_ms[$side]:-} rss_kb=${rss_kb[$side]:-} pair=${types[$side]}" >>"$timings"
  done
fi
echo "PASS: natlab $case_name a=${peer_name[a]}(${types[a]}, connected ${ms[a]} ms)" \
  "b=${peer_name[b]}(${types[b]}, connected ${ms[b]} ms)$data_note"
