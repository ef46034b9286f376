//! The read side: a consistent snapshot of the store (a redb read transaction). Readers never
//! wait for the writer. Every method costs in proportion to what it returns.

use std::cell::OnceCell;
use std::ops::{ControlFlow, RangeInclusive};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use super::error::{Result, StoreError};
use super::records::{AccountRecord, BlobRecord, ChangeRecord, MailboxRecord, MessageRecord, flag};
use super::schema::*;
use super::write::canonical_name;

/// Message records decoded by readers since the process started: a diagnostic that shows what a
/// command touched (`applianced stats`; the QRESYNC test checks a resync reads only the changes).
static RECORDS_READ: AtomicU64 = AtomicU64::new(0);

/// Message records read so far by this process.
pub fn records_read() -> u64 {
    RECORDS_READ.load(Ordering::Relaxed)
}

fn decode_message(bytes: &[u8]) -> Result<MessageRecord> {
    RECORDS_READ.fetch_add(1, Ordering::Relaxed);
    MessageRecord::decode(bytes)
}

/// A table of (id, number) keys and byte values: messages, and a blob's chunks and tail.
type PairTable = ReadOnlyTable<(u64, u32), &'static [u8]>;
/// A table opened at most once per snapshot; `None` inside when a fresh file lacks it.
type Cached<T> = OnceCell<Option<T>>;

/// A snapshot of the store.
pub struct Reader {
    txn: ReadTransaction,
    /// The tables a FETCH reads per message, opened once per snapshot: opening a table is a
    /// lookup in redb's table tree, as costly as the record lookup itself.
    messages: Cached<PairTable>,
    blobs: Cached<ReadOnlyTable<u64, &'static [u8]>>,
    chunks: Cached<PairTable>,
    tails: Cached<PairTable>,
}

/// Opens a table that may not exist yet in a fresh file (then every lookup is empty).
fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: redb::TableDefinition<K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>> {
    match txn.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The table in `cell`, opened on first use.
fn cached<'a, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    cell: &'a Cached<ReadOnlyTable<K, V>>,
    def: redb::TableDefinition<K, V>,
) -> Result<Option<&'a ReadOnlyTable<K, V>>> {
    if cell.get().is_none() {
        let _ = cell.set(open(txn, def)?);
    }
    Ok(cell.get().and_then(Option::as_ref))
}

impl Reader {
    pub(super) fn new(txn: ReadTransaction) -> Self {
        Reader {
            txn,
            messages: OnceCell::new(),
            blobs: OnceCell::new(),
            chunks: OnceCell::new(),
            tails: OnceCell::new(),
        }
    }

    fn messages_table(&self) -> Result<Option<&PairTable>> {
        cached(&self.txn, &self.messages, MESSAGES)
    }

