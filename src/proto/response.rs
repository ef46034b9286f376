//! Server responses from bytes, no IO (RFC 9051 §7, grammar in §9; RFC 3501 §9 for IMAP4rev1).
//!
//! Two steps, as on the server side: [`frame`] finds where one response ends (its line, plus
//! every literal it announces and the line parts after them), with caps; [`parse`] turns one
//! framed response into a [`Response`]. Data the client does not interpret (an ESEARCH, an
//! ENVELOPE) stays a [`Value`] tree of atoms, numbers, strings, NIL and lists.
//!
//! The client's half of the grammar (`client/` re-exports it): its [`Code`] keeps any server's
//! code as name and arguments, where the server's own codes are the typed `proto::code::Code`.

use std::fmt;

/// The largest literal accepted in a response: a message body of the source server.
pub const MAX_LITERAL: usize = 256 << 20;
/// The largest response line outside literals (a SEARCH of a big mailbox is long).
pub const MAX_LINE: usize = 16 << 20;

/// Why bytes are not a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub what: String,
    /// Where in the framed response it went wrong.
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for ParseError {}

/// What [`frame`] found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framed {
    /// One whole response takes the first `n` bytes.
    Complete(usize),
    /// More bytes are needed; the buffer must hold at least this many before trying again.
    Incomplete { at_least: usize },
}

/// Finds the end of the first response in `buf`: a line ending in CRLF (a bare LF is accepted),
/// where a line ending in a literal announcement `{n}`, `{n+}` or `~{n}` (RFC 9051 §4.3,
/// RFC 7888, RFC 3516) is followed by `n` bytes and the rest of the response.
pub fn frame(buf: &[u8]) -> Result<Framed, ParseError> {
    let mut pos = 0;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() - pos > MAX_LINE {
                return Err(ParseError { what: "response line too long".into(), at: pos });
            }
            return Ok(Framed::Incomplete { at_least: buf.len() + 1 });
        };
        let end = pos + nl + 1;
        let line = &buf[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match literal_announcement(line) {
            Some(Ok(n)) => {
                if n > MAX_LITERAL {
                    return Err(ParseError { what: format!("literal of {n} bytes is too large"), at: end });
                }
                let after = end + n;
                if buf.len() < after {
                    // The literal, then at least the line end of what follows it.
                    return Ok(Framed::Incomplete { at_least: after + 1 });
                }
                pos = after;
            }
            Some(Err(())) => return Err(ParseError { what: "bad literal length".into(), at: end }),
            None => return Ok(Framed::Complete(end)),
        }
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8` at the end of a line: its length
/// (`proto::literal` recognises it, as it does for commands and the trace).
fn literal_announcement(line: &[u8]) -> Option<Result<usize, ()>> {
    match crate::proto::literal::Announce::of_line(line) {
        crate::proto::literal::Announced::None => None,
        crate::proto::literal::Announced::Bad => Some(Err(())),
        crate::proto::literal::Announced::Literal { size, .. } => Some(usize::try_from(size).map_err(|_| ())),
    }
}

/// A value of response data: what `nstring`, `astring`, `number` and parenthesised lists
/// become.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Nil,
    Number(u64),
    /// An atom as sent, flags (`\Seen`) and FETCH item names (`BODY[HEADER]<0>`) included.
    Atom(String),
    /// A quoted string or a literal, as bytes.
    Str(Vec<u8>),
    List(Vec<Value>),
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|n| u32::try_from(n).ok())
    }

    /// The bytes of a string, an atom or a number (`astring` and `nstring` read alike).
    pub fn as_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Value::Str(b) => Some(b.as_slice().into()),
            Value::Atom(a) => Some(a.as_bytes().into()),
            Value::Number(n) => Some(n.to_string().into_bytes().into()),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// The status of a tagged or untagged condition response (RFC 9051 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

impl Cond {
    pub fn as_str(self) -> &'static str {
        match self {
            Cond::Ok => "OK",
            Cond::No => "NO",
            Cond::Bad => "BAD",
            Cond::PreAuth => "PREAUTH",
            Cond::Bye => "BYE",
        }
    }

    fn from_atom(a: &str) -> Option<Cond> {
        Some(match a.to_ascii_uppercase().as_str() {
            "OK" => Cond::Ok,
            "NO" => Cond::No,
            "BAD" => Cond::Bad,
            "PREAUTH" => Cond::PreAuth,
            "BYE" => Cond::Bye,
            _ => return None,
        })
    }
}

/// A response code: `"[" resp-text-code "]"` (RFC 9051 §7.1), e.g. `UIDVALIDITY 3857529045`,
/// `APPENDUID 38505 3955`, `CAPABILITY IMAP4rev2 ...`. Arguments are read as values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    pub name: String,
    pub args: Vec<Value>,
}

/// `* ...` data and conditions the client looks at; anything else is [`Untagged::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Untagged {
    Cond {
        status: Cond,
        code: Option<Code>,
        text: String,
    },
    Capability(Vec<String>),
    Exists(u32),
    Expunge(u32),
    /// `* n FETCH (name value ...)`: item names upper-cased.
    Fetch {
        seq: u32,
        items: Vec<(String, Value)>,
    },
    /// `* LIST (attrs) delim name ...`: the name as sent (modified UTF-7 unless UTF8=ACCEPT).
    List {
        attrs: Vec<String>,
        delimiter: Option<char>,
        name: Vec<u8>,
    },
    Status {
        mailbox: Vec<u8>,
        items: Vec<(String, u64)>,
    },
    Search(Vec<u32>),
    /// Anything else (`FLAGS`, `ESEARCH`, `n RECENT`, `ENABLED`, `VANISHED` ...): the keyword (or
    /// the number first) and the values after it.
    Other {
        keyword: String,
        number: Option<u32>,
        rest: Vec<Value>,
    },
}

/// One whole server response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `continue-req = "+" SP (resp-text / base64) CRLF`
    Continue(String),
    /// `response-tagged = tag SP resp-cond-state CRLF`
    Tagged {
        tag: String,
        status: Cond,
        code: Option<Code>,
        text: String,
    },
    Untagged(Untagged),
}

