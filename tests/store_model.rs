//! The store against a simple in-memory model (property tests): after every sequence of
//! operations the store answers as the model does, its counters equal a recount, MODSEQs rise
//! strictly per mailbox, and "changes since N" is exact.

use std::collections::BTreeMap;
use std::sync::Arc;

use applianced::events::Hub;
use applianced::store::{FlagOp, NewMessage, SpecialUse, Store, StoreOptions, flag};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Append { mb: usize, size: usize, flags: u8 },
    Store { mb: usize, pick: usize, op: u8, flags: u8, kw: Option<&'static str> },
    Expunge { mb: usize, pick: usize },
    ExpungeDeleted { mb: usize },
    Copy { from: usize, pick: usize, to: usize },
    Move { from: usize, pick: usize, to: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..3000usize, 0..32u8).prop_map(|(mb, size, flags)| Op::Append { mb, size, flags }),
        3 => (0..3usize, any::<usize>(), 0..3u8, 0..32u8, prop::option::of(prop::sample::select(vec!["work", "$Junk", "later"])))
            .prop_map(|(mb, pick, op, flags, kw)| Op::Store { mb, pick, op, flags, kw }),
        1 => (0..3usize, any::<usize>()).prop_map(|(mb, pick)| Op::Expunge { mb, pick }),
        1 => (0..3usize).prop_map(|mb| Op::ExpungeDeleted { mb }),
        1 => (0..3usize, any::<usize>(), 0..3usize).prop_map(|(from, pick, to)| Op::Copy { from, pick, to }),
        1 => (0..3usize, any::<usize>(), 0..3usize).prop_map(|(from, pick, to)| Op::Move { from, pick, to }),
    ]
}

/// The model: per mailbox, UID → (flags, keywords, bytes).
#[derive(Default, Clone)]
struct ModelBox {
    uidnext: u32,
    msgs: BTreeMap<u32, (u8, Vec<String>, Vec<u8>)>,
}

fn body(seed: usize, size: usize) -> Vec<u8> {
    let mut v = format!("Subject: m{seed}\r\n\r\n").into_bytes();
    v.extend((0..size).map(|i| b'a' + ((i * 31 + seed) % 26) as u8));
    v
}

fn temp_store() -> (tempdir::Dir, Store) {
    let dir = tempdir::Dir::new();
    let store = Store::open(&dir.path().join("t.redb"), &StoreOptions::default(), Arc::new(Hub::new()))
        .expect("open store");
    (dir, store)
}

