#!/usr/bin/env bash
# The demo: installs what is missing, builds Ferry, starts a private Prosody on loopback with Ferry's
# component configured, runs Ferry connected to it, and shows a client talking to Ferry.
# Stays up until Ctrl-C, then removes everything it started.
# Usage: scripts/demo.sh [--no-install]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "${1:-}" != "--no-install" ]; then
  bash scripts/install-deps.sh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target ferry

demo_dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 755 "$demo_dir"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo_dir"
}
trap cleanup EXIT INT TERM

# Private Prosody: prints KEY=VALUE lines, then READY=1.
/usr/bin/python3 scripts/testworld/xmpp-server.py prosody "$demo_dir/prosody" >"$demo_dir/server.env" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q '^READY=1' "$demo_dir/server.env" 2>/dev/null && break
  sleep 0.2
done
grep -q '^READY=1' "$demo_dir/server.env" || { echo "demo: Prosody did not start" >&2; exit 1; }
# shellcheck disable=SC1090
. <(grep -E '^[A-Z_0-9]+=' "$demo_dir/server.env" | sed 's/^/export /')

FERRY_COMPONENT_DOMAIN=$COMPONENT_DOMAIN FERRY_COMPONENT_HOST=127.0.0.1 FERRY_COMPONENT_PORT=$COMPONENT_PORT \
FERRY_COMPONENT_SECRET=$COMPONENT_SECRET FERRY_LOG_FILE="$demo_dir/ferry.log" \
  "$root/build/ferry" run &
pids+=($!)
for _ in $(seq 1 50); do
  grep -q 'component connected' "$demo_dir/ferry.log" 2>/dev/null && break
  sleep 0.2
done
grep -q 'component connected' "$demo_dir/ferry.log" || { cat "$demo_dir/ferry.log" >&2; exit 1; }

cat <<INFO

Ferry is connected to a private Prosody as $COMPONENT_DOMAIN.
  Prosody clients : 127.0.0.1:$C2S_PORT   users ${ALICE_JID} / ${ALICE_PASSWORD}, ${BOB_JID} / ${BOB_PASSWORD}
  Ferry's log     : $demo_dir/ferry.log

Asking Ferry as alice (the same as: scripts/xmpp-probe.py --port $C2S_PORT $COMPONENT_DOMAIN):
INFO
/usr/bin/python3 scripts/xmpp-probe.py --jid "$ALICE_JID" --password "$ALICE_PASSWORD" --port "$C2S_PORT" \
  "$COMPONENT_DOMAIN"
cat <<INFO

Try it yourself in another terminal:
  scripts/xmpp-probe.py --jid $ALICE_JID --password $ALICE_PASSWORD --port $C2S_PORT $COMPONENT_DOMAIN
or log in with any XMPP client (no TLS) and open service discovery on $COMPONENT_DOMAIN.
Press Ctrl-C to stop; everything started here is removed.
INFO
wait "${pids[1]}"