impl Untagged {
    /// The value of one FETCH item by its (upper-case) name.
    pub fn fetch_item(&self, name: &str) -> Option<&Value> {
        match self {
            Untagged::Fetch { items, .. } => items.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parses one framed response (as [`frame`] delimited it).
pub fn parse(bytes: &[u8]) -> Result<Response, ParseError> {
    let mut p = Parser { b: bytes, pos: 0 };
    let r = p.response()?;
    Ok(r)
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn fail<T>(&self, what: impl Into<String>) -> PResult<T> {
        Err(ParseError { what: what.into(), at: self.pos })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r' | b'\n'))
    }

    fn sp(&mut self) -> PResult<()> {
        if self.eat(b' ') { Ok(()) } else { self.fail("expected a space") }
    }

    /// The rest of the line, as text (`text = 1*TEXT-CHAR`).
    fn rest_text(&mut self) -> String {
        let start = self.pos;
        while !self.at_end() {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.b[start..self.pos]).into_owned()
    }

    /// response = continue-req / response-data / response-tagged
    fn response(&mut self) -> PResult<Response> {
        if self.eat(b'+') {
            self.eat(b' ');
            return Ok(Response::Continue(self.rest_text()));
        }
        if self.eat(b'*') {
            self.sp()?;
            return Ok(Response::Untagged(self.untagged()?));
        }
        // tag = 1*<any ASTRING-CHAR except "+">
        let tag = self.atom_text();
        if tag.is_empty() {
            return self.fail("expected a tag, * or +");
        }
        self.sp()?;
        let word = self.atom_text();
        let Some(status @ (Cond::Ok | Cond::No | Cond::Bad)) = Cond::from_atom(&word) else {
            return self.fail("expected OK, NO or BAD after the tag");
        };
        let (code, text) = self.resp_text()?;
        Ok(Response::Tagged { tag, status, code, text })
    }

    /// resp-text = ["[" resp-text-code "]" SP] [text]; the space before it is optional here,
    /// since some servers send `OK` alone.
    fn resp_text(&mut self) -> PResult<(Option<Code>, String)> {
        self.eat(b' ');
        let mut code = None;
        if self.eat(b'[') {
            let name = self.atom_text().to_ascii_uppercase();
            let mut args = Vec::new();
            while self.eat(b' ') {
                if self.peek() == Some(b']') {
                    break;
                }
                // Codes with free text (`[ALERT]` has none; an unknown code may have any):
                // read values while they parse, else skip to the bracket.
                let save = self.pos;
                match self.value() {
                    Ok(v) => args.push(v),
                    Err(_) => {
                        self.pos = save;
                        while !self.at_end() && self.peek() != Some(b']') {
                            self.pos += 1;
                        }
                    }
                }
            }
            if !self.eat(b']') {
                return self.fail("expected ] after the response code");
            }
            self.eat(b' ');
            code = Some(Code { name, args });
        }
        Ok((code, self.rest_text()))
    }

    fn untagged(&mut self) -> PResult<Untagged> {
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let n = self.number()?;
            let n = u32::try_from(n).or_else(|_| self.fail("message number out of range"))?;
            self.sp()?;
            let word = self.atom_text().to_ascii_uppercase();
            // message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att)); mailbox-data =/
            // number SP "EXISTS"
            return match word.as_str() {
                "EXISTS" => Ok(Untagged::Exists(n)),
                "EXPUNGE" => Ok(Untagged::Expunge(n)),
                "FETCH" => {
                    self.sp()?;
                    Ok(Untagged::Fetch { seq: n, items: self.msg_att()? })
                }
                _ => Ok(Untagged::Other { keyword: word, number: Some(n), rest: self.values()? }),
            };
        }
        let word = self.atom_text().to_ascii_uppercase();
        if let Some(status) = Cond::from_atom(&word) {
            let (code, text) = self.resp_text()?;
            return Ok(Untagged::Cond { status, code, text });
        }
        match word.as_str() {
            // capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev2" *(SP capability)
            "CAPABILITY" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    let c = self.atom_text();
                    if !c.is_empty() {
                        caps.push(c);
                    }
                }
                Ok(Untagged::Capability(caps))
            }
            // mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP
            //                mailbox [SP mbox-list-extended]
            "LIST" | "LSUB" => {
                self.sp()?;
                let attrs = match self.value()? {
                    Value::List(l) => l
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::Atom(a) => Some(a),
                            _ => None,
                        })
                        .collect(),
                    _ => return self.fail("expected the list of mailbox attributes"),
                };
                self.sp()?;
                let delimiter = match self.value()? {
                    Value::Nil => None,
                    Value::Str(s) if s.len() == 1 => Some(char::from(s[0])),
                    _ => return self.fail("expected the hierarchy delimiter"),
                };
                self.sp()?;
                let name = self.astring()?;
                // mbox-list-extended (CHILDINFO, OLDNAME) is not needed here.
                while !self.at_end() {
                    self.pos += 1;
                }
                Ok(Untagged::List { attrs, delimiter, name })
            }
            // mailbox-data =/ "STATUS" SP mailbox SP "(" [status-att-list] ")"
            "STATUS" => {
                self.sp()?;
                let mailbox = self.astring()?;
                self.sp()?;
                let Value::List(l) = self.value()? else { return self.fail("expected STATUS items") };
                let mut items = Vec::new();
                let mut it = l.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if let (Value::Atom(k), Value::Number(v)) = (k, v) {
                        items.push((k.to_ascii_uppercase(), v));
                    }
                }
                Ok(Untagged::Status { mailbox, items })
            }
            // mailbox-data =/ "SEARCH" *(SP nz-number) [SP search-sort-mod-seq]
            "SEARCH" => {
                let nums = self.values()?.into_iter().filter_map(|v| v.as_u32()).collect();
                Ok(Untagged::Search(nums))
            }
            _ => Ok(Untagged::Other { keyword: word, number: None, rest: self.values()? }),
        }
    }

    /// Values separated by spaces up to the end of the line.
    fn values(&mut self) -> PResult<Vec<Value>> {
        let mut out = Vec::new();
        while self.eat(b' ') {
            if self.at_end() {
                break;
            }
            out.push(self.value()?);
        }
        if !self.at_end() {
            return self.fail("unexpected bytes in the response");
        }
        Ok(out)
    }

    /// msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"
    fn msg_att(&mut self) -> PResult<Vec<(String, Value)>> {
        if !self.eat(b'(') {
            return self.fail("expected ( of the FETCH items");
        }
        let mut items = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok(items);
            }
            if !items.is_empty() {
                self.sp()?;
            }
            let name = self.atom_text();
            if name.is_empty() {
                return self.fail("expected a FETCH item name");
            }
            self.sp()?;
            let value = self.value()?;
            items.push((name.to_ascii_uppercase(), value));
        }
    }

    /// number = 1*DIGIT
    fn number(&mut self) -> PResult<u64> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.b[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or_else(|| self.fail("expected a number"), Ok)
    }

    /// An atom, leniently: any bytes but specials, where a `[` takes everything up to its `]`
    /// (`BODY[HEADER.FIELDS (SUBJECT)]`) and a `<` up to its `>` (`BODY[]<0>`); flags keep
    /// their backslash (`flag = "\" atom`, and `\*` in PERMANENTFLAGS).
    fn atom_text(&mut self) -> String {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'[' => match self.b[self.pos..].iter().position(|&c| c == b']') {
                    Some(close) => self.pos += close + 1,
                    None => break,
                },
                b'<' if self.pos > start => match self.b[self.pos..].iter().position(|&c| c == b'>') {
                    Some(close) => self.pos += close + 1,
                    None => break,
                },
                b' ' | b'(' | b')' | b'"' | b'{' | b']' | b'\r' | b'\n' => break,
                _ => self.pos += 1,
            }
        }
        String::from_utf8_lossy(&self.b[start..self.pos]).into_owned()
    }

    /// astring = 1*ASTRING-CHAR / string
    fn astring(&mut self) -> PResult<Vec<u8>> {
        match self.value()? {
            Value::Str(s) => Ok(s),
            Value::Atom(a) => Ok(a.into_bytes()),
            Value::Number(n) => Ok(n.to_string().into_bytes()),
            Value::Nil => Ok(b"NIL".to_vec()),
            Value::List(_) => self.fail("expected a string"),
        }
    }

    fn value(&mut self) -> PResult<Value> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(b')') {
                        return Ok(Value::List(items));
                    }
                    if !items.is_empty() && !self.eat(b' ') {
                        return self.fail("expected a space or ) in a list");
                    }
                    // Tolerate a space before the closing paren.
                    if self.eat(b')') {
                        return Ok(Value::List(items));
                    }
                    items.push(self.value()?);
                }
            }
            // quoted = DQUOTE *QUOTED-CHAR DQUOTE ; QUOTED-CHAR = <any TEXT-CHAR except
            // quoted-specials> / "\" quoted-specials
            Some(b'"') => {
                self.pos += 1;
                let mut s = Vec::new();
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.pos += 1;
                            return Ok(Value::Str(s));
                        }
                        Some(b'\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) if c != b'\r' && c != b'\n' => {
                                    s.push(c);
                                    self.pos += 1;
                                }
                                _ => return self.fail("bad escape in a quoted string"),
                            }
                        }
                        Some(b'\r' | b'\n') | None => return self.fail("unterminated quoted string"),
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            // literal = "{" number64 ["+"] "}" CRLF *CHAR8 ; literal8 = "~{" number64 "}" CRLF *OCTET
            Some(b'{' | b'~') => {
                self.eat(b'~');
                if !self.eat(b'{') {
                    return self.fail("expected { of a literal");
                }
                let n = self.number()?;
                self.eat(b'+');
                if !self.eat(b'}') {
                    return self.fail("expected } of a literal");
                }
                self.eat(b'\r');
                if !self.eat(b'\n') {
                    return self.fail("expected CRLF after a literal's length");
                }
                let n = usize::try_from(n).or_else(|_| self.fail("literal too large"))?;
                let Some(end) = self.pos.checked_add(n).filter(|&e| e <= self.b.len()) else {
                    return self.fail("literal shorter than announced");
                };
                let s = self.b[self.pos..end].to_vec();
                self.pos = end;
                Ok(Value::Str(s))
            }
            Some(b) if b.is_ascii_digit() => {
                let atom = self.atom_text();
                match atom.parse() {
                    Ok(n) if atom.bytes().all(|c| c.is_ascii_digit()) => Ok(Value::Number(n)),
                    _ => Ok(Value::Atom(atom)),
                }
            }
            _ => {
                let atom = self.atom_text();
                if atom.is_empty() {
                    return self.fail("expected a value");
                }
                if atom.eq_ignore_ascii_case("NIL") { Ok(Value::Nil) } else { Ok(Value::Atom(atom)) }
            }
        }
    }
}

