//! LMTP (RFC 2033) against a real server: replies per recipient, pipelining, size limits, a
//! client that vanishes mid-DATA, delivery over a Unix socket, and the guards of
//! docs/security.md: the end of the data, line length, connections, silence, recipients,
//! shutdown, parameters, `+tag` folders and remote listeners.

mod common;

use std::io::{BufRead, BufReader, Read, Write};

use common::{Server, USER};

struct Lmtp<S: Read + Write> {
    w: S,
    r: BufReader<S>,
}

impl<S: Read + Write> Lmtp<S> {
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            assert!(self.r.read_line(&mut l).expect("read") > 0, "closed after {lines:?}");
            let l = l.trim_end().to_string();
            let last = l.as_bytes().get(3) != Some(&b'-');
            lines.push(l);
            if last {
                return lines;
            }
        }
    }
    fn send(&mut self, text: &str) {
        self.w.write_all(text.as_bytes()).expect("write");
    }
}

fn tcp(port: u16) -> Lmtp<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
    let mut c = Lmtp { r: BufReader::new(s.try_clone().expect("clone")), w: s };
    assert!(c.reply()[0].starts_with("220 "));
    c
}

fn messages(s: &Server, user: &str) -> String {
    let o = s.cli(&["user", "list"], b"");
    String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with(user)).unwrap_or_default().to_string()
}

const CONFIG: &str = "lmtp.listen = [\"127.0.0.1:0\"]\nlimits.max_literal_size = 100000";

#[test]
fn replies_per_recipient_after_durable_delivery() {
    let s = Server::start("lmtp", CONFIG);
    let pw = s.dir.join("pw2");
    std::fs::write(&pw, "x").expect("pw");
    assert!(
        s.cli(&["user", "add", "carol@mail.test", "--password-file", pw.to_str().expect("path")], b"")
            .status
            .success()
    );
    let mut c = tcp(s.lmtp);
    c.send("LHLO mx.test\r\n");
    let caps = c.reply();
    for cap in ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE 100000"] {
        assert!(caps.iter().any(|l| l.ends_with(cap)), "{cap} in {caps:?}");
    }
    // Pipelined: everything up to DATA in one write, replies in order.
    c.send(&format!(
        "MAIL FROM:<sender@remote.test> BODY=8BITMIME\r\nRCPT TO:<{USER}>\r\nRCPT TO:<nobody@mail.test>\r\nRCPT TO:<Carol@Mail.Test>\r\nDATA\r\n"
    ));
    assert_eq!(c.reply(), ["250 2.1.0 OK"]);
    assert_eq!(c.reply(), ["250 2.1.5 OK"]);
    assert_eq!(c.reply(), ["550 5.1.1 <nobody@mail.test>: no such user"]);
    assert_eq!(c.reply(), ["250 2.1.5 OK"]);
    assert!(c.reply()[0].starts_with("354 "));
    c.send(
        "From: sender@remote.test\r\nSubject: caf\u{e9} 8-bit\r\n\r\n..a line starting with a dot\r\n.\r\n",
    );
    assert!(c.reply()[0].starts_with(&format!("250 2.0.0 <{USER}> delivered, UID 1")));
    assert!(c.reply()[0].starts_with("250 2.0.0 <carol@mail.test> delivered, UID 1"));
    assert!(messages(&s, USER).contains("1 messages"));
    // The dot was unstuffed and the 8-bit header kept.
    let mut imap = s.login();
    imap.run("C: s SELECT INBOX\nS: s OK *");
    let body = imap.cmd("f", "FETCH 1 BODY.PEEK[]").join("\n");
    assert!(body.contains("\r\n.a line starting with a dot"), "{body}");
    assert!(body.contains("caf\u{e9} 8-bit"), "{body}");
    // Errors: DATA without recipients, too big by SIZE and by content, unknown commands.
    c.send("DATA\r\n");
    assert_eq!(c.reply(), ["503 5.5.1 No valid recipients"]);
    c.send("MAIL FROM:<a@b> SIZE=200000\r\n");
    assert_eq!(c.reply(), ["552 5.3.4 Message too big"]);
    c.send(&format!("MAIL FROM:<a@b>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"));
    c.reply();
    c.reply();
    c.reply();
    // 150,000 bytes in lines of 100 (a long line would be refused for its length first).
    c.send(&format!("Subject: big\r\n\r\n{}.\r\n", format!("{}\r\n", "x".repeat(98)).repeat(1500)));
    assert_eq!(c.reply(), ["552 5.3.4 Message too big"]);
    c.send("EHLO x\r\n");
    assert!(c.reply()[0].starts_with("500 "));
    c.send("QUIT\r\n");
    assert!(c.reply()[0].starts_with("221 "));
    assert!(messages(&s, USER).contains("1 messages"), "nothing more was stored");
}

