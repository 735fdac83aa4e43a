#!/usr/bin/env bash
# Interop: coturn's turnutils_stunclient (Debian package `coturn`) asks our
# server for its reflexive address over UDP.
#   coturn_stunclient.sh PATH/TO/uturn
# It prints lines like "0: : IPv4. UDP reflexive addr: 127.0.0.1:46319"; we
# check the address is 127.0.0.1 with a real port, and that our server logged
# the Binding it answered.
set -euo pipefail

uturn=${1:?usage: coturn_stunclient.sh PATH/TO/uturn}
client=$(command -v turnutils_stunclient || true)
if [[ -z $client ]]; then
  echo "FAIL: turnutils_stunclient not found (apt-get install coturn, or scripts/install-deps.sh --test)" >&2
  exit 1
fi

work=$(mktemp -d)
log=$work/uturn.log
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$uturn" --listening-ip 127.0.0.1 --listening-port 0 --no-tcp 2>"$log" &
pid=$!

# Readiness: poll the log for event=ready, bounded (10 s).
deadline=$((SECONDS + 10))
until grep -q 'event=ready' "$log"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: uturn exited before it was ready:" >&2; cat "$log" >&2; exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "FAIL: uturn not ready within 10 s:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.05
done
port=$(sed -n 's/.*event=listening transport=udp address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
if [[ -z $port ]]; then
  echo "FAIL: no UDP listening line in the log:" >&2; cat "$log" >&2; exit 1
fi

# turnutils_stunclient retries forever when nobody answers: bound it.
set +e
out=$(timeout 20 "$client" -p "$port" 127.0.0.1 2>&1)
rc=$?
set -e
echo "$out"
if ((rc != 0)); then
  echo "FAIL: turnutils_stunclient exited with $rc" >&2; cat "$log" >&2; exit 1
fi
mapped=$(sed -n 's/.*UDP reflexive addr: \([0-9.]*:[0-9]*\).*/\1/p' <<<"$out" | head -n1)
if [[ ! $mapped =~ ^127\.0\.0\.1:([0-9]+)$ ]] || ((BASH_REMATCH[1] == 0 || BASH_REMATCH[1] > 65535)); then
  echo "FAIL: expected 'UDP reflexive addr: 127.0.0.1:PORT', got: ${mapped:-nothing}" >&2; exit 1
fi
if [[ ${BASH_REMATCH[1]} == "$port" ]]; then
  echo "FAIL: the reflexive port is the server's own port $port" >&2; exit 1
fi

kill -TERM "$pid"
set +e
wait "$pid"
status=$?
set -e
pid=
if ((status != 0)); then
  echo "FAIL: uturn exited with $status on SIGTERM" >&2; cat "$log" >&2; exit 1
fi
if ! grep -Eq 'event=stopped.* binding_success=[1-9]' "$log"; then
  echo "FAIL: uturn did not log the answered Binding:" >&2; cat "$log" >&2; exit 1
fi
echo "PASS: turnutils_stunclient got reflexive address $mapped from uturn on port $port"
