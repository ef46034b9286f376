//! The stored form of [`FetchData`] (the `fetch_data` of a `blobs` record, `docs/storage.md`):
//! versioned, little-endian, byte strings length-prefixed (`crate::codec`). Written once at
//! delivery; every later FETCH, SEARCH and SORT reads it instead of parsing the message.

use super::summary::{Summary, SummaryAddress};
use super::thread_keys::{self, ThreadKeys};
use super::{Cte, FetchData, Part};
use crate::codec::{Cursor, put_bytes, put_opt_string, put_u32};

/// Current version of the [`FetchData::encode`] format (its first byte).
/// Version 2 added [`FetchData::thread`] and [`FetchData::display`], version 3
/// [`FetchData::summary`]; versions 1 and 2 are still read.
pub const FORMAT_VERSION: u8 = 3;

impl FetchData {
    /// Serialises for the store: a version byte ([`FORMAT_VERSION`]), then the fields in
    /// declaration order, byte strings as u32-LE length + bytes, integers little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            64 + self.envelope.len() + self.body.len() + self.bodystructure.len() + self.parts.len() * 48,
        );
        out.push(FORMAT_VERSION);
        for bytes in [&self.envelope, &self.body, &self.bodystructure] {
            put_bytes(&mut out, bytes);
        }
        put_u32(&mut out, u32::try_from(self.parts.len()).unwrap_or(u32::MAX));
        for part in &self.parts {
            put_u32(&mut out, u32::try_from(part.section.len()).unwrap_or(u32::MAX));
            for &n in &part.section {
                put_u32(&mut out, n);
            }
            for (a, b) in [part.header, part.body] {
                put_u32(&mut out, a);
                put_u32(&mut out, b);
            }
            out.push(part.content_transfer_encoding as u8);
            let flags = u8::from(part.is_message_rfc822)
                | (u8::from(part.is_multipart) << 1)
                | (u8::from(part.message.is_some()) << 2);
            out.push(flags);
            if let Some((h, t)) = part.message {
                for v in [h.0, h.1, t.0, t.1] {
                    put_u32(&mut out, v);
                }
            }
            put_u32(&mut out, part.binary_size);
        }
        put_u32(&mut out, self.header_len);
        match self.date {
            Some(d) => {
                out.push(1);
                out.extend_from_slice(&d.to_le_bytes());
            }
            None => out.push(0),
        }
        for s in [&self.sort_subject, &self.from_addr, &self.to_addr, &self.cc_addr] {
            put_bytes(&mut out, s.as_bytes());
        }
        // Always written (version 2): data computed now has its thread keys.
        let keys = self.thread.clone().unwrap_or_default();
        match &keys.message_id {
            Some(id) => {
                out.push(1);
                put_bytes(&mut out, id.as_bytes());
            }
            None => out.push(0),
        }
        put_u32(&mut out, u32::try_from(keys.references.len()).unwrap_or(u32::MAX));
        for r in &keys.references {
            put_bytes(&mut out, r.as_bytes());
        }
        let (from, to) = self.display.clone().unwrap_or_default();
        put_bytes(&mut out, from.as_bytes());
        put_bytes(&mut out, to.as_bytes());
        // Version 3: the summary, always written (data computed now has it).
        let summary = self.summary.clone().unwrap_or_default();
        for address in [&summary.from, &summary.to] {
            put_address(&mut out, address.as_ref());
        }
        put_opt_string(&mut out, summary.subject.as_deref());
        out.push(u8::from(summary.attachment));
        out
    }

    /// Reads what [`encode`](Self::encode) wrote; `None` for another version or any damage
    /// (truncation, trailing bytes, invalid values).
    pub fn decode(bytes: &[u8]) -> Option<FetchData> {
        let mut r = Cursor::new(bytes);
        let version = r.u8()?;
        if version == 0 || version > FORMAT_VERSION {
            return None;
        }
        let envelope = r.bytes()?.to_vec();
        let body = r.bytes()?.to_vec();
        let bodystructure = r.bytes()?.to_vec();
        let count = r.u32()?;
        let mut parts = Vec::new();
        for _ in 0..count {
            let depth = r.u32()?;
            let mut section = Vec::new();
            for _ in 0..depth {
                section.push(r.u32()?);
            }
            let header = (r.u32()?, r.u32()?);
            let body = (r.u32()?, r.u32()?);
            let content_transfer_encoding = Cte::from_u8(r.u8()?)?;
            let flags = r.u8()?;
            if flags & !0b111 != 0 {
                return None;
            }
            let message =
                if flags & 0b100 != 0 { Some(((r.u32()?, r.u32()?), (r.u32()?, r.u32()?))) } else { None };
            parts.push(Part {
                section,
                header,
                body,
                content_transfer_encoding,
                is_message_rfc822: flags & 0b1 != 0,
                is_multipart: flags & 0b10 != 0,
                message,
                binary_size: r.u32()?,
            });
        }
        let header_len = r.u32()?;
        let date = match r.u8()? {
            0 => None,
            1 => Some(r.i64()?),
            _ => return None,
        };
        let mut strings = Vec::with_capacity(4);
        for _ in 0..4 {
            strings.push(r.string()?);
        }
        let thread = if version >= 2 {
            let message_id = match r.u8()? {
                0 => None,
                1 => Some(r.string()?),
                _ => return None,
            };
            let count = r.u32()? as usize;
            if count > thread_keys::MAX_REFERENCES {
                return None;
            }
            let mut references = Vec::with_capacity(count);
            for _ in 0..count {
                references.push(r.string()?);
            }
            Some(ThreadKeys { message_id, references })
        } else {
            None
        };
        let display = if version >= 2 {
            let from = r.string()?;
            Some((from, r.string()?))
        } else {
            None
        };
        let summary = if version >= 3 {
            let from = read_address(&mut r)?;
            let to = read_address(&mut r)?;
            let subject = r.opt_string()?;
            let attachment = match r.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            Some(Summary { from, to, subject, attachment })
        } else {
            None
        };
        if r.remaining() != 0 {
            return None;
        }
        let mut strings = strings.into_iter();
        Some(FetchData {
            envelope,
            body,
            bodystructure,
            parts,
            header_len,
            date,
            sort_subject: strings.next()?,
            from_addr: strings.next()?,
            to_addr: strings.next()?,
            cc_addr: strings.next()?,
            thread,
            display,
            summary,
        })
    }
}

/// An optional address: a presence byte, the optional display name, the address.
fn put_address(out: &mut Vec<u8>, a: Option<&SummaryAddress>) {
    match a {
        Some((name, address)) => {
            out.push(1);
            put_opt_string(out, name.as_deref());
            put_bytes(out, address.as_bytes());
        }
        None => out.push(0),
    }
}

fn read_address(r: &mut Cursor<'_>) -> Option<Option<SummaryAddress>> {
    match r.u8()? {
        0 => Some(None),
        1 => {
            let name = r.opt_string()?;
            Some(Some((name, r.string()?)))
        }
        _ => None,
    }
}
