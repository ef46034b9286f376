//! XSYNC and XHIERARCHY over the wire (docs/mapi-extension.md §7, §8, §9, §13): scripted
//! sessions for every answer and error of the two commands.

mod common;

use common::{Server, USER, mail};

/// The `XSTATE` of a batch's lines, and whether it said COMPLETE.
fn state_of(lines: &[String]) -> (String, bool) {
    let l = lines.iter().rev().find(|l| l.starts_with("* XSTATE ")).expect("an XSTATE");
    let words: Vec<&str> = l.split(' ').collect();
    (words[2].to_string(), words.last() == Some(&"COMPLETE"))
}

fn uids_of(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("* XMSG "))
        .map(|l| l.split(' ').next().expect("uid").parse().expect("number"))
        .collect()
}

#[test]
fn xsync_streams_newest_first_and_resumes_from_its_state() {
    let s = Server::start("xsync-basic", "");
    for i in 1..=5 {
        s.deliver(USER, &mail(&format!("m{i}"), "x"));
    }
    let mut c = s.login();
    let first = c.cmd("a", "XSYNC INBOX \"\" WINDOW 2 BATCHES 1");
    assert!(
        common::matches(
            "* XSYNC M* (MESSAGES 5 UNSEEN 5 DELETED 0 SIZE * UIDNEXT 6 UIDVALIDITY * HIGHESTMODSEQ *)",
            &first[0]
        ),
        "{first:?}"
    );
    assert_eq!(uids_of(&first), vec![5, 4], "newest first, one window");
    assert!(
        common::matches(
            "* XMSG 5 (FLAGS () MODSEQ (*) INTERNALDATE \"*\" RFC822.SIZE * EMAILID (M*) THREADID (T*) XFROM (\"Alice\" \"alice@example.com\") XSUBJECT \"m5\" XATTACH 0)",
            &first[1]
        ),
        "{first:?}"
    );
    assert!(common::matches("* XSTATE * MODSEQ * REMAINING 3", &first[3]), "{first:?}");
    assert!(common::matches("a OK XSYNC completed (1 batch)", &first[4]), "{first:?}");
    let (state, complete) = state_of(&first);
    assert!(!complete);
    assert!(state.len() <= 64, "a state is at most 64 octets: {}", state.len());
    let mailbox_id = first[0].split(' ').nth(2).expect("id").to_string();
    // By MAILBOXID, the rest; a flag change on a held message and a new message meanwhile.
    c.run("C: s SELECT INBOX\nS: s OK *\nC: f STORE 5 +FLAGS (\\Seen)\nS: f OK *");
    s.deliver(USER, &mail("m6", "x"));
    let rest = c.cmd("b", &format!("XSYNC ({mailbox_id}) {state} WINDOW 2"));
    let changed: Vec<&String> = rest.iter().filter(|l| l.starts_with("* XMSG 5 ")).collect();
    assert_eq!(changed.len(), 1, "{rest:?}");
    assert!(
        common::matches("* XMSG 5 (FLAGS (\\Seen) MODSEQ (*))", changed[0]),
        "part 1: flags only: {rest:?}"
    );
    assert_eq!(uids_of(&rest), vec![5, 6, 3, 2, 1], "changes, then the new one, then the older ones");
    let (_, complete) = state_of(&rest);
    assert!(complete, "{rest:?}");
    assert!(rest.last().is_some_and(|l| common::matches("b OK XSYNC completed (* batches)", l)), "{rest:?}");
    // XSYNC changes neither the selection nor \Recent nor flags.
    c.run("C: n NOOP\nS: n OK *\nC: g FETCH 1:* (FLAGS)\nS: g OK *");
}