    fn blobs_table(&self) -> Result<Option<&ReadOnlyTable<u64, &'static [u8]>>> {
        cached(&self.txn, &self.blobs, BLOBS)
    }

    pub fn account_id(&self, name: &str) -> Result<u64> {
        let key = name.to_ascii_lowercase();
        let t = open(&self.txn, ACCOUNT_BY_NAME)?.ok_or(StoreError::NoSuchAccount)?;
        t.get(key.as_str())?.map(|v| v.value()).ok_or(StoreError::NoSuchAccount)
    }

    /// Where mail for `addr` goes (see [`super::address::resolve`]).
    pub fn resolve(&self, addr: &str) -> Result<super::address::Route> {
        let accounts = open(&self.txn, ACCOUNT_BY_NAME)?;
        let aliases = open(&self.txn, ALIASES)?;
        super::address::resolve(
            addr,
            |a| match &accounts {
                Some(t) => Ok(t.get(a)?.map(|v| v.value())),
                None => Ok(None),
            },
            |a| match &aliases {
                Some(t) => Ok(t.get(a)?.map(|v| v.value().to_string())),
                None => Ok(None),
            },
        )
    }

    /// Every alias (and catch-all) with its target, sorted.
    pub fn aliases(&self) -> Result<Vec<(String, String)>> {
        let Some(t) = open(&self.txn, ALIASES)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.iter()? {
            let (k, v) = e?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
    }

    /// Every domain, sorted.
    pub fn domains(&self) -> Result<Vec<String>> {
        let Some(t) = open(&self.txn, DOMAINS)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.iter()? {
            out.push(e?.0.value().to_string());
        }
        Ok(out)
    }

    pub fn account(&self, id: u64) -> Result<AccountRecord> {
        let t = open(&self.txn, ACCOUNTS)?.ok_or(StoreError::NoSuchAccount)?;
        let v = t.get(id)?.ok_or(StoreError::NoSuchAccount)?;
        AccountRecord::decode(v.value())
    }

    /// Every account, by address.
    pub fn accounts(&self) -> Result<Vec<(u64, AccountRecord)>> {
        let Some(t) = open(&self.txn, ACCOUNT_BY_NAME)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.iter()? {
            let id = e?.1.value();
            out.push((id, self.account(id)?));
        }
        Ok(out)
    }

    pub fn mailbox_id(&self, account: u64, name: &str) -> Result<u64> {
        let t = open(&self.txn, MAILBOX_BY_NAME)?.ok_or(StoreError::NoSuchMailbox)?;
        t.get((account, canonical_name(name)))?.map(|v| v.value()).ok_or(StoreError::NoSuchMailbox)
    }

    pub fn mailbox(&self, id: u64) -> Result<MailboxRecord> {
        let t = open(&self.txn, MAILBOXES)?.ok_or(StoreError::NoSuchMailbox)?;
        let v = t.get(id)?.ok_or(StoreError::NoSuchMailbox)?;
        MailboxRecord::decode(v.value())
    }

    /// An account's subscribed names (RFC 9051 §6.3.7), sorted, whether their mailboxes exist
    /// or not; at most `limits.max_mailboxes` of them (the writer's cap).
    pub fn subscriptions(&self, account: u64) -> Result<Vec<String>> {
        let Some(t) = open(&self.txn, SUBSCRIPTIONS)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((account, "")..(account.saturating_add(1), ""))? {
            out.push(e?.0.value().1.to_string());
        }
        Ok(out)
    }

    /// Whether `name` is subscribed.
    pub fn is_subscribed(&self, account: u64, name: &str) -> Result<bool> {
        let Some(t) = open(&self.txn, SUBSCRIPTIONS)? else { return Ok(false) };
        Ok(t.get((account, canonical_name(name)))?.is_some())
    }

    /// The database's sync key (format 3, [`SECRETS`]).
    pub fn sync_key(&self) -> Result<[u8; 32]> {
        let missing = || StoreError::Corrupt("the sync key is missing".into());
        let t = open(&self.txn, SECRETS)?.ok_or_else(missing)?;
        let v = t.get("sync_key")?.ok_or_else(missing)?;
        v.value().try_into().map_err(|_| StoreError::Corrupt("the sync key is not 32 octets".into()))
    }

    /// An account's mailboxes, sorted by name.
    pub fn mailboxes(&self, account: u64) -> Result<Vec<(u64, MailboxRecord)>> {
        let Some(t) = open(&self.txn, MAILBOX_BY_NAME)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((account, "")..)? {
            let (k, v) = e?;
            if k.value().0 != account {
                break;
            }
            let id = v.value();
            out.push((id, self.mailbox(id)?));
        }
        Ok(out)
    }

    pub fn message(&self, mailbox: u64, uid: u32) -> Result<Option<MessageRecord>> {
        let Some(t) = self.messages_table()? else { return Ok(None) };
        match t.get((mailbox, uid))? {
            Some(v) => Ok(Some(decode_message(v.value())?)),
            None => Ok(None),
        }
    }

    /// Visits the messages whose UIDs fall in `uids`, in UID order, until `f` breaks.
    pub fn scan(
        &self,
        mailbox: u64,
        uids: RangeInclusive<u32>,
        mut f: impl FnMut(u32, MessageRecord) -> ControlFlow<()>,
    ) -> Result<()> {
        let Some(t) = self.messages_table()? else { return Ok(()) };
        for e in t.range((mailbox, *uids.start())..=(mailbox, *uids.end()))? {
            let (k, v) = e?;
            if f(k.value().1, decode_message(v.value())?).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Visits the messages whose UIDs fall in `uids` with the highest UIDs first (newest
    /// first), until `f` breaks.
    pub fn scan_rev(
        &self,
        mailbox: u64,
        uids: RangeInclusive<u32>,
        mut f: impl FnMut(u32, MessageRecord) -> ControlFlow<()>,
    ) -> Result<()> {
        let Some(t) = self.messages_table()? else { return Ok(()) };
        for e in t.range((mailbox, *uids.start())..=(mailbox, *uids.end()))?.rev() {
            let (k, v) = e?;
            if f(k.value().1, decode_message(v.value())?).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The UID of the mailbox's first message without `\Seen`, given `unseen`, how many it has
    /// (its record's count), reading at most `budget` message records; `None` when there is
    /// none or the budget ran out.
    ///
    /// The store keeps no index of unseen messages, so this is a scan from both ends at once:
    /// forwards it stops at the first unseen message; backwards it counts unseen messages and
    /// stops at the `unseen`-th, which is the first. It costs twice the distance of the first
    /// unseen message from the nearer end, so an old unread message or a few new ones are
    /// found at once; a mailbox whose first unseen message sits in the middle of a long run of
    /// seen ones needs the budget's bound. Finding it in O(log n) whatever the mailbox would
    /// need a table of unseen UIDs per mailbox, kept by every flag change: a format change.
    pub fn first_unseen(&self, mailbox: u64, unseen: u32, budget: usize) -> Result<Option<u32>> {
        if unseen == 0 {
            return Ok(None);
        }
        let Some(t) = self.messages_table()? else { return Ok(None) };
        let mut forwards = t.range((mailbox, 0)..=(mailbox, u32::MAX))?;
        let mut backwards = t.range((mailbox, 0)..=(mailbox, u32::MAX))?.rev();
        let mut counted = 0;
        for _ in 0..budget.div_ceil(2) {
            let Some(e) = forwards.next() else { return Ok(None) };
            let (k, v) = e?;
            if decode_message(v.value())?.flags & flag::SEEN == 0 {
                return Ok(Some(k.value().1));
            }
            let Some(e) = backwards.next() else { return Ok(None) };
            let (k, v) = e?;
            if decode_message(v.value())?.flags & flag::SEEN == 0 {
                counted += 1;
                if counted == unseen {
                    return Ok(Some(k.value().1));
                }
            }
        }
        Ok(None)
    }

    /// The live UIDs of a mailbox as ascending runs of (first UID, count): as many reads as the
    /// mailbox has holes, not messages (format 2's [`UID_RUNS`]).
    pub fn uid_runs(&self, mailbox: u64) -> Result<Vec<(u32, u32)>> {
        let Some(t) = open(&self.txn, UID_RUNS)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            let (k, v) = e?;
            out.push((k.value().1, v.value()));
        }
        Ok(out)
    }

    /// All UIDs of a mailbox, ascending.
    pub fn uids(&self, mailbox: u64) -> Result<Vec<u32>> {
        let Some(t) = self.messages_table()? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            out.push(e?.0.value().1);
        }
        Ok(out)
    }

    /// Live messages changed (added or flagged) after `modseq`, as (UID, MODSEQ) in MODSEQ order.
    /// Costs in proportion to the number of changes, not the mailbox (RFC 7162 CHANGEDSINCE).
    pub fn changed_since(&self, mailbox: u64, modseq: u64) -> Result<Vec<(u32, u64)>> {
        let Some(t) = open(&self.txn, MODSEQ_INDEX)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((mailbox, modseq.saturating_add(1))..=(mailbox, u64::MAX))? {
            let (k, v) = e?;
            out.push((v.value(), k.value().1));
        }
        Ok(out)
    }

    /// At most `limit` entries of the MODSEQ index after `modseq`, as (MODSEQ, UID) in MODSEQ
    /// order: the live messages changed since, a window at a time.
    pub fn modseq_entries_since(&self, mailbox: u64, modseq: u64, limit: usize) -> Result<Vec<(u64, u32)>> {
        self.modseq_range(MODSEQ_INDEX, mailbox, modseq, limit)
    }

    /// At most `limit` tombstones after `modseq`, as (MODSEQ, UID) in MODSEQ order.
    pub fn tombstones_since(&self, mailbox: u64, modseq: u64, limit: usize) -> Result<Vec<(u64, u32)>> {
        self.modseq_range(TOMBSTONES, mailbox, modseq, limit)
    }

    fn modseq_range(
        &self,
        table: redb::TableDefinition<(u64, u64), u32>,
        mailbox: u64,
        modseq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>> {
        let Some(t) = open(&self.txn, table)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((mailbox, modseq.saturating_add(1))..=(mailbox, u64::MAX))?.take(limit) {
            let (k, v) = e?;
            out.push((k.value().1, v.value()));
        }
        Ok(out)
    }

    /// UIDs expunged after `modseq` (RFC 7162 VANISHED), ascending.
    pub fn vanished_since(&self, mailbox: u64, modseq: u64) -> Result<Vec<u32>> {
        let Some(t) = open(&self.txn, TOMBSTONES)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for e in t.range((mailbox, modseq.saturating_add(1))..=(mailbox, u64::MAX))? {
            out.push(e?.1.value());
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The account's change log after change number `since`. `None` when the bounded log no longer
    /// reaches back that far: the caller must resynchronise in full.
    pub fn account_changes_since(
        &self,
        account: u64,
        since: u64,
    ) -> Result<Option<Vec<(u64, ChangeRecord)>>> {
        let last = self.account(account)?.last_change;
        let Some(t) = open(&self.txn, CHANGES)? else { return Ok(Some(Vec::new())) };
        let oldest = match t.range((account, 0)..=(account, u64::MAX))?.next() {
            Some(e) => e?.0.value().1,
            None => last + 1,
        };
        if since + 1 < oldest && since < last {
            return Ok(None);
        }
        let mut out = Vec::new();
        for e in t.range((account, since + 1)..=(account, u64::MAX))? {
            let (k, v) = e?;
            out.push((k.value().1, ChangeRecord::decode(v.value())?));
        }
        // The range must start right after `since`: a file whose log was trimmed with a hole
        // (before the trimming removed every old entry) must not pass for complete.
        if since < last && out.first().is_none_or(|(n, _)| *n != since + 1) {
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// At most `limit` entries of the account's change log after `since`, in order: the
    /// bounded read of a backchannel step (docs/mapi-extension.md §5.3), which never holds more
    /// than one batch of the log. When the entry `since + 1` is no longer in the log (trimmed,
    /// or never there), nothing is returned but the number of the last change lost: the one
    /// before the oldest entry after `since`, or the account's last when none is left.
    pub fn account_changes_after(&self, account: u64, since: u64, limit: usize) -> Result<LogRead> {
        let last = self.account(account)?.last_change;
        let mut read = LogRead { last, lost_to: None, entries: Vec::new() };
        if since >= last {
            return Ok(read);
        }
        let Some(t) = open(&self.txn, CHANGES)? else {
            read.lost_to = Some(last);
            return Ok(read);
        };
        for e in t.range((account, since + 1)..=(account, u64::MAX))?.take(limit.max(1)) {
            let (k, v) = e?;
            let n = k.value().1;
            if read.entries.is_empty() && n != since + 1 {
                read.lost_to = Some(n - 1);
                return Ok(read);
            }
            read.entries.push((n, ChangeRecord::decode(v.value())?));
        }
        if read.entries.is_empty() {
            read.lost_to = Some(last);
        }
        Ok(read)
    }

    pub fn blob(&self, blob: u64) -> Result<BlobRecord> {
        let t = self.blobs_table()?.ok_or_else(|| StoreError::Corrupt(format!("blob {blob} missing")))?;
        let v = t.get(blob)?.ok_or_else(|| StoreError::Corrupt(format!("blob {blob} missing")))?;
        BlobRecord::decode(v.value())
    }

    /// Bytes `range` of a message (clamped to its size), reading only the chunks that hold them.
    pub fn blob_bytes(&self, blob: u64, start: usize, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(64 << 20));
        self.blob_bytes_into(blob, start, len, &mut out)?;
        Ok(out)
    }

    /// [`Reader::blob_bytes`], appended to `out` (CATENATE builds a message so, with no copy).
    pub fn blob_bytes_into(&self, blob: u64, start: usize, len: usize, out: &mut Vec<u8>) -> Result<()> {
        let end = start.saturating_add(len);
        let first = u32::try_from(start / CHUNK_SIZE).unwrap_or(u32::MAX);
        // The full chunks, then the tail (format 2), with the same keys: every chunk of the
        // second table comes after every chunk of the first.
        for (cell, def) in [(&self.chunks, BLOB_CHUNKS), (&self.tails, BLOB_TAILS)] {
            let Some(t) = cached(&self.txn, cell, def)? else { continue };
            for e in t.range((blob, first)..=(blob, u32::MAX))? {
                let (k, v) = e?;
                let base = k.value().1 as usize * CHUNK_SIZE;
                if base >= end {
                    break;
                }
                let chunk = v.value();
                let from = start.saturating_sub(base).min(chunk.len());
                let to = (end - base).min(chunk.len());
                out.extend_from_slice(&chunk[from..to]);
            }
        }
        Ok(())
    }

    /// A message's whole raw bytes.
    pub fn raw(&self, blob: u64) -> Result<Vec<u8>> {
        self.blob_bytes(blob, 0, usize::MAX)
    }

    /// Recounts a mailbox and checks it against its counters and indexes; an `Err` names the
    /// first mismatch. Costs a full scan: for tests and `applianced check`, never for IMAP.
    pub fn verify_mailbox(&self, mailbox: u64) -> Result<std::result::Result<(), String>> {
        let rec = self.mailbox(mailbox)?;
        let (mut exists, mut unseen, mut deleted, mut size) = (0u32, 0u32, 0u32, 0u64);
        let mut modseqs = Vec::new();
        let mut max_uid = 0;
        self.scan(mailbox, 1..=u32::MAX, |uid, m| {
            exists += 1;
            if m.flags & flag::SEEN == 0 {
                unseen += 1;
            }
            if m.flags & flag::DELETED != 0 {
                deleted += 1;
            }
            size += u64::from(m.size);
            modseqs.push((m.modseq, uid));
            max_uid = uid;
            ControlFlow::Continue(())
        })?;
        let counted = (exists, unseen, deleted, size);
        let kept = (rec.exists, rec.unseen, rec.deleted, rec.size);
        if counted != kept {
            return Ok(Err(format!("counters {kept:?} but recount {counted:?}")));
        }
        let mut from_runs = Vec::new();
        for (first, count) in self.uid_runs(mailbox)? {
            from_runs.extend((0..count).map(|k| first + k));
        }
        if from_runs != self.uids(mailbox)? {
            return Ok(Err("UID runs do not match the messages".into()));
        }
        if max_uid >= rec.uidnext {
            return Ok(Err(format!("UID {max_uid} at or above UIDNEXT {}", rec.uidnext)));
        }
        let mut index: Vec<(u64, u32)> =
            self.changed_since(mailbox, 0)?.into_iter().map(|(uid, m)| (m, uid)).collect();
        modseqs.sort_unstable();
        index.sort_unstable();
        if modseqs != index {
            return Ok(Err("MODSEQ index does not match the messages".into()));
        }
        if let Some(&(m, _)) = modseqs.last()
            && m > rec.highest_modseq
        {
            return Ok(Err(format!("MODSEQ {m} above HIGHESTMODSEQ {}", rec.highest_modseq)));
        }
        Ok(Ok(()))
    }
}

/// What [`Reader::account_changes_after`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRead {
    /// The account's last change number in this snapshot.
    pub last: u64,
    /// The log no longer holds the next change: changes up to this number are lost.
    pub lost_to: Option<u64>,
    /// The entries read, consecutive from `since + 1`.
    pub entries: Vec<(u64, ChangeRecord)>,
}
