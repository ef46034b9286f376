//! The store against a damaged file (issue 11 part 4): a mailbox whose counters disagree with
//! its messages gets a typed error (`StoreError::Inconsistent`, IMAP `NO [SERVERBUG]`) from the
//! operation that would take a counter below zero, instead of a count wrapped to near 2^32 (in a
//! release build) or a writer thread that panics (in a debug one). The record stays as it was and
//! the writer goes on serving everything else.

use std::sync::Arc;

use applianced::events::Hub;
use applianced::store::{
    DEFAULT_MAILBOXES, FlagOp, MailboxRecord, NewMessage, Store, StoreError, StoreOptions, flag, schema,
};
use redb::ReadableTable;

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(path: &std::path::Path) -> Store {
    Store::open(path, &StoreOptions::default(), Arc::new(Hub::new())).expect("open store")
}

/// Rewrites mailbox `id`'s record, with the store closed, as a damaged file or a faulty
/// version would have left it.
fn damage(path: &std::path::Path, id: u64, f: impl FnOnce(&mut MailboxRecord)) {
    let db = redb::Database::open(path).expect("redb");
    let txn = db.begin_write().expect("txn");
    {
        let mut t = txn.open_table(schema::MAILBOXES).expect("table");
        let mut rec =
            MailboxRecord::decode(t.get(id).expect("get").expect("record").value()).expect("decode");
        f(&mut rec);
        t.insert(id, rec.encode().as_slice()).expect("insert");
    }
    txn.commit().expect("commit");
}

fn mailbox(store: &Store, id: u64) -> MailboxRecord {
    store.read().and_then(|r| r.mailbox(id)).expect("mailbox")
}

#[test]
fn counters_below_zero_are_refused_not_wrapped() {
    let dir = Dir(std::env::temp_dir().join(format!("applianced-integrity-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("dir");
    let path = dir.0.join("t.redb");
    let (inbox, uid) = {
        let store = open(&path);
        let account =
            store.write_blocking(|t| t.create_account("a@b.c", "x", DEFAULT_MAILBOXES)).expect("account");
        let out = store
            .write_blocking(move |t| {
                let inbox = t.mailbox_id(account, "INBOX")?;
                let blob = t.put_blob(b"Subject: s\r\n\r\nbody\r\n", b"")?;
                let msg =
                    NewMessage { blob, flags: 0, keywords: Vec::new(), internal_date: 0, tz_minutes: 0 };
                Ok((inbox, t.append(inbox, &msg)?))
            })
            .expect("append");
        store.close();
        out
    };
    // One unseen message, but the record says none exist and none are unseen.
    damage(&path, inbox, |r| {
        r.exists = 0;
        r.unseen = 0;
        r.size = 0;
    });
    let store = open(&path);
    let before = mailbox(&store, inbox);

    let r = store.write_blocking(move |t| t.expunge(inbox, uid));
    assert!(matches!(r, Err(StoreError::Inconsistent(_))), "EXPUNGE: {r:?}");
    let r = store.write_blocking(move |t| t.store_flags(inbox, uid, FlagOp::Add, flag::SEEN, &[], None));
    assert!(matches!(r, Err(StoreError::Inconsistent(_))), "STORE +FLAGS (\\Seen): {r:?}");
    assert_eq!(mailbox(&store, inbox), before, "the record is left as it was");
    assert!(store.read().and_then(|r| r.message(inbox, uid)).expect("read").is_some(), "and the message");

    // The writer serves on: the \Deleted counter (0, and right) may go up and down again.
    let r = store.write_blocking(move |t| t.store_flags(inbox, uid, FlagOp::Add, flag::DELETED, &[], None));
    assert!(r.is_ok(), "{r:?}");
    let r =
        store.write_blocking(move |t| t.store_flags(inbox, uid, FlagOp::Remove, flag::DELETED, &[], None));
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(mailbox(&store, inbox).deleted, 0);
    // With `deleted` damaged instead, clearing \Deleted is refused the same way.
    store
        .write_blocking(move |t| t.store_flags(inbox, uid, FlagOp::Add, flag::DELETED, &[], None))
        .expect("flag");
    store.close();
    drop(store);
    damage(&path, inbox, |r| r.deleted = 0);
    let store = open(&path);
    let r =
        store.write_blocking(move |t| t.store_flags(inbox, uid, FlagOp::Remove, flag::DELETED, &[], None));
    assert!(matches!(r, Err(StoreError::Inconsistent(_))), "STORE -FLAGS (\\Deleted): {r:?}");
    store.close();
}
