//! The backchannel's event stream (docs/mapi-extension.md §5.2-5.6, `mapi::backchannel`)
//! against a real store: random changes in several folders, the stream read in steps of random
//! size while the changes go on; every change after FROM is reported exactly once and in order,
//! or covered by an `XCHANGED` or `XRESYNC`, or omitted under §5.3's rules; `XLIVE` comes once;
//! no step sends more than `burst` message events of one folder.

use std::collections::BTreeMap;
use std::sync::Arc;

use applianced::events::Hub;
use applianced::imap::fetchdata;
use applianced::mapi::backchannel::Stream;
use applianced::mapi::summary::Fields;
use applianced::store::{
    ChangeKind, ChangeRecord, FlagOp, NewMessage, SpecialUse, Store, StoreOptions, flag,
};
use proptest::prelude::*;

#[path = "support/tempdir.rs"]
mod tempdir;

const NAMES: [&str; 4] = ["INBOX", "A", "B", "A/C"];

#[derive(Clone, Debug)]
enum Op {
    Deliver(usize, usize),
    Flag(usize, usize, bool),
    Expunge(usize, usize),
    Create(usize),
    Delete(usize),
    Rename(usize),
    Subscribe(usize, bool),
    /// One step of the stream (live reading while changes go on).
    Step,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, 1..6usize).prop_map(|(f, n)| Op::Deliver(f, n)),
        4 => (0..4usize, any::<usize>(), any::<bool>()).prop_map(|(f, p, on)| Op::Flag(f, p, on)),
        2 => (0..4usize, any::<usize>()).prop_map(|(f, p)| Op::Expunge(f, p)),
        1 => (1..4usize).prop_map(Op::Create),
        1 => (1..4usize).prop_map(Op::Delete),
        1 => (1..4usize).prop_map(Op::Rename),
        1 => (0..4usize, any::<bool>()).prop_map(|(f, on)| Op::Subscribe(f, on)),
        3 => Just(Op::Step),
    ]
}

struct World {
    _dir: tempdir::Dir,
    store: Store,
    account: u64,
    renames: usize,
}

impl World {
    fn new(change_log_limit: u64) -> World {
        let dir = tempdir::Dir::new();
        let opts = StoreOptions { change_log_limit, ..StoreOptions::default() };
        let store = Store::open(&dir.path().join("t.redb"), &opts, Arc::new(Hub::new())).expect("open");
        let account = store.write_blocking(|t| t.create_account("b@x.test", "h", &[])).expect("account");
        World { _dir: dir, store, account, renames: 0 }
    }

    /// Applies an operation; one that cannot apply (no such folder, message) changes nothing.
    fn apply(&mut self, op: &Op) {
        let a = self.account;
        let name = |f: usize| NAMES[f].to_string();
        let _ = match op.clone() {
            Op::Deliver(f, n) => self.store.write_blocking(move |t| {
                let mailbox = t.mailbox_id(a, &name(f))?;
                for i in 0..n {
                    let raw = format!("From: S <s@x.test>\r\nSubject: m{i}\r\n\r\nbody\r\n");
                    let fd = fetchdata::compute(raw.as_bytes()).expect("mail").encode();
                    let blob = t.put_blob(raw.as_bytes(), &fd)?;
                    let m = NewMessage { blob, flags: 0, keywords: vec![], internal_date: 0, tz_minutes: 0 };
                    t.append(mailbox, &m)?;
                }
                Ok(())
            }),
            Op::Flag(f, pick, on) => match self.pick(f, pick) {
                Some((mailbox, uid)) => self.store.write_blocking(move |t| {
                    let op = if on { FlagOp::Add } else { FlagOp::Remove };
                    t.store_flags(mailbox, uid, op, flag::FLAGGED, &[], None).map(|_| ())
                }),
                None => Ok(()),
            },
            Op::Expunge(f, pick) => match self.pick(f, pick) {
                Some((mailbox, uid)) => {
                    self.store.write_blocking(move |t| t.expunge(mailbox, uid).map(|_| ()))
                }
                None => Ok(()),
            },
            Op::Create(f) => self
                .store
                .write_blocking(move |t| t.create_mailbox(a, &name(f), SpecialUse::None).map(|_| ())),
            Op::Delete(f) => self.store.write_blocking(move |t| t.delete_mailbox(a, &name(f))),
            Op::Rename(f) => {
                // There and back: a rename changes a folder's name, then the next gives it back.
                self.renames += 1;
                let (from, to) = if self.renames % 2 == 1 {
                    (name(f), format!("{}-r", name(f)))
                } else {
                    (format!("{}-r", name(f)), name(f))
                };
                self.store.write_blocking(move |t| t.rename_mailbox(a, &from, &to))
            }
            Op::Subscribe(f, on) => self.store.write_blocking(move |t| t.set_subscribed(a, &name(f), on)),
            Op::Step => Ok(()),
        };
    }

