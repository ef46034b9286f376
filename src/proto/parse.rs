//! Recursive-descent parser of one framed IMAP command (RFC 9051 §9 grammar, with the RFC 3501
//! forms still in use and the extensions named in `proto::command`).
//!
//! Input is one [`crate::proto::framing::Frame::Command`]: the command's lines and literal data,
//! complete. The parser never waits for bytes and never does IO. Each function parses one ABNF
//! rule, named in the comment above it. Nesting (search keys) is limited to [`MAX_DEPTH`] so that
//! hostile input cannot overflow the stack.
//!
//! Line endings: CRLF or a bare LF, as the framer accepts.

use std::borrow::Cow;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::ops::Range;

pub use crate::proto::command::Command;
use crate::proto::command::{
    Atom, CommandBody, Date, DateTime, Flag, MailboxName, ModSeq, NonEmpty, NumberSet, PartialRange, Secret,
    SeqNumber, SeqRange, SequenceSet, Tag, is_astring_char, is_atom_char, is_list_char,
};

mod catenate;
mod fetch;
mod mailbox;
mod mapi;
mod search;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
mod xsync;

/// The deepest nesting of search keys (`NOT`, `OR`, parentheses) accepted.
pub const MAX_DEPTH: usize = 64;

/// A command that could not be parsed. `message` is plain ASCII, fit for the text of a tagged
/// (or, without a tag, untagged) BAD response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<Tag>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(t) => write!(f, "{t}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    fn new(tag: Option<Tag>, message: &str) -> Self {
        // Only printable ASCII goes back to the client.
        let message = message.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect();
        ParseError { tag, message }
    }
}

/// What the session has enabled that changes the grammar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is enabled: mailbox names are UTF-8, not modified UTF-7.
    pub utf8: bool,
}

/// Parses one framed command, with mailbox names in modified UTF-7 (no UTF8=ACCEPT).
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    parse_command_with(input, ParseOptions::default())
}

/// command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
pub fn parse_command_with(input: &[u8], options: ParseOptions) -> Result<Command, ParseError> {
    let mut p = Parser { input, pos: 0, utf8: options.utf8, depth: 0 };
    let tag = match p.tag() {
        Ok(t) => t,
        Err(Fail(m)) => return Err(ParseError::new(None, &m)),
    };
    let body = p.sp().and_then(|()| p.command_body());
    match body {
        Ok(body) => Ok(Command { tag, body }),
        Err(Fail(m)) => Err(ParseError::new(Some(tag), &m)),
    }
}

pub use catenate::parse_imap_url;

/// `section-spec` (RFC 9051 §9) given bare, as an IMAP URL's `;SECTION=` carries it once
/// %-decoded (RFC 5092 §11 `enc-section`): the same grammar as the one inside `BODY[...]`.
pub(crate) fn parse_section_spec(spec: &[u8]) -> Option<crate::proto::command::Section> {
    let mut buf = Vec::with_capacity(spec.len() + 2);
    buf.push(b'[');
    buf.extend_from_slice(spec);
    buf.push(b']');
    let mut p = Parser { input: &buf, pos: 0, utf8: true, depth: 0 };
    let section = p.section().ok()?;
    p.rest().is_empty().then_some(section)
}

/// `idle = "IDLE" CRLF "DONE"`: checks the line that ends IDLE (taken with
/// `Framer::expect_raw_line`). Case-insensitive.
pub fn parse_done(line: &[u8]) -> Result<(), ParseError> {
    if strip_line_end(line).eq_ignore_ascii_case(b"DONE") {
        Ok(())
    } else {
        Err(ParseError::new(None, "expected DONE"))
    }
}

