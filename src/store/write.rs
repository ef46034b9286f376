//! The write side: every mutation of the store, applied inside one write transaction of the
//! group-commit writer ([`super::writer`]). Each operation checks everything it can fail on
//! before it writes; should it fail anyway, the writer aborts the batch and replays the others,
//! so a failed operation never leaves half its writes behind.

use redb::{ReadableTable, Table, WriteTransaction};

use super::error::{Result, StoreError};
use super::records::{
    AccountRecord, BlobRecord, ChangeKind, ChangeRecord, MailboxRecord, MessageRecord, SpecialUse, flag,
};
use super::schema::*;
use crate::events::Change;

/// The delimiter of mailbox hierarchy levels (`Archive/2024`).
pub const HIERARCHY_DELIMITER: char = '/';

/// The tables of one write transaction, opened once per batch.
pub struct Tables<'txn> {
    meta: Table<'txn, &'static str, u64>,
    account_by_name: Table<'txn, &'static str, u64>,
    accounts: Table<'txn, u64, &'static [u8]>,
    mailbox_by_name: Table<'txn, (u64, &'static str), u64>,
    mailboxes: Table<'txn, u64, &'static [u8]>,
    messages: Table<'txn, (u64, u32), &'static [u8]>,
    uid_runs: Table<'txn, (u64, u32), u32>,
    modseq_index: Table<'txn, (u64, u64), u32>,
    tombstones: Table<'txn, (u64, u64), u32>,
    blobs: Table<'txn, u64, &'static [u8]>,
    blob_refs: Table<'txn, u64, u32>,
    blob_chunks: Table<'txn, (u64, u32), &'static [u8]>,
    blob_tails: Table<'txn, (u64, u32), &'static [u8]>,
    changes: Table<'txn, (u64, u64), &'static [u8]>,
    aliases: Table<'txn, &'static str, &'static str>,
    domains: Table<'txn, &'static str, u64>,
    subscriptions: Table<'txn, (u64, &'static str), u64>,
    secrets: Table<'txn, &'static str, &'static [u8]>,
    /// Mailboxes the current operation logged changes of, with the last change number: written
    /// into their records' `last_change` when the operation ends ([`Tables::finish_operation`]),
    /// once per mailbox rather than once per change.
    last_changes: Vec<(u64, u64)>,
    /// Change-log bound and quota limits.
    policy: &'txn Policy,
    /// Free space of the file system, measured before the batch.
    room: Room,
    /// Bytes the operations of this transaction add (message bytes and records), counted
    /// against `room`.
    added: u64,
    /// The current operation was refused by the free-space reserve: a refusal of the request
    /// (the batch goes on without it), not a failure of the disk.
    pub(super) refused_for_room: bool,
    /// Changes made by the current operation, published to the event hub after the commit.
    pub(super) events: Vec<Change>,
}

/// Rules the writer applies to every operation.
#[derive(Debug, Default)]
pub struct Policy {
    /// Entries kept per account in the change log.
    pub change_log_limit: u64,
    pub quota: super::quota::QuotaPolicy,
    /// Free bytes the file system must keep after an operation that adds data (0: no check).
    /// Operations that add nothing (flags, expunges, deletions) may use the reserve, so that
    /// a user or the admin can still make room.
    pub reserve: u64,
    /// Special-use mailboxes a `+tag` address may deliver into; see [`Tables::tagged_mailbox`].
    pub subaddress_special_use: Vec<SpecialUse>,
    /// Mailboxes an account may have, INBOX and every level of a hierarchy counted (0: no limit).
    pub max_mailboxes: usize,
}

/// The file system's free bytes for unprivileged writers, when known.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Room {
    pub free: Option<u64>,
}

/// What a message record, its UID run and MODSEQ entries and a change-log entry cost on disk,
/// about (a 4 KiB page holds several).
const RECORD_BYTES: u64 = 256;

/// A new message for [`Tables::append`].
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub blob: u64,
    pub flags: u8,
    pub keywords: Vec<String>,
    pub internal_date: i64,
    pub tz_minutes: i16,
}

