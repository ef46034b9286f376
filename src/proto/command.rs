//! Typed IMAP commands: what `proto::parse` produces and the command handlers consume.
//!
//! Every wrapper type here is checked when it is built (`TryFrom`, `new` returning `Option` or
//! `Result`), so a handler never validates a tag, a mailbox name, a sequence set or a flag again
//! (STYLE.md §3). Grammar references are to RFC 9051 §9 unless another RFC is named.
//!
//! Strings the client sends to be matched against messages (SEARCH keys) are kept as the raw bytes
//! received, in the charset named by the command's `CHARSET` (`None` meaning US-ASCII / UTF-8): the
//! search handler decides which charsets it supports (`NO [BADCHARSET]`).

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::ops::{Deref, Range};

/// Why a value could not become one of the checked types of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    /// What was being built, e.g. `"tag"` or `"mailbox name"`.
    pub what: &'static str,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.what)
    }
}

impl std::error::Error for InvalidValue {}

fn invalid<T>(what: &'static str) -> Result<T, InvalidValue> {
    Err(InvalidValue { what })
}

// ---------------------------------------------------------------------------------------------
// Character classes (RFC 9051 §9, RFC 5234 core rules)
// ---------------------------------------------------------------------------------------------

/// `CTL = %x00-1F / %x7F`
pub(crate) fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR = <any CHAR except atom-specials>`;
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`
pub(crate) fn is_atom_char(b: u8) -> bool {
    b.is_ascii() && !is_ctl(b) && !matches!(b, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `tag = 1*<any ASTRING-CHAR except "+">`
pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
pub(crate) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

// ---------------------------------------------------------------------------------------------
// Generic containers
// ---------------------------------------------------------------------------------------------

/// A list the grammar requires to have at least one element (`x *(SP x)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    pub fn new(first: T) -> Self {
        NonEmpty(vec![first])
    }

    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = InvalidValue;
    fn try_from(v: Vec<T>) -> Result<Self, InvalidValue> {
        if v.is_empty() { invalid("empty list") } else { Ok(NonEmpty(v)) }
    }
}

impl<T> Deref for NonEmpty<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a NonEmpty<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for NonEmpty<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Bytes that must not show up in logs: passwords and SASL responses. `Debug` prints their
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Tag, Atom
// ---------------------------------------------------------------------------------------------

/// A command tag: `tag = 1*<any ASTRING-CHAR except "+">`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&[u8]> for Tag {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty() || !b.iter().all(|&c| is_tag_char(c)) {
            return invalid("tag");
        }
        // Tag characters are ASCII, so this cannot fail.
        String::from_utf8(b.to_vec()).map(Tag).or_else(|_| invalid("tag"))
    }
}

impl TryFrom<&str> for Tag {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Tag::try_from(s.as_bytes())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `atom = 1*ATOM-CHAR`: capability names, keywords, SASL mechanisms, charsets given as atoms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl Atom {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison, as IMAP compares protocol atoms.
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl TryFrom<&[u8]> for Atom {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty() || !b.iter().all(|&c| is_atom_char(c)) {
            return invalid("atom");
        }
        String::from_utf8(b.to_vec()).map(Atom).or_else(|_| invalid("atom"))
    }
}

impl TryFrom<&str> for Atom {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Atom::try_from(s.as_bytes())
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7): EMAILID and THREADID values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&[u8]> for ObjectId {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty()
            || b.len() > 255
            || !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return invalid("object id");
        }
        String::from_utf8(b.to_vec()).map(ObjectId).or_else(|_| invalid("object id"))
    }
}

