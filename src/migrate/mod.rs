//! Moving mail in and out of an account in bulk (`import`, `export`): the batch every importer
//! hands over (maildir, mbox, remote IMAP), its execution on a store, the stream an export reads,
//! and the wire form of both on the control socket. No IO here: `server/control.rs` carries the
//! bytes, `cli/sink.rs` picks the running server or the store, `cli/` reads and writes files.
//! Results are this module's own ([`Appended`], [`MigrateError`]); `admin.rs` turns them into
//! the control socket's answers, so this module does not depend on it.
//!
//! Wire form of a batch (the payload of `APPEND-BATCH <length> <account>`, see
//! [`crate::admin::Request::encode`]): a sequence of entries, each a header line and, for a
//! message, its bytes:
//!
//! ```text
//! MAILBOX <name>\n                                   create if missing (an empty folder)
//! USE <use> <name>\n                                 the special use it gets if created (`-`: none)
//! EXPUNGE <uid>[:<uid>],... <name>\n                 remove these messages first, same commit
//! MESSAGE <size> <flags> <date> <tz> <n> <kw1>..<kwn> <mailbox>\n<size bytes>
//! ```
//!
//! `flags` are the bits of [`crate::store::flag`], `date` Unix seconds, `tz` minutes east of
//! UTC, then `n` keywords (IMAP atoms: no spaces), then the mailbox name (UTF-8, the rest of the
//! line: it may hold spaces, never a control character). A mailbox created without a `USE`
//! entry gets the special use its name suggests ([`guess_special_use`]). The answer, sent only
//! after the durable commit, is an [`Appended`] (see `admin::batch_answer` for its wire form).
//!
//! Wire form of an export (the answer to `EXPORT <account>`): for each mailbox
//! `MAILBOX <messages> <name>\n`, then for each of its messages
//! `MESSAGE <uid> <size> <flags> <date> <tz> <n> <kw1>..<kwn>\n<size bytes>`, and at the end
//! the control socket's ordinary answer (`* exported N messages`, exit code).

pub mod mbox;

use crate::ingest;
use crate::proto::command::{Atom, MailboxName};
use crate::store::{DEFAULT_MAILBOXES, NewMessage, SpecialUse, Store, StoreError, flag};

/// A batch is sent when it holds this many bytes of messages (a single larger message makes
/// a batch of its own)...
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// ...or this many messages.
pub const MAX_BATCH_MESSAGES: usize = 500;

/// One message to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportMessage {
    /// Target mailbox (UTF-8, `/` between levels); created if missing.
    pub mailbox: String,
    /// Bits of [`flag`].
    pub flags: u8,
    /// IMAP keywords (atoms).
    pub keywords: Vec<String>,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: i64,
    /// Zone of the INTERNALDATE, minutes east of UTC.
    pub tz_minutes: i16,
    /// The message (bare LFs are turned into CRLF when stored).
    pub raw: Vec<u8>,
}

/// Messages added to one account in one durable commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Mailboxes to create if missing even when no message goes there (empty folders).
    pub mailboxes: Vec<String>,
    /// The special use a mailbox of the batch gets if the batch creates it; without an entry,
    /// the one its name suggests ([`guess_special_use`]).
    pub uses: Vec<(String, SpecialUse)>,
    /// Messages removed (by UID ranges, inclusive) before any is added, in the same commit
    /// (`import imap --force`); UIDs that are gone already are passed over.
    pub expunge: Vec<(String, Vec<(u32, u32)>)>,
    pub messages: Vec<ImportMessage>,
}

/// What became of a batch, once durable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// The UID each message added got, in the order of the batch (the skipped ones left out).
    pub uids: Vec<u32>,
    /// Index in the batch and reason of each message refused as not mail.
    pub skipped: Vec<(usize, String)>,
}

impl Appended {
    /// Messages added.
    pub fn appended(&self) -> usize {
        self.uids.len()
    }
}

/// A mailbox of an account, as an importer needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    pub name: String,
    pub special_use: SpecialUse,
    pub uidvalidity: u32,
    /// The UID the next message added will get at least.
    pub uidnext: u32,
}

