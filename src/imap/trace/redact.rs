//! The redactor of the protocol trace: turns one direction of the IMAP byte stream into
//! printable trace lines with secrets and message text left out. Protocol code only: bytes in,
//! `&str` lines out through a callback, no IO and no clock (STYLE.md §1).
//!
//! One trace line is one logical IMAP line: a command or a response with its literals, which
//! are counted and never scanned for line ends (RFC 9051 §4.3), so a CRLF inside a message never
//! starts a line of its own. What is shown:
//! * printable ASCII as it is; any other byte as `\xNN`; a CR or LF inside a shown literal as
//!   `\r` / `\n`;
//! * at most [`LINE_CAP`] bytes of a line, then `...[N more bytes]`;
//! * never, in place of the bytes (their size only):
//!   - client: the password of `LOGIN` (`a LOGIN user "***"`), the token of the MAPI `XJOIN`
//!     and what follows it (`a XJOIN user ***`, docs/mapi-extension.md §16), the initial response of
//!     `AUTHENTICATE` and the response lines a SASL exchange sends (`***`, the cancel `*` stays),
//!     every literal of `APPEND` (`{1234} [literal 1234 bytes]`), a literal that comes before
//!     the command name is known;
//!   - server: the value of a message-text FETCH item, that is one following `BODY[...]`,
//!     `BODY[...]<n>`, `BINARY[...]`, `RFC822`, `RFC822.HEADER` or `RFC822.TEXT`, whether a
//!     literal or a quoted string (`fetch.rs` quotes short sections); the atom after `TOKEN`
//!     (the MAPI `XSESSION` response: `TOKEN ***`). ENVELOPE, BODYSTRUCTURE,
//!     mailbox names and the like are metadata and stay (capped like any line).
//!
//! Memory is bounded whatever the input: the line being built holds at most about
//! [`LINE_CAP`] bytes, and literal data that is not shown is only counted, so a 100 MB FETCH
//! costs no more than a NOOP.

use crate::proto::literal::{Announce, Announced};
use std::fmt::Write as _;

/// Bytes of a trace line shown; the rest is counted. An escape or a placeholder that starts
/// under the cap is written whole, so a line may pass it by a few bytes.
pub const LINE_CAP: usize = 500;

/// Which peer wrote the bytes: the rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The client command of the line, as far as redaction cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    /// Its name has not been seen yet.
    Unknown,
    Login,
    /// MAPI's `XJOIN userid token [REPLACE n]`.
    XJoin,
    Authenticate,
    Append,
    Other,
}

/// Everything from here to the end of the line is hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hidden {
    /// The placeholder has been written already (`"***"` for a password).
    Written,
    /// A SASL response line: written at the end, `*` (a cancel) shown as it is.
    Sasl { bytes: u64, star: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Outside strings and literals.
    Text,
    /// Inside a quoted string; a secret one is counted, not shown.
    Quoted { escape: bool, secret: bool, len: u64 },
    /// Inside literal data.
    Literal { remaining: u64, secret: bool },
}

/// The token being read (or the last one read): enough of it to recognise a FETCH item name.
#[derive(Clone, Copy, Debug, Default)]
struct Token {
    head: [u8; 16],
    len: usize,
    last: u8,
    /// It started right after a token whose value is secret (a FETCH body item).
    secret_value: bool,
    /// It is an atom whose bytes are hidden (the value of `TOKEN`), `***` shown instead.
    hidden_atom: bool,
}

impl Token {
    fn head(&self) -> &[u8] {
        &self.head[..self.len.min(self.head.len())]
    }

    /// `BODY[...]`, `BODY[...]<n>`, `BINARY[...]`, `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`:
    /// the FETCH items whose value is message text (RFC 9051 §7.5.2). Any token ending in `]` or
    /// `>` counts (a response code like `[UIDNEXT 5]` is followed by text, never by a string).
    fn is_message_text(&self) -> bool {
        if self.last == b']' || self.last == b'>' {
            return true;
        }
        let h = self.head();
        self.len == h.len()
            && ["RFC822", "RFC822.HEADER", "RFC822.TEXT"].iter().any(|n| h.eq_ignore_ascii_case(n.as_bytes()))
    }
}