impl TryFrom<&str> for ObjectId {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        ObjectId::try_from(s.as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// Mailbox names and modified UTF-7 (RFC 3501 §5.1.3)
// ---------------------------------------------------------------------------------------------

/// A mailbox name, always held as UTF-8 (decoded from modified UTF-7 when the client has not
/// enabled UTF8=ACCEPT or IMAP4rev2). Never empty, never holds control characters. Any case of
/// `INBOX` is stored as `INBOX` (RFC 9051 §5.1: INBOX is case-insensitive); other names keep
/// their case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

impl MailboxName {
    /// Checks a UTF-8 name as given (no modified UTF-7 decoding).
    pub fn new(name: &str) -> Result<Self, InvalidValue> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return invalid("mailbox name");
        }
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(MailboxName("INBOX".into()));
        }
        Ok(MailboxName(name.to_string()))
    }

    /// A name as it came over the wire: UTF-8 when `utf8` (UTF8=ACCEPT / IMAP4rev2 enabled),
    /// else modified UTF-7 (raw UTF-8 from a sloppy client is accepted as well).
    pub fn from_wire(bytes: &[u8], utf8: bool) -> Result<Self, InvalidValue> {
        let decoded = if utf8 {
            std::str::from_utf8(bytes).map_err(|_| InvalidValue { what: "mailbox name" })?.to_string()
        } else {
            decode_modified_utf7(bytes)?
        };
        MailboxName::new(&decoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }

    /// The name in modified UTF-7, for responses to clients without UTF8=ACCEPT.
    pub fn to_modified_utf7(&self) -> String {
        encode_modified_utf7(&self.0)
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
        f.write_str(&self.0)
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

// ---------------------------------------------------------------------------------------------
// Numbers, sequence sets, mod-sequences
// ---------------------------------------------------------------------------------------------

/// `seq-number = nz-number / "*"`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    Number(NonZeroU32),
    /// `*`: the largest number in use (the last message's sequence number or UID).
    Last,
}

impl SeqNumber {
    /// The number with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Number(n) => n.get(),
            SeqNumber::Last => largest,
        }
    }
}

/// `seq-range = seq-number ":" seq-number`, or a single `seq-number` (then `start == end`).
/// The order of the two ends does not matter (`4:2` is `2:4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub start: SeqNumber,
    pub end: SeqNumber,
}

impl SeqRange {
    pub fn single(n: SeqNumber) -> Self {
        SeqRange { start: n, end: n }
    }

    /// The range as `(low, high)` with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> (u32, u32) {
        let a = self.start.resolve(largest);
        let b = self.end.resolve(largest);
        (a.min(b), a.max(b))
    }
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]` and `sequence-set =/ seq-last-command`
/// (`"$"`, RFC 5182 SEARCHRES). As in Dovecot, `$` is accepted only on its own, not mixed with numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)`.
    Saved,
    Ranges(NonEmpty<SeqRange>),
}

impl SequenceSet {
    /// Whether `n` is in the set, `*` standing for `largest`; `None` for `$`, which the caller
    /// resolves from its saved result.
    pub fn contains(&self, n: u32, largest: u32) -> Option<bool> {
        match self {
            SequenceSet::Saved => None,
            SequenceSet::Ranges(r) => Some(r.iter().any(|r| {
                let (lo, hi) = r.resolve(largest);
                (lo..=hi).contains(&n)
            })),
        }
    }
}

/// A set of numbers without `*` or `$` (`known-uids`, `known-sequence-set` and `known-uid-set`
/// of RFC 7162 QRESYNC), held as `(low, high)` ranges with `low <= high`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NumberSet(NonEmpty<(NonZeroU32, NonZeroU32)>);

impl NumberSet {
    /// Builds a set from ranges given either way round.
    pub fn new(ranges: Vec<(NonZeroU32, NonZeroU32)>) -> Result<Self, InvalidValue> {
        let ranges: Vec<_> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        NonEmpty::try_from(ranges).map(NumberSet)
    }

    pub fn ranges(&self) -> &[(NonZeroU32, NonZeroU32)] {
        &self.0
    }

    pub fn contains(&self, n: u32) -> bool {
        self.0.iter().any(|(lo, hi)| (lo.get()..=hi.get()).contains(&n))
    }
}

/// A positive 63-bit mod-sequence (`mod-sequence-value`, RFC 7162 §7). Zero, allowed where the
/// grammar says `mod-sequence-valzer`, is carried as a plain `u64` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModSeq(NonZeroU64);

impl ModSeq {
    /// The largest mod-sequence RFC 7162 allows (63 bits).
    pub const MAX: u64 = i64::MAX as u64;

