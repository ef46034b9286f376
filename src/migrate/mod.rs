//! Moving mail in and out of an account in bulk (`import`, `export`): the batch every importer
//! hands over (maildir, mbox, remote IMAP), its execution on a store, the stream an export reads,
//! and the wire form of both on the control socket. No IO here: `server/control.rs` carries the
//! bytes, `cli/sink.rs` picks the running server or the store, `cli/` reads and writes files.
//!
//! Wire form of a batch (the payload of `APPEND-BATCH <length> <account>`, see
//! [`crate::admin::Request::encode`]): a sequence of entries, each a header line and, for a
//! message, its bytes:
//!
//! ```text
//! MAILBOX <name>\n                                   create if missing (an empty folder)
//! MESSAGE <size> <flags> <date> <tz> <n> <kw1>..<kwn> <mailbox>\n<size bytes>
//! ```
//!
//! `flags` are the bits of [`crate::store::flag`], `date` Unix seconds, `tz` minutes east of
//! UTC, then `n` keywords (IMAP atoms: no spaces), then the mailbox name (UTF-8, the rest of the
//! line: it may hold spaces, never a control character). The answer is an ordinary
//! [`Response`]: `* appended N`, one `* skipped I reason` per message refused as not mail
//! (`I` its index in the batch), sent only after the durable commit.
//!
//! Wire form of an export (the answer to `EXPORT <account>`): for each mailbox
//! `MAILBOX <messages> <name>\n`, then for each of its messages
//! `MESSAGE <uid> <size> <flags> <date> <tz> <n> <kw1>..<kwn>\n<size bytes>`, and at the end
//! the ordinary [`Response`] (`* exported N messages`, exit code).

pub mod mbox;

use crate::admin::{Response, exit, normalize_line_ends};
use crate::imap::fetchdata;
use crate::proto::command::{Atom, MailboxName};
use crate::store::{NewMessage, SpecialUse, Store, StoreError, flag};

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
    pub messages: Vec<ImportMessage>,
}

/// What became of a batch, once durable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    pub appended: usize,
    /// Index in the batch and reason of each message refused as not mail.
    pub skipped: Vec<(usize, String)>,
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
            out.extend_from_slice(format!("MAILBOX {}\n", m.replace(['\r', '\n'], " ")).as_bytes());
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
            line.push_str(&m.mailbox.replace(['\r', '\n'], " "));
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

impl Appended {
    pub fn to_response(&self) -> Response {
        let mut lines = vec![format!("appended {}", self.appended)];
        lines.extend(self.skipped.iter().map(|(i, why)| format!("skipped {i} {why}")));
        Response { lines, code: exit::OK }
    }

    /// Reads a successful answer back; `None` if it is not one.
    pub fn from_response(r: &Response) -> Option<Appended> {
        if r.code != exit::OK {
            return None;
        }
        let mut out = Appended::default();
        for l in &r.lines {
            if let Some(n) = l.strip_prefix("appended ") {
                out.appended = n.trim().parse().ok()?;
            } else if let Some(rest) = l.strip_prefix("skipped ") {
                let (i, why) = rest.split_once(' ').unwrap_or((rest, ""));
                out.skipped.push((i.parse().ok()?, why.to_string()));
            }
        }
        Some(out)
    }
}

/// The special use a folder of this name gets when an import creates it (RFC 6154).
pub fn special_use(name: &str) -> SpecialUse {
    match name {
        "Drafts" => SpecialUse::Drafts,
        "Sent" => SpecialUse::Sent,
        "Trash" => SpecialUse::Trash,
        "Junk" | "Spam" => SpecialUse::Junk,
        "Archive" => SpecialUse::Archive,
        _ => SpecialUse::None,
    }
}

fn failure(e: &StoreError) -> Response {
    let code = match e {
        StoreError::NoSuchAccount => exit::NOUSER,
        // Room may be made; the import resumes where it stopped.
        StoreError::OverQuota => exit::TEMPFAIL,
        e if e.is_temporary() => exit::TEMPFAIL,
        StoreError::NotAllowed(_) => exit::DATAERR,
        _ => exit::SOFTWARE,
    };
    Response { lines: vec![format!("batch not imported: {e}")], code }
}