/// Why a batch, an export or a look-up did not go through.
#[derive(Clone, Debug)]
pub enum MigrateError {
    NoSuchAccount(String),
    /// A mailbox name, keyword or UID range the batch may not hold.
    Invalid(String),
    /// The store refused (over quota, not allowed) or failed.
    Store(StoreError),
    /// The consumer of an export failed (a file it could not write, a client gone away).
    Emit(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::NoSuchAccount(a) => write!(f, "no account {a}"),
            MigrateError::Invalid(e) | MigrateError::Emit(e) => f.write_str(e),
            MigrateError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MigrateError {}

impl MigrateError {
    fn store(account: &str) -> impl Fn(StoreError) -> MigrateError + '_ {
        move |e| match e {
            StoreError::NoSuchAccount => MigrateError::NoSuchAccount(account.to_string()),
            e => MigrateError::Store(e),
        }
    }
}

fn check_mailbox(name: &str) -> Result<String, String> {
    MailboxName::new(name).map(|n| n.as_str().to_string()).map_err(|_| format!("bad mailbox name {name:?}"))
}

fn check_keyword(k: &str) -> Result<(), String> {
    if k.starts_with('\\') || Atom::try_from(k).is_err() {
        return Err(format!("bad keyword {k:?}"));
    }
    Ok(())
}

fn words<'a>(it: &mut impl Iterator<Item = &'a str>, what: &str) -> Result<&'a str, String> {
    it.next().ok_or_else(|| format!("{what}: header too short"))
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{what}: bad number {s:?}"))
}

/// Splits one header line off `buf` at `pos`.
fn header_line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a str, String> {
    let rest = &buf[*pos..];
    let nl = rest.iter().position(|&b| b == b'\n').ok_or("entry without a header line")?;
    *pos += nl + 1;
    std::str::from_utf8(&rest[..nl]).map_err(|_| "entry header is not UTF-8".to_string())
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8], String> {
    let end = pos.checked_add(len).filter(|&e| e <= buf.len()).ok_or("entry shorter than announced")?;
    let out = &buf[*pos..end];
    *pos = end;
    Ok(out)
}

impl Batch {
    /// Bytes of the messages.
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(|m| m.raw.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.mailboxes.is_empty()
    }

    /// Whether the batch should be sent now.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= MAX_BATCH_MESSAGES || self.bytes() >= MAX_BATCH_BYTES
    }

    /// The payload of `APPEND-BATCH`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes() + 64 * (self.messages.len() + self.mailboxes.len()));
        for m in &self.mailboxes {
            out.extend_from_slice(format!("MAILBOX {}\n", one_line(m)).as_bytes());
        }
        for (m, u) in &self.uses {
            out.extend_from_slice(format!("USE {} {}\n", u.name().unwrap_or("-"), one_line(m)).as_bytes());
        }
        for (m, runs) in &self.expunge {
            out.extend_from_slice(format!("EXPUNGE {} {}\n", runs_text(runs), one_line(m)).as_bytes());
        }
        for m in &self.messages {
            let mut line = format!(
                "MESSAGE {} {} {} {} {}",
                m.raw.len(),
                m.flags,
                m.internal_date,
                m.tz_minutes,
                m.keywords.len()
            );
            for k in &m.keywords {
                line.push(' ');
                line.push_str(k);
            }
            line.push(' ');
            line.push_str(&one_line(&m.mailbox));
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(&m.raw);
        }
        out
    }

    /// Parses the payload of `APPEND-BATCH`, checking names and keywords.
    pub fn decode(buf: &[u8]) -> Result<Batch, String> {
        let mut batch = Batch::default();
        let mut pos = 0;
        while pos < buf.len() {
            let line = header_line(buf, &mut pos)?;
            if let Some(name) = line.strip_prefix("MAILBOX ") {
                batch.mailboxes.push(check_mailbox(name)?);
                continue;
            }
            if let Some(rest) = line.strip_prefix("USE ") {
                let (u, name) = rest.split_once(' ').ok_or("USE: no mailbox")?;
                let u = match u {
                    "-" => SpecialUse::None,
                    u => SpecialUse::from_name(u).ok_or_else(|| format!("USE: unknown special use {u:?}"))?,
                };
                batch.uses.push((check_mailbox(name)?, u));
                continue;
            }
            if let Some(rest) = line.strip_prefix("EXPUNGE ") {
                let (runs, name) = rest.split_once(' ').ok_or("EXPUNGE: no mailbox")?;
                batch.expunge.push((check_mailbox(name)?, parse_runs(runs)?));
                continue;
            }
            let rest = line.strip_prefix("MESSAGE ").ok_or_else(|| format!("unknown entry {line:?}"))?;
            let mut it = rest.splitn(6, ' ');
            let size: usize = num(words(&mut it, "MESSAGE")?, "size")?;
            let flags: u8 = num(words(&mut it, "MESSAGE")?, "flags")?;
            let internal_date: i64 = num(words(&mut it, "MESSAGE")?, "date")?;
            let tz_minutes: i16 = num(words(&mut it, "MESSAGE")?, "zone")?;
            let n: usize = num(words(&mut it, "MESSAGE")?, "keyword count")?;
            let mut tail = words(&mut it, "MESSAGE")?;
            let mut keywords = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                let (k, t) = tail.split_once(' ').ok_or("MESSAGE: fewer keywords than announced")?;
                check_keyword(k)?;
                keywords.push(k.to_string());
                tail = t;
            }
            if flags & !flag::ALL != 0 {
                return Err(format!("MESSAGE: bad flags {flags}"));
            }
            let mailbox = check_mailbox(tail)?;
            let raw = take(buf, &mut pos, size)?.to_vec();
            batch.messages.push(ImportMessage { mailbox, flags, keywords, internal_date, tz_minutes, raw });
        }
        Ok(batch)
    }
}