    pub fn new(v: u64) -> Option<Self> {
        if v > Self::MAX { None } else { NonZeroU64::new(v).map(ModSeq) }
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }
}

/// `partial-range = partial-range-first / partial-range-last` (RFC 9394 §4), held with
/// `from <= to` (the RFC makes `500:400` the same as `400:500`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartialRange {
    /// `1:100`: positions counted from the first (oldest) result, 1-based.
    First { from: NonZeroU32, to: NonZeroU32 },
    /// `-1:-100`: positions counted from the last (newest) result, 1 being the last.
    Last { from: NonZeroU32, to: NonZeroU32 },
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// A calendar date: `date-text = date-day "-" date-month "-" date-year`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01, any year (Howard Hinnant's
/// civil_from_days; the inverse of [`Date::days_since_epoch`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as u32, day as u32)
}

impl Date {
    /// A real date between years 1 and 9999.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Date { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    /// Offset from UTC in minutes (`+0130` is 90).
    zone_minutes: i16,
}

impl DateTime {
    /// Checks the time (a leap second 60 is allowed) and a zone within ±99:59.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8, zone_minutes: i16) -> Option<Self> {
        if hour > 23 || minute > 59 || second > 60 || zone_minutes.unsigned_abs() > 99 * 60 + 59 {
            return None;
        }
        Some(DateTime { date, hour, minute, second, zone_minutes })
    }

    pub fn date(self) -> Date {
        self.date
    }

    pub fn hour(self) -> u8 {
        self.hour
    }

    pub fn minute(self) -> u8 {
        self.minute
    }

    pub fn second(self) -> u8 {
        self.second
    }

    pub fn zone_minutes(self) -> i16 {
        self.zone_minutes
    }

    /// Seconds since the Unix epoch, UTC.
    pub fn unix_timestamp(self) -> i64 {
        self.date.days_since_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.zone_minutes) * 60
    }
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension`
/// (system flags matched case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    Answered,
    Flagged,
    Deleted,
    Seen,
    Draft,
    /// `flag-keyword`: `$Forwarded`, `$Junk`, `NonJunk`, ... (an atom, case kept).
    Keyword(Atom),
    /// `flag-extension = "\" atom`, without the backslash (e.g. `Recent`).
    Extension(Atom),
}

impl TryFrom<&[u8]> for Flag {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        match b.strip_prefix(b"\\") {
            Some(name) => Ok(match name.to_ascii_uppercase().as_slice() {
                b"ANSWERED" => Flag::Answered,
                b"FLAGGED" => Flag::Flagged,
                b"DELETED" => Flag::Deleted,
                b"SEEN" => Flag::Seen,
                b"DRAFT" => Flag::Draft,
                _ => Flag::Extension(Atom::try_from(name).map_err(|_| InvalidValue { what: "flag" })?),
            }),
            None => Atom::try_from(b).map(Flag::Keyword).map_err(|_| InvalidValue { what: "flag" }),
        }
    }
}

