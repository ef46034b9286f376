//! Encoding of the values kept in the tables of [`super::schema`]. Little-endian, fixed fields
//! first, a version byte in front of each record so that a later format can add fields.
//! Decoding never panics: a damaged record is a [`StoreError::Corrupt`].

use super::error::{Result, StoreError};
use crate::codec::{self, Cursor};

/// IMAP system flags as bits (RFC 9051 §2.3.2). `\Recent` is not stored: it is per session.
pub mod flag {
    pub const SEEN: u8 = 1;
    pub const ANSWERED: u8 = 2;
    pub const FLAGGED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
    /// All the bits above.
    pub const ALL: u8 = 31;
}

/// Special-use attributes (RFC 6154) a mailbox can carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum SpecialUse {
    #[default]
    None = 0,
    Drafts = 1,
    Sent = 2,
    Trash = 3,
    Junk = 4,
    Archive = 5,
    All = 6,
    Flagged = 7,
}

/// The names of the special uses (RFC 6154 §2, without the backslash of the attribute): the one
/// table every mapping between a use and its name reads (LIST, CREATE's USE, import's LIST
/// attributes, the config, the batch wire form).
const SPECIAL_USE_NAMES: [(&str, SpecialUse); 7] = [
    ("Drafts", SpecialUse::Drafts),
    ("Sent", SpecialUse::Sent),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
    ("Archive", SpecialUse::Archive),
    ("All", SpecialUse::All),
    ("Flagged", SpecialUse::Flagged),
];

impl SpecialUse {
    /// The attribute's name as in RFC 6154 §2, with or without its backslash, in any case
    /// (`Sent`, `\\Junk`); `None` for another word.
    pub fn from_name(name: &str) -> Option<SpecialUse> {
        let name = name.strip_prefix('\\').unwrap_or(name);
        SPECIAL_USE_NAMES.into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, u)| u)
    }

    /// The name (`Sent`), `None` for [`SpecialUse::None`].
    pub fn name(self) -> Option<&'static str> {
        SPECIAL_USE_NAMES.into_iter().find(|(_, u)| *u == self).map(|(n, _)| n)
    }

    fn from_u8(v: u8) -> SpecialUse {
        match v {
            1 => SpecialUse::Drafts,
            2 => SpecialUse::Sent,
            3 => SpecialUse::Trash,
            4 => SpecialUse::Junk,
            5 => SpecialUse::Archive,
            6 => SpecialUse::All,
            7 => SpecialUse::Flagged,
            _ => SpecialUse::None,
        }
    }
}

/// A record being read: [`crate::codec::Cursor`], with every shortfall reported as damage to
/// the record named `what`.
struct Reader<'a> {
    cursor: Cursor<'a>,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Result<Self> {
        Ok(Self::versioned(buf, what, 1)?.0)
    }
    /// A record whose layout has versions 1 to `newest`: the reader and the version read.
    fn versioned(buf: &'a [u8], what: &'static str, newest: u8) -> Result<(Self, u8)> {
        let mut r = Reader { cursor: Cursor::new(buf), what };
        let version = r.u8()?;
        if version == 0 || version > newest {
            return Err(StoreError::Corrupt(format!("{what}: unknown record version {version}")));
        }
        Ok((r, version))
    }
    fn truncated<T>(&self, v: Option<T>) -> Result<T> {
        v.ok_or_else(|| StoreError::Corrupt(format!("{}: record truncated", self.what)))
    }
    fn u8(&mut self) -> Result<u8> {
        let v = self.cursor.u8();
        self.truncated(v)
    }
    fn u32(&mut self) -> Result<u32> {
        let v = self.cursor.u32();
        self.truncated(v)
    }
    fn u64(&mut self) -> Result<u64> {
        let v = self.cursor.u64();
        self.truncated(v)
    }
    fn i64(&mut self) -> Result<i64> {
        let v = self.cursor.i64();
        self.truncated(v)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let v = self.cursor.bytes();
        self.truncated(v)
    }
    fn string(&mut self) -> Result<String> {
        let what = self.what;
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| StoreError::Corrupt(format!("{what}: string is not UTF-8")))
    }
}

/// A record being written: a version byte (1 unless [`Writer::versioned`]), then fields as
/// [`crate::codec`] writes them.
struct Writer(Vec<u8>);

