#!/usr/bin/env bash
# A private PostgreSQL 15 for tests, under DIR, on 127.0.0.1 and a free port.
#   postgres.sh start DIR    initdb (once), start, create role and database "ferry"; prints
#                            FERRY_TEST_PG_URL=postgresql://ferry:PASSWORD@127.0.0.1:PORT/ferry and PGDATA=...
#   postgres.sh stop DIR     pg_ctl stop -m fast (nothing to do when it is not running)
#   postgres.sh restart DIR  stop, then start again on the same port (reconnect tests)
# Idempotent. As root, the server runs as the "postgres" user; otherwise as the calling user.
set -euo pipefail

usage() { echo "usage: $0 start|stop|restart DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
if [ "$action" = stop ] && [ ! -d "$2" ]; then exit 0; fi
mkdir -p "$2"
dir=$(cd "$2" && pwd)
data=$dir/data
sock=$dir/sock
bin=${FERRY_PG_BIN:-/usr/lib/postgresql/15/bin}

if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  as_pg() { "$@"; }
  owner=$(id -un)
fi

# The server user must be able to reach DIR: make every parent directory traversable.
make_reachable() {
  local d=$dir
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    if ! as_pg test -x "$d"; then chmod o+x "$d"; fi
  done
}

running() { [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htln "sport = :$port")" ]; then echo "$port"; return; fi
  done
  echo "no free port found" >&2
  exit 1
}

start() {
  if [ "$(id -u)" = 0 ]; then chown "$owner" "$dir"; fi
  make_reachable
  local chosen=0 port password attempt
  if [ ! -f "$dir/port" ]; then free_port >"$dir/port"; chosen=1; fi
  [ -f "$dir/password" ] || (umask 077 && openssl rand -hex 16 >"$dir/password")
  password=$(cat "$dir/password")
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg mkdir -p "$data" "$sock"
    as_pg "$bin/initdb" -D "$data" -U postgres -E UTF8 --no-locale --no-sync \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if ! running; then
    for attempt in 1 2 3 4 5; do
      port=$(cat "$dir/port")
      if as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=on" start >/dev/null; then
        break
      fi
      # On a shared host another process may take the port between choosing and binding it: choose again
      # (only a port chosen here; a restart keeps its port).
      if [ "$chosen" = 1 ] && [ "$attempt" -lt 5 ] && tail -n 5 "$dir/server.log" | grep -q "could not bind"; then
        free_port >"$dir/port"
        continue
      fi
      tail -n 20 "$dir/server.log" >&2
      exit 1
    done
  fi
  port=$(cat "$dir/port")
  # The password travels as a psql variable on stdin: it appears in no command line.
  as_pg "$bin/psql" -X -q -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -v pw="$password" >/dev/null <<'SQL'
SELECT format('CREATE ROLE ferry LOGIN PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferry') \gexec
SELECT 'CREATE DATABASE ferry OWNER ferry'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ferry') \gexec
SQL
  echo "FERRY_TEST_PG_URL=postgresql://ferry:$password@127.0.0.1:$port/ferry"
  echo "PGDATA=$data"
}

stop() {
  if running; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
}

case "$action" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) usage ;;
esac
