//! IMAP string serialisation (RFC 9051 §4.3, RFC 3501 §4.3).
//!
//! Protocol code only: every function appends to a `Vec<u8>` and never does IO. The rules,
//! from the RFC 9051 formal syntax (§9):
//!
//! ```text
//! nstring      = string / nil
//! string       = quoted / literal
//! quoted       = DQUOTE *QUOTED-CHAR DQUOTE
//! QUOTED-CHAR  = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
//! TEXT-CHAR    = <any CHAR except CR and LF>        ; CHAR = %x01-7F
//! literal      = "{" number64 ["+"] "}" CRLF *CHAR8  ; CHAR8 = %x01-ff
//! literal8     = "~{" number64 "}" CRLF *OCTET       ; RFC 3516 / RFC 9051 BINARY
//! astring      = 1*ASTRING-CHAR / string
//! ASTRING-CHAR = ATOM-CHAR / resp-specials
//! ATOM-CHAR    = <any CHAR except atom-specials>
//! atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
//! ```
//!
//! A quoted string is chosen whenever it is legal and short (at most [`MAX_QUOTED`] bytes):
//! 7-bit only (no UTF-8, so the output is valid without `UTF8=ACCEPT`), no NUL, CR or LF.
//! Everything else goes out as a synchronising literal, which the server may always send.

/// Longest value written as a quoted string; longer values become literals so that
/// clients with small line buffers never see an unbounded line.
pub const MAX_QUOTED: usize = 1024;

/// Writes `NIL` for `None`, otherwise the value as a string (see [`write_string`]).
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => write_string(out, s),
    }
}

/// Writes `s` as a quoted string when it can be one, otherwise as a literal.
/// The empty string is `""`.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if can_quote(s) {
        write_quoted(out, s);
    } else {
        write_literal(out, s);
    }
}

/// Writes `s` as an atom when every byte is an ASTRING-CHAR (and `s` is not empty),
/// otherwise as a string.
pub fn write_astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) {
        out.extend_from_slice(s);
    } else {
        write_string(out, s);
    }
}

/// Writes a synchronising literal: `{n}` CRLF followed by the bytes verbatim.
pub fn write_literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'{');
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.extend_from_slice(b"}\r\n");
    out.extend_from_slice(bytes);
}

/// Writes a `literal8` (`~{n}` CRLF bytes), the form RFC 3516 / RFC 9051 §7.5.2 require for
/// BINARY[] data, which may contain NUL.
pub fn write_literal8(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'~');
    write_literal(out, bytes);
}

/// ATOM-CHAR: a CHAR (%x01-7F) that is neither a CTL nor an atom-special.
pub fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR: an ATOM-CHAR or `]` (resp-specials).
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// Writes a UTF-8 string for a client that enabled UTF8=ACCEPT or IMAP4rev2: quoted
/// (RFC 9051 §9 `quoted` allows UTF8-2..4 there) unless it holds CR, LF or NUL or is long, then a
/// literal. Atoms when possible.
pub fn write_astring_utf8(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        write_astring(out, s.as_bytes());
    } else {
        write_string_utf8(out, s);
    }
}

/// Writes a UTF-8 string as [`write_astring_utf8`] does, but never as an atom.
pub fn write_string_utf8(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if b.is_ascii() {
        write_string(out, b);
    } else if b.len() <= MAX_QUOTED && !b.iter().any(|c| matches!(c, b'\r' | b'\n' | 0)) {
        write_quoted(out, b);
    } else {
        write_literal(out, b);
    }
}

/// True when `s` may be sent as a quoted string under this module's policy.
fn can_quote(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED && s.iter().all(|&b| matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n')
}

fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nstring(s: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        write_nstring(&mut out, s);
        out
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, s);
        out
    }

    fn astring(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_astring(&mut out, s);
        out
    }

    #[test]
    fn nil_for_none() {
        assert_eq!(nstring(None), b"NIL");
        assert_eq!(nstring(Some(b"x")), b"\"x\"");
    }

    #[test]
    fn nil_text_is_a_string_not_nil() {
        // A value that happens to read NIL must stay distinguishable from NIL.
        assert_eq!(nstring(Some(b"NIL")), b"\"NIL\"");
    }

    #[test]
    fn empty_string_is_two_quotes() {
        assert_eq!(string(b""), b"\"\"");
        assert_eq!(nstring(Some(b"")), b"\"\"");
        assert_eq!(astring(b""), b"\"\"");
    }

    #[test]
    fn quoted_escapes_quote_and_backslash() {
        assert_eq!(string(br#"a "b" \c"#), br#""a \"b\" \\c""#);
        assert_eq!(string(b"tab\there"), b"\"tab\there\"");
    }

    #[test]
    fn eight_bit_goes_to_literal() {
        assert_eq!(string("café".as_bytes()), b"{5}\r\ncaf\xc3\xa9");
    }

    #[test]
    fn cr_lf_and_nul_go_to_literal() {
        assert_eq!(string(b"a\r\nb"), b"{4}\r\na\r\nb");
        assert_eq!(string(b"a\nb"), b"{3}\r\na\nb");
        assert_eq!(string(b"a\rb"), b"{3}\r\na\rb");
        assert_eq!(string(b"a\0b"), b"{3}\r\na\0b");
    }

    #[test]
    fn long_values_go_to_literal() {
        let at_limit = vec![b'a'; MAX_QUOTED];
        assert_eq!(string(&at_limit)[0], b'"');
        let over = vec![b'a'; MAX_QUOTED + 1];
        let out = string(&over);
        assert!(out.starts_with(b"{1025}\r\n"));
        assert_eq!(out.len(), 8 + MAX_QUOTED + 1);
    }

    #[test]
    fn literal_and_literal8() {
        let mut out = Vec::new();
        write_literal(&mut out, b"");
        assert_eq!(out, b"{0}\r\n");
        out.clear();
        write_literal8(&mut out, b"\0\x01");
        assert_eq!(out, b"~{2}\r\n\0\x01");
    }

    #[test]
    fn astring_atom_when_possible() {
        assert_eq!(astring(b"INBOX"), b"INBOX");
        assert_eq!(astring(b"Sent]Items"), b"Sent]Items"); // resp-specials is an ASTRING-CHAR
        assert_eq!(astring(b"a.b-c_d+e"), b"a.b-c_d+e");
    }

    #[test]
    fn astring_quotes_atom_specials() {
        for s in [&b"a b"[..], b"a(b", b"a)b", b"a{b", b"a%b", b"a*b", b"a\"b", b"a\\b", b"a\x7fb", b"a\x01b"]
        {
            let out = astring(s);
            assert_eq!(out[0], b'"', "{:?} should be quoted", String::from_utf8_lossy(s));
        }
        assert_eq!(astring("Entwürfe".as_bytes())[0], b'{');
    }

    #[test]
    fn atom_char_table() {
        assert!(is_atom_char(b'a'));
        assert!(!is_atom_char(b']'));
        assert!(is_astring_char(b']'));
        assert!(!is_atom_char(b' '));
        assert!(!is_atom_char(0x80));
        assert!(!is_atom_char(0));
    }
}
