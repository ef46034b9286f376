//! Migration from another IMAP server (`import imap`) and the link diagnostics (`probe`),
//! between two real applianced servers on loopback.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Client, Server, USER};

/// APPEND with flags and an internal date; returns the tagged line.
fn append(c: &mut Client, mailbox: &str, flags: &str, date: &str, msg: &[u8]) {
    let mut cmd = format!("ap APPEND \"{mailbox}\" ({flags}) \"{date}\" {{{}+}}\r\n", msg.len()).into_bytes();
    cmd.extend_from_slice(msg);
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd);
    let last = c.until("ap").pop().unwrap_or_default();
    assert!(last.starts_with("ap OK"), "{last}");
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: {USER}\r\nSubject: message {id}\r\nMessage-ID: <{id}@example.com>\r\n\r\nbody of {id}\r\n"
    )
    .into_bytes()
}

/// Folders of the source: (mailbox name as sent, flags, how many messages).
const FOLDERS: &[&str] = &["INBOX", "Sent", "Projects", "Projects/2024", "&AMQ-rger"];

fn fill_source(src: &Server, round: usize, per_folder: usize) {
    let mut c = src.login();
    if round == 0 {
        for f in ["Projects", "Projects/2024", "&AMQ-rger"] {
            let r = c.cmd("cr", &format!("CREATE \"{f}\""));
            assert!(r.last().is_some_and(|l| l.starts_with("cr OK")), "{r:?}");
        }
    }
    let flags =
        ["\\Seen", "\\Flagged $Forwarded", "\\Answered \\Draft", "\\Deleted \\Seen", "Custom $Junk", ""];
    let zones = ["+0200", "-0700", "+0000", "+0530"];
    for (fi, f) in FOLDERS.iter().enumerate() {
        for i in 0..per_folder {
            let n = round * 100 + fi * 10 + i;
            let date = format!("{:02}-Mar-2021 {:02}:{:02}:07 {}", 1 + n % 28, n % 24, n % 60, zones[n % 4]);
            append(&mut c, f, flags[n % flags.len()], &date, &message(&format!("r{round}-f{fi}-m{i}")));
        }
    }
}

/// Every selectable mailbox name.
fn names(c: &mut Client) -> BTreeSet<String> {
    c.cmd("l", "LIST \"\" \"*\"")
        .iter()
        .filter(|l| l.starts_with("* LIST") && !l.contains("\\Noselect"))
        .filter_map(|l| l.rsplit(' ').next().map(|n| n.trim_matches('"').to_string()))
        .collect()
}

/// The messages of a folder as comparable lines: flags, INTERNALDATE, size and Message-ID.
fn snapshot(c: &mut Client, folder: &str) -> Vec<String> {
    let r = c.cmd("ex", &format!("EXAMINE \"{folder}\""));
    assert!(r.last().is_some_and(|l| l.starts_with("ex OK")), "{folder}: {r:?}");
    let exists: usize = r
        .iter()
        .find_map(|l| l.strip_prefix("* ").and_then(|l| l.strip_suffix(" EXISTS")))
        .and_then(|n| n.parse().ok())
        .expect("EXISTS");
    if exists == 0 {
        return Vec::new();
    }
    let lines =
        c.cmd("fe", "FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
    let out: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH ("))
        .map(|l| {
            let l = l.split_once(" FETCH ").map_or(l.as_str(), |(_, rest)| rest);
            l.replace(" \\Recent", "").replace("\\Recent ", "").replace("\\Recent", "")
        })
        .collect();
    assert_eq!(out.len(), exists, "{folder}: {lines:?}");
    out
}

/// Source and target hold the same folders and, in each, the same messages (no more, no less).
fn assert_same(src: &Server, dst: &Server) -> usize {
    let (mut a, mut b) = (src.login(), dst.login());
    let names_a = names(&mut a);
    assert_eq!(names_a, names(&mut b));
    let mut total = 0;
    for f in &names_a {
        let (sa, sb) = (snapshot(&mut a, f), snapshot(&mut b, f));
        assert_eq!(sa, sb, "folder {f}");
        let ids: BTreeSet<&String> = sb.iter().collect();
        assert_eq!(ids.len(), sb.len(), "{f}: duplicates");
        total += sb.len();
    }
    total
}

fn import(dst: &Server, src: &Server, extra: &[&str]) -> std::process::Output {
    let url = format!("imaps://bob%40mail.test@127.0.0.1:{}", src.imaps);
    let pw = src.dir.join("pw");
    let mut args =
        vec!["import", "imap", &url, "--user", USER, "--password-file", pw.to_str().expect("path")];
    args.extend_from_slice(extra);
    dst.cli(&args, b"")
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn state_file(dst: &Server) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dst.data())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("import-imap-")))
}