/// The special use a mailbox of this name gets when an import creates it (RFC 6154): that of
/// the default mailbox of the name (`store::DEFAULT_MAILBOXES`), and Junk for `Spam`.
pub fn guess_special_use(name: &str) -> SpecialUse {
    let name = if name == "Spam" { "Junk" } else { name };
    DEFAULT_MAILBOXES.iter().find(|(n, _)| *n == name).map_or(SpecialUse::None, |(_, u)| *u)
}

/// Adds a batch to an account in one durable commit, creating missing mailboxes, removing the
/// messages listed in [`Batch::expunge`] first; answers after the commit. A message that is not
/// mail is skipped (and reported); anything else refuses the whole batch (over quota, no such
/// account). Blocking: call it off the async executor.
pub fn append_batch(store: &Store, account: &str, batch: Batch) -> Result<Appended, MigrateError> {
    let mut skipped = Vec::new();
    let mut prepared = Vec::with_capacity(batch.messages.len());
    // The batch's mailboxes, each once, and for each message the index of its own: found when
    // the names are checked, so that no later lookup can miss and file a message elsewhere.
    let mut names: Vec<String> = Vec::new();
    let mut index_of = |name: &str| -> Result<usize, MigrateError> {
        let n = check_mailbox(name).map_err(MigrateError::Invalid)?;
        Ok(names.iter().position(|x| *x == n).unwrap_or_else(|| {
            names.push(n);
            names.len() - 1
        }))
    };
    let named = batch.uses.iter().map(|(n, _)| n).chain(batch.expunge.iter().map(|(n, _)| n));
    for name in batch.mailboxes.iter().chain(named) {
        index_of(name)?;
    }
    let mut boxes = Vec::with_capacity(batch.messages.len());
    for m in &batch.messages {
        boxes.push(index_of(&m.mailbox)?);
    }
    let mut expunge: Vec<(usize, Vec<(u32, u32)>)> = Vec::with_capacity(batch.expunge.len());
    for (n, runs) in batch.expunge {
        expunge.push((index_of(&n)?, runs));
    }
    let uses: Vec<SpecialUse> = names
        .iter()
        .map(|n| {
            let given = batch.uses.iter().find(|(m, _)| canonical(m) == *n).map(|(_, u)| *u);
            given.unwrap_or_else(|| guess_special_use(n))
        })
        .collect();
    for ((i, m), mb) in batch.messages.into_iter().enumerate().zip(boxes) {
        if let Some(bad) = m.keywords.iter().find_map(|k| check_keyword(k).err()) {
            return Err(MigrateError::Invalid(bad));
        }
        match ingest::prepare(m.raw) {
            Ok(p) => prepared.push((
                mb,
                p,
                NewMessage {
                    blob: 0,
                    flags: m.flags & flag::ALL,
                    keywords: m.keywords,
                    internal_date: m.internal_date,
                    tz_minutes: m.tz_minutes,
                },
            )),
            Err(e) => skipped.push((i, e.to_string())),
        }
    }
    let name = account.to_ascii_lowercase();
    let uids = store
        .write_blocking(move |t| {
            let account = t.account_id(&name)?;
            let mut ids = Vec::with_capacity(names.len());
            for (n, u) in names.iter().zip(&uses) {
                ids.push(match t.mailbox_id(account, n) {
                    Ok(id) => id,
                    Err(StoreError::NoSuchMailbox) => t.create_mailbox(account, n, *u)?,
                    Err(e) => return Err(e),
                });
            }
            for (mb, runs) in &expunge {
                for &(a, b) in runs {
                    for uid in a..=b {
                        t.expunge(ids[*mb], uid)?;
                    }
                }
            }
            let mut uids = Vec::with_capacity(prepared.len());
            for (mb, p, msg) in &prepared {
                let blob = t.put_blob(&p.raw, &p.data)?;
                uids.push(t.append(ids[*mb], &NewMessage { blob, ..msg.clone() })?);
            }
            Ok(uids)
        })
        .map_err(MigrateError::store(account))?;
    Ok(Appended { uids, skipped })
}