/// A client's answer to an AUTHENTICATE continuation request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslResponse {
    /// The decoded response (possibly empty).
    Data(Secret),
    /// `*`: the client cancels the exchange; the session answers BAD (RFC 9051 §6.2.2).
    Cancel,
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] *(CRLF base64)`: one
/// `base64` line (or `*` to cancel), taken with `Framer::expect_raw_line`. An empty line is an
/// empty response; a lone `=` is taken as one too.
pub fn parse_sasl_response(line: &[u8]) -> Result<SaslResponse, ParseError> {
    let body = strip_line_end(line);
    if body == b"*" {
        return Ok(SaslResponse::Cancel);
    }
    if body == b"=" {
        return Ok(SaslResponse::Data(Secret::new(Vec::new())));
    }
    decode_base64(body)
        .map(|d| SaslResponse::Data(Secret::new(d)))
        .ok_or_else(|| ParseError::new(None, "invalid base64 in SASL response"))
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `base64 = *(4base64-char) [base64-terminal]` (RFC 4648 alphabet, padding required).
pub(crate) fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let groups = s.len() / 4;
    for (i, chunk) in s.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != groups) {
            return None;
        }
        let mut n: u32 = 0;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// A parse failure inside the parser; the tag is added at the top.
struct Fail(String);

type PResult<T> = Result<T, Fail>;

/// A cursor over one framed command.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Mailbox names are UTF-8 (UTF8=ACCEPT / IMAP4rev2), not modified UTF-7.
    utf8: bool,
    /// Current nesting of search keys.
    depth: usize,
}

/// A word from the input, shortened and made printable for an error message.
fn shown(word: &[u8]) -> String {
    let mut s: String =
        word.iter().take(40).map(|&b| if (b' '..=b'~').contains(&b) { b as char } else { '?' }).collect();
    if word.len() > 40 {
        s.push_str("...");
    }
    s
}

impl<'a> Parser<'a> {
    fn fail<T>(&self, message: impl fmt::Display) -> PResult<T> {
        Err(Fail(format!("{message} (at byte {})", self.pos)))
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.input.get(self.pos + offset).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> PResult<()> {
        if self.eat(b) { Ok(()) } else { self.fail(format!("expected {what}")) }
    }

    fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "SP")
    }

    /// The next bytes are an SP and then `(`.
    fn peek_sp_paren(&self) -> bool {
        self.peek() == Some(b' ') && self.peek_at(1) == Some(b'(')
    }

    /// Whether `kw` (case-insensitive) starts at `pos + offset`, not followed by more word bytes.
    fn peek_keyword_at(&self, offset: usize, kw: &str) -> bool {
        let rest = self.input.get(self.pos + offset..).unwrap_or_default();
        rest.len() >= kw.len()
            && rest[..kw.len()].eq_ignore_ascii_case(kw.as_bytes())
            && !rest.get(kw.len()).is_some_and(|&b| is_word_byte(b))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek_keyword_at(0, kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, kw: &str) -> PResult<()> {
        if self.eat_keyword(kw) { Ok(()) } else { self.fail(format!("expected {kw}")) }
    }

    /// A run of word bytes: command names, data item names, search keys, options.
    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// A word, upper-cased for matching.
    fn name(&mut self) -> String {
        String::from_utf8_lossy(self.word()).to_ascii_uppercase()
    }

    /// At the end of the command (CRLF, LF or the end of the input).
    fn at_end(&self) -> bool {
        matches!(self.rest(), [] | [b'\n'] | [b'\r', b'\n'])
    }

    /// `CRLF` ending the command, and nothing after it.
    fn end(&mut self) -> PResult<()> {
        if self.at_end() {
            self.pos = self.input.len();
            Ok(())
        } else if self.peek() == Some(b' ') {
            self.fail("unexpected SP")
        } else {
            self.fail("unexpected characters at end of command")
        }
    }

    /// `(" x *(SP x) ")"`, or with `allow_empty` also `"(" ")"`.
    fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        self.expect(b'(', "(")?;
        let mut out = Vec::new();
        if self.eat(b')') {
            if allow_empty {
                return Ok(out);
            }
            return self.fail("empty list");
        }
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// `"(" x *(SP x) ")"`
    fn paren_list1<T>(&mut self, item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<NonEmpty<T>> {
        let v = self.paren_list(false, item)?;
        NonEmpty::try_from(v).or_else(|_| self.fail("empty list"))
    }

    // -----------------------------------------------------------------------------------------
    // Numbers
    // -----------------------------------------------------------------------------------------

    fn digits(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn unsigned(&mut self, max: u64, what: &str) -> PResult<u64> {
        let d = self.digits();
        if d.is_empty() {
            return self.fail(format!("expected {what}"));
        }
        let mut v: u64 = 0;
        for &b in d {
            v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                Some(v) if v <= max => v,
                _ => return self.fail(format!("{what} out of range")),
            };
        }
        Ok(v)
    }

    /// number = 1*DIGIT ; unsigned 32-bit integer
    fn number(&mut self) -> PResult<u32> {
        self.unsigned(u64::from(u32::MAX), "number").map(|v| v as u32)
    }

    /// number64 = 1*DIGIT ; unsigned 63-bit integer
    fn number64(&mut self) -> PResult<u64> {
        self.unsigned(i64::MAX as u64, "number")
    }

    /// nz-number = digit-nz *DIGIT ; non-zero unsigned 32-bit integer
    fn nz_number(&mut self) -> PResult<NonZeroU32> {
        let v = self.number()?;
        NonZeroU32::new(v).map_or_else(|| self.fail("expected a non-zero number"), Ok)
    }

    /// nz-number64 = digit-nz *DIGIT ; non-zero unsigned 63-bit integer
    fn nz_number64(&mut self) -> PResult<NonZeroU64> {
        let v = self.number64()?;
        NonZeroU64::new(v).map_or_else(|| self.fail("expected a non-zero number"), Ok)
    }

    /// mod-sequence-value = 1*DIGIT ; positive unsigned 63-bit integer (RFC 7162)
    fn mod_seq(&mut self) -> PResult<ModSeq> {
        let v = self.number64()?;
        ModSeq::new(v).map_or_else(|| self.fail("expected a non-zero mod-sequence"), Ok)
    }

    /// mod-sequence-valzer = "0" / mod-sequence-value (RFC 7162)
    fn mod_seq_valzer(&mut self) -> PResult<u64> {
        self.number64()
    }

    // -----------------------------------------------------------------------------------------
    // Strings
    // -----------------------------------------------------------------------------------------

    /// tag = 1*<any ASTRING-CHAR except "+">
    ///
    /// The whole first word must be a tag: `a+b NOOP` has no usable tag rather than the tag `a`.
    fn tag(&mut self) -> PResult<Tag> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !matches!(b, b' ' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        if start == self.pos {
            return if self.at_end() { self.fail("empty command line") } else { self.fail("missing tag") };
        }
        Tag::try_from(&self.input[start..self.pos]).or_else(|_| self.fail("invalid tag"))
    }

    /// atom = 1*ATOM-CHAR
    fn atom(&mut self) -> PResult<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(is_atom_char) {
            self.pos += 1;
        }
        if start == self.pos {
            return self.fail("expected atom");
        }
        Ok(&self.input[start..self.pos])
    }

    /// An [`Atom`] value.
    fn atom_value(&mut self) -> PResult<Atom> {
        let a = self.atom()?;
        Atom::try_from(a).or_else(|_| self.fail("invalid atom"))
    }

    /// quoted = DQUOTE *QUOTED-CHAR DQUOTE;
    /// QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4
    ///
    /// 8-bit bytes are passed through; where text must be UTF-8 the caller checks.
    fn quoted(&mut self) -> PResult<Cow<'a, [u8]>> {
        self.expect(b'"', "quoted string")?;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            match self.peek() {
                None => return self.fail("unterminated quoted string"),
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok(match owned {
                        Some(v) => Cow::Owned(v),
                        None => Cow::Borrowed(&self.input[start..end]),
                    });
                }
                Some(b'\\') => {
                    let esc = self.peek_at(1);
                    if !matches!(esc, Some(b'"' | b'\\')) {
                        return self.fail("invalid escape in quoted string");
                    }
                    let v = owned.get_or_insert_with(|| self.input[start..self.pos].to_vec());
                    v.push(esc.unwrap_or(b'\\'));
                    self.pos += 2;
                }
                Some(b'\r' | b'\n' | 0) => return self.fail("invalid character in quoted string"),
                Some(b) => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                    self.pos += 1;
                }
            }
        }
    }

    /// literal = "{" number64 ["+"] "}" CRLF *CHAR8 ;
    /// literal8 = "~{" number64 ["+"] "}" CRLF *OCTET (RFC 3516, only where `binary` allows it).
    ///
    /// Returns where the data is in the input and whether it was a literal8.
    fn literal(&mut self, binary: bool) -> PResult<(Range<usize>, bool)> {
        let is8 = self.eat(b'~');
        if is8 && !binary {
            return self.fail("literal8 not allowed here");
        }
        self.expect(b'{', "literal")?;
        let size = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "}")?;
        self.eat(b'\r');
        self.expect(b'\n', "CRLF after literal size")?;
        let start = self.pos;
        let end =
            usize::try_from(size).ok().and_then(|s| start.checked_add(s)).filter(|&e| e <= self.input.len());
        let Some(end) = end else {
            return self.fail("literal data missing");
        };
        // CHAR8 = %x01-ff: NUL only in literal8.
        if !is8 && self.input[start..end].contains(&0) {
            return self.fail("NUL in literal");
        }
        self.pos = end;
        Ok((start..end, is8))
    }

    /// string = quoted / literal
    fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => {
                let (r, _) = self.literal(false)?;
                Ok(Cow::Borrowed(&self.input[r]))
            }
            _ => self.fail("expected string"),
        }
    }

    /// astring = 1*ASTRING-CHAR / string
    ///
    /// Bytes above 0x7F are accepted in the atom form too (clients send raw UTF-8 names).
    fn astring(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            Some(b'~') if self.peek_at(1) == Some(b'{') => {
                self.literal(false).map(|_| Cow::Borrowed(&[][..]))
            }
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|b| is_astring_char(b) || b >= 0x80) {
                    self.pos += 1;
                }
                if start == self.pos {
                    return self.fail("expected string");
                }
                Ok(Cow::Borrowed(&self.input[start..self.pos]))
            }
        }
    }

    /// nstring = string / nil
    fn nstring(&mut self) -> PResult<Option<Cow<'a, [u8]>>> {
        if self.eat_keyword("NIL") { Ok(None) } else { self.string().map(Some) }
    }

    fn utf8(&self, bytes: Cow<'a, [u8]>) -> PResult<String> {
        match bytes {
            Cow::Borrowed(b) => {
                std::str::from_utf8(b).map(str::to_string).or_else(|_| self.fail("invalid UTF-8"))
            }
            Cow::Owned(v) => String::from_utf8(v).or_else(|_| self.fail("invalid UTF-8")),
        }
    }

    /// mailbox = "INBOX" / astring
    fn mailbox(&mut self) -> PResult<MailboxName> {
        let raw = self.astring()?;
        MailboxName::from_wire(&raw, self.utf8).or_else(|e| self.fail(e))
    }

    /// A `mailbox` that may be empty (LIST and LSUB references), decoded like a mailbox name.
    fn reference(&mut self) -> PResult<String> {
        let raw = self.astring()?;
        self.decode_name(&raw)
    }

    /// list-mailbox = 1*list-char / string
    fn list_mailbox(&mut self) -> PResult<String> {
        let raw = match self.peek() {
            Some(b'"' | b'{') => self.string()?,
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|b| is_list_char(b) || b >= 0x80) {
                    self.pos += 1;
                }
                if start == self.pos {
                    return self.fail("expected mailbox pattern");
                }
                Cow::Borrowed(&self.input[start..self.pos])
            }
        };
        self.decode_name(&raw)
    }

    fn decode_name(&self, raw: &[u8]) -> PResult<String> {
        let s = if self.utf8 {
            std::str::from_utf8(raw)
                .map(str::to_string)
                .or_else(|_| self.fail("mailbox name is not UTF-8"))?
        } else {
            match crate::proto::command::decode_modified_utf7(raw) {
                Ok(s) => s,
                // A pattern or reference that is not valid modified UTF-7 is still a valid
                // list-mailbox (RFC 3501 §5.1.3 is about encoding, not syntax): it is matched as
                // the characters it is, which names no mailbox a client without UTF-8 could have
                // made, so LIST answers OK with no match rather than BAD.
                Err(_) if raw.iter().all(|b| (0x20..0x7f).contains(b)) => {
                    String::from_utf8_lossy(raw).into_owned()
                }
                Err(e) => return self.fail(e),
            }
        };
        if s.chars().any(char::is_control) {
            return self.fail("control character in mailbox name");
        }
        Ok(s)
    }

    // -----------------------------------------------------------------------------------------
    // Dates
    // -----------------------------------------------------------------------------------------

    /// date-month = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" / "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
    fn date_month(&mut self) -> PResult<u8> {
        const MONTHS: [&[u8; 3]; 12] =
            [b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"];
        let word = self.rest().get(..3).unwrap_or_default();
        match MONTHS.iter().position(|m| word.eq_ignore_ascii_case(&m[..])) {
            Some(i) => {
                self.pos += 3;
                Ok(i as u8 + 1)
            }
            None => self.fail("expected month name"),
        }
    }

    /// date-year = 4DIGIT
    fn date_year(&mut self) -> PResult<u16> {
        let d = self.digits();
        if d.len() != 4 {
            return self.fail("expected 4-digit year");
        }
        Ok(d.iter().fold(0u16, |v, &b| v * 10 + u16::from(b - b'0')))
    }

    /// Exactly `n` digits as a number (n <= 4).
    fn fixed_digits(&mut self, n: usize, what: &str) -> PResult<u16> {
        let d = self.rest().get(..n).unwrap_or_default();
        if d.len() != n || !d.iter().all(u8::is_ascii_digit) {
            return self.fail(format!("expected {what}"));
        }
        self.pos += n;
        Ok(d.iter().fold(0u16, |v, &b| v * 10 + u16::from(b - b'0')))
    }

    /// date-text = date-day "-" date-month "-" date-year ; date-day = 1*2DIGIT
    fn date_text(&mut self) -> PResult<Date> {
        let d = self.digits();
        if d.is_empty() || d.len() > 2 {
            return self.fail("expected day of month");
        }
        let day = d.iter().fold(0u8, |v, &b| v * 10 + (b - b'0'));
        self.expect(b'-', "-")?;
        let month = self.date_month()?;
        self.expect(b'-', "-")?;
        let year = self.date_year()?;
        Date::new(year, month, day).map_or_else(|| self.fail("no such date"), Ok)
    }

    /// date = date-text / DQUOTE date-text DQUOTE
    fn date(&mut self) -> PResult<Date> {
        if self.eat(b'"') {
            let d = self.date_text()?;
            self.expect(b'"', "closing quote of date")?;
            Ok(d)
        } else {
            self.date_text()
        }
    }

    /// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE ;
    /// date-day-fixed = (SP DIGIT) / 2DIGIT ; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT ;
    /// zone = ("+" / "-") 4DIGIT
    ///
    /// A one-digit day without the leading space is accepted too.
    fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "date-time")?;
        self.eat(b' ');
        let d = self.digits();
        if d.is_empty() || d.len() > 2 {
            return self.fail("expected day of month");
        }
        let day = d.iter().fold(0u8, |v, &b| v * 10 + (b - b'0'));
        self.expect(b'-', "-")?;
        let month = self.date_month()?;
        self.expect(b'-', "-")?;
        let year = self.date_year()?;
        self.sp()?;
        let hour = self.fixed_digits(2, "hour")?;
        self.expect(b':', ":")?;
        let minute = self.fixed_digits(2, "minute")?;
        self.expect(b':', ":")?;
        let second = self.fixed_digits(2, "second")?;
        self.sp()?;
        let sign: i16 = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return self.fail("expected zone"),
        };
        self.pos += 1;
        let zone = self.fixed_digits(4, "zone")?;
        if zone % 100 > 59 {
            return self.fail("invalid zone");
        }
        self.expect(b'"', "closing quote of date-time")?;
        let zone_minutes = sign * ((zone / 100) * 60 + zone % 100) as i16;
        let date = Date::new(year, month, day).map_or_else(|| self.fail("no such date"), Ok)?;
        DateTime::new(date, hour as u8, minute as u8, second as u8, zone_minutes)
            .map_or_else(|| self.fail("invalid time"), Ok)
    }

    // -----------------------------------------------------------------------------------------
    // Sets, flags
    // -----------------------------------------------------------------------------------------

    /// seq-number = nz-number / "*"
    fn seq_number(&mut self) -> PResult<SeqNumber> {
        if self.eat(b'*') { Ok(SeqNumber::Last) } else { self.nz_number().map(SeqNumber::Number) }
    }

    /// seq-range = seq-number ":" seq-number
    fn seq_range(&mut self) -> PResult<SeqRange> {
        let start = self.seq_number()?;
        let end = if self.eat(b':') { self.seq_number()? } else { start };
        Ok(SeqRange { start, end })
    }

    /// sequence-set = (seq-number / seq-range) ["," sequence-set] ; sequence-set =/ seq-last-command ;
    /// seq-last-command = "$" (RFC 5182)
    fn sequence_set(&mut self) -> PResult<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        if !matches!(self.peek(), Some(b'0'..=b'9' | b'*')) {
            return self.fail("expected sequence set");
        }
        let mut ranges = NonEmpty::new(self.seq_range()?);
        while self.eat(b',') {
            ranges.push(self.seq_range()?);
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// known-uids = sequence-set ; "*" is not allowed (RFC 7162), nor "$"
    fn number_set(&mut self) -> PResult<NumberSet> {
        let mut ranges = Vec::new();
        loop {
            let a = self.nz_number()?;
            let b = if self.eat(b':') { self.nz_number()? } else { a };
            ranges.push((a, b));
            if !self.eat(b',') {
                break;
            }
        }
        NumberSet::new(ranges).or_else(|e| self.fail(e))
    }

    /// flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension ;
    /// flag-extension = "\" atom
    fn flag(&mut self) -> PResult<Flag> {
        let start = self.pos;
        self.eat(b'\\');
        self.atom()?;
        Flag::try_from(&self.input[start..self.pos]).or_else(|e| self.fail(e))
    }

    /// flag-list = "(" [flag *(SP flag)] ")"
    fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.paren_list(true, Self::flag)
    }

    /// partial-range = partial-range-first / partial-range-last ;
    /// partial-range-first = nz-number ":" nz-number ; partial-range-last = MINUS nz-number ":" MINUS nz-number
    /// (RFC 9394 §4)
    fn partial_range(&mut self) -> PResult<PartialRange> {
        let last = self.eat(b'-');
        let a = self.nz_number()?;
        self.expect(b':', ":")?;
        if last {
            self.expect(b'-', "- (both ends of a partial range are negative)")?;
        }
        let b = self.nz_number()?;
        let (from, to) = (a.min(b), a.max(b));
        Ok(if last { PartialRange::Last { from, to } } else { PartialRange::First { from, to } })
    }

    // -----------------------------------------------------------------------------------------
    // Commands
    // -----------------------------------------------------------------------------------------

    /// command-any / command-auth / command-nonauth / command-select, then CRLF
    fn command_body(&mut self) -> PResult<CommandBody> {
        let name = self.name();
        let body = match name.as_str() {
            // command-any = "CAPABILITY" / "LOGOUT" / "NOOP" / enable / x-command / id
            "CAPABILITY" => CommandBody::Capability,
            "NOOP" => CommandBody::Noop,
            "LOGOUT" => CommandBody::Logout,
            "ID" => self.id()?,
            // command-nonauth = login / authenticate / "STARTTLS"
            "STARTTLS" => CommandBody::StartTls,
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => self.login()?,
            // command-auth
            "ENABLE" => self.enable()?,
            "NAMESPACE" => CommandBody::Namespace,
            "SELECT" => {
                let (mailbox, params) = self.select_args()?;
                CommandBody::Select { mailbox, params }
            }
            "EXAMINE" => {
                let (mailbox, params) = self.select_args()?;
                CommandBody::Examine { mailbox, params }
            }
            "CREATE" => self.create()?,
            "DELETE" => CommandBody::Delete { mailbox: self.sp_mailbox()? },
            "RENAME" => {
                let from = self.sp_mailbox()?;
                let to = self.sp_mailbox()?;
                CommandBody::Rename { from, to }
            }
            "SUBSCRIBE" => CommandBody::Subscribe { mailbox: self.sp_mailbox()? },
            "UNSUBSCRIBE" => CommandBody::Unsubscribe { mailbox: self.sp_mailbox()? },
            "LIST" => self.list()?,
            "LSUB" => self.lsub()?,
            "STATUS" => self.status()?,
            "APPEND" => self.append()?,
            "IDLE" => CommandBody::Idle,
            "NOTIFY" => self.notify()?,
            "COMPRESS" => self.compress()?,
            "GETQUOTA" => {
                self.sp()?;
                let root = self.astring()?;
                CommandBody::GetQuota { root: self.utf8(root)? }
            }
            "GETQUOTAROOT" => CommandBody::GetQuotaRoot { mailbox: self.sp_mailbox()? },
            "SETQUOTA" => self.setquota()?,
            // docs/mapi-extension.md §15: command-auth =/ xsync / xhierarchy
            "XSYNC" => self.xsync()?,
            "XHIERARCHY" => self.xhierarchy()?,
            // command-select
            "CHECK" => CommandBody::Check,
            "CLOSE" => CommandBody::Close,
            "UNSELECT" => CommandBody::Unselect,
            "CANCELUPDATE" => self.cancel_update()?,
            "EXPUNGE" => CommandBody::Expunge,
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" => self.copy(false)?,
            "MOVE" => self.move_(false)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "UID" => self.uid()?,
            // docs/mapi-extension.md §15: command-nonauth =/ xjoin; command-auth =/ xsession
            "XJOIN" => self.xjoin()?,
            "XSESSION" => self.xsession()?,
            // §15: command-auth =/ xbackchannel / xack
            "XBACKCHANNEL" => self.xbackchannel()?,
            "XACK" => self.xack()?,
            "" => return self.fail("missing command name"),
            _ => return self.fail(format!("unknown command {}", shown(name.as_bytes()))),
        };
        self.end()?;
        Ok(body)
    }

    /// uid = "UID" SP ("COPY" / "MOVE" / "FETCH" / "SEARCH" / "STORE" / "EXPUNGE" / "SORT" / "THREAD") ...
    fn uid(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let name = self.name();
        match name.as_str() {
            "FETCH" => self.fetch(true),
            "SEARCH" => self.search(true),
            "STORE" => self.store(true),
            "COPY" => self.copy(true),
            "MOVE" => self.move_(true),
            "SORT" => self.sort(true),
            "THREAD" => self.thread(true),
            // uid-expunge = "UID" SP "EXPUNGE" SP sequence-set
            "EXPUNGE" => {
                self.sp()?;
                Ok(CommandBody::UidExpunge { set: self.sequence_set()? })
            }
            _ => self.fail(format!("unknown UID command {}", shown(name.as_bytes()))),
        }
    }

    fn sp_mailbox(&mut self) -> PResult<MailboxName> {
        self.sp()?;
        self.mailbox()
    }

    /// id = "ID" SP id-params-list ; id-params-list = "(" *(string SP nstring) ")" / nil (RFC 2971)
    fn id(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        if self.eat_keyword("NIL") {
            return Ok(CommandBody::Id { parameters: None });
        }
        let pairs = self.paren_list(true, |p| {
            let key = p.string()?;
            p.sp()?;
            let value = p.nstring()?;
            Ok((
                String::from_utf8_lossy(&key).into_owned(),
                value.map(|v| String::from_utf8_lossy(&v).into_owned()),
            ))
        })?;
        Ok(CommandBody::Id { parameters: Some(pairs) })
    }

    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] ; auth-type = atom ;
    /// initial-resp = (base64 / "=") (RFC 4959)
    fn authenticate(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mechanism = self.atom_value()?;
        let initial_response = if self.eat(b' ') {
            let start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
                self.pos += 1;
            }
            let text = &self.input[start..self.pos];
            if text == b"=" {
                Some(Secret::new(Vec::new()))
            } else {
                match decode_base64(text) {
                    Some(d) if !text.is_empty() => Some(Secret::new(d)),
                    _ => return self.fail("invalid base64 initial response"),
                }
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate { mechanism, initial_response })
    }

    /// login = "LOGIN" SP userid SP password ; userid = astring ; password = astring
    fn login(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let user = self.astring()?;
        let username = self.utf8(user)?;
        self.sp()?;
        let password = Secret::new(self.astring()?.into_owned());
        Ok(CommandBody::Login { username, password })
    }

    /// command-select =/ "CANCELUPDATE" 1*(SP quoted) (RFC 5267 §5)
    fn cancel_update(&mut self) -> PResult<CommandBody> {
        if self.peek() != Some(b' ') {
            return self.fail("CANCELUPDATE needs the tag of at least one updating search");
        }
        self.sp()?;
        let first = self.quoted()?;
        let mut tags = NonEmpty::new(self.utf8(first)?);
        while self.eat(b' ') {
            let t = self.quoted()?;
            tags.push(self.utf8(t)?);
        }
        Ok(CommandBody::CancelUpdate { tags })
    }

    /// enable = "ENABLE" 1*(SP capability) ; capability = ("AUTH=" auth-type) / atom
    fn enable(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut caps = NonEmpty::new(self.atom_value()?);
        while self.eat(b' ') {
            caps.push(self.atom_value()?);
        }
        Ok(CommandBody::Enable { capabilities: caps })
    }

    /// compress = "COMPRESS" SP algorithm ; algorithm = "DEFLATE" (RFC 4978)
    fn compress(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let a = self.atom()?;
        if a.eq_ignore_ascii_case(b"DEFLATE") {
            Ok(CommandBody::Compress { algorithm: crate::proto::command::CompressionAlgorithm::Deflate })
        } else {
            self.fail(format!("unsupported compression algorithm {}", shown(a)))
        }
    }
}

/// Bytes of the names the parser matches on: letters, digits and `.`, `-`, `_`, `=`.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'=')
}