#[test]
fn import_imap_copies_folders_flags_dates_and_resumes() {
    let src = Server::start("remote-src", "");
    let mut dst = Server::start("remote-dst", "");
    fill_source(&src, 0, 6);

    // The certificate must be trusted (or --insecure given).
    let o = import(&dst, &src, &[]);
    assert_eq!(o.status.code(), Some(78), "{}", text(&o));
    assert!(text(&o).contains("certificate"), "{}", text(&o));
    let bad_url = dst.cli(&["import", "imap", "imaps://127.0.0.1:1", "--user", USER], b"");
    assert_eq!(bad_url.status.code(), Some(64), "{}", text(&bad_url));
    let wrong = src.dir.join("wrong-pw");
    std::fs::write(&wrong, "not-the-password\n").expect("pw");
    let url = format!("imaps://bob%40mail.test@127.0.0.1:{}", src.imaps);
    let o = dst.cli(
        &[
            "import",
            "imap",
            &url,
            "--user",
            USER,
            "--insecure",
            "--password-file",
            wrong.to_str().expect("path"),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    let o = dst.cli(&["import", "imap", &url, "--user", "nobody@mail.test", "--insecure"], b"");
    assert_eq!(o.status.code(), Some(64), "no password given: {}", text(&o));
    let pw = src.dir.join("pw");
    let args = ["import", "imap", &url, "--user", "nobody@mail.test", "--insecure", "--password-file"];
    let o = dst.cli(&[&args[..], &[pw.to_str().expect("path")]].concat(), b"");
    assert_eq!(o.status.code(), Some(67), "no such local account: {}", text(&o));

    // While the server runs: the batches go through it, and a client watching INBOX sees the
    // mail arrive.
    let mut watcher = dst.login();
    watcher.run("C: s SELECT INBOX\nS: s OK *\nC: i IDLE\nS: + *");
    let o = import(&dst, &src, &["--insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--insecure"), "a warning: {}", text(&o));
    assert!(
        text(&o).contains("imported 30 messages from 9 folders (0 already imported before, 0 skipped)"),
        "{}",
        text(&o)
    );
    watcher.run("S: * 6 EXISTS");
    drop(watcher);
    assert_eq!(assert_same(&src, &dst), 30);
    // Dates keep their zone; keywords come along.
    let mut c = dst.login();
    c.run(
        "C: s SELECT \"&AMQ-rger\"
         S: s OK *
         C: f FETCH 4 (FLAGS INTERNALDATE)
         S: * 4 FETCH (FLAGS (\\Flagged *$Forwarded) INTERNALDATE \"16-Mar-2021 19:43:07 +0530\")
         S: f OK *",
    );
    drop(c);

    // More mail on the source: a second run brings only that.
    fill_source(&src, 1, 1);
    dst.stop();
    let o = import(&dst, &src, &["--insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported 5 messages from 9 folders (30 already imported before"),
        "{}",
        text(&o)
    );

    // A folder recreated on the source (new UIDVALIDITY): skipped with a warning, then replaced
    // with --force.
    {
        let mut c = src.login();
        c.run("C: d DELETE \"Projects/2024\"\nS: d OK *\nC: c CREATE \"Projects/2024\"\nS: c OK *");
        append(&mut c, "Projects/2024", "\\Seen", "01-Apr-2022 08:00:00 +0100", &message("recreated"));
    }
    let o = import(&dst, &src, &["--insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("UIDVALIDITY changed") && text(&o).contains("--force"), "{}", text(&o));
    assert!(text(&o).contains("imported 0 messages"), "{}", text(&o));
    // --force through the running server: the old messages are expunged in its commit.
    dst.restart();
    let o = import(&dst, &src, &["--insecure", "--force"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("imported 1 messages"), "{}", text(&o));
    assert_eq!(assert_same(&src, &dst), 29);
}

#[test]
fn import_imap_interrupted_neither_loses_nor_duplicates() {
    let src = Server::start("remote-isrc", "");
    let mut dst = Server::start("remote-idst", "");
    {
        let mut c = src.login();
        c.run("C: c CREATE Bulk\nS: c OK *");
    }
    common::fill(&src, "Bulk", 400);
    dst.stop();
    let url = format!("imaps://bob%40mail.test@127.0.0.1:{}", src.imaps);
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dst.data())
        .args(["import", "imap", &url, "--user", USER, "--insecure", "--batch", "10"])
        .env("APPLIANCED_IMPORT_PASSWORD", common::PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill it once some batches of Bulk are durably in.
    let started = Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(20) {
        let progress = state_file(&dst)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("Bulk\t"))
            .filter_map(|l| l.split('\t').nth(2).and_then(|n| n.parse::<u32>().ok()))
            .next()
            .unwrap_or(0);
        if progress >= 50 {
            killed = child.try_wait().expect("wait").is_none();
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().expect("wait");
    assert!(killed && !status.success(), "the import finished before it could be interrupted");
    let o = import(&dst, &src, &["--insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already imported before, 0 skipped"), "{}", text(&o));
    dst.restart();
    assert_eq!(assert_same(&src, &dst), 400);
}

/// Runs `applianced probe` (no data directory: the probe needs none) and returns its rows.
fn probe(args: &[&str]) -> (std::process::Output, Vec<(String, String)>) {
    let o = Command::new(BIN).arg("probe").args(args).output().expect("probe");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once("  ").map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    (o, rows)
}

fn value<'a>(rows: &'a [(String, String)], name: &str) -> &'a str {
    rows.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
}

/// Milliseconds of a `1.23 ms` / `1.23 s` value's first duration.
fn millis(v: &str) -> f64 {
    let mut words = v.split_whitespace();
    while let Some(w) = words.next() {
        if let Ok(n) = w.parse::<f64>() {
            return match words.next() {
                Some(u) if u.starts_with("ms") => n,
                Some(u) if u.starts_with('s') => n * 1000.0,
                _ => continue,
            };
        }
    }
    panic!("no duration in {v:?}")
}

/// Bytes of the `N MB` / `N kB` sizes in a value, in order.
fn sizes(v: &str) -> Vec<f64> {
    let w: Vec<&str> = v.split([' ', '(']).collect();
    w.windows(2)
        .filter_map(|p| {
            let n: f64 = p[0].parse().ok()?;
            match p[1] {
                "MB" => Some(n * 1e6),
                "kB" => Some(n * 1e3),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn probe_reports_every_row() {
    let s = Server::start("remote-probe", "");
    common::fill(&s, "INBOX", 120);

    // Without credentials: what needs no login, the rest says why not.
    let (o, rows) = probe(&[&format!("imaps://127.0.0.1:{}", s.imaps), "--insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(millis(value(&rows, "tcp connect")) < 5000.0);
    assert!(value(&rows, "tls handshake").contains("implicit TLS"));
    assert!(millis(value(&rows, "greeting")) < 5000.0);
    assert!(value(&rows, "round trip").ends_with("(10 NOOPs)"), "{rows:?}");
    let caps = value(&rows, "capabilities");
    assert!(caps.contains(", IDLE yes,") && caps.contains("(before login"), "{rows:?}");
    for name in ["login", "first screen", "fetch plain", "fetch deflate", "push latency"] {
        assert!(value(&rows, name).starts_with("not measured: no credentials"), "{rows:?}");
    }

    // The certificate is checked unless --insecure: trusted with --ca, for the name it carries.
    let cert = s.data().join("tls/cert.pem");
    let (o, rows) = probe(&[&format!("imaps://localhost:{}", s.imaps), "--ca", cert.to_str().expect("path")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(value(&rows, "tls handshake").contains("implicit TLS"));
    let (o, _) = probe(&[&format!("imaps://127.0.0.1:{}", s.imaps)]);
    assert_eq!(o.status.code(), Some(78), "{}", text(&o));

    // With a login, over STARTTLS, with --push.
    let pw = s.dir.join("pw");
    let url = format!("imap://bob%40mail.test@127.0.0.1:{}", s.imap);
    let (o, rows) = probe(&[&url, "--insecure", "--password-file", pw.to_str().expect("path"), "--push"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(value(&rows, "tls handshake").contains("STARTTLS"), "{rows:?}");
    let rt = value(&rows, "round trip");
    let nums: Vec<f64> = rt.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(nums.len() == 2 && nums[0] <= nums[1] && nums[1] < 1000.0, "{rt}");
    assert_eq!(
        value(&rows, "capabilities"),
        "COMPRESS=DEFLATE yes, IDLE yes, NOTIFY yes, QRESYNC yes, PARTIAL yes (after login)"
    );
    assert!(millis(value(&rows, "login")) < 10_000.0);
    let first = value(&rows, "first screen");
    assert!(
        first.contains("EXAMINE INBOX (120 messages) + 50 envelopes (UID FETCH with PARTIAL -1:-50)"),
        "{first}"
    );
    let (plain, deflate) = (value(&rows, "fetch plain"), value(&rows, "fetch deflate"));
    let (p, d) = (sizes(plain), sizes(deflate));
    assert!(p.len() == 2 && d.len() == 2, "{plain} / {deflate}");
    assert!(p[0] > 50_000.0 && p[0] == d[0], "same messages both ways: {plain} / {deflate}");
    assert!(p[1] >= p[0], "TLS adds bytes: {plain}");
    assert!(d[1] < p[1] / 2.0, "deflate saves on text mail: {plain} / {deflate}");
    assert!(plain.contains("MB/s") && deflate.contains("MB/s"));
    let push = value(&rows, "push latency");
    assert!(millis(push) < 5000.0 && push.contains("deleted again"), "{push}");
    // The test message is gone again.
    let mut c = s.login();
    c.run("C: s STATUS INBOX (MESSAGES DELETED)\nS: * STATUS INBOX (MESSAGES 120 DELETED 0)\nS: s OK *");

    // A folder that does not exist: the rows that need it say so, the probe still reports.
    let (o, rows) =
        probe(&[&url, "--insecure", "--password-file", pw.to_str().expect("path"), "--folder", "Nope"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(value(&rows, "first screen").starts_with("failed: EXAMINE Nope refused"), "{rows:?}");
    assert!(millis(value(&rows, "login")) < 10_000.0);

    // JSON, and a usage error.
    let o = Command::new(BIN)
        .args(["probe", &format!("imaps://127.0.0.1:{}", s.imaps), "--insecure", "--json"])
        .output()
        .expect("probe");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("{\"server\":\"imaps://127.0.0.1:") && out.contains("\"row\":\"round trip\""),
        "{out}"
    );
    let (o, _) = probe(&["imap://192.0.2.1:143", "--plain"]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
}

/// A scripted source server on loopback: `(true, line)` is sent, `(false, line)` must arrive.
fn scripted_source(script: Vec<(bool, String)>) -> (u16, std::thread::JoinHandle<Result<(), String>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        let mut w = s;
        for (send, line) in script {
            if send {
                w.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
            } else {
                let mut got = String::new();
                r.read_line(&mut got).map_err(|e| format!("waiting for {line:?}: {e}"))?;
                if got.trim_end() != line {
                    return Err(format!("expected {line:?}, got {got:?}"));
                }
            }
        }
        Ok(())
    });
    (port, h)
}

/// A Courier-style source: folders under the personal namespace `INBOX.` with `.` as the
/// delimiter, a \Noselect parent, a "Sent Items" with \Sent, a virtual \All folder, a
/// modified UTF-7 name; no COMPRESS, no LITERAL+.
#[test]
fn import_imap_maps_a_courier_style_source() {
    let mut dst = Server::start("remote-courier", "");
    dst.stop();
    let msg = |n: &str| format!("Subject: {n}\r\nMessage-ID: <{n}@old>\r\n\r\nbody {n}\r\n");
    let fetch = |seq: u32, uid: u32, flags: &str, date: &str, body: &str| {
        format!(
            "* {seq} FETCH (UID {uid} FLAGS ({flags}) INTERNALDATE \"{date}\" RFC822.SIZE {} BODY[] {{{}}}\r\n{body})\r\n",
            body.len(),
            body.len()
        )
    };
    let s = |l: &str| (true, format!("{l}\r\n"));
    let c = |l: &str| (false, l.to_string());
    let script = vec![
        s("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Courier-IMAP ready"),
        c("A1 LOGIN \"bob\" \"old-secret\""),
        s("A1 OK [CAPABILITY IMAP4rev1 NAMESPACE UIDPLUS CHILDREN] LOGIN Ok."),
        c("A2 NAMESPACE"),
        s("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))"),
        s("A2 OK NAMESPACE completed."),
        c("A3 LIST \"\" \"*\""),
        s("* LIST (\\HasChildren) \".\" INBOX"),
        s("* LIST (\\HasNoChildren \\Sent) \".\" \"INBOX.Sent Items\""),
        s("* LIST (\\Noselect \\HasChildren) \".\" INBOX.Archive"),
        s("* LIST (\\HasNoChildren) \".\" INBOX.Archive.2024"),
        s("* LIST (\\HasNoChildren) \".\" INBOX.&AMQ-rger"),
        s("* LIST (\\HasNoChildren \\All) \".\" \"INBOX.All Mail\""),
        s("A3 OK LIST completed"),
        c("A4 EXAMINE \"INBOX\""),
        s("* FLAGS (\\Draft \\Answered \\Flagged \\Deleted \\Seen $Forwarded)"),
        s("* 2 EXISTS"),
        s("* 0 RECENT"),
        s("* OK [UIDVALIDITY 1700000000] Ok"),
        s("A4 OK [READ-ONLY] Ok"),
        c("A5 UID FETCH 1:* (UID RFC822.SIZE)"),
        s(&format!("* 1 FETCH (UID 7 RFC822.SIZE {})", msg("one").len())),
        s(&format!("* 2 FETCH (RFC822.SIZE {} UID 9)", msg("two").len())),
        s("A5 OK FETCH completed."),
        c("A6 UID FETCH 7:9 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
        // An unsolicited flag update (another client) is not an answer.
        s("* 2 FETCH (FLAGS (\\Flagged) UID 9)"),
        (true, fetch(1, 7, "\\Seen $Forwarded", "03-Feb-2019 10:11:12 +0100", &msg("one"))),
        (true, fetch(2, 9, "\\Flagged \\Recent", " 4-Feb-2019 23:00:00 -0500", &msg("two"))),
        s("A6 OK FETCH completed."),
        c("A7 EXAMINE \"INBOX.Archive.2024\""),
        s("* 1 EXISTS"),
        s("* OK [UIDVALIDITY 1700000001] Ok"),
        s("A7 OK [READ-ONLY] Ok"),
        c("A8 UID FETCH 1:* (UID RFC822.SIZE)"),
        s(&format!("* 1 FETCH (UID 3 RFC822.SIZE {})", msg("archived").len())),
        s("A8 OK FETCH completed."),
        c("A9 UID FETCH 3:3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
        (true, fetch(1, 3, "\\Seen", "01-Jan-2024 00:00:00 +0000", &msg("archived"))),
        s("A9 OK FETCH completed."),
        c("A10 EXAMINE \"INBOX.Sent Items\""),
        s("* 1 EXISTS"),
        s("* OK [UIDVALIDITY 1700000002] Ok"),
        s("A10 OK [READ-ONLY] Ok"),
        c("A11 UID FETCH 1:* (UID RFC822.SIZE)"),
        s(&format!("* 1 FETCH (UID 5 RFC822.SIZE {})", msg("sent").len())),
        s("A11 OK FETCH completed."),
        c("A12 UID FETCH 5:5 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
        (true, fetch(1, 5, "\\Seen \\Answered", "02-Jan-2024 08:00:00 +0000", &msg("sent"))),
        s("A12 OK FETCH completed."),
        c("A13 EXAMINE \"INBOX.&AMQ-rger\""),
        s("* 0 EXISTS"),
        s("* OK [UIDVALIDITY 1700000003] Ok"),
        s("A13 OK [READ-ONLY] Ok"),
        c("A14 LOGOUT"),
        s("* BYE Courier-IMAP server shutting down"),
        s("A14 OK LOGOUT completed"),
    ];
    let (port, server) = scripted_source(script);
    let o = Command::new(BIN)
        .arg("--data-dir")
        .arg(dst.data())
        .args(["import", "imap", &format!("imap://bob@127.0.0.1:{port}"), "--user", USER, "--plain"])
        .env("APPLIANCED_IMPORT_PASSWORD", "old-secret")
        .output()
        .expect("import");
    server.join().expect("thread").expect("the source's script");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported 4 messages from 4 folders (0 already imported before, 0 skipped)"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("skipping INBOX.All Mail: a virtual folder"), "{}", text(&o));
    assert!(text(&o).contains("Sent Items goes to Sent"), "{}", text(&o));
    dst.restart();
    let mut c = dst.login();
    let names = names(&mut c);
    let expected: BTreeSet<String> =
        ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive", "Archive/2024", "&AMQ-rger"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(names, expected);
    c.run(
        "C: a STATUS Archive/2024 (MESSAGES)
         S: * STATUS Archive/2024 (MESSAGES 1)
         S: a OK *
         C: b STATUS Sent (MESSAGES)
         S: * STATUS Sent (MESSAGES 1)
         S: b OK *
         C: s EXAMINE INBOX
         S: s OK *
         C: f FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
         S: * 1 FETCH (FLAGS (\\Seen *$Forwarded) INTERNALDATE \"03-Feb-2019 10:11:12 +0100\" *Subject: one*
         S: * 2 FETCH (FLAGS (\\Flagged*) INTERNALDATE \"04-Feb-2019 23:00:00 -0500\" *Subject: two*
         S: f OK *",
    );
}
