#!/usr/bin/env bash
# cross/smoke.sh x86_64|aarch64|armv7: runs the binary cross/build.sh makes (under qemu-user for
# ARM; there is no binfmt_misc on the build machines) through an appliance's first minutes:
# --init in a temp dir on loopback ports, serve, deliver a message with `applianced deliver`,
# log in over implicit TLS and fetch it (Python's imaplib), SIGTERM, clean exit.
# Exits non-zero on any failure. APPLIANCED_BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  x86_64) runner=() ;;
  aarch64) runner=(qemu-aarch64-static) ;;
  armv7) runner=(qemu-arm-static) ;;
  *) echo "usage: cross/smoke.sh x86_64|aarch64|armv7" >&2; exit 64 ;;
esac
target=$1
bin="${APPLIANCED_BIN:-$(cross/build.sh "$target")}"
run() { "${runner[@]}" "$bin" "$@"; }

dir="$(mktemp -d /tmp/applianced-smoke-XXXXXX)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "smoke $target: FAIL: $*" >&2
  if [ -f "$dir/log" ]; then sed 's/^/  server: /' "$dir/log" >&2; fi
  exit 1
}
step() { echo "smoke $target: $*"; }

step "$(file -b "$bin" | cut -d, -f1-2), $(stat -c %s "$bin") bytes"
printf 'smoke-password-%s' "$$" >"$dir/pw"
run --init --data-dir "$dir/data" --hostname smoke.test --admin bob@smoke.test --password-file "$dir/pw" \
  --imap-listen 127.0.0.1:0 --imaps-listen 127.0.0.1:0 >"$dir/init.out" || fail "--init: $(cat "$dir/init.out")"
step "--init ok"

# Not through run(): $! must be the server (or qemu, which passes signals on), not a subshell.
"${runner[@]}" "$bin" --data-dir "$dir/data" 2>"$dir/log" &
server=$!
for _ in $(seq 600); do
  grep -q "serving" "$dir/log" && break
  kill -0 "$server" 2>/dev/null || fail "server exited during start-up"
  sleep 0.1
done
grep -q "serving" "$dir/log" || fail "server not serving after 60 s"
port="$(sed -n 's/.*IMAPS listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/log" | head -1)"
[ -n "$port" ] || fail "no IMAPS port in the log"
step "serving, IMAPS on port $port"

marker="smoke-$target-$$-$RANDOM"
printf 'From: alice@smoke.test\r\nTo: bob@smoke.test\r\nSubject: %s\r\nMessage-ID: <%s@smoke.test>\r\n\r\nHello from %s.\r\n' \
  "$marker" "$marker" "$target" | run --data-dir "$dir/data" deliver bob@smoke.test || fail "deliver"
step "delivered"

SMOKE_PORT="$port" SMOKE_PW="$(cat "$dir/pw")" SMOKE_MARKER="$marker" python3 - <<'PY' || fail "IMAP fetch"
import imaplib, os, ssl
ctx = ssl._create_unverified_context()
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["SMOKE_PORT"]), ssl_context=ctx, timeout=60)
m.login("bob@smoke.test", os.environ["SMOKE_PW"])
typ, data = m.select("INBOX")
assert typ == "OK" and int(data[0]) == 1, (typ, data)
typ, data = m.fetch("1", "(BODY.PEEK[])")
assert typ == "OK", (typ, data)
body = data[0][1]
assert os.environ["SMOKE_MARKER"].encode() in body, body
m.logout()
PY
step "fetched over implicit TLS"

kill -TERM "$server"
set +e
wait "$server"
rc=$?
set -e
server=""
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q "stopped" "$dir/log" || fail "no 'stopped' in the log"
step "SIGTERM: clean exit. PASS"
