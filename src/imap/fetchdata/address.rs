//! RFC 5322 §3.4 address lists, parsed into the IMAP ENVELOPE address structure.
//!
//! The parser is lenient (it accepts the obsolete syntax of RFC 5322 §4.4 and recovers from
//! garbage), never decodes RFC 2047 encoded-words (the ENVELOPE carries them as sent), and
//! follows Dovecot where RFC 3501 leaves room:
//!
//! * a missing local part or domain is reported as `MISSING_MAILBOX` / `MISSING_DOMAIN`,
//!   because a NIL host would turn the address into a group marker (RFC 3501 §7.4.2);
//! * without a display name, the last comment of the address is its name
//!   (`a@b.c (Jane Doe)`);
//! * quoted strings lose their quotes, words of a display name are joined by one space;
//! * empty list elements (`a@b, , c@d`, RFC 5322 §4.4 obs-addr-list) are skipped.

use crate::proto::string::write_nstring;

/// One element of an ENVELOPE address list (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// An address: `(name adl mailbox host)`.
    Mailbox { name: Option<Vec<u8>>, adl: Option<Vec<u8>>, mailbox: Vec<u8>, host: Vec<u8> },
    /// Start of a group: `(NIL NIL group-name NIL)`.
    GroupStart(Vec<u8>),
    /// End of a group: `(NIL NIL NIL NIL)`.
    GroupEnd,
}

