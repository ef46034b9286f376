//! The bytes of a body section (`BODY[section]`, RFC 9051 §6.4.5) of a stored message, from the
//! part offsets of its FETCH data: FETCH answers with them, and CATENATE (RFC 4469) builds a
//! message from them, so that a URL's `;SECTION=` gives what `BODY[section]` gives.

use crate::imap::fetchdata::FetchData;
use crate::proto::command::Section;
use crate::store::{MessageRecord, Reader, StoreError};

/// Where a section lies in the stored message: its byte range, or, for `HEADER.FIELDS` and
/// `HEADER.FIELDS.NOT`, the range of the header the fields are taken from. `None` when the part
/// does not exist.
pub fn span(m: &MessageRecord, d: &FetchData, section: &Section) -> Option<(u32, u32)> {
    match section {
        Section::Full => Some((0, m.size)),
        Section::Part(p) => {
            let path: Vec<u32> = p.0.iter().map(|n| n.get()).collect();
            d.section(&path).map(|p| p.body)
        }
        Section::Header(p) | Section::HeaderFields(p, _) | Section::HeaderFieldsNot(p, _) => {
            d.header_range(&path_of(p))
        }
        Section::Text(p) => d.text_range(&path_of(p)),
        Section::Mime(p) => d.mime_range(&p.0.iter().map(|n| n.get()).collect::<Vec<_>>()),
    }
}

/// The bytes of a body section; `None` when the part does not exist.
pub fn bytes(
    r: &Reader,
    m: &MessageRecord,
    d: &FetchData,
    section: &Section,
) -> Result<Option<Vec<u8>>, StoreError> {
    match section {
        Section::Full => Ok(Some(r.raw(m.blob)?)),
        Section::HeaderFields(_, names) | Section::HeaderFieldsNot(_, names) => {
            let not = matches!(section, Section::HeaderFieldsNot(..));
            let Some(header) = range(r, m, span(m, d, section))? else { return Ok(None) };
            Ok(Some(filter_fields(&header, names, not)))
        }
        _ => range(r, m, span(m, d, section)),
    }
}

fn path_of(p: &Option<crate::proto::command::Part>) -> Vec<u32> {
    p.as_ref().map(|p| p.0.iter().map(|n| n.get()).collect()).unwrap_or_default()
}

fn range(r: &Reader, m: &MessageRecord, range: Option<(u32, u32)>) -> Result<Option<Vec<u8>>, StoreError> {
    match range {
        Some((a, b)) => Ok(Some(r.blob_bytes(m.blob, a as usize, b.saturating_sub(a) as usize)?)),
        None => Ok(None),
    }
}

/// Keeps (or drops, with `not`) the named header fields, with their continuation lines, and
/// ends with the blank line (RFC 9051 §6.4.5).
pub fn filter_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|b| *b == b':').next().unwrap_or_default();
            let listed = names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = b"From: a\r\nSubject: x\r\n  folded\r\nTo: b\r\n\r\n";
        assert_eq!(filter_fields(h, &["subject".into()], false), b"Subject: x\r\n  folded\r\n\r\n");
        assert_eq!(filter_fields(h, &["subject".into()], true), b"From: a\r\nTo: b\r\n\r\n");
    }
}
