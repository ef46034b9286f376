//! IMAP over real TCP against a server process bound to loopback, with scripted sessions.

mod common;

use common::{PASSWORD, Server, USER, mail};

#[test]
fn greeting_capability_and_login_rules() {
    let s = Server::start("login", "");
    let mut c = s.connect();
    c.run(
        "C: a1 CAPABILITY
         S: * CAPABILITY IMAP4rev1 IMAP4rev2 *
         S: a1 OK CAPABILITY completed
         C: a2 SELECT INBOX
         S: a2 BAD SELECT not allowed now: log in first
         C: a3 LOGIN bob@mail.test wrong
         S: a3 NO [AUTHENTICATIONFAILED] invalid credentials
         C: a4 LOGIN nobody@mail.test wrong
         S: a4 NO [AUTHENTICATIONFAILED] invalid credentials
         C: a5 FROB
         S: a5 BAD *
         C: a6 NOOP
         S: a6 OK NOOP completed",
    );
    c.run(&format!("C: a7 LOGIN {USER} {PASSWORD}\nS: a7 OK [CAPABILITY IMAP4rev1 *] LOGIN completed"));
    c.run("C: a8 LOGIN x y\nS: a8 BAD LOGIN not allowed now: already authenticated\nC: a9 LOGOUT\nS: * BYE *\nS: a9 OK *");
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let s = Server::start("auth", "");
    // "\0bob@mail.test\0bobs-secret"
    let b64 = "AGJvYkBtYWlsLnRlc3QAYm9icy1zZWNyZXQ=";
    let mut c = s.connect();
    c.run(&format!("C: a1 AUTHENTICATE PLAIN {b64}\nS: a1 OK [CAPABILITY *] AUTHENTICATE completed"));
    let mut c = s.connect();
    c.run(&format!("C: a1 AUTHENTICATE PLAIN\nS: + *\nC: {b64}\nS: a1 OK * AUTHENTICATE completed"));
    let mut c = s.connect();
    c.run("C: a1 AUTHENTICATE PLAIN\nS: + *\nC: *\nS: a1 BAD AUTHENTICATE cancelled");
    c.run("C: a2 AUTHENTICATE CRAM-MD5\nS: a2 NO mechanism CRAM-MD5 is not supported");
}