/// Adds a batch to an account in one durable commit, creating missing mailboxes; answers after
/// the commit. A message that is not mail is skipped (and reported); anything else refuses the
/// whole batch (over quota, no such account). Blocking: call it off the async executor.
pub fn append_batch(store: &Store, account: &str, batch: Batch) -> Response {
    let mut skipped = Vec::new();
    let mut prepared = Vec::with_capacity(batch.messages.len());
    // The batch's mailboxes, each once, and for each message the index of its own: found when
    // the names are checked, so that no later lookup can miss and file a message elsewhere.
    let mut names: Vec<String> = Vec::new();
    let mut index_of = |name: &str| -> Result<usize, String> {
        let n = check_mailbox(name)?;
        Ok(names.iter().position(|x| *x == n).unwrap_or_else(|| {
            names.push(n);
            names.len() - 1
        }))
    };
    let mut boxes = Vec::with_capacity(batch.messages.len());
    for name in &batch.mailboxes {
        if let Err(e) = index_of(name) {
            return Response { lines: vec![e], code: exit::DATAERR };
        }
    }
    for m in &batch.messages {
        match index_of(&m.mailbox) {
            Ok(i) => boxes.push(i),
            Err(e) => return Response { lines: vec![e], code: exit::DATAERR },
        }
    }
    for ((i, m), mb) in batch.messages.into_iter().enumerate().zip(boxes) {
        if let Some(bad) = m.keywords.iter().find_map(|k| check_keyword(k).err()) {
            return Response { lines: vec![bad], code: exit::DATAERR };
        }
        let raw = normalize_line_ends(m.raw);
        match fetchdata::compute(&raw) {
            Ok(data) => prepared.push((
                mb,
                raw,
                data.encode(),
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
    let count = prepared.len();
    let result = store.write_blocking(move |t| {
        let account = t.account_id(&name)?;
        let mut ids = Vec::with_capacity(names.len());
        for n in &names {
            ids.push(match t.mailbox_id(account, n) {
                Ok(id) => id,
                Err(StoreError::NoSuchMailbox) => t.create_mailbox(account, n, special_use(n))?,
                Err(e) => return Err(e),
            });
        }
        for (mb, raw, data, msg) in &prepared {
            let blob = t.put_blob(raw, data)?;
            t.append(ids[*mb], &NewMessage { blob, ..msg.clone() })?;
        }
        Ok(())
    });
    match result {
        Ok(()) => Appended { appended: count, skipped }.to_response(),
        Err(e) => failure(&e),
    }
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
                format!("MAILBOX {messages} {}\n", name.replace(['\r', '\n'], " ")).into_bytes()
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
/// one at a time (memory: one message). Stops at the first error `emit` returns.
pub fn export(
    store: &Store,
    account: &str,
    emit: &mut dyn FnMut(ExportItem) -> Result<(), String>,
) -> Response {
    let fail = |code, line: String| Response { lines: vec![line], code };
    let r = match store.read() {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let id = match r.account_id(&account.to_ascii_lowercase()) {
        Ok(id) => id,
        Err(StoreError::NoSuchAccount) => return fail(exit::NOUSER, format!("no account {account}")),
        Err(e) => return failure(&e),
    };
    let mailboxes = match r.mailboxes(id) {
        Ok(m) => m,
        Err(e) => return failure(&e),
    };
    let mut n = 0u64;
    for (mb_id, mb) in mailboxes {
        if let Err(e) = emit(ExportItem::Mailbox { name: mb.name.clone(), messages: mb.exists }) {
            return fail(exit::IOERR, e);
        }
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
        if let Err(e) = scanned {
            return failure(&e);
        }
        if let Some(e) = stop {
            return fail(exit::IOERR, format!("{}: {e}", mb.name));
        }
    }
    Response { lines: vec![format!("exported {n} messages")], code: exit::OK }
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
        };
        let r = append_batch(&store, "a@b.c", b);
        assert_eq!(r.code, exit::OK, "{:?}", r.lines);
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
    fn appended_round_trips() {
        let a = Appended { appended: 3, skipped: vec![(1, "no header".into())] };
        assert_eq!(Appended::from_response(&a.to_response()), Some(a));
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
