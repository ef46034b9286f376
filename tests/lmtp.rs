//! LMTP (RFC 2033) against a real server: replies per recipient, pipelining, size limits, a
//! client that vanishes mid-DATA, and delivery over a Unix socket.

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
    c.send(&format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(150_000)));
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
    // One reply per accepted recipient, in order (RFC 2033 §4.2), after one commit.
    for i in 0..30 {
        let r = c.reply();
        assert!(r[0].starts_with(&format!("250 2.0.0 <list{i}@mail.test> delivered")), "{r:?}");
    }
    assert!(messages(&s, USER).contains("30 messages"));
}
