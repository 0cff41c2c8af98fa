#!/usr/bin/env bash
# Start a throwaway Dovecot IMAP server on 127.0.0.1 (plaintext, passwd-file users) for tests.
# Usage: scripts/dovecot-throwaway.sh start [PORT]          prints DIR=, PORT=, CONF=
#        scripts/dovecot-throwaway.sh add-user DIR USER PASS  (Dovecot rereads the file on change)
#        scripts/dovecot-throwaway.sh stop DIR
# Dovecot refuses to handle mail as root, so mail is owned by a `vmail` system user when we are root.
set -euo pipefail
cmd=${1:-start}
if [ "$cmd" = stop ]; then
  dir=$2
  doveadm -c "$dir/dovecot.conf" stop >/dev/null 2>&1 || {
    [ -f "$dir/run/master.pid" ] && kill "$(cat "$dir/run/master.pid")" 2>/dev/null || true; }
  rm -rf "$dir"
  exit 0
fi
if [ "$cmd" = add-user ]; then
  dir=$2 user=$3 pass=$4
  grep -v "^$user:" "$dir/users" > "$dir/users.new" || true
  printf '%s:{PLAIN}%s\n' "$user" "$pass" >> "$dir/users.new"
  old=$(stat -c %Y "$dir/users")
  cat "$dir/users.new" > "$dir/users"; rm -f "$dir/users.new"
  # Dovecot rereads the file when its mtime changes: make sure it does, even within one second.
  now=$(date +%s); touch -d "@$(( now > old ? now : old + 1 ))" "$dir/users"
  for _ in $(seq 1 50); do
    doveadm -c "$dir/dovecot.conf" auth test "$user" "$pass" >/dev/null 2>&1 && exit 0
    sleep 0.1
  done
  echo "dovecot does not accept the new user $user" >&2
  exit 1
fi
command -v dovecot >/dev/null 2>&1 || { echo "dovecot is not installed (apt-get install dovecot-imapd)" >&2; exit 3; }
port=${2:-14300}
dir=$(mktemp -d /tmp/tidings-dovecot.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/mail" "$dir/run" "$dir/state"
: > "$dir/users"
if [ "$(id -u)" = 0 ]; then
  id vmail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin vmail
  owner=vmail; chown vmail:vmail "$dir/mail"
  getent group dovecot >/dev/null && chown root:dovecot "$dir/users"; chmod 644 "$dir/users"
  extra=""
else
  owner=$(id -un)
  extra="default_login_user = $owner
default_internal_user = $owner"
fi
uid=$(id -u "$owner"); gid=$(id -g "$owner")
cat > "$dir/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
$extra
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
dovecot -c "$dir/dovecot.conf" </dev/null >/dev/null 2>&1
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
echo "DIR=$dir"
echo "PORT=$port"
echo "CONF=$dir/dovecot.conf"