#[test]
fn many_messages_pipelined_and_a_client_killed_mid_data() {
    let s = Server::start("lmtp-pipe", CONFIG);
    let mut c = tcp(s.lmtp);
    c.send("LHLO mx.test\r\n");
    c.reply();
    let mut batch = String::new();
    for i in 0..50 {
        batch.push_str(&format!("MAIL FROM:<a@b>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"));
        batch.push_str(&format!("Subject: n{i}\r\n\r\nbody {i}\r\n.\r\n"));
    }
    // RFC 2920 allows the client to send DATA's content only after 354; a real MTA waits. Here
    // the server must still answer every message in order when a client does not.
    c.send(&batch);
    let mut delivered = 0;
    for _ in 0..50 {
        assert_eq!(c.reply(), ["250 2.1.0 OK"]);
        assert_eq!(c.reply(), ["250 2.1.5 OK"]);
        assert!(c.reply()[0].starts_with("354"));
        let r = c.reply();
        assert!(r[0].starts_with("250 2.0.0"), "{r:?}");
        delivered += 1;
    }
    assert_eq!(delivered, 50);
    assert!(messages(&s, USER).contains("50 messages"));
    // A client that disconnects in the middle of DATA leaves nothing behind.
    let mut k = tcp(s.lmtp);
    k.send(&format!("LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"));
    k.reply();
    k.reply();
    k.reply();
    k.reply();
    k.send("Subject: half\r\n\r\nonly half of it");
    drop(k);
    // A later session sees the store unchanged.
    let mut again = tcp(s.lmtp);
    again.send("LHLO x\r\nQUIT\r\n");
    again.reply();
    again.reply();
    assert!(messages(&s, USER).contains("50 messages"));
}