#[path = "support/tempdir.rs"]
mod tempdir;

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (_dir, store) = temp_store();
    let account = store
        .write_blocking(|t| {
            t.create_account("a@x.test", "h", &[("B", Default::default()), ("C", Default::default())])
        })
        .expect("account");
    let names = ["INBOX", "B", "C"];
    let ids: Vec<u64> = {
        let r = store.read().expect("read");
        names.iter().map(|n| r.mailbox_id(account, n).expect("mailbox")).collect()
    };
    let mut model = vec![ModelBox { uidnext: 1, ..Default::default() }; 3];
    // Per mailbox: the HIGHESTMODSEQ before each operation, to check "changes since" afterwards.
    let mut checkpoints: Vec<Vec<u64>> = vec![Vec::new(); 3];
    let mut last_modseq = [1u64; 3];

    for (seed, op) in ops.into_iter().enumerate() {
        {
            let r = store.read().expect("read");
            for i in 0..3 {
                checkpoints[i].push(r.mailbox(ids[i]).expect("mailbox").highest_modseq);
            }
        }
        let pick = |m: &ModelBox, p: usize| m.msgs.keys().nth(p % m.msgs.len().max(1)).copied();
        match op {
            Op::Append { mb, size, flags } => {
                let raw = body(seed, size);
                let (id, r2) = (ids[mb], raw.clone());
                let uid = store
                    .write_blocking(move |t| {
                        let blob = t.put_blob(&r2, b"meta")?;
                        let m = NewMessage { blob, flags, keywords: vec![], internal_date: 0, tz_minutes: 0 };
                        t.append(id, &m)
                    })
                    .expect("append");
                let m = &mut model[mb];
                prop_assert_eq!(uid, m.uidnext);
                m.uidnext += 1;
                m.msgs.insert(uid, (flags & flag::ALL, vec![], raw));
            }
            Op::Store { mb, pick: p, op, flags, kw } => {
                let Some(uid) = pick(&model[mb], p) else { continue };
                let fop = [FlagOp::Replace, FlagOp::Add, FlagOp::Remove][op as usize];
                let kws: Vec<String> = kw.into_iter().map(String::from).collect();
                let (id, k2) = (ids[mb], kws.clone());
                store.write_blocking(move |t| t.store_flags(id, uid, fop, flags, &k2, None)).expect("store");
                let e = model[mb].msgs.get_mut(&uid).expect("model message");
                match fop {
                    FlagOp::Replace => {
                        e.0 = flags & flag::ALL;
                        e.1 = kws;
                    }
                    FlagOp::Add => {
                        e.0 |= flags & flag::ALL;
                        e.1.extend(kws);
                    }
                    FlagOp::Remove => {
                        e.0 &= !flags;
                        e.1.retain(|k| !kws.contains(k));
                    }
                }
                e.1.sort();
                e.1.dedup();
            }
            Op::Expunge { mb, pick: p } => {
                let Some(uid) = pick(&model[mb], p) else { continue };
                let id = ids[mb];
                prop_assert!(store.write_blocking(move |t| t.expunge(id, uid)).expect("expunge"));
                model[mb].msgs.remove(&uid);
            }
            Op::ExpungeDeleted { mb } => {
                let id = ids[mb];
                let gone = store.write_blocking(move |t| t.expunge_deleted(id, None)).expect("expunge");
                let want: Vec<u32> = model[mb]
                    .msgs
                    .iter()
                    .filter(|(_, m)| m.0 & flag::DELETED != 0)
                    .map(|(u, _)| *u)
                    .collect();
                prop_assert_eq!(&gone, &want);
                for u in want {
                    model[mb].msgs.remove(&u);
                }
            }
            Op::Copy { from, pick: p, to } | Op::Move { from, pick: p, to } => {
                let is_move = matches!(op, Op::Move { .. });
                let Some(uid) = pick(&model[from], p) else { continue };
                let (f, t2) = (ids[from], ids[to]);
                let new = store
                    .write_blocking(move |t| {
                        if is_move { t.move_message(f, uid, t2) } else { t.copy_message(f, uid, t2) }
                    })
                    .expect("copy")
                    .expect("message was there");
                let msg = model[from].msgs[&uid].clone();
                if is_move {
                    model[from].msgs.remove(&uid);
                }
                prop_assert_eq!(new, model[to].uidnext);
                model[to].uidnext += 1;
                model[to].msgs.insert(new, msg);
            }
        }
        // After each operation: the store equals the model, counters equal a recount.
        let r = store.read().expect("read");
        for i in 0..3 {
            let rec = r.mailbox(ids[i]).expect("mailbox");
            prop_assert!(rec.highest_modseq >= last_modseq[i], "HIGHESTMODSEQ went down");
            last_modseq[i] = rec.highest_modseq;
            prop_assert_eq!(r.verify_mailbox(ids[i]).expect("verify"), Ok(()));
            prop_assert_eq!(rec.uidnext, model[i].uidnext);
            let uids = r.uids(ids[i]).expect("uids");
            prop_assert_eq!(&uids, &model[i].msgs.keys().copied().collect::<Vec<_>>());
            // SELECT's first unseen message (RFC 3501 §6.3.1): the model's, within any budget
            // that reaches it from either end, and nothing wrong with a smaller one.
            let first = model[i].msgs.iter().find(|(_, m)| m.0 & flag::SEEN == 0).map(|(u, _)| *u);
            prop_assert_eq!(r.first_unseen(ids[i], rec.unseen, usize::MAX).expect("unseen"), first);
            let small = r.first_unseen(ids[i], rec.unseen, 2).expect("unseen");
            prop_assert!(small.is_none() || small == first, "{small:?} is not {first:?}");
            for (uid, (flags, kws, raw)) in &model[i].msgs {
                let m = r.message(ids[i], *uid).expect("read").expect("present");
                prop_assert_eq!(m.flags, *flags);
                prop_assert_eq!(&m.keywords, kws);
                prop_assert_eq!(&r.raw(m.blob).expect("raw"), raw);
                prop_assert_eq!(m.size as usize, raw.len());
            }
        }
    }

    // "Changes since N" is exact for every checkpoint: changed = live messages whose MODSEQ > N,
    // vanished = every UID expunged after N that is gone.
    let r = store.read().expect("read");
    for i in 0..3 {
        let mut all = Vec::new();
        r.scan(ids[i], 1..=u32::MAX, |uid, m| {
            all.push((uid, m.modseq));
            std::ops::ControlFlow::Continue(())
        })
        .expect("scan");
        let mut seen = std::collections::BTreeSet::new();
        for (_, m) in &all {
            prop_assert!(seen.insert(*m), "two messages share MODSEQ {}", m);
        }
        for &n in &checkpoints[i] {
            let mut got = r.changed_since(ids[i], n).expect("changed");
            got.sort_unstable();
            let mut want: Vec<(u32, u64)> = all.iter().filter(|(_, m)| *m > n).copied().collect();
            want.sort_unstable();
            prop_assert_eq!(got, want);
            for uid in r.vanished_since(ids[i], n).expect("vanished") {
                prop_assert!(!model[i].msgs.contains_key(&uid), "vanished UID {} still present", uid);
            }
        }
        // Every UID ever handed out and now gone is a tombstone.
        let gone: Vec<u32> = (1..model[i].uidnext).filter(|u| !model[i].msgs.contains_key(u)).collect();
        prop_assert_eq!(r.vanished_since(ids[i], 0).expect("vanished"), gone);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run_model(ops)?;
    }
}