/// The mailboxes of an account. Blocking.
pub fn mailboxes(store: &Store, account: &str) -> Result<Vec<MailboxInfo>, MigrateError> {
    let fail = MigrateError::store(account);
    let r = store.read().map_err(&fail)?;
    let id = r.account_id(&account.to_ascii_lowercase()).map_err(&fail)?;
    Ok(r.mailboxes(id)
        .map_err(&fail)?
        .into_iter()
        .map(|(_, m)| MailboxInfo {
            name: m.name,
            special_use: m.special_use,
            uidvalidity: m.uidvalidity,
            uidnext: m.uidnext,
        })
        .collect())
}

/// (UID, size) of the messages of a mailbox from UID `from` on, at most `limit` of them, in UID
/// order. Blocking.
pub fn sizes(
    store: &Store,
    account: &str,
    mailbox: &str,
    from: u32,
    limit: usize,
) -> Result<Vec<(u32, u32)>, MigrateError> {
    let fail = MigrateError::store(account);
    let r = store.read().map_err(&fail)?;
    let id = r.account_id(&account.to_ascii_lowercase()).map_err(&fail)?;
    let mb = r.mailbox_id(id, &canonical(mailbox)).map_err(&fail)?;
    let mut out = Vec::new();
    r.scan(mb, from.max(1)..=u32::MAX, |uid, m| {
        out.push((uid, m.size));
        if out.len() >= limit {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .map_err(&fail)?;
    Ok(out)
}

/// UID ranges as `a:b,c` (`a` alone when a range holds one UID).
pub fn runs_text(runs: &[(u32, u32)]) -> String {
    runs.iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") })
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`runs_text`] back; every range must be ascending and start above 0.
pub fn parse_runs(text: &str) -> Result<Vec<(u32, u32)>, String> {
    text.split(',')
        .map(|part| {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let (a, b): (u32, u32) = (num(a, "UID range")?, num(b, "UID range")?);
            if a == 0 || b < a {
                return Err(format!("bad UID range {part:?}"));
            }
            Ok((a, b))
        })
        .collect()
}

fn one_line(name: &str) -> String {
    name.replace(['\r', '\n'], " ")
}

fn canonical(name: &str) -> String {
    check_mailbox(name).unwrap_or_default()
}

/// One piece of an export stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportItem {
    /// A mailbox starts; its messages follow.
    Mailbox {
        name: String,
        messages: u32,
    },
    Message {
        uid: u32,
        flags: u8,
        keywords: Vec<String>,
        internal_date: i64,
        tz_minutes: i16,
        raw: Vec<u8>,
    },
}

impl ExportItem {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ExportItem::Mailbox { name, messages } => {
                format!("MAILBOX {messages} {}\n", one_line(name)).into_bytes()
            }
            ExportItem::Message { uid, flags, keywords, internal_date, tz_minutes, raw } => {
                let mut line = format!(
                    "MESSAGE {uid} {} {flags} {internal_date} {tz_minutes} {}",
                    raw.len(),
                    keywords.len()
                );
                for k in keywords {
                    line.push(' ');
                    line.push_str(k);
                }
                line.push('\n');
                let mut out = line.into_bytes();
                out.extend_from_slice(raw);
                out
            }
        }
    }

    /// Parses an item's header line: the item (a message without its bytes yet) and the number
    /// of bytes that follow. `Ok(None)`: the line is not an item (the closing response starts).
    pub fn parse_header(line: &str) -> Result<Option<(ExportItem, usize)>, String> {
        if let Some(rest) = line.strip_prefix("MAILBOX ") {
            let (n, name) = rest.split_once(' ').ok_or("MAILBOX: no name")?;
            let name = check_mailbox(name)?;
            return Ok(Some((ExportItem::Mailbox { name, messages: num(n, "MAILBOX")? }, 0)));
        }
        let Some(rest) = line.strip_prefix("MESSAGE ") else { return Ok(None) };
        let mut it = rest.split(' ');
        let uid = num(words(&mut it, "MESSAGE")?, "uid")?;
        let size: usize = num(words(&mut it, "MESSAGE")?, "size")?;
        let flags = num(words(&mut it, "MESSAGE")?, "flags")?;
        let internal_date = num(words(&mut it, "MESSAGE")?, "date")?;
        let tz_minutes = num(words(&mut it, "MESSAGE")?, "zone")?;
        let n: usize = num(words(&mut it, "MESSAGE")?, "keyword count")?;
        let keywords: Vec<String> = it.map(str::to_string).collect();
        if keywords.len() != n {
            return Err("MESSAGE: keyword count does not match".into());
        }
        Ok(Some((
            ExportItem::Message { uid, flags, keywords, internal_date, tz_minutes, raw: Vec::new() },
            size,
        )))
    }
}