/// One direction of one connection. Feed it the bytes in order, in pieces of any size.
#[derive(Debug)]
pub struct Redactor {
    side: Side,
    /// The line shown so far (about [`LINE_CAP`] bytes at most).
    line: String,
    /// Bytes of the line not shown because of the cap.
    more: u64,
    /// A CR not shown yet: it may be the end of the line.
    cr: bool,
    mode: Mode,
    announce: Announce,
    /// `[` nesting: spaces and parentheses inside `BODY[HEADER.FIELDS (A B)]` do not end a token.
    depth: u32,
    in_token: bool,
    token: Token,
    /// Tokens begun on this line at nesting 0: 0 is the tag, 1 the command name.
    tokens: u32,
    /// The next token is the value of a FETCH body item.
    secret_next: bool,
    /// The next token is a MAPI token (after `TOKEN`): hidden whole.
    secret_atom_next: bool,
    command: Command,
    hidden: Option<Hidden>,
    /// The line is raw (IDLE's `DONE`, a SASL response): a literal announcement at its end is
    /// not honoured, as the framer does not honour it (`proto::framing`).
    raw: bool,
}

impl Redactor {
    pub fn new(side: Side) -> Self {
        Redactor {
            side,
            line: String::new(),
            more: 0,
            cr: false,
            mode: Mode::Text,
            announce: Announce::default(),
            depth: 0,
            in_token: false,
            token: Token::default(),
            tokens: 0,
            secret_next: false,
            secret_atom_next: false,
            command: Command::Unknown,
            hidden: None,
            raw: false,
        }
    }

    /// Forgets a partial line: the stream is known to be at a line boundary (tracing was off).
    pub fn reset(&mut self) {
        *self = Redactor::new(self.side);
    }

    /// Between lines: nothing of a line is pending.
    pub fn at_boundary(&self) -> bool {
        self.line.is_empty()
            && self.mode == Mode::Text
            && !self.cr
            && self.hidden.is_none()
            && self.tokens == 0
    }

    /// Client side: the next line is the response to an AUTHENTICATE continuation request
    /// (RFC 9051 §6.2.2), SASL data that is hidden entirely.
    pub fn sasl_response(&mut self) {
        self.hidden = Some(Hidden::Sasl { bytes: 0, star: false });
        self.raw = true;
    }

    /// Client side: the next line is raw (IDLE's `DONE`), shown but not a command.
    pub fn raw_line(&mut self) {
        self.raw = true;
    }

