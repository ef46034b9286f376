//! What FETCH needs from a message, computed once at delivery.
//!
//! Protocol code, no IO. [`compute`] parses a raw RFC 5322 message once and produces a
//! [`FetchData`]: the exact ENVELOPE, BODY and BODYSTRUCTURE response bytes, the byte
//! offsets of every MIME part (so `BODY[1.2]`, `BODY[1.2.MIME]`, `BODY[2.HEADER]`,
//! `BINARY[1.2]`... are slices of the stored message, never a re-parse), and the keys SEARCH
//! and SORT need. [`FetchData::encode`] turns it into a compact versioned byte string that
//! the store keeps next to the message without ever looking inside; [`FetchData::decode`]
//! reads it back.
//!
//! Offsets index the raw message exactly as it was given to [`compute`]. IMAP serves
//! messages with CRLF line ends, so delivery is expected to have normalised bare LFs before
//! computing (the parser tolerates bare LFs, but sizes then count them as one byte).
//!
//! Where the RFCs leave a choice, the output follows what Dovecot 2.3 answers, which most
//! clients are tested against (the address rules are in the `address` submodule):
//! * a text part without a charset parameter gets `("charset" "us-ascii")` appended (the
//!   RFC 2045 §5.2 default made explicit);
//! * an empty multipart, or one without a boundary, gets one empty text/plain part, since
//!   the grammar requires at least one (RFC 3501 §9 `body-type-mpart = 1*body ...`);
//! * `body-fld-lines` is the number of LF bytes of the body;
//! * Content-Language is always a list, a disposition without parameters is `("x" NIL)`;
//! * the `body-fld-md5` is the Content-MD5 value when the part has one, NIL otherwise.
//!
//! * message/rfc822 parts are parsed as messages whatever their transfer encoding, and
//!   message/global is a basic type (IMAP4rev1 clients know no other message type).
//!
//! Deliberate differences from Dovecot, all on malformed or unusual input: a syntactically
//! invalid Content-Type means the default type (RFC 2045 §5.2; Dovecot reports the broken
//! type); ENVELOPE fields are strictly unfolded (RFC 5322 §2.2.3) and trimmed rather than
//! whitespace-collapsed; a header field that occurs twice counts by its first occurrence;
//! Content-Transfer-Encoding and Content-Disposition count in every entity (Dovecot
//! ignores them in a message header that has neither Content-Type nor MIME-Version); RFC
//! 2231 parameter continuations are passed through unmerged; the line break before a
//! boundary that interrupts a header belongs to the boundary in every case.

mod address;
mod format;
pub use format::FORMAT_VERSION;
mod header;
mod mime;
mod subject;
pub mod summary;
#[cfg(test)]
mod tests;
pub mod thread_keys;

use std::fmt;

use header::{Fields, unfold};
pub use header::{MAX_FIELD_VALUE, field_values};
use mime::{Kind, Node};
pub use thread_keys::ThreadKeys;

use crate::proto::string::{write_nstring, write_string};

/// Why bytes were refused as a mail message by [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMail {
    /// Nothing, or only whitespace.
    Empty,
    /// The first line is not a header field (`field-name ":"`).
    NoHeader,
    /// The header section contains a NUL byte.
    NulInHeader,
    /// Larger than the 4 GiB that 32-bit offsets can address.
    TooLarge,
}

impl fmt::Display for NotMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotMail::Empty => "message is empty",
            NotMail::NoHeader => "message does not start with a header field",
            NotMail::NulInHeader => "message header contains a NUL byte",
            NotMail::TooLarge => "message is larger than 4 GiB",
        })
    }
}

impl std::error::Error for NotMail {}

