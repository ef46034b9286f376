//! Message summaries (docs/mapi-extension.md §9): what `XMSG` (XSYNC) and `XNEW` (the
//! backchannel) say of a message, written from its record and its stored FETCH data.

use crate::imap::fetchdata::FetchData;
use crate::imap::fetchdata::summary::{self, Summary, SummaryAddress};
use crate::imap::fetchdata::thread_keys::ThreadKeys;
use crate::imap::response;
use crate::imap::shared::format_internal_date;
use crate::proto::command::SummaryField as Field;
use crate::proto::string::{write_nstring, write_string_utf8};
use crate::store::{MessageRecord, Reader, StoreError};

/// A set of [`Field`]s; FLAGS and MODSEQ are in every set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields(u16);

impl Fields {
    /// `FIELDS ()`: FLAGS and MODSEQ only.
    pub const MINIMAL: Fields = Fields(1 | 2);

    /// §9's default: FLAGS MODSEQ INTERNALDATE RFC822.SIZE EMAILID THREADID XFROM XSUBJECT XATTACH.
    pub fn default_set() -> Fields {
        Fields::of(&[
            Field::InternalDate,
            Field::Rfc822Size,
            Field::EmailId,
            Field::ThreadId,
            Field::XFrom,
            Field::XSubject,
            Field::XAttach,
        ])
    }

    pub fn of(fields: &[Field]) -> Fields {
        Fields(fields.iter().fold(Fields::MINIMAL.0, |acc, f| acc | bit(*f)))
    }

    pub fn contains(self, f: Field) -> bool {
        self.0 & bit(f) != 0
    }

    /// Whether anything beyond the message record is needed (the FETCH data): every field
    /// from THREADID on in [`Field::ALL`]'s order.
    fn needs_fetch_data(self) -> bool {
        Field::ALL.into_iter().skip_while(|f| *f != Field::ThreadId).any(|f| self.contains(f))
    }
}

/// A field's bit: its place in [`Field::ALL`] (FLAGS 1, MODSEQ 2, ...).
fn bit(f: Field) -> u16 {
    1 << Field::ALL.iter().position(|g| *g == f).unwrap_or(0)
}

/// `(FLAGS (...) MODSEQ (m))`: what a change to a held message carries (§7.2 part 1, XFLAGS).
pub fn write_flags_only(out: &mut Vec<u8>, m: &MessageRecord) {
    out.extend_from_slice(b"(FLAGS ");
    response::flags(out, m.flags, &m.keywords, false);
    out.extend_from_slice(format!(" MODSEQ ({}))", m.modseq).as_bytes());
}

/// The full summary of a message with the fields asked for, read from `r`. `utf8`: the
/// connection enabled UTF8=ACCEPT or IMAP4rev2 (§2: text as UTF-8 quoted strings).
pub fn write(
    out: &mut Vec<u8>,
    r: &Reader,
    m: &MessageRecord,
    fields: Fields,
    utf8: bool,
) -> Result<(), StoreError> {
    let data = if fields.needs_fetch_data() {
        let blob = r.blob(m.blob)?;
        Some(FetchData::decode(&blob.fetch_data).ok_or_else(|| StoreError::Corrupt("FETCH data".into()))?)
    } else {
        None
    };
    let text = match &data {
        Some(d) => Some(summary_of(r, m.blob, d)?),
        None => None,
    };
    out.extend_from_slice(b"(FLAGS ");
    response::flags(out, m.flags, &m.keywords, false);
    out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
    for f in Field::ALL.into_iter().skip(2).filter(|f| fields.contains(*f)) {
        out.push(b' ');
        out.extend_from_slice(f.name().as_bytes());
        out.push(b' ');
        match (f, &data, &text) {
            (Field::InternalDate, ..) => {
                out.push(b'"');
                out.extend_from_slice(format_internal_date(m.internal_date, m.tz_minutes).as_bytes());
                out.push(b'"');
            }
            (Field::Rfc822Size, ..) => out.extend_from_slice(m.size.to_string().as_bytes()),
            (Field::EmailId, ..) => out.extend_from_slice(format!("(M{})", m.blob).as_bytes()),
            (Field::ThreadId, Some(d), _) => {
                let keys = match &d.thread {
                    Some(k) => k.clone(),
                    None => ThreadKeys::from_header(&r.blob_bytes(m.blob, 0, d.header_len as usize)?),
                };
                out.extend_from_slice(format!("({})", keys.thread_id(m.blob)).as_bytes());
            }
            (Field::Envelope, Some(d), _) => out.extend_from_slice(&d.envelope),
            (Field::BodyStructure, Some(d), _) => out.extend_from_slice(&d.bodystructure),
            (Field::XFrom, _, Some(s)) => write_address(out, s.from.as_ref(), utf8),
            (Field::XTo, _, Some(s)) => write_address(out, s.to.as_ref(), utf8),
            (Field::XSubject, _, Some(s)) => write_text(out, s.subject.as_deref(), utf8),
            (Field::XAttach, _, Some(s)) => out.push(if s.attachment { b'1' } else { b'0' }),
            _ => out.extend_from_slice(b"NIL"),
        }
    }
    out.push(b')');
    Ok(())
}

