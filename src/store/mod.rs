//! The mail store: one redb database file, ACID and crash safe.
//!
//! The store knows accounts, mailboxes, messages and the numbers IMAP and the MAPI extension sync
//! by (UID, MODSEQ, change numbers), never IMAP syntax: the FETCH data it keeps per message is
//! produced by `imap::fetchdata` at delivery and stored opaquely. Only this module touches redb.
//!
//! * Reads: [`Store::read`] gives a snapshot ([`Reader`]) that never waits for writers.
//! * Writes: [`Store::write`] / [`Store::write_blocking`] send a closure over [`Tables`] to the one
//!   writer thread, which batches concurrent writes into one durable commit (group commit) and
//!   answers each caller after that commit. Committed changes are published to [`crate::events`].
//!
//! The format is described in `docs/storage.md`; every table is in [`schema`].

pub mod address;
mod backup;
mod error;
mod handle;
mod overlay;
pub mod quota;
mod read;
pub mod reads;
pub mod records;
pub mod schema;
mod write;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableTable};

pub use error::{Result, StoreError};
pub use read::{LogRead, Reader, records_read};
pub use reads::{Lane, ReadLimits, Reads};
pub use records::{AccountRecord, ChangeKind, ChangeRecord, MailboxRecord, MessageRecord, SpecialUse, flag};
pub use write::{FlagOp, HIERARCHY_DELIMITER, NewMessage, Tables, canonical_name};

use crate::events::Hub;
use handle::Handle;
use writer::Writer;

/// The mailboxes every new account gets besides INBOX, with their special use (RFC 6154).
pub const DEFAULT_MAILBOXES: &[(&str, SpecialUse)] = &[
    ("Drafts", SpecialUse::Drafts),
    ("Sent", SpecialUse::Sent),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
    ("Archive", SpecialUse::Archive),
];

/// Tunables of the store, from the `[store]` section of the config.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// redb's page cache, in bytes.
    pub cache_size: usize,
    /// Entries kept per account in the change log.
    pub change_log_limit: u64,
    /// Verify every page's checksum on open (slow on big files; `applianced check` does it on demand).
    pub verify_on_open: bool,
    /// Quota limits, enforced on every write that adds a message.
    pub quota: quota::QuotaPolicy,
    /// Free bytes the file system must keep after a write that adds data (0: not checked).
    pub reserve: u64,
    /// Special-use mailboxes a `+tag` address may still deliver into (others get it in INBOX).
    pub subaddress_special_use: Vec<SpecialUse>,
    /// Mailboxes per account, every level counted; creating one more is refused with
    /// [`StoreError::Limit`] (0: no limit).
    pub max_mailboxes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_size: 16 << 20,
            change_log_limit: 100_000,
            verify_on_open: false,
            quota: quota::QuotaPolicy::default(),
            reserve: 16 << 20,
            subaddress_special_use: Vec::new(),
            max_mailboxes: 0,
        }
    }
}

/// The open store. Cheap to share behind an `Arc`.
pub struct Store {
    /// The database file, shared with the writer, which reopens it after a storage failure.
    db: Arc<Handle>,
    writer: Writer,
    /// The writer thread, joined on close so that the last commit finishes before exit.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    hub: Arc<Hub>,
}

/// Where one delivered copy went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub account: u64,
    pub mailbox: u64,
    pub uid: u32,
}

/// Format 1 → 2: builds [`schema::UID_RUNS`] from the keys of every mailbox's messages, in the
/// same transaction that records the new format (a crash leaves the file at format 1).
fn migrate_to_uid_runs(txn: &redb::WriteTransaction) -> Result<usize> {
    use redb::ReadableTable;
    let messages = txn.open_table(schema::MESSAGES)?;
    let mut runs = txn.open_table(schema::UID_RUNS)?;
    let mut current: Option<(u64, u32, u32)> = None;
    let mut mailboxes = 0;
    for e in messages.iter()? {
        let (mailbox, uid) = e?.0.value();
        match current {
            Some((m, first, count))
                if m == mailbox && u64::from(first) + u64::from(count) == u64::from(uid) =>
            {
                current = Some((m, first, count + 1));
            }
            _ => {
                if let Some((m, first, count)) = current {
                    runs.insert((m, first), count)?;
                    mailboxes += usize::from(m != mailbox);
                }
                current = Some((mailbox, uid, 1));
            }
        }
    }
    if let Some((m, first, count)) = current {
        runs.insert((m, first), count)?;
        mailboxes += 1;
    }
    Ok(mailboxes)
}