/// Decides whether `raw` is to be accepted as a mail message.
///
/// The policy is an MTA's: accept anything that is recognisably a message, however sloppy,
/// because refusing mail loses it while FETCH copes with missing parts (a message without
/// Date or From gets NIL in its ENVELOPE; a broken MIME structure is read as well as it
/// can be). What is refused is what cannot be a message at all or would make every later
/// step unreliable:
///
/// * empty input, or input of only whitespace;
/// * input whose first line is not an RFC 5322 §2.2 header field, `field-name ":"` with a
///   field-name of printable US-ASCII (33 to 126) except `:` (whitespace before the colon,
///   the obsolete form of RFC 5322 §4.5, is tolerated). This also rejects an mbox
///   `From ` separator line and a message that starts with a blank line;
/// * a NUL byte anywhere in the header section (RFC 5322 allows none, and IMAP strings
///   cannot carry it);
/// * more than `u32::MAX` bytes, which the offsets of [`Part`] cannot address.
pub fn validate(raw: &[u8]) -> Result<(), NotMail> {
    if u32::try_from(raw.len()).is_err() {
        return Err(NotMail::TooLarge);
    }
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(NotMail::Empty);
    }
    let first_line = &raw[..header::next_line(raw, 0)];
    let name_len = first_line.iter().take_while(|&&b| matches!(b, 33..=126) && b != b':').count();
    let after_name = first_line[name_len..].iter().skip_while(|&&b| b == b' ' || b == b'\t');
    if name_len == 0 || after_name.copied().next() != Some(b':') {
        return Err(NotMail::NoHeader);
    }
    let header_end = header_section_end(raw);
    if raw[..header_end].contains(&0) {
        return Err(NotMail::NulInHeader);
    }
    Ok(())
}

/// End of the top-level header section (after its blank line), or the input length.
fn header_section_end(raw: &[u8]) -> usize {
    let mut p = 0;
    while p < raw.len() {
        let e = header::next_line(raw, p);
        if header::is_blank_line(&raw[p..e]) {
            return e;
        }
        p = e;
    }
    raw.len()
}

/// A Content-Transfer-Encoding (RFC 2045 §6), as far as BINARY (RFC 3516) cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Cte {
    /// `7bit`, also the default when the field is absent.
    #[default]
    SevenBit = 0,
    EightBit = 1,
    Binary = 2,
    Base64 = 3,
    QuotedPrintable = 4,
    /// Anything else (`x-uuencode`...): BINARY must answer `NO [UNKNOWN-CTE]`.
    Unknown = 5,
}

impl Cte {
    /// The encoding named by a Content-Transfer-Encoding mechanism token.
    pub fn from_token(token: &[u8]) -> Cte {
        let known = [
            ("7bit", Cte::SevenBit),
            ("8bit", Cte::EightBit),
            ("binary", Cte::Binary),
            ("base64", Cte::Base64),
            ("quoted-printable", Cte::QuotedPrintable),
        ];
        if token.is_empty() {
            return Cte::SevenBit;
        }
        known
            .iter()
            .find(|(name, _)| token.eq_ignore_ascii_case(name.as_bytes()))
            .map_or(Cte::Unknown, |k| k.1)
    }

    /// Inverse of `as u8`.
    pub fn from_u8(v: u8) -> Option<Cte> {
        Some(match v {
            0 => Cte::SevenBit,
            1 => Cte::EightBit,
            2 => Cte::Binary,
            3 => Cte::Base64,
            4 => Cte::QuotedPrintable,
            5 => Cte::Unknown,
            _ => return None,
        })
    }
}

/// One addressable part of a message (RFC 9051 §6.4.5), with byte ranges `(start, end)`
/// into the raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// IMAP part number: `[]` is the whole message, `[1, 2]` is `1.2`.
    pub section: Vec<u32>,
    /// The part's MIME header, what `section.MIME` returns, blank line included. For the
    /// whole message, and for part 1 of a non-multipart message, the message header.
    pub header: (u32, u32),
    /// The part's body, what `BODY[section]` returns. For `[]`, the message text.
    pub body: (u32, u32),
    /// How `body` is encoded, for BINARY.
    pub content_transfer_encoding: Cte,
    /// A message/rfc822 part: its body is a message with its own header and parts.
    pub is_message_rfc822: bool,
    /// A multipart: its body holds the boundaries, preamble and epilogue.
    pub is_multipart: bool,
    /// For `[]` and message/rfc822 parts: the header and text of the (encapsulated) message,
    /// what `section.HEADER` (and `HEADER.FIELDS`) and `section.TEXT` return.
    pub message: Option<((u32, u32), (u32, u32))>,
    /// Size of the body once its transfer encoding is removed (BINARY.SIZE).
    pub binary_size: u32,
}