/// Reads every mailbox and message of an account from one snapshot and hands them to `emit`
/// one at a time (memory: one message). Stops at the first error `emit` returns. Returns the
/// number of messages exported.
pub fn export(
    store: &Store,
    account: &str,
    emit: &mut dyn FnMut(ExportItem) -> Result<(), String>,
) -> Result<u64, MigrateError> {
    let failure = MigrateError::store(account);
    let r = store.read().map_err(&failure)?;
    let id = r.account_id(&account.to_ascii_lowercase()).map_err(&failure)?;
    let mailboxes = r.mailboxes(id).map_err(&failure)?;
    let mut n = 0u64;
    for (mb_id, mb) in mailboxes {
        emit(ExportItem::Mailbox { name: mb.name.clone(), messages: mb.exists })
            .map_err(MigrateError::Emit)?;
        let mut stop = None;
        let scanned = r.scan(mb_id, 1..=u32::MAX, |uid, m| {
            let item = r.raw(m.blob).map_err(|e| e.to_string()).and_then(|raw| {
                emit(ExportItem::Message {
                    uid,
                    flags: m.flags,
                    keywords: m.keywords.clone(),
                    internal_date: m.internal_date,
                    tz_minutes: m.tz_minutes,
                    raw,
                })
            });
            match item {
                Ok(()) => {
                    n += 1;
                    std::ops::ControlFlow::Continue(())
                }
                Err(e) => {
                    stop = Some(e);
                    std::ops::ControlFlow::Break(())
                }
            }
        });
        scanned.map_err(&failure)?;
        if let Some(e) = stop {
            return Err(MigrateError::Emit(format!("{}: {e}", mb.name)));
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(mailbox: &str, kw: &[&str], raw: &[u8]) -> ImportMessage {
        ImportMessage {
            mailbox: mailbox.into(),
            flags: flag::SEEN | flag::DRAFT,
            keywords: kw.iter().map(|k| k.to_string()).collect(),
            internal_date: -5,
            tz_minutes: -90,
            raw: raw.to_vec(),
        }
    }

    #[test]
    fn batch_round_trips() {
        let b = Batch {
            mailboxes: vec!["Empty Folder".into()],
            uses: vec![("Sent Items".into(), SpecialUse::Sent), ("Old Sent".into(), SpecialUse::None)],
            expunge: vec![("Sent Items".into(), vec![(1, 3), (7, 7)])],
            messages: vec![
                msg("Archive/2024 old", &["$Forwarded", "work"], b"A: b\r\n\r\nMESSAGE 1 2\n"),
                msg("INBOX", &[], b""),
            ],
        };
        assert_eq!(Batch::decode(&b.encode()), Ok(b.clone()));
        assert_eq!(b.bytes(), 20);
        let mut bad = b.clone();
        bad.messages[0].keywords = vec!["a(b".into()];
        assert!(Batch::decode(&bad.encode()).is_err());
        let wire = b.encode();
        assert!(Batch::decode(&wire[..wire.len() - 1]).is_err());
        assert!(Batch::decode(b"MESSAGE 1 99 0 0 0 INBOX\nx").is_err());
        assert!(Batch::decode(b"FROB\n").is_err());
        assert!(Batch::decode(b"USE Frob INBOX\n").is_err());
        assert!(Batch::decode(b"EXPUNGE 5:2 INBOX\n").is_err());
        assert!(Batch::decode(b"EXPUNGE 0 INBOX\n").is_err());
    }

    /// Issue 11 part 4: each message was filed by looking its mailbox up again, with the first
    /// mailbox as the fallback when the lookup missed. Now the index comes from the check of
    /// the names: every message lands in its own mailbox (INBOX spelt in any case).
    #[test]
    fn every_message_lands_in_its_own_mailbox() {
        use crate::events::Hub;
        use std::sync::Arc;
        let dir = std::env::temp_dir().join(format!("applianced-batch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = Store::open(&dir.join("db"), &Default::default(), Arc::new(Hub::new())).expect("store");
        store.write_blocking(|t| t.create_account("a@b.c", "x", &[])).expect("account");
        let b = Batch {
            mailboxes: vec!["Empty".into()],
            messages: vec![
                msg("Work", &[], b"Subject: 1\r\n\r\nx\r\n"),
                msg("inbox", &[], b"Subject: 2\r\n\r\nx\r\n"),
                msg("Work", &[], b"Subject: 3\r\n\r\nx\r\n"),
                msg("Archive/2024", &[], b"Subject: 4\r\n\r\nx\r\n"),
            ],
            ..Batch::default()
        };
        let r = append_batch(&store, "a@b.c", b).expect("batch");
        assert_eq!(r.uids.len(), 4, "{:?}", r.skipped);
        let reader = store.read().expect("read");
        let account = reader.account_id("a@b.c").expect("account");
        for (name, n) in [("INBOX", 1), ("Work", 2), ("Archive/2024", 1), ("Empty", 0)] {
            let mb = reader.mailbox_id(account, name).expect(name);
            assert_eq!(reader.mailbox(mb).expect("record").exists, n, "{name}");
        }
        drop(reader);
        store.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn special_use_guesses() {
        assert_eq!(guess_special_use("Spam"), SpecialUse::Junk);
        assert_eq!(guess_special_use("Sent"), SpecialUse::Sent);
        assert_eq!(guess_special_use("sent"), SpecialUse::None);
        assert_eq!(guess_special_use("Projects"), SpecialUse::None);
    }

    #[test]
    fn export_items_round_trip() {
        let m = ExportItem::Message {
            uid: 7,
            flags: 3,
            keywords: vec!["$Junk".into()],
            internal_date: 100,
            tz_minutes: 60,
            raw: b"A: b\r\n\r\n".to_vec(),
        };
        let wire = m.encode();
        let nl = wire.iter().position(|&b| b == b'\n').unwrap_or(0);
        let (parsed, len) = ExportItem::parse_header(std::str::from_utf8(&wire[..nl]).unwrap_or(""))
            .ok()
            .flatten()
            .expect("an item");
        assert_eq!(len, 8);
        assert!(
            matches!(parsed, ExportItem::Message { uid: 7, flags: 3, ref keywords, .. } if keywords == &["$Junk"])
        );
        let mb = ExportItem::Mailbox { name: "A b/c".into(), messages: 2 };
        let wire = String::from_utf8(mb.encode()).unwrap_or_default();
        assert_eq!(ExportItem::parse_header(wire.trim_end()), Ok(Some((mb, 0))));
        assert_eq!(ExportItem::parse_header("* exported 1 messages"), Ok(None));
    }
}