    /// A message of folder `f`, if it has one.
    fn pick(&self, f: usize, pick: usize) -> Option<(u64, u32)> {
        let r = self.store.read().expect("read");
        let mailbox = r.mailbox_id(self.account, NAMES[f]).ok()?;
        let uids = r.uids(mailbox).expect("uids");
        uids.get(pick % uids.len().max(1)).map(|u| (mailbox, *u))
    }

    fn log(&self) -> Vec<(u64, ChangeRecord)> {
        let r = self.store.read().expect("read");
        // The oldest kept entry is where the log can be read from.
        let last = r.account(self.account).expect("account").last_change;
        (0..=last)
            .find_map(|since| r.account_changes_since(self.account, since).expect("log"))
            .unwrap_or_default()
    }
}

/// What the stream said, by the change it names.
#[derive(Default, Debug)]
struct Seen {
    /// Event number → (kind word, mailbox, uid).
    events: BTreeMap<u64, (String, u64, u32)>,
    order: Vec<u64>,
    /// (number, mailbox, m1, m2).
    changed: Vec<(u64, u64, u64, u64)>,
    /// The highest XRESYNC number.
    resync: u64,
    live: Vec<u64>,
}

fn mbox(word: &str) -> u64 {
    word.strip_prefix('M').and_then(|d| d.parse().ok()).unwrap_or_else(|| panic!("mailbox {word}"))
}

impl Seen {
    fn take(&mut self, out: &[u8], burst: usize) {
        let text = std::str::from_utf8(out).expect("utf8");
        let mut per_folder: BTreeMap<u64, usize> = BTreeMap::new();
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let w: Vec<&str> = line.split(' ').collect();
            assert_eq!(w[0], "*", "{line}");
            let n: u64 = w[2].parse().expect("number");
            match w[1] {
                "XNEW" | "XFLAGS" | "XEXPUNGE" | "XFOLDER" | "XCHANGED" => {
                    assert!(
                        self.order.last().is_none_or(|p| *p < n),
                        "order: {n} after {:?}",
                        self.order.last()
                    );
                    self.order.push(n);
                    let m = mbox(w[3]);
                    if w[1] == "XCHANGED" {
                        self.changed.push((n, m, w[4].parse().expect("m1"), w[5].parse().expect("m2")));
                    } else {
                        let uid = if w[1] == "XFOLDER" { 0 } else { w[4].parse().expect("uid") };
                        let kind = if w[1] == "XFOLDER" { w[4] } else { w[1] };
                        assert!(self.events.insert(n, (kind.to_string(), m, uid)).is_none(), "twice: {n}");
                    }
                    if w[1] != "XFOLDER" {
                        *per_folder.entry(m).or_default() += 1;
                    }
                }
                "XRESYNC" => self.resync = self.resync.max(n),
                "XLIVE" => self.live.push(n),
                "XCOUNTS" => {}
                other => panic!("unexpected {other}: {line}"),
            }
        }
        for (m, k) in per_folder {
            // The burst's events plus its one XCHANGED.
            assert!(k <= burst + 1, "{k} message events of M{m} in one step (burst {burst})");
        }
    }
}