/// Everything FETCH, SEARCH and SORT need that would otherwise take a parse of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchData {
    /// The ENVELOPE response value, a parenthesised list (RFC 9051 §7.5.2).
    pub envelope: Vec<u8>,
    /// The BODY response value, the non-extensible BODYSTRUCTURE.
    pub body: Vec<u8>,
    /// The BODYSTRUCTURE response value, with extension data.
    pub bodystructure: Vec<u8>,
    /// Every addressable part, in section order; `parts[0]` is the whole message `[]`.
    pub parts: Vec<Part>,
    /// Size of the top-level header, blank line included (RFC822.HEADER, BODY[HEADER]).
    pub header_len: u32,
    /// The Date field as Unix seconds, for SENTBEFORE / SENTON / SENTSINCE and SORT DATE;
    /// `None` when absent or unparseable.
    pub date: Option<i64>,
    /// RFC 5256 §2.1 base subject, decoded and lowercased, for SORT SUBJECT and threading.
    pub sort_subject: String,
    /// RFC 5256 SORT FROM key: the addr-mailbox (local part) of the first From mailbox,
    /// lowercased; empty when there is none.
    pub from_addr: String,
    /// SORT TO key, as `from_addr` for the first To mailbox.
    pub to_addr: String,
    /// SORT CC key, as `from_addr` for the first Cc mailbox.
    pub cc_addr: String,
    /// Message-ID and parents for THREAD and THREADID; `None` in data stored by format 1,
    /// whose readers parse the header instead.
    pub thread: Option<ThreadKeys>,
    /// RFC 5957 SORT DISPLAYFROM and DISPLAYTO keys (display name, else address, lowercased);
    /// `None` in data stored by format 1.
    pub display: Option<(String, String)>,
    /// The MAPI extension's summary text (From, To, Subject decoded, has-attachment);
    /// `None` in data stored by versions 1 and 2, whose readers compute it from the message.
    pub summary: Option<summary::Summary>,
}

/// RFC 5957 §3: the DISPLAYFROM and DISPLAYTO keys of a header section, parsed once: the display
/// name of the first From (To) address (RFC 2047 decoded), or its address when it has none,
/// lowercased for comparison; empty without an address.
///
/// Only the first [`MAX_PARSED_HEADER`] bytes of the header are read: mail-parser keeps every
/// field it finds, so a header of millions of fields (or one huge one) would cost many times
/// its size.
pub fn display_keys(header: &[u8]) -> (String, String) {
    let header = header.get(..MAX_PARSED_HEADER).unwrap_or(header);
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(header) else {
        return (String::new(), String::new());
    };
    let key = |addr: Option<&mail_parser::Address<'_>>| {
        // A list that starts with a group (`To: team: a@x, b@y;`, `Cc: empty:;`): its name
        // stands first (RFC 5957 §3 takes the first address's display name; a group's is its
        // name, RFC 5322 §3.4).
        if let Some(mail_parser::Address::Group(groups)) = addr
            && let Some(name) = groups.first().and_then(|g| g.name.as_deref())
        {
            return name.to_lowercase();
        }
        let Some(first) = addr.and_then(|a| a.first()) else { return String::new() };
        first.name().filter(|n| !n.is_empty()).or(first.address()).unwrap_or("").to_lowercase()
    };
    (key(msg.from()), key(msg.to()))
}

/// The most of a header section that is handed to mail-parser (for the RFC 5957 display keys);
/// From and To are near the top of any real message.
pub const MAX_PARSED_HEADER: usize = 256 * 1024;

/// Validates `raw` (see [`validate`]) and computes its [`FetchData`].
pub fn compute(raw: &[u8]) -> Result<FetchData, NotMail> {
    validate(raw)?;
    Ok(compute_valid(raw))
}