impl Writer {
    fn new() -> Self {
        Writer(vec![1])
    }
    fn versioned(version: u8) -> Self {
        Writer(vec![version])
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        codec::put_u32(&mut self.0, v);
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        codec::put_u64(&mut self.0, v);
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        codec::put_bytes(&mut self.0, v);
        self
    }
    fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// One account (a full address such as `alice@example.com`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub name: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Highest account-wide change number handed out (0: none yet).
    pub last_change: u64,
    /// Messages in all mailboxes, kept incrementally (for QUOTA).
    pub messages: u64,
    /// Bytes of all messages, kept incrementally (for QUOTA).
    pub bytes: u64,
}

impl AccountRecord {
    pub fn encode(&self) -> Vec<u8> {
        Writer::new()
            .bytes(self.name.as_bytes())
            .bytes(self.password_hash.as_bytes())
            .u64(self.last_change)
            .u64(self.messages)
            .u64(self.bytes)
            .done()
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "account")?;
        Ok(AccountRecord {
            name: r.string()?,
            password_hash: r.string()?,
            last_change: r.u64()?,
            messages: r.u64()?,
            bytes: r.u64()?,
        })
    }
}

/// One mailbox with the counters IMAP SELECT and STATUS report, kept incrementally.
///
/// Record version 2 (format 3) has `last_change` at the end and no subscription byte:
/// subscriptions are kept by name in [`super::schema::SUBSCRIPTIONS`], since they outlive the
/// mailbox (RFC 9051 §6.3.7). Version 1 (formats 1 and 2) ended with a subscription byte; it is
/// read by [`MailboxRecord::decode_any`] for the migration to format 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxRecord {
    pub account: u64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// Highest MODSEQ given to any change in this mailbox (RFC 7162); starts at 1.
    pub highest_modseq: u64,
    /// Messages in the mailbox.
    pub exists: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Sum of message sizes (STATUS SIZE).
    pub size: u64,
    /// UIDs at or above this one are `\Recent` for the next session that selects read-write.
    pub first_recent_uid: u32,
    pub special_use: SpecialUse,
    /// The account change number of the last change logged for this mailbox (0: none known),
    /// so that "which mailboxes changed since change n" reads the mailbox records, not the log.
    pub last_change: u64,
}

impl MailboxRecord {
    pub fn encode(&self) -> Vec<u8> {
        Writer::versioned(2)
            .u64(self.account)
            .bytes(self.name.as_bytes())
            .u32(self.uidvalidity)
            .u32(self.uidnext)
            .u64(self.highest_modseq)
            .u32(self.exists)
            .u32(self.unseen)
            .u32(self.deleted)
            .u64(self.size)
            .u32(self.first_recent_uid)
            .u8(self.special_use as u8)
            .u64(self.last_change)
            .done()
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        Ok(Self::decode_any(buf)?.0)
    }
    /// Either version; for a version-1 record also its subscription byte (`last_change` is
    /// then 0).
    pub fn decode_any(buf: &[u8]) -> Result<(Self, Option<bool>)> {
        let (mut r, version) = Reader::versioned(buf, "mailbox", 2)?;
        let mut rec = MailboxRecord {
            account: r.u64()?,
            name: r.string()?,
            uidvalidity: r.u32()?,
            uidnext: r.u32()?,
            highest_modseq: r.u64()?,
            exists: r.u32()?,
            unseen: r.u32()?,
            deleted: r.u32()?,
            size: r.u64()?,
            first_recent_uid: r.u32()?,
            special_use: SpecialUse::from_u8(r.u8()?),
            last_change: 0,
        };
        if version == 1 {
            return Ok((rec, Some(r.u8()? != 0)));
        }
        rec.last_change = r.u64()?;
        Ok((rec, None))
    }
}

/// One message in one mailbox. The raw bytes and FETCH data live in the blob it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub blob: u64,
    pub modseq: u64,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: i64,
    /// Offset from UTC of the internal date, in minutes, as the client gave it.
    pub tz_minutes: i16,
    pub size: u32,
    /// Bits of [`flag`].
    pub flags: u8,
    /// Keywords (RFC 9051 §2.3.2), kept sorted and unique.
    pub keywords: Vec<String>,
}

