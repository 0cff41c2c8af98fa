#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 and print its asyncpg URL.
# Usage: scripts/pg-throwaway.sh start [PORT] | scripts/pg-throwaway.sh stop DIR
#        scripts/pg-throwaway.sh pause DIR | scripts/pg-throwaway.sh resume DIR   (an outage: server down, data kept)
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
if [ "$cmd" = pause ] || [ "$cmd" = resume ]; then
  dir=$2
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$cmd" = pause ]; then as "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  else as "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null; fi
  exit 0
fi
port=${2:-54329}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 3; }
dir=$(mktemp -d /tmp/tidings-pg.XXXXXX)
as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
as "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
# In the configuration file rather than on the command line, so that `resume` starts the same server.
printf '%s\n' "listen_addresses = '127.0.0.1'" "port = $port" "unix_socket_directories = '$dir'" "fsync = off" \
  "synchronous_commit = off" "full_page_writes = off" "max_connections = 200" >> "$dir/data/postgresql.conf"
as "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null
as "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres tidings_test
echo "DIR=$dir"
echo "URL=postgresql+asyncpg://postgres@127.0.0.1:$port/tidings_test"