/// Computes the [`FetchData`] of what an IMAP client APPENDs. RFC 9051 §6.3.12 (RFC 3501
/// §6.3.11): the server stores the message it is given. So a draft that is only a body, or a
/// message that starts with an empty line (a header section with no fields), is kept as given
/// and described as well as it can be: an ENVELOPE of NILs, a `text/plain` BODYSTRUCTURE, an
/// empty `BODY[HEADER]`. Refused: zero octets, a NUL in the header section (IMAP strings cannot
/// carry it), more than 4 GiB. Deliveries keep [`validate`]'s stricter rule (`ingest::prepare`).
pub fn compute_given(raw: &[u8]) -> Result<FetchData, NotMail> {
    match validate(raw) {
        Ok(()) => Ok(compute_valid(raw)),
        Err(NotMail::Empty) if raw.is_empty() => Err(NotMail::Empty),
        // An empty first line: the header section is that line alone.
        Err(NotMail::Empty | NotMail::NoHeader) if raw.starts_with(b"\r\n") || raw.starts_with(b"\n") => {
            Ok(compute_valid(raw))
        }
        Err(NotMail::Empty | NotMail::NoHeader) => Ok(headerless(raw)),
        Err(e) => Err(e),
    }
}

/// The FETCH data of `raw` read as a body without any header: computed for an empty header
/// line followed by `raw`, with every offset moved back over that line.
fn headerless(raw: &[u8]) -> FetchData {
    let mut framed = Vec::with_capacity(raw.len() + 2);
    framed.extend_from_slice(b"\r\n");
    framed.extend_from_slice(raw);
    let mut data = compute_valid(&framed);
    let back = |(a, b): (u32, u32)| (a.saturating_sub(2), b.saturating_sub(2));
    for p in &mut data.parts {
        p.header = back(p.header);
        p.body = back(p.body);
        p.message = p.message.map(|(h, t)| (back(h), back(t)));
    }
    data.header_len = 0;
    data
}

/// The FETCH data of a message [`validate`] accepted (or one [`compute_given`] takes as given).
fn compute_valid(raw: &[u8]) -> FetchData {
    let root = mime::parse(raw);

    let mut envelope = Vec::new();
    write_envelope(&mut envelope, raw, &root.fields);
    let mut body = Vec::new();
    write_structure(&mut body, raw, &root, false);
    let mut bodystructure = Vec::new();
    write_structure(&mut bodystructure, raw, &root, true);

    let mut parts = Vec::new();
    parts.push(Part {
        section: Vec::new(),
        header: span(root.header),
        body: span(root.body),
        content_transfer_encoding: cte_of(raw, &root),
        is_message_rfc822: false,
        is_multipart: matches!(root.kind, Kind::Multipart(_)),
        message: Some((span(root.header), span(root.body))),
        binary_size: binary_size(raw, &root),
    });
    flatten_message_content(raw, &root, &[], &mut parts);

    let fields = &root.fields;
    let date = fields.first(raw, "Date").and_then(|v| parse_date(&unfold(v))).map(|d| d.to_timestamp());
    let sort_subject = fields.first(raw, "Subject").map(subject::base_subject).unwrap_or_default();
    let sort_addr = |name: &str| {
        let list = address::parse_list(fields.first(raw, name).unwrap_or_default());
        // RFC 5256 §3: the addr-mailbox of the first address; a group that comes first gives
        // its name, which its start marker carries in the mailbox position (RFC 3501 §7.4.2).
        match list.first() {
            Some(address::Entry::GroupStart(group)) => String::from_utf8_lossy(group).to_lowercase(),
            _ => match address::first_mailbox(&list) {
                Some(address::Entry::Mailbox { mailbox, .. }) if mailbox != address::MISSING_MAILBOX => {
                    String::from_utf8_lossy(mailbox).to_lowercase()
                }
                _ => String::new(),
            },
        }
    };

    FetchData {
        envelope,
        body,
        bodystructure,
        parts,
        header_len: span(root.header).1,
        date,
        sort_subject,
        from_addr: sort_addr("From"),
        to_addr: sort_addr("To"),
        cc_addr: sort_addr("Cc"),
        thread: Some(ThreadKeys::from_header(slice(raw, root.header))),
        display: Some(display_keys(slice(raw, root.header))),
        summary: Some(summary::compute(raw, &root)),
    }
}

/// A Date field's unfolded value, parsed (RFC 5322 §3.3), if it is a valid date.
fn parse_date(value: &[u8]) -> Option<mail_parser::DateTime> {
    mail_parser::DateTime::parse_rfc822(&String::from_utf8_lossy(value))
        .filter(mail_parser::DateTime::is_valid)
}