#[test]
fn select_fetch_store_search_expunge() {
    let s = Server::start("mailbox", "");
    for i in 1..=3 {
        s.deliver(USER, &mail(&format!("hello{i}"), &format!("body number {i}")));
    }
    let mut c = s.login();
    c.run(
        "C: s1 SELECT INBOX
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
         S: * 3 EXISTS
         S: * 3 RECENT
         S: * OK [UIDVALIDITY *
         S: * OK [UIDNEXT 4] *
         S: s1 OK [READ-WRITE] SELECT completed
         C: f1 FETCH 1:* (UID FLAGS RFC822.SIZE)
         S: * 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE *
         S: * 2 FETCH (UID 2 *
         S: * 3 FETCH (UID 3 *
         S: f1 OK FETCH completed
         C: f2 FETCH 2 (ENVELOPE)
         S: * 2 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"hello2\" ((\"Alice\" NIL \"alice\" \"example.com\")) *
         S: f2 OK FETCH completed
         C: f3 FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY[TEXT]<0.4>)
         S: * 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {19}*Subject: hello2* BODY[TEXT]<0> \"body\" FLAGS (\\Seen \\Recent))
         S: f3 OK FETCH completed
         C: f4 FETCH 5 FLAGS
         S: f4 BAD invalid message sequence number
         C: st1 STORE 1 +FLAGS (\\Deleted $Work)
         S: * 1 FETCH (FLAGS (\\Deleted \\Recent $Work))
         S: st1 OK STORE completed
         C: st2 UID STORE 3 +FLAGS.SILENT (\\Flagged)
         S: st2 OK STORE completed
         C: se1 SEARCH UNSEEN
         S: * SEARCH 1 3
         S: se1 OK SEARCH completed
         C: se2 UID SEARCH OR SUBJECT hello3 BODY \"number 1\"
         S: * SEARCH 1 3
         S: se2 OK SEARCH completed
         C: se3 SEARCH RETURN (MIN MAX COUNT) KEYWORD $Work
         S: * ESEARCH (TAG \"se3\") MIN 1 MAX 1 COUNT 1
         S: se3 OK SEARCH completed
         C: se4 SEARCH CHARSET KOI8-R ALL
         S: se4 NO [BADCHARSET *
         C: e1 EXPUNGE
         S: * 1 EXPUNGE
         S: e1 OK EXPUNGE completed
         C: st3 STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE DELETED)
         S: * STATUS INBOX (MESSAGES 2 UNSEEN 1 UIDNEXT 4 SIZE * DELETED 0)
         S: st3 OK STATUS completed",
    );
}

#[test]
fn two_sessions_see_each_others_changes_and_idle_wakes_on_delivery() {
    let s = Server::start("idle", "");
    s.deliver(USER, &mail("first", "x"));
    let mut a = s.login();
    let mut b = s.login();
    a.run("C: a1 SELECT INBOX\nS: a1 OK *");
    b.run("C: b1 SELECT INBOX\nS: b1 OK *");
    b.run("C: b2 STORE 1 +FLAGS (\\Flagged)\nS: b2 OK *");
    a.run("C: a2 NOOP\nS: * 1 FETCH (UID 1 FLAGS (\\Flagged*\nS: a2 OK NOOP completed");
    a.run("C: a3 IDLE\nS: + idling");
    let started = std::time::Instant::now();
    s.deliver(USER, &mail("second", "y"));
    a.run("S: * 2 EXISTS");
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(3), "IDLE push took {waited:?}");
    b.run("C: b3 STORE 1 +FLAGS (\\Deleted)\nS: b3 OK *\nC: b4 EXPUNGE\nS: * 1 EXPUNGE\nS: b4 OK *");
    a.run("S: * 1 EXPUNGE\nC: DONE\nS: a3 OK IDLE terminated");
    // IDLE's tagged OK comes once: the next tagged line is the next command's.
    a.run("C: a4 NOOP\nS: a4 OK NOOP completed");
}

/// Issue 11 part 4: a refresh that could not read the store (here: the selected mailbox was
/// deleted by another session) was logged and the client told nothing. Now an untagged NO
/// (RFC 9051 §7.1.2: a warning) comes before the command's OK.
#[test]
fn a_refresh_that_cannot_read_tells_the_client() {
    let s = Server::start("refresh-error", "");
    let mut a = s.login();
    let mut b = s.login();
    a.run("C: a1 CREATE Gone\nS: a1 OK *\nC: a2 SELECT Gone\nS: a2 OK *");
    b.run("C: b1 DELETE Gone\nS: b1 OK *");
    a.run_exact(
        "C: a3 NOOP\nS: * NO [NONEXISTENT] the selected mailbox no longer exists\nS: a3 OK NOOP completed",
    );
    a.run("C: a4 IDLE\nS: * NO [NONEXISTENT] *\nS: + idling\nC: DONE\nS: a4 OK IDLE terminated");
}

#[test]
fn mailboxes_create_rename_delete_list_append_copy_move() {
    let s = Server::start("boxes", "");
    s.deliver(USER, &mail("m1", "x"));
    let mut c = s.login();
    c.send(b"ap1 APPEND Work (\\Seen) {23+}\r\nSubject: appended\r\n\r\nhi\r\n");
    c.run("S: ap1 NO [TRYCREATE] *");
    c.send(b"ap2 APPEND INBOX {23}\r\n");
    c.run("S: + *");
    c.send(b"Subject: appended\r\n\r\nhi\r\n");
    c.run("S: ap2 OK [APPENDUID * 2] APPEND completed");
    c.run(
        "C: c1 CREATE Projects/2024
         S: c1 OK [MAILBOXID (M*)] CREATE completed
         C: c2 CREATE Projects
         S: c2 NO [ALREADYEXISTS] *
         C: c3 CREATE INBOX
         S: c3 NO [ALREADYEXISTS] *
         C: c4 CREATE \"bad//name\"
         S: c4 NO [CANNOT] *
         C: l1 LIST \"\" \"%\"
         S: * LIST (\\Archive \\HasNoChildren) \"/\" Archive
         S: * LIST (\\Drafts \\HasNoChildren) \"/\" Drafts
         S: * LIST (\\HasNoChildren) \"/\" INBOX
         S: * LIST (\\Junk \\HasNoChildren) \"/\" Junk
         S: * LIST (\\HasChildren) \"/\" Projects
         S: * LIST (\\Sent \\HasNoChildren) \"/\" Sent
         S: * LIST (\\Trash \\HasNoChildren) \"/\" Trash
         S: l1 OK LIST completed
         C: l2 LIST (SPECIAL-USE) \"\" \"*\" RETURN (STATUS (MESSAGES))
         S: * LIST (\\Archive \\HasNoChildren) \"/\" Archive
         S: * STATUS Archive (MESSAGES 0)
         S: * LIST (\\Drafts *
         S: * STATUS Drafts (MESSAGES 0)
         S: * LIST (\\Junk *
         S: * STATUS Junk (MESSAGES 0)
         S: * LIST (\\Sent *
         S: * STATUS Sent (MESSAGES 0)
         S: * LIST (\\Trash *
         S: * STATUS Trash (MESSAGES 0)
         S: l2 OK LIST completed
         C: l3 LIST \"\" \"\"
         S: * LIST (\\Noselect) \"/\" \"\"
         S: l3 OK LIST completed
         C: r1 RENAME Projects Work
         S: r1 OK RENAME completed
         C: l4 LIST \"\" \"Work*\"
         S: * LIST (\\HasChildren) \"/\" Work
         S: * LIST (\\HasNoChildren) \"/\" Work/2024
         S: l4 OK LIST completed
         C: d1 DELETE Work
         S: d1 NO [HASCHILDREN] *
         C: d2 DELETE INBOX
         S: d2 NO [CANNOT] *
         C: d3 DELETE Work/2024
         S: d3 OK DELETE completed
         C: d4 DELETE Nope
         S: d4 NO [NONEXISTENT] *
         C: sel SELECT INBOX
         S: sel OK *
         C: cp1 COPY 1 Work
         S: cp1 OK [COPYUID * 1 1] COPY completed
         C: mv1 UID MOVE 1 Archive
         S: * OK [COPYUID * 1 1] moved
         S: * 1 EXPUNGE
         S: mv1 OK MOVE completed
         C: st STATUS Work (MESSAGES UNSEEN)
         S: * STATUS Work (MESSAGES 1 UNSEEN 1)
         S: st OK STATUS completed
         C: sub1 UNSUBSCRIBE Work
         S: sub1 OK *
         C: ls1 LSUB \"\" \"W*\"
         S: ls1 OK LSUB completed",
    );
}

#[test]
fn limits_line_literal_and_connections() {
    let s = Server::start(
        "limits",
        "limits.max_line_length = 2048\nlimits.max_literal_size = 1000\nlimits.max_connections_per_ip = 3",
    );
    let mut c = s.login();
    let long = "x".repeat(5000);
    c.run(&format!(
        "C: a1 SELECT {long}\nS: a1 BAD command line too long\nC: a2 NOOP\nS: a2 OK NOOP completed"
    ));
    c.run("C: a3 APPEND INBOX {5000}\nS: a3 NO [TOOBIG] *\nC: a4 NOOP\nS: a4 OK *");
    let _c2 = s.connect();
    let _c3 = s.connect();
    let mut refused = std::net::TcpStream::connect(("127.0.0.1", s.imap)).expect("connect");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut refused, &mut text).expect("read");
    assert!(text.starts_with("* BYE [UNAVAILABLE] too many connections from your address"), "{text}");
}

#[test]
fn plaintext_login_is_refused_off_loopback_policy() {
    let s = Server::start("privacy", "security.allow_plaintext_loopback = false");
    let mut c = s.connect();
    c.run(
        "C: a1 CAPABILITY
         S: * CAPABILITY * STARTTLS LOGINDISABLED
         S: a1 OK *
         C: a2 LOGIN bob@mail.test bobs-secret
         S: a2 NO [PRIVACYREQUIRED] *",
    );
}

#[test]
fn expunges_wait_for_an_allowed_moment() {
    let s = Server::start("expunge-moment", "");
    for i in 1..=3 {
        s.deliver(USER, &mail(&format!("m{i}"), "x"));
    }
    let mut a = s.login();
    let mut b = s.login();
    a.run("C: a1 SELECT INBOX\nS: a1 OK *");
    b.run("C: b1 SELECT INBOX\nS: b1 OK *\nC: b2 STORE 2 +FLAGS (\\Deleted)\nS: b2 OK *\nC: b3 EXPUNGE\nS: * 2 EXPUNGE\nS: b3 OK *");
    // FETCH by sequence number: no EXPUNGE, message 2 keeps its number (its data is gone).
    let lines = a.cmd("a2", "FETCH 1:3 (UID)");
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "* 3 FETCH (UID 3)"), "{lines:#?}");
    // A UID FETCH may report it.
    let lines = a.cmd("a3", "UID FETCH 1:* (UID)");
    assert!(lines.iter().any(|l| l == "* 2 EXPUNGE"), "{lines:#?}");
    a.run("C: a4 FETCH 2 (UID)\nS: * 2 FETCH (UID 3)\nS: a4 OK *");
}

#[test]
fn accounts_never_see_each_other() {
    let s = Server::start("isolation", "");
    let o = s.cli(&["user", "add", "eve@evil.test", "--password-file"], b"");
    assert!(!o.status.success(), "--password-file needs a value");
    let pw = s.dir.join("evepw");
    std::fs::write(&pw, "eve-pass").expect("pw");
    let o = s.cli(&["user", "add", "eve@evil.test", "--password-file", pw.to_str().expect("path")], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut bob = s.login();
    bob.run("C: c1 CREATE Secret\nS: c1 OK *");
    s.deliver(USER, &mail("private", "for bob only"));
    let mut eve = s.connect();
    eve.run("C: l1 LOGIN eve@evil.test eve-pass\nS: l1 OK *");
    let listed = eve.cmd("l2", "LIST \"\" *").join("\n");
    assert!(!listed.contains("Secret"), "{listed}");
    for name in ["Secret", "../bob@mail.test/INBOX", "bob@mail.test/INBOX", "\"../Secret\"", "%", "*"] {
        let r = eve.cmd("s", &format!("SELECT {name}")).join("\n");
        assert!(!r.contains("s OK"), "SELECT {name}: {r}");
    }
    eve.run("C: s2 SELECT INBOX\nS: * 0 EXISTS\nS: s2 OK *");
    let r = eve.cmd("st", "STATUS Secret (MESSAGES)").join("\n");
    assert!(r.contains("st NO [NONEXISTENT]"), "{r}");
    let long = "a/".repeat(300) + "b";
    let r = eve.cmd("c", &format!("CREATE {long}")).join("\n");
    assert!(r.contains("c NO"), "{r}");
}

#[test]
fn idle_login_timeout_says_bye() {
    let s = Server::start("timeout", "limits.login_timeout_secs = 1");
    let mut c = s.connect();
    let started = std::time::Instant::now();
    c.run("S: * BYE autologout*");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn sigterm_says_bye_to_every_session() {
    let mut s = Server::start("sigterm", "");
    let mut a = s.login();
    a.run("C: a1 SELECT INBOX\nS: a1 OK *\nC: a2 IDLE\nS: + idling");
    let mut b = s.login();
    s.signal("TERM");
    a.run("S: * BYE server shutting down");
    b.run("S: * BYE server shutting down");
    assert!(s.wait_exit().success(), "clean exit");
}

#[test]
fn mailbox_names_in_modified_utf7_and_utf8() {
    let s = Server::start("utf7", "");
    let mut c = s.login();
    c.run(
        "C: c1 CREATE &AMQ-rger/B&APw-ro
         S: c1 OK *
         C: l1 LIST \"\" \"&AMQ-*\"
         S: * LIST (\\HasChildren) \"/\" &AMQ-rger
         S: * LIST (\\HasNoChildren) \"/\" &AMQ-rger/B&APw-ro
         S: l1 OK *
         C: e1 ENABLE UTF8=ACCEPT
         S: * ENABLED UTF8=ACCEPT
         S: e1 OK *
         C: l2 LIST \"\" \"Ä*\"
         S: * LIST (\\HasChildren) \"/\" \"Ärger\"
         S: * LIST (\\HasNoChildren) \"/\" \"Ärger/Büro\"
         S: l2 OK *
         C: s1 SELECT \"Ärger/Büro\"
         S: s1 OK *",
    );
    let mut rev2 = s.login();
    rev2.run(
        "C: e ENABLE IMAP4rev2
         S: * ENABLED IMAP4rev2
         S: e OK *
         C: s SELECT INBOX
         S: * 0 EXISTS
         S: * OK [UIDVALIDITY *
         S: * OK [UIDNEXT *
         S: * LIST () \"/\" INBOX
         S: s OK [READ-WRITE] *
         C: x SEARCH ALL
         S: * ESEARCH (TAG \"x\")
         S: x OK *",
    );
}

/// The number after `name (` or `name ` in a line, e.g. HIGHESTMODSEQ or UIDVALIDITY.
fn number_after(lines: &[String], name: &str) -> u64 {
    lines
        .iter()
        .find_map(|l| l.split(name).nth(1))
        .map(|rest| {
            rest.trim_start_matches([' ', '(']).chars().take_while(char::is_ascii_digit).collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {lines:#?}"))
}

#[test]
fn qresync_resync_reports_only_what_changed() {
    let s = Server::start("qresync", "");
    for i in 1..=10 {
        s.deliver(USER, &mail(&format!("q{i}"), "x"));
    }
    let mut c = s.login();
    c.run("C: e ENABLE QRESYNC\nS: * ENABLED QRESYNC\nS: e OK *");
    let sel = c.cmd("s1", "SELECT INBOX");
    let validity = number_after(&sel, "UIDVALIDITY");
    let modseq = number_after(&sel, "HIGHESTMODSEQ");
    c.run("C: u CLOSE\nS: u OK *");
    // Another session changes two messages and expunges two.
    let mut other = s.login();
    other.run(
        "C: o1 SELECT INBOX\nS: o1 OK *
         C: o2 UID STORE 3,5 +FLAGS (\\Flagged)\nS: o2 OK *
         C: o3 UID STORE 7:8 +FLAGS (\\Deleted)\nS: o3 OK *
         C: o4 EXPUNGE\nS: o4 OK *",
    );
    let lines = c.cmd("s2", &format!("SELECT INBOX (QRESYNC ({validity} {modseq}))"));
    let text = lines.join("\n");
    assert!(text.contains("* VANISHED (EARLIER) 7:8"), "{text}");
    assert!(text.contains("FETCH (UID 3 FLAGS (\\Flagged) MODSEQ ("), "{text}");
    assert!(text.contains("FETCH (UID 5 FLAGS (\\Flagged) MODSEQ ("), "{text}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("* ") && l.contains(" FETCH (")).count(),
        2,
        "only the changed ones: {text}"
    );
    // known-uids restricts VANISHED to what the client knows.
    c.run("C: u2 CLOSE\nS: u2 OK *");
    let lines = c.cmd("s3", &format!("EXAMINE INBOX (QRESYNC ({validity} {modseq} 1:7))"));
    assert!(lines.iter().any(|l| l == "* VANISHED (EARLIER) 7"), "{lines:#?}");
    // A wrong UIDVALIDITY: a plain select, nothing reported.
    c.run("C: u3 CLOSE\nS: u3 OK *");
    let lines = c.cmd("s4", &format!("SELECT INBOX (QRESYNC ({} {modseq}))", validity + 1));
    assert!(!lines.iter().any(|l| l.contains("VANISHED") || l.contains(" FETCH ")), "{lines:#?}");
    // UID FETCH with CHANGEDSINCE and VANISHED.
    let lines = c.cmd("f", &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"));
    assert!(lines.iter().any(|l| l == "* VANISHED (EARLIER) 7:8"), "{lines:#?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("* ") && l.contains(" FETCH (")).count(),
        2,
        "{lines:#?}"
    );
    // Expunges are now reported as VANISHED.
    other.run("C: o5 UID STORE 1 +FLAGS (\\Deleted)\nS: o5 OK *\nC: o6 EXPUNGE\nS: o6 OK *");
    c.run("C: n NOOP\nS: * VANISHED 1\nS: n OK *");
    // Without ENABLE QRESYNC the parameter is refused.
    let mut plain = s.login();
    plain.run(&format!("C: p SELECT INBOX (QRESYNC ({validity} 1))\nS: p BAD ENABLE QRESYNC first"));
}

#[test]
fn partial_windows_newest_first() {
    let s = Server::start("partial", "");
    for i in 1..=6 {
        s.deliver(USER, &mail(&format!("p{i}"), "x"));
    }
    let mut c = s.login();
    c.run(
        "C: s SELECT INBOX
         S: s OK *
         C: a UID SEARCH RETURN (PARTIAL -1:-2) ALL
         S: * ESEARCH (TAG \"a\") UID PARTIAL (-1:-2 5:6)
         S: a OK *
         C: b SEARCH RETURN (PARTIAL 1:2 COUNT) UNSEEN
         S: * ESEARCH (TAG \"b\") PARTIAL (1:2 1:2) COUNT 6
         S: b OK *
         C: c UID SEARCH RETURN (PARTIAL 10:20) ALL
         S: * ESEARCH (TAG \"c\") UID PARTIAL (10:20 NIL)
         S: c OK *
         C: f UID FETCH 1:* (UID) (PARTIAL -1:-2)
         S: * 5 FETCH (UID 5)
         S: * 6 FETCH (UID 6)
         S: f OK FETCH completed",
    );
    // With holes in the UIDs (2 and 3 expunged): RETURN (...) ALL is answered from the UID runs.
    for i in 7..=10 {
        s.deliver(USER, &mail(&format!("p{i}"), "x"));
    }
    c.run(
        "C: d UID STORE 2:3 +FLAGS.SILENT (\\Deleted)\nS: d OK *
         C: e EXPUNGE
         S: * 3 EXPUNGE
         S: * 2 EXPUNGE
         S: e OK *
         C: g UID SEARCH RETURN (MIN MAX COUNT ALL) ALL
         S: * ESEARCH (TAG \"g\") UID MIN 1 MAX 10 COUNT 8 ALL 1,4:10
         S: g OK *
         C: h SEARCH RETURN (ALL MAX) ALL
         S: * ESEARCH (TAG \"h\") ALL 1:8 MAX 8
         S: h OK *
         C: i UID SEARCH RETURN (PARTIAL 1:3) ALL
         S: * ESEARCH (TAG \"i\") UID PARTIAL (1:3 1,4:5)
         S: i OK *
         C: j UID SEARCH RETURN (PARTIAL -2:-4) ALL
         S: * ESEARCH (TAG \"j\") UID PARTIAL (-2:-4 7:9)
         S: j OK *
         C: k SEARCH RETURN (PARTIAL 7:20 COUNT) ALL
         S: * ESEARCH (TAG \"k\") PARTIAL (7:20 7:8) COUNT 8
         S: k OK *
         C: l UID SEARCH RETURN (PARTIAL 9:10) ALL
         S: * ESEARCH (TAG \"l\") UID PARTIAL (9:10 NIL)
         S: l OK *",
    );
}

#[test]
fn notify_pushes_status_of_other_mailboxes_without_idle() {
    let s = Server::start("notify", "");
    let mut c = s.login();
    c.run(
        "C: c CREATE Work\nS: c OK *
         C: n NOTIFY SET STATUS (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge FlagChange MailboxName))
         S: * STATUS Archive (MESSAGES 0 UIDNEXT 1 UIDVALIDITY * UNSEEN 0)
         S: * STATUS Drafts *
         S: * STATUS INBOX (MESSAGES 0 UIDNEXT 1 *
         S: * STATUS Junk *
         S: * STATUS Sent *
         S: * STATUS Trash *
         S: * STATUS Work *
         S: n OK NOTIFY completed
         C: s SELECT Work\nS: s OK *",
    );
    // No command, no IDLE: the delivery to INBOX is pushed at once.
    let started = std::time::Instant::now();
    s.deliver(USER, &mail("pushed", "x"));
    c.run("S: * STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY * UNSEEN 1)");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // A mailbox created elsewhere is announced.
    let mut other = s.login();
    other.run("C: o CREATE Later\nS: o OK *");
    c.run("S: * LIST () \"/\" Later");
    // The selected mailbox reports as usual.
    other.send(b"a APPEND Work {12+}\r\nSubject: w\r\n\r\n");
    other.run("S: a OK *");
    c.run("S: * 1 EXISTS");
    c.run(
        "C: bad NOTIFY SET (personal (AnnotationChange))
         S: bad NO [BADEVENT *
         C: off NOTIFY NONE
         S: off OK *",
    );
}

/// Issue 11 part 4: `SEARCH THREADID` matched nothing. Now it finds the messages whose FETCH
/// THREADID is the one given (RFC 8474 §5.2); RFC 8514's SAVEDATE keys, not advertised, are BAD.
#[test]
fn search_threadid_finds_the_thread_and_savedate_keys_are_bad() {
    let s = Server::start("search-threadid", "");
    let root = "From: a@example.com\r\nSubject: root\r\nMessage-ID: <root@example.com>\r\n\r\nx\r\n";
    let other = "From: b@example.com\r\nSubject: other\r\nMessage-ID: <other@example.com>\r\n\r\ny\r\n";
    let reply = "From: c@example.com\r\nSubject: Re: root\r\nMessage-ID: <r1@example.com>\r\n\
                 References: <root@example.com>\r\n\r\nz\r\n";
    for m in [root, other, reply] {
        s.deliver(USER, m.as_bytes());
    }
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    let lines = c.cmd("f", "FETCH 1:3 (THREADID)");
    let ids: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split("THREADID (").nth(1))
        .map(|r| r.trim_end_matches("))").to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{lines:?}");
    assert_eq!(ids[0], ids[2], "a reply is in its root's thread");
    assert_ne!(ids[0], ids[1]);
    c.run_exact(&format!(
        "C: a SEARCH THREADID {}\nS: * SEARCH 1 3\nS: a OK SEARCH completed\n\
         C: b UID SEARCH THREADID {}\nS: * SEARCH 2\nS: b OK SEARCH completed\n\
         C: c SEARCH THREADID T0000000000000000\nS: * SEARCH\nS: c OK SEARCH completed",
        ids[0], ids[1]
    ));
    let caps = c.cmd("k", "CAPABILITY");
    assert!(!caps.iter().any(|l| l.contains("SAVEDATE")), "{caps:?}");
    for key in ["SAVEDBEFORE 1-Mar-2019", "SAVEDON 1-Mar-2019", "SAVEDSINCE 1-Mar-2019", "SAVEDATESUPPORTED"]
    {
        c.run_exact(&format!("C: d SEARCH {key}\nS: d BAD *"));
    }
}

#[test]
fn sort_esort_and_objectid() {
    let s = Server::start("sort", "");
    let msgs = [
        ("Zebra <z@example.com>", "b subject", "Tue, 8 Feb 1994 10:00:00 +0000", 300),
        ("alice <a@example.com>", "Re: a subject", "Mon, 7 Feb 1994 10:00:00 +0000", 100),
        ("Mike <m@example.com>", "c subject", "Wed, 9 Feb 1994 10:00:00 +0000", 200),
    ];
    for (from, subject, date, pad) in msgs {
        let m = format!(
            "From: {from}\r\nTo: bob@mail.test\r\nSubject: {subject}\r\nDate: {date}\r\n\r\n{}\r\n",
            "x".repeat(pad)
        );
        s.deliver(USER, m.as_bytes());
    }
    let mut c = s.login();
    c.run(
        "C: s SELECT INBOX\nS: s OK *
         C: a SORT (SUBJECT) UTF-8 ALL
         S: * SORT 2 1 3
         S: a OK SORT completed
         C: b SORT (REVERSE DATE) UTF-8 ALL
         S: * SORT 3 1 2
         S: b OK *
         C: c UID SORT (SIZE) UTF-8 NOT SUBJECT \"c subject\"
         S: * SORT 2 1
         S: c OK *
         C: d SORT (DISPLAYFROM) UTF-8 ALL
         S: * SORT 2 3 1
         S: d OK *
         C: e SORT RETURN (MIN MAX COUNT ALL) (FROM) UTF-8 ALL
         S: * ESEARCH (TAG \"e\") MIN 2 MAX 1 COUNT 3 ALL 2:3,1
         S: e OK *
         C: p SORT RETURN (PARTIAL 1:2) (SUBJECT) UTF-8 ALL
         S: * ESEARCH (TAG \"p\") PARTIAL (1:2 2,1)
         S: p OK *
         C: f SORT (SUBJECT) KOI8-R ALL
         S: f NO [BADCHARSET *
         C: g CREATE Objects
         S: g OK [MAILBOXID (M*)] CREATE completed
         C: h FETCH 1 (EMAILID THREADID)
         S: * 1 FETCH (EMAILID (M*) THREADID (T*))
         S: h OK *",
    );
}

#[test]
fn thread_references_and_orderedsubject() {
    let s = Server::start("thread", "");
    let msgs = [
        ("<1@x>", "", "Plans", "Mon, 7 Feb 1994 10:00:00 +0000"),
        ("<2@x>", "", "Other", "Mon, 7 Feb 1994 11:00:00 +0000"),
        ("<3@x>", "<1@x>", "Re: Plans", "Mon, 7 Feb 1994 12:00:00 +0000"),
        ("<4@x>", "<1@x> <3@x>", "Re: Plans", "Mon, 7 Feb 1994 13:00:00 +0000"),
    ];
    for (id, refs, subject, date) in msgs {
        let refs = if refs.is_empty() { String::new() } else { format!("References: {refs}\r\n") };
        let m =
            format!("From: a@x\r\nMessage-ID: {id}\r\n{refs}Subject: {subject}\r\nDate: {date}\r\n\r\nx\r\n");
        s.deliver(USER, m.as_bytes());
    }
    let mut c = s.login();
    c.run(
        "C: s SELECT INBOX\nS: s OK *
         C: a THREAD REFERENCES UTF-8 ALL
         S: * THREAD (1 3 4)(2)
         S: a OK THREAD completed
         C: b UID THREAD ORDEREDSUBJECT UTF-8 ALL
         S: * THREAD (1 (3)(4))(2)
         S: b OK THREAD completed",
    );
    // RFC 8474 §5.2: one THREADID for the messages THREAD=REFERENCES put in one thread, in any
    // mailbox (a copy keeps it), and another for the other thread.
    c.run("C: k CREATE Kept\nS: k OK *\nC: y COPY 4 Kept\nS: y OK *");
    let lines = c.cmd("t", "FETCH 1:4 (THREADID)");
    let ids: Vec<&str> =
        lines.iter().filter_map(|l| l.split("THREADID (").nth(1).and_then(|r| r.split(')').next())).collect();
    assert_eq!(ids.len(), 4, "{lines:?}");
    assert!(ids[0].starts_with('T') && ids[0].len() == 17, "{lines:?}");
    assert_eq!((ids[2], ids[3]), (ids[0], ids[0]), "{lines:?}");
    assert_ne!(ids[1], ids[0], "{lines:?}");
    c.run("C: x EXAMINE Kept\nS: x OK *");
    let kept = c.cmd("t2", "FETCH 1 (THREADID)");
    assert!(kept[0].contains(&format!("THREADID ({})", ids[0])), "{kept:?}");
}

fn records_read(s: &Server) -> u64 {
    let o = s.cli(&["stats"], b"");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("records_read\t"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no records_read in {text}"))
}

#[test]
fn a_qresync_resync_reads_only_the_changed_records() {
    let s = Server::start("qresync-cost", "");
    common::fill(&s, "INBOX", 3000);
    let mut c = s.login();
    c.run("C: e ENABLE QRESYNC\nS: e OK *");
    let sel = c.cmd("s1", "SELECT INBOX");
    let (validity, modseq) = (number_after(&sel, "UIDVALIDITY"), number_after(&sel, "HIGHESTMODSEQ"));
    c.run("C: u CLOSE\nS: u OK *");
    // 100 changes by another session: 50 flag changes, 50 expunges.
    let mut other = s.login();
    other.run(
        "C: o1 SELECT INBOX\nS: o1 OK *
         C: o2 UID STORE 1:50 +FLAGS.SILENT (\\Flagged)\nS: o2 OK *
         C: o3 UID STORE 101:150 +FLAGS.SILENT (\\Deleted)\nS: o3 OK *
         C: o4 UID EXPUNGE 101:150\nS: o4 OK *",
    );
    let before = records_read(&s);
    let lines = c.cmd("s2", &format!("SELECT INBOX (QRESYNC ({validity} {modseq}))"));
    let read = records_read(&s) - before;
    assert!(lines.iter().any(|l| l == "* VANISHED (EARLIER) 101:150"), "{:?}", &lines[..lines.len().min(12)]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("* ") && l.contains(" FETCH (")).count(), 50);
    assert!((50..=100).contains(&read), "a resync after 100 changes read {read} message records of 3,000");
}

#[test]
fn listens_on_ipv6_too() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        panic!("this machine has no IPv6 loopback; the listener code cannot be checked here");
    }
    let s = Server::start("ipv6", "imap.listen = [\"[::1]:0\"]");
    let stream = std::net::TcpStream::connect(("::1", s.imap)).expect("connect over IPv6");
    let mut greeting = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut greeting).expect("greeting");
    assert!(greeting.starts_with("* OK [CAPABILITY"), "{greeting}");
}

/// RFC 5267 §4.3: SEARCH and SORT with RETURN (UPDATE) keep the client's result current with
/// ADDTO / REMOVEFROM, for this session's changes and others', REMOVEFROM before EXPUNGE and
/// ADDTO after EXISTS; CANCELUPDATE ends it; a busy tag is refused; NOUPDATE past the limit.
#[test]
fn context_updates_follow_changes() {
    let s = Server::start("context", "");
    for subject in ["s-b", "s-d", "s-f"] {
        s.deliver(USER, &mail(subject, "x"));
    }
    let mut c = s.login();
    let mut other = s.login();
    c.run(
        "C: s SELECT INBOX\nS: s OK *
         C: a UID SEARCH RETURN (UPDATE COUNT) UNSEEN
         S: * ESEARCH (TAG \"a\") UID COUNT 3
         S: a OK *
         C: o UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNDELETED
         S: * ESEARCH (TAG \"o\") UID ALL 1:3
         S: o OK *
         C: r SORT RETURN (UPDATE ALL) (REVERSE SUBJECT) UTF-8 ALL
         S: * ESEARCH (TAG \"r\") ALL 3,2,1
         S: r OK *
         C: a UID SEARCH RETURN (UPDATE) ALL
         S: a BAD *",
    );
    // This session's own STORE: the search loses UID 2 (\Seen), the sort keeps it.
    let lines = c.cmd("b", "STORE 2 +FLAGS (\\Seen)");
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"a\") UID REMOVEFROM (0 2)"], "{lines:?}");
    // A delivery sorting between s-b and s-d: after EXISTS, at its place in each order.
    s.deliver(USER, &mail("s-c", "x"));
    let lines = c.cmd("n", "NOOP");
    let exists = lines.iter().position(|l| l == "* 4 EXISTS").expect("EXISTS");
    assert!(lines.iter().position(|l| l.starts_with("* ESEARCH")).expect("updates") > exists, "{lines:?}");
    assert_eq!(
        esearch(&lines),
        vec![
            "* ESEARCH (TAG \"a\") UID ADDTO (0 4)",
            "* ESEARCH (TAG \"o\") UID ADDTO (2 4)",
            "* ESEARCH (TAG \"r\") ADDTO (3 4)",
        ],
        "{lines:?}"
    );
    // Another session deletes s-d (UID 2) and expunges it: the sort on UNDELETED drops it at its
    // position when \Deleted arrives; the expunge removes it from the rest before EXPUNGE.
    other.run("C: s SELECT INBOX\nS: s OK *\nC: d UID STORE 2 +FLAGS.SILENT (\\Deleted)\nS: d OK *");
    let lines = c.cmd("n2", "NOOP");
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"o\") UID REMOVEFROM (3 2)"], "{lines:?}");
    other.run("C: e EXPUNGE\nS: e OK *");
    let lines = c.cmd("n3", "NOOP");
    let expunge = lines.iter().position(|l| l == "* 2 EXPUNGE").expect("EXPUNGE");
    assert_eq!(
        esearch(&lines),
        vec!["* ESEARCH (TAG \"r\") REMOVEFROM (2 2)"],
        "the SEARCH had lost UID 2 already: {lines:?}"
    );
    assert!(lines.iter().position(|l| l.starts_with("* ESEARCH")).expect("update") < expunge, "{lines:?}");
    // CANCELUPDATE ends the search's updates; the sorts go on.
    c.run("C: k CANCELUPDATE \"a\"\nS: k OK *\nC: k2 CANCELUPDATE \"zz\"\nS: k2 NO *");
    s.deliver(USER, &mail("s-a", "x"));
    let lines = c.cmd("n4", "NOOP");
    assert_eq!(
        esearch(&lines),
        vec!["* ESEARCH (TAG \"o\") UID ADDTO (1 5)", "* ESEARCH (TAG \"r\") ADDTO (4 4)"],
        "{lines:?}"
    );
    // Two more fit (four in all); the fifth is answered with NOUPDATE but answered.
    c.run(
        "C: u1 SEARCH RETURN (UPDATE) SEEN\nS: u1 OK *
         C: u2 SEARCH RETURN (UPDATE) DELETED\nS: u2 OK *
         C: u3 SEARCH RETURN (UPDATE COUNT) ALL
         S: * NO [NOUPDATE \"u3\"] *
         S: * ESEARCH (TAG \"u3\") COUNT 4
         S: u3 OK *",
    );
    // Closing the mailbox ends every live search.
    c.run("C: z UNSELECT\nS: z OK *\nC: s2 SELECT INBOX\nS: s2 OK *");
    s.deliver(USER, &mail("s-z", "x"));
    let lines = c.cmd("n5", "NOOP");
    assert!(esearch(&lines).is_empty(), "{lines:?}");
}

fn esearch(lines: &[String]) -> Vec<&str> {
    lines.iter().filter(|l| l.starts_with("* ESEARCH")).map(String::as_str).collect()
}

/// The scripted-session matcher itself (tests/common): a test that cannot fail is no test.
#[test]
fn script_matcher_is_strict_about_the_first_word() {
    assert!(common::matches("* NO [*", "* NO [ALERT] x"));
    assert!(!common::matches("* NO [*", "a1 NO [ALERT] x"), "untagged is not tagged");
    assert!(!common::matches("a1 OK*", "a11 OK done"), "a tag is a whole word");
    assert!(common::matches("a1 OK*", "a1 OK done"));
    assert!(!common::matches("a1 OK", "* a1 OK"));
    assert!(common::matches("+ *", "+ ready for literal data"));
    assert!(common::matches("* 3 EXISTS", "* 3 EXISTS"));
    assert!(!common::matches("* 3 EXISTS", "* 13 EXISTS"));
}

/// RFC 9208 §4.3 and §5.1: `quota-list` needs at least one resource, so an account without
/// limits has no quota root: QUOTAROOT lists none and no QUOTA follows; GETQUOTA "" is NO.
#[test]
fn rfc9208_4_3_no_quota_root_without_limits() {
    let s = Server::start("quota-none", "");
    let mut c = s.login();
    c.run_exact(
        "C: q1 GETQUOTAROOT INBOX
         S: * QUOTAROOT INBOX
         S: q1 OK GETQUOTAROOT completed
         C: q2 GETQUOTA \"\"
         S: q2 NO [NONEXISTENT] *",
    );
}

/// Issue 12 item 1. RFC 9051 §6.3.12 (RFC 3501 §6.3.11): APPEND stores the message it is given,
/// even one that does not start with a header field (a draft that is only a body) or that starts
/// with an empty line; only zero octets are refused. Its FETCH data describes what is there: an
/// ENVELOPE of NILs, a text/plain body, an empty header, the bytes as given.
#[test]
fn rfc9051_6_3_12_append_stores_a_message_without_a_header() {
    let s = Server::start("append-headerless", "");
    let mut c = s.login();
    c.run("C: c CREATE Drafts2\nS: c OK *");
    let mut append = |tag: &str, message: &[u8]| {
        c.send(format!("{tag} APPEND Drafts2 {{{}+}}\r\n", message.len()).as_bytes());
        c.send(message);
        c.send(b"\r\n");
        c.until(tag).pop().unwrap_or_default()
    };
    assert!(append("a1", b"hello world\r\n").starts_with("a1 OK [APPENDUID"));
    assert!(append("a2", b"\r\nbody\r\n").starts_with("a2 OK [APPENDUID"));
    assert!(append("a3", b"").starts_with("a3 NO"));
    c.run("C: s SELECT Drafts2\nS: * 2 EXISTS\nS: s OK *");
    let lines = c.cmd("f1", "FETCH 1 (ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY[] BODY[HEADER])");
    let text = lines.join("\n");
    assert!(text.contains("ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"), "{text}");
    assert!(text.to_ascii_lowercase().contains("bodystructure (\"text\" \"plain\""), "{text}");
    assert!(text.contains("RFC822.SIZE 13"), "{text}");
    assert!(text.contains("BODY[] {13}") && text.contains("hello world"), "{text}");
    assert!(text.contains("BODY[HEADER] \"\"") || text.contains("BODY[HEADER] {0}"), "{text}");
    let lines = c.cmd("f2", "FETCH 2 (RFC822.SIZE BODY[TEXT] BODY[HEADER])");
    let text = lines.join("\n");
    assert!(text.contains("RFC822.SIZE 8"), "{text}");
    assert!(text.contains("BODY[TEXT] {6}") && text.contains("body"), "{text}");
    // Delivery keeps the MTA's rule: a headerless message is refused there (documented in
    // `deliver --help`), so this stays an APPEND-only allowance.
    let o = s.cli(&["deliver", common::USER], b"hello world\r\n");
    assert!(!o.status.success(), "deliver took a headerless message");
}

/// Issue 12 item 3. RFC 9051 §7.3.5 (RFC 3501 §7.2.6): a FETCH shows only flags an untagged
/// FLAGS listed, so a keyword new to the mailbox is announced (`* FLAGS`, `* OK
/// [PERMANENTFLAGS]`) before the first response that shows it, in the session that stored it
/// and in every other session with the mailbox selected, once per session.
#[test]
fn rfc9051_7_3_5_new_keywords_are_announced_before_a_fetch_shows_them() {
    let s = Server::start("keywords-announced", "");
    s.deliver(common::USER, &common::mail("k1", "hello"));
    let mut a = s.login();
    a.run("C: a1 SELECT INBOX\nS: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\nS: a1 OK *");
    let mut b = s.login();
    b.run("C: b1 SELECT INBOX\nS: b1 OK *");
    b.run_exact(
        "C: b2 STORE 1 +FLAGS ($Hello)
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hello)
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hello \\*)] *
         S: * 1 FETCH (FLAGS ($Hello))
         S: b2 OK *",
    );
    a.run_exact(
        "C: a2 NOOP
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hello)
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hello \\*)] *
         S: * 1 FETCH (UID 1 FLAGS (*$Hello))
         S: a2 OK *",
    );
    // Announced once: the next FETCH needs no FLAGS.
    a.run_exact("C: a3 FETCH 1 (FLAGS)\nS: * 1 FETCH (FLAGS (*$Hello))\nS: a3 OK *");
    // A session that selects later hears of it with its first FETCH; EXAMINE permits nothing.
    let mut c = s.login();
    c.run("C: c1 EXAMINE INBOX\nS: * OK [PERMANENTFLAGS ()] *\nS: c1 OK [READ-ONLY] *");
    c.run_exact(
        "C: c2 FETCH 1 (FLAGS)
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hello)
         S: * OK [PERMANENTFLAGS ()] *
         S: * 1 FETCH (FLAGS ($Hello))
         S: c2 OK *",
    );
}

/// Issue 12 items 2 and 4 (the RECENT part). RFC 3501 §2.3.2: a message is \Recent in exactly
/// one session, the first told of it. New mail while a session has the mailbox selected is
/// \Recent there (`* n RECENT` with its EXISTS); SELECT takes what nobody took, EXAMINE sees it
/// without taking it; APPEND makes its messages \Recent; STATUS RECENT counts what nobody took.
#[test]
fn rfc3501_2_3_2_recent_is_in_exactly_one_session() {
    let s = Server::start("recent", "");
    let mut a = s.login();
    a.run("C: a1 SELECT INBOX\nS: * 0 EXISTS\nS: * 0 RECENT\nS: a1 OK *");
    s.deliver(common::USER, &common::mail("r1", "hello"));
    a.run("C: a2 NOOP\nS: * 1 EXISTS\nS: * 1 RECENT\nS: a2 OK *");
    a.run("C: a3 FETCH 1 (FLAGS)\nS: * 1 FETCH (FLAGS (\\Recent))\nS: a3 OK *");
    // The appending session has the mailbox selected: told by its EXISTS, it takes the message.
    let append = |c: &mut common::Client, tag: &str, mailbox: &str| {
        let m = b"Subject: mine\r\n\r\nbody\r\n";
        c.send(format!("{tag} APPEND {mailbox} {{{}+}}\r\n", m.len()).as_bytes());
        c.send(m);
        c.send(b"\r\n");
        c.until(tag)
    };
    let lines = append(&mut a, "a4", "INBOX");
    assert!(
        lines.contains(&"* 2 EXISTS".to_string()) && lines.contains(&"* 2 RECENT".to_string()),
        "{lines:?}"
    );
    let mut b = s.login();
    b.run("C: b1 STATUS INBOX (RECENT MESSAGES)\nS: * STATUS INBOX (RECENT 0 MESSAGES 2)\nS: b1 OK *");
    b.run("C: b2 SELECT INBOX\nS: * 2 EXISTS\nS: * 0 RECENT\nS: b2 OK *");
    b.run("C: b3 FETCH 1:2 (FLAGS)\nS: * 1 FETCH (FLAGS ())\nS: * 2 FETCH (FLAGS ())\nS: b3 OK *");
    // Another mailbox: an APPEND from a session that has it not selected leaves it \Recent;
    // EXAMINE sees it and leaves it; SELECT takes it.
    b.run("C: b4 CREATE Work\nS: b4 OK *");
    assert!(append(&mut b, "b5", "Work").last().is_some_and(|l| l.starts_with("b5 OK")));
    b.run("C: b6 STATUS Work (RECENT)\nS: * STATUS Work (RECENT 1)\nS: b6 OK *");
    let mut c = s.login();
    c.run("C: c1 EXAMINE Work\nS: * 1 EXISTS\nS: * 1 RECENT\nS: c1 OK [READ-ONLY] *");
    c.run("C: c2 FETCH 1 (FLAGS)\nS: * 1 FETCH (FLAGS (\\Recent))\nS: c2 OK *");
    b.run("C: b7 STATUS Work (RECENT)\nS: * STATUS Work (RECENT 1)\nS: b7 OK *");
    let mut d = s.login();
    d.run("C: d1 SELECT Work\nS: * 1 EXISTS\nS: * 1 RECENT\nS: d1 OK [READ-WRITE] *");
    b.run("C: b8 STATUS Work (RECENT)\nS: * STATUS Work (RECENT 0)\nS: b8 OK *");
}

/// Issue 12 item 8. RFC 5258 §3 (example 5.9): with (SUBSCRIBED RECURSIVEMATCH) a parent that is
/// not subscribed but has a subscribed child is returned with CHILDINFO ("SUBSCRIBED") and not
/// as subscribed; RFC 3501 §6.3.9: LSUB with `%` returns such a parent with \Noselect, and an
/// unsubscribed mailbox never otherwise.
#[test]
fn rfc5258_3_recursivematch_childinfo_and_rfc3501_6_3_9_lsub_noselect() {
    let s = Server::start("list-recursive", "");
    let mut c = s.login();
    c.run("C: a CREATE Foo/Bar\nS: a OK *\nC: b UNSUBSCRIBE Foo\nS: b OK *\nC: d CREATE Solo\nS: d OK *");
    c.run("C: e UNSUBSCRIBE Solo\nS: e OK *");
    c.run_exact(
        "C: f LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"F%\"
         S: * LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))
         S: f OK *",
    );
    c.run_exact("C: g LIST (SUBSCRIBED) \"\" \"F%\"\nS: g OK *");
    c.run_exact("C: h LIST (SUBSCRIBED) \"\" \"F*\"\nS: * LIST (\\Subscribed \\HasNoChildren) \"/\" Foo/Bar\nS: h OK *");
    c.run_exact("C: i LSUB \"\" \"F%\"\nS: * LSUB (\\Noselect) \"/\" Foo\nS: i OK *");
    c.run_exact("C: j LSUB \"\" \"F*\"\nS: * LSUB () \"/\" Foo/Bar\nS: j OK *");
    c.run_exact("C: k LSUB \"\" Solo\nS: k OK *");
}

/// Issue 12 item 8. RFC 9051 §6.3.7: a subscription outlives its mailbox ("SHOULD NOT
/// unilaterally remove ... even if a mailbox by that name no longer exists"); RFC 5258 §3.1 and
/// example 5.9 (`Fruit/Peach`): LIST (SUBSCRIBED) returns it with `\Subscribed \NonExistent`,
/// a plain LIST does not; LSUB (RFC 3501 §6.3.9) still returns it; UNSUBSCRIBE takes it away;
/// RENAME takes a subscription along.
#[test]
fn rfc5258_3_1_a_subscribed_mailbox_that_is_gone_is_nonexistent_and_subscribed() {
    let s = Server::start("list-nonexistent-subscribed", "");
    let mut c = s.login();
    c.run("C: a CREATE Fruit/Peach\nS: a OK *\nC: b CREATE Fruit/Apple\nS: b OK *\nC: c DELETE Fruit/Peach\nS: c OK *");
    c.run_exact(
        "C: d LIST (SUBSCRIBED) \"\" \"Fruit/*\"
         S: * LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Apple
         S: * LIST (\\NonExistent \\Subscribed \\HasNoChildren) \"/\" Fruit/Peach
         S: d OK *",
    );
    c.run_exact(
        "C: e LIST \"\" \"Fruit/*\" RETURN (SUBSCRIBED)
         S: * LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Apple
         S: e OK *",
    );
    c.run_exact("C: f LSUB \"\" \"Fruit/*\"\nS: * LSUB () \"/\" Fruit/Apple\nS: * LSUB () \"/\" Fruit/Peach\nS: f OK *");
    c.run("C: g UNSUBSCRIBE Fruit/Peach\nS: g OK *");
    c.run_exact("C: h LSUB \"\" \"Fruit/*\"\nS: * LSUB () \"/\" Fruit/Apple\nS: h OK *");
    c.run("C: i UNSUBSCRIBE Fruit/Peach\nS: i NO [NONEXISTENT] *");
    c.run("C: j RENAME Fruit/Apple Fruit/Pear\nS: j OK *");
    c.run_exact("C: k LSUB \"\" \"Fruit/*\"\nS: * LSUB () \"/\" Fruit/Pear\nS: k OK *");
    // Another session sees the same: subscriptions are in the store, not the session.
    let mut c = s.login();
    c.run_exact(
        "C: l LIST (SUBSCRIBED) \"\" \"Fruit/%\"
         S: * LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Pear
         S: l OK *",
    );
}

/// RFC 4731 §3.1: ESEARCH's ALL is a sequence-set (`1:3,5`, not `1,2,3,5`); for ESORT (RFC 5267
/// §3.2) the numbers stay in sort order, so only ascending runs of consecutive numbers are
/// joined and a descending order is written one number at a time.
#[test]
fn rfc4731_3_1_rfc5267_3_2_esearch_and_esort_all_is_a_sequence_set() {
    let s = Server::start("esearch-all", "");
    for subject in ["e", "a", "b", "c", "d"] {
        s.deliver(USER, &mail(subject, "x"));
    }
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    c.run_exact(
        "C: a SEARCH RETURN (ALL) NOT 4
         S: * ESEARCH (TAG \"a\") ALL 1:3,5
         S: a OK SEARCH completed
         C: b UID SEARCH RETURN (COUNT ALL) 1:5
         S: * ESEARCH (TAG \"b\") UID COUNT 5 ALL 1:5
         S: b OK SEARCH completed
         C: c SORT RETURN (ALL) (SUBJECT) UTF-8 ALL
         S: * ESEARCH (TAG \"c\") ALL 2:5,1
         S: c OK SORT completed
         C: d UID SORT RETURN (ALL) (REVERSE SUBJECT) UTF-8 ALL
         S: * ESEARCH (TAG \"d\") UID ALL 1,5,4,3,2
         S: d OK SORT completed",
    );
}

/// RFC 7162 §3.1: the first CONDSTORE-enabling command issued with a mailbox selected gets
/// `* OK [HIGHESTMODSEQ n]` before its tagged answer, once: the commands after it do not.
#[test]
fn rfc7162_3_1_a_condstore_enabling_command_reports_highestmodseq_once() {
    let s = Server::start("condstore-enabling", "");
    s.deliver(USER, &mail("one", "x"));
    s.deliver(USER, &mail("two", "y"));
    let commands = [
        ("FETCH 1 (MODSEQ)", "* 1 FETCH (MODSEQ (*))"),
        ("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 2)", "* 2 FETCH (UID 2 *MODSEQ*)"),
        ("SEARCH MODSEQ 1", "* SEARCH 1 2 (MODSEQ *)"),
        ("STORE 1 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Flagged)", "* 1 FETCH (MODSEQ (*))"),
        ("STATUS INBOX (HIGHESTMODSEQ)", "* STATUS INBOX (HIGHESTMODSEQ *)"),
        ("ENABLE CONDSTORE", "* ENABLED CONDSTORE"),
    ];
    for (command, answer) in commands {
        let mut c = s.login();
        // Not selected yet: STATUS enables CONDSTORE but there is no mailbox to report on.
        c.run_exact("C: t0 STATUS Sent (MESSAGES)\nS: * STATUS Sent (MESSAGES 0)\nS: t0 OK *");
        let selected = c.cmd("t1", "SELECT INBOX");
        assert!(
            !selected.iter().any(|l| l.contains("MODSEQ")),
            "RFC 7162 §3.1.2.2: no NOMODSEQ for a mailbox that keeps mod-sequences: {selected:?}"
        );
        let ok = "S: * OK [HIGHESTMODSEQ *] highest";
        let first = if command.starts_with("ENABLE") {
            format!("C: t2 {command}\nS: {answer}\n{ok}\nS: t2 OK *")
        } else {
            format!("C: t2 {command}\n{ok}\nS: {answer}\nS: t2 OK *")
        };
        c.run_exact(&first);
        let again = c.cmd("t3", command);
        assert!(again.iter().all(|l| !l.starts_with("* OK [HIGHESTMODSEQ")), "{command}: {again:?}");
    }
    let mut c = s.login();
    c.run_exact("C: u0 STATUS INBOX (HIGHESTMODSEQ)\nS: * STATUS INBOX (HIGHESTMODSEQ *)\nS: u0 OK *");
    c.run("C: u1 EXAMINE INBOX\nS: * OK [HIGHESTMODSEQ *] *\nS: u1 OK *");
    c.run_exact("C: u2 FETCH 1 (MODSEQ)\nS: * 1 FETCH (MODSEQ (*))\nS: u2 OK *");
}

/// RFC 3501 §6.4.4: SEARCH HEADER matches a substring of the field's text as it stands (after
/// unfolding), so a Message-ID, In-Reply-To or References given with its angle brackets, as
/// every tool sends it, matches; a folded References matches across its fold.
#[test]
fn rfc3501_6_4_4_search_header_matches_the_field_as_it_stands() {
    let s = Server::start("search-header", "");
    s.deliver(USER, &mail("root", "x"));
    s.deliver(
        USER,
        b"From: a@example.com\r\nSubject: reply\r\nMessage-ID: <reply@example.com>\r\nIn-Reply-To: <root@example.com>\r\nReferences: <older@example.com>\r\n <root@example.com>\r\n\r\nbody\r\n",
    );
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    c.run_exact(
        "C: a SEARCH HEADER Message-ID <root@example.com>
         S: * SEARCH 1
         S: a OK SEARCH completed
         C: b SEARCH HEADER In-Reply-To \"<root@example.com>\"
         S: * SEARCH 2
         S: b OK SEARCH completed
         C: c SEARCH HEADER References \"<older@example.com> <root@example.com>\"
         S: * SEARCH 2
         S: c OK SEARCH completed
         C: d SEARCH HEADER message-id \"reply@example.com>\"
         S: * SEARCH 2
         S: d OK SEARCH completed
         C: e SEARCH HEADER In-Reply-To \"\"
         S: * SEARCH 2
         S: e OK SEARCH completed
         C: f SEARCH HEADER Subject ROOT
         S: * SEARCH 1
         S: f OK SEARCH completed",
    );
}

/// RFC 3501 §6.3.1: SELECT and EXAMINE in IMAP4rev1 send `OK [UNSEEN n]`, the sequence number of
/// the first unseen message, when there is one; none when every message is seen, and none in
/// IMAP4rev2 (RFC 9051 Appendix E).
#[test]
fn rfc3501_6_3_1_select_reports_the_first_unseen_message() {
    let s = with_messages("select-unseen", 6);
    let mut c = s.login();
    c.run("C: s0 SELECT INBOX\nS: s0 OK *");
    c.run("C: f1 STORE 1:6 +FLAGS.SILENT (\\Seen)\nS: f1 OK *\nC: f2 STORE 4,6 -FLAGS.SILENT (\\Seen)\nS: f2 OK *");
    let select = |verb: &str, tag: &str, unseen: Option<u32>| {
        let unseen = unseen.map(|n| format!("S: * OK [UNSEEN {n}] first unseen\n")).unwrap_or_default();
        format!(
            "C: {tag} {verb} INBOX
             S: * OK [CLOSED] *
             S: * FLAGS *
             S: * OK [PERMANENTFLAGS *
             S: * 6 EXISTS
             S: * 0 RECENT
             {unseen}S: * OK [UIDVALIDITY *
             S: * OK [UIDNEXT 7] *
             S: {tag} OK *"
        )
    };
    c.run_exact(&select("SELECT", "s1", Some(4)));
    c.run_exact(&select("EXAMINE", "s2", Some(4)));
    c.run("C: s2b SELECT INBOX\nS: s2b OK *\nC: f3 STORE 4 +FLAGS.SILENT (\\Seen)\nS: f3 OK *");
    c.run_exact(&select("EXAMINE", "s3", Some(6)));
    c.run("C: s4 SELECT INBOX\nS: s4 OK *\nC: f4 STORE 6 +FLAGS.SILENT (\\Seen)\nS: f4 OK *");
    c.run_exact(&select("SELECT", "s5", None));
    let mut rev2 = s.login();
    rev2.run("C: e ENABLE IMAP4rev2\nS: e OK *\nC: f5 STORE 1 -FLAGS.SILENT (\\Seen)\nS: f5 BAD *");
    rev2.run("C: s6 SELECT INBOX\nS: s6 OK *\nC: f6 STORE 1 -FLAGS.SILENT (\\Seen)\nS: f6 OK *");
    let lines = rev2.cmd("s7", "EXAMINE INBOX");
    assert!(lines.iter().all(|l| !l.contains("UNSEEN")), "{lines:?}");
    c.run_exact(&select("EXAMINE", "s8", Some(1)));
}

/// RFC 7162 §3.1.5 (with RFC 4731 §3.2): the MODSEQ of an ESEARCH result is that of the
/// messages it returns: with RETURN (MIN) or (MAX) alone, the returned message's; with both,
/// the higher of the two; with ALL or COUNT, the highest of every match.
#[test]
fn rfc7162_3_1_5_esearch_min_or_max_reports_the_returned_messages_modseq() {
    let s = with_messages("esearch-modseq", 4);
    let mut c = s.login();
    c.run("C: s SELECT INBOX (CONDSTORE)\nS: s OK *");
    // Message 2 changes last: the highest MODSEQ is neither the first match's nor the last's.
    c.run("C: f1 STORE 4 +FLAGS.SILENT (\\Flagged)\nS: f1 OK *\nC: f2 STORE 2 +FLAGS.SILENT (\\Flagged)\nS: f2 OK *");
    let lines = c.cmd("m", "FETCH 1:4 (MODSEQ)");
    let modseq = |seq: u32| -> u64 {
        let prefix = format!("* {seq} FETCH (MODSEQ (");
        let line = lines.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{lines:?}"));
        line[prefix.len()..].trim_end_matches("))").parse().expect("modseq")
    };
    let (m1, m2, m3, m4) = (modseq(1), modseq(2), modseq(3), modseq(4));
    assert!(m1 < m3 && m3 < m4 && m4 < m2, "{lines:?}");
    c.run_exact(&format!(
        "C: a SEARCH RETURN (MIN) MODSEQ 1
         S: * ESEARCH (TAG \"a\") MIN 1 MODSEQ {m1}
         S: a OK SEARCH completed
         C: b SEARCH RETURN (MAX) MODSEQ 1
         S: * ESEARCH (TAG \"b\") MAX 4 MODSEQ {m4}
         S: b OK SEARCH completed
         C: c UID SEARCH RETURN (MIN MAX) NOT 2 MODSEQ 1
         S: * ESEARCH (TAG \"c\") UID MIN 1 MAX 4 MODSEQ {m4}
         S: c OK SEARCH completed
         C: d SEARCH RETURN (MIN COUNT) MODSEQ 1
         S: * ESEARCH (TAG \"d\") MIN 1 COUNT 4 MODSEQ {m2}
         S: d OK SEARCH completed
         C: e SEARCH RETURN (MAX) 1:3 MODSEQ 1
         S: * ESEARCH (TAG \"e\") MAX 3 MODSEQ {m3}
         S: e OK SEARCH completed
         C: f SEARCH RETURN (ALL) MODSEQ 1
         S: * ESEARCH (TAG \"f\") ALL 1:4 MODSEQ {m2}
         S: f OK SEARCH completed"
    ));
}

/// A server whose INBOX holds `n` messages, subjects m1 ... mn.
fn with_messages(tag: &str, n: usize) -> Server {
    let s = Server::start(tag, "");
    for i in 1..=n {
        s.deliver(USER, &mail(&format!("m{i}"), "x"));
    }
    s
}

/// RFC 3501 §6.4.4 (RFC 9051 §6.4.4.1): SENTBEFORE, SENTON and SENTSINCE compare the day of the
/// Date header in its own time zone, not converted to UTC: `Sun, 25 Mar 2007 01:00:00 +0200`
/// (23:00 UTC the day before) is SENTON 25-Mar-2007; a message without Date matches none.
#[test]
fn rfc3501_6_4_4_sent_keys_use_the_date_headers_own_zone() {
    let s = Server::start("sent-dates", "");
    for date in [
        "Sun, 25 Mar 2007 01:00:00 +0200",
        "Sat, 24 Mar 2007 23:00:00 -0500",
        "Sat, 24 Mar 2007 23:00:00 +0200",
    ] {
        s.deliver(USER, format!("From: a@example.com\r\nSubject: d\r\nDate: {date}\r\n\r\nx\r\n").as_bytes());
    }
    s.deliver(USER, b"From: a@example.com\r\nSubject: no date\r\n\r\nx\r\n");
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    c.run_exact(
        "C: a SEARCH SENTON 24-Mar-2007
         S: * SEARCH 2 3
         S: a OK SEARCH completed
         C: b SEARCH SENTON 25-Mar-2007
         S: * SEARCH 1
         S: b OK SEARCH completed
         C: c SEARCH SENTBEFORE 25-Mar-2007
         S: * SEARCH 2 3
         S: c OK SEARCH completed
         C: d SEARCH SENTSINCE 25-Mar-2007
         S: * SEARCH 1
         S: d OK SEARCH completed
         C: e SEARCH SENTBEFORE 1-Jan-2008
         S: * SEARCH 1 2 3
         S: e OK SEARCH completed
         C: f SEARCH OR SENTSINCE 1-Jan-2008 SENTON 23-Mar-2007
         S: * SEARCH
         S: f OK SEARCH completed",
    );
}

/// RFC 3501 §5.1.3 and §6.3.1, §6.3.3, §6.3.8: a mailbox name that is a valid astring but not
/// valid modified UTF-7 is no syntax error: SELECT answers NO (and closes the selected
/// mailbox), LIST with it as a pattern OK with no match, CREATE NO with the reason; never BAD.
#[test]
fn rfc3501_5_1_3_a_name_that_is_not_modified_utf7_gets_no_not_bad() {
    let s = Server::start("bad-utf7", "");
    let mut c = s.login();
    let name = "!#$&'+,-.:;<=>?@^_|[}";
    c.run("C: s0 SELECT INBOX\nS: s0 OK *");
    c.run_exact(&format!(
        "C: a SELECT {name}
         S: * OK [CLOSED] *
         S: a NO [NONEXISTENT] no such mailbox (the name is not valid modified UTF-7)
         C: b LIST \"\" {name}
         S: b OK LIST completed
         C: c CREATE {name}
         S: c NO [CANNOT] the name is not valid modified UTF-7 *
         C: d STATUS \"{name}\" (MESSAGES)
         S: d NO [NONEXISTENT] *
         C: e EXAMINE \"&Jjo\"
         S: e NO [NONEXISTENT] *
         C: f RENAME INBOX \"a&b\"
         S: f NO [CANNOT] *
         C: g LIST \"\" \"*\"
         S: * LIST * Archive
         S: * LIST * Drafts
         S: * LIST * INBOX
         S: * LIST * Junk
         S: * LIST * Sent
         S: * LIST * Trash
         S: g OK LIST completed"
    ));
}

/// Issue 12 item 10 (SEARCH part). RFC 5322 §3.4 groups: SEARCH TO / CC match the group's name
/// as well as its members (RFC 3501 §6.4.4: the key is a substring of the field).
#[test]
fn rfc3501_6_4_4_search_to_and_cc_match_a_group_name() {
    let s = Server::start("search-groups", "");
    s.deliver(
        USER,
        b"From: a@example.com\r\nTo: Project Team: bob@mail.test, carol@example.com;\r\nCc: Nobody:;\r\nSubject: g\r\n\r\nx\r\n",
    );
    s.deliver(USER, &mail("plain", "x"));
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    c.run_exact("C: a SEARCH TO \"project team\"\nS: * SEARCH 1\nS: a OK *");
    c.run_exact("C: b SEARCH TO carol\nS: * SEARCH 1\nS: b OK *");
    c.run_exact("C: d SEARCH CC nobody\nS: * SEARCH 1\nS: d OK *");
}

/// A CATENATE part for [`catenate`]: a TEXT literal (sent `{n+}`, or `~{n+}` when binary) or a
/// URL (sent quoted).
enum Cat<'a> {
    Text(&'a [u8]),
    Text8(&'a [u8]),
    Url(&'a str),
}

/// The bytes of `CATENATE (...)` for one message.
fn cat_data(parts: &[Cat]) -> Vec<u8> {
    let mut out = b"CATENATE (".to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match p {
            Cat::Text(t) | Cat::Text8(t) => {
                let tilde = if matches!(p, Cat::Text8(_)) { "~" } else { "" };
                out.extend_from_slice(format!("TEXT {tilde}{{{}+}}\r\n", t.len()).as_bytes());
                out.extend_from_slice(t);
            }
            Cat::Url(u) => out.extend_from_slice(format!("URL \"{u}\"").as_bytes()),
        }
    }
    out.push(b')');
    out
}

/// `tag APPEND mailbox CATENATE (...)`: the tagged answer.
fn catenate(c: &mut common::Client, tag: &str, mailbox: &str, parts: &[Cat]) -> String {
    let mut cmd = format!("{tag} APPEND {mailbox} ").into_bytes();
    cmd.extend_from_slice(&cat_data(parts));
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd);
    c.until(tag).pop().unwrap_or_default()
}

/// The UID an `OK [APPENDUID v uid]` gave.
fn appended_uid(answer: &str) -> u32 {
    answer
        .split("APPENDUID ")
        .nth(1)
        .and_then(|r| r.split([' ', ']']).nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no APPENDUID in {answer}"))
}

/// A two-part message whose parts' bytes the tests below know by heart.
const PARTS: &str = "From: Alice <alice@example.com>\r\nTo: bob@mail.test\r\nSubject: parts\r\n\
    MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
    --b1\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n\
    --b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n\
    --b1--\r\n";

/// The header of [`PARTS`], as BODY[HEADER] gives it (with the blank line).
fn parts_header() -> &'static str {
    &PARTS[..PARTS.find("\r\n\r\n").expect("header end") + 4]
}

/// `UID FETCH uid BODY.PEEK[]` in the selected mailbox must give exactly `expected`.
fn assert_body(c: &mut common::Client, uid: u32, expected: &[u8]) {
    let lines = c.cmd("fb", &format!("UID FETCH {uid} BODY.PEEK[]"));
    let want =
        format!("FETCH (UID {uid} BODY[] {{{}}}\r\n{})", expected.len(), String::from_utf8_lossy(expected));
    assert!(lines.iter().any(|l| l.starts_with("* ") && l.ends_with(&want)), "want {want:?}\ngot {lines:#?}");
    assert!(lines.last().is_some_and(|l| l.starts_with("fb OK")), "{lines:#?}");
}

/// Issue 12, CATENATE. RFC 4469 §3: APPEND with CATENATE builds the message from TEXT literals
/// and the parts IMAP URLs (RFC 5092) name, byte for byte, in order: absolute-path URLs with
/// UIDVALIDITY, an absolute `imap://` URL of this server and the logged-in user, and a relative
/// `;UID=` URL resolved against the selected mailbox (RFC 4469 §3's base URL). The parts are
/// what BODY[1], BODY[1.MIME], BODY[2], BODY[2.MIME] give; reading them sets no \Seen; the
/// capability is advertised (RFC 4469 §2); the answer carries APPENDUID (RFC 4315).
#[test]
fn rfc4469_3_catenate_builds_the_message_from_text_and_url_parts() {
    let s = Server::start("catenate", "");
    s.deliver(USER, PARTS.as_bytes());
    let mut c = s.login();
    c.run("C: c0 CAPABILITY\nS: * CAPABILITY * MULTIAPPEND CATENATE *\nS: c0 OK *");
    c.run("C: c1 CREATE Drafts2\nS: c1 OK *");
    let sel = c.cmd("s", "SELECT INBOX");
    let v = number_after(&sel, "UIDVALIDITY");
    let head = "From: bob@mail.test\r\nSubject: Fwd: parts\r\nMIME-Version: 1.0\r\n\
                Content-Type: multipart/mixed; boundary=\"n\"\r\n\r\n--n\r\n";
    let part1 = format!("/INBOX;UIDVALIDITY={v}/;UID=1/;SECTION=1");
    let mime1 = format!("{part1}.MIME");
    let mime2 = format!("imap://bob%40mail.test@MAIL.test/INBOX;UIDVALIDITY={v}/;UID=1/;SECTION=2.MIME");
    let answer = catenate(
        &mut c,
        "a1",
        "Drafts2",
        &[
            Cat::Text(head.as_bytes()),
            Cat::Url(&mime1),
            Cat::Url(&part1),
            Cat::Text(b"\r\n--n\r\n"),
            Cat::Url(&mime2),
            Cat::Url(";UID=1/;SECTION=2"),
            Cat::Text(b"\r\n--n--\r\n"),
        ],
    );
    assert!(answer.starts_with("a1 OK [APPENDUID "), "{answer}");
    let uid = appended_uid(&answer);
    let expected = format!(
        "{head}Content-Type: text/plain\r\n\r\nfirst part\r\n--n\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--n--\r\n"
    );
    c.run("C: s2 SELECT Drafts2\nS: * 1 EXISTS\nS: s2 OK *");
    assert_body(&mut c, uid, expected.as_bytes());
    // The new message is parsed like any APPEND: its second part is the octet stream.
    let bs = c.cmd("f", &format!("UID FETCH {uid} BINARY.PEEK[2]")).join("\n");
    assert!(bs.contains("BINARY[2] {3}\r\nABC"), "{bs}");
    // The source is untouched: no \Seen from being read (RFC 4469 §3).
    c.run("C: s3 SELECT INBOX\nS: s3 OK *\nC: f1 FETCH 1 FLAGS\nS: * 1 FETCH (FLAGS ())\nS: f1 OK *");
}

/// RFC 5092 §6 and §11: `;SECTION=` takes every section-spec of BODY[] (HEADER, a %-encoded
/// HEADER.FIELDS list, a whole message without one), `;PARTIAL=offset.length` a window of it as
/// BODY[section]<offset.length> does (and offset alone the rest); a URL may be relative to the
/// server's root without UIDVALIDITY (`Mailbox/;UID=n`, RFC 5092 §7), in the authenticated state.
#[test]
fn rfc5092_6_catenate_urls_of_header_fields_and_partial_windows() {
    let s = Server::start("catenate-partial", "");
    s.deliver(USER, PARTS.as_bytes());
    let mut c = s.login();
    c.run("C: c1 CREATE Out\nS: c1 OK *");
    let answer = catenate(
        &mut c,
        "a1",
        "Out",
        &[
            Cat::Url("/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(subject%20To)"),
            Cat::Url("INBOX/;UID=1/;SECTION=1/;PARTIAL=6.4"),
            Cat::Text(b" / "),
            Cat::Url("/inbox/;UID=1/;PARTIAL=0.4"),
            Cat::Url("/INBOX/;UID=1/;SECTION=2/;PARTIAL=2"),
            Cat::Text(b"\r\n"),
        ],
    );
    assert!(answer.starts_with("a1 OK [APPENDUID "), "{answer}");
    let first = appended_uid(&answer);
    let answer = catenate(
        &mut c,
        "a2",
        "Out",
        &[Cat::Url("/INBOX/;UID=1/;SECTION=HEADER"), Cat::Url("/INBOX/;UID=1")],
    );
    assert!(answer.starts_with("a2 OK [APPENDUID "), "{answer}");
    let second = appended_uid(&answer);
    c.run("C: s SELECT Out\nS: * 2 EXISTS\nS: s OK *");
    assert_body(&mut c, first, b"To: bob@mail.test\r\nSubject: parts\r\n\r\npart / FromJD\r\n");
    assert_body(&mut c, second, format!("{}{PARTS}", parts_header()).as_bytes());
}

/// RFC 4469 §4.1: a URL that names nothing this session can read fails the APPEND with
/// `NO [BADURL url]`, the URL as sent: a wrong UIDVALIDITY, a UID that is not there, a part
/// that is not there, an unknown mailbox, another account's user or mailbox (an account never
/// reads another's mail), another server, a URLAUTH URL (RFC 4467, not offered), another
/// scheme, a message list, a relative `;UID=` with no mailbox selected. Nothing is appended.
#[test]
fn rfc4469_4_1_badurl_for_what_the_account_cannot_read() {
    let s = Server::start("catenate-badurl", "");
    let pw = s.dir.join("evepw");
    std::fs::write(&pw, "eve-pass").expect("pw");
    let o = s.cli(&["user", "add", "eve@evil.test", "--password-file", pw.to_str().expect("path")], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.deliver("eve@evil.test", &mail("eves", "eve's secret"));
    let mut eve = s.connect();
    eve.run("C: l LOGIN eve@evil.test eve-pass\nS: l OK *\nC: c CREATE EveOnly\nS: c OK *");
    eve.run("C: s SELECT INBOX\nS: s OK *\nC: k UID COPY 1 EveOnly\nS: k OK *");
    s.deliver(USER, PARTS.as_bytes());
    let mut c = s.login();
    c.run("C: c1 CREATE Out\nS: c1 OK *");
    let v = number_after(&c.cmd("st", "STATUS INBOX (UIDVALIDITY)"), "UIDVALIDITY");
    let wrong = if v == 1 { 2 } else { v - 1 };
    for url in [
        format!("/INBOX;UIDVALIDITY={wrong}/;UID=1"),
        format!("/INBOX;UIDVALIDITY={v}/;UID=2"),
        "/INBOX/;UID=1/;SECTION=3".to_string(),
        "/INBOX/;UID=1/;SECTION=1.1".to_string(),
        "/Nowhere/;UID=1".to_string(),
        "/EveOnly/;UID=1".to_string(),
        "imap://eve%40evil.test@mail.test/INBOX/;UID=1".to_string(),
        "imap://mail.test/INBOX/;UID=1".to_string(),
        "imap://bob%40mail.test@elsewhere.test/INBOX/;UID=1".to_string(),
        "/INBOX/;UID=1;URLAUTH=anonymous:internal:91354a473744909de610943775f92038".to_string(),
        "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=submit+bob:internal:91354a47".to_string(),
        "http://mail.test/INBOX/;UID=1".to_string(),
        "/INBOX?SUBJECT%20parts".to_string(),
        ";UID=1".to_string(),
        "/;UID=1".to_string(),
    ] {
        let answer = catenate(&mut c, "a", "Out", &[Cat::Text(b"Subject: x\r\n\r\n"), Cat::Url(&url)]);
        assert!(common::matches(&format!("a NO [BADURL {url}] *"), &answer), "{url}: {answer}");
    }
    c.run("C: st2 STATUS Out (MESSAGES)\nS: * STATUS Out (MESSAGES 0)\nS: st2 OK *");
    // Eve's own URL of her own message works for her, so the refusals above are about whose it is.
    let answer = catenate(&mut eve, "e", "INBOX", &[Cat::Url("/EveOnly/;UID=1")]);
    assert!(answer.starts_with("e OK [APPENDUID"), "{answer}");
}

/// RFC 4469 §4.2 and §5: a built message larger than the server takes (the APPEND literal cap,
/// `limits.max_literal_size`) is `NO [TOOBIG]`, before any part is read into memory; the
/// CATENATE messages of one APPEND are held to it together. Zero octets is a clear NO; a TEXT
/// part holds NUL only as a literal8 (RFC 3516), where it is kept.
#[test]
fn rfc4469_4_2_toobig_and_empty() {
    let s = Server::start("catenate-toobig", "limits.max_literal_size = 2000");
    let body = "x".repeat(700);
    s.deliver(USER, &mail("big", &body));
    let mut c = s.login();
    c.run("C: c1 CREATE Out\nS: c1 OK *");
    let answer = catenate(&mut c, "a1", "Out", &[Cat::Url("/INBOX/;UID=1"), Cat::Url("/INBOX/;UID=1")]);
    assert!(answer.starts_with("a1 OK"), "{answer}");
    let three = [Cat::Url("/INBOX/;UID=1"), Cat::Url("/INBOX/;UID=1"), Cat::Url("/INBOX/;UID=1")];
    let answer = catenate(&mut c, "a2", "Out", &three);
    assert!(answer.starts_with("a2 NO [TOOBIG]"), "{answer}");
    // Two messages of two copies each: each fits, not both together.
    let mut cmd = b"a3 APPEND Out ".to_vec();
    let two = cat_data(&[Cat::Url("/INBOX/;UID=1"), Cat::Url("/INBOX/;UID=1")]);
    cmd.extend_from_slice(&two);
    cmd.push(b' ');
    cmd.extend_from_slice(&two);
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd);
    c.run("S: a3 NO [TOOBIG] *");
    let answer = catenate(&mut c, "a4", "Out", &[Cat::Text(b""), Cat::Url("/INBOX/;UID=1/;PARTIAL=5000")]);
    assert!(answer.starts_with("a4 NO ") && answer.contains("empty"), "{answer}");
    c.send(b"a5 APPEND Out CATENATE (TEXT {3+}\r\na\0b)\r\n");
    c.run("S: a5 BAD *");
    // A synchronising TEXT literal inside the parentheses gets its continuation request.
    c.send(b"a7 APPEND Out CATENATE (TEXT {14}\r\n");
    c.run("S: + *");
    c.send(b"Subject: s\r\n\r\n URL \"/INBOX/;UID=1/;SECTION=TEXT\")\r\n");
    c.run("S: a7 OK [APPENDUID * 2] APPEND completed");
    let answer =
        catenate(&mut c, "a6", "Out", &[Cat::Text(b"Subject: nul\r\n\r\n"), Cat::Text8(b"a\0b\r\n")]);
    assert!(answer.starts_with("a6 OK [APPENDUID"), "{answer}");
    let uid = appended_uid(&answer);
    c.run("C: s SELECT Out\nS: * 3 EXISTS\nS: s OK *");
    assert_body(&mut c, 2, format!("Subject: s\r\n\r\n{body}\r\n").as_bytes());
    let lines = c.cmd("f", &format!("UID FETCH {uid} BINARY.PEEK[]"));
    assert!(
        lines.iter().any(|l| l.ends_with("BINARY[] ~{21}\r\nSubject: nul\r\n\r\na\0b\r\n)")),
        "{lines:#?}"
    );
}

/// RFC 3502 §6.3.11 with RFC 4469 §3: MULTIAPPEND mixes plain and CATENATE messages, and is all
/// or nothing: one URL that names nothing fails the whole command, so none of the messages is
/// appended; without it, all are, in order, with one APPENDUID range.
#[test]
fn rfc3502_6_3_11_multiappend_with_catenate_is_all_or_nothing() {
    let s = Server::start("catenate-multi", "");
    s.deliver(USER, &mail("src", "source body"));
    let mut c = s.login();
    c.run("C: c1 CREATE Out\nS: c1 OK *");
    let plain = mail("plain", "plain body");
    let good = [Cat::Text(b"Subject: built\r\n\r\n"), Cat::Url("/INBOX/;UID=1/;SECTION=TEXT")];
    let send = |c: &mut common::Client, tag: &str, bad: bool| {
        let mut cmd = format!("{tag} APPEND Out (\\Seen) {{{}+}}\r\n", plain.len()).into_bytes();
        cmd.extend_from_slice(&plain);
        cmd.push(b' ');
        cmd.extend_from_slice(&cat_data(&good));
        cmd.extend_from_slice(b" (\\Flagged) ");
        let last = if bad { "/INBOX/;UID=9" } else { "/INBOX/;UID=1/;SECTION=HEADER" };
        cmd.extend_from_slice(&cat_data(&[Cat::Url(last)]));
        cmd.extend_from_slice(b"\r\n");
        c.send(&cmd);
        c.until(tag).pop().unwrap_or_default()
    };
    let answer = send(&mut c, "a1", true);
    assert!(answer.starts_with("a1 NO [BADURL /INBOX/;UID=9]"), "{answer}");
    c.run("C: st STATUS Out (MESSAGES UIDNEXT)\nS: * STATUS Out (MESSAGES 0 UIDNEXT 1)\nS: st OK *");
    let answer = send(&mut c, "a2", false);
    assert!(common::matches("a2 OK [APPENDUID * 1:3] APPEND completed", &answer), "{answer}");
    c.run("C: s SELECT Out\nS: * 3 EXISTS\nS: s OK *");
    assert_body(&mut c, 1, &plain);
    assert_body(&mut c, 2, b"Subject: built\r\n\r\nsource body\r\n");
    let src = String::from_utf8(mail("src", "source body")).expect("utf8");
    assert_body(&mut c, 3, &src.as_bytes()[..src.find("\r\n\r\n").expect("end") + 4]);
    c.run("C: f FETCH 1:3 FLAGS\nS: * 1 FETCH (FLAGS (\\Seen *\nS: * 2 FETCH (FLAGS (*\nS: * 3 FETCH (FLAGS (\\Flagged *\nS: f OK *");
}
