#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 and print its asyncpg URL.
# Usage: scripts/pg-throwaway.sh start [PORT] | scripts/pg-throwaway.sh stop DIR
# Runs initdb as the package's postgres user when we are root (initdb refuses root).
set -euo pipefail
cmd=${1:-start}
if [ "$cmd" = stop ]; then
  dir=$2
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  else "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
  rm -rf "$dir"
  exit 0
fi
port=${2:-54329}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 3; }
dir=$(mktemp -d /tmp/tidings-pg.XXXXXX)
as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
as "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
as "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
as "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres tidings_test
echo "DIR=$dir"
echo "URL=postgresql+asyncpg://postgres@127.0.0.1:$port/tidings_test"