/// Numbers of a `sequence-set` without `*` (`1:3,7`), as an ESEARCH `ALL` or a PARTIAL result
/// returns them (RFC 4731 §3.1, RFC 9394); `None` when it is not one or is absurdly large.
pub fn sequence_numbers(set: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        let (lo, hi) = (a.min(b), a.max(b));
        if out.len() + (hi - lo) as usize > 10_000_000 {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// `date-time` (RFC 9051 §9): `"17-Jul-1996 02:44:25 -0700"` without its quotes, as (Unix
/// seconds, zone offset in minutes). A one-digit day with or without the leading space.
pub fn internal_date(s: &str) -> Option<(i64, i16)> {
    use crate::proto::command::{Date, DateTime};
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut d = date.split('-');
    let day: u8 = d.next()?.parse().ok()?;
    let month = d.next()?;
    let year: u16 = d.next()?.parse().ok()?;
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u8 + 1;
    let mut t = time.split(':');
    let (h, m, sec): (u8, u8, u8) =
        (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1i16, &zone[1..]),
        b'-' => (-1i16, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let z: i16 = digits.parse().ok()?;
    if z % 100 > 59 {
        return None;
    }
    let zone_minutes = sign * (z / 100 * 60 + z % 100);
    let dt = DateTime::new(Date::new(year, month, day)?, h, m, sec, zone_minutes)?;
    Some((dt.unix_timestamp(), zone_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> Response {
        assert_eq!(frame(s), Ok(Framed::Complete(s.len())), "{}", String::from_utf8_lossy(s));
        parse(s).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(s)))
    }

    #[test]
    fn framing_waits_for_lines_and_literals() {
        assert_eq!(frame(b"* OK hi"), Ok(Framed::Incomplete { at_least: 8 }));
        assert_eq!(frame(b"* OK hi\r\n* 1 EXISTS\r\n"), Ok(Framed::Complete(9)));
        let fetch = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 7)\r\nA1 OK\r\n";
        assert_eq!(frame(&fetch[..20]), Ok(Framed::Incomplete { at_least: 21 }));
        assert_eq!(frame(&fetch[..25]), Ok(Framed::Incomplete { at_least: 29 }));
        assert_eq!(frame(&fetch[..30]), Ok(Framed::Incomplete { at_least: 31 }));
        assert_eq!(frame(fetch), Ok(Framed::Complete(37)));
        // Two literals in one response, one non-synchronizing.
        let two = b"* 2 FETCH (BODY[1] {1+}\r\nx BODY[2] {2}\r\nyy)\r\n";
        assert_eq!(frame(two), Ok(Framed::Complete(two.len())));
        assert!(frame(b"* 1 FETCH (BODY[] {999999999999}\r\n").is_err());
    }

    #[test]
    fn every_prefix_asks_for_more_and_never_too_much() {
        let whole = b"* 3 FETCH (UID 9 BODY[] {12}\r\nSubject: x\r\n BODY[TEXT] {0}\r\n FLAGS ())\r\n";
        for cut in 0..whole.len() {
            match frame(&whole[..cut]) {
                Ok(Framed::Incomplete { at_least }) => {
                    assert!(at_least > cut && at_least <= whole.len(), "cut {cut}: {at_least}");
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(frame(whole), Ok(Framed::Complete(whole.len())));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_frame_and_parse_without_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(Framed::Complete(n)) = frame(&data) {
                proptest::prop_assert!(n <= data.len());
                let _ = parse(&data[..n]);
            }
            let _ = parse(&data);
        }

        #[test]
        fn fetch_like_input_parses_without_panic(s in "\\* [0-9]{1,3} FETCH \\((UID [0-9]{1,5}|FLAGS \\([\\\\A-Za-z ]{0,12}\\)|BODY\\[[A-Z. ()]{0,10}\\] (NIL|\"[a-z\\\\\"]{0,5}\"|\\{[0-3]\\}\r\n[a-z]{0,3})| ){0,5}\\)?\r\n") {
            let _ = parse(s.as_bytes());
        }
    }

    #[test]
    fn tagged_and_continuation() {
        assert_eq!(
            one(b"a1 OK [APPENDUID 38505 3955] APPEND completed\r\n"),
            Response::Tagged {
                tag: "a1".into(),
                status: Cond::Ok,
                code: Some(Code {
                    name: "APPENDUID".into(),
                    args: vec![Value::Number(38505), Value::Number(3955)]
                }),
                text: "APPEND completed".into()
            }
        );
        assert_eq!(
            one(b"x NO [TRYCREATE] no such mailbox\r\n"),
            Response::Tagged {
                tag: "x".into(),
                status: Cond::No,
                code: Some(Code { name: "TRYCREATE".into(), args: vec![] }),
                text: "no such mailbox".into()
            }
        );
        assert_eq!(one(b"+ idling\r\n"), Response::Continue("idling".into()));
        assert_eq!(one(b"+\r\n"), Response::Continue(String::new()));
        assert!(parse(b"a1 MAYBE\r\n").is_err());
    }

    #[test]
    fn untagged_conditions_and_codes() {
        let r = one(b"* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] Limited\r\n");
        let Response::Untagged(Untagged::Cond { status: Cond::Ok, code: Some(code), text }) = r else {
            panic!("{r:?}")
        };
        assert_eq!(code.name, "PERMANENTFLAGS");
        assert_eq!(
            code.args,
            vec![Value::List(vec![
                Value::Atom("\\Seen".into()),
                Value::Atom("\\Deleted".into()),
                Value::Atom("\\*".into())
            ])]
        );
        assert_eq!(text, "Limited");
        let r = one(b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
        assert!(matches!(r, Response::Untagged(Untagged::Cond { code: Some(Code { ref args, .. }), .. })
            if args == &[Value::Number(3_857_529_045)]));
        let r = one(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        let Response::Untagged(Untagged::Cond { code: Some(code), .. }) = r else { panic!() };
        assert_eq!(code.args.len(), 3);
        assert!(matches!(
            one(b"* BYE bye\r\n"),
            Response::Untagged(Untagged::Cond { status: Cond::Bye, .. })
        ));
    }

    #[test]
    fn mailbox_data() {
        assert_eq!(one(b"* 23 EXISTS\r\n"), Response::Untagged(Untagged::Exists(23)));
        assert_eq!(one(b"* 3 EXPUNGE\r\n"), Response::Untagged(Untagged::Expunge(3)));
        assert_eq!(
            one(b"* CAPABILITY IMAP4rev1 IDLE COMPRESS=DEFLATE\r\n"),
            Response::Untagged(Untagged::Capability(vec![
                "IMAP4rev1".into(),
                "IDLE".into(),
                "COMPRESS=DEFLATE".into()
            ]))
        );
        assert_eq!(
            one(b"* LIST (\\HasNoChildren \\Sent) \".\" \"Sent Items\"\r\n"),
            Response::Untagged(Untagged::List {
                attrs: vec!["\\HasNoChildren".into(), "\\Sent".into()],
                delimiter: Some('.'),
                name: b"Sent Items".to_vec()
            })
        );
        assert_eq!(
            one(b"* LIST (\\Noselect) NIL {5}\r\nA\"b c\r\n"),
            Response::Untagged(Untagged::List {
                attrs: vec!["\\Noselect".into()],
                delimiter: None,
                name: b"A\"b c".to_vec()
            })
        );
        assert_eq!(
            one(b"* LIST () \"/\" &AMQ-rger (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"),
            Response::Untagged(Untagged::List {
                attrs: vec![],
                delimiter: Some('/'),
                name: b"&AMQ-rger".to_vec()
            })
        );
        assert_eq!(
            one(b"* STATUS \"a b\" (MESSAGES 231 UIDNEXT 44292)\r\n"),
            Response::Untagged(Untagged::Status {
                mailbox: b"a b".to_vec(),
                items: vec![("MESSAGES".into(), 231), ("UIDNEXT".into(), 44292)]
            })
        );
        assert_eq!(one(b"* SEARCH 2 84 882\r\n"), Response::Untagged(Untagged::Search(vec![2, 84, 882])));
        assert_eq!(one(b"* SEARCH\r\n"), Response::Untagged(Untagged::Search(vec![])));
        let r = one(b"* ESEARCH (TAG \"a\") UID PARTIAL (-1:-50 3:7)\r\n");
        let Response::Untagged(Untagged::Other { keyword, number: None, rest }) = r else { panic!() };
        assert_eq!(keyword, "ESEARCH");
        assert_eq!(rest.len(), 4);
        assert_eq!(rest[3], Value::List(vec![Value::Atom("-1:-50".into()), Value::Atom("3:7".into())]));
        assert_eq!(
            one(b"* 5 RECENT\r\n"),
            Response::Untagged(Untagged::Other { keyword: "RECENT".into(), number: Some(5), rest: vec![] })
        );
    }

    #[test]
    fn fetch_with_nested_lists_literals_and_sections() {
        let raw = b"* 12 FETCH (UID 7 FLAGS (\\Seen $Junk) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" \
RFC822.SIZE 5 BODY[HEADER.FIELDS (SUBJECT)] {4}\r\nab\r\n BODY[]<0> NIL \
ENVELOPE (\"date\" \"subj\" ((\"A\" NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL NIL \"<id@x>\"))\r\n";
        let r = one(raw);
        let Response::Untagged(u @ Untagged::Fetch { seq: 12, .. }) = &r else { panic!("{r:?}") };
        assert_eq!(u.fetch_item("UID"), Some(&Value::Number(7)));
        assert_eq!(
            u.fetch_item("FLAGS"),
            Some(&Value::List(vec![Value::Atom("\\Seen".into()), Value::Atom("$Junk".into())]))
        );
        assert_eq!(u.fetch_item("INTERNALDATE"), Some(&Value::Str(b"17-Jul-1996 02:44:25 -0700".to_vec())));
        assert_eq!(u.fetch_item("BODY[HEADER.FIELDS (SUBJECT)]"), Some(&Value::Str(b"ab\r\n".to_vec())));
        assert_eq!(u.fetch_item("BODY[]<0>"), Some(&Value::Nil));
        let env = u.fetch_item("ENVELOPE").and_then(Value::as_list).expect("envelope");
        assert_eq!(env.len(), 10);
        assert_eq!(env[9], Value::Str(b"<id@x>".to_vec()));
        // Literal8 (BINARY) and an escaped quote.
        let r = one(b"* 1 FETCH (BINARY[] ~{3}\r\n\0\x01\x02 X \"a\\\"b\")\r\n");
        let Response::Untagged(u) = r else { panic!() };
        assert_eq!(u.fetch_item("BINARY[]"), Some(&Value::Str(vec![0, 1, 2])));
        assert_eq!(u.fetch_item("X"), Some(&Value::Str(b"a\"b".to_vec())));
        // Bad input is an error, never a panic.
        for bad in [
            &b"* 1 FETCH (UID\r\n"[..],
            b"* 1 FETCH (UID 1\r\n",
            b"* 1 FETCH (X {9}\r\nab)\r\n",
            b"* 1 FETCH (X \"ab\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn sets_and_dates() {
        assert_eq!(sequence_numbers("1:3,7,9:8"), Some(vec![1, 2, 3, 7, 8, 9]));
        assert_eq!(sequence_numbers("1:*"), None);
        assert_eq!(internal_date("17-Jul-1996 02:44:25 -0700"), Some((837_596_665, -420)));
        assert_eq!(internal_date(" 1-Jan-1970 01:00:00 +0100"), Some((0, 60)));
        assert_eq!(internal_date("29-Feb-2023 00:00:00 +0000"), None);
        assert_eq!(internal_date("17-Jul-1996 02:44:25 0700"), None);
    }
}