/// What a flag change does (IMAP STORE's `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    Replace,
    Add,
    Remove,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'txn> Tables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction, policy: &'txn Policy, room: Room) -> Result<Self> {
        Ok(Tables {
            meta: txn.open_table(META)?,
            account_by_name: txn.open_table(ACCOUNT_BY_NAME)?,
            accounts: txn.open_table(ACCOUNTS)?,
            mailbox_by_name: txn.open_table(MAILBOX_BY_NAME)?,
            mailboxes: txn.open_table(MAILBOXES)?,
            messages: txn.open_table(MESSAGES)?,
            uid_runs: txn.open_table(UID_RUNS)?,
            modseq_index: txn.open_table(MODSEQ_INDEX)?,
            tombstones: txn.open_table(TOMBSTONES)?,
            blobs: txn.open_table(BLOBS)?,
            blob_refs: txn.open_table(BLOB_REFS)?,
            blob_chunks: txn.open_table(BLOB_CHUNKS)?,
            blob_tails: txn.open_table(BLOB_TAILS)?,
            changes: txn.open_table(CHANGES)?,
            aliases: txn.open_table(ALIASES)?,
            domains: txn.open_table(DOMAINS)?,
            subscriptions: txn.open_table(SUBSCRIPTIONS)?,
            secrets: txn.open_table(SECRETS)?,
            last_changes: Vec::new(),
            policy,
            room,
            added: 0,
            refused_for_room: false,
            events: Vec::new(),
        })
    }

    /// Counts `bytes` the current operation adds against the free-space reserve: refused (as
    /// [`StoreError::DiskFull`], before anything is written) when less than the reserve would
    /// remain, so that a filling disk is met here rather than by a failed write in redb, which
    /// would cost a reopen of the database (see `store/handle.rs`).
    fn claim_room(&mut self, bytes: u64) -> Result<()> {
        self.added = self.added.saturating_add(bytes);
        let reserve = self.policy.reserve;
        match self.room.free {
            Some(free) if reserve > 0 && free < reserve.saturating_add(self.added) => {
                self.refused_for_room = true;
                Err(StoreError::DiskFull(format!(
                    "{free} bytes free, {} needed with the reserve of {reserve}",
                    reserve.saturating_add(self.added)
                )))
            }
            _ => Ok(()),
        }
    }

    fn next_id(&mut self, counter: &'static str) -> Result<u64> {
        let next = self.meta.get(counter)?.map(|v| v.value()).unwrap_or(1);
        self.meta.insert(counter, next + 1)?;
        Ok(next)
    }

    // ---- accounts ----

    /// The id of an account by its (case-insensitive) address.
    pub fn account_id(&self, name: &str) -> Result<u64> {
        let key = name.to_ascii_lowercase();
        self.account_by_name.get(key.as_str())?.map(|v| v.value()).ok_or(StoreError::NoSuchAccount)
    }

    pub fn account(&self, id: u64) -> Result<AccountRecord> {
        let v = self.accounts.get(id)?.ok_or(StoreError::NoSuchAccount)?;
        AccountRecord::decode(v.value())
    }

    fn put_account(&mut self, id: u64, rec: &AccountRecord) -> Result<()> {
        self.accounts.insert(id, rec.encode().as_slice())?;
        Ok(())
    }

    /// Creates an account with the given mailboxes (name, special use); INBOX is always created.
    pub fn create_account(
        &mut self,
        name: &str,
        password_hash: &str,
        mailboxes: &[(&str, SpecialUse)],
    ) -> Result<u64> {
        let key = name.to_ascii_lowercase();
        if self.account_by_name.get(key.as_str())?.is_some() {
            return Err(StoreError::AccountExists);
        }
        let id = self.next_id("next_account")?;
        self.account_by_name.insert(key.as_str(), id)?;
        let rec = AccountRecord {
            name: key.clone(),
            password_hash: password_hash.to_string(),
            last_change: 0,
            messages: 0,
            bytes: 0,
        };
        self.put_account(id, &rec)?;
        self.create_mailbox(id, "INBOX", SpecialUse::None)?;
        for (mb, special) in mailboxes {
            if !mb.eq_ignore_ascii_case("INBOX") {
                self.create_mailbox(id, mb, *special)?;
            }
        }
        Ok(id)
    }

    pub fn set_password(&mut self, account: u64, password_hash: &str) -> Result<()> {
        let mut rec = self.account(account)?;
        rec.password_hash = password_hash.to_string();
        self.put_account(account, &rec)
    }

    /// Deletes an account and everything in it. Costs in proportion to the account's size.
    pub fn delete_account(&mut self, account: u64) -> Result<()> {
        let rec = self.account(account)?;
        let names: Vec<(String, u64)> =
            collect_while(self.mailbox_by_name.range((account, "")..)?, |(k, v)| {
                let (owner, name) = k.value();
                (owner == account).then(|| (name.to_string(), v.value()))
            })?;
        for (name, id) in names {
            self.drop_mailbox(account, &name, id)?;
        }
        let mut gone = Vec::new();
        for e in self.changes.range((account, 0)..=(account, u64::MAX))? {
            gone.push(e?.0.value());
        }
        for k in gone {
            self.changes.remove(k)?;
        }
        self.subscriptions.retain_in((account, "")..(account.saturating_add(1), ""), |_, _| false)?;
        self.accounts.remove(account)?;
        self.account_by_name.remove(rec.name.as_str())?;
        Ok(())
    }

    /// Appends to the account-wide change log, trimming it to its bound; returns the change number.
    fn log_change(&mut self, account: u64, change: ChangeRecord) -> Result<u64> {
        let mut rec = self.account(account)?;
        rec.last_change += 1;
        let n = rec.last_change;
        match change.kind {
            ChangeKind::Added => rec.messages += 1,
            ChangeKind::Expunged => rec.messages = rec.messages.saturating_sub(1),
            _ => {}
        }
        self.put_account(account, &rec)?;
        self.changes.insert((account, n), change.encode().as_slice())?;
        let limit = self.policy.change_log_limit.max(1);
        if n > limit {
            // Every entry at or below `n - limit`, not only that one: after the limit was
            // lowered the log holds older entries, and removing only one would leave a hole
            // that a reader of "changes since" could not tell from a complete range.
            self.changes.retain_in((account, 0)..=(account, n - limit), |_, _| false)?;
        }
        match self.last_changes.iter_mut().find(|(m, _)| *m == change.mailbox) {
            Some(entry) => entry.1 = n,
            None => self.last_changes.push((change.mailbox, n)),
        }
        self.events.push(Change { account, change_number: n, mailbox: change.mailbox });
        Ok(n)
    }

    /// Starts one operation (one job) of the batch.
    pub(super) fn begin_operation(&mut self) {
        self.events.clear();
        self.refused_for_room = false;
        self.last_changes.clear();
    }

    /// Ends one operation of the batch: the mailboxes it logged changes of get their
    /// `last_change` (a mailbox it deleted has no record left to update).
    pub(super) fn finish_operation(&mut self) -> Result<()> {
        for (mailbox, n) in std::mem::take(&mut self.last_changes) {
            let Some(v) = self.mailboxes.get(mailbox)? else { continue };
            let mut rec = MailboxRecord::decode(v.value())?;
            drop(v);
            rec.last_change = n;
            self.put_mailbox(mailbox, &rec)?;
        }
        Ok(())
    }

    fn add_account_bytes(&mut self, account: u64, delta: i64) -> Result<()> {
        let mut rec = self.account(account)?;
        rec.bytes = rec.bytes.saturating_add_signed(delta);
        self.put_account(account, &rec)
    }

    // ---- addresses ----

    /// Where mail for `addr` goes (see [`super::address::resolve`]).
    pub fn resolve(&self, addr: &str) -> Result<super::address::Route> {
        super::address::resolve(
            addr,
            |a| Ok(self.account_by_name.get(a)?.map(|v| v.value())),
            |a| Ok(self.aliases.get(a)?.map(|v| v.value().to_string())),
        )
    }

    /// Adds (or replaces) an alias, or a catch-all given as `@domain`; the target must be an account.
    pub fn set_alias(&mut self, alias: &str, target: &str) -> Result<()> {
        let target = target.to_ascii_lowercase();
        self.account_id(&target)?;
        self.aliases.insert(alias.to_ascii_lowercase().as_str(), target.as_str())?;
        Ok(())
    }

    /// Removes an alias; false if there was none.
    pub fn remove_alias(&mut self, alias: &str) -> Result<bool> {
        Ok(self.aliases.remove(alias.to_ascii_lowercase().as_str())?.is_some())
    }

    pub fn add_domain(&mut self, domain: &str, now: u64) -> Result<bool> {
        Ok(self.domains.insert(domain.to_ascii_lowercase().as_str(), now)?.is_none())
    }

    pub fn remove_domain(&mut self, domain: &str) -> Result<bool> {
        Ok(self.domains.remove(domain.to_ascii_lowercase().as_str())?.is_some())
    }

    // ---- mailboxes ----

    /// The folder a subaddress tag names: the mailbox of that exact name, else the first (in name
    /// order) whose name matches ignoring ASCII case, since LMTP and `deliver` hand addresses over
    /// lower-cased (`bob+Lists@` arrives as `bob+lists@`); `None` if the account has none, or if
    /// that mailbox has a special use the policy does not open to `+tag` mail: anyone may write
    /// to `bob+sent@`, and what lands in Sent, Drafts or Trash looks like bob's own doing
    /// (Cyrus likewise files `+tag` mail only into folders that grant anyone the post right).
    pub fn tagged_mailbox(&self, account: u64, tag: &str) -> Result<Option<u64>> {
        let found = match self.mailbox_id(account, tag) {
            Ok(id) => Some(id),
            Err(StoreError::NoSuchMailbox) => {
                let mut found = None;
                for e in self.mailbox_by_name.range((account, "")..(account.saturating_add(1), ""))? {
                    let (k, v) = e?;
                    if k.value().1.eq_ignore_ascii_case(tag) {
                        found = Some(v.value());
                        break;
                    }
                }
                found
            }
            Err(e) => return Err(e),
        };
        let Some(id) = found else { return Ok(None) };
        let special = self.mailbox(id)?.special_use;
        let open = special == SpecialUse::None || self.policy.subaddress_special_use.contains(&special);
        Ok(open.then_some(id))
    }

    pub fn mailbox_id(&self, account: u64, name: &str) -> Result<u64> {
        let name = canonical_name(name);
        self.mailbox_by_name.get((account, name))?.map(|v| v.value()).ok_or(StoreError::NoSuchMailbox)
    }

    pub fn mailbox(&self, id: u64) -> Result<MailboxRecord> {
        let v = self.mailboxes.get(id)?.ok_or(StoreError::NoSuchMailbox)?;
        MailboxRecord::decode(v.value())
    }

    fn put_mailbox(&mut self, id: u64, rec: &MailboxRecord) -> Result<()> {
        self.mailboxes.insert(id, rec.encode().as_slice())?;
        Ok(())
    }

    /// Gives the mailbox its next MODSEQ and returns it (RFC 7162 §3.1: strictly increasing).
    fn bump_modseq(rec: &mut MailboxRecord) -> u64 {
        rec.highest_modseq += 1;
        rec.highest_modseq
    }

    fn next_uidvalidity(&mut self) -> Result<u32> {
        let now = crate::clock::unix_now().max(1).unsigned_abs();
        let last = self.meta.get("last_uidvalidity")?.map(|v| v.value()).unwrap_or(0);
        // RFC 9051 §2.3.1.1: a name reused later must get a different UIDVALIDITY.
        let v = (now & 0xffff_ffff).max(last + 1).max(1);
        let v = if v > u64::from(u32::MAX) { 1 } else { v };
        self.meta.insert("last_uidvalidity", v)?;
        Ok(v as u32)
    }

    pub fn create_mailbox(&mut self, account: u64, name: &str, special_use: SpecialUse) -> Result<u64> {
        let name = canonical_name(name);
        if self.mailbox_by_name.get((account, name))?.is_some() {
            return Err(StoreError::MailboxExists);
        }
        self.account(account)?;
        let limit = self.policy.max_mailboxes;
        if limit > 0 {
            // At most `limit` keys read: the cost is bounded by the limit, not the account.
            let mut have = 0;
            for e in self.mailbox_by_name.range((account, "")..(account.saturating_add(1), ""))?.take(limit) {
                e?;
                have += 1;
            }
            if have >= limit {
                return Err(StoreError::Limit("the account has as many mailboxes as it may have"));
            }
        }
        let id = self.next_id("next_mailbox")?;
        let rec = MailboxRecord {
            account,
            name: name.to_string(),
            uidvalidity: self.next_uidvalidity()?,
            uidnext: 1,
            highest_modseq: 1,
            exists: 0,
            unseen: 0,
            deleted: 0,
            size: 0,
            first_recent_uid: 1,
            special_use,
            last_change: 0,
        };
        self.mailbox_by_name.insert((account, name), id)?;
        self.put_mailbox(id, &rec)?;
        // A new mailbox is subscribed, unless the account has as many subscriptions as it may
        // (then CREATE still succeeds: the subscription is the part that is optional).
        if self.subscriptions_below_limit(account)? {
            self.subscriptions.insert((account, name), Self::now_secs())?;
        }
        self.log_change(
            account,
            ChangeRecord { kind: ChangeKind::MailboxCreated, mailbox: id, uid: 0, modseq: 1 },
        )?;
        Ok(id)
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 9051 §6.3.9).
    pub fn delete_mailbox(&mut self, account: u64, name: &str) -> Result<()> {
        let name = canonical_name(name);
        if name == "INBOX" {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted"));
        }
        let id = self.mailbox_id(account, name)?;
        self.drop_mailbox(account, name, id)
    }

    fn drop_mailbox(&mut self, account: u64, name: &str, id: u64) -> Result<()> {
        let mut uids = Vec::new();
        for e in self.messages.range((id, 0)..=(id, u32::MAX))? {
            let (k, v) = e?;
            uids.push((k.value().1, MessageRecord::decode(v.value())?));
        }
        let mut bytes = 0i64;
        for (uid, msg) in &uids {
            self.messages.remove((id, *uid))?;
            self.modseq_index.remove((id, msg.modseq))?;
            self.release_blob(msg.blob)?;
            bytes += i64::from(msg.size);
        }
        self.uid_runs.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
        self.tombstones.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
        let mut acct = self.account(account)?;
        acct.messages = acct.messages.saturating_sub(uids.len() as u64);
        acct.bytes = acct.bytes.saturating_sub(bytes as u64);
        self.put_account(account, &acct)?;
        self.mailboxes.remove(id)?;
        self.mailbox_by_name.remove((account, name))?;
        self.log_change(
            account,
            ChangeRecord { kind: ChangeKind::MailboxDeleted, mailbox: id, uid: 0, modseq: 0 },
        )?;
        Ok(())
    }

    /// Renames a mailbox and its children (RFC 9051 §6.3.6). Renaming INBOX moves its messages
    /// into a new mailbox of the new name and leaves INBOX empty.
    pub fn rename_mailbox(&mut self, account: u64, from: &str, to: &str) -> Result<()> {
        let from = canonical_name(from).to_string();
        let to = canonical_name(to).to_string();
        let from_id = self.mailbox_id(account, &from)?;
        if self.mailbox_by_name.get((account, to.as_str()))?.is_some() {
            return Err(StoreError::MailboxExists);
        }
        if to == "INBOX" {
            return Err(StoreError::NotAllowed("cannot rename a mailbox to INBOX"));
        }
        let prefix = format!("{from}{HIERARCHY_DELIMITER}");
        if to.starts_with(&prefix) {
            return Err(StoreError::NotAllowed("cannot rename a mailbox into itself"));
        }
        if from == "INBOX" {
            let to_id = self.create_mailbox(account, &to, SpecialUse::None)?;
            let uids: Vec<u32> = self.uids(from_id)?;
            for uid in uids {
                self.move_message(from_id, uid, to_id)?;
            }
            return Ok(());
        }
        let mut renames = vec![(from.clone(), from_id)];
        for e in self.mailbox_by_name.range((account, prefix.as_str())..)? {
            let (k, v) = e?;
            let (acct, name) = k.value();
            if acct != account || !name.starts_with(&prefix) {
                break;
            }
            renames.push((name.to_string(), v.value()));
        }
        let targets: Vec<String> =
            renames.iter().map(|(name, _)| format!("{to}{}", &name[from.len()..])).collect();
        for t in &targets[1..] {
            if self.mailbox_by_name.get((account, t.as_str()))?.is_some() {
                return Err(StoreError::MailboxExists);
            }
        }
        for ((old, id), new) in renames.iter().zip(&targets) {
            self.mailbox_by_name.remove((account, old.as_str()))?;
            self.mailbox_by_name.insert((account, new.as_str()), *id)?;
            // The subscription goes with the mailbox (as Dovecot and Cyrus do); one held by
            // the new name already stays.
            let since = self.subscriptions.remove((account, old.as_str()))?.map(|v| v.value());
            if let Some(since) = since {
                self.subscriptions.insert((account, new.as_str()), since)?;
            }
            let mut rec = self.mailbox(*id)?;
            rec.name = new.clone();
            let modseq = rec.highest_modseq;
            self.put_mailbox(*id, &rec)?;
            self.log_change(
                account,
                ChangeRecord { kind: ChangeKind::MailboxChanged, mailbox: *id, uid: 0, modseq },
            )?;
        }
        Ok(())
    }

    /// SUBSCRIBE / UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8). Subscriptions are kept by name: one
    /// outlives its mailbox ("the server SHOULD NOT unilaterally remove an existing mailbox name
    /// from the subscription list even if a mailbox by that name no longer exists"), so
    /// UNSUBSCRIBE takes a subscribed name whose mailbox is gone. SUBSCRIBE validates that the
    /// mailbox exists, which §6.3.7 allows, so that only what was once a mailbox can be
    /// listed; the count is capped by `limits.max_mailboxes` (`StoreError::Limit`).
    /// A change of an existing mailbox's subscription is logged as `MailboxChanged`.
    pub fn set_subscribed(&mut self, account: u64, name: &str, subscribed: bool) -> Result<()> {
        let name = canonical_name(name);
        let id = self.mailbox_by_name.get((account, name))?.map(|v| v.value());
        let was = self.subscriptions.get((account, name))?.is_some();
        if id.is_none() && !was {
            return Err(StoreError::NoSuchMailbox);
        }
        if subscribed == was {
            return Ok(());
        }
        if subscribed {
            if !self.subscriptions_below_limit(account)? {
                return Err(StoreError::Limit("the account has as many subscriptions as it may have"));
            }
            self.subscriptions.insert((account, name), Self::now_secs())?;
        } else {
            self.subscriptions.remove((account, name))?;
        }
        if let Some(id) = id {
            let modseq = self.mailbox(id)?.highest_modseq;
            self.log_change(
                account,
                ChangeRecord { kind: ChangeKind::MailboxChanged, mailbox: id, uid: 0, modseq },
            )?;
        }
        Ok(())
    }

    /// Whether the account may take one more subscription: at most `limits.max_mailboxes`
    /// (0: no limit); counting reads at most that many keys.
    fn subscriptions_below_limit(&self, account: u64) -> Result<bool> {
        let limit = self.policy.max_mailboxes;
        if limit == 0 {
            return Ok(true);
        }
        let mut have = 0;
        for e in self.subscriptions.range((account, "")..(account.saturating_add(1), ""))?.take(limit) {
            e?;
            have += 1;
        }
        Ok(have < limit)
    }

    fn now_secs() -> u64 {
        u64::try_from(crate::clock::unix_now()).unwrap_or(0)
    }

    /// Replaces the database's sync key (`restore` does, so that the MAPI extension's states
    /// and epochs of the history before the backup are refused rather than misread).
    pub fn renew_sync_key(&mut self) -> Result<()> {
        let key = super::new_sync_key()?;
        self.secrets.insert("sync_key", key.as_slice())?;
        Ok(())
    }

    /// Marks every message below `uid` as no longer `\Recent` (done when a session selects
    /// the mailbox read-write and takes the recent ones for itself).
    pub fn claim_recent(&mut self, mailbox: u64) -> Result<u32> {
        let mut rec = self.mailbox(mailbox)?;
        let first = rec.first_recent_uid;
        rec.first_recent_uid = rec.uidnext;
        self.put_mailbox(mailbox, &rec)?;
        Ok(first)
    }

    // ---- UID runs (format 2) ----

    /// Records a new UID, above every live one: extends the last run or starts one.
    fn run_push(&mut self, mailbox: u64, uid: u32) -> Result<()> {
        let last = match self.uid_runs.range((mailbox, 0)..=(mailbox, u32::MAX))?.next_back() {
            Some(e) => {
                let (k, v) = e?;
                Some((k.value().1, v.value()))
            }
            None => None,
        };
        match last {
            Some((first, count)) if u64::from(first) + u64::from(count) == u64::from(uid) => {
                self.uid_runs.insert((mailbox, first), count + 1)?;
            }
            _ => {
                self.uid_runs.insert((mailbox, uid), 1)?;
            }
        }
        Ok(())
    }

    /// Takes a live UID out of its run, splitting the run when the UID was inside it.
    fn run_remove(&mut self, mailbox: u64, uid: u32) -> Result<()> {
        let found = match self.uid_runs.range((mailbox, 0)..=(mailbox, uid))?.next_back() {
            Some(e) => {
                let (k, v) = e?;
                Some((k.value().1, v.value()))
            }
            None => None,
        };
        let Some((first, count)) = found.filter(|(f, c)| u64::from(uid) < u64::from(*f) + u64::from(*c))
        else {
            return Err(StoreError::Corrupt(format!("UID {uid} of mailbox {mailbox} is in no UID run")));
        };
        let left = uid - first;
        let right = count - left - 1;
        if left == 0 {
            self.uid_runs.remove((mailbox, first))?;
        } else {
            self.uid_runs.insert((mailbox, first), left)?;
        }
        if right > 0 {
            self.uid_runs.insert((mailbox, uid + 1), right)?;
        }
        Ok(())
    }

    fn uids(&self, mailbox: u64) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for e in self.messages.range((mailbox, 0)..=(mailbox, u32::MAX))? {
            out.push(e?.0.value().1);
        }
        Ok(out)
    }

    // ---- blobs ----

    /// Stores a message's bytes once, with no references yet; messages added with its id take one each.
    pub fn put_blob(&mut self, raw: &[u8], fetch_data: &[u8]) -> Result<u64> {
        self.claim_room((raw.len() + fetch_data.len()) as u64 + RECORD_BYTES)?;
        let id = self.next_id("next_blob")?;
        let rec = BlobRecord { size: to_u32(raw.len()), fetch_data: fetch_data.to_vec() };
        self.blobs.insert(id, rec.encode().as_slice())?;
        self.blob_refs.insert(id, 0)?;
        for (i, chunk) in raw.chunks(CHUNK_SIZE).enumerate() {
            if chunk.len() == CHUNK_SIZE {
                self.blob_chunks.insert((id, to_u32(i)), chunk)?;
            } else {
                self.blob_tails.insert((id, to_u32(i)), chunk)?;
            }
        }
        Ok(id)
    }

    fn blob_size(&self, blob: u64) -> Result<u32> {
        let v = self.blobs.get(blob)?.ok_or_else(|| StoreError::Corrupt(format!("blob {blob} missing")))?;
        Ok(BlobRecord::decode(v.value())?.size)
    }

    fn retain_blob(&mut self, blob: u64) -> Result<()> {
        let n = self.blob_refs.get(blob)?.map(|v| v.value()).unwrap_or(0);
        self.blob_refs.insert(blob, n + 1)?;
        Ok(())
    }

    fn release_blob(&mut self, blob: u64) -> Result<()> {
        let n = self.blob_refs.get(blob)?.map(|v| v.value()).unwrap_or(0);
        if n > 1 {
            self.blob_refs.insert(blob, n - 1)?;
            return Ok(());
        }
        self.blob_refs.remove(blob)?;
        let size = self.blob_size(blob)?;
        self.blobs.remove(blob)?;
        let chunks = to_u32((size as usize).div_ceil(CHUNK_SIZE));
        for i in 0..chunks {
            self.blob_chunks.remove((blob, i))?;
        }
        if chunks > 0 {
            // Format 2 keeps the partial last chunk apart (format 1 had it with the others).
            self.blob_tails.remove((blob, chunks - 1))?;
        }
        Ok(())
    }

    /// Drops blobs that no message took (a delivery whose every recipient failed).
    pub fn drop_blob_if_unused(&mut self, blob: u64) -> Result<()> {
        if self.blob_refs.get(blob)?.map(|v| v.value()) == Some(0) {
            self.blob_refs.insert(blob, 1)?;
            self.release_blob(blob)?;
        }
        Ok(())
    }

    // ---- messages ----

    fn message(&self, mailbox: u64, uid: u32) -> Result<Option<MessageRecord>> {
        match self.messages.get((mailbox, uid))? {
            Some(v) => Ok(Some(MessageRecord::decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Adds a message pointing at an existing blob; returns its UID. Refused with
    /// [`StoreError::OverQuota`] when the account's quota has no room for it.
    pub fn append(&mut self, mailbox: u64, msg: &NewMessage) -> Result<u32> {
        self.append_checked(mailbox, msg, true)
    }

    fn append_checked(&mut self, mailbox: u64, msg: &NewMessage, check_quota: bool) -> Result<u32> {
        let mut rec = self.mailbox(mailbox)?;
        let size = self.blob_size(msg.blob)?;
        if check_quota {
            let acct = self.account(rec.account)?;
            if !self.policy.quota.allows(&acct.name, acct.messages, acct.bytes, u64::from(size)) {
                return Err(StoreError::OverQuota);
            }
        }
        if rec.uidnext == u32::MAX {
            return Err(StoreError::NotAllowed("mailbox has run out of UIDs"));
        }
        if check_quota {
            // A move within an account adds nothing in all (the quota is skipped for the same
            // reason): it may use the reserve.
            self.claim_room(RECORD_BYTES)?;
        }
        let uid = rec.uidnext;
        rec.uidnext += 1;
        let modseq = Self::bump_modseq(&mut rec);
        let flags = msg.flags & flag::ALL;
        rec.exists += 1;
        rec.size += u64::from(size);
        if flags & flag::SEEN == 0 {
            rec.unseen += 1;
        }
        if flags & flag::DELETED != 0 {
            rec.deleted += 1;
        }
        let mut keywords = msg.keywords.clone();
        keywords.sort();
        keywords.dedup();
        let m = MessageRecord {
            blob: msg.blob,
            modseq,
            internal_date: msg.internal_date,
            tz_minutes: msg.tz_minutes,
            size,
            flags,
            keywords,
        };
        self.retain_blob(msg.blob)?;
        self.messages.insert((mailbox, uid), m.encode().as_slice())?;
        self.run_push(mailbox, uid)?;
        self.modseq_index.insert((mailbox, modseq), uid)?;
        let account = rec.account;
        self.put_mailbox(mailbox, &rec)?;
        self.add_account_bytes(account, i64::from(size))?;
        self.log_change(account, ChangeRecord { kind: ChangeKind::Added, mailbox, uid, modseq })?;
        Ok(uid)
    }

    /// Changes a message's flags and keywords. Returns the new MODSEQ and the resulting flags, or
    /// `None` for the MODSEQ when nothing changed (RFC 7162 §3.2: no new MODSEQ then). With
    /// `unchanged_since`, a message modified after it is left alone and `Err(Conflict)` returned.
    pub fn store_flags(
        &mut self,
        mailbox: u64,
        uid: u32,
        op: FlagOp,
        flags: u8,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<(Option<u64>, MessageRecord)> {
        let mut m = self.message(mailbox, uid)?.ok_or(StoreError::Conflict("no such message"))?;
        if let Some(limit) = unchanged_since
            && m.modseq > limit
        {
            return Err(StoreError::Conflict("modified since UNCHANGEDSINCE"));
        }
        let flags = flags & flag::ALL;
        let new_flags = match op {
            FlagOp::Replace => flags,
            FlagOp::Add => m.flags | flags,
            FlagOp::Remove => m.flags & !flags,
        };
        let mut new_kw: Vec<String> = match op {
            FlagOp::Replace => keywords.to_vec(),
            FlagOp::Add => m.keywords.iter().chain(keywords).cloned().collect(),
            FlagOp::Remove => m.keywords.iter().filter(|k| !keywords.contains(k)).cloned().collect(),
        };
        new_kw.sort();
        new_kw.dedup();
        if new_flags == m.flags && new_kw == m.keywords {
            return Ok((None, m));
        }
        let mut rec = self.mailbox(mailbox)?;
        let was_seen = m.flags & flag::SEEN != 0;
        let is_seen = new_flags & flag::SEEN != 0;
        if was_seen && !is_seen {
            rec.unseen += 1;
        } else if !was_seen && is_seen {
            rec.unseen = less(rec.unseen, 1, "unseen count below zero")?;
        }
        let was_del = m.flags & flag::DELETED != 0;
        let is_del = new_flags & flag::DELETED != 0;
        if was_del && !is_del {
            rec.deleted = less(rec.deleted, 1, "deleted count below zero")?;
        } else if !was_del && is_del {
            rec.deleted += 1;
        }
        let modseq = Self::bump_modseq(&mut rec);
        self.modseq_index.remove((mailbox, m.modseq))?;
        self.modseq_index.insert((mailbox, modseq), uid)?;
        m.modseq = modseq;
        m.flags = new_flags;
        m.keywords = new_kw;
        self.messages.insert((mailbox, uid), m.encode().as_slice())?;
        let account = rec.account;
        self.put_mailbox(mailbox, &rec)?;
        self.log_change(account, ChangeRecord { kind: ChangeKind::Flags, mailbox, uid, modseq })?;
        Ok((Some(modseq), m))
    }

    /// Removes a message, leaving a tombstone with its MODSEQ. Returns false if it was not there.
    pub fn expunge(&mut self, mailbox: u64, uid: u32) -> Result<bool> {
        let Some(m) = self.message(mailbox, uid)? else {
            return Ok(false);
        };
        let mut rec = self.mailbox(mailbox)?;
        rec.exists = less(rec.exists, 1, "message count below zero")?;
        rec.size = less(rec.size, u64::from(m.size), "mailbox size below zero")?;
        if m.flags & flag::SEEN == 0 {
            rec.unseen = less(rec.unseen, 1, "unseen count below zero")?;
        }
        if m.flags & flag::DELETED != 0 {
            rec.deleted = less(rec.deleted, 1, "deleted count below zero")?;
        }
        let modseq = Self::bump_modseq(&mut rec);
        self.messages.remove((mailbox, uid))?;
        self.run_remove(mailbox, uid)?;
        self.modseq_index.remove((mailbox, m.modseq))?;
        self.tombstones.insert((mailbox, modseq), uid)?;
        self.release_blob(m.blob)?;
        let account = rec.account;
        self.put_mailbox(mailbox, &rec)?;
        self.add_account_bytes(account, -i64::from(m.size))?;
        self.log_change(account, ChangeRecord { kind: ChangeKind::Expunged, mailbox, uid, modseq })?;
        Ok(true)
    }

    /// Expunges every message flagged `\Deleted`, or only those among `only` (UID EXPUNGE).
    /// Touches only the deleted messages when the mailbox's counter says there are none.
    pub fn expunge_deleted(&mut self, mailbox: u64, only: Option<&[u32]>) -> Result<Vec<u32>> {
        let rec = self.mailbox(mailbox)?;
        if rec.deleted == 0 {
            return Ok(Vec::new());
        }
        let mut doomed = Vec::new();
        match only {
            Some(uids) => {
                for &uid in uids {
                    if let Some(m) = self.message(mailbox, uid)?
                        && m.flags & flag::DELETED != 0
                    {
                        doomed.push(uid);
                    }
                }
            }
            None => {
                for e in self.messages.range((mailbox, 0)..=(mailbox, u32::MAX))? {
                    let (k, v) = e?;
                    if MessageRecord::decode(v.value())?.flags & flag::DELETED != 0 {
                        doomed.push(k.value().1);
                    }
                }
            }
        }
        for &uid in &doomed {
            self.expunge(mailbox, uid)?;
        }
        Ok(doomed)
    }

    /// Copies a message into another mailbox (same blob, new UID, same flags and date).
    pub fn copy_message(&mut self, from: u64, uid: u32, to: u64) -> Result<Option<u32>> {
        self.copy_checked(from, uid, to, true)
    }

    fn copy_checked(&mut self, from: u64, uid: u32, to: u64, check_quota: bool) -> Result<Option<u32>> {
        let Some(m) = self.message(from, uid)? else {
            return Ok(None);
        };
        let new = NewMessage {
            blob: m.blob,
            flags: m.flags,
            keywords: m.keywords,
            internal_date: m.internal_date,
            tz_minutes: m.tz_minutes,
        };
        Ok(Some(self.append_checked(to, &new, check_quota)?))
    }

    /// Moves a message (RFC 6851): a copy and an expunge in the same transaction. Within one
    /// account the usage does not change, so the quota is checked only across accounts.
    pub fn move_message(&mut self, from: u64, uid: u32, to: u64) -> Result<Option<u32>> {
        let same_account = self.mailbox(from)?.account == self.mailbox(to)?.account;
        let new_uid = self.copy_checked(from, uid, to, !same_account)?;
        if new_uid.is_some() {
            self.expunge(from, uid)?;
        }
        Ok(new_uid)
    }
}

/// `counter - n`, or [`StoreError::Inconsistent`] when the counter is smaller: a mailbox record
/// that disagrees with its messages. Wrapping (in a release build) would store a count near
/// 2^32 that every later STATUS and SELECT reports; refusing leaves the record as it was.
fn less<T: std::ops::Sub<Output = T> + PartialOrd>(counter: T, n: T, what: &'static str) -> Result<T> {
    if counter < n { Err(StoreError::Inconsistent(what)) } else { Ok(counter - n) }
}

/// The items `f` keeps from the start of `entries`, up to the first it declines (`None`: past
/// the range of interest). The first error of `entries` is returned, never taken as its end:
/// `map_while(|e| e.ok())` would end the list there and, in `delete_account`, delete part of an
/// account and leave the rest without an owner.
fn collect_while<T, U, E: Into<StoreError>>(
    entries: impl Iterator<Item = std::result::Result<T, E>>,
    mut f: impl FnMut(T) -> Option<U>,
) -> Result<Vec<U>> {
    let mut out = Vec::new();
    for e in entries {
        match f(e.map_err(Into::into)?) {
            Some(u) => out.push(u),
            None => break,
        }
    }
    Ok(out)
}

/// INBOX is case-insensitive (RFC 9051 §5.1); every other name is kept as given.
pub fn canonical_name(name: &str) -> &str {
    if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_while_returns_the_first_error_not_a_shorter_list() {
        let keep = |n: u32| (n < 10).then_some(n);
        let ok: Vec<std::result::Result<u32, redb::StorageError>> = vec![Ok(1), Ok(2), Ok(11), Ok(3)];
        assert_eq!(collect_while(ok.into_iter(), keep).ok(), Some(vec![1, 2]));
        // An I/O error in the middle of an account's mailboxes: `map_while(|e| e.ok())` gave
        // `[1]`, and delete_account deleted that one and left the rest.
        let failing = vec![Ok(1), Err(redb::StorageError::PreviousIo), Ok(2)];
        let r = collect_while(failing.into_iter(), keep);
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    }

    #[test]
    fn less_refuses_to_go_below_zero() {
        assert_eq!(less(3u32, 1, "x").ok(), Some(2));
        assert_eq!(less(5u64, 5, "x").ok(), Some(0));
        assert!(matches!(less(0u32, 1, "unseen"), Err(StoreError::Inconsistent("unseen"))));
    }
}
