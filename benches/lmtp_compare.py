#!/usr/bin/env python3
"""LMTP delivery rate: applianced against Dovecot's LMTP (Debian's dovecot-lmtpd), same client.

Both servers run on loopback with their own temporary data directories; each client thread holds
one LMTP connection and sends its share of the messages one transaction at a time (MAIL, RCPT...,
DATA pipelined), waiting for every per-recipient reply before the next, as Postfix's lmtp client
does. Both acknowledge only durable mail: applianced after its group commit, Dovecot with its
default mail_fsync = optimized (fsync before replying). Dovecot stores Maildir here.

    cargo build --release --bin applianced
    apt-get install dovecot-lmtpd
    python3 benches/lmtp_compare.py --clients 16 --messages 5000 --recipients 1
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def message(i, size, rng):
    body_lines = []
    n = 0
    while n < size:
        line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz     ") for _ in range(72))
        body_lines.append(line)
        n += 74
    return (
        f"From: Sender <sender@remote.test>\r\nTo: user0@mail.test\r\nSubject: message {i}\r\n"
        f"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{i}.bench@remote.test>\r\n\r\n"
        + "\r\n".join(body_lines)
        + "\r\n"
    ).encode()


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")
        self.reply()
        self.sock.sendall(b"LHLO bench.test\r\n")
        self.reply()

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed")
            if line[3:4] != b"-":
                return line.decode(errors="replace").strip()

    def send(self, rcpts, data):
        cmds = b"MAIL FROM:<sender@remote.test>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts)
        self.sock.sendall(cmds + b"DATA\r\n")
        for r in [self.reply() for _ in range(len(rcpts) + 2)]:
            if not (r.startswith("250") or r.startswith("354")):
                raise RuntimeError(r)
        self.sock.sendall(data + b".\r\n")
        for _ in rcpts:
            r = self.reply()
            if not r.startswith("250"):
                raise RuntimeError(r)


def run_clients(port, args, messages):
    per = [messages[i :: args.clients] for i in range(args.clients)]
    rcpts = [f"user{i}@mail.test" for i in range(args.recipients)]
    clients = [Client(port) for _ in range(args.clients)]
    errors = []

    def work(c, msgs):
        try:
            for m in msgs:
                c.send(rcpts, m)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c, m)) for c, m in zip(clients, per)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        sys.exit(f"errors: {errors[:3]}")
    return elapsed


def applianced(tmp, args):
    binary = args.binary or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "applianced")
    data = os.path.join(tmp, "applianced")
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write("bench-password")
    port = free_port()
    subprocess.run(
        [binary, "--init", "--hostname", "mail.test", "--admin", "user0@mail.test", "--data-dir", data,
         "--password-file", pw, "--imap-listen", "127.0.0.1:0", "--imaps-listen", "127.0.0.1:0",
         "--lmtp-listen", f"127.0.0.1:{port}"],
        check=True, capture_output=True,
    )
    for i in range(1, args.recipients):
        subprocess.run([binary, "--data-dir", data, "user", "add", f"user{i}@mail.test", "--password-file", pw],
                       check=True, capture_output=True)
    proc = subprocess.Popen([binary, "--data-dir", data], stderr=subprocess.DEVNULL)
    wait_port(port, proc, "applianced")
    return proc, port


def dovecot(tmp):
    port = free_port()
    base = os.path.join(tmp, "dovecot")
    mail = os.path.join(base, "mail")
    os.makedirs(os.path.join(base, "run"))
    os.makedirs(mail)
    shutil.chown(mail, "dovenull", "dovenull")
    conf = os.path.join(base, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""protocols = lmtp
base_dir = {base}/run
state_dir = {base}/run
log_path = {base}/dovecot.log
ssl = no
listen = 127.0.0.1
mail_location = maildir:{mail}/%n
userdb {{
  driver = static
  args = uid=dovenull gid=dovenull home={mail}/%n allow_all_users=yes
}}
passdb {{
  driver = static
  args = nopassword=y
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
lmtp_save_to_detail_mailbox = no
first_valid_uid = 1
""")
    proc = subprocess.Popen(["dovecot", "-F", "-c", conf], stderr=subprocess.DEVNULL)
    wait_port(port, proc, "dovecot")
    return proc, port


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--recipients", type=int, default=1, help="recipients per message")
    p.add_argument("--size", type=int, default=8000, help="approximate body bytes")
    p.add_argument("--binary", help="applianced binary (default: target/release/applianced)")
    p.add_argument("--only", choices=["applianced", "dovecot"])
    args = p.parse_args()
    rng = random.Random(1)
    messages = [message(i, args.size, rng) for i in range(args.messages)]
    tmp = tempfile.mkdtemp(prefix="lmtp-bench-", dir="/var/tmp")
    shutil.chown(tmp, "root", "root")
    os.chmod(tmp, 0o755)
    try:
        for name, start in (("applianced", applianced), ("dovecot", dovecot)):
            if args.only and args.only != name:
                continue
            proc, port = start(tmp, args) if name == "applianced" else start(tmp)
            try:
                elapsed = run_clients(port, args, messages)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            n = args.messages
            print(f"{name:10} {args.clients:3} clients  {n} messages x {args.recipients} recipients  "
                  f"{elapsed:7.2f} s  {n / elapsed:8.0f} messages/s  {n * args.recipients / elapsed:8.0f} deliveries/s",
                  flush=True)
    finally:
        if os.environ.get("KEEP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