/// Format 2 → 3: every mailbox record rewritten as version 2 (`last_change` set to its
/// account's last change number, which is safe: "may have changed since any earlier number"),
/// and the subscription byte of the old record moved into [`schema::SUBSCRIPTIONS`]. Returns
/// the mailboxes rewritten and the subscriptions kept.
fn migrate_to_format_3(txn: &redb::WriteTransaction) -> Result<(usize, usize)> {
    use redb::ReadableTable;
    let accounts = txn.open_table(schema::ACCOUNTS)?;
    let mut mailboxes = txn.open_table(schema::MAILBOXES)?;
    let mut subscriptions = txn.open_table(schema::SUBSCRIPTIONS)?;
    let mut old = Vec::new();
    for e in mailboxes.iter()? {
        let (k, v) = e?;
        old.push((k.value(), MailboxRecord::decode_any(v.value())?));
    }
    let now = u64::try_from(crate::clock::unix_now()).unwrap_or(0);
    let mut subscribed = 0;
    let mut last_change = std::collections::HashMap::new();
    for (id, (mut rec, sub)) in old.iter().cloned() {
        rec.last_change = match last_change.entry(rec.account) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => *e.insert(match accounts.get(rec.account)? {
                Some(a) => records::AccountRecord::decode(a.value())?.last_change,
                None => 0,
            }),
        };
        if sub == Some(true) {
            subscriptions.insert((rec.account, rec.name.as_str()), now)?;
            subscribed += 1;
        }
        mailboxes.insert(id, rec.encode().as_slice())?;
    }
    Ok((old.len(), subscribed))
}

/// 32 octets from the operating system's generator, for [`schema::SECRETS`]'s `sync_key`.
fn new_sync_key() -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StoreError::Storage(format!("no random key: {e}")))?;
    Ok(key)
}

impl Store {
    /// Opens the database at `path`, creating it (mode 0600) if it does not exist.
    pub fn open(path: &Path, opts: &StoreOptions, hub: Arc<Hub>) -> Result<Store> {
        let db = Arc::new(Handle::open(path, opts.cache_size, opts.verify_on_open)?);
        Self::init_format(&*db.get()?)?;
        let policy = Arc::new(write::Policy {
            change_log_limit: opts.change_log_limit,
            quota: opts.quota.clone(),
            reserve: opts.reserve,
            subaddress_special_use: opts.subaddress_special_use.clone(),
            max_mailboxes: opts.max_mailboxes,
        });
        let (writer, thread) = Writer::start(db.clone(), hub.clone(), policy);
        Ok(Store { db, writer, thread: Mutex::new(Some(thread)), hub })
    }