#[test]
fn blobs_are_shared_and_freed() {
    let (_dir, store) = temp_store();
    for n in ["a@x.test", "b@x.test"] {
        store.write_blocking(move |t| t.create_account(n, "h", &[])).expect("account");
    }
    let raw = body(1, 5000);
    let res = store
        .deliver_blocking(
            vec!["a@x.test".into(), "b@x.test".into(), "zz@x.test".into()],
            raw.clone(),
            vec![],
            0,
        )
        .expect("deliver");
    assert!(res[0].is_ok() && res[1].is_ok() && res[2].is_err());
    let (a, b) = (res[0].as_ref().expect("a"), res[1].as_ref().expect("b"));
    let r = store.read().expect("read");
    let ma = r.message(a.mailbox, a.uid).expect("read").expect("a's copy");
    let mb = r.message(b.mailbox, b.uid).expect("read").expect("b's copy");
    assert_eq!(ma.blob, mb.blob, "one blob for both recipients");
    assert_eq!(r.blob_bytes(ma.blob, 1000, 3000).expect("range"), raw[1000..4000].to_vec());
    drop(r);
    let (am, au, bm, bu, blob) = (a.mailbox, a.uid, b.mailbox, b.uid, ma.blob);
    store.write_blocking(move |t| t.expunge(am, au)).expect("expunge");
    assert_eq!(store.read().expect("read").raw(blob).expect("raw"), raw, "still referenced by b");
    store.write_blocking(move |t| t.expunge(bm, bu)).expect("expunge");
    assert!(store.read().expect("read").blob(blob).is_err(), "freed with its last reference");
    assert!(store.read().expect("read").raw(blob).expect("raw").is_empty());
}

#[test]
fn change_log_is_bounded_and_reports_when_it_no_longer_reaches() {
    let dir = tempdir::Dir::new();
    let opts = StoreOptions { change_log_limit: 10, ..StoreOptions::default() };
    let store = Store::open(&dir.path().join("t.redb"), &opts, Arc::new(Hub::new())).expect("open");
    let acct = store.write_blocking(|t| t.create_account("a@x.test", "h", &[])).expect("account");
    let start = store.read().expect("read").account(acct).expect("account").last_change;
    for i in 0..25 {
        store.deliver_blocking(vec!["a@x.test".into()], body(i, 10), vec![], 0).expect("deliver");
    }
    let r = store.read().expect("read");
    let last = r.account(acct).expect("account").last_change;
    assert_eq!(last, start + 25);
    let recent = r.account_changes_since(acct, last - 5).expect("read").expect("within the log");
    assert_eq!(recent.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ((last - 4)..=last).collect::<Vec<_>>());
    assert!(r.account_changes_since(acct, start).expect("read").is_none(), "trimmed past: full resync");
    assert_eq!(r.account_changes_since(acct, last).expect("read"), Some(vec![]));
}