#[test]
fn xsync_refuses_bad_states_windows_and_names() {
    let s = Server::start("xsync-errors", "");
    s.deliver(USER, &mail("one", "x"));
    let mut c = s.login();
    c.run("C: c CREATE Other\nS: c OK *");
    let good = state_of(&c.cmd("a", "XSYNC INBOX \"\"")).0;
    let mut forged = good.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    c.run_exact(&format!(
        "C: b XSYNC INBOX {forged}\nS: b NO [XRESTART] sync state is not valid for this folder: sync it again from \"\""
    ));
    c.run_exact(&format!("C: d XSYNC INBOX {}\nS: d NO [XRESTART] *", &good[..good.len() - 4]));
    c.run_exact("C: e XSYNC INBOX not-a-state\nS: e NO [XRESTART] *");
    c.run_exact(&format!("C: f XSYNC Other {good}\nS: f NO [XRESTART] *"));
    c.run_exact("C: g XSYNC INBOX \"\" WINDOW 1001\nS: g NO [LIMIT] WINDOW is at most 1000");
    c.run_exact("C: h XSYNC INBOX \"\" WINDOW 0\nS: h BAD *");
    c.run_exact("C: i XSYNC INBOX \"\" FIELDS (XBODY)\nS: i BAD *");
    c.run_exact("C: j XSYNC INBOX \"\" WINDOW 2 WINDOW 3\nS: j BAD *");
    c.run_exact("C: k XSYNC Nowhere \"\"\nS: k NO [NONEXISTENT] *");
    c.run_exact("C: l XSYNC (M999999) \"\"\nS: l NO [NONEXISTENT] *");
    c.run_exact("C: m XSYNC INBOX \"x\"\nS: m BAD *");
    // Another account: its MAILBOXIDs are NONEXISTENT, and this account's state is refused in
    // its own INBOX.
    s.add_user("carol@mail.test", "carols-secret");
    let mut carol = s.login_as("carol@mail.test", "carols-secret");
    let inbox = c.cmd("n", "XSYNC INBOX \"\" BATCHES 1")[0].split(' ').nth(2).expect("id").to_string();
    carol.run_exact(&format!("C: o XSYNC ({inbox}) \"\"\nS: o NO [NONEXISTENT] *"));
    carol.run_exact(&format!("C: p XSYNC INBOX {good}\nS: p NO [XRESTART] *"));
    // Not logged in: BAD.
    let mut anon = s.connect();
    anon.run_exact("C: q XSYNC INBOX \"\"\nS: q BAD *");
    // UIDVALIDITY changed: the folder deleted and made again under its name is another folder.
    let other = state_of(&c.cmd("r", "XSYNC Other \"\"")).0;
    c.run("C: s DELETE Other\nS: s OK *\nC: t CREATE Other\nS: t OK *");
    c.run_exact(&format!("C: u XSYNC Other {other}\nS: u NO [XRESTART] *"));
}

#[test]
fn xsync_fields_and_text_in_either_mode() {
    let s = Server::start("xsync-fields", "");
    let raw = "From: =?UTF-8?Q?J=C3=B6rg?= <j@x.test>\r\nTo: Team <t@x.test>\r\nSubject: =?UTF-8?Q?=C3=84pfel?=\r\n\
               Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
               --b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\nx\r\n--b--\r\n";
    s.deliver(USER, raw.as_bytes());
    let mut c = s.login();
    let lines = c.cmd("a", "XSYNC INBOX \"\" FIELDS (XTO XSUBJECT XATTACH)");
    assert!(
        common::matches(
            "* XMSG 1 (FLAGS () MODSEQ (*) XTO (\"Team\" \"t@x.test\") XSUBJECT {6}\r\nÄpfel XATTACH 1)",
            &lines[1]
        ),
        "without UTF8=ACCEPT non-ASCII text is a literal: {lines:?}"
    );
    let lines = c.cmd("b", "XSYNC INBOX \"\" FIELDS ()");
    assert!(common::matches("* XMSG 1 (FLAGS () MODSEQ (*))", &lines[1]), "{lines:?}");
    c.run("C: e ENABLE UTF8=ACCEPT\nS: e OK *");
    let lines = c.cmd("c", "XSYNC INBOX \"\" FIELDS (XFROM ENVELOPE)");
    assert!(
        common::matches(
            "* XMSG 1 (FLAGS () MODSEQ (*) ENVELOPE (* XFROM (\"Jörg\" \"j@x.test\"))",
            &lines[1]
        ),
        "{lines:?}"
    );
}

#[test]
fn xhierarchy_full_then_changes_by_mailboxid() {
    let s = Server::start("xhierarchy", "");
    let mut c = s.login();
    c.run("C: a CREATE Lists/rust\nS: a OK *\nC: b CREATE Old\nS: b OK *\nC: u UNSUBSCRIBE Old\nS: u OK *");
    let full = c.cmd("h1", "XHIERARCHY \"\"");
    assert!(common::matches("* XHIERARCHY FULL CHANGE *", &full[0]), "{full:?}");
    let names: Vec<&str> = full.iter().filter(|l| l.starts_with("* XMAILBOX ")).map(|l| l.as_str()).collect();
    assert!(
        names.iter().any(|l| common::matches("* XMAILBOX M* (\\Subscribed) \"/\" INBOX (MESSAGES 0 *)", l)),
        "{names:?}"
    );
    assert!(
        names.iter().any(|l| common::matches("* XMAILBOX M* (\\Subscribed \\Sent) \"/\" Sent (*)", l)),
        "{names:?}"
    );
    assert!(names.iter().any(|l| common::matches("* XMAILBOX M* () \"/\" Old (*)", l)), "{names:?}");
    let lists = names.iter().position(|l| l.contains("\" Lists (")).expect("Lists");
    let rust = names.iter().position(|l| l.contains("\" Lists/rust (")).expect("Lists/rust");
    assert!(lists < rust, "a parent before its children");
    let id_of = |lines: &[String], name: &str| -> String {
        let l = lines.iter().find(|l| l.contains(&format!("\" {name} ("))).expect(name);
        l.split(' ').nth(2).expect("id").to_string()
    };
    let (rust_id, old_id) = (id_of(&full, "Lists/rust"), id_of(&full, "Old"));
    let hstate = full.iter().find_map(|l| l.strip_prefix("* XHSTATE ")).expect("XHSTATE").to_string();
    assert!(hstate.len() <= 64);
    // Nothing changed: CHANGES, empty.
    c.run_exact(&format!(
        "C: h2 XHIERARCHY {hstate}\nS: * XHIERARCHY CHANGES CHANGE *\nS: * XHSTATE *\nS: h2 OK XHIERARCHY completed"
    ));
    c.run("C: r RENAME Lists/rust Archive/rust\nS: r OK *\nC: d DELETE Old\nS: d OK *");
    s.deliver(USER, &mail("new", "x"));
    let changes = c.cmd("h3", &format!("XHIERARCHY {hstate}"));
    assert!(common::matches("* XHIERARCHY CHANGES CHANGE *", &changes[0]), "{changes:?}");
    assert_eq!(changes[1], format!("* XMAILBOX {old_id} DELETED"), "deleted first: {changes:?}");
    assert!(
        changes.iter().any(|l| common::matches(
            &format!("* XMAILBOX {rust_id} (\\Subscribed) \"/\" Archive/rust (*)"),
            l
        )),
        "a rename keeps its MAILBOXID: {changes:?}"
    );
    assert!(
        changes.iter().any(|l| common::matches("* XMAILBOX M* (\\Subscribed) \"/\" INBOX (MESSAGES 1 *)", l)),
        "{changes:?}"
    );
    assert!(
        !changes.iter().any(|l| l.contains("\" Sent (")),
        "an unchanged folder is not listed: {changes:?}"
    );
    c.run_exact("C: h4 XHIERARCHY AAAA\nS: h4 NO [XRESTART] *");
}