    fn init_format(db: &Database) -> Result<()> {
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(schema::META)?;
            let format = meta.get("format")?.map(|v| v.value());
            match format {
                None => {
                    meta.insert("format", schema::FORMAT_VERSION)?;
                }
                Some(v) if v > schema::FORMAT_VERSION => return Err(StoreError::Format(v)),
                Some(v) if v < schema::FORMAT_VERSION => {
                    // One step per version, all in this transaction: a crash leaves the file
                    // at its old format, whole.
                    if v < 2 {
                        let mailboxes = migrate_to_uid_runs(&txn)?;
                        log::info!("database format 1 -> 2: UID runs built for {mailboxes} mailboxes");
                    }
                    let (mailboxes, subscribed) = migrate_to_format_3(&txn)?;
                    log::info!(
                        "database format 2 -> 3: {mailboxes} mailbox records rewritten, \
                         {subscribed} subscriptions kept by name, a sync key made"
                    );
                    meta.insert("format", schema::FORMAT_VERSION)?;
                }
                Some(_) => {}
            }
            let mut secrets = txn.open_table(schema::SECRETS)?;
            if secrets.get("sync_key")?.is_none() {
                secrets.insert("sync_key", new_sync_key()?.as_slice())?;
            }
            // Create every table so that readers of a fresh file find them.
            txn.open_table(schema::ACCOUNT_BY_NAME)?;
            txn.open_table(schema::ACCOUNTS)?;
            txn.open_table(schema::MAILBOX_BY_NAME)?;
            txn.open_table(schema::MAILBOXES)?;
            txn.open_table(schema::MESSAGES)?;
            txn.open_table(schema::UID_RUNS)?;
            txn.open_table(schema::MODSEQ_INDEX)?;
            txn.open_table(schema::TOMBSTONES)?;
            txn.open_table(schema::BLOBS)?;
            txn.open_table(schema::BLOB_REFS)?;
            txn.open_table(schema::BLOB_CHUNKS)?;
            txn.open_table(schema::BLOB_TAILS)?;
            txn.open_table(schema::CHANGES)?;
            txn.open_table(schema::ALIASES)?;
            txn.open_table(schema::DOMAINS)?;
            txn.open_table(schema::SUBSCRIPTIONS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The event hub this store publishes committed changes to.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<Reader> {
        Ok(Reader::new(self.db.begin_read()?))
    }

    /// Applies `f` in the writer's next transaction; returns once it is durable.
    /// `f` may run more than once (when another job of its batch is refused), so it must not
    /// have side effects outside the tables.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Tables<'_>) -> Result<T> + Send + 'static,
    {
        self.writer.submit_async(f).await.wait().await
    }

    /// [`Store::write`] for threads outside the async executor.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Tables<'_>) -> Result<T> + Send + 'static,
    {
        self.writer.submit(f).wait_blocking()
    }

    /// Stores one message once and files a copy in INBOX (or the `+tag` folder) of each
    /// recipient, in one durable commit: one copy per distinct mailbox, however many recipients
    /// reach it (the same address twice, an alias and its account). Returns one answer per
    /// recipient, in order (a duplicate gets its mailbox's answer): an unknown recipient fails alone.
    pub fn deliver_blocking(
        &self,
        recipients: Vec<String>,
        raw: Vec<u8>,
        fetch_data: Vec<u8>,
        internal_date: i64,
    ) -> Result<Vec<Result<Delivered>>> {
        self.write_blocking(move |t| deliver_in(t, &recipients, &raw, &fetch_data, internal_date))
    }

    /// Async form of [`Store::deliver_blocking`].
    pub async fn deliver(
        &self,
        recipients: Vec<String>,
        raw: Vec<u8>,
        fetch_data: Vec<u8>,
        internal_date: i64,
    ) -> Result<Vec<Result<Delivered>>> {
        self.write(move |t| deliver_in(t, &recipients, &raw, &fetch_data, internal_date)).await
    }

    /// Where the file's bytes go: (allocated bytes, bytes of keys and values, fragmented bytes).
    /// Takes (and aborts) a write transaction: for diagnostics, not for hot paths.
    pub fn space(&self) -> Result<(u64, u64, u64)> {
        let txn = self.db.get()?.begin_write()?;
        let stats = txn.stats()?;
        let out = (
            stats.allocated_pages() * stats.page_size() as u64,
            stats.stored_bytes(),
            stats.fragmented_bytes(),
        );
        txn.abort()?;
        Ok(out)
    }

    /// Writes a consistent copy of the whole store to a new file at `dest` while it keeps serving
    /// (one read snapshot); returns the number of entries copied.
    pub fn backup(&self, dest: &Path) -> Result<u64> {
        backup::backup(&*self.db.get()?, dest)
    }

    /// Verifies every page checksum of the file (a full read).
    pub fn check_integrity(path: &Path) -> Result<bool> {
        let mut db = Database::open(path)?;
        Ok(db.check_integrity()?)
    }

    /// Stops the writer after the jobs already queued and waits for its last commit.
    pub fn close(&self) {
        self.writer.close();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

fn deliver_in(
    t: &mut Tables<'_>,
    recipients: &[String],
    raw: &[u8],
    fetch_data: &[u8],
    internal_date: i64,
) -> Result<Vec<Result<Delivered>>> {
    let blob = t.put_blob(raw, fetch_data)?;
    let mut out = Vec::with_capacity(recipients.len());
    // The copies filed so far, by mailbox: a recipient that reaches one of them again gets the
    // same answer, not a second copy. (A failed append is not kept: tried again, it fails the
    // same way.) Few distinct mailboxes per message, so a list is enough.
    let mut filed: Vec<Delivered> = Vec::new();
    for rcpt in recipients {
        let r = t.resolve(rcpt).and_then(|route| {
            let account = route.account;
            // Subaddressing: into the folder named by the tag when it may take it, else INBOX.
            let tagged = match route.folder.as_deref() {
                Some(f) => t.tagged_mailbox(account, f)?,
                None => None,
            };
            let mailbox = match tagged {
                Some(id) => id,
                None => t.mailbox_id(account, "INBOX")?,
            };
            if let Some(d) = filed.iter().find(|d| d.mailbox == mailbox) {
                return Ok(*d);
            }
            let msg = NewMessage { blob, flags: 0, keywords: Vec::new(), internal_date, tz_minutes: 0 };
            let uid = t.append(mailbox, &msg)?;
            let d = Delivered { account, mailbox, uid };
            filed.push(d);
            Ok(d)
        });
        out.push(r);
    }
    t.drop_blob_if_unused(blob)?;
    Ok(out)
}
