//! The one road into the store (issue 11, `src/ingest.rs`): the same message by LMTP, by
//! `deliver` and by APPEND is stored the same, and its parse runs off the executor.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use common::{Client, Server, USER};

const CONFIG: &str = "lmtp.listen = [\"127.0.0.1:0\"]";

/// The same message with bare LF line ends, by LMTP, by `deliver` and by APPEND, is stored the
/// same: CRLF line ends, so the same RFC822.SIZE, BODYSTRUCTURE and text (issue 11: APPEND
/// used to keep the bare LFs, and its FETCH data counted different lines and sizes).
#[test]
fn a_bare_lf_message_is_the_same_by_every_road() {
    let s = Server::start("ingest-lf", CONFIG);
    // The last line ends in CRLF: LMTP's data ends at CRLF "." CRLF (RFC 5321 §4.1.1.4).
    let msg = "From: a@remote.test\nSubject: bare\nMIME-Version: 1.0\n\
               Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n\
               one\ntwo\n--x\nContent-Type: text/html\n\n<p>three</p>\n--x--\r\n";
    let lmtp = std::net::TcpStream::connect(("127.0.0.1", s.lmtp)).expect("connect");
    lmtp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut replies = BufReader::new(lmtp.try_clone().expect("clone"));
    let mut w = lmtp;
    w.write_all(
        format!("LHLO mx.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<{USER}>\r\nDATA\r\n").as_bytes(),
    )
    .expect("write");
    // The greeting, LHLO's lines up to its last (`250 ` without a dash), MAIL, RCPT, DATA's 354.
    let mut last = String::new();
    while !last.starts_with("354 ") {
        last.clear();
        assert!(replies.read_line(&mut last).expect("read") > 0, "closed");
    }
    w.write_all(format!("{msg}.\r\n").as_bytes()).expect("write");
    last.clear();
    replies.read_line(&mut last).expect("read");
    assert!(last.starts_with("250 "), "{last}");
    s.deliver(USER, msg.as_bytes());
    let mut imap = s.login();
    let mut append = format!("a APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
    append.extend_from_slice(msg.as_bytes());
    append.extend_from_slice(b"\r\n");
    imap.send(&append);
    let done = imap.until("a").pop().unwrap_or_default();
    assert!(done.starts_with("a OK [APPENDUID"), "{done}");
    imap.run("C: s SELECT INBOX\nS: * 3 EXISTS\nS: s OK *");
    let lines = imap.cmd("f", "FETCH 1:3 (RFC822.SIZE BODYSTRUCTURE BINARY.SIZE[1] BODY.PEEK[])");
    let fetched: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH ("))
        .map(|l| l.split_once(" FETCH ").map_or(String::new(), |(_, rest)| rest.to_string()))
        .collect();
    assert_eq!(fetched.len(), 3, "{lines:?}");
    assert!(fetched[0].contains(&format!("RFC822.SIZE {}", msg.len() + msg.matches('\n').count() - 1)));
    assert_eq!(fetched[0], fetched[1], "LMTP and deliver");
    assert_eq!(fetched[0], fetched[2], "LMTP and APPEND");
}

/// A message of about `size` bytes made of many small MIME parts: its parse at APPEND (the
/// FETCH data of every part) costs CPU in proportion.
fn many_parts(size: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        .to_vec();
    let part = b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy\r\n";
    while m.len() + part.len() + 8 < size {
        m.extend_from_slice(part);
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// The parse of an APPENDed message runs off the executor (issue 11: `ingest`): while one large
/// MIME tree per executor thread is being parsed, another user's NOOP is answered at once.
#[test]
fn another_users_noop_stays_quick_while_large_messages_are_parsed() {
    let s = Server::start("cpu-append", "");
    // Not logged in: the victim's NOOP touches no store, so its time is the executor's alone.
    let mut victim = s.connect();
    let msg = many_parts(4 << 20);
    // As many appenders as the server has executor threads (one per core), so that a parse on
    // the executor would leave no thread for the victim.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let mut appenders: Vec<Client> = (0..threads).map(|_| s.login()).collect();
    for (i, a) in appenders.iter_mut().enumerate() {
        let mut cmd = format!("a{i} APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
        cmd.extend_from_slice(&msg);
        cmd.extend_from_slice(b"\r\n");
        a.send(&cmd);
    }
    let appending = std::thread::spawn(move || {
        let started = Instant::now();
        for (i, a) in appenders.iter_mut().enumerate() {
            let done = a.until(&format!("a{i}")).pop().unwrap_or_default();
            assert!(done.starts_with(&format!("a{i} OK [APPENDUID")), "{done}");
        }
        started.elapsed()
    });
    // On the executor, each parse held a thread for seconds (debug build); off it, a NOOP waits
    // for nothing but the machine, which other builds may share: a margin well below a parse.
    common::noops_stay_quick(&mut victim, appending, "the appends", Duration::from_millis(200));
}
