//! The backchannel (docs/mapi-extension.md §5, §6) against a real server: pushes reach their
//! account's backchannel only; every kind of event; replay after a reconnect, exact and in order,
//! then XLIVE, also across an overrun change log (XRESYNC); heartbeats, XACK and XNOACK; the
//! state rules of §12.1; a second backchannel replacing the first; a large STORE coalesced.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Client, Server, mail};

const DOMAIN: &str = "mail.test";

/// A session's pool connection, its token and epoch.
struct Session {
    user: String,
    pool: Client,
    token: String,
    epoch: String,
    /// The account's change number when the session was created (`CHANGE`).
    change: u64,
}

fn session(s: &Server, user: &str, password: &str) -> Session {
    let mut pool = s.login_as(user, password);
    let lines = pool.cmd("s1", "XSESSION");
    assert!(lines.last().is_some_and(|l| l.starts_with("s1 OK")), "{lines:?}");
    let line = lines.iter().find(|l| l.starts_with("* XSESSION ")).expect("XSESSION");
    let words: Vec<&str> = line.split(' ').collect();
    let after =
        |name: &str| words[words.iter().position(|w| w.trim_start_matches('(') == name).expect(name) + 1];
    Session {
        user: user.into(),
        token: after("TOKEN").into(),
        epoch: after("EPOCH").into(),
        change: after("CHANGE").parse().expect("CHANGE"),
        pool,
    }
}

impl Session {
    /// A new connection joined to the session.
    fn join(&self, s: &Server) -> Client {
        let mut c = s.connect();
        c.run(&format!("C: j1 XJOIN {} {}\nS: j1 OK *", self.user, self.token));
        c
    }

    /// A joined connection made the backchannel `FROM from`; returns it, the `CURRENT` of its
    /// answer and the lines up to `XLIVE` (the replay).
    fn backchannel(&self, s: &Server, from: u64, heartbeat: u64) -> (Client, u64, Vec<String>) {
        let mut c = self.join(s);
        let lines =
            c.cmd("b1", &format!("XBACKCHANNEL FROM {from} EPOCH {} HEARTBEAT {heartbeat}", self.epoch));
        assert_eq!(lines.len(), 2, "{lines:?}");
        let w: Vec<&str> = lines[0].split(' ').collect();
        assert_eq!(
            (w[0], w[1], w[2], w[4], w[5], w[6]),
            ("*", "XBACKCHANNEL", "HEARTBEAT", "FROM", &*from.to_string(), "CURRENT"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "b1 OK XBACKCHANNEL completed, replay follows");
        let current = w[7].parse().expect("CURRENT");
        let replay = until(&mut c, "* XLIVE ");
        assert_eq!(
            replay.last().map(String::as_str),
            Some(format!("* XLIVE {current}").as_str()),
            "{replay:?}"
        );
        (c, current, replay)
    }
}

/// Lines from `c` up to and including the first that starts with `start`.
fn until(c: &mut Client, start: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let l = c.line();
        let done = l.starts_with(start);
        out.push(l);
        if done {
            return out;
        }
    }
}

/// The change number of an event line (not of a signal).
fn event_number(line: &str) -> Option<u64> {
    let w: Vec<&str> = line.split(' ').collect();
    matches!(w.get(1).copied(), Some("XNEW" | "XFLAGS" | "XEXPUNGE" | "XFOLDER" | "XCHANGED"))
        .then(|| w[2].parse().expect("number"))
}

/// A NOOP on a backchannel: the lines it brings before its OK hold no event.
fn quiet(c: &mut Client, tag: &str) {
    let lines = c.cmd(tag, "NOOP");
    assert!(lines.iter().all(|l| event_number(l).is_none()), "{lines:?}");
}

/// `M<id>` of a folder, from the pool connection.
fn mailbox_id(c: &mut Client, name: &str) -> String {
    let lines = c.cmd("st", &format!("STATUS {name} (MAILBOXID)"));
    let l = lines.iter().find(|l| l.starts_with("* STATUS")).expect("STATUS");
    let at = l.find("MAILBOXID (").expect("id") + 11;
    l[at..at + l[at..].find(')').expect(")")].to_string()
}

fn users(s: &Server) -> Vec<(String, String)> {
    let v: Vec<(String, String)> =
        ["ann", "ben", "cat"].iter().map(|n| (format!("{n}@{DOMAIN}"), format!("{n}-secret-pw"))).collect();
    for (u, p) in &v {
        s.add_user(u, p);
    }
    v
}

