# shellcheck shell=bash
# Sourced after uturn_lib.sh by the TURN-over-TCP interop scripts.
# shellcheck disable=SC2154 # uturn_log comes from uturn_lib.sh

# uturn_tcp_port: prints the TCP listening port of the uturn started by
# start_uturn. With --listening-port 0 the kernel picks one port per socket,
# so it differs from the UDP port (uturn_port).
uturn_tcp_port() {
  local port
  port=$(sed -n 's/.*event=listening transport=tcp address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$uturn_log" | head -n1)
  [[ -n $port ]] || fail "no 'event=listening transport=tcp' line in the log: is uturn listening on TCP?"
  echo "$port"
}

# uturn_metrics_port: the Prometheus port of a uturn started with
# --prometheus --prometheus-port 0.
uturn_metrics_port() {
  local port
  port=$(sed -n 's/.*event=prometheus address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$uturn_log" | head -n1)
  [[ -n $port ]] || fail "no 'event=prometheus address=127.0.0.1:PORT' line in the log"
  echo "$port"
}

# uturn_metric PORT NAME: prints the value of the unlabelled metric NAME from
# uturn's /metrics, or fails.
uturn_metric() {
  local text value
  text=$(curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics") || fail "GET /metrics on port $1 failed"
  value=$(awk -v n="$2" '$1 == n { print $2 }' <<<"$text")
  [[ -n $value ]] || fail "no metric $2 in /metrics"
  echo "$value"
}

# uturn_check_tcp_accepted: after stop_uturn, fails unless uturn's final
# counters show it accepted a TCP connection (the client did not fall back to
# UDP or talk to another port).
uturn_check_tcp_accepted() {
  local accepted
  accepted=$(sed -n 's/.*event=stopped .* tcp_accepted=\([0-9]*\) .*/\1/p' "$uturn_log" | tail -n1)
  [[ -n $accepted ]] || fail "no tcp_accepted= counter in uturn's event=stopped line"
  ((accepted > 0)) || fail "uturn accepted no TCP connection"
  echo "uturn accepted $accepted TCP connections"
}
