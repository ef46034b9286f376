"""COMPRESS=DEFLATE (RFC 4978) from Python: raw deflate both ways after the command, over plain
TCP and over TLS. Exits non-zero on any unexpected answer."""
import socket
import ssl
import sys
import zlib

imap_port, imaps_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]


def session(sock):
    f = sock.makefile("rb")

    def line():
        return f.readline().decode()

    assert line().startswith("* OK"), "greeting"
    sock.sendall(f"a LOGIN {user} {password}\r\n".encode())
    while not (l := line()).startswith("a "):
        pass
    assert l.startswith("a OK"), l
    sock.sendall(b"c COMPRESS DEFLATE\r\n")
    l = line()
    assert l.startswith("c OK"), l
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    decomp = zlib.decompressobj(-15)
    pending = b""

    def send(text):
        sock.sendall(comp.compress(text.encode()) + comp.flush(zlib.Z_SYNC_FLUSH))

    def until(tag):
        nonlocal pending
        out = []
        while True:
            while b"\r\n" not in pending:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit(f"closed; got {out} {pending!r}")
                pending += decomp.decompress(chunk)
            l, pending = pending.split(b"\r\n", 1)
            out.append(l.decode(errors="replace"))
            if l.startswith(tag.encode() + b" "):
                return out

    send("s SELECT INBOX\r\n")
    r = until("s")
    assert r[-1].startswith("s OK"), r
    send("f FETCH 1:* (UID FLAGS ENVELOPE)\r\n")
    r = until("f")
    assert r[-1].startswith("f OK") and sum(" FETCH (" in x for x in r) == 3, r
    send("d COMPRESS DEFLATE\r\n")
    r = until("d")
    assert r[-1].startswith("d NO [COMPRESSIONACTIVE]"), r
    send("z LOGOUT\r\n")
    until("z")


session(socket.create_connection(("127.0.0.1", imap_port)))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
session(ctx.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port)), server_hostname="localhost"))
print("compress: plain and TLS passed")