/// Stand-in for an empty local part, as Dovecot writes it.
pub(super) const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Stand-in for an absent domain, as Dovecot writes it.
pub(super) const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// Writes an ENVELOPE address list: `NIL` when empty, else `(` entries `)` with no
/// separator between entries (the RFC 3501 examples and common servers write them so).
pub(super) fn write_list(out: &mut Vec<u8>, list: &[Entry]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for entry in list {
        out.push(b'(');
        match entry {
            Entry::Mailbox { name, adl, mailbox, host } => {
                write_nstring(out, name.as_deref());
                out.push(b' ');
                write_nstring(out, adl.as_deref());
                out.push(b' ');
                write_nstring(out, Some(mailbox));
                out.push(b' ');
                write_nstring(out, Some(host));
            }
            Entry::GroupStart(name) => {
                out.extend_from_slice(b"NIL NIL ");
                write_nstring(out, Some(name));
                out.extend_from_slice(b" NIL");
            }
            Entry::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

/// The first real mailbox of a list (group markers skipped).
pub(super) fn first_mailbox(list: &[Entry]) -> Option<&Entry> {
    list.iter().find(|e| matches!(e, Entry::Mailbox { .. }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A run of atext, `.` and any byte without a syntactic role (8-bit, stray `]`...).
    Atom(Vec<u8>),
    /// A quoted-string's content, unescaped and unfolded.
    Quoted(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// A comment's content, unescaped; nested comments are flattened into it.
    Comment(Vec<u8>),
    /// One of `< > @ , : ;`.
    Special(u8),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    /// Whitespace or a comment separates it from the previous token.
    spaced: bool,
}

fn tokenize(s: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut spaced = false;
    while let Some(&b) = s.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                spaced = true;
                i += 1;
            }
            b'<' | b'>' | b'@' | b',' | b':' | b';' => {
                out.push(Token { tok: Tok::Special(b), spaced });
                spaced = false;
                i += 1;
            }
            b'"' => {
                let (content, next) = quoted(s, i + 1, b'"');
                out.push(Token { tok: Tok::Quoted(content), spaced });
                spaced = false;
                i = next;
            }
            b'(' => {
                let (content, next) = comment(s, i + 1);
                out.push(Token { tok: Tok::Comment(content), spaced });
                spaced = true;
                i = next;
            }
            b'[' => {
                let mut end = i + 1;
                while let Some(&c) = s.get(end) {
                    end += 1;
                    if c == b']' {
                        break;
                    }
                }
                let lit = s[i..end].iter().copied().filter(|&c| !matches!(c, b'\r' | b'\n')).collect();
                out.push(Token { tok: Tok::Literal(lit), spaced });
                spaced = false;
                i = end;
            }
            _ => {
                let start = i;
                while let Some(&c) = s.get(i) {
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'<' | b'>' | b'@' | b',' | b':' | b';')
                        || matches!(c, b'"' | b'(' | b'[')
                    {
                        break;
                    }
                    i += 1;
                }
                out.push(Token { tok: Tok::Atom(s[start..i].to_vec()), spaced });
                spaced = false;
            }
        }
    }
    out
}

/// Content of a quoted string starting after its opening quote; returns it and the index
/// after the closing quote (or the end of input).
fn quoted(s: &[u8], mut i: usize, close: u8) -> (Vec<u8>, usize) {
    let mut content = Vec::new();
    while let Some(&c) = s.get(i) {
        i += 1;
        match c {
            b'\\' => {
                if let Some(&e) = s.get(i) {
                    content.push(e);
                    i += 1;
                }
            }
            b'\r' | b'\n' => {}
            c if c == close => return (content, i),
            c => content.push(c),
        }
    }
    (content, i)
}

/// Content of a comment starting after its `(`, nested comments included verbatim.
fn comment(s: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut content = Vec::new();
    let mut depth = 1usize;
    while let Some(&c) = s.get(i) {
        i += 1;
        match c {
            b'\\' => {
                if let Some(&e) = s.get(i) {
                    content.push(e);
                    i += 1;
                }
            }
            b'(' => {
                depth += 1;
                content.push(c);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                content.push(c);
            }
            b'\r' | b'\n' => {}
            c => content.push(c),
        }
    }
    (content, i)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// The last comment seen; becomes the name of an address without a display name.
    last_comment: Option<Vec<u8>>,
}

impl Parser {
    /// Next token that is not a comment (comments are remembered, then skipped).
    fn peek(&mut self) -> Option<&Tok> {
        while let Some(t) = self.toks.get(self.pos) {
            if let Tok::Comment(c) = &t.tok {
                self.last_comment = Some(c.clone());
                self.pos += 1;
            } else {
                break;
            }
        }
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_spaced(&self) -> bool {
        self.toks.get(self.pos).is_some_and(|t| t.spaced)
    }

    fn is_special(&mut self, c: u8) -> bool {
        matches!(self.peek(), Some(Tok::Special(s)) if *s == c)
    }

    /// A phrase or a local part: words (atoms and quoted strings), each with its spacing.
    fn words(&mut self) -> Vec<(Vec<u8>, bool)> {
        let mut words = Vec::new();
        loop {
            let w = match self.peek() {
                Some(Tok::Atom(a)) => a.clone(),
                Some(Tok::Quoted(q)) => q.clone(),
                _ => break,
            };
            let spaced = self.peek_spaced();
            words.push((w, spaced));
            self.pos += 1;
        }
        words
    }

    /// A domain: atoms, dots and domain literals, concatenated (obs-domain allows CFWS
    /// around the dots; it is dropped).
    fn domain(&mut self) -> Vec<u8> {
        let mut d = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Atom(a) | Tok::Literal(a)) => d.extend_from_slice(a),
                Some(Tok::Quoted(q)) => d.extend_from_slice(q),
                _ => break,
            }
            self.pos += 1;
        }
        d
    }

    fn list(&mut self, out: &mut Vec<Entry>) {
        while self.peek().is_some() {
            if self.is_special(b',') {
                self.pos += 1;
                continue;
            }
            self.item(out, false);
        }
    }

    /// One address or group. Always consumes at least one token.
    fn item(&mut self, out: &mut Vec<Entry>, in_group: bool) {
        let start = self.pos;
        self.last_comment = None;
        let phrase = self.words();
        match self.peek() {
            Some(Tok::Special(b':')) if !in_group => {
                self.pos += 1;
                out.push(Entry::GroupStart(join_phrase(&phrase)));
                loop {
                    match self.peek() {
                        None => break,
                        Some(Tok::Special(b';')) => {
                            self.pos += 1;
                            break;
                        }
                        Some(Tok::Special(b',')) => self.pos += 1,
                        Some(_) => self.item(out, true),
                    }
                }
                out.push(Entry::GroupEnd);
            }
            Some(Tok::Special(b'<')) => {
                self.pos += 1;
                let name = join_phrase(&phrase);
                let (adl, mailbox, host) = self.angle_addr();
                let name = if phrase.is_empty() { self.last_comment.take() } else { Some(name) };
                out.push(mailbox_entry(name, adl, mailbox, host));
            }
            Some(Tok::Special(b'@')) => {
                self.pos += 1;
                let host = self.domain();
                self.skip_to_item_end(in_group);
                let name = self.last_comment.take();
                out.push(mailbox_entry(name, None, concat_words(&phrase), host));
            }
            _ if !phrase.is_empty() => {
                // A local part with no domain at all: `To: bare`.
                self.skip_to_item_end(in_group);
                let name = self.last_comment.take();
                out.push(mailbox_entry(name, None, concat_words(&phrase), Vec::new()));
            }
            _ => {}
        }
        if self.pos == start {
            // Garbage such as a stray `>` or `;`: drop it.
            self.pos += 1;
        }
    }

    /// After `<`: `[route ":"] local-part ["@" domain] ">"`.
    fn angle_addr(&mut self) -> (Option<Vec<u8>>, Vec<u8>, Vec<u8>) {
        let mut adl = None;
        if self.is_special(b'@') {
            // obs-route = obs-domain-list ":" ; kept as written, minus whitespace.
            let mut route = Vec::new();
            loop {
                match self.peek() {
                    None => break,
                    Some(Tok::Special(b':')) => {
                        self.pos += 1;
                        break;
                    }
                    Some(Tok::Special(b'>')) => break,
                    Some(Tok::Special(c)) => {
                        route.push(*c);
                        self.pos += 1;
                    }
                    Some(Tok::Atom(a) | Tok::Literal(a) | Tok::Quoted(a)) => {
                        route.extend_from_slice(a);
                        self.pos += 1;
                    }
                    Some(Tok::Comment(_)) => self.pos += 1,
                }
            }
            adl = Some(route);
        }
        let local = concat_words(&self.words());
        let host = if self.is_special(b'@') {
            self.pos += 1;
            self.domain()
        } else {
            Vec::new()
        };
        // Skip anything up to and including the closing `>`.
        while let Some(t) = self.peek() {
            let close = matches!(t, Tok::Special(b'>'));
            if matches!(t, Tok::Special(b',' | b';')) {
                break;
            }
            self.pos += 1;
            if close {
                break;
            }
        }
        // Trailing comments (`<a@b> (x)`) are consumed by the next peek; the display name
        // was already decided.
        (adl, local, host)
    }

    /// Skips the rest of a malformed address up to the next `,` (or `;` in a group),
    /// still collecting comments.
    fn skip_to_item_end(&mut self, in_group: bool) {
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Special(b',')) || (in_group && matches!(t, Tok::Special(b';'))) {
                break;
            }
            self.pos += 1;
        }
    }
}

