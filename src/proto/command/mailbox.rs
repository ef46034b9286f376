//! Mailbox names, modified UTF-7 (RFC 3501 §5.1.3) and the mailbox commands' options
//! (SELECT, LIST, STATUS, CREATE, APPEND).

use super::*;

// Mailbox names and modified UTF-7 (RFC 3501 §5.1.3)

/// A mailbox name, always held as UTF-8 (decoded from modified UTF-7 when the client has not
/// enabled UTF8=ACCEPT or IMAP4rev2). Never empty, never holds control characters. Any case of
/// `INBOX` is stored as `INBOX` (RFC 9051 §5.1: INBOX is case-insensitive); other names keep
/// their case.
///
/// A name that is a valid astring but not valid modified UTF-7 (`&` not followed by a proper
/// base64 run) is no syntax error (RFC 3501 §5.1.3 only says how names are encoded): it is
/// held as the characters it is, marked [`MailboxName::is_not_modified_utf7`], so that the
/// command answers NO (no mailbox has such a name; none may be created with it), never BAD.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName {
    name: String,
    not_utf7: bool,
}

impl MailboxName {
    /// Checks a UTF-8 name as given (no modified UTF-7 decoding).
    pub fn new(name: &str) -> Result<Self, InvalidValue> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return invalid("mailbox name");
        }
        let name = if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name };
        Ok(MailboxName { name: name.to_string(), not_utf7: false })
    }

    /// A name as it came over the wire: UTF-8 when `utf8` (UTF8=ACCEPT / IMAP4rev2 enabled),
    /// else modified UTF-7 (raw UTF-8 from a sloppy client is accepted as well; printable
    /// ASCII that is not valid modified UTF-7 is kept as it is, marked).
    pub fn from_wire(bytes: &[u8], utf8: bool) -> Result<Self, InvalidValue> {
        if utf8 {
            let name = std::str::from_utf8(bytes).map_err(|_| InvalidValue { what: "mailbox name" })?;
            return MailboxName::new(name);
        }
        match decode_modified_utf7(bytes) {
            Ok(decoded) => MailboxName::new(&decoded),
            Err(_) if !bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)) => {
                Ok(MailboxName { name: String::from_utf8_lossy(bytes).into_owned(), not_utf7: true })
            }
            Err(e) => Err(e),
        }
    }

    /// The client sent a name that is not valid modified UTF-7 (see the type's comment).
    pub fn is_not_modified_utf7(&self) -> bool {
        self.not_utf7
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn is_inbox(&self) -> bool {
        self.name == "INBOX"
    }

    /// The name in modified UTF-7, for responses to clients without UTF8=ACCEPT.
    pub fn to_modified_utf7(&self) -> String {
        encode_modified_utf7(&self.name)
    }
}

impl TryFrom<&str> for MailboxName {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        MailboxName::new(s)
    }
}

impl TryFrom<String> for MailboxName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        MailboxName::new(&s)
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

const MUTF7_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn mutf7_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Decodes a modified UTF-7 mailbox name (RFC 3501 §5.1.3): `&-` is `&`, `&...-` is modified
/// BASE64 of UTF-16BE. Valid raw UTF-8 outside `&...-` is passed through.
pub fn decode_modified_utf7(input: &[u8]) -> Result<String, InvalidValue> {
    let bad = || InvalidValue { what: "modified UTF-7 mailbox name" };
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'&' {
            // Copy a run of non-'&' bytes, which must be UTF-8.
            let end = input[i..].iter().position(|&c| c == b'&').map_or(input.len(), |p| i + p);
            out.push_str(std::str::from_utf8(&input[i..end]).map_err(|_| bad())?);
            i = end;
            continue;
        }
        let close = input[i + 1..].iter().position(|&c| c == b'-').ok_or_else(bad)? + i + 1;
        let encoded = &input[i + 1..close];
        i = close + 1;
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0u32;
        let mut units: Vec<u16> = Vec::with_capacity(encoded.len() * 6 / 16);
        for &c in encoded {
            bits = (bits << 6) | mutf7_value(c).ok_or_else(bad)?;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((bits >> nbits) & 0xffff) as u16);
                bits &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be padding: fewer than 6 and all zero.
        if nbits >= 6 || bits != 0 || units.is_empty() {
            return Err(bad());
        }
        for ch in char::decode_utf16(units.iter().copied()) {
            out.push(ch.map_err(|_| bad())?);
        }
    }
    Ok(out)
}

/// Encodes a UTF-8 name as modified UTF-7 (RFC 3501 §5.1.3).
pub fn encode_modified_utf7(name: &str) -> String {
    fn flush(out: &mut String, units: &mut Vec<u16>) {
        if units.is_empty() {
            return;
        }
        out.push('&');
        let mut bits: u32 = 0;
        let mut nbits = 0u32;
        for &u in units.iter() {
            bits = (bits << 16) | u32::from(u);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(char::from(MUTF7_ALPHABET[((bits >> nbits) & 0x3f) as usize]));
            }
            bits &= (1 << nbits) - 1;
        }
        if nbits > 0 {
            out.push(char::from(MUTF7_ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize]));
        }
        out.push('-');
        units.clear();
    }
    let mut out = String::with_capacity(name.len());
    let mut units = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut units);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut units);
    out
}

// Mailbox commands' options

/// `status-att` (RFC 9051, RFC 3501 RECENT, RFC 7162 HIGHESTMODSEQ, RFC 8474 MAILBOXID,
/// RFC 7889 APPENDLIMIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusAttribute {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    Recent,
    HighestModSeq,
    MailboxId,
    AppendLimit,
}

/// LIST selection options (RFC 5258 §3, RFC 6154 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListSelect {
    Subscribed,
    Remote,
    RecursiveMatch,
    SpecialUse,
}

/// LIST return options (RFC 5258 §3, RFC 5819 STATUS, RFC 6154 SPECIAL-USE).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListReturn {
    Subscribed,
    Children,
    SpecialUse,
    Status(NonEmpty<StatusAttribute>),
}

/// `use-attr` (RFC 6154 §6): the atom after the backslash, as sent (`Sent`, RFC 8457's
/// `Important`, any other `\atom`). Which ones applianced keeps is the store's table
/// (`store::SpecialUse::from_name`); the CREATE handler answers `NO [USEATTR]` for the others.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecialUse(pub Atom);

/// QRESYNC select parameter (RFC 7162 §3.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QResync {
    pub uid_validity: NonZeroU32,
    pub mod_seq: ModSeq,
    pub known_uids: Option<NumberSet>,
    /// `(known-sequence-set known-uid-set)`.
    pub seq_match: Option<(NumberSet, NumberSet)>,
}

/// SELECT / EXAMINE parameters (RFC 4466 `select-params`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<QResync>,
}

/// One message of APPEND (MULTIAPPEND, RFC 3502, may send several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date_time: Option<DateTime>,
    /// A literal, or the parts CATENATE builds the message from (RFC 4469).
    pub data: AppendData,
}

impl AppendMessage {
    /// The bytes of a literal message, given the same framed command that was parsed (empty if
    /// another buffer is passed by mistake and the range does not fit, and for CATENATE).
    pub fn bytes<'a>(&self, command: &'a [u8]) -> &'a [u8] {
        match &self.data {
            AppendData::Literal { range, .. } => command.get(range.clone()).unwrap_or_default(),
            AppendData::Catenate(_) => &[],
        }
    }
}
