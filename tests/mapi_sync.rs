//! XSYNC's run (docs/mapi-extension.md §7, Appendix A) against a real store: a client that
//! applies what the batches say by §10's rules, cut after random batches and resumed from its
//! last state while the folder changes between runs, ends holding exactly the folder; a cut
//! costs at most the window in flight; a first sync is newest first.

use std::collections::BTreeMap;
use std::sync::Arc;

use applianced::events::Hub;
use applianced::imap::fetchdata;
use applianced::mapi::state::FolderState;
use applianced::mapi::summary::Fields;
use applianced::mapi::sync::{Run, RunError};
use applianced::store::{FlagOp, NewMessage, Store, StoreOptions, flag};
use proptest::prelude::*;

#[path = "support/tempdir.rs"]
mod tempdir;

struct Folder {
    _dir: tempdir::Dir,
    store: Store,
    account: u64,
    mailbox: u64,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempdir::Dir::new();
        let store = Store::open(&dir.path().join("t.redb"), &StoreOptions::default(), Arc::new(Hub::new()))
            .expect("open");
        let (account, mailbox) = store
            .write_blocking(|t| {
                let a = t.create_account("m@x.test", "h", &[])?;
                Ok((a, t.mailbox_id(a, "INBOX")?))
            })
            .expect("account");
        Folder { _dir: dir, store, account, mailbox }
    }

    fn deliver(&self, n: usize, seed: usize) {
        let mailbox = self.mailbox;
        self.store
            .write_blocking(move |t| {
                for i in 0..n {
                    let raw =
                        format!("From: Sender {i} <s{i}@x.test>\r\nSubject: m{seed}-{i}\r\n\r\nbody\r\n");
                    let fd = fetchdata::compute(raw.as_bytes()).expect("mail").encode();
                    let blob = t.put_blob(raw.as_bytes(), &fd)?;
                    let flags = if (seed + i).is_multiple_of(3) { flag::SEEN } else { 0 };
                    let m = NewMessage { blob, flags, keywords: vec![], internal_date: 0, tz_minutes: 0 };
                    t.append(mailbox, &m)?;
                }
                Ok(())
            })
            .expect("deliver");
    }

    fn uids(&self) -> Vec<u32> {
        self.store.read().expect("read").uids(self.mailbox).expect("uids")
    }

    fn flag(&self, pick: usize, on: bool) {
        let uids = self.uids();
        if uids.is_empty() {
            return;
        }
        let (mailbox, uid) = (self.mailbox, uids[pick % uids.len()]);
        let op = if on { FlagOp::Add } else { FlagOp::Remove };
        self.store
            .write_blocking(move |t| t.store_flags(mailbox, uid, op, flag::FLAGGED, &[], None))
            .expect("flag");
    }

    fn expunge(&self, pick: usize) {
        let uids = self.uids();
        if uids.is_empty() {
            return;
        }
        let (mailbox, uid) = (self.mailbox, uids[pick % uids.len()]);
        self.store.write_blocking(move |t| t.expunge(mailbox, uid)).expect("expunge");
    }

    /// The folder as the server holds it: UID → (flags, MODSEQ).
    fn truth(&self) -> BTreeMap<u32, (u8, u64)> {
        let r = self.store.read().expect("read");
        let mut out = BTreeMap::new();
        for uid in r.uids(self.mailbox).expect("uids") {
            let m = r.message(self.mailbox, uid).expect("read").expect("live");
            out.insert(uid, (m.flags, m.modseq));
        }
        out
    }
}

/// A client replica of one folder, by §10's rules.
#[derive(Default)]
struct Replica {
    msgs: BTreeMap<u32, (u8, u64)>,
    tombstones: BTreeMap<u32, u64>,
    state: Option<String>,
    complete: bool,
    /// Full summaries received, per UID (to count what a cut sent twice).
    full: BTreeMap<u32, usize>,
    order: Vec<u32>,
}

fn flags_of(list: &str) -> u8 {
    let mut f = 0;
    for (name, bit) in [("\\Seen", flag::SEEN), ("\\Flagged", flag::FLAGGED), ("\\Deleted", flag::DELETED)] {
        if list.split(' ').any(|w| w == name) {
            f |= bit;
        }
    }
    f
}