#[test]
fn mailbox_hierarchy_rename_and_inbox_rename() {
    let (_dir, store) = temp_store();
    let acct = store.write_blocking(|t| t.create_account("a@x.test", "h", &[])).expect("account");
    store
        .write_blocking(move |t| {
            t.create_mailbox(acct, "Work", Default::default())?;
            t.create_mailbox(acct, "Work/2024", Default::default())?;
            t.create_mailbox(acct, "Workshop", Default::default())
        })
        .expect("create");
    store.deliver_blocking(vec!["a@x.test".into()], body(1, 10), vec![], 0).expect("deliver");
    store.write_blocking(move |t| t.rename_mailbox(acct, "Work", "Jobs")).expect("rename");
    store.write_blocking(move |t| t.rename_mailbox(acct, "inbox", "Old")).expect("rename INBOX");
    let r = store.read().expect("read");
    let names: Vec<String> = r.mailboxes(acct).expect("list").into_iter().map(|(_, m)| m.name).collect();
    assert_eq!(names, ["INBOX", "Jobs", "Jobs/2024", "Old", "Workshop"]);
    let inbox = r.mailbox(r.mailbox_id(acct, "INBOX").expect("inbox")).expect("inbox");
    let old = r.mailbox(r.mailbox_id(acct, "Old").expect("old")).expect("old");
    assert_eq!((inbox.exists, old.exists), (0, 1));
    drop(r);
    let err = store.write_blocking(move |t| t.delete_mailbox(acct, "INBOX")).expect_err("INBOX stays");
    assert!(err.to_string().contains("INBOX"));
    let err =
        store.write_blocking(move |t| t.rename_mailbox(acct, "Jobs", "Jobs/x")).expect_err("into itself");
    assert!(!err.is_temporary());
}

#[test]
fn a_refused_job_leaves_nothing_and_its_batch_mates_commit() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let acct = store.write_blocking(|t| t.create_account("a@x.test", "h", &[])).expect("account");
    let mut handles = Vec::new();
    for i in 0..40u32 {
        let s = store.clone();
        handles.push(std::thread::spawn(move || {
            s.write_blocking(move |t| {
                let mb = t.mailbox_id(acct, "INBOX")?;
                let blob = t.put_blob(format!("Subject: {i}\r\n\r\nx").as_bytes(), b"")?;
                t.append(
                    mb,
                    &NewMessage { blob, flags: 0, keywords: vec![], internal_date: 0, tz_minutes: 0 },
                )?;
                // Every third job fails after writing: it must leave nothing behind.
                if i % 3 == 0 {
                    t.create_mailbox(acct, "INBOX", Default::default()).map(|_| ())
                } else {
                    Ok(())
                }
            })
        }));
    }
    let ok = handles.into_iter().map(|h| h.join().expect("thread")).filter(|r| r.is_ok()).count();
    assert_eq!(ok, 26);
    let r = store.read().expect("read");
    let inbox = r.mailbox_id(acct, "INBOX").expect("inbox");
    assert_eq!(r.mailbox(inbox).expect("mb").exists, 26);
    assert_eq!(r.verify_mailbox(inbox).expect("verify"), Ok(()));
}

#[test]
fn a_delivery_wakes_subscribers_at_once() {
    let (_dir, store) = temp_store();
    let acct = store.write_blocking(|t| t.create_account("a@x.test", "h", &[])).expect("account");
    let other = store.write_blocking(|t| t.create_account("b@x.test", "h", &[])).expect("account");
    let sub = store.hub().subscribe(acct);
    let quiet = store.hub().subscribe(other);
    let started = std::time::Instant::now();
    let resp = applianced::admin::execute(
        &store,
        applianced::admin::Request::Deliver { recipients: vec!["a@x.test".into()], message: body(1, 100) },
    );
    assert_eq!(resp.code, 0, "{resp:?}");
    let change = sub.wait_blocking(std::time::Duration::from_secs(5)).expect("woken");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(change.account, acct);
    assert!(quiet.try_changed().is_none(), "another account's subscriber stays asleep");
}

