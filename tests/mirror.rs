//! `applianced mirror --once` (issue 14, first part): the replica of an account, built with
//! XHIERARCHY and XSYNC alone, equals what a plain IMAP listing of every folder shows (UIDs,
//! flags, sizes, subjects), the first time and after deliveries, flag changes, expunges and
//! folders created, renamed and deleted; a second run transfers only the changes.

mod common;
#[path = "support/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;

use applianced::client::replica::Replica;
use common::{Client, PASSWORD, Server, USER, mail};

/// Folder name → UID → (flags, size, subject).
type Listing = BTreeMap<String, BTreeMap<u32, (Vec<String>, u64, String)>>;

/// The account as plain IMAP lists it.
fn listing(c: &mut Client) -> Listing {
    let mut out = BTreeMap::new();
    let lines = c.cmd("l", "LIST \"\" *");
    let names: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("* LIST "))
        .map(|l| l.rsplit(' ').next().expect("name").trim_matches('"').to_string())
        .collect();
    for name in names {
        let mut msgs = BTreeMap::new();
        c.run(&format!("C: e EXAMINE \"{name}\"\nS: e OK *"));
        for l in c.cmd("f", "UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])") {
            let Some(rest) = l.strip_prefix("* ").filter(|r| r.contains(" FETCH (")) else { continue };
            let uid: u32 = rest
                .split("UID ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("uid")
                .parse()
                .expect("uid");
            let flags_text = &rest[rest.find("FLAGS (").expect("flags") + 7..];
            let flags: Vec<String> = flags_text[..flags_text.find(')').expect(")")]
                .split(' ')
                .filter(|f| !f.is_empty() && *f != "\\Recent")
                .map(str::to_string)
                .collect();
            let size: u64 = rest
                .split("RFC822.SIZE ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("size")
                .parse()
                .expect("size");
            // The field as stored, unfolded and RFC 2047-decoded as a summary's XSUBJECT is.
            let subject = rest
                .find("Subject: ")
                .map(|at| {
                    let field = &rest[at..];
                    let end = field.find("\r\n\r\n").map_or(field.len(), |e| e + 4);
                    mail_parser::MessageParser::default()
                        .parse_headers(&field.as_bytes()[..end])
                        .and_then(|m| m.subject().map(str::to_string))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            msgs.insert(uid, (flags, size, subject));
        }
        out.insert(name, msgs);
    }
    out
}

/// The same from the replica file.
fn replica_listing(path: &std::path::Path) -> Listing {
    let r = Replica::open(path).expect("replica");
    let mut out = BTreeMap::new();
    for (id, folder) in r.folders().expect("folders") {
        assert!(folder.complete, "{id} complete");
        let mut msgs = BTreeMap::new();
        for (uid, m) in r.messages(&id).expect("messages") {
            assert!(!m.flags.iter().any(|f| f == "\\Recent"), "§9: never \\Recent");
            msgs.insert(uid, (m.flags.clone(), m.size.expect("size"), m.subject.clone().unwrap_or_default()));
        }
        out.insert(String::from_utf8(folder.info.name.clone()).expect("utf-8 name"), msgs);
    }
    out
}

fn mirror(s: &Server, dir: &std::path::Path) -> String {
    let pw = s.dir.join("mirror-pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let url = format!("imap://{}@127.0.0.1:{}", USER.replace('@', "%40"), s.imap);
    let o = std::process::Command::new(common::BIN)
        .args(["mirror", &url, "--replica"])
        .arg(dir)
        .arg("--password-file")
        .arg(&pw)
        .args(["--once", "--plain", "--json"])
        .output()
        .expect("mirror");
    assert!(o.status.success(), "mirror: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn number(json: &str, key: &str) -> u64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}")) + key.len() + 3;
    json[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("number")
}

#[test]
fn a_replica_equals_the_imap_listing_before_and_after_changes() {
    let s = Server::start("mirror-once", "");
    let mut c = s.login();
    c.run("C: a CREATE Lists/rust\nS: a OK *\nC: b CREATE Old\nS: b OK *");
    for i in 0..30 {
        s.deliver(USER, &mail(&format!("inbox-{i}"), "x"));
    }
    for i in 0..5 {
        s.deliver(&USER.replace('@', "+Lists/rust@"), &mail(&format!("rust-{i}"), "y"));
        s.deliver(&USER.replace('@', "+Old@"), &mail(&format!("old-{i}"), "z"));
    }
    c.run("C: s SELECT INBOX\nS: s OK *\nC: f STORE 1:10 +FLAGS (\\Seen $Work)\nS: f OK *");
    let dir = s.dir.join("replica");
    let first = mirror(&s, &dir);
    let file = dir.join(format!("{USER}.redb"));
    assert_eq!(replica_listing(&file), listing(&mut c), "{first}");
    assert_eq!(number(&first, "messages"), 40, "{first}");

    // Changes of every kind, then a second run.
    c.run("C: s2 SELECT INBOX\nS: s2 OK *");
    c.run("C: g STORE 11:12 +FLAGS (\\Flagged)\nS: g OK *\nC: h STORE 3 +FLAGS (\\Deleted)\nS: h OK *");
    c.run(
        "C: x EXPUNGE\nS: x OK *\nC: r RENAME Lists/rust Archive/rust\nS: r OK *\nC: d DELETE Old\nS: d OK *",
    );
    c.run("C: n CREATE New\nS: n OK *");
    s.deliver(USER, &mail("late", "x"));
    c.run("C: u UNSELECT\nS: u OK *");
    let second = mirror(&s, &dir);
    assert_eq!(replica_listing(&file), listing(&mut c), "{second}");
    assert_eq!(number(&second, "messages"), 1, "only the new message's summary again: {second}");
    assert_eq!(number(&second, "restarted"), 0, "{second}");
    // Nothing changed: a third run sends no summary at all.
    let third = mirror(&s, &dir);
    assert_eq!(number(&third, "messages"), 0, "{third}");
    assert!(number(&third, "bytes_in") < number(&first, "bytes_in"), "{third} vs {first}");
}

#[test]
fn mirror_refuses_what_it_cannot_do_with_a_clear_error() {
    let s = Server::start("mirror-usage", "");
    let url = format!("imap://{}@127.0.0.1:{}", USER.replace('@', "%40"), s.imap);
    let o = std::process::Command::new(common::BIN)
        .args(["mirror", &url, "--replica"])
        .arg(s.dir.join("r"))
        .output()
        .expect("mirror");
    assert_eq!(o.status.code(), Some(64), "no password given: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--password-file"));
    let pw = s.dir.join("bad-pw");
    std::fs::write(&pw, "wrong").expect("pw");
    let o = std::process::Command::new(common::BIN)
        .args(["mirror", &url, "--replica"])
        .arg(s.dir.join("r"))
        .arg("--password-file")
        .arg(&pw)
        .args(["--once", "--plain"])
        .output()
        .expect("mirror");
    assert_eq!(o.status.code(), Some(77), "a wrong password: {}", String::from_utf8_lossy(&o.stderr));
}

/// The live mirror (issue 14): after its first sync it follows the session's backchannel
/// (deliveries into several folders, a flag change, an expunge, a new folder and mail into
/// it), acknowledges heartbeats only for what it stored, and on SIGTERM stops cleanly with a
/// replica equal to the plain IMAP listing.
#[test]
fn the_live_mirror_follows_the_backchannel_and_stops_cleanly() {
    use std::io::BufRead;
    let s = Server::start("mirror-live", "mapi.heartbeat_min_secs = 1");
    let mut c = s.login();
    c.run("C: a CREATE Work\nS: a OK *");
    for i in 0..5 {
        s.deliver(USER, &mail(&format!("first-{i}"), "x"));
    }
    let dir = s.dir.join("live");
    let pw = s.dir.join("mirror-pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let url = format!("imap://{}@127.0.0.1:{}", USER.replace('@', "%40"), s.imap);
    let mut child = std::process::Command::new(common::BIN)
        .args(["mirror", &url, "--replica"])
        .arg(&dir)
        .arg("--password-file")
        .arg(&pw)
        .args(["--plain", "--json", "--heartbeat", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mirror");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |want: &dyn Fn(&str) -> bool| loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("a progress line in 30 s");
        if want(&line) {
            return line;
        }
    };
    wait_for(&|l| l.contains("\"live\":"));
    for i in 0..5 {
        s.deliver(USER, &mail(&format!("late-{i}"), "x"));
        s.deliver(&USER.replace('@', "+Work@"), &mail(&format!("work-{i}"), "y"));
    }
    c.run("C: s SELECT INBOX\nS: s OK *\nC: f STORE 1 +FLAGS (\\Flagged)\nS: f OK *");
    c.run("C: d STORE 2 +FLAGS (\\Deleted)\nS: d OK *\nC: x EXPUNGE\nS: x OK *\nC: n CREATE New\nS: n OK *");
    s.deliver(&USER.replace('@', "+New@"), &mail("in-new", "z"));
    // The account's current change number, from another session's XSESSION.
    let target: u64 = {
        let mut p = s.login();
        let lines = p.cmd("t", "XSESSION");
        let l = lines.iter().find(|l| l.starts_with("* XSESSION ")).expect("XSESSION");
        let w: Vec<&str> = l.split(' ').collect();
        w[w.iter().position(|x| *x == "CHANGE").expect("CHANGE") + 1].parse().expect("number")
    };
    wait_for(&|l| {
        l.split("\"applied\":")
            .nth(1)
            .and_then(|n| n.trim_end_matches('}').parse::<u64>().ok())
            .is_some_and(|n| n >= target)
    });
    // Its heartbeats are answered with what it stored: the server shows it acknowledged.
    let t = std::time::Instant::now();
    loop {
        let o = s.cli(&["sessions", "--json"], b"");
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let acked = text
            .split("\"acked\":")
            .skip(1)
            .filter_map(|r| {
                r.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u64>().ok()
            })
            .max();
        if acked.is_some_and(|a| a >= target) {
            break;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "no XACK of {target}: {text}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM: a clean stop, {status:?}");
    c.run("C: u UNSELECT\nS: u OK *");
    assert_eq!(replica_listing(&dir.join(format!("{USER}.redb"))), listing(&mut c));
}

/// A mirror process with its progress lines (stdout) and errors (stderr) on channels.
struct Running {
    child: std::process::Child,
    out: std::sync::mpsc::Receiver<String>,
    err: std::sync::mpsc::Receiver<String>,
}

fn spawn_mirror(s: &Server, port: u16, dir: &std::path::Path, extra: &[&str]) -> Running {
    use std::io::BufRead;
    let pw = s.dir.join("mirror-pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let url = format!("imap://{}@127.0.0.1:{port}", USER.replace('@', "%40"));
    let mut child = std::process::Command::new(common::BIN)
        .args(["mirror", &url, "--replica"])
        .arg(dir)
        .arg("--password-file")
        .arg(&pw)
        .args(["--plain", "--json"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mirror");
    let lines = |r: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let out = lines(Box::new(child.stdout.take().expect("stdout")));
    let err = lines(Box::new(child.stderr.take().expect("stderr")));
    Running { child, out, err }
}

fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    within: std::time::Duration,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no such line within {within:?}"));
        if want(&line) {
            return line;
        }
    }
}

fn applied(line: &str) -> Option<u64> {
    line.split("\"applied\":").nth(1).and_then(|n| n.trim_end_matches('}').parse().ok())
}

/// §6 on the client's side: a link that stops carrying packets without closing (the proxy
/// stalls it both ways) is found dead within two heartbeat intervals; the mirror reconnects
/// (new connections get through) and what was delivered meanwhile reaches the replica.
#[test]
fn a_stalled_link_is_found_within_two_intervals_and_the_mirror_reconnects() {
    let s = Server::start("mirror-stall", "mapi.heartbeat_min_secs = 1");
    s.deliver(USER, &mail("before", "x"));
    let p = proxy::Proxy::start(s.imap);
    let dir = s.dir.join("stall");
    let mut m = spawn_mirror(&s, p.port, &dir, &["--heartbeat", "1"]);
    wait_line(&m.out, std::time::Duration::from_secs(30), |l| l.contains("\"live\":"));
    let stalled = std::time::Instant::now();
    p.stall(true, true);
    wait_line(&m.err, std::time::Duration::from_secs(10), |l| l.contains("reconnecting"));
    let found = stalled.elapsed();
    assert!(
        found <= std::time::Duration::from_millis(3000),
        "two intervals of 1 s, and the read's slack: {found:?}"
    );
    s.deliver(USER, &mail("during", "x"));
    let mut c = s.login();
    let target: u64 = {
        let lines = c.cmd("t", "XSESSION");
        let l = lines.iter().find(|l| l.starts_with("* XSESSION ")).expect("XSESSION");
        let w: Vec<&str> = l.split(' ').collect();
        w[w.iter().position(|x| *x == "CHANGE").expect("CHANGE") + 1].parse().expect("number")
    };
    wait_line(&m.out, std::time::Duration::from_secs(30), |l| {
        applied(l).is_some_and(|n| n >= target) || l.contains(&format!("\"live\":{target}"))
    });
    let _ = std::process::Command::new("kill").arg("-TERM").arg(m.child.id().to_string()).status();
    assert!(m.child.wait().expect("wait").success());
    let mut c = s.login();
    assert_eq!(replica_listing(&dir.join(format!("{USER}.redb"))), listing(&mut c));
}

/// A first sync cut in the middle (the proxy closes the link while a slow link carries a
/// 3,000-message folder): the next run resumes from the last batch stored, fetching only the
/// messages not yet held, and the replica ends equal to the folder.
#[test]
fn a_first_sync_cut_in_the_middle_resumes_from_the_last_batch() {
    let s = Server::start("mirror-cut", "");
    common::fill(&s, "INBOX", 3000);
    let p = proxy::Proxy::start(s.imap);
    // About 250 octets a summary: 750 KB in all, 3 s at 250 KB/s; the first window of 1,000
    // arrives after a second.
    p.set_rate_down(250_000);
    // And a WAN's latency, 25 ms each way.
    p.set_delay(std::time::Duration::from_millis(25));
    let dir = s.dir.join("cut");
    let mut m = spawn_mirror(&s, p.port, &dir, &["--once"]);
    let t = std::time::Instant::now();
    while p.down.load(std::sync::atomic::Ordering::Relaxed) < 400_000 {
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "the sync did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    p.cut();
    let status = m.child.wait().expect("wait");
    assert_eq!(status.code(), Some(75), "a cut link is a temporary failure");
    let file = dir.join(format!("{USER}.redb"));
    let held: usize = {
        let r = Replica::open(&file).expect("replica");
        let inbox = r
            .folders()
            .expect("folders")
            .into_iter()
            .find(|(_, f)| f.info.name == b"INBOX")
            .expect("INBOX")
            .0;
        r.messages(&inbox).expect("messages").len()
    };
    assert!((1000..3000).contains(&held), "the batches before the cut are kept: {held}");
    let o = mirror(&s, &dir);
    assert_eq!(number(&o, "messages") as usize, 3000 - held, "only what was not held: {o}");
    assert_eq!(number(&o, "restarted"), 0, "{o}");
    let mut c = s.login();
    assert_eq!(replica_listing(&file), listing(&mut c));
}