    /// Takes the next bytes of the stream; `emit` gets every line completed by them.
    pub fn feed(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(&str)) {
        while !bytes.is_empty() {
            if let Mode::Literal { remaining, secret } = self.mode {
                let take = usize::try_from(remaining).map_or(bytes.len(), |r| r.min(bytes.len()));
                let (data, rest) = bytes.split_at(take);
                if !secret && self.hidden.is_none() {
                    self.show_escaped(data);
                }
                self.count_hidden(data);
                bytes = rest;
                let remaining = remaining - take as u64;
                self.mode = if remaining == 0 { Mode::Text } else { Mode::Literal { remaining, secret } };
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            self.byte(b, emit);
        }
    }

    fn byte(&mut self, b: u8, emit: &mut impl FnMut(&str)) {
        if b == b'\n' {
            self.cr = false;
            self.line_end(emit);
            return;
        }
        if self.cr {
            // A CR that did not end the line.
            self.cr = false;
            self.show_byte(b'\r');
        }
        self.announce.feed(b);
        if b == b'\r' {
            self.count_hidden(b"\r");
            self.cr = true;
            return;
        }
        self.count_hidden(&[b]);
        match self.mode {
            Mode::Quoted { escape, secret, len } => {
                let end = b == b'"' && !escape;
                if end {
                    self.mode = Mode::Text;
                    if secret {
                        self.show_str(&format!("[quoted {len} bytes]"));
                    } else {
                        self.show_byte(b);
                    }
                } else {
                    self.mode = Mode::Quoted { escape: !escape && b == b'\\', secret, len: len + 1 };
                    if !secret {
                        self.show_byte(b);
                    }
                }
            }
            Mode::Text => {
                self.token_byte(b);
                if let Mode::Quoted { secret: true, .. } = self.mode {
                    // The opening quote of a hidden string: the placeholder stands for it all.
                } else if self.in_token && self.token.hidden_atom {
                    // A MAPI token: `***` was written when it started.
                } else {
                    self.show_byte(b);
                }
            }
            Mode::Literal { .. } => {}
        }
    }

    /// Tracks tokens outside strings and literals, and decides what becomes hidden.
    fn token_byte(&mut self, b: u8) {
        if self.depth == 0 && matches!(b, b' ' | b'(' | b')') {
            if self.in_token {
                self.end_token();
                self.secret_next = b == b' ' && self.side == Side::Server && self.token.is_message_text();
                self.secret_atom_next = b == b' '
                    && self.side == Side::Server
                    && self.token.len == 5
                    && self.token.head().eq_ignore_ascii_case(b"TOKEN");
            } else {
                self.secret_next = false;
                self.secret_atom_next = false;
            }
            return;
        }
        if !self.in_token {
            self.start_token();
        }
        match b {
            b'[' => self.depth += 1,
            b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        let t = &mut self.token;
        if t.len < t.head.len() {
            t.head[t.len] = b;
        }
        t.len += 1;
        t.last = b;
        if b == b'"' {
            let secret = t.secret_value && t.len == 1;
            self.mode = Mode::Quoted { escape: false, secret, len: 0 };
        }
    }

    fn start_token(&mut self) {
        self.in_token = true;
        self.token =
            Token { secret_value: self.secret_next, hidden_atom: self.secret_atom_next, ..Token::default() };
        self.secret_next = false;
        self.secret_atom_next = false;
        if self.token.hidden_atom {
            self.show_str("***");
        }
        let index = self.tokens;
        self.tokens += 1;
        if self.side == Side::Client && self.hidden.is_none() {
            // `tag LOGIN userid password`, `tag AUTHENTICATE mechanism initial-response`.
            match (self.command, index) {
                (Command::Login, 3) => {
                    self.show_str("\"***\"");
                    self.hidden = Some(Hidden::Written);
                }
                (Command::XJoin, 3) => {
                    self.show_str("***");
                    self.hidden = Some(Hidden::Written);
                }
                (Command::Authenticate, 3) => {
                    self.show_str("***");
                    self.hidden = Some(Hidden::Written);
                }
                _ => {}
            }
        }
    }

    fn end_token(&mut self) {
        self.in_token = false;
        if self.side == Side::Client && self.tokens == 2 && self.command == Command::Unknown {
            let name = self.token.head();
            self.command = if self.token.len > name.len() {
                Command::Other
            } else if name.eq_ignore_ascii_case(b"LOGIN") {
                Command::Login
            } else if name.eq_ignore_ascii_case(b"XJOIN") {
                Command::XJoin
            } else if name.eq_ignore_ascii_case(b"AUTHENTICATE") {
                Command::Authenticate
            } else if name.eq_ignore_ascii_case(b"APPEND") {
                Command::Append
            } else {
                Command::Other
            };
        }
    }

    /// An LF: the line ends, or goes on after the literal it announced.
    fn line_end(&mut self, emit: &mut impl FnMut(&str)) {
        let announced = match self.mode {
            Mode::Text if !self.raw => match self.announce.at_line_end() {
                Announced::Literal { size, .. } => Some(size),
                Announced::None | Announced::Bad => None,
            },
            _ => None,
        };
        self.announce = Announce::default();
        if let Some(size) = announced.filter(|&n| n > 0) {
            let secret = match self.side {
                Side::Server => self.token.secret_value,
                Side::Client => matches!(self.command, Command::Append | Command::Unknown),
            };
            if self.hidden.is_none() {
                if secret {
                    self.show_str(&format!(" [literal {size} bytes]"));
                } else {
                    self.show_str("\\r\\n");
                }
            }
            self.count_hidden(b"\n");
            self.mode = Mode::Literal { remaining: size, secret };
            return;
        }
        if announced == Some(0) {
            // `{0}` CRLF: an empty literal, the line goes on.
            if self.hidden.is_none() {
                self.show_str("\\r\\n");
            }
            return;
        }
        if let Some(Hidden::Sasl { bytes, star }) = self.hidden {
            let text = if bytes == 1 && star { "*" } else { "***" };
            self.hidden = None;
            self.show_str(text);
        }
        if self.more > 0 {
            let _ = write!(self.line, "...[{} more bytes]", self.more);
        }
        emit(&self.line);
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        if line.capacity() > 4 * LINE_CAP {
            line = String::new();
        }
        *self = Redactor { line, ..Redactor::new(self.side) };
    }

    /// Counts bytes that are hidden by a SASL response (to show a lone `*`).
    fn count_hidden(&mut self, bytes: &[u8]) {
        if let Some(Hidden::Sasl { bytes: n, star }) = &mut self.hidden {
            for &b in bytes.iter().filter(|&&b| b != b'\r' && b != b'\n') {
                *n += 1;
                *star = b == b'*';
            }
        }
    }

    fn room(&mut self, raw: usize) -> bool {
        if self.line.len() < LINE_CAP {
            true
        } else {
            self.more += raw as u64;
            false
        }
    }

    fn show_byte(&mut self, b: u8) {
        if self.hidden.is_some() || !self.room(1) {
            return;
        }
        push_escaped(&mut self.line, b);
    }

    fn show_escaped(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if !self.room(bytes.len() - i) {
                return;
            }
            push_escaped(&mut self.line, b);
        }
    }

    fn show_str(&mut self, s: &str) {
        if self.line.len() < LINE_CAP {
            self.line.push_str(s);
        }
    }
}

fn push_escaped(line: &mut String, b: u8) {
    match b {
        b' '..=b'~' => line.push(char::from(b)),
        b'\r' => line.push_str("\\r"),
        b'\n' => line.push_str("\\n"),
        _ => {
            let _ = write!(line, "\\x{b:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `piece` bytes and returns the lines.
    fn run(side: Side, input: &[u8], piece: usize) -> Vec<String> {
        let mut r = Redactor::new(side);
        let mut lines = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            r.feed(chunk, &mut |l: &str| lines.push(l.to_string()));
        }
        assert!(r.at_boundary(), "input ends inside a line: {input:?}");
        lines
    }

    /// Every way of cutting the input into pieces gives the same lines.
    fn check(side: Side, input: &[u8], expected: &[&str]) {
        for piece in [1, 2, 3, 5, 7, 16, 64, input.len()] {
            assert_eq!(run(side, input, piece), expected, "pieces of {piece}");
        }
        // And cut at every single position in two.
        for cut in 0..input.len() {
            let mut r = Redactor::new(side);
            let mut lines = Vec::new();
            r.feed(&input[..cut], &mut |l: &str| lines.push(l.to_string()));
            r.feed(&input[cut..], &mut |l: &str| lines.push(l.to_string()));
            assert_eq!(lines, expected, "cut at {cut}");
        }
    }

    #[test]
    fn plain_lines_pass() {
        check(
            Side::Client,
            b"a1 CAPABILITY\r\na2 SELECT INBOX\r\nDONE\n",
            &["a1 CAPABILITY", "a2 SELECT INBOX", "DONE"],
        );
        check(
            Side::Server,
            b"* OK [UIDNEXT 5] ready\r\na1 OK done\r\n",
            &["* OK [UIDNEXT 5] ready", "a1 OK done"],
        );
    }

    #[test]
    fn login_password_is_hidden_in_every_form() {
        check(Side::Client, b"a LOGIN bob hunter2\r\n", &["a LOGIN bob \"***\""]);
        check(Side::Client, b"a login \"bob\" \"hun ter\\\"2\"\r\n", &["a login \"bob\" \"***\""]);
        check(Side::Client, b"a LOGIN {3}\r\nbob {7}\r\nhunter2\r\n", &["a LOGIN {3}\\r\\nbob \"***\""]);
        check(Side::Client, b"a LOGIN bob {7+}\r\nhu\r\nr2.\r\n", &["a LOGIN bob \"***\""]);
        // A user name with spaces does not shift the password into view.
        check(Side::Client, b"a LOGIN \"bob smith\" hunter2\r\n", &["a LOGIN \"bob smith\" \"***\""]);
    }

    #[test]
    fn a_raw_line_does_not_wait_for_a_literal() {
        let mut r = Redactor::new(Side::Client);
        let mut lines = Vec::new();
        r.raw_line();
        r.feed(b"DONE {5}\r\na NOOP\r\n", &mut |l: &str| lines.push(l.to_string()));
        assert_eq!(lines, ["DONE {5}", "a NOOP"]);
    }

    #[test]
    fn secrets_never_show_however_the_bytes_come() {
        // Pieces of every size up to the whole, and the secret in every form the grammar allows.
        let inputs: [&[u8]; 4] = [
            b"a LOGIN bob hunter2\r\n",
            b"a LOGIN bob \"hunter2\"\r\n",
            b"a LOGIN bob {7}\r\nhunter2\r\n",
            b"a APPEND INBOX {12+}\r\nhunter2 body\r\n",
        ];
        for input in inputs {
            for piece in 1..=input.len() {
                let lines = run(Side::Client, input, piece);
                assert_eq!(lines.len(), 1);
                assert!(!lines[0].contains("hunter"), "{lines:?}");
            }
        }
        let input =
            b"* 1 FETCH (RFC822.TEXT {7}\r\nhunter2 BODY[1] \"hunter2\" BODY[2]<0> {7}\r\nhunter2)\r\n";
        for piece in 1..=input.len() {
            let lines = run(Side::Server, input, piece);
            assert!(lines.len() == 1 && !lines[0].contains("hunter"), "{lines:?}");
        }
    }

    /// docs/mapi-extension.md §16: `XJOIN user ***` and `TOKEN ***`, however the bytes come.
    #[test]
    fn mapi_tokens_are_hidden() {
        let tok = "S7QqmmQ1sj2CExmqizSZa0rL7r-ROUcM5FJxegxCI_77FGCO1Tc";
        check(
            Side::Client,
            format!("b1 XJOIN alice@example.com {tok}\r\n").as_bytes(),
            &["b1 XJOIN alice@example.com ***"],
        );
        check(
            Side::Client,
            format!("b1 xjoin \"alice@example.com\" {tok} REPLACE 2\r\n").as_bytes(),
            &["b1 xjoin \"alice@example.com\" ***"],
        );
        let line = format!("* XSESSION S7QqmmQ1 (TOKEN {tok} CONNECTION 1 POOL 1 8)\r\n");
        for piece in [1, 3, 7, 1000] {
            let got = run(Side::Server, line.as_bytes(), piece);
            assert_eq!(got, ["* XSESSION S7QqmmQ1 (TOKEN *** CONNECTION 1 POOL 1 8)"], "pieces of {piece}");
        }
        // Only the atom after TOKEN: the rest of the line stays.
        check(
            Side::Server,
            b"* XSESSION S7QqmmQ1 (CONNECTION 2 POOL 2 8)\r\n",
            &["* XSESSION S7QqmmQ1 (CONNECTION 2 POOL 2 8)"],
        );
    }

    #[test]
    fn authenticate_data_is_hidden() {
        check(Side::Client, b"a AUTHENTICATE PLAIN AGJvYgBodW50ZXIy\r\n", &["a AUTHENTICATE PLAIN ***"]);
        let mut r = Redactor::new(Side::Client);
        let mut lines = Vec::new();
        r.feed(b"a AUTHENTICATE PLAIN\r\n", &mut |l: &str| lines.push(l.to_string()));
        r.sasl_response();
        for b in b"AGJvYgBodW50ZXIy\r\n" {
            r.feed(&[*b], &mut |l: &str| lines.push(l.to_string()));
        }
        r.sasl_response();
        r.feed(b"*\r\n", &mut |l: &str| lines.push(l.to_string()));
        // A response line that announces a literal cannot make the redactor wait for data.
        r.sasl_response();
        r.feed(b"c2VjcmV0 {5}\r\nb NOOP\r\n", &mut |l: &str| lines.push(l.to_string()));
        assert_eq!(lines, ["a AUTHENTICATE PLAIN", "***", "*", "***", "b NOOP"]);
        assert!(r.at_boundary());
    }

    #[test]
    fn append_literals_show_their_size_only() {
        let msg = b"Subject: x\r\n\r\nthe secret body\r\n";
        let mut input = format!("a APPEND INBOX (\\Seen) {{{}}}\r\n", msg.len()).into_bytes();
        input.extend_from_slice(msg);
        input.extend_from_slice(format!(" {{{}+}}\r\n", msg.len()).as_bytes());
        input.extend_from_slice(msg);
        input.extend_from_slice(b"\r\n");
        let n = msg.len();
        check(
            Side::Client,
            &input,
            &[&format!("a APPEND INBOX (\\Seen) {{{n}}} [literal {n} bytes] {{{n}+}} [literal {n} bytes]")],
        );
        // BINARY APPEND: literal8.
        check(
            Side::Client,
            b"a APPEND INBOX ~{4}\r\n\x00ab\x01\r\n",
            &["a APPEND INBOX ~{4} [literal 4 bytes]"],
        );
    }

    #[test]
    fn other_client_literals_are_shown() {
        check(Side::Client, b"a SELECT {5}\r\nInbox\r\n", &["a SELECT {5}\\r\\nInbox"]);
        // Before the command name is known, a literal is hidden.
        check(Side::Client, b"a {3}\r\nabc\r\n", &["a {3} [literal 3 bytes]"]);
    }

    #[test]
    fn fetch_bodies_are_hidden_envelopes_stay() {
        let body = b"From: a\r\nSubject: hi\r\n\r\nthe secret body\r\n";
        let mut input = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(
            b" ENVELOPE (\"Mon, 7 Feb 1994\" \"hi\" NIL NIL NIL NIL NIL NIL NIL \"<m@x>\"))\r\n",
        );
        input.extend_from_slice(b"a OK FETCH completed\r\n");
        let n = body.len();
        check(
            Side::Server,
            &input,
            &[
                &format!(
                    "* 1 FETCH (UID 7 BODY[] {{{n}}} [literal {n} bytes] ENVELOPE (\"Mon, 7 Feb 1994\" \"hi\" NIL NIL NIL NIL NIL NIL NIL \"<m@x>\"))"
                ),
                "a OK FETCH completed",
            ],
        );
    }

    #[test]
    fn every_message_text_item_is_hidden() {
        check(Side::Server, b"* 1 FETCH (BODY[1] \"secret\")\r\n", &["* 1 FETCH (BODY[1] [quoted 6 bytes])"]);
        check(
            Side::Server,
            b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {16}\r\nSubject: secret\n)\r\n",
            &["* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {16} [literal 16 bytes])"],
        );
        check(
            Side::Server,
            b"* 1 FETCH (BODY[TEXT]<4> \"cret\" RFC822.SIZE 9)\r\n",
            &["* 1 FETCH (BODY[TEXT]<4> [quoted 4 bytes] RFC822.SIZE 9)"],
        );
        check(
            Side::Server,
            b"* 1 FETCH (BINARY[1] ~{3}\r\n\x00s\x01)\r\n",
            &["* 1 FETCH (BINARY[1] ~{3} [literal 3 bytes])"],
        );
        for item in ["RFC822", "rfc822.text", "RFC822.HEADER"] {
            let input = format!("* 2 FETCH ({item} {{6}}\r\nsecret UID 3)\r\n");
            check(
                Side::Server,
                input.as_bytes(),
                &[&format!("* 2 FETCH ({item} {{6}} [literal 6 bytes] UID 3)")],
            );
        }
        check(Side::Server, b"* 1 FETCH (BODY[2] NIL)\r\n", &["* 1 FETCH (BODY[2] NIL)"]);
        // A subject that looks like an item name is only a string.
        check(
            Side::Server,
            b"* 1 FETCH (ENVELOPE (NIL \"[list] RFC822\" NIL) UID 1)\r\n",
            &["* 1 FETCH (ENVELOPE (NIL \"[list] RFC822\" NIL) UID 1)"],
        );
        // Metadata literals (an 8-bit subject) are shown, escaped.
        check(
            Side::Server,
            b"* 1 FETCH (ENVELOPE (NIL {5}\r\nd\xc3\xa9j\xc3 NIL))\r\n",
            &["* 1 FETCH (ENVELOPE (NIL {5}\\r\\nd\\xc3\\xa9j\\xc3 NIL))"],
        );
    }

    #[test]
    fn long_lines_are_capped() {
        let mut input = b"* 1 FETCH (ENVELOPE (\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2000));
        input.extend_from_slice(b"\"))\r\n");
        let lines = run(Side::Server, &input, 100);
        assert_eq!(lines.len(), 1);
        let shown = LINE_CAP;
        assert_eq!(lines[0].len(), shown + format!("...[{} more bytes]", input.len() - 2 - shown).len());
        assert!(lines[0].ends_with(&format!("...[{} more bytes]", input.len() - 2 - shown)));
    }

    #[test]
    fn a_huge_body_costs_nothing() {
        let size: u64 = 100 << 20;
        let mut r = Redactor::new(Side::Server);
        let mut lines = Vec::new();
        r.feed(format!("* 1 FETCH (BODY[] {{{size}}}\r\n").as_bytes(), &mut |l: &str| {
            lines.push(l.to_string())
        });
        let piece = vec![b'\n'; 256 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(piece.len() as u64) as usize;
            r.feed(&piece[..n], &mut |l: &str| lines.push(l.to_string()));
            left -= n as u64;
            assert!(r.line.capacity() < 4 * LINE_CAP);
        }
        r.feed(b")\r\n", &mut |l: &str| lines.push(l.to_string()));
        assert_eq!(lines, [format!("* 1 FETCH (BODY[] {{{size}}} [literal {size} bytes])")]);
    }

    #[test]
    fn control_bytes_are_escaped_and_a_bare_cr_is_shown() {
        check(Side::Client, b"a NOOP\x07x\ry\r\n", &["a NOOP\\x07x\\ry"]);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn feed_cut(side: Side, data: &[u8], cuts: &[usize]) -> Vec<String> {
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            points.sort_unstable();
            let mut r = Redactor::new(side);
            let mut lines = Vec::new();
            let mut prev = 0;
            for p in points.into_iter().chain([data.len()]) {
                r.feed(&data[prev..p], &mut |l: &str| lines.push(l.to_string()));
                prev = p;
            }
            lines
        }

        fn noise() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                Just(b"a LOGIN bob pw\r\n".to_vec()),
                Just(b"b APPEND x {4+}\r\n\r\n\r\n ~{2}\r\nzz\r\n".to_vec()),
                Just(b"* 1 FETCH (BODY[] {3}\r\nabc BODY[1] \"q\")\r\n".to_vec()),
                Just(b"{".to_vec()),
                Just(b"}".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"\\".to_vec()),
                Just(b"[".to_vec()),
                Just(b"]".to_vec()),
                Just(b" ".to_vec()),
                Just(b"\r".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"{99}\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(Just(b'x'), 0..1200),
            ];
            proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat())
        }

        /// A secret the grammar allows in each hidden place, marked so that a leak is visible.
        fn secret() -> impl Strategy<Value = String> {
            "[a-z0-9 ]{0,30}".prop_map(|s| format!("SECRET{s}"))
        }

        fn client_command() -> impl Strategy<Value = Vec<u8>> {
            (secret(), 0..6usize).prop_map(|(s, form)| {
                let atom = s.replace(' ', "_");
                let n = s.len();
                match form {
                    0 => format!("a LOGIN bob {atom}\r\n"),
                    1 => format!("a LOGIN \"bob x\" \"{s}\"\r\n"),
                    2 => format!("a LOGIN {{3}}\r\nbob {{{n}}}\r\n{s}\r\n"),
                    3 => format!("a AUTHENTICATE PLAIN {atom}\r\n"),
                    4 => format!("a APPEND INBOX (\\Seen) {{{n}+}}\r\n{s}\r\n"),
                    _ => format!("a APPEND INBOX ~{{{n}}}\r\n{s} {{{n}}}\r\n{s}\r\n"),
                }
                .into_bytes()
            })
        }

        fn server_response() -> impl Strategy<Value = Vec<u8>> {
            (secret(), 0..5usize).prop_map(|(s, form)| {
                let n = s.len();
                match form {
                    0 => format!("* 1 FETCH (UID 1 BODY[] {{{n}}}\r\n{s} FLAGS ())\r\n"),
                    1 => format!("* 1 FETCH (BODY[1.2]<0> \"{s}\" ENVELOPE (NIL \"subj\"))\r\n"),
                    2 => format!("* 1 FETCH (BODY[HEADER.FIELDS (A B)] {{{n}}}\r\n{s})\r\n"),
                    3 => format!("* 1 FETCH (RFC822.TEXT {{{n}}}\r\n{s} BINARY[2] ~{{{n}}}\r\n{s})\r\n"),
                    _ => "a OK FETCH completed\r\n".to_string(),
                }
                .into_bytes()
            })
        }

        proptest! {
            /// However the stream is cut, the same lines come out, none much over the cap.
            #[test]
            fn split_invariance_and_bounded_lines(
                data in noise(),
                cuts in proptest::collection::vec(any::<usize>(), 0..8),
                server in any::<bool>(),
            ) {
                let side = if server { Side::Server } else { Side::Client };
                let whole = feed_cut(side, &data, &[]);
                prop_assert_eq!(&feed_cut(side, &data, &cuts), &whole);
                for l in &whole {
                    prop_assert!(l.len() <= LINE_CAP + 80, "{} bytes", l.len());
                }
            }

            /// Secrets never show in well-formed commands and responses, however they are cut.
            #[test]
            fn secrets_never_show(
                client in proptest::collection::vec(client_command(), 1..6),
                server in proptest::collection::vec(server_response(), 1..6),
                cuts in proptest::collection::vec(any::<usize>(), 0..8),
            ) {
                let (client, server) = (client.concat(), server.concat());
                for (side, data) in [(Side::Client, &client), (Side::Server, &server)] {
                    for l in feed_cut(side, data, &cuts) {
                        prop_assert!(!l.contains("SECRET"), "{}", l);
                    }
                }
            }
        }
    }

    #[test]
    fn reset_forgets_a_partial_line() {
        let mut r = Redactor::new(Side::Server);
        let mut lines = Vec::new();
        r.feed(b"* 1 FETCH (BODY[] {100}\r\npartial", &mut |l: &str| lines.push(l.to_string()));
        assert!(!r.at_boundary());
        r.reset();
        r.feed(b"* OK x\r\n", &mut |l: &str| lines.push(l.to_string()));
        assert_eq!(lines, ["* OK x"]);
    }
}