/// §11.1: a connector's first screen in one flight after the greeting: login, ENABLE, ID,
/// XSESSION, XHIERARCHY and the first window of INBOX, pipelined, all answered in order.
#[test]
fn the_first_screen_is_one_pipelined_flight() {
    let s = Server::start("xsync-first-screen", "");
    for i in 1..=3 {
        s.deliver(USER, &mail(&format!("m{i}"), "x"));
    }
    let mut c = s.connect();
    c.send(
        format!(
            "a1 LOGIN {USER} {}\r\na2 ENABLE UTF8=ACCEPT\r\na3 ID (\"name\" \"mirror\")\r\na4 XSESSION\r\n\
             a5 XHIERARCHY \"\"\r\na6 XSYNC INBOX \"\" WINDOW 200 BATCHES 1\r\n",
            common::PASSWORD
        )
        .as_bytes(),
    );
    let mut all = Vec::new();
    for tag in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        let lines = c.until(tag);
        assert!(lines.last().is_some_and(|l| l.starts_with(&format!("{tag} OK"))), "{lines:?}");
        all.extend(lines);
    }
    assert!(all.iter().any(|l| l.starts_with("* XSESSION ") && l.contains("(TOKEN ")), "{all:?}");
    assert!(
        all.iter().any(|l| l.starts_with("* XMAILBOX ") && l.contains("\" INBOX (MESSAGES 3 ")),
        "{all:?}"
    );
    let rows: Vec<&String> = all.iter().filter(|l| l.starts_with("* XMSG ")).collect();
    assert_eq!(rows.len(), 3, "{all:?}");
    assert!(all.iter().any(|l| l.starts_with("* XSTATE ") && l.ends_with(" COMPLETE")), "{all:?}");
}

/// §8, §11.2: a FETCH on one connection is never queued behind a long XSYNC on another, even
/// one whose client has stopped reading (its batches wait in its own bounded stream; no read
/// thread is held meanwhile); the stalled sync then completes, nothing lost.
#[test]
fn a_fetch_is_not_queued_behind_a_stalled_xsync() {
    let s = Server::start("xsync-stalled", "");
    common::fill(&s, "INBOX", 15_000);
    let mut syncing = s.login();
    // About 10 MB of summaries: more than the socket buffers hold, so the server's stream stalls.
    syncing.send(b"x XSYNC INBOX \"\" WINDOW 1000 FIELDS (ENVELOPE BODYSTRUCTURE XFROM XSUBJECT)\r\n");
    let mut other = s.login();
    other.run("C: s EXAMINE INBOX\nS: s OK *");
    // Five FETCH round trips on the other connection while the sync waits for its reader:
    // each is answered at once.
    for round in 0..5 {
        let t = std::time::Instant::now();
        let lines = other.cmd(&format!("f{round}"), "UID FETCH 1:5 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
        assert!(lines.last().is_some_and(|l| l.contains(" OK ")), "{lines:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "round {round}: {:?}", t.elapsed());
    }
    let lines = syncing.until("x");
    let rows = lines.iter().filter(|l| l.starts_with("* XMSG ")).count();
    assert_eq!(rows, 15_000);
    assert!(
        lines.last().is_some_and(|l| l.starts_with("x OK XSYNC completed (15 batches)")),
        "{:?}",
        lines.last()
    );
}
