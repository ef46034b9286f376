//! Online backup: a consistent copy of the whole database into a new redb file, taken from one
//! read snapshot while the server goes on delivering. The copy is written in batches (so memory
//! stays bounded on a large store) and made durable at the end.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::error::{Result, StoreError};
use super::schema::*;

/// Entries copied per intermediate commit of the destination.
const BATCH: usize = 20_000;

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &redb::ReadTransaction,
    dst: &Database,
    def: TableDefinition<K, V>,
) -> Result<u64>
where
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
{
    let table = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut copied = 0u64;
    let mut iter = table.iter()?;
    loop {
        let mut txn = dst.begin_write()?;
        txn.set_durability(Durability::None).map_err(|e| StoreError::Storage(e.to_string()))?;
        let mut in_batch = 0;
        {
            let mut out = txn.open_table(def)?;
            while in_batch < BATCH {
                let Some(e) = iter.next() else { break };
                let (k, v) = e?;
                out.insert(k.value(), v.value())?;
                in_batch += 1;
            }
        }
        copied += in_batch as u64;
        let done = in_batch < BATCH;
        txn.commit()?;
        if done {
            return Ok(copied);
        }
    }
}

/// Copies every table of `db` (as of one snapshot) into a new database file at `dest`.
pub fn backup(db: &Database, dest: &Path) -> Result<u64> {
    // The copy holds every mailbox and password hash: created private (0600) whatever the
    // umask, and new, so that no existing file is overwritten or keeps a wider mode.
    match crate::files::create_new(dest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::NotAllowed("the backup file exists already"));
        }
        Err(e) => return Err(e.into()),
    }
    let copied = copy_all(db, dest);
    if copied.is_err() {
        // A partial copy is no backup: leave nothing that looks like one.
        let _ = std::fs::remove_file(dest);
    }
    copied
}

fn copy_all(db: &Database, dest: &Path) -> Result<u64> {
    let snapshot = db.begin_read()?;
    // redb initialises the empty file as a new database.
    let out = Database::create(dest)?;
    let mut n = 0;
    n += copy_table(&snapshot, &out, META)?;
    n += copy_table(&snapshot, &out, ACCOUNT_BY_NAME)?;
    n += copy_table(&snapshot, &out, ACCOUNTS)?;
    n += copy_table(&snapshot, &out, MAILBOX_BY_NAME)?;
    n += copy_table(&snapshot, &out, MAILBOXES)?;
    n += copy_table(&snapshot, &out, MESSAGES)?;
    n += copy_table(&snapshot, &out, UID_RUNS)?;
    n += copy_table(&snapshot, &out, MODSEQ_INDEX)?;
    n += copy_table(&snapshot, &out, TOMBSTONES)?;
    n += copy_table(&snapshot, &out, BLOBS)?;
    n += copy_table(&snapshot, &out, BLOB_REFS)?;
    n += copy_table(&snapshot, &out, BLOB_CHUNKS)?;
    n += copy_table(&snapshot, &out, BLOB_TAILS)?;
    n += copy_table(&snapshot, &out, CHANGES)?;
    n += copy_table(&snapshot, &out, ALIASES)?;
    n += copy_table(&snapshot, &out, DOMAINS)?;
    n += copy_table(&snapshot, &out, SUBSCRIPTIONS)?;
    n += copy_table(&snapshot, &out, SECRETS)?;
    // One durable commit at the end makes everything before it durable too.
    let mut txn = out.begin_write()?;
    txn.set_durability(Durability::Immediate).map_err(|e| StoreError::Storage(e.to_string()))?;
    txn.commit()?;
    Ok(n)
}