/// A format-1 file (no UID_RUNS table) is migrated when opened: the runs match every mailbox's
/// UIDs, holes included, and later deliveries and expunges keep them right.
#[test]
fn format_1_file_gets_uid_runs_on_open() {
    use applianced::store::schema;
    use redb::{ReadableDatabase, ReadableTable};
    let dir = tempdir::Dir::new();
    let path = dir.path().join("t.redb");
    let store = Store::open(&path, &StoreOptions::default(), Arc::new(Hub::new())).expect("open");
    let (account, inbox, other) = store
        .write_blocking(|t| {
            let a = t.create_account("m@x.test", "h", &[])?;
            Ok((a, t.mailbox_id(a, "INBOX")?, t.create_mailbox(a, "Other", SpecialUse::None)?))
        })
        .expect("setup");
    store
        .write_blocking(move |t| {
            for i in 0..40 {
                // Sizes around a chunk: short, exactly one chunk, a chunk and a tail.
                let head = format!("Subject: m{i}\r\n\r\n").len();
                let blob = t.put_blob(&body(i, [10, 4072 - head, 9000][i % 3]), b"")?;
                let m = NewMessage { blob, flags: 0, keywords: vec![], internal_date: 0, tz_minutes: 0 };
                t.append(if i % 4 == 0 { other } else { inbox }, &m)?;
            }
            for uid in [1, 5, 6, 7, 30] {
                t.expunge(inbox, uid)?;
            }
            Ok(())
        })
        .expect("fill");
    let want_inbox = store.read().expect("read").uid_runs(inbox).expect("runs");
    assert_eq!(want_inbox, vec![(2, 3), (8, 22)], "runs kept by the writer");
    let raws = |store: &Store| -> Vec<Vec<u8>> {
        let r = store.read().expect("read");
        let mut v = Vec::new();
        for mb in [inbox, other] {
            for uid in r.uids(mb).expect("uids") {
                v.push(r.raw(r.message(mb, uid).expect("msg").expect("present").blob).expect("raw"));
            }
        }
        v
    };
    let want_raws = raws(&store);
    assert!(want_raws.iter().any(|r| r.len() == 4072) && want_raws.iter().any(|r| r.len() > 9000));
    store.close();
    drop(store);
    make_format_2(&path);
    // Make it the file format 1 wrote: no UID_RUNS table, "format" = 1.
    {
        let db = redb::Database::open(&path).expect("raw open");
        let txn = db.begin_write().expect("txn");
        assert!(txn.delete_table(schema::UID_RUNS).expect("delete"));
        // Format 1 kept each message's partial last chunk among the others.
        {
            let tails = txn.open_table(schema::BLOB_TAILS).expect("tails");
            let mut chunks = txn.open_table(schema::BLOB_CHUNKS).expect("chunks");
            for e in tails.iter().expect("iter") {
                let (k, v) = e.expect("entry");
                chunks.insert(k.value(), v.value()).expect("move");
            }
        }
        assert!(txn.delete_table(schema::BLOB_TAILS).expect("delete"));
        txn.open_table(schema::META).expect("meta").insert("format", 1).expect("format");
        txn.commit().expect("commit");
    }
    let store = Store::open(&path, &StoreOptions::default(), Arc::new(Hub::new())).expect("reopen");
    assert_eq!(raws(&store), want_raws, "format-1 blobs read whole");
    let r = store.read().expect("read");
    assert_eq!(r.uid_runs(inbox).expect("runs"), want_inbox);
    assert_eq!(r.uid_runs(other).expect("runs"), vec![(1, 10)]);
    assert_eq!(r.verify_mailbox(inbox).expect("verify"), Ok(()));
    drop(r);
    store
        .write_blocking(move |t| {
            let blob = t.put_blob(&body(99, 10), b"")?;
            let m = NewMessage { blob, flags: 0, keywords: vec![], internal_date: 0, tz_minutes: 0 };
            t.append(inbox, &m)?;
            t.expunge(inbox, 3)?;
            Ok(())
        })
        .expect("more");
    let r = store.read().expect("read");
    // UID 30 was expunged, so 31 starts a run of its own; taking 3 out splits (2, 3).
    assert_eq!(r.uid_runs(inbox).expect("runs"), vec![(2, 1), (4, 1), (8, 22), (31, 1)]);
    assert_eq!(r.verify_mailbox(inbox).expect("verify"), Ok(()));
    drop(r);
    store.close();
    drop(store);
    let db = redb::Database::open(&path).expect("raw open");
    let txn = db.begin_read().expect("txn");
    let format = txn.open_table(schema::META).expect("meta").get("format").expect("get").map(|v| v.value());
    assert_eq!(format, Some(schema::FORMAT_VERSION), "the file now says the current format");
    let _ = account;
}

