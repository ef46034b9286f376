"""Drives applianced with Python's imaplib through every command it offers, over plain TCP,
STARTTLS and implicit TLS. Exits non-zero (with the failing step) on any unexpected answer."""
import imaplib
import ssl
import sys

imap_port, imaps_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
for extra in ("ID", "ENABLE", "MOVE", "UNSELECT"):
    imaplib.Commands.setdefault(extra, ("NONAUTH", "AUTH", "SELECTED"))
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE


def ok(res, what):
    typ, data = res
    if typ != "OK":
        raise SystemExit(f"{what}: {typ} {data}")
    return data


m = imaplib.IMAP4("127.0.0.1", imap_port)
assert "IMAP4REV2" in m.capabilities and "STARTTLS" in m.capabilities, m.capabilities
ok(m.starttls(ssl_context=tls), "STARTTLS")
ok(m.login(user, password), "LOGIN")
ok(m.noop(), "NOOP")
ok(m._simple_command("ID", "NIL"), "ID")
ok(m.namespace(), "NAMESPACE")
ok(m._simple_command("ENABLE", "CONDSTORE"), "ENABLE")
boxes = ok(m.list(), "LIST")
assert any(b'"INBOX"' in b or b" INBOX" in b for b in boxes), boxes
ok(m.lsub(), "LSUB")
ok(m.create("Reports/2024"), "CREATE")
ok(m.rename("Reports", '"Old Reports"'), "RENAME")
ok(m.subscribe('"Old Reports"'), "SUBSCRIBE")
ok(m.unsubscribe('"Old Reports"'), "UNSUBSCRIBE")
st = ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE HIGHESTMODSEQ)"), "STATUS")
assert b"MESSAGES 5" in st[0], st
ok(m.append('"Old Reports"', "(\\Seen)", imaplib.Time2Internaldate(1700000000), b"Subject: appended\r\n\r\nhello\r\n"), "APPEND")
ok(m.select('"Old Reports"', readonly=True), "EXAMINE")
data = ok(m.fetch("1", "(FLAGS INTERNALDATE BODY[])"), "FETCH in EXAMINE")
assert b"appended" in data[0][1], data
ok(m.select("INBOX"), "SELECT")
# CATENATE (RFC 4469): a message built from parts of INBOX's messages, by URL (imaplib sends a
# literal only at a command's end, so the parts here are URLs); a URL of nothing is BADURL.
caps = ok(m.capability(), "CAPABILITY")[0].split()
assert b"CATENATE" in caps, caps
ok(m.create("Built"), "CREATE Built")
built = 'CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)" URL ";UID=2/;SECTION=TEXT")'
ok(m._simple_command("APPEND", "Built", built), "APPEND CATENATE")
assert m.untagged_responses.get("APPENDUID"), m.untagged_responses
typ, data = m._simple_command("APPEND", "Built", 'CATENATE (URL "/INBOX/;UID=99")')
assert typ == "NO" and b"[BADURL /INBOX/;UID=99]" in data[0], (typ, data)
st = ok(m.status("Built", "(MESSAGES)"), "STATUS Built")
assert b"MESSAGES 1" in st[0], st
ok(m.select("Built", readonly=True), "EXAMINE Built")
data = ok(m.fetch("1", "(BODY.PEEK[])"), "FETCH Built")
assert data[0][1] == b"Subject: msg1\r\n\r\ntext of message 2\r\n", data
ok(m.select("INBOX"), "SELECT again")
data = ok(m.fetch("1:5", "(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE MODSEQ)"), "FETCH")
assert len(data) == 5, data
data = ok(m.uid("FETCH", "2", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BINARY.PEEK[1] BINARY.SIZE[1] RFC822.HEADER)"), "UID FETCH")
assert b"text of message 2" in b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data), data
ok(m.store("1", "+FLAGS", "(\\Seen \\Flagged)"), "STORE")
ok(m.uid("STORE", "2", "-FLAGS.SILENT", "(\\Seen)"), "UID STORE")
found = ok(m.search(None, "FLAGGED"), "SEARCH")
assert found == [b"1"], found
found = ok(m.uid("SEARCH", "SUBJECT", "msg3"), "UID SEARCH")
assert found == [b"3"], found
found = ok(m.search("UTF-8", "TEXT", "message 4"), "SEARCH TEXT")
assert found == [b"4"], found
ok(m.copy("1", '"Old Reports"'), "COPY")
ok(m._simple_command("MOVE", "2", '"Old Reports"'), "MOVE")
ok(m.store("1", "+FLAGS", "(\\Deleted)"), "STORE Deleted")
ok(m.uid("EXPUNGE", "1"), "UID EXPUNGE")
ok(m.expunge(), "EXPUNGE")
ok(m.check(), "CHECK")
ok(m.close(), "CLOSE")
ok(m.select("INBOX"), "SELECT again")
ok(m.unselect(), "UNSELECT")
ok(m.delete('"Old Reports/2024"'), "DELETE")
m.logout()

s = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=tls)
ok(s.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode()), "AUTHENTICATE PLAIN")
typ, data = s.select("INBOX")
assert typ == "OK" and data == [b"3"], data
s.logout()

bad = imaplib.IMAP4("127.0.0.1", imap_port)
try:
    bad.login(user, "wrong password")
    raise SystemExit("a wrong password was accepted")
except imaplib.IMAP4.error:
    pass
print("imaplib: every command passed")