#[test]
fn a_delivery_reaches_its_accounts_backchannel_only() {
    let s = Server::start("bc-route", "");
    let mut all: Vec<(Session, Client)> = users(&s)
        .iter()
        .map(|(u, p)| {
            let mut ses = session(&s, u, p);
            ses.pool.run("C: c1 CREATE Folder\nS: c1 OK *");
            let (bc, ..) = ses.backchannel(&s, 0, 1740);
            (ses, bc)
        })
        .collect();
    for i in 0..all.len() {
        let (user, local) =
            (all[i].0.user.clone(), all[i].0.user.split('@').next().unwrap_or("").to_string());
        let inbox = mailbox_id(&mut all[i].0.pool, "INBOX");
        let folder = mailbox_id(&mut all[i].0.pool, "Folder");
        for (to, id) in [(user.clone(), &inbox), (format!("{local}+Folder@{DOMAIN}"), &folder)] {
            s.deliver(&to, &mail(&format!("to-{to}"), "hello"));
            let bc = &mut all[i].1;
            let got = until(bc, "* XNEW ");
            let ev: Vec<&str> = got.last().expect("XNEW").split(' ').collect();
            assert_eq!(ev[3], id, "{to}: {got:?}");
            assert!(got.last().is_some_and(|l| l.contains(&format!("XSUBJECT \"to-{to}\""))), "{got:?}");
            let counts = bc.line();
            assert!(counts.starts_with(&format!("* XCOUNTS {} {id} (MESSAGES 1 ", ev[2])), "{counts}");
            for (j, (_, other)) in all.iter_mut().enumerate() {
                if j != i {
                    quiet(other, &format!("q{j}"));
                }
            }
        }
    }
}

#[test]
fn flags_expunges_and_folder_changes_are_pushed() {
    let s = Server::start("bc-kinds", "");
    let (u, p) = users(&s).remove(0);
    let mut ses = session(&s, &u, &p);
    let (mut bc, ..) = ses.backchannel(&s, 0, 1740);
    s.deliver(&u, &mail("one", "x"));
    until(&mut bc, "* XNEW ");
    let inbox = mailbox_id(&mut ses.pool, "INBOX");
    ses.pool.run("C: a SELECT INBOX\nS: a OK *\nC: b STORE 1 +FLAGS (\\Flagged)\nS: b OK *");
    bc.run(&format!("S: * XFLAGS * {inbox} 1 (FLAGS (\\Flagged) MODSEQ (*))\nS: * XCOUNTS * {inbox} (*)"));
    ses.pool.run("C: c STORE 1 +FLAGS (\\Deleted)\nS: c OK *\nC: d EXPUNGE\nS: d OK *");
    bc.run(&format!("S: * XFLAGS * {inbox} 1 (FLAGS (*\\Deleted*) MODSEQ (*))\nS: * XCOUNTS *"));
    bc.run(&format!("S: * XEXPUNGE * {inbox} 1 *\nS: * XCOUNTS * {inbox} (MESSAGES 0 *)"));
    ses.pool.run("C: e CREATE Projects\nS: e OK *");
    let created = until(&mut bc, "* XFOLDER ");
    let id = mailbox_id(&mut ses.pool, "Projects");
    assert!(
        matches(&format!("* XFOLDER * {id} CREATED (*) \"/\" Projects (MESSAGES 0 *)"), created.last()),
        "{created:?}"
    );
    // A new folder is subscribed (CREATE subscribes it): unsubscribed, then subscribed again.
    ses.pool.run("C: f UNSUBSCRIBE Projects\nS: f OK *");
    bc.run(&format!("S: * XFOLDER * {id} CHANGED () \"/\" Projects (*)"));
    ses.pool.run("C: f2 SUBSCRIBE Projects\nS: f2 OK *");
    bc.run(&format!("S: * XFOLDER * {id} CHANGED (\\Subscribed) \"/\" Projects (*)"));
    ses.pool.run("C: g RENAME Projects Old\nS: g OK *");
    bc.run(&format!("S: * XFOLDER * {id} CHANGED * \"/\" Old (*)"));
    ses.pool.run("C: h DELETE Old\nS: h OK *");
    bc.run(&format!("S: * XFOLDER * {id} DELETED"));
    quiet(&mut bc, "q");
}

fn matches(pattern: &str, got: Option<&String>) -> bool {
    got.is_some_and(|g| common::matches(pattern, g))
}