impl MessageRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.blob)
            .u64(self.modseq)
            .u64(self.internal_date as u64)
            .u32(self.tz_minutes as u16 as u32)
            .u32(self.size)
            .u8(self.flags)
            .u32(self.keywords.len() as u32);
        for k in &self.keywords {
            w.bytes(k.as_bytes());
        }
        w.done()
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "message")?;
        let blob = r.u64()?;
        let modseq = r.u64()?;
        let internal_date = r.i64()?;
        let tz_minutes = r.u32()? as u16 as i16;
        let size = r.u32()?;
        let flags = r.u8()?;
        let n = r.u32()? as usize;
        let mut keywords = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            keywords.push(r.string()?);
        }
        Ok(MessageRecord { blob, modseq, internal_date, tz_minutes, size, flags, keywords })
    }
}

/// Size and FETCH data of a stored message body; the bytes are in `blob_chunks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRecord {
    pub size: u32,
    /// Opaque to the store: produced by `imap::fetchdata` at delivery.
    pub fetch_data: Vec<u8>,
}

impl BlobRecord {
    pub fn encode(&self) -> Vec<u8> {
        Writer::new().u32(self.size).bytes(&self.fetch_data).done()
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "blob")?;
        Ok(BlobRecord { size: r.u32()?, fetch_data: r.bytes()?.to_vec() })
    }
}

/// What one entry of the account-wide change log says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A message arrived (append, delivery, copy, move).
    Added = 1,
    /// A message's flags or keywords changed.
    Flags = 2,
    /// A message was expunged.
    Expunged = 3,
    /// A mailbox was created.
    MailboxCreated = 4,
    /// A mailbox was deleted.
    MailboxDeleted = 5,
    /// A mailbox was renamed or its attributes changed.
    MailboxChanged = 6,
}

/// One entry of the account-wide change log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    pub kind: ChangeKind,
    pub mailbox: u64,
    /// The message's UID, 0 for mailbox-level changes.
    pub uid: u32,
    /// The mailbox's MODSEQ after the change.
    pub modseq: u64,
}

impl ChangeRecord {
    pub fn encode(&self) -> Vec<u8> {
        Writer::new().u8(self.kind as u8).u64(self.mailbox).u32(self.uid).u64(self.modseq).done()
    }
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "change")?;
        let kind = match r.u8()? {
            1 => ChangeKind::Added,
            2 => ChangeKind::Flags,
            3 => ChangeKind::Expunged,
            4 => ChangeKind::MailboxCreated,
            5 => ChangeKind::MailboxDeleted,
            6 => ChangeKind::MailboxChanged,
            k => return Err(StoreError::Corrupt(format!("change: unknown kind {k}"))),
        };
        Ok(ChangeRecord { kind, mailbox: r.u64()?, uid: r.u32()?, modseq: r.u64()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let m = MessageRecord {
            blob: 7,
            modseq: 99,
            internal_date: -5,
            tz_minutes: -330,
            size: 1234,
            flags: flag::SEEN | flag::DRAFT,
            keywords: vec!["$Forwarded".into(), "work".into()],
        };
        assert_eq!(MessageRecord::decode(&m.encode()).ok(), Some(m));
        let mb = MailboxRecord {
            account: 1,
            name: "Sent".into(),
            uidvalidity: 3,
            uidnext: 4,
            highest_modseq: 5,
            exists: 6,
            unseen: 7,
            deleted: 8,
            size: 9,
            first_recent_uid: 10,
            special_use: SpecialUse::Sent,
            last_change: 11,
        };
        assert_eq!(MailboxRecord::decode(&mb.encode()).ok(), Some(mb.clone()));
        // A version-1 record (formats 1 and 2): the same fields, then the subscription byte.
        let mut v1 = mb.encode();
        v1.truncate(v1.len() - 8);
        v1[0] = 1;
        v1.push(1);
        let want = MailboxRecord { last_change: 0, ..mb };
        assert_eq!(MailboxRecord::decode_any(&v1).ok(), Some((want, Some(true))));
        assert!(MailboxRecord::decode(&[3, 0]).is_err(), "a version from the future is damage");
        let c = ChangeRecord { kind: ChangeKind::Expunged, mailbox: 3, uid: 9, modseq: 12 };
        assert_eq!(ChangeRecord::decode(&c.encode()).ok(), Some(c));
    }

    #[test]
    fn damaged_records_are_errors() {
        assert!(MessageRecord::decode(&[]).is_err());
        assert!(MessageRecord::decode(&[2, 0, 0]).is_err());
        assert!(MailboxRecord::decode(&[1, 0]).is_err());
    }
}