impl TryFrom<&str> for Flag {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Flag::try_from(s.as_bytes())
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Keyword(a) => f.write_str(a.as_str()),
            Flag::Extension(a) => write!(f, "\\{a}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mailbox commands' options
// ---------------------------------------------------------------------------------------------

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
    /// Where the message is in the framed command passed to `parse_command`: no copy is made of it.
    pub data: Range<usize>,
    /// Sent as `literal8` (`~{n}`, RFC 3516): may contain NUL.
    pub binary: bool,
    /// Sent as `UTF8 (~{n})` (RFC 6855 §4).
    pub utf8: bool,
}

impl AppendMessage {
    /// The message bytes, given the same framed command that was parsed (empty if another buffer
    /// is passed by mistake and the range does not fit).
    pub fn bytes<'a>(&self, command: &'a [u8]) -> &'a [u8] {
        command.get(self.data.clone()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// SEARCH, SORT, THREAD
// ---------------------------------------------------------------------------------------------

/// `entry-type-req = entry-type-resp / "all"` (RFC 7162 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryType {
    Private,
    Shared,
    All,
}

/// A search criterion (RFC 9051 §6.4.4 and RFC 3501 §6.4.4; extensions named per variant).
/// Strings are the raw bytes received, in the command's charset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(Date),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    Header(String, Vec<u8>),
    Keyword(Atom),
    Larger(u64),
    /// RFC 3501 only: `\Recent` and not `\Seen`.
    New,
    Not(Box<SearchKey>),
    /// RFC 3501 only: not `\Recent`.
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    /// RFC 3501 only.
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(Atom),
    Unseen,
    SequenceSet(SequenceSet),
    /// `"(" search-key *(SP search-key) ")"`, and several keys given side by side.
    And(NonEmpty<SearchKey>),
    /// RFC 7162 §3.1.5: `MODSEQ ["/flags/<flag>" entry-type] mod-sequence-valzer`.
    ModSeq {
        entry: Option<(Flag, EntryType)>,
        mod_seq: u64,
    },
    /// RFC 8474 §5.
    EmailId(ObjectId),
    /// RFC 8474 §5.
    ThreadId(ObjectId),
    /// RFC 8514 §4.
    SavedBefore(Date),
    SavedOn(Date),
    SavedSince(Date),
    SaveDateSupported,
    /// RFC 5032 WITHIN: messages older than this many seconds.
    Older(NonZeroU32),
    /// RFC 5032 WITHIN: messages younger than this many seconds.
    Younger(NonZeroU32),
}

/// `search-return-opt` (RFC 4731 ESEARCH, RFC 5182 SAVE, RFC 9394 PARTIAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
    Partial(PartialRange),
    /// RFC 5267 §4.2: a hint that the criteria will be used again.
    Context,
    /// RFC 5267 §4.3: keep the result up to date with ADDTO / REMOVEFROM.
    Update,
}

/// `sort-key` (RFC 5256 §5, RFC 5957 DISPLAYFROM / DISPLAYTO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// `sort-criterion = ["REVERSE" SP] sort-key`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// `thread-alg` (RFC 5256 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

// ---------------------------------------------------------------------------------------------
// FETCH and STORE
// ---------------------------------------------------------------------------------------------

/// `section-part = nz-number *("." nz-number)`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Part(pub NonEmpty<NonZeroU32>);

/// `section-spec` of BODY[...] (RFC 9051 §6.4.5). `MIME` exists only with a part number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `[]`: the whole message.
    Full,
    /// `[1.2]`
    Part(Part),
    /// `[HEADER]`, `[1.2.HEADER]` (a part that is a message/rfc822).
    Header(Option<Part>),
    /// `[HEADER.FIELDS (a b)]`; field names as sent (compare case-insensitively).
    HeaderFields(Option<Part>, NonEmpty<String>),
    /// `[HEADER.FIELDS.NOT (a b)]`
    HeaderFieldsNot(Option<Part>, NonEmpty<String>),
    /// `[TEXT]`, `[1.TEXT]`
    Text(Option<Part>),
    /// `[1.MIME]`
    Mime(Part),
}

/// `partial = "<" number64 "." nz-number64 ">"`: offset and length of the slice wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partial {
    pub offset: u64,
    pub length: NonZeroU64,
}