/// Runs `ops`, stepping the stream where they say and to the end, and checks §5.4.
fn check(ops: &[Op], before: &[Op], batch: usize, burst: usize, change_log_limit: u64) {
    let mut w = World::new(change_log_limit);
    for op in before {
        w.apply(op);
    }
    let from = w.store.read().expect("read").account(w.account).expect("a").last_change / 2;
    let mut stream = Stream::new(w.account, from, Fields::MINIMAL, true, batch, burst);
    let mut seen = Seen::default();
    let step = |w: &World, seen: &mut Seen, stream: &mut Stream| {
        let mut out = Vec::new();
        let s = stream.step(&w.store.read().expect("read"), &mut out).expect("step");
        seen.take(&out, burst);
        s.caught_up
    };
    for op in ops {
        if matches!(op, Op::Step) {
            step(&w, &mut seen, &mut stream);
        } else {
            w.apply(op);
        }
    }
    let mut steps = 0;
    while !step(&w, &mut seen, &mut stream) {
        steps += 1;
        assert!(steps < 10_000, "the stream never catches up");
    }
    assert_eq!(seen.live.len(), 1, "XLIVE once: {:?}", seen.live);
    let log = w.log();
    let last = w.store.read().expect("read").account(w.account).expect("a").last_change;
    assert_eq!(stream.cursor(), last);
    for (i, (n, c)) in log.iter().enumerate() {
        if *n <= from || *n <= seen.resync {
            continue;
        }
        let later = &log[i + 1..];
        let deleted_later =
            later.iter().any(|(_, d)| d.kind == ChangeKind::MailboxDeleted && d.mailbox == c.mailbox);
        let msg_later = later.iter().any(|(_, d)| {
            d.mailbox == c.mailbox
                && d.uid == c.uid
                && matches!(d.kind, ChangeKind::Flags | ChangeKind::Expunged)
        });
        let want = match c.kind {
            ChangeKind::Added => "XNEW",
            ChangeKind::Flags => "XFLAGS",
            ChangeKind::Expunged => "XEXPUNGE",
            ChangeKind::MailboxCreated => "CREATED",
            ChangeKind::MailboxChanged => "CHANGED",
            ChangeKind::MailboxDeleted => "DELETED",
        };
        if let Some((kind, m, uid)) = seen.events.get(n) {
            assert_eq!((kind.as_str(), *m, *uid), (want, c.mailbox, c.uid), "change {n}");
            continue;
        }
        let coalesced = seen
            .changed
            .iter()
            .any(|(k, m, m1, m2)| *m == c.mailbox && *k >= *n && *m1 < c.modseq && c.modseq <= *m2);
        let omitted = match c.kind {
            ChangeKind::Added | ChangeKind::Flags => msg_later || deleted_later,
            ChangeKind::MailboxDeleted => false,
            _ => deleted_later,
        };
        assert!(coalesced || omitted, "change {n} {c:?} neither reported, covered nor omitted by §5.3");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_change_once_in_order_or_covered(
        before in prop::collection::vec(op(), 0..40),
        ops in prop::collection::vec(op(), 0..80),
        batch in 1..12usize,
        burst in 1..6usize,
    ) {
        check(&ops, &before, batch, burst, 100_000);
    }

    #[test]
    fn an_overrun_log_is_covered_by_xresync(
        before in prop::collection::vec(op(), 20..60),
        ops in prop::collection::vec(op(), 0..60),
        batch in 1..12usize,
        burst in 1..6usize,
        limit in 5..20u64,
    ) {
        check(&ops, &before, batch, burst, limit);
    }
}

/// A burst of one folder's changes in one span: `burst` events, then one `XCHANGED` at the
/// place of the last coalesced change, covering the rest by MODSEQ.
#[test]
fn a_burst_is_coalesced_into_xchanged() {
    let mut w = World::new(100_000);
    w.apply(&Op::Deliver(0, 5));
    let from = w.store.read().expect("read").account(w.account).expect("a").last_change;
    for i in 0..5 {
        w.apply(&Op::Flag(0, i, true));
    }
    let mut stream = Stream::new(w.account, from, Fields::MINIMAL, true, 100, 2);
    let mut out = Vec::new();
    assert!(stream.step(&w.store.read().expect("read"), &mut out).expect("step").caught_up);
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with(&format!("* XFLAGS {} ", from + 1)), "{text}");
    assert!(lines[1].starts_with(&format!("* XFLAGS {} ", from + 2)), "{text}");
    // INBOX's MODSEQs: 5 appends then the flags at 7..=11 (1 is the creation).
    let changed: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(&changed[..3], ["*", "XCHANGED", &(from + 5).to_string()], "{text}");
    let (m1, m2): (u64, u64) = (changed[4].parse().expect("m1"), changed[5].parse().expect("m2"));
    let r = w.store.read().expect("read");
    let inbox = r.mailbox_id(w.account, "INBOX").expect("inbox");
    let top = r.mailbox(inbox).expect("rec").highest_modseq;
    assert_eq!((m1, m2), (top - 3, top), "{text}");
    assert!(lines[3].starts_with(&format!("* XCOUNTS {} M{inbox} ", from + 5)), "{text}");
    assert_eq!(lines[4], format!("* XLIVE {}", from + 5));
}