/// The day of the first Date field of a header section, in the field's own time zone, as days
/// since 1970-01-01: what SENTBEFORE, SENTON and SENTSINCE compare (RFC 3501 §6.4.4, RFC 9051
/// §6.4.4.1), so `Sat, 24 Mar 2007 23:00:00 +0200` is on 24-Mar-2007. [`FetchData::date`]
/// keeps only the instant (UTC seconds), which has lost the zone; this reads the header again.
pub fn sent_day(header: &[u8]) -> Option<i64> {
    let value = header::field_values(header, "Date").into_iter().next()?;
    let d = parse_date(&value)?;
    crate::proto::command::Date::new(d.year, d.month, d.day)
        .map(crate::proto::command::Date::days_since_epoch)
}

/// The farthest a Date's zone can be from UTC, in seconds: `+9959` (RFC 5322 §3.3 `zone`).
pub const MAX_ZONE_OFFSET: i64 = 99 * 3600 + 59 * 60;

/// A byte range as stored. [`validate`] guarantees the message fits in `u32`.
fn span((start, end): (usize, usize)) -> (u32, u32) {
    (u32::try_from(start).unwrap_or(u32::MAX), u32::try_from(end).unwrap_or(u32::MAX))
}

fn slice(raw: &[u8], (start, end): (usize, usize)) -> &[u8] {
    raw.get(start..end).unwrap_or_default()
}

fn cte_of(raw: &[u8], node: &Node) -> Cte {
    Cte::from_token(&node.field(raw, "Content-Transfer-Encoding").map(mime::parse_cte).unwrap_or_default())
}

