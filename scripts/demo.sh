#!/usr/bin/env bash
# The demo: installs what is missing, builds Ferry, starts a private PostgreSQL, a private Prosody and a fake
# Slack (tests/fakes/slack.py) on loopback, sets up demo mappings, runs Ferry, and shows messages crossing:
#   alice → ops%opslog@<component>  → the durable outbox → a JSON line in the `log` connector's file
#   an Alertmanager notification (HTTP POST) → the outbox → a chat message to alice
#   the room demo@<MUC domain> ↔ the Slack channel C0LAN2Q65, both ways
# Stays up until Ctrl-C, then removes everything it started.
# Usage: scripts/demo.sh [--no-install]   (FERRY_BIN=path runs that binary instead of building build/ferry)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "${1:-}" != "--no-install" ]; then
  bash scripts/install-deps.sh
fi
if [ -n "${FERRY_BIN:-}" ]; then
  ferry=$(realpath "$FERRY_BIN")
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build --target ferry
  ferry=$root/build/ferry
fi

demo_dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 755 "$demo_dir"
pids=()
cleaned=0
cleanup() {
  [ "$cleaned" = 0 ] || return 0
  cleaned=1
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Up to 10 s for everything to stop on its own; whatever is still there then is killed.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: $(ps -o args= -p "$pid" 2>/dev/null | cut -c1-80) did not stop within 10 s: killed" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  wait "${pids[@]}" 2>/dev/null || true
  bash scripts/testworld/postgres.sh stop "$demo_dir/pg" >/dev/null 2>&1 || true
  rm -rf "$demo_dir"
  echo "demo: stopped; Ferry, Prosody, PostgreSQL and the fake Slack are gone, and $demo_dir with them"
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

# Private PostgreSQL: prints FERRY_TEST_PG_URL=…
FERRY_DATABASE_URL=$(bash scripts/testworld/postgres.sh start "$demo_dir/pg" | sed -n 's/^FERRY_TEST_PG_URL=//p')
[ -n "$FERRY_DATABASE_URL" ] || { echo "demo: PostgreSQL did not start" >&2; exit 1; }
export FERRY_DATABASE_URL

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

# A fake Slack (the one the tests use): prints what Ferry posts to its channel C0LAN2Q65.
slack_secret=8f742231b10e8888abcd99yyyzzz85a5 # the example signing secret of Slack's documentation
/usr/bin/python3 -u tests/fakes/slack.py xoxb-demo >"$demo_dir/slack.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  grep -q '^fake Slack Web API at' "$demo_dir/slack.log" 2>/dev/null && break
  sleep 0.1
done
slack_api=$(sed -n 's/^fake Slack Web API at \([^ ]*\) .*/\1/p' "$demo_dir/slack.log")
[ -n "$slack_api" ] || { echo "demo: the fake Slack did not start" >&2; cat "$demo_dir/slack.log" >&2; exit 1; }
room=demo@$MUC_DOMAIN

# Demo mappings: alice's messages to `ops` go to a log file; alerts go to alice; the room and the Slack
# channel are one conversation.
token=demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
http_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ferry" db migrate >/dev/null 2>&1
"$ferry" connector add opslog --kind log --setting "path=$demo_dir/ops.jsonl" >/dev/null
"$ferry" mapping add --xmpp "$ALICE_JID" --connector opslog --remote ops --direction out >/dev/null
"$ferry" connector add alerts --kind alertmanager --setting "token=$token" >/dev/null
"$ferry" mapping add --xmpp "$ALICE_JID" --connector alerts --remote '*' --direction in >/dev/null
"$ferry" connector add slack --kind slack --setting token=xoxb-demo --setting "base_url=$slack_api" \
  --setting "signing_secret=$slack_secret" --setting allow_private=yes >/dev/null
"$ferry" mapping add --xmpp "$room" --connector slack --remote C0LAN2Q65 --direction both --option room=yes \
  >/dev/null

FERRY_COMPONENT_DOMAIN=$COMPONENT_DOMAIN FERRY_COMPONENT_HOST=127.0.0.1 FERRY_COMPONENT_PORT=$COMPONENT_PORT \
FERRY_COMPONENT_SECRET=$COMPONENT_SECRET FERRY_HTTP_PORT=$http_port FERRY_LOG_FILE="$demo_dir/ferry.log" \
  "$ferry" run &
pids+=($!)
for _ in $(seq 1 50); do
  grep -q 'mapping store: loaded' "$demo_dir/ferry.log" 2>/dev/null && grep -q 'component connected' "$demo_dir/ferry.log" && break
  sleep 0.2
done
grep -q 'component connected' "$demo_dir/ferry.log" || { cat "$demo_dir/ferry.log" >&2; exit 1; }

alert_json='{"version":"4","groupKey":"demo-'"$token"'","status":"firing","receiver":"ferry",
 "groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","severity":"critical"},
 "externalURL":"http://alertmanager.example.org:9093",
 "alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","instance":"db-1"},
  "annotations":{"summary":"Disk 97% full"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
  "generatorURL":"","fingerprint":"demo"}]}'