/// A FETCH data item (RFC 9051 §6.4.5). The macros ALL, FAST and FULL are expanded by the
/// parser into their items.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FetchAttribute {
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]` (RFC 3516); an empty part list is the whole message.
    Binary {
        peek: bool,
        part: Vec<NonZeroU32>,
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        part: Vec<NonZeroU32>,
    },
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<Partial>,
    },
    BodyStructure,
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Uid,
    /// RFC 7162
    ModSeq,
    /// RFC 8474
    EmailId,
    /// RFC 8474
    ThreadId,
    /// RFC 8514
    SaveDate,
    /// RFC 8970 `PREVIEW [(LAZY)]`
    Preview {
        lazy: bool,
    },
}

/// `fetch-modifier` (RFC 7162 CHANGEDSINCE / VANISHED, RFC 9394 PARTIAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchModifier {
    ChangedSince(ModSeq),
    Vanished,
    Partial(PartialRange),
}

/// How STORE changes the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreAction {
    pub mode: StoreMode,
    pub silent: bool,
    pub flags: Vec<Flag>,
}

/// `store-modifier` (RFC 7162 §3.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreModifier {
    /// `UNCHANGEDSINCE mod-sequence-valzer` (0 allowed).
    UnchangedSince(u64),
}

// ---------------------------------------------------------------------------------------------
// NOTIFY (RFC 5465), QUOTA (RFC 9208), COMPRESS (RFC 4978)
// ---------------------------------------------------------------------------------------------

/// `filter-mailboxes` (RFC 5465 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(NonEmpty<MailboxName>),
    Mailboxes(NonEmpty<MailboxName>),
}

/// `event` (RFC 5465 §8). Unknown events are kept so the handler can answer `NO [BADEVENT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    /// `MessageNew [(fetch-att ...)]`
    MessageNew(Vec<FetchAttribute>),
    MessageExpunge,
    FlagChange,
    AnnotationChange,
    MailboxName,
    SubscriptionChange,
    MailboxMetadataChange,
    ServerMetadataChange,
    QuotaChange,
    Other(Atom),
}

/// `event-group = "(" filter-mailboxes SP events ")"`; no events means `NONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventGroup {
    pub filter: MailboxFilter,
    pub events: Vec<NotifyEvent>,
}

/// `notify-set = "SET" [status-indicator] SP event-groups`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySet {
    pub status: bool,
    pub groups: NonEmpty<EventGroup>,
}

/// `resource-name` (RFC 9208 §9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuotaResource {
    Storage,
    Message,
    Mailbox,
    AnnotationStorage,
    Other(Atom),
}

/// `algorithm` (RFC 4978 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    Deflate,
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// A parsed command: `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub tag: Tag,
    pub body: CommandBody,
}

/// The commands applianced understands. Which session state allows which is decided by the
/// session (STYLE.md §5), not here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody {
    // command-any
    Capability,
    Noop,
    Logout,
    /// RFC 2971
    Id {
        /// `None` for `ID NIL`.
        parameters: Option<Vec<(String, Option<String>)>>,
    },
    // command-nonauth
    StartTls,
    /// `AUTHENTICATE mech [initial-response]` (RFC 4959 SASL-IR); `=` gives an empty response.
    Authenticate {
        mechanism: Atom,
        initial_response: Option<Secret>,
    },
    Login {
        username: String,
        password: Secret,
    },
    // command-auth
    Enable {
        capabilities: NonEmpty<Atom>,
    },
    Namespace,
    Select {
        mailbox: MailboxName,
        params: SelectParams,
    },
    Examine {
        mailbox: MailboxName,
        params: SelectParams,
    },
    Create {
        mailbox: MailboxName,
        special_use: Vec<SpecialUse>,
    },
    Delete {
        mailbox: MailboxName,
    },
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe {
        mailbox: MailboxName,
    },
    Unsubscribe {
        mailbox: MailboxName,
    },
    /// LIST, with LIST-EXTENDED (RFC 5258) options; a plain RFC 3501 LIST has one pattern and
    /// no options. Reference and patterns are decoded like mailbox names but may be empty and
    /// hold wildcards.
    List {
        select: Vec<ListSelect>,
        reference: String,
        patterns: NonEmpty<String>,
        returns: Vec<ListReturn>,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status {
        mailbox: MailboxName,
        attributes: NonEmpty<StatusAttribute>,
    },
    Append {
        mailbox: MailboxName,
        messages: NonEmpty<AppendMessage>,
    },
    Idle,
    /// RFC 5465
    Notify {
        /// `None` for `NOTIFY NONE`.
        set: Option<NotifySet>,
    },
    /// RFC 4978
    Compress {
        algorithm: CompressionAlgorithm,
    },
    /// RFC 9208
    GetQuota {
        root: String,
    },
    GetQuotaRoot {
        mailbox: MailboxName,
    },
    SetQuota {
        root: String,
        limits: Vec<(QuotaResource, u64)>,
    },
    // command-select
    /// RFC 3501 only.
    Check,
    Close,
    Unselect,
    Expunge,
    /// RFC 5267 §4.3.5: `CANCELUPDATE "tag" ...`, the tags of updating searches.
    CancelUpdate {
        tags: NonEmpty<String>,
    },
    /// RFC 4315 / RFC 9051 `UID EXPUNGE`
    UidExpunge {
        set: SequenceSet,
    },
    Search {
        uid: bool,
        /// `None`: a classic SEARCH; `Some`: ESEARCH with these options (`RETURN ()` is `[All]`).
        returns: Option<Vec<SearchReturn>>,
        charset: Option<String>,
        /// Several top-level keys are given as `SearchKey::And`.
        criteria: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        attributes: NonEmpty<FetchAttribute>,
        modifiers: Vec<FetchModifier>,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        action: StoreAction,
        modifiers: Vec<StoreModifier>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// RFC 6851
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// RFC 5256, with RFC 5267 ESORT `RETURN`.
    Sort {
        uid: bool,
        returns: Option<Vec<SearchReturn>>,
        criteria: NonEmpty<SortCriterion>,
        charset: String,
        search: SearchKey,
    },
    /// RFC 5256
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: String,
        search: SearchKey,
    },
}