/// BINARY.SIZE: the decoded length, counted without decoding into a buffer (an attachment
/// would otherwise cost its size once more at delivery).
fn binary_size(raw: &[u8], node: &Node) -> u32 {
    let body = slice(raw, node.body);
    let size = match cte_of(raw, node) {
        Cte::Base64 => {
            let mut n = 0;
            decode_base64_into(body, &mut n);
            n
        }
        Cte::QuotedPrintable => {
            let mut n = 0;
            decode_qp_into(body, &mut n);
            n
        }
        _ => body.len(),
    };
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// Adds the part `node`, numbered `section`, and the parts inside it.
fn flatten(raw: &[u8], node: &Node, section: Vec<u32>, out: &mut Vec<Part>) {
    let message = match &node.kind {
        Kind::Message(inner) => Some((span(inner.header), span(inner.body))),
        _ => None,
    };
    out.push(Part {
        section: section.clone(),
        header: span(node.header),
        body: span(node.body),
        content_transfer_encoding: cte_of(raw, node),
        is_message_rfc822: message.is_some(),
        is_multipart: matches!(node.kind, Kind::Multipart(_)),
        message,
        binary_size: binary_size(raw, node),
    });
    match &node.kind {
        Kind::Multipart(children) => flatten_children(raw, children, &section, out),
        Kind::Message(inner) => flatten_message_content(raw, inner, &section, out),
        Kind::Leaf => {}
    }
}

fn flatten_children(raw: &[u8], children: &[Node], section: &[u32], out: &mut Vec<Part>) {
    for (i, child) in children.iter().enumerate() {
        let mut s = section.to_vec();
        s.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
        flatten(raw, child, s, out);
    }
}

/// Adds the parts of the message `msg` whose parts are numbered under `section`.
/// RFC 9051 §6.4.5: the parts of a multipart message are `section.1`, `section.2`...; a
/// non-multipart message has one part, `section.1`, which is the message itself (its MIME
/// header is the message header, its body the message text).
fn flatten_message_content(raw: &[u8], msg: &Node, section: &[u32], out: &mut Vec<Part>) {
    match &msg.kind {
        Kind::Multipart(children) => flatten_children(raw, children, section, out),
        _ => {
            let mut s = section.to_vec();
            s.push(1);
            flatten(raw, msg, s, out);
        }
    }
}

/// Writes the ENVELOPE of the message whose header fields are `fields`
/// (RFC 9051 §7.5.2, RFC 3501 §7.4.2):
/// `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
///
/// Date, Subject, In-Reply-To and Message-ID are the raw field values, unfolded and trimmed,
/// RFC 2047 encoded-words left as they are; a field present but empty is `""`, an absent
/// one NIL. Sender and Reply-To default to From when absent or empty (RFC 3501 §7.4.2).
fn write_envelope(out: &mut Vec<u8>, raw: &[u8], fields: &Fields) {
    let text = |out: &mut Vec<u8>, name: &str| {
        let value = fields.first(raw, name).map(unfold);
        write_nstring(out, value.as_deref());
    };
    let list = |name: &str| address::parse_list(fields.first(raw, name).unwrap_or_default());
    out.push(b'(');
    text(out, "Date");
    out.push(b' ');
    text(out, "Subject");
    out.push(b' ');
    let from = list("From");
    address::write_list(out, &from);
    for name in ["Sender", "Reply-To"] {
        out.push(b' ');
        let l = list(name);
        address::write_list(out, if l.is_empty() { &from } else { &l });
    }
    for name in ["To", "Cc", "Bcc"] {
        out.push(b' ');
        address::write_list(out, &list(name));
    }
    out.push(b' ');
    text(out, "In-Reply-To");
    out.push(b' ');
    text(out, "Message-ID");
    out.push(b')');
}

/// Writes `body` (`extensible == false`, the BODY item) or BODYSTRUCTURE
/// (RFC 9051 §7.5.2 and the `body` rule of §9; RFC 3501 §7.4.2).
fn write_structure(out: &mut Vec<u8>, raw: &[u8], node: &Node, extensible: bool) {
    out.push(b'(');
    if let Kind::Multipart(children) = &node.kind {
        // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        for child in children {
            write_structure(out, raw, child, extensible);
        }
        out.push(b' ');
        write_string(out, &node.ctype.subtype);
        if extensible {
            // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
            out.push(b' ');
            write_params(out, &node.ctype.params);
            out.push(b' ');
            write_ext_tail(out, raw, node);
        }
        out.push(b')');
        return;
    }
    // body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
    write_string(out, &node.ctype.kind);
    out.push(b' ');
    write_string(out, &node.ctype.subtype);
    out.push(b' ');
    let is_text = node.ctype.kind.eq_ignore_ascii_case(b"text");
    if is_text && node.ctype.param("charset").is_none() {
        let mut params = node.ctype.params.clone();
        params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        write_params(out, &params);
    } else {
        write_params(out, &node.ctype.params);
    }
    for name in ["Content-ID", "Content-Description"] {
        out.push(b' ');
        write_nstring(out, node.field(raw, name).map(unfold).as_deref());
    }
    out.push(b' ');
    let cte = node.field(raw, "Content-Transfer-Encoding").map(mime::parse_cte).unwrap_or_default();
    write_string(out, if cte.is_empty() { b"7bit" } else { &cte });
    out.push(b' ');
    let body = slice(raw, node.body);
    out.extend_from_slice(body.len().to_string().as_bytes());
    let lines = || body.iter().filter(|&&b| b == b'\n').count().to_string();
    if let Kind::Message(inner) = &node.kind {
        // body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
        out.push(b' ');
        write_envelope(out, raw, &inner.fields);
        out.push(b' ');
        write_structure(out, raw, inner, extensible);
        out.push(b' ');
        out.extend_from_slice(lines().as_bytes());
    } else if is_text {
        // body-type-text = media-text SP body-fields SP body-fld-lines
        out.push(b' ');
        out.extend_from_slice(lines().as_bytes());
    }
    if extensible {
        // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
        out.push(b' ');
        write_nstring(out, node.field(raw, "Content-MD5").map(unfold).as_deref());
        out.push(b' ');
        write_ext_tail(out, raw, node);
    }
    out.push(b')');
}