/// Random changes that §5.3 never omits: messages appended to four folders, then each of some
/// flagged once. Returns how many changes they made.
fn changes(c: &mut Client, seed: u64, n: usize) -> usize {
    let folders = ["INBOX", "F1", "F2", "F3"];
    for f in &folders[1..] {
        c.cmd("mk", &format!("CREATE {f}"));
    }
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    let appends = n * 3 / 5;
    let mut per = [0usize; 4];
    for i in 0..appends {
        let f = next() % 4;
        per[f] += 1;
        let m = mail(&format!("r{seed}-{i}"), "body");
        c.send(format!("ap{i} APPEND {} {{{}+}}\r\n", folders[f], m.len()).as_bytes());
        c.send(&m);
        c.send(b"\r\n");
        let last = c.until(&format!("ap{i}")).pop().unwrap_or_default();
        assert!(last.contains("OK"), "{last}");
    }
    let mut flagged = 0;
    for (f, count) in folders.iter().zip(per) {
        let k = (n - appends - flagged).min(count);
        if k == 0 {
            continue;
        }
        c.run(&format!(
            "C: sel SELECT {f}\nS: sel OK *\nC: st STORE 1:{k} +FLAGS.SILENT (\\Seen)\nS: st OK *"
        ));
        flagged += k;
    }
    appends + flagged
}

/// After `FROM n`, the replay: every change number once, in order, up to CURRENT.
fn assert_exact(replay: &[String], from: u64, current: u64) {
    let numbers: Vec<u64> = replay.iter().filter_map(|l| event_number(l)).collect();
    assert_eq!(numbers, (from + 1..=current).collect::<Vec<_>>(), "{replay:#?}");
}

#[test]
fn a_reopened_backchannel_replays_every_change_once_in_order_then_goes_live() {
    let s = Server::start("bc-replay", "mapi.burst_events = 1024");
    let (u, p) = users(&s).remove(0);
    let mut ses = session(&s, &u, &p);
    let (mut bc, from, _) = ses.backchannel(&s, 0, 1740);
    bc.run("C: z LOGOUT\nS: * BYE *\nS: z OK *");
    let made = changes(&mut ses.pool, 7, 1000);
    assert!(made >= 990, "{made}");
    let (mut bc, current, replay) = ses.backchannel(&s, from, 1740);
    assert!(current >= from + made as u64, "{current} {from} {made}");
    assert_exact(&replay, from, current);
    // Live after XLIVE: the next change comes as an event of the next number.
    s.deliver(&u, &mail("live", "x"));
    let got = until(&mut bc, "* XNEW ");
    assert_eq!(got.last().and_then(|l| event_number(l)), Some(current + 1), "{got:?}");
}

#[test]
fn an_overrun_log_gives_xresync_then_the_rest_exactly() {
    let s = Server::start("bc-overrun", "store.change_log_limit = 50\nmapi.burst_events = 1024");
    let (u, p) = users(&s).remove(0);
    let mut ses = session(&s, &u, &p);
    let (mut bc, from, _) = ses.backchannel(&s, 0, 1740);
    bc.run("C: z LOGOUT\nS: * BYE *\nS: z OK *");
    changes(&mut ses.pool, 11, 200);
    let (_bc, current, replay) = ses.backchannel(&s, from, 1740);
    let lost = current - 50;
    assert_eq!(replay[0], format!("* XRESYNC {lost} HIERARCHY"), "{replay:#?}");
    let resynced: BTreeSet<String> = replay
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("* XRESYNC {lost} M")))
        .map(|r| format!("M{}", r.split(' ').next().unwrap_or("")))
        .collect();
    let mut want = BTreeSet::new();
    for f in ["INBOX", "F1", "F2", "F3"] {
        want.insert(mailbox_id(&mut ses.pool, f));
    }
    assert_eq!(resynced, want, "{replay:#?}");
    assert_exact(&replay, lost, current);
    // FROM beyond the current number: as a log that does not reach back, from the current one.
    let (_bc2, now, replay) = ses.backchannel(&s, current + 1000, 1740);
    assert_eq!(now, current);
    assert_eq!(replay[0], format!("* XRESYNC {current} HIERARCHY"), "{replay:#?}");
    let folders = ses.pool.cmd("l", "LIST \"\" *").iter().filter(|l| l.starts_with("* LIST ")).count();
    assert_eq!(replay.iter().filter(|l| l.starts_with("* XRESYNC ")).count(), 1 + folders, "{replay:#?}");
}