impl CommandBody {
    /// The command's name as a client writes it, for logs and response texts.
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::Id { .. } => "ID",
            C::StartTls => "STARTTLS",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Login { .. } => "LOGIN",
            C::Enable { .. } => "ENABLE",
            C::Namespace => "NAMESPACE",
            C::Select { .. } => "SELECT",
            C::Examine { .. } => "EXAMINE",
            C::Create { .. } => "CREATE",
            C::Delete { .. } => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Subscribe { .. } => "SUBSCRIBE",
            C::Unsubscribe { .. } => "UNSUBSCRIBE",
            C::List { .. } => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Status { .. } => "STATUS",
            C::Append { .. } => "APPEND",
            C::Idle => "IDLE",
            C::Notify { .. } => "NOTIFY",
            C::Compress { .. } => "COMPRESS",
            C::GetQuota { .. } => "GETQUOTA",
            C::GetQuotaRoot { .. } => "GETQUOTAROOT",
            C::SetQuota { .. } => "SETQUOTA",
            C::Check => "CHECK",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::CancelUpdate { .. } => "CANCELUPDATE",
            C::Expunge => "EXPUNGE",
            C::UidExpunge { .. } => "UID EXPUNGE",
            C::Search { uid: false, .. } => "SEARCH",
            C::Search { uid: true, .. } => "UID SEARCH",
            C::Fetch { uid: false, .. } => "FETCH",
            C::Fetch { uid: true, .. } => "UID FETCH",
            C::Store { uid: false, .. } => "STORE",
            C::Store { uid: true, .. } => "UID STORE",
            C::Copy { uid: false, .. } => "COPY",
            C::Copy { uid: true, .. } => "UID COPY",
            C::Move { uid: false, .. } => "MOVE",
            C::Move { uid: true, .. } => "UID MOVE",
            C::Sort { uid: false, .. } => "SORT",
            C::Sort { uid: true, .. } => "UID SORT",
            C::Thread { uid: false, .. } => "THREAD",
            C::Thread { uid: true, .. } => "UID THREAD",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_atoms() {
        assert!(Tag::try_from("a001").is_ok());
        assert!(Tag::try_from("A.1]x").is_ok());
        for bad in ["", "a+1", "a b", "a(", "a{", "a\"", "a%", "a*", "a\\"] {
            assert!(Tag::try_from(bad).is_err(), "{bad}");
        }
        assert!(Tag::try_from(&b"a\x01"[..]).is_err());
        assert!(Tag::try_from(&b"\xc3\xa9"[..]).is_err());
        assert!(Atom::try_from("AUTH=PLAIN").is_ok());
        assert!(Atom::try_from("a]").is_err());
        assert!(Atom::try_from("CONDSTORE").unwrap().is("condstore"));
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(MailboxName::new("inbox").unwrap().as_str(), "INBOX");
        assert!(MailboxName::new("InBoX").unwrap().is_inbox());
        assert_eq!(MailboxName::new("inbox/Sub").unwrap().as_str(), "inbox/Sub");
        assert!(MailboxName::new("").is_err());
        assert!(MailboxName::new("a\nb").is_err());
        assert!(MailboxName::new("a\u{85}b").is_err());
        assert_eq!(MailboxName::from_wire(b"Entw&APw-rfe", false).unwrap().as_str(), "Entwürfe");
        assert_eq!(MailboxName::from_wire(b"Entw&APw-rfe", true).unwrap().as_str(), "Entw&APw-rfe");
        assert_eq!(MailboxName::from_wire("Entwürfe".as_bytes(), false).unwrap().as_str(), "Entwürfe");
        assert!(MailboxName::from_wire(b"\xff", true).is_err());
    }