impl Replica {
    /// Applies one batch: the lines up to and including its XSTATE.
    fn apply(&mut self, batch: &str) {
        for line in batch.split("\r\n").filter(|l| !l.is_empty()) {
            let words: Vec<&str> = line.splitn(4, ' ').collect();
            match words[1] {
                "XMSG" => {
                    let uid: u32 = words[2].parse().expect("uid");
                    let rest = words[3];
                    let flags = flags_of(
                        &rest[rest.find("FLAGS (").expect("flags") + 7..rest.find(')').expect("end")],
                    );
                    let at = rest.find("MODSEQ (").expect("modseq") + 8;
                    let modseq: u64 =
                        rest[at..at + rest[at..].find(')').expect("end")].parse().expect("modseq");
                    let full = rest.contains("XSUBJECT");
                    if full {
                        *self.full.entry(uid).or_default() += 1;
                        self.order.push(uid);
                    }
                    let known = self.msgs.get(&uid).map(|(_, m)| *m);
                    let dead = self.tombstones.get(&uid).is_some_and(|t| *t >= modseq);
                    if dead {
                        continue;
                    }
                    match known {
                        Some(m) if m >= modseq => {}
                        Some(_) => {
                            self.msgs.insert(uid, (flags, modseq));
                        }
                        None => {
                            assert!(full, "§10.2: a partial XMSG for a UID never held: {line}");
                            self.msgs.insert(uid, (flags, modseq));
                        }
                    }
                }
                "XVANISHED" => {
                    let modseq: u64 = words[2].parse().expect("modseq");
                    for part in words[3].split(',') {
                        let (a, b) = match part.split_once(':') {
                            Some((a, b)) => (a.parse::<u32>().expect("a"), b.parse::<u32>().expect("b")),
                            None => (part.parse().expect("uid"), part.parse().expect("uid")),
                        };
                        for uid in a.min(b)..=a.max(b) {
                            self.msgs.remove(&uid);
                            self.tombstones.insert(uid, modseq);
                        }
                    }
                }
                "XSTATE" => {
                    let parts: Vec<&str> = line.split(' ').collect();
                    self.state = Some(parts[2].to_string());
                    self.complete = parts.last() == Some(&"COMPLETE");
                }
                other => panic!("unexpected {other}: {line}"),
            }
        }
    }
}

/// One XSYNC command: batches until the run ends or `cut_after` batches were applied; the batch
/// after those is made and lost (a cut in flight). Returns the batches applied.
fn sync(f: &Folder, rep: &mut Replica, window: usize, cut_after: Option<usize>) -> usize {
    sync_with(f, rep, window, cut_after, |_| {})
}

/// [`sync`], with `between(i)` run after the `i`-th batch was applied (changes made while a
/// run is under way).
fn sync_with(
    f: &Folder,
    rep: &mut Replica,
    window: usize,
    cut_after: Option<usize>,
    mut between: impl FnMut(usize),
) -> usize {
    let r = f.store.read().expect("read");
    let key = r.sync_key().expect("key");
    let rec = r.mailbox(f.mailbox).expect("mailbox");
    let state = match &rep.state {
        None => FolderState::first(rec.uidvalidity, rec.uidnext, rec.highest_modseq),
        Some(s) => FolderState::decode(
            s,
            &key,
            f.account,
            f.mailbox,
            (rec.uidvalidity, rec.uidnext, rec.highest_modseq),
        )
        .expect("a state the server gave is valid"),
    };
    drop(r);
    let mut run = Run::new(state, window);
    let mut applied = 0;
    loop {
        let r = f.store.read().expect("read");
        let mut out = Vec::new();
        let batch = match run.batch(&r, &key, f.account, f.mailbox, Fields::default_set(), false, &mut out) {
            Ok(b) => b,
            Err(RunError::Gone) => panic!("folder gone"),
            Err(RunError::Store(e)) => panic!("{e}"),
        };
        let text = String::from_utf8(out).expect("ascii");
        assert!(
            text.lines().count() <= window + 2,
            "a batch holds at most a window: {}",
            text.lines().count()
        );
        if cut_after == Some(applied) {
            return applied;
        }
        if !text.is_empty() {
            assert!(
                text.trim_end().rsplit("\r\n").next().is_some_and(|l| l.starts_with("* XSTATE")),
                "{text}"
            );
        }
        assert_eq!(batch.stated, !text.is_empty(), "a batch is an XSTATE's worth");
        rep.apply(&text);
        applied += usize::from(batch.stated);
        if batch.done {
            return applied;
        }
        between(applied);
    }
}