printf '%s\n' "$alert_json" >"$demo_dir/alert.json"
chat=(/usr/bin/python3 scripts/xmpp-chat.py --jid "$ALICE_JID" --password "$ALICE_PASSWORD" --port "$C2S_PORT")

cat <<INFO

Ferry is connected to a private Prosody as $COMPONENT_DOMAIN, with its store in a private PostgreSQL.
  Prosody clients : 127.0.0.1:$C2S_PORT   users ${ALICE_JID} / ${ALICE_PASSWORD}, ${BOB_JID} / ${BOB_PASSWORD}
  Rooms (MUC)     : $MUC_DOMAIN   the room $room is bridged to the fake Slack's channel C0LAN2Q65
  Ferry's webhooks: http://127.0.0.1:$http_port/hooks/alerts   (token $token)
                    http://127.0.0.1:$http_port/hooks/slack    (Slack's signing secret $slack_secret)
  Ferry's log     : $demo_dir/ferry.log
  Mappings (ferry mapping list):
$("$ferry" mapping list | sed 's/^/    /')

1. Asking Ferry as alice (scripts/xmpp-probe.py):
INFO
/usr/bin/python3 scripts/xmpp-probe.py --jid "$ALICE_JID" --password "$ALICE_PASSWORD" --port "$C2S_PORT" \
  "$COMPONENT_DOMAIN"

echo
echo "2. alice writes to ops%opslog@$COMPONENT_DOMAIN; Ferry commits it to the outbox, the log connector writes it:"
"${chat[@]}" --send "ops%opslog@$COMPONENT_DOMAIN" "hello ops, the demo says hi" --listen 2
echo "    $demo_dir/ops.jsonl:"
sed 's/^/    /' "$demo_dir/ops.jsonl" 2>/dev/null || echo "    (nothing yet: see $demo_dir/ferry.log)"

echo
echo "3. An Alertmanager notification arrives over HTTP; alice receives it:"
"${chat[@]}" --listen 4 &
listener=$!
sleep 1.5
curl -sS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data @"$demo_dir/alert.json" "http://127.0.0.1:$http_port/hooks/alerts"
wait "$listener" || true

echo
echo "4. alice says something in $room; Ferry posts it to the Slack channel (the fake Slack prints it):"
slack_seen=$(wc -l <"$demo_dir/slack.log")
"${chat[@]}" --room "$room" --say "hello Slack, from XMPP" --listen 3
tail -n +"$((slack_seen + 1))" "$demo_dir/slack.log" | sed 's/^/    fake Slack: /'

echo
echo "5. Someone writes in the Slack channel (an Events API request signed as Slack signs it); it appears in the room:"
slack_event='{"type":"event_callback","event_id":"EvDemo1","event":{"type":"message","channel":"C0LAN2Q65","user":"U061F7AUR","text":"hello XMPP, from Slack","ts":"1765100000.000100"}}'
"${chat[@]}" --room "$room" --listen 4 &
listener=$!
sleep 1.5
slack_ts=$(date +%s)
slack_sig=$(printf 'v0:%s:%s' "$slack_ts" "$slack_event" | openssl dgst -sha256 -hmac "$slack_secret" -r | cut -d' ' -f1)
curl -sS -X POST -H "X-Slack-Request-Timestamp: $slack_ts" -H "X-Slack-Signature: v0=$slack_sig" \
  -H 'Content-Type: application/json' --data "$slack_event" "http://127.0.0.1:$http_port/hooks/slack"
echo
wait "$listener" || true

cat <<INFO
Try it yourself in another terminal:
  scripts/xmpp-chat.py --jid $ALICE_JID --password $ALICE_PASSWORD --port $C2S_PORT --send 'ops%opslog@$COMPONENT_DOMAIN' 'hi'
  curl -X POST -H 'Authorization: Bearer $token' -d @$demo_dir/alert.json http://127.0.0.1:$http_port/hooks/alerts
      (the same notification again within 5 minutes is a resend: "duplicate"; change its groupKey)
  FERRY_DATABASE_URL='$FERRY_DATABASE_URL' $ferry mapping list
  curl http://127.0.0.1:$http_port/metrics
  scripts/xmpp-chat.py --jid $ALICE_JID --password $ALICE_PASSWORD --port $C2S_PORT --room $room --say 'hi Slack' --listen 30
      (what the room says reaches the fake Slack: tail -f $demo_dir/slack.log)
or point Gajim/Dino/profanity at 127.0.0.1:$C2S_PORT (plain connection) as $ALICE_JID and join $room.
To try README.md's examples next to this demo ("next to the demo" blocks), first in that terminal:
  export FERRY_DATABASE_URL='$FERRY_DATABASE_URL' FERRY_HTTP_PORT=$http_port C2S_PORT=$C2S_PORT
  export PATH=$(dirname "$ferry"):\$PATH
(users $ALICE_JID and $BOB_JID, rooms on $MUC_DOMAIN, Ferry's domain $COMPONENT_DOMAIN).
Ctrl-C stops everything and removes $demo_dir.
INFO
wait "${pids[2]}" || true
