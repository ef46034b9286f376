//! Import of a Dovecot-style Maildir++ tree: folders (with hierarchy and modified UTF-7 names),
//! flags and dates kept, and a second run after more mail arrived imports only the new files.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, USER};

fn write(dir: &Path, name: &str, subject: &str) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join(name), format!("From: a@b\nSubject: {subject}\n\nbody of {subject}\n"))
        .expect("file");
}

#[test]
fn maildir_import_keeps_folders_flags_dates_and_resumes() {
    let mut s = Server::start("import", "");
    let md = s.dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("dir");
    }
    for i in 0..2000 {
        let flags = if i % 2 == 0 { "S" } else { "" };
        write(&md.join("cur"), &format!("17000{i:05}.M{i}P1.old,S=60:2,{flags}"), &format!("inbox {i}"));
    }
    write(&md.join("new"), "1700100000.M1P1.old", "fresh");
    write(&md.join(".Sent/cur"), "1700000001.M1P1.old:2,RS", "sent one");
    write(&md.join(".Archive.2024/cur"), "1700000002.M1P1.old:2,FS", "archived");
    write(&md.join(".&AMQ-rger/cur"), "1700000003.M1P1.old:2,T", "umlaut");
    std::fs::create_dir_all(md.join(".Archive.2024/new")).expect("dir");
    let dated = md.join(".Sent/cur/1700000001.M1P1.old:2,RS");
    assert!(Command::new("touch").args(["-d", "@837596665"]).arg(&dated).status().expect("touch").success());

    // The first run goes through the running server, the second through the store: they share
    // the resume state.
    let o = s.cli(&["import", "maildir", md.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.stop();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 2004 messages (0 already"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // More mail, then a second run: only the new file comes in.
    write(&md.join("new"), "1700200000.M2P1.old", "later");
    let o = s.cli(&["import", "maildir", md.to_str().expect("path"), "--user", USER], b"");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 1 messages (2004 already"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    s.restart();
    let mut c = s.login();
    c.run(
        "C: a STATUS INBOX (MESSAGES UNSEEN)
         S: * STATUS INBOX (MESSAGES 2002 UNSEEN 1002)
         S: a OK *
         C: b STATUS Archive/2024 (MESSAGES)
         S: * STATUS Archive/2024 (MESSAGES 1)
         S: b OK *
         C: e ENABLE UTF8=ACCEPT
         S: e OK *
         C: u STATUS \"Ärger\" (MESSAGES DELETED)
         S: * STATUS \"Ärger\" (MESSAGES 1 DELETED 1)
         S: u OK *
         C: s SELECT Sent
         S: s OK *
         C: f FETCH 1 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
         S: * 1 FETCH (FLAGS (\\Seen \\Answered \\Recent) INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" BODY[HEADER.FIELDS (SUBJECT)] {21}*Subject: sent one*
         S: f OK *
         C: l LIST (SPECIAL-USE) \"\" Sent
         S: * LIST (\\Sent \\HasNoChildren) \"/\" Sent
         S: l OK *",
    );

    // Export to a new Maildir++ tree: same folders, flags and dates; and it imports back.
    drop(c);
    s.stop();
    let out = s.dir.join("Exported");
    let o = s.cli(&["export", "maildir", out.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("exported 2005 messages"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let names = |dir: &str| -> Vec<String> {
        std::fs::read_dir(out.join(dir).join("cur"))
            .expect("cur")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names("").len(), 2002);
    let sent = names(".Sent");
    assert!(sent.len() == 1 && sent[0].ends_with(":2,RS"), "{sent:?}");
    let mtime =
        std::fs::metadata(out.join(".Sent/cur").join(&sent[0])).expect("meta").modified().expect("mtime");
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs(), 837_596_665);
    assert!(names(".&AMQ-rger")[0].ends_with(":2,T"));
    assert_eq!(names(".Archive.2024").len(), 1);
    let pw = s.dir.join("pw-copy");
    std::fs::write(&pw, "x").expect("pw");
    assert!(
        s.cli(&["user", "add", "copy@mail.test", "--password-file", pw.to_str().expect("path")], b"")
            .status
            .success()
    );
    let o = s.cli(&["import", "maildir", out.to_str().expect("path"), "--user", "copy@mail.test"], b"");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 2005 messages"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Every file of a tree: relative path → (bytes, modification time).
fn tree(root: &Path) -> std::collections::BTreeMap<String, (Vec<u8>, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let meta = std::fs::metadata(&p).expect("meta");
                let mtime = meta
                    .modified()
                    .expect("mtime")
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs();
                let rel = p.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                // A message file's mtime is its INTERNALDATE; other files (dovecot-keywords) are
                // stamped when written, so two exports may differ by a second there.
                let is_message =
                    p.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "cur" || d == "new");
                out.insert(rel, (std::fs::read(&p).expect("read"), if is_message { mtime } else { 0 }));
            }
        }
    }
    out
}

/// The lines of one FETCH command's answer joined, literals included.
/// The FETCH responses of a command (and its tagged OK last); the `* FLAGS` and `* OK
/// [PERMANENTFLAGS]` that announce new keywords before them (RFC 9051 §7.3.5) are left out.
fn fetch(c: &mut common::Client, tag: &str, what: &str) -> Vec<String> {
    let lines = c.cmd(tag, what);
    assert!(lines.last().is_some_and(|l| l.starts_with(&format!("{tag} OK"))), "{lines:?}");
    lines
        .into_iter()
        .filter(|l| !l.starts_with("* FLAGS ") && !l.starts_with("* OK [PERMANENTFLAGS"))
        .collect()
}

const TRICKY: &[u8] = b"From alice@example.com Thu Nov 29 03:26:00 2026\n\
From: Alice <alice@example.com>\n\
Subject: one\n\
Status: RO\n\
X-Status: AF\n\
X-Keywords: $Forwarded work\n\
X-UID: 5\n\
\n\
Hello\n\
>From quoted\n\
>>From twice\n\
From inside the body, not after a blank line\n\
\n\
From bob@example.com Fri Nov 30 10:00:00 2026\r\n\
From: Bob <bob@example.com>\r\n\
Subject: two\r\n\
X-Mozilla-Status: 0005\r\n\
X-Mozilla-Status2: 00000000\r\n\
\r\n\
crlf body\r\n\
\r\n\
From carol@example.com Sat Dec  1 10:00:00 2026\n\
Subject: gone\n\
X-Mozilla-Status: 0009\n\
\n\
expunged\n\
\n\
From  Sun Dec  2 08:00:00 2026\n\
Subject: last\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\n\
\n\
no newline at the end";

fn literal(body: &str) -> String {
    format!("{{{}}}\r\n{body}", body.len())
}

#[test]
fn mbox_import_of_tricky_input_resumes_and_exports_online_as_offline() {
    let mut s = Server::start("mbox", "");
    let mbox = s.dir.join("old.mbox");
    std::fs::write(&mbox, TRICKY).expect("mbox");
    let path = mbox.to_str().expect("path");
    // The server runs: the import goes through it.
    let o = s.cli(&["import", "mbox", path, "--user", USER, "--folder", "Old Mail"], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("imported 3 messages from 1 mbox files; 1 expunged by Thunderbird left out"),
        "{out}"
    );
    let mut c = s.login();
    c.run("C: s SELECT \"Old Mail\"\nS: * 3 EXISTS\nS: s OK *");
    let l = fetch(&mut c, "f", "FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[])");
    let one = &l[0];
    for want in ["\\Seen", "\\Answered", "\\Flagged", "$Forwarded", "work", "\"29-Nov-2026 03:26:00 +0000\""]
    {
        assert!(one.contains(want), "{want} in {one}");
    }
    assert!(
        one.contains(&literal(
            "From: Alice <alice@example.com>\r\nSubject: one\r\n\r\nHello\r\nFrom quoted\r\n>From twice\r\nFrom inside the body, not after a blank line\r\n"
        )),
        "{one}"
    );
    let two = &l[1];
    assert!(two.contains("\\Seen") && two.contains("\\Flagged") && !two.contains("\\Answered"), "{two}");
    assert!(two.contains("\"30-Nov-2026 10:00:00 +0000\""), "{two}");
    assert!(
        two.contains(&literal("From: Bob <bob@example.com>\r\nSubject: two\r\n\r\ncrlf body\r\n")),
        "{two}"
    );
    let three = &l[2];
    assert!(three.contains("\"02-Dec-2026 08:00:00 +0000\"") && !three.contains("\\Seen"), "{three}");
    assert!(
        three.contains(&literal(
            "Subject: last\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nno newline at the end"
        )),
        "{three}"
    );

    // Mail appended to the file since: the next run imports only it.
    let mut more = std::fs::OpenOptions::new().append(true).open(&mbox).expect("append");
    std::io::Write::write_all(
        &mut more,
        b"\n\nFrom dave@example.com Mon Dec  3 08:00:00 2026\nSubject: later\n\nlater\n",
    )
    .expect("append");
    drop(more);
    let o = s.cli(&["import", "mbox", path, "--user", USER, "--folder", "Old Mail"], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("imported 1 messages from 1 mbox files, 1 of them resumed"),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    c.run("C: n NOOP\nS: * 4 EXISTS\nS: n OK *");

    // A Thunderbird profile's tree, into another account, with the server stopped.
    let tb = s.dir.join("tb");
    std::fs::create_dir_all(tb.join("Work.sbd")).expect("dir");
    let one = b"From a@b Thu Nov 29 03:26:00 2026\nSubject: x\n\nx\n\n";
    std::fs::write(tb.join("Inbox"), [&one[..], &one[..]].concat()).expect("file");
    std::fs::write(tb.join("Inbox.msf"), b"// <!-- <mdb:mork:z v=\"1.4\"/> -->").expect("file");
    std::fs::write(tb.join("Work"), one).expect("file");
    std::fs::write(tb.join("Work.sbd/Jobs"), one).expect("file");
    std::fs::write(tb.join("notes.txt"), b"not mail").expect("file");
    let pw = s.dir.join("pw-tb");
    std::fs::write(&pw, "tb-secret").expect("pw");
    assert!(
        s.cli(&["user", "add", "tb@mail.test", "--password-file", pw.to_str().expect("p")], b"")
            .status
            .success()
    );
    drop(c);
    s.stop();
    let o = s.cli(&["import", "mbox", tb.to_str().expect("path"), "--user", "tb@mail.test"], b"");
    assert!(String::from_utf8_lossy(&o.stdout).contains("imported 4 messages from 3 mbox files"), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("notes.txt (not an mbox file)"), "{o:?}");
    let o = s.cli(&["import", "mbox", "/nonexistent/x", "--user", USER], b"");
    assert_eq!(o.status.code(), Some(66), "{o:?}");
    let o = s.cli(&["import", "mbox", tb.join("Inbox.msf").to_str().expect("p"), "--user", USER], b"");
    assert_eq!(o.status.code(), Some(65), "{o:?}");

    // Export with the server running and stopped: the same tree, keywords named per folder.
    s.restart();
    let online = s.dir.join("online");
    let o = s.cli(&["export", "maildir", online.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.stop();
    let offline = s.dir.join("offline");
    let o = s.cli(&["export", "maildir", offline.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (tree(&online), tree(&offline));
    assert_eq!(a, b);
    assert_eq!(a.keys().filter(|k| k.starts_with(".Old Mail/cur/")).count(), 4);
    assert_eq!(
        a.get(".Old Mail/dovecot-keywords").map(|f| f.0.clone()),
        Some(b"0 $Forwarded\n1 work\n".to_vec())
    );
    assert!(a.keys().any(|k| k.starts_with(".Old Mail/cur/") && k.ends_with(":2,FRSab")), "{:?}", a.keys());

    // And back in: keywords survive the round trip.
    let pw = s.dir.join("pw-copy");
    std::fs::write(&pw, "copy-secret").expect("pw");
    assert!(
        s.cli(&["user", "add", "copy@mail.test", "--password-file", pw.to_str().expect("p")], b"")
            .status
            .success()
    );
    let o = s.cli(&["import", "maildir", offline.to_str().expect("path"), "--user", "copy@mail.test"], b"");
    assert!(String::from_utf8_lossy(&o.stdout).contains("imported 4 messages"), "{o:?}");
    s.restart();
    let mut c = s.connect();
    c.run(
        "C: l LOGIN copy@mail.test copy-secret
         S: l OK *
         C: s SELECT \"Old Mail\"
         S: * 4 EXISTS
         S: s OK *
         C: k SEARCH KEYWORD work KEYWORD $Forwarded
         S: * SEARCH 1
         S: k OK *",
    );
    let mut t = s.connect();
    t.run(
        "C: l LOGIN tb@mail.test tb-secret
         S: l OK *
         C: a STATUS INBOX (MESSAGES)
         S: * STATUS INBOX (MESSAGES 2)
         S: a OK *
         C: b STATUS Work/Jobs (MESSAGES)
         S: * STATUS Work/Jobs (MESSAGES 1)
         S: b OK *",
    );
}

#[test]
fn online_import_wakes_an_idle_client() {
    let s = Server::start("idle-import", "");
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *\nC: i IDLE\nS: + *");
    let mbox = s.dir.join("in.mbox");
    let one = b"From a@b Thu Nov 29 03:26:00 2026\nSubject: x\n\nx\n\n";
    std::fs::write(&mbox, [&one[..], &one[..], &one[..]].concat()).expect("mbox");
    let o = s.cli(&["import", "mbox", mbox.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    c.run("S: * 3 EXISTS\nC: DONE\nS: i OK *");
}

#[test]
fn an_import_over_quota_stops_at_a_whole_batch_and_resumes_there() {
    let mut s = Server::start("import-quota", "quota.messages = 600");
    let mbox = s.dir.join("in.mbox");
    let mut text = Vec::new();
    for i in 0..1200 {
        text.extend_from_slice(
            format!("From a@b Thu Nov 29 03:26:00 2026\nSubject: {i}\n\nx\n\n").as_bytes(),
        );
    }
    std::fs::write(&mbox, text).expect("mbox");
    let path = mbox.to_str().expect("path");
    // 500 fit, the next batch of 500 does not: it is refused whole.
    let o = s.cli(&["import", "mbox", path, "--user", USER], b"");
    assert_eq!(o.status.code(), Some(75), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("over quota"), "{o:?}");
    let o = s.cli(&["import", "mbox", path, "--user", "nobody@mail.test"], b"");
    assert_eq!(o.status.code(), Some(67), "{o:?}");
    let mut c = s.login();
    c.run("C: a STATUS INBOX (MESSAGES)\nS: * STATUS INBOX (MESSAGES 500)\nS: a OK *");
    drop(c);
    // More room: the next run starts after the 500 that are in, and duplicates none.
    let cfg = s.data().join("applianced.toml");
    let text = std::fs::read_to_string(&cfg).expect("config").replace("messages = 600", "messages = 0");
    std::fs::write(&cfg, text).expect("config");
    s.restart();
    let o = s.cli(&["import", "mbox", path, "--user", USER], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("imported 700 messages from 1 mbox files, 1 of them resumed"), "{o:?}");
    let mut c = s.login();
    c.run(
        "C: a STATUS INBOX (MESSAGES)
         S: * STATUS INBOX (MESSAGES 1200)
         S: a OK *
         C: s SELECT INBOX
         S: s OK *
         C: f FETCH 500:501 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])
         S: * 500 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {*}*Subject: 499*
         S: * 501 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {*}*Subject: 500*
         S: f OK *",
    );
}