    #[test]
    fn modified_utf7_rfc3501_examples() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode_modified_utf7(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode_modified_utf7(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
        assert_eq!(decode_modified_utf7(b"Fish &- Chips").unwrap(), "Fish & Chips");
        assert_eq!(encode_modified_utf7("Fish & Chips"), "Fish &- Chips");
        // Astral plane (surrogate pair) round trip.
        let emoji = "mail \u{1F4E7} box";
        assert_eq!(decode_modified_utf7(encode_modified_utf7(emoji).as_bytes()).unwrap(), emoji);
        for bad in [&b"&"[..], b"a&Jjo", b"&Jj!-", b"&U-", b"&2D0-", b"&AGE"] {
            assert!(decode_modified_utf7(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn flags() {
        assert_eq!(Flag::try_from("\\seen").unwrap(), Flag::Seen);
        assert_eq!(Flag::try_from("\\DRAFT").unwrap(), Flag::Draft);
        assert_eq!(Flag::try_from("$Forwarded").unwrap().to_string(), "$Forwarded");
        assert_eq!(Flag::try_from("\\Recent").unwrap(), Flag::Extension(Atom::try_from("Recent").unwrap()));
        assert!(Flag::try_from("\\").is_err());
        assert!(Flag::try_from("a b").is_err());
        assert!(Flag::try_from("\\\\x").is_err());
    }

    #[test]
    fn sequence_sets() {
        let n = |v| SeqNumber::Number(NonZeroU32::new(v).unwrap());
        let set = SequenceSet::Ranges(
            NonEmpty::try_from(vec![SeqRange { start: n(5), end: n(2) }, SeqRange::single(SeqNumber::Last)])
                .unwrap(),
        );
        assert_eq!(set.contains(3, 10), Some(true));
        assert_eq!(set.contains(10, 10), Some(true));
        assert_eq!(set.contains(7, 10), Some(false));
        assert_eq!(SequenceSet::Saved.contains(1, 1), None);
        assert!(NumberSet::new(vec![]).is_err());
        let known = NumberSet::new(vec![(NonZeroU32::new(9).unwrap(), NonZeroU32::new(3).unwrap())]).unwrap();
        assert!(known.contains(4) && !known.contains(10));
        assert_eq!(ModSeq::new(0), None);
        assert_eq!(ModSeq::new(ModSeq::MAX + 1), None);
        assert_eq!(ModSeq::new(ModSeq::MAX).map(ModSeq::get), Some(ModSeq::MAX));
    }

    #[test]
    fn dates() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(0, 1, 1).is_none());
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        for days in [-719_162, -1, 0, 59, 60, 11_016, 20_786, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            let date = Date::new(y as u16, m as u8, d as u8).unwrap();
            assert_eq!(date.days_since_epoch(), days, "{date:?}");
        }
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        // RFC 9051 §6.3.12 example date: 7-Feb-1994 21:52:25 -0800 = 1994-02-08 05:52:25 UTC.
        let dt = DateTime::new(Date::new(1994, 2, 7).unwrap(), 21, 52, 25, -480).unwrap();
        assert_eq!(dt.unix_timestamp(), 760_686_745);
        assert!(DateTime::new(Date::new(1994, 2, 7).unwrap(), 24, 0, 0, 0).is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<7 bytes>)");
        assert_eq!(s.expose(), b"hunter2");
    }
}