#[test]
fn heartbeats_are_answered_and_an_unanswered_one_closes_the_link() {
    let s = Server::start("bc-heartbeat", "mapi.heartbeat_min_secs = 1");
    let (u, p) = users(&s).remove(0);
    let ses = session(&s, &u, &p);
    let (mut bc, current, _) = ses.backchannel(&s, 0, 1);
    let hb = until(&mut bc, "* XHEARTBEAT ");
    assert_eq!(
        hb.last().map(String::as_str),
        Some(format!("* XHEARTBEAT 1 SENT {current} CURRENT {current}").as_str())
    );
    bc.run(&format!("C: k1 XACK 1 {current}\nS: k1 OK XACK completed"));
    bc.run(&format!(
        "C: st XSESSION STATUS\nS: * XCONN * (ROLE BACKCHANNEL SELF 1 * HEARTBEAT 1 SENT {current} ACKED {current} RTT *)\nS: st OK *"
    ));
    // An XACK of a heartbeat not sent, or of a change not sent: BAD.
    bc.run(&format!("C: k2 XACK 9 {current}\nS: k2 BAD *\nC: k3 XACK 0 {}\nS: k3 BAD *", current + 1));
    // Heartbeat 2 goes unanswered: when 3 is due (one interval later), BYE [XNOACK].
    until(&mut bc, "* XHEARTBEAT 2 ");
    let at = Instant::now();
    let bye = until(&mut bc, "* BYE ");
    assert!(bye.last().is_some_and(|l| l.starts_with("* BYE [XNOACK]")), "{bye:?}");
    assert!(at.elapsed() < Duration::from_millis(2500), "{:?}", at.elapsed());
    // A pool connection of a session with a backchannel may be silent for two intervals.
    let mut ses = session(&s, &u, &p);
    let (_bc, ..) = ses.backchannel(&s, 0, 1);
    ses.pool.run("C: n NOOP\nS: n OK *");
    let at = Instant::now();
    let bye = ses.pool.line();
    assert!(bye.starts_with("* BYE [XNOACK]"), "{bye}");
    let waited = at.elapsed();
    assert!(waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4), "{waited:?}");
    // The granted interval is the proposal clamped.
    let ses = session(&s, &u, &p);
    let mut c = ses.join(&s);
    c.run(&format!(
        "C: b XBACKCHANNEL FROM 0 EPOCH {} HEARTBEAT 999999\nS: * XBACKCHANNEL HEARTBEAT 1740 FROM 0 CURRENT *\nS: b OK *",
        ses.epoch
    ));
}

#[test]
fn the_backchannel_refuses_other_commands_and_xbackchannel_its_wrong_states() {
    let s = Server::start("bc-states", "");
    let (u, p) = users(&s).remove(0);
    let mut ses = session(&s, &u, &p);
    let epoch = ses.epoch.clone();
    let xb = |tag: &str, e: &str| format!("C: {tag} XBACKCHANNEL FROM 0 EPOCH {e} HEARTBEAT 60");
    // Not in a session; a mailbox selected; NOTIFY on: BAD. Another epoch: NO [XRESTART].
    let mut plain = s.login_as(&u, &p);
    plain.run(&format!("{}\nS: a BAD *", xb("a", &epoch)));
    ses.pool.run(&format!(
        "C: s SELECT INBOX\nS: s OK *\n{}\nS: b BAD *\nC: u UNSELECT\nS: u OK *",
        xb("b", &epoch)
    ));
    ses.pool.run(&format!(
        "C: n NOTIFY SET (personal (MessageNew MessageExpunge))\nS: n OK *\n{}\nS: c BAD *",
        xb("c", &epoch)
    ));
    ses.pool.run(&format!("C: x NOTIFY NONE\nS: x OK *\n{}\nS: d NO [XRESTART] *", xb("d", "AAAAAAAAAAA")));
    ses.pool.run("C: e XACK 0 0\nS: e BAD *");
    // On the backchannel: only XACK, NOOP, CAPABILITY, ID, XSESSION STATUS / END, LOGOUT.
    let (mut bc, ..) = ses.backchannel(&s, 0, 60);
    bc.run(
        "C: f SELECT INBOX\nS: f BAD [XBACKCHANNEL] *\nC: g XSYNC INBOX \"\"\nS: g BAD [XBACKCHANNEL] *\n\
         C: h IDLE\nS: h BAD [XBACKCHANNEL] *\nC: i CREATE Nope\nS: i BAD [XBACKCHANNEL] *\n\
         C: j NOOP\nS: j OK *\nC: k CAPABILITY\nS: * CAPABILITY *\nS: k OK *\nC: l ID NIL\nS: * ID *\nS: l OK *\n\
         C: m XSESSION STATUS\nS: * XSESSION *\nS: m OK *\nC: o XACK 0 0\nS: o OK *",
    );
    bc.run(&format!("{}\nS: p BAD [XBACKCHANNEL] *", xb("p", &epoch)));
    // CREATE was refused: nothing changed.
    ses.pool.run_exact("C: q LIST \"\" Nope\nS: q OK *");
    // A second backchannel in the session replaces the first.
    let (_second, ..) = ses.backchannel(&s, 0, 60);
    let bye = until(&mut bc, "* BYE ");
    assert!(bye.last().is_some_and(|l| l.starts_with("* BYE [XREPLACED]")), "{bye:?}");
}

