//! RFC 5322 header sections: splitting into fields with byte offsets, unfolding.

/// One header field, as byte offsets into the raw message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Field {
    /// Field name, without trailing whitespace (RFC 5322 §4.5.3 obs-optional allows
    /// `Subject :`).
    pub name: (usize, usize),
    /// Raw value: from just after the colon up to, not including, the line break that ends
    /// the field. Still folded and still RFC 2047-encoded.
    pub value: (usize, usize),
}

impl Field {
    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.name.0..self.name.1).unwrap_or_default()
    }

    pub fn value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.value.0..self.value.1).unwrap_or_default()
    }
}

/// The header fields anything computed at delivery reads: ENVELOPE (RFC 9051 §7.5.2), the
/// MIME fields of BODYSTRUCTURE, and the SORT keys. Only these are kept by [`Fields`], each
/// once, so that a header of a million fields costs no more than one of ten.
pub(super) const KNOWN: [&str; 18] = [
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Content-MD5",
    "Content-Disposition",
    "Content-Language",
    "Content-Location",
];

/// The most of a field's value that is parsed (for ENVELOPE, BODYSTRUCTURE and the SORT and
/// THREAD keys); the rest is ignored there, as if the field ended. Every step after this one
/// makes copies of a value (unfolding, decoding, lowercasing, the response string), so a
/// 20 MB header line would otherwise cost several times 20 MB. Real fields stay far below it:
/// RFC 5322 §2.1.1 asks for lines of at most 998 bytes, and a To of a thousand addresses is
/// about 40 KiB. BODY[HEADER] and the like still return the field whole, from the message.
pub const MAX_FIELD_VALUE: usize = 64 * 1024;

/// The [`KNOWN`] fields of one header section, the first occurrence of each.
#[derive(Debug, Clone, Default)]
pub(super) struct Fields(pub Vec<Field>);

impl Fields {
    /// Whether a field called `name` is to be kept: known and not seen yet in this section.
    pub fn wants(&self, raw: &[u8], name: &[u8]) -> bool {
        KNOWN.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(name))
            && !self.0.iter().any(|f| f.name(raw).eq_ignore_ascii_case(name))
    }

    /// Raw value of the first field called `name` (ASCII case-insensitive), at most
    /// [`MAX_FIELD_VALUE`] bytes of it.
    ///
    /// When a field occurs more than once (invalid for the fields FETCH looks at, RFC 5322
    /// §3.6), the first occurrence wins.
    pub fn first<'a>(&self, raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
        debug_assert!(KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)), "{name} is not kept");
        let value = self.0.iter().find(|f| f.name(raw).eq_ignore_ascii_case(name.as_bytes()))?.value(raw);
        Some(value.get(..MAX_FIELD_VALUE).unwrap_or(value))
    }
}

/// Start of the line after the one starting at `pos` (past its LF), or `raw.len()`.
pub(super) fn next_line(raw: &[u8], pos: usize) -> usize {
    match raw.get(pos..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) {
        Some(i) => pos + i + 1,
        None => raw.len(),
    }
}

/// True for an empty line: CRLF, or a bare LF (tolerated, RFC 5322 demands CRLF).
pub(super) fn is_blank_line(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// Parses the header line starting at `start`, a line that does not begin with WSP.
/// Returns the new field, or `None` for a line without a colon (a malformed line, kept in
/// the header section but ignored).
pub(super) fn parse_field_line(raw: &[u8], start: usize, end: usize) -> Option<Field> {
    let line = raw.get(start..end)?;
    let colon = line.iter().position(|&b| b == b':')?;
    let mut name_end = colon;
    while name_end > 0 && matches!(line[name_end - 1], b' ' | b'\t') {
        name_end -= 1;
    }
    Some(Field {
        name: (start, start + name_end),
        value: (start + colon + 1, start + line_content_len(line)),
    })
}

/// Length of `line` without its trailing line break.
pub(super) fn line_content_len(line: &[u8]) -> usize {
    let mut n = line.len();
    if n > 0 && line[n - 1] == b'\n' {
        n -= 1;
        if n > 0 && line[n - 1] == b'\r' {
            n -= 1;
        }
    }
    n
}

/// RFC 5322 §2.2.3 unfolding, plus trimming of the surrounding whitespace: every CR and LF
/// is removed (in a field's raw value they only occur as folds, each followed by WSP, which
/// is kept), then leading and trailing SP / HTAB are dropped.
pub(super) fn unfold(value: &[u8]) -> Vec<u8> {
    let unfolded: Vec<u8> = value.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    trim_wsp(&unfolded).to_vec()
}

/// The value of every field called `name` (ASCII case-insensitive) in a header section, each
/// unfolded and trimmed but otherwise as it stands: not RFC 2047-decoded, not parsed, so
/// `Message-ID: <a@b>` gives `<a@b>` (what SEARCH HEADER matches, RFC 3501 §6.4.4). At most
/// [`MAX_FIELD_VALUE`] bytes of each value are read.
pub fn field_values(header: &[u8], name: &str) -> Vec<Vec<u8>> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut in_field = false;
    let mut p = 0;
    while p < header.len() {
        let e = next_line(header, p);
        let line = &header[p..e];
        if is_blank_line(line) {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if in_field && let Some(last) = spans.last_mut() {
                last.1 = p + line_content_len(line);
            }
        } else {
            let field = parse_field_line(header, p, e);
            in_field = field.is_some_and(|f| f.name(header).eq_ignore_ascii_case(name.as_bytes()));
            if let Some(f) = field.filter(|_| in_field) {
                spans.push(f.value);
            }
        }
        p = e;
    }
    spans
        .into_iter()
        .map(|(from, to)| {
            let value = header.get(from..to).unwrap_or_default();
            unfold(value.get(..MAX_FIELD_VALUE).unwrap_or(value))
        })
        .collect()
}

/// `s` without leading and trailing SP / HTAB / CR / LF.
pub(super) fn trim_wsp(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_every_occurrence_unfolded_as_it_stands() {
        let h = b"Message-ID: <a@b>\r\nreferences: <x@y>\r\n\t<z@w>\r\nX: 1\r\nReferences : <q@r>\r\n\r\nReferences: body";
        assert_eq!(field_values(h, "Message-Id"), vec![b"<a@b>".to_vec()]);
        assert_eq!(field_values(h, "References"), vec![b"<x@y>\t<z@w>".to_vec(), b"<q@r>".to_vec()]);
        assert!(field_values(h, "Subject").is_empty());
    }

    #[test]
    fn unfold_removes_breaks_keeps_wsp() {
        assert_eq!(unfold(b" a\r\n b\r\n\tc  "), b"a b\tc");
        assert_eq!(unfold(b""), b"");
        assert_eq!(unfold(b"   "), b"");
    }

    #[test]
    fn field_line_with_space_before_colon() {
        let raw = b"Subject : hi\r\n";
        let f = parse_field_line(raw, 0, raw.len()).expect("field");
        assert_eq!(f.name(raw), b"Subject");
        assert_eq!(f.value(raw), b" hi");
        assert!(parse_field_line(b"no colon\r\n", 0, 10).is_none());
    }
}