#[test]
fn delivery_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("applianced-lmtp-sock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("lmtp.sock");
    let s = Server::start("lmtp-unix", &format!("lmtp.listen = [\"unix:{}\"]", sock.display()));
    let stream = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    let mut c = Lmtp { r: BufReader::new(stream.try_clone().expect("clone")), w: stream };
    assert!(c.reply()[0].starts_with("220 "));
    c.send(&format!("LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"));
    c.reply();
    c.reply();
    c.reply();
    c.reply();
    c.send("Subject: via unix\r\n\r\nhi\r\n.\r\n");
    assert!(c.reply()[0].starts_with("250 2.0.0"));
    assert!(messages(&s, USER).contains("1 messages"));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quota_holds_on_every_path() {
    let s = Server::start("quota", "lmtp.listen = [\"127.0.0.1:0\"]\nquota.messages = 2");
    for i in 0..2 {
        s.deliver(USER, format!("Subject: q{i}\r\n\r\nx\r\n").as_bytes());
    }
    // deliver: temporary failure, so the MTA retries.
    let o = s.cli(&["deliver", USER], b"Subject: q3\r\n\r\nx\r\n");
    assert_eq!(o.status.code(), Some(75), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("over quota"));
    // LMTP: 452 4.2.2 for that recipient.
    let mut c = tcp(s.lmtp);
    c.send(&format!("LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"));
    for _ in 0..4 {
        c.reply();
    }
    c.send("Subject: q4\r\n\r\nx\r\n.\r\n");
    assert_eq!(c.reply(), [format!("452 4.2.2 <{USER}>: over quota")]);
    // IMAP: the QUOTA extension reports it; APPEND and COPY are refused; MOVE within the account
    // changes no usage and goes through.
    let mut imap = s.login();
    imap.run(
        "C: q GETQUOTAROOT INBOX
         S: * QUOTAROOT INBOX \"\"
         S: * QUOTA \"\" (MESSAGE 2 2)
         S: q OK GETQUOTAROOT completed
         C: g GETQUOTA \"\"
         S: * QUOTA \"\" (MESSAGE 2 2)
         S: g OK *
         C: sq SETQUOTA \"\" (MESSAGE 10)
         S: sq NO [NOPERM] *
         C: s SELECT INBOX
         S: s OK *
         C: c COPY 1 Archive
         S: c NO [OVERQUOTA] over quota
         C: m MOVE 1 Archive
         S: * OK [COPYUID *
         S: m OK MOVE completed",
    );
    imap.send(b"a APPEND INBOX {12+}\r\nSubject: a\r\n\r\n");
    imap.run("S: a NO [OVERQUOTA] over quota");
}

#[test]
fn aliases_catch_all_and_subaddressing() {
    let s = Server::start("aliases", CONFIG);
    let ok = |args: &[&str]| {
        let o = s.cli(args, b"");
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ok(&["domain", "add", "mail.test"]);
    ok(&["domain", "add", "other.test"]);
    assert!(ok(&["domain", "list"]).contains("other.test"));
    ok(&["alias", "add", "postmaster@mail.test", USER]);
    ok(&["alias", "add", "@other.test", USER]);
    assert!(
        !s.cli(&["alias", "add", "x@mail.test", "nobody@mail.test"], b"").status.success(),
        "target must exist"
    );
    assert!(ok(&["alias", "list"]).contains("@other.test\tbob@mail.test"));
    let mut imap = s.login();
    imap.run("C: c CREATE lists\nS: c OK *\nC: r CREATE Reports\nS: r OK *");
    let mut c = tcp(s.lmtp);
    c.send("LHLO x\r\n");
    c.reply();
    for (rcpt, expect) in [
        ("postmaster@mail.test", "250"),
        ("anyone@other.test", "250"),
        ("bob+lists@mail.test", "250"),
        ("bob+nofolder@mail.test", "250"),
        // The folder's name is matched ignoring case: LMTP hands the address over lower-cased.
        ("bob+Reports@mail.test", "250"),
        ("nobody@mail.test", "550 5.1.1"),
    ] {
        c.send(&format!("MAIL FROM:<a@b>\r\nRCPT TO:<{rcpt}>\r\n"));
        assert_eq!(c.reply(), ["250 2.1.0 OK"]);
        let r = c.reply();
        assert!(r[0].starts_with(expect), "{rcpt}: {r:?}");
        if expect == "250" {
            c.send(&format!("DATA\r\nSubject: to {rcpt}\r\n\r\nx\r\n.\r\n"));
            c.reply();
            assert!(c.reply()[0].starts_with("250 2.0.0"));
        } else {
            c.send("RSET\r\n");
            c.reply();
        }
    }
    imap.run(
        "C: s STATUS INBOX (MESSAGES)
         S: * STATUS INBOX (MESSAGES 3)
         S: s OK *
         C: l STATUS lists (MESSAGES)
         S: * STATUS lists (MESSAGES 1)
         S: l OK *
         C: r STATUS Reports (MESSAGES)
         S: * STATUS Reports (MESSAGES 1)
         S: r OK *",
    );
    ok(&["alias", "del", "@other.test"]);
    let o = s.cli(&["deliver", "anyone@other.test"], b"Subject: x\r\n\r\nx\r\n");
    assert_eq!(o.status.code(), Some(67), "catch-all removed");
}

#[test]
fn many_recipients_in_one_transaction() {
    let s = Server::start("lmtp-many", CONFIG);
    for i in 0..30 {
        let o = s.cli(&["alias", "add", &format!("list{i}@mail.test"), USER], b"");
        assert!(o.status.success());
    }
    let mut c = tcp(s.lmtp);
    let mut cmds = String::from("LHLO x\r\nMAIL FROM:<a@b>\r\n");
    for i in 0..30 {
        cmds.push_str(&format!("RCPT TO:<list{i}@mail.test>\r\n"));
    }
    cmds.push_str("RCPT TO:<nobody@mail.test>\r\nDATA\r\n");
    c.send(&cmds);
    c.reply();
    assert_eq!(c.reply(), ["250 2.1.0 OK"]);
    for _ in 0..30 {
        assert_eq!(c.reply(), ["250 2.1.5 OK"]);
    }
    assert!(c.reply()[0].starts_with("550 5.1.1"));
    assert!(c.reply()[0].starts_with("354"));
    c.send("Subject: to the list\r\n\r\nx\r\n.\r\n");
    // One reply per accepted recipient, in order (RFC 2033 §4.2), after one commit; all 30
    // aliases reach bob's INBOX, which gets one copy, so all 30 name the same UID.
    for i in 0..30 {
        let r = c.reply();
        assert_eq!(r, [format!("250 2.0.0 <list{i}@mail.test> delivered, UID 1")]);
    }
    assert!(messages(&s, USER).contains("\t1 messages"), "{}", messages(&s, USER));
}

/// Starts a transaction for `rcpt` and reads up to the 354.
fn start_data<S: Read + Write>(c: &mut Lmtp<S>, rcpt: &str) {
    c.send(&format!("MAIL FROM:<sender@remote.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"));
    assert_eq!(c.reply(), ["250 2.1.0 OK"]);
    assert_eq!(c.reply(), ["250 2.1.5 OK"]);
    assert!(c.reply()[0].starts_with("354 "));
}

/// Issue 10 item 4: a body read in 1 MiB pieces, with `.\r\n` right after the first piece,
/// was ended there, and the rest ran as commands: bob's sender delivered a forged message to
/// alice. The end is `CRLF . CRLF` at a line start wherever the reads fall.
#[test]
fn a_dot_after_a_read_boundary_does_not_end_the_data() {
    let smuggled = format!(
        "Subject: from bob's sender\r\n\r\n{}.\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n.\r\n",
        "A".repeat(1 << 20)
    );
    // The RFC's line limit (1000 octets with CRLF): the message is read to its real end and
    // refused; the session stays in step.
    let s = Server::start("lmtp-smuggle", "lmtp.listen = [\"127.0.0.1:0\"]");
    s.add_user("alice@mail.test", "x");
    let mut c = tcp(s.lmtp);
    c.send("LHLO mx.test\r\n");
    c.reply();
    start_data(&mut c, USER);
    c.send(&smuggled);
    assert_eq!(c.reply(), ["500 5.5.2 Line too long (more than 1000 octets with CRLF)"]);
    c.send("NOOP\r\n");
    assert_eq!(c.reply(), ["250 2.0.0 OK"]);
    assert!(messages(&s, "alice@mail.test").contains("\t0 messages"));
    assert!(messages(&s, USER).contains("\t0 messages"));
    // A short line of 998 octets is fine.
    start_data(&mut c, USER);
    c.send(&format!("Subject: wide\r\n\r\n{}\r\n.\r\n", "w".repeat(998)));
    assert!(c.reply()[0].starts_with(&format!("250 2.0.0 <{USER}> delivered")));
    drop(s);

    // Long lines allowed: bob gets the whole stream as one message, alice still nothing.
    let s =
        Server::start("lmtp-smuggle-long", "lmtp.listen = [\"127.0.0.1:0\"]\nlmtp.max_line_length = 2000000");
    s.add_user("alice@mail.test", "x");
    let mut c = tcp(s.lmtp);
    c.send("LHLO mx.test\r\n");
    c.reply();
    start_data(&mut c, USER);
    c.send(&smuggled);
    assert_eq!(c.reply(), [format!("250 2.0.0 <{USER}> delivered, UID 1")]);
    c.send("NOOP\r\n");
    assert_eq!(c.reply(), ["250 2.0.0 OK"]);
    assert!(messages(&s, "alice@mail.test").contains("\t0 messages"));
    let mut imap = s.login();
    imap.run("C: s SELECT INBOX\nS: s OK *");
    let body = imap.cmd("f", "FETCH 1 BODY.PEEK[TEXT]").join("\n");
    assert!(body.contains("A.\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@mail.test>"), "the rest is bob's text");
}

/// Issue 10 item 7: one server, limits low enough to reach: connections, silence between
/// commands and within DATA.
#[test]
fn connections_and_silence_are_limited() {
    let s = Server::start(
        "lmtp-limits",
        "lmtp.listen = [\"127.0.0.1:0\"]\nlmtp.max_connections = 2\nlmtp.idle_timeout_secs = 1",
    );
    let mut a = tcp(s.lmtp);
    let mut b = tcp(s.lmtp);
    // The third is told why and closed.
    let third = std::net::TcpStream::connect(("127.0.0.1", s.lmtp)).expect("connect");
    third.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
    let mut third = Lmtp { r: BufReader::new(third.try_clone().expect("clone")), w: third };
    assert_eq!(third.reply(), ["421 4.3.2 mail.test too many connections, try again later"]);
    let mut rest = String::new();
    assert_eq!(third.r.read_line(&mut rest).expect("read"), 0, "closed");
    // Silence between commands: 421 4.4.2, then the connection ends.
    a.send("LHLO x\r\n");
    a.reply();
    let started = std::time::Instant::now();
    assert_eq!(a.reply(), ["421 4.4.2 mail.test timeout, closing connection"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let mut rest = String::new();
    assert_eq!(a.r.read_line(&mut rest).expect("read"), 0, "closed");
    // `b` said nothing at all: the same.
    assert_eq!(b.reply(), ["421 4.4.2 mail.test timeout, closing connection"]);
    // Their places are free again (the server notices the ends a moment later).
    let mut c = free_place(s.lmtp);
    // Silence within DATA: the same, and nothing is stored.
    c.send("LHLO x\r\n");
    c.reply();
    start_data(&mut c, USER);
    c.send("Subject: stalled\r\n\r\nhalf");
    assert_eq!(c.reply(), ["421 4.4.2 mail.test timeout, closing connection"]);
    assert!(messages(&s, USER).contains("\t0 messages"));
}

/// A connection that got the greeting, trying for a few seconds while places are taken.
fn free_place(port: u16) -> Lmtp<std::net::TcpStream> {
    let mut last = Vec::new();
    for _ in 0..500 {
        let mut c = tcp_any(port);
        last = c.reply();
        if last[0].starts_with("220 ") {
            return c;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no place: {last:?}");
}

/// A connection whose greeting is not checked.
fn tcp_any(port: u16) -> Lmtp<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
    Lmtp { r: BufReader::new(s.try_clone().expect("clone")), w: s }
}

/// Issue 10 item 7: 2,000 RCPTs of one address were 2,000 acceptances and 2,000 stored copies.
/// The first 1,000 (the default limit) are accepted, the rest get 452 4.5.3, and the mailbox
/// gets one copy; every accepted RCPT still gets its own reply after DATA (RFC 2033 §4.2).
#[test]
fn recipients_are_limited_and_each_mailbox_gets_one_copy() {
    let s = Server::start("lmtp-rcpts", "lmtp.listen = [\"127.0.0.1:0\"]");
    let mut c = tcp(s.lmtp);
    let mut cmds = String::from("LHLO x\r\nMAIL FROM:<a@b>\r\n");
    for _ in 0..2000 {
        cmds.push_str(&format!("RCPT TO:<{USER}>\r\n"));
    }
    cmds.push_str("DATA\r\n");
    c.send(&cmds);
    c.reply();
    assert_eq!(c.reply(), ["250 2.1.0 OK"]);
    for i in 0..2000 {
        let expect = if i < 1000 { "250 2.1.5 OK" } else { "452 4.5.3 Too many recipients" };
        assert_eq!(c.reply(), [expect], "RCPT {i}");
    }
    assert!(c.reply()[0].starts_with("354"));
    c.send("Subject: once\r\n\r\nx\r\n.\r\n");
    for i in 0..1000 {
        assert_eq!(c.reply(), [format!("250 2.0.0 <{USER}> delivered, UID 1")], "reply {i}");
    }
    assert!(messages(&s, USER).contains("\t1 messages"), "{}", messages(&s, USER));
    // Distinct mailboxes of one account each get their copy.
    let mut imap = s.login();
    imap.run("C: c CREATE lists\nS: c OK *");
    c.send(&format!(
        "MAIL FROM:<a@b>\r\nRCPT TO:<{USER}>\r\nRCPT TO:<bob+lists@mail.test>\r\nRCPT TO:<{USER}>\r\nDATA\r\n"
    ));
    for _ in 0..4 {
        c.reply();
    }
    assert!(c.reply()[0].starts_with("354"));
    c.send("Subject: twice\r\n\r\nx\r\n.\r\n");
    assert_eq!(c.reply(), [format!("250 2.0.0 <{USER}> delivered, UID 2")]);
    assert_eq!(c.reply(), ["250 2.0.0 <bob+lists@mail.test> delivered, UID 1"]);
    assert_eq!(c.reply(), [format!("250 2.0.0 <{USER}> delivered, UID 2")]);
    assert!(messages(&s, USER).contains("\t3 messages"), "{}", messages(&s, USER));
}

/// Issue 10 item 7 / issue 11 part 4: SIGTERM reached the listener but not the connections. A
/// session waiting for a command gets 421 4.3.2 and is closed; a DATA in progress is finished,
/// stored and acknowledged, then the session gets 421 too.
#[test]
fn shutdown_closes_sessions_between_commands() {
    let mut s = Server::start("lmtp-shutdown", "lmtp.listen = [\"127.0.0.1:0\"]");
    let mut idle = tcp(s.lmtp);
    idle.send("LHLO x\r\n");
    idle.reply();
    let mut busy = tcp(s.lmtp);
    busy.send("LHLO x\r\n");
    busy.reply();
    start_data(&mut busy, USER);
    busy.send("Subject: during shutdown\r\n\r\nfirst half\r\n");
    s.signal("TERM");
    assert_eq!(idle.reply(), ["421 4.3.2 mail.test shutting down, try again later"]);
    let mut rest = String::new();
    assert_eq!(idle.r.read_line(&mut rest).expect("read"), 0, "closed");
    busy.send("second half\r\n.\r\n");
    assert_eq!(busy.reply(), [format!("250 2.0.0 <{USER}> delivered, UID 1")]);
    assert_eq!(busy.reply(), ["421 4.3.2 mail.test shutting down, try again later"]);
    assert!(s.wait_exit().success());
    // Acknowledged, so stored: the CLI reads the store of the stopped server.
    assert!(messages(&s, USER).contains("\t1 messages"), "{}", messages(&s, USER));
}

/// Issue 10 item 11: parameters of extensions not announced are refused (RFC 5321 §4.1.1.11),
/// and `+tag` mail reaches special-use folders only when the config opens them.
#[test]
fn rcpt_parameters_and_tags_into_special_use_folders() {
    let s = Server::start(
        "lmtp-tags",
        "lmtp.listen = [\"127.0.0.1:0\"]\nlmtp.subaddress_special_use = [\"Junk\"]",
    );
    let mut c = tcp(s.lmtp);
    c.send(&format!("LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<{USER}> NOTIFY=NEVER\r\nRCPT TO:<{USER}> ORCPT=rfc822;{USER}\r\nRSET\r\n"));
    c.reply();
    assert_eq!(c.reply(), ["250 2.1.0 OK"]);
    assert_eq!(c.reply(), ["555 5.5.4 Unsupported parameter NOTIFY=NEVER"]);
    assert_eq!(c.reply(), [format!("555 5.5.4 Unsupported parameter ORCPT=rfc822;{USER}")]);
    assert_eq!(c.reply(), ["250 2.0.0 OK"]);
    c.send("MAIL FROM:<a@b> BODY=BINARYMIME\r\n");
    assert_eq!(c.reply(), ["555 5.5.4 Unsupported BODY=BINARYMIME"]);
    let mut imap = s.login();
    imap.run("C: c CREATE Lists\nS: c OK *");
    for tag in ["Sent", "drafts", "Trash", "Archive", "Junk", "lists"] {
        start_data(&mut c, &format!("bob+{tag}@mail.test"));
        c.send(&format!("Subject: to +{tag}\r\n\r\nx\r\n.\r\n"));
        assert!(c.reply()[0].starts_with("250 2.0.0"));
    }
    // `deliver` takes the same road.
    s.deliver("bob+sent@mail.test", b"Subject: deliver +sent\r\n\r\nx\r\n");
    imap.run(
        "C: a STATUS INBOX (MESSAGES)
         S: * STATUS INBOX (MESSAGES 5)
         S: a OK *
         C: b STATUS Sent (MESSAGES)
         S: * STATUS Sent (MESSAGES 0)
         S: b OK *
         C: c STATUS Drafts (MESSAGES)
         S: * STATUS Drafts (MESSAGES 0)
         S: c OK *
         C: d STATUS Trash (MESSAGES)
         S: * STATUS Trash (MESSAGES 0)
         S: d OK *
         C: e STATUS Junk (MESSAGES)
         S: * STATUS Junk (MESSAGES 1)
         S: e OK *
         C: f STATUS Lists (MESSAGES)
         S: * STATUS Lists (MESSAGES 1)
         S: f OK *",
    );
}

/// Issue 10 item 7: LMTP has no authentication, so a TCP listener that is not on loopback is
/// refused at start unless `lmtp.allow_remote` says so.
#[test]
fn a_remote_lmtp_listener_needs_allow_remote() {
    let mut s = Server::start("lmtp-remote", "lmtp.listen = [\"127.0.0.2:0\"]");
    s.stop();
    let cfg = s.data().join("applianced.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    assert!(text.contains("\"127.0.0.2:0\""));
    std::fs::write(&cfg, text.replace("\"127.0.0.2:0\"", "\"0.0.0.0:0\"")).expect("config");
    let mut child = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(s.data())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started with LMTP on 0.0.0.0");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    assert!(!status.success());
    assert!(err.contains("LMTP listen address 0.0.0.0:0 is not loopback"), "{err}");
    assert!(err.contains("allow_remote = true"), "{err}");
}