/// Turns a file of the current format into what format 2 wrote: mailbox records of version 1
/// (no `last_change`, a subscription byte at the end, taken from SUBSCRIPTIONS), no
/// SUBSCRIPTIONS or SECRETS table, "format" = 2.
fn make_format_2(path: &std::path::Path) {
    use applianced::store::{MailboxRecord, schema};
    use redb::ReadableTable;
    let db = redb::Database::open(path).expect("raw open");
    let txn = db.begin_write().expect("txn");
    {
        let subs = txn.open_table(schema::SUBSCRIPTIONS).expect("subscriptions");
        let mut boxes = txn.open_table(schema::MAILBOXES).expect("mailboxes");
        let mut old = Vec::new();
        for e in boxes.iter().expect("iter") {
            let (k, v) = e.expect("entry");
            old.push((k.value(), MailboxRecord::decode(v.value()).expect("record")));
        }
        for (id, rec) in old {
            let subscribed = subs.get((rec.account, rec.name.as_str())).expect("get").is_some();
            let mut v1 = rec.encode();
            v1.truncate(v1.len() - 8);
            v1[0] = 1;
            v1.push(u8::from(subscribed));
            boxes.insert(id, v1.as_slice()).expect("insert");
        }
    }
    assert!(txn.delete_table(schema::SUBSCRIPTIONS).expect("delete"));
    assert!(txn.delete_table(schema::SECRETS).expect("delete"));
    txn.open_table(schema::META).expect("meta").insert("format", 2).expect("format");
    txn.commit().expect("commit");
}

