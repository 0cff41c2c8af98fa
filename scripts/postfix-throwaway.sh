#!/usr/bin/env bash
# Start a throwaway Postfix (a real MTA) on 127.0.0.1 for tests: its own config, queue and mail directories.
# Usage: scripts/postfix-throwaway.sh start [PORT]   prints DIR=, PORT=, MAIL=, LOG=
#        scripts/postfix-throwaway.sh stop DIR
# Mail for example.test goes to one Maildir (MAIL); gone@example.test is refused (554 5.1.1). STARTTLS is
# offered with a self-signed certificate; Postfix's strictest pipelining and bare-newline checks are on.
# Postfix starts as root only. Its `postfix` command prints errors only to a terminal, hence `script`.
set -euo pipefail
cmd=${1:-start}
run() { script -qec "$1" /dev/null; }
if [ "$cmd" = stop ]; then
  dir=$2
  run "postfix -c $dir/etc stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi
command -v postfix >/dev/null 2>&1 || { echo "postfix is not installed (apt-get install postfix)" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "postfix starts as root only" >&2; exit 3; }
port=${2:-2626}
dir=$(mktemp -d /tmp/tidings-postfix.XXXXXX)
trap 'rm -rf "$dir"' EXIT  # kept only when Postfix is up (cleared below)
chmod 755 "$dir"
mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
chown nobody:nogroup "$dir/mail"
chown postfix "$dir/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$dir/etc/key.pem" -out "$dir/etc/cert.pem" >/dev/null 2>&1
cat > "$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.tidings.test
mydestination =
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:example.test/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = check_recipient_access inline:{ { gone@example.test = REJECT 5.1.1 no such user } }, permit_mynetworks, reject_unauth_destination
smtpd_forbid_unauth_pipelining = yes
smtpd_forbid_bare_newline = yes
smtpd_tls_security_level = may
smtpd_tls_cert_file = $dir/etc/cert.pem
smtpd_tls_key_file = $dir/etc/key.pem
smtpd_client_connection_rate_limit = 0
alias_maps =
alias_database =
notify_classes =
EOF
cat > "$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
virtual   unix  - n n -   - virtual
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
tlsmgr    unix  - - n 1000? 1 tlsmgr
postlog   unix-dgram n - n - 1 postlogd
EOF
if ! out=$(run "postfix -c $dir/etc start" 2>&1); then
  echo "postfix did not start: $out" >&2; exit 1
fi
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    trap - EXIT
    echo "DIR=$dir"; echo "PORT=$port"; echo "MAIL=$dir/mail/example.test"; echo "LOG=$dir/postfix.log"
    exit 0
  fi
  sleep 0.1
done
echo "postfix does not listen on $port" >&2
run "postfix -c $dir/etc stop" >/dev/null 2>&1 || true
exit 1