#[test]
fn a_first_sync_is_newest_first_and_complete() {
    let f = Folder::new();
    f.deliver(250, 0);
    f.expunge(17);
    let mut rep = Replica::default();
    let batches = sync(&f, &mut rep, 100, None);
    assert_eq!(batches, 3, "249 messages in windows of 100");
    assert!(rep.complete);
    let want: Vec<u32> = f.uids().into_iter().rev().collect();
    assert_eq!(rep.order, want, "newest first, each once");
    assert_eq!(rep.msgs, f.truth());
    // An empty folder: one batch, complete at once.
    let empty = Folder::new();
    let mut rep = Replica::default();
    assert_eq!(sync(&empty, &mut rep, 10, None), 1);
    assert!(rep.complete && rep.msgs.is_empty() && rep.state.is_some());
    // Nothing changed: the next run sends nothing but the same state.
    let before = rep.state.clone();
    assert_eq!(sync(&empty, &mut rep, 10, None), 1);
    assert_eq!(rep.state, before);
    assert!(rep.complete);
}

#[test]
fn a_cut_first_sync_resumes_without_starting_over() {
    let f = Folder::new();
    f.deliver(1000, 1);
    let mut rep = Replica::default();
    // Cut after 3 batches of 100; the fourth was in flight and is lost.
    sync(&f, &mut rep, 100, Some(3));
    assert_eq!(rep.msgs.len(), 300);
    f.deliver(5, 2);
    f.flag(999, true);
    f.expunge(3);
    sync(&f, &mut rep, 100, None);
    assert!(rep.complete);
    assert_eq!(rep.msgs, f.truth());
    let twice = rep.full.values().filter(|n| **n > 1).count();
    assert!(twice <= 100, "at most one window sent twice, got {twice}");
}

/// §7.2: "changes made during a long first sync are delivered afterwards, not lost": new
/// messages, flag changes of messages already sent and of messages not yet sent, and expunges
/// on both sides of the run's position, made between its batches, are all in the replica when
/// the run (one command, at most three cycles) ends.
#[test]
fn changes_during_a_run_reach_the_replica_in_the_same_run() {
    let f = Folder::new();
    f.deliver(500, 3);
    let mut rep = Replica::default();
    sync_with(&f, &mut rep, 50, None, |i| match i {
        1 => f.deliver(7, 4),
        2 => f.flag(499, true),
        3 => f.flag(3, true),
        4 => f.expunge(498),
        5 => f.expunge(10),
        6 => f.deliver(1, 5),
        _ => {}
    });
    assert!(rep.complete);
    assert_eq!(rep.msgs, f.truth());
}

#[derive(Clone, Debug)]
enum Step {
    Deliver(usize),
    Flag(usize, bool),
    Expunge(usize),
    Sync { window: usize, cut_after: Option<usize> },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1..40usize).prop_map(Step::Deliver),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(p, on)| Step::Flag(p, on)),
        2 => any::<usize>().prop_map(Step::Expunge),
        3 => (1..30usize, prop::option::of(0..4usize)).prop_map(|(window, cut_after)| Step::Sync { window, cut_after }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random changes interleaved with runs cut after random batches: a final run leaves the
    /// replica equal to the folder, flags and MODSEQs included.
    #[test]
    fn cut_runs_and_changes_converge(initial in 0..120usize, steps in prop::collection::vec(step(), 1..25)) {
        let f = Folder::new();
        f.deliver(initial, 7);
        let mut rep = Replica::default();
        for (i, s) in steps.into_iter().enumerate() {
            match s {
                Step::Deliver(n) => f.deliver(n, i),
                Step::Flag(p, on) => f.flag(p, on),
                Step::Expunge(p) => f.expunge(p),
                Step::Sync { window, cut_after } => {
                    sync(&f, &mut rep, window, cut_after);
                }
            }
        }
        // To the end, twice over if a change raced (none can here: one thread).
        sync(&f, &mut rep, 50, None);
        prop_assert!(rep.complete);
        prop_assert_eq!(&rep.msgs, &f.truth());
    }
}