/// A format-2 file is migrated to format 3 when opened: subscriptions move from the mailbox
/// records into SUBSCRIPTIONS by name (and then outlive their mailboxes), every mailbox record
/// gets `last_change` (its account's last change number: "may have changed"), and the file
/// gets a sync key, which `renew_sync_key` (restore) replaces.
#[test]
fn format_2_file_gets_subscriptions_by_name_and_a_sync_key() {
    use applianced::store::schema;
    use redb::ReadableDatabase;
    let dir = tempdir::Dir::new();
    let path = dir.path().join("t.redb");
    let store = Store::open(&path, &StoreOptions::default(), Arc::new(Hub::new())).expect("open");
    let (account, other) = store
        .write_blocking(|t| {
            let a = t.create_account("m@x.test", "h", &[])?;
            t.create_mailbox(a, "Lists/rust", SpecialUse::None)?;
            t.create_mailbox(a, "Quiet", SpecialUse::None)?;
            t.set_subscribed(a, "Quiet", false)?;
            let b = t.create_account("n@x.test", "h", &[])?;
            Ok((a, b))
        })
        .expect("setup");
    let key_before = store.read().expect("read").sync_key().expect("key");
    let last = store.read().expect("read").account(account).expect("account").last_change;
    store.close();
    drop(store);
    make_format_2(&path);
    let store = Store::open(&path, &StoreOptions::default(), Arc::new(Hub::new())).expect("reopen");
    let r = store.read().expect("read");
    assert_eq!(r.subscriptions(account).expect("subs"), vec!["INBOX".to_string(), "Lists/rust".to_string()]);
    assert_eq!(r.subscriptions(other).expect("subs"), vec!["INBOX".to_string()]);
    for (_, rec) in r.mailboxes(account).expect("mailboxes") {
        assert_eq!(rec.last_change, last, "{}: may have changed since any earlier number", rec.name);
    }
    let key = r.sync_key().expect("a new key for a migrated file");
    assert_ne!(key, key_before, "the migration made its own key (the old one was dropped)");
    drop(r);
    // Subscriptions by name: DELETE keeps one, RENAME moves it, UNSUBSCRIBE takes a gone name.
    store
        .write_blocking(move |t| {
            t.delete_mailbox(account, "Lists/rust")?;
            t.rename_mailbox(account, "Quiet", "Loud")?;
            t.set_subscribed(account, "Loud", true)?;
            t.rename_mailbox(account, "Loud", "Louder")?;
            Ok(())
        })
        .expect("changes");
    let r = store.read().expect("read");
    let subs = r.subscriptions(account).expect("subs");
    assert_eq!(subs, vec!["INBOX".to_string(), "Lists/rust".to_string(), "Louder".to_string()]);
    let louder = r.mailbox_id(account, "Louder").expect("id");
    let rec = r.mailbox(louder).expect("rec");
    assert_eq!(
        rec.last_change,
        r.account(account).expect("acct").last_change,
        "the rename was its last change"
    );
    drop(r);
    store
        .write_blocking(move |t| t.set_subscribed(account, "Lists/rust", false))
        .expect("unsubscribe a gone name");
    let gone = store.write_blocking(move |t| t.set_subscribed(account, "Nowhere", false));
    assert!(gone.is_err(), "neither a mailbox nor a subscription: {gone:?}");
    store.write_blocking(|t| t.renew_sync_key()).expect("renew");
    let r = store.read().expect("read");
    assert_ne!(r.sync_key().expect("key"), key, "restore's new key");
    assert_eq!(r.subscriptions(account).expect("subs"), vec!["INBOX".to_string(), "Louder".to_string()]);
    drop(r);
    store.write_blocking(move |t| t.delete_account(account)).expect("delete");
    assert!(store.read().expect("read").subscriptions(account).expect("subs").is_empty());
    store.close();
    drop(store);
    let db = redb::Database::open(&path).expect("raw open");
    let txn = db.begin_read().expect("txn");
    let format = txn.open_table(schema::META).expect("meta").get("format").expect("get").map(|v| v.value());
    assert_eq!(format, Some(3));
}

/// The change log after `change_log_limit` was lowered: the next change trims every entry the
/// new limit leaves out (not only one), and a reader asking for changes since a number the log
/// no longer holds is told so (None), never handed a range with a hole.
#[test]
fn a_lowered_change_log_limit_trims_the_whole_excess() {
    use applianced::store::schema;
    use redb::{ReadableDatabase, ReadableTable};
    let dir = tempdir::Dir::new();
    let path = dir.path().join("t.redb");
    let store = Store::open(&path, &StoreOptions::default(), Arc::new(Hub::new())).expect("open");
    let account = store.write_blocking(|t| t.create_account("m@x.test", "h", &[])).expect("account");
    for i in 0..30 {
        store
            .write_blocking(move |t| t.create_mailbox(account, &format!("m{i}"), SpecialUse::None))
            .expect("create");
    }
    let last = store.read().expect("read").account(account).expect("acct").last_change;
    store.close();
    drop(store);
    let opts = StoreOptions { change_log_limit: 5, ..StoreOptions::default() };
    let store = Store::open(&path, &opts, Arc::new(Hub::new())).expect("reopen");
    store.write_blocking(move |t| t.create_mailbox(account, "one-more", SpecialUse::None)).expect("create");
    let r = store.read().expect("read");
    assert!(r.account_changes_since(account, last - 10).expect("read").is_none(), "trimmed away");
    let tail = r.account_changes_since(account, last - 4).expect("read").expect("held");
    assert_eq!(tail.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (last - 3..=last + 1).collect::<Vec<_>>());
    drop(r);
    store.close();
    drop(store);
    let db = redb::Database::open(&path).expect("raw open");
    let txn = db.begin_read().expect("txn");
    let held = txn.open_table(schema::CHANGES).expect("changes").iter().expect("iter").count();
    assert_eq!(held, 5, "exactly the limit is kept");
}