fn mailbox_entry(name: Option<Vec<u8>>, adl: Option<Vec<u8>>, mailbox: Vec<u8>, host: Vec<u8>) -> Entry {
    let name = name.filter(|n| !n.is_empty());
    let adl = adl.filter(|a| !a.is_empty());
    let mailbox = if mailbox.is_empty() { MISSING_MAILBOX.to_vec() } else { mailbox };
    let host = if host.is_empty() { MISSING_DOMAIN.to_vec() } else { host };
    Entry::Mailbox { name, adl, mailbox, host }
}

/// Display name: words joined by a single space where the source had whitespace.
fn join_phrase(words: &[(Vec<u8>, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (w, spaced)) in words.iter().enumerate() {
        if i > 0 && *spaced {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

/// Local part: words concatenated (obs-local-part allows CFWS around the dots).
fn concat_words(words: &[(Vec<u8>, bool)]) -> Vec<u8> {
    words.iter().flat_map(|(w, _)| w.iter().copied()).collect()
}

/// Parses an address-list header value (raw bytes, possibly folded).
pub(super) fn parse_list(value: &[u8]) -> Vec<Entry> {
    let mut p = Parser { toks: tokenize(value), pos: 0, last_comment: None };
    let mut out = Vec::new();
    p.list(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> String {
        let mut out = Vec::new();
        write_list(&mut out, &parse_list(value.as_bytes()));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn rfc3501_example_addresses() {
        assert_eq!(
            env("Terry Gray <gray@cac.washington.edu>"),
            r#"(("Terry Gray" NIL "gray" "cac.washington.edu"))"#
        );
        assert_eq!(
            env("minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>"),
            r#"((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU"))"#
        );
    }

    // Expected values below are what Dovecot 2.3.19 answers for the same header.
    #[test]
    fn dovecot_compatible_forms() {
        assert_eq!(env(r#""Doe, John" <john@x.org>"#), r#"(("Doe, John" NIL "john" "x.org"))"#);
        assert_eq!(env("a@b.c (Comment Here)"), r#"(("Comment Here" NIL "a" "b.c"))"#);
        assert_eq!(env("John Q. Public <jqp@x>"), r#"(("John Q. Public" NIL "jqp" "x"))"#);
        assert_eq!(env(r#""a b"@c.d"#), r#"((NIL NIL "a b" "c.d"))"#);
        assert_eq!(env("<@r1,@r2:u@h>"), r#"((NIL "@r1,@r2" "u" "h"))"#);
        assert_eq!(env("bare"), r#"((NIL NIL "bare" "MISSING_DOMAIN"))"#);
        assert_eq!(env("=?utf-8?q?J=C3=B6rg?= <j@x>"), r#"(("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x"))"#);
        assert_eq!(env(r#""" <a@b>, <c@d>"#), r#"((NIL NIL "a" "b")(NIL NIL "c" "d"))"#);
        assert_eq!(env("e@[1.2.3.4]"), r#"((NIL NIL "e" "[1.2.3.4]"))"#);
        assert_eq!(env("h@i (c1) (c2)"), r#"(("c2" NIL "h" "i"))"#);
        assert_eq!(env("Name (cmt) <j@k>"), r#"(("Name" NIL "j" "k"))"#);
        assert_eq!(
            env("@nolocal, x@, <>"),
            r#"((NIL NIL "MISSING_MAILBOX" "nolocal")(NIL NIL "x" "MISSING_DOMAIN")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))"#
        );
        assert_eq!(
            env("\"John\r\n Doe\" <j@x>, Mary\r\n\tSmith <m@x>"),
            r#"(("John Doe" NIL "j" "x")("Mary Smith" NIL "m" "x"))"#
        );
        assert_eq!(
            env("a.b.c <z@y>, a . b <w@y>, \"a\" \"b\" c <v@y>"),
            r#"(("a.b.c" NIL "z" "y")("a . b" NIL "w" "y")("a b c" NIL "v" "y"))"#
        );
        assert_eq!(env("john.doe @ example . com"), r#"((NIL NIL "john.doe" "example.com"))"#);
    }

    #[test]
    fn groups() {
        assert_eq!(
            env("undisclosed-recipients:;"),
            r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#
        );
        assert_eq!(
            env("Team: m1@x, M Two <m2@y>;, after@z"),
            r#"((NIL NIL "Team" NIL)(NIL NIL "m1" "x")("M Two" NIL "m2" "y")(NIL NIL NIL NIL)(NIL NIL "after" "z"))"#
        );
        // An unterminated group is closed at the end of the field.
        assert_eq!(env("G: a@b"), r#"((NIL NIL "G" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))"#);
    }

    #[test]
    fn empty_and_garbage() {
        assert_eq!(env(""), "NIL");
        assert_eq!(env("  , ,"), "NIL");
        assert_eq!(env(">;<"), r#"((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))"#);
        assert_eq!(env(r#""q\"uo" <f@g>"#), r#"(("q\"uo" NIL "f" "g"))"#);
    }

    #[test]
    fn eight_bit_name_is_a_literal() {
        assert_eq!(env("\"é x\" <a@b>"), "(({4}\r\né x NIL \"a\" \"b\"))");
    }
}