/// `body-fld-dsp SP body-fld-lang SP body-fld-loc`.
fn write_ext_tail(out: &mut Vec<u8>, raw: &[u8], node: &Node) {
    // body-fld-dsp = "(" string SP body-fld-param ")" / nil   (RFC 2183)
    match node.field(raw, "Content-Disposition").and_then(|v| mime::parse_disposition(&unfold(v))) {
        Some(d) => {
            out.push(b'(');
            write_string(out, &d.kind);
            out.push(b' ');
            write_params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    // body-fld-lang = nstring / "(" string *(SP string) ")"   (RFC 3282)
    out.push(b' ');
    let tags = node.field(raw, "Content-Language").map(mime::parse_language).unwrap_or_default();
    if tags.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            write_string(out, tag);
        }
        out.push(b')');
    }
    // body-fld-loc = nstring   (RFC 2557)
    out.push(b' ');
    write_nstring(out, node.field(raw, "Content-Location").map(unfold).as_deref());
}

/// body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
fn write_params(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(out, name);
        out.push(b' ');
        write_string(out, value);
    }
    out.push(b')');
}

impl FetchData {
    /// The part numbered `path` (RFC 9051 §6.4.5): `[]` is the whole message, `[1]` the first
    /// part (or the body of a non-multipart message), `[2, 1]` the first part of part 2 or,
    /// when part 2 is a message/rfc822, the first part of the encapsulated message.
    pub fn section(&self, path: &[u32]) -> Option<&Part> {
        self.parts.iter().find(|p| p.section == path)
    }

    /// The range `BODY[path.HEADER]` returns (`BODY[HEADER]` for `[]`): the header of the
    /// message or of the encapsulated message of a message/rfc822 part.
    pub fn header_range(&self, path: &[u32]) -> Option<(u32, u32)> {
        self.section(path)?.message.map(|(header, _)| header)
    }

    /// The range `BODY[path.TEXT]` returns (`BODY[TEXT]` for `[]`).
    pub fn text_range(&self, path: &[u32]) -> Option<(u32, u32)> {
        self.section(path)?.message.map(|(_, text)| text)
    }

    /// The range `BODY[path.MIME]` returns; `path` must not be empty (RFC 9051 §6.4.5:
    /// MIME is only defined for a part number).
    pub fn mime_range(&self, path: &[u32]) -> Option<(u32, u32)> {
        if path.is_empty() {
            return None;
        }
        self.section(path).map(|p| p.header)
    }
}

/// Removes a Content-Transfer-Encoding (for BINARY, RFC 3516). Base64 and quoted-printable
/// are decoded leniently, as RFC 2045 §6.7 and §6.8 recommend: base64 ignores characters
/// outside its alphabet and stops at padding; quoted-printable drops trailing whitespace
/// of lines, joins soft line breaks, ends hard line breaks with CRLF, and keeps a `=` that
/// does not start a valid escape. Other encodings are identity.
pub fn decode_transfer(cte: Cte, bytes: &[u8]) -> Vec<u8> {
    match cte {
        Cte::Base64 => decode_base64(bytes),
        Cte::QuotedPrintable => decode_qp(bytes),
        _ => bytes.to_vec(),
    }
}

/// Where decoded bytes go: a buffer, or a count of them (for BINARY.SIZE).
trait Decoded {
    fn put(&mut self, bytes: &[u8]);
}

impl Decoded for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Decoded for usize {
    fn put(&mut self, bytes: &[u8]) {
        *self += bytes.len();
    }
}

fn decode_base64(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    decode_base64_into(bytes, &mut out);
    out
}

fn decode_base64_into(bytes: &[u8], out: &mut impl Decoded) {
    let mut acc: u32 = 0;
    let mut n = 0;
    for &b in bytes {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.put(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.put(&[(acc >> 4) as u8]),
        3 => out.put(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
}

fn decode_qp(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    decode_qp_into(bytes, &mut out);
    out
}

fn decode_qp_into(bytes: &[u8], out: &mut impl Decoded) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, has_break) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let end = line.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |i| i + 1);
        let line = &line[..end];
        let (line, soft) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            if b == b'='
                && let (Some(h), Some(l)) = (line.get(i + 1).and_then(hex), line.get(i + 2).and_then(hex))
            {
                out.put(&[h << 4 | l]);
                i += 3;
                continue;
            }
            // A run of plain bytes goes out in one piece.
            let run = line[i..].iter().position(|&c| c == b'=').map_or(line.len(), |k| i + k.max(1));
            out.put(&line[i..run]);
            i = run;
        }
        if has_break && !soft {
            out.put(b"\r\n");
        }
    }
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}