#[test]
fn a_store_over_thousands_of_messages_is_coalesced_with_bounded_output() {
    let s = Server::start("bc-burst", "mapi.burst_events = 16");
    let (u, p) = (common::USER, common::PASSWORD);
    common::fill(&s, "INBOX", 2000);
    let mut ses = session(&s, u, p);
    let (mut bc, current, _) = ses.backchannel(&s, ses.change, 1740);
    assert_eq!(current, ses.change);
    let inbox = mailbox_id(&mut ses.pool, "INBOX");
    ses.pool.run("C: a SELECT INBOX\nS: a OK *\nC: b STORE 1:* +FLAGS.SILENT (\\Flagged)\nS: b OK *");
    let lines = ses.pool.cmd("c", "STATUS INBOX (HIGHESTMODSEQ)");
    let status = lines.iter().find(|l| l.starts_with("* STATUS ")).expect("STATUS");
    let top = status.rsplit(' ').next().unwrap_or("").trim_end_matches(')').to_string();
    let got = until(&mut bc, &format!("* XCOUNTS {} {inbox} (", current + 2000));
    let flags = got.iter().filter(|l| l.starts_with("* XFLAGS ")).count();
    let changed: Vec<&String> = got.iter().filter(|l| l.starts_with("* XCHANGED ")).collect();
    // Two spans of 1,024 changes: at most 16 events each, the rest in one XCHANGED each.
    assert_eq!(flags, 32, "{got:#?}");
    assert_eq!(changed.len(), 2, "{got:#?}");
    assert!(got.len() <= 40, "{} lines", got.len());
    let last: Vec<&str> = changed[1].split(' ').collect();
    assert_eq!((last[2], last[5]), (&*(current + 2000).to_string(), &*top), "{changed:?}");
}

/// §6: a backchannel whose client stops reading is freed within two heartbeat intervals even
/// while the server has more for it than the sockets hold: a write waits for its client one
/// interval at most, then the connection is closed (its queue with it).
#[test]
fn a_backchannel_that_stops_reading_is_freed() {
    let s = Server::start("bc-no-read", "mapi.heartbeat_min_secs = 1");
    let (u, p) = users(&s).remove(0);
    let ses = session(&s, &u, &p);
    let mut bc = ses.join(&s);
    // Large events: ENVELOPE carries the whole Subject (100 KB here); the client reads the
    // tagged OK and then nothing more.
    bc.run(&format!(
        "C: b XBACKCHANNEL FROM {} EPOCH {} HEARTBEAT 1 FIELDS (ENVELOPE)\nS: * XBACKCHANNEL *\nS: b OK *",
        ses.change, ses.epoch
    ));
    let mut writer = s.login_as(&u, &p);
    let subject = "x".repeat(100_000);
    for round in 0..6 {
        let mut cmd = format!("w{round} APPEND INBOX").into_bytes();
        for i in 0..20 {
            let m = format!("Subject: {subject}\r\nMessage-ID: <{round}-{i}@x>\r\n\r\nbody\r\n");
            cmd.extend_from_slice(format!(" {{{}+}}\r\n", m.len()).as_bytes());
            cmd.extend_from_slice(m.as_bytes());
        }
        cmd.extend_from_slice(b"\r\n");
        writer.send(&cmd);
        let done = writer.until(&format!("w{round}"));
        assert!(done.last().is_some_and(|l| l.contains(" OK ")), "{done:?}");
    }
    // About 12 MB of events wait for a reader that takes none: the server gives up on it.
    let t = Instant::now();
    loop {
        let o = s.cli(&["sessions", "--json"], b"");
        assert!(o.status.success());
        if !String::from_utf8_lossy(&o.stdout).contains("\"role\":\"BACKCHANNEL\"") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "the backchannel is still held");
        std::thread::sleep(Duration::from_millis(100));
    }
    // What the client could still read ends in EOF: the connection is closed.
    bc.stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut sink = Vec::new();
    let read = std::io::Read::read_to_end(&mut bc.stream, &mut sink);
    assert!(read.is_ok(), "{read:?}");
}