/// The stored summary, or for data stored before it (FETCH data versions 1 and 2) the one
/// computed from the header and the parts' MIME headers.
fn summary_of(r: &Reader, blob: u64, d: &FetchData) -> Result<Summary, StoreError> {
    if let Some(s) = &d.summary {
        return Ok(s.clone());
    }
    let header = r.blob_bytes(blob, 0, d.header_len as usize)?;
    let mut part_headers = Vec::new();
    for p in d.parts.iter().filter(|p| !p.is_multipart && !p.section.is_empty()) {
        part_headers.push(r.blob_bytes(blob, p.header.0 as usize, (p.header.1 - p.header.0) as usize)?);
    }
    Ok(summary::from_stored(&header, part_headers.iter().map(Vec::as_slice)))
}

/// `x-address = "(" nstring SP nstring ")" / nil`.
fn write_address(out: &mut Vec<u8>, a: Option<&SummaryAddress>, utf8: bool) {
    match a {
        None => out.extend_from_slice(b"NIL"),
        Some((name, address)) => {
            out.push(b'(');
            write_text(out, name.as_deref(), utf8);
            out.push(b' ');
            write_text(out, Some(address), utf8);
            out.push(b')');
        }
    }
}

/// Text of §2: a UTF-8 quoted string where the connection takes UTF-8 (or the text is ASCII),
/// else a literal (which may carry 8-bit octets).
fn write_text(out: &mut Vec<u8>, s: Option<&str>, utf8: bool) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) if utf8 || s.is_ascii() => write_string_utf8(out, s),
        Some(s) => write_nstring(out, Some(s.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_and_sets() {
        assert_eq!(Field::from_name("rfc822.size"), Some(Field::Rfc822Size));
        assert_eq!(Field::from_name("XBODY"), None);
        assert_eq!(Fields::MINIMAL, Fields::of(&[Field::Flags, Field::ModSeq]));
        let d = Fields::default_set();
        assert!(d.contains(Field::Flags) && d.contains(Field::ModSeq) && d.contains(Field::XAttach));
        assert!(!d.contains(Field::Envelope) && !d.contains(Field::XTo));
        assert!(!Fields::MINIMAL.needs_fetch_data());
        assert!(Fields::of(&[Field::XTo]).needs_fetch_data());
    }

    #[test]
    fn text_is_quoted_for_utf8_clients_and_a_literal_otherwise() {
        let mut out = Vec::new();
        write_text(&mut out, Some("Äpfel \"x\""), true);
        assert_eq!(out, "\"Äpfel \\\"x\\\"\"".as_bytes());
        let mut out = Vec::new();
        write_text(&mut out, Some("Äpfel"), false);
        assert_eq!(out, "{6}\r\nÄpfel".as_bytes());
        let mut out = Vec::new();
        write_address(&mut out, Some(&(None, "a@x".into())), false);
        assert_eq!(out, b"(NIL \"a@x\")");
    }
}
