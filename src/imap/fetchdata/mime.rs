//! The MIME tree of a message (RFC 2045, RFC 2046), with byte offsets into the raw bytes.
//!
//! The tree mirrors the entities IMAP talks about: a multipart node has its body parts as
//! children, a message/rfc822 node has one child, the encapsulated message (whose header is
//! the inner message header and whose body is the inner message text).

use super::header::{Fields, is_blank_line, next_line, parse_field_line, unfold};

/// Deepest nesting of multiparts and encapsulated messages that is parsed; deeper entities
/// are treated as opaque `application/octet-stream` (Dovecot uses the same limit).
pub(super) const MAX_DEPTH: usize = 100;
/// Most entities parsed in one message; the rest become opaque leaves (Dovecot: 10000).
pub(super) const MAX_ENTITIES: usize = 10_000;

/// A parsed `type/subtype; params` or `disposition; params` value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct MimeValue {
    pub kind: Vec<u8>,
    /// Empty for Content-Disposition.
    pub subtype: Vec<u8>,
    /// Attribute names and values as written: names keep their case, values lose their
    /// quotes. RFC 2231 continuations (`name*0*=...`) are passed through, not merged.
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
}

impl MimeValue {
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice())
    }

    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    fn text_plain() -> Self {
        MimeValue { kind: b"text".to_vec(), subtype: b"plain".to_vec(), params: Vec::new() }
    }

    fn message_rfc822() -> Self {
        MimeValue { kind: b"message".to_vec(), subtype: b"rfc822".to_vec(), params: Vec::new() }
    }

    fn octet_stream() -> Self {
        MimeValue { kind: b"application".to_vec(), subtype: b"octet-stream".to_vec(), params: Vec::new() }
    }
}

/// RFC 2045 §5.1 tspecials, plus whitespace and controls: what ends a token.
fn is_token_char(b: u8) -> bool {
    b > 0x20
        && b != 0x7f
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    /// Skips whitespace and (nested) comments.
    fn skip_cfws(&mut self) {
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => {
                    let mut depth = 0usize;
                    while let Some(&c) = self.s.get(self.i) {
                        self.i += 1;
                        match c {
                            b'\\' => self.i += 1,
                            b'(' => depth += 1,
                            b')' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => break,
            }
        }
    }

    fn token(&mut self) -> Vec<u8> {
        self.skip_cfws();
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&b| is_token_char(b)) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default().to_vec()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_cfws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A token or a quoted-string (unescaped, unfolded).
    fn value(&mut self) -> Vec<u8> {
        self.skip_cfws();
        if self.s.get(self.i) != Some(&b'"') {
            return self.token();
        }
        self.i += 1;
        let mut v = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(&e) = self.s.get(self.i) {
                        v.push(e);
                        self.i += 1;
                    }
                }
                b'\r' | b'\n' => {}
                c => v.push(c),
            }
        }
        v
    }

    /// `*(";" attribute "=" value)`, skipping malformed parameters.
    fn params(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut params = Vec::new();
        loop {
            // Find the next `;`.
            loop {
                self.skip_cfws();
                match self.s.get(self.i) {
                    None => return params,
                    Some(b';') => {
                        self.i += 1;
                        break;
                    }
                    Some(b'"') => {
                        self.value();
                    }
                    Some(_) => self.i += 1,
                }
            }
            let name = self.token();
            if name.is_empty() || !self.eat(b'=') {
                continue;
            }
            let value = self.value();
            params.push((name, value));
        }
    }
}

/// Parses a Content-Type value; `None` when it is syntactically invalid (no `type/subtype`),
/// in which case RFC 2045 §5.2 says to assume the default.
pub(super) fn parse_content_type(value: &[u8]) -> Option<MimeValue> {
    let mut sc = Scanner { s: value, i: 0 };
    let kind = sc.token();
    if kind.is_empty() || !sc.eat(b'/') {
        return None;
    }
    let subtype = sc.token();
    if subtype.is_empty() {
        return None;
    }
    Some(MimeValue { kind, subtype, params: sc.params() })
}

/// Parses a Content-Disposition value (RFC 2183); `None` when there is no type.
pub(super) fn parse_disposition(value: &[u8]) -> Option<MimeValue> {
    let mut sc = Scanner { s: value, i: 0 };
    let kind = sc.token();
    if kind.is_empty() {
        return None;
    }
    Some(MimeValue { kind, subtype: Vec::new(), params: sc.params() })
}

/// Content-Language (RFC 3282): the language tags of the list.
pub(super) fn parse_language(value: &[u8]) -> Vec<Vec<u8>> {
    let mut sc = Scanner { s: value, i: 0 };
    let mut tags = Vec::new();
    loop {
        sc.skip_cfws();
        match sc.s.get(sc.i) {
            None => break,
            Some(b',') => sc.i += 1,
            Some(_) => {
                let start = sc.i;
                while sc
                    .s
                    .get(sc.i)
                    .is_some_and(|&b| !matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n' | b'('))
                {
                    sc.i += 1;
                }
                tags.push(sc.s[start..sc.i].to_vec());
            }
        }
    }
    tags
}

/// The mechanism token of a Content-Transfer-Encoding value, as written.
pub(super) fn parse_cte(value: &[u8]) -> Vec<u8> {
    Scanner { s: value, i: 0 }.token()
}

/// What a node contains.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// A leaf body part.
    Leaf,
    /// A multipart; RFC 3501's grammar needs at least one part, so an empty multipart gets
    /// one synthetic empty text/plain part, as Dovecot does.
    Multipart(Vec<Node>),
    /// message/rfc822: the encapsulated message.
    Message(Box<Node>),
}

/// One MIME entity.
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// Its header section, blank line included when present.
    pub header: (usize, usize),
    /// Its body. For an encapsulated message (the child of a message/rfc822 node) this is
    /// the message text, for the message/rfc822 node the whole encapsulated message.
    pub body: (usize, usize),
    pub fields: Fields,
    /// The effective content type: as declared, or the default of RFC 2046 §5.1.1 / §5.1.5.
    pub ctype: MimeValue,
    pub kind: Kind,
}

impl Node {
    fn empty_text(at: usize) -> Node {
        Node {
            header: (at, at),
            body: (at, at),
            fields: Fields::default(),
            ctype: MimeValue::text_plain(),
            kind: Kind::Leaf,
        }
    }

    /// Raw value of a field of this entity's header.
    pub fn field<'a>(&self, raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
        self.fields.first(raw, name)
    }
}

/// A boundary delimiter line found while scanning.
#[derive(Debug, Clone, Copy)]
struct Hit {
    /// Where the `--boundary` line starts.
    line_start: usize,
    /// Where the line after it starts.
    line_end: usize,
    /// Index of the matching boundary in the stack (0 = outermost).
    level: usize,
    /// A close delimiter (`--boundary--`).
    close: bool,
}

impl Hit {
    /// Where the content before this delimiter ends: the line break preceding the
    /// delimiter belongs to it (RFC 2046 §5.1.1), unless that break lies before
    /// `region_start` (an empty body part or epilogue).
    fn content_end(&self, raw: &[u8], region_start: usize) -> usize {
        let mut end = self.line_start;
        if end > region_start && raw.get(end - 1) == Some(&b'\n') {
            end -= 1;
            if end > region_start && raw.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
        }
        end
    }
}

struct Parser<'a> {
    raw: &'a [u8],
    boundaries: Vec<Vec<u8>>,
    entities: usize,
}

/// Parses the whole message.
pub(super) fn parse(raw: &[u8]) -> Node {
    let mut p = Parser { raw, boundaries: Vec::new(), entities: 0 };
    p.entity(0, false, 0).0
}

impl<'a> Parser<'a> {
    /// The next boundary line at or after `from` (a line start), innermost boundary first
    /// when several match (a boundary may be a prefix of another).
    fn find_boundary(&self, from: usize) -> Option<Hit> {
        if self.boundaries.is_empty() {
            return None;
        }
        let mut p = from;
        while p < self.raw.len() {
            let e = next_line(self.raw, p);
            if let Some(hit) = self.boundary_at(p, e) {
                return Some(hit);
            }
            p = e;
        }
        None
    }

    fn boundary_at(&self, line_start: usize, line_end: usize) -> Option<Hit> {
        let line = self.raw.get(line_start..line_end)?;
        let rest = line.strip_prefix(b"--")?;
        self.boundaries.iter().enumerate().rev().find_map(|(level, b)| {
            rest.strip_prefix(b.as_slice()).map(|after| Hit {
                line_start,
                line_end,
                level,
                close: after.starts_with(b"--"),
            })
        })
    }

    /// Parses the header section starting at `start`: its fields, where it ends, and the
    /// boundary line that interrupted it, if any (then the entity has no body).
    fn header(&self, start: usize) -> (Fields, usize, Option<Hit>) {
        let mut fields = Fields::default();
        let mut in_field = false;
        let mut p = start;
        while p < self.raw.len() {
            let e = next_line(self.raw, p);
            let line = &self.raw[p..e];
            if is_blank_line(line) {
                return (fields, e, None);
            }
            if !self.boundaries.is_empty()
                && let Some(hit) = self.boundary_at(p, e)
            {
                return (fields, hit.content_end(self.raw, start), Some(hit));
            }
            if matches!(line.first(), Some(b' ' | b'\t')) {
                // A continuation line extends the field above it, unless that was a
                // malformed line (no colon), whose continuations are dropped with it, or a
                // field that is not kept.
                if in_field && let Some(last) = fields.0.last_mut() {
                    last.value.1 = p + super::header::line_content_len(line);
                }
            } else if let Some(f) = parse_field_line(self.raw, p, e) {
                in_field = fields.wants(self.raw, f.name(self.raw));
                if in_field {
                    fields.0.push(f);
                }
            } else {
                in_field = false;
            }
            p = e;
        }
        (fields, self.raw.len(), None)
    }

    /// Parses the entity whose header starts at `start`. Returns it, where it ends, and the
    /// boundary line that ended it (`None` at the end of the input).
    fn entity(&mut self, start: usize, in_digest: bool, depth: usize) -> (Node, usize, Option<Hit>) {
        self.entities += 1;
        let (fields, header_end, header_hit) = self.header(start);
        let declared = fields.first(self.raw, "Content-Type").and_then(|v| parse_content_type(&unfold(v)));
        let mut ctype = declared
            .unwrap_or_else(|| if in_digest { MimeValue::message_rfc822() } else { MimeValue::text_plain() });
        let is_multipart = ctype.kind.eq_ignore_ascii_case(b"multipart");
        let is_message = ctype.is("message", "rfc822");
        let too_deep = depth >= MAX_DEPTH || self.entities >= MAX_ENTITIES;
        if too_deep && (is_multipart || is_message) {
            ctype = MimeValue::octet_stream();
        }
        let mut node = Node {
            header: (start, header_end),
            body: (header_end, header_end),
            fields,
            ctype,
            kind: Kind::Leaf,
        };
        if let Some(hit) = header_hit {
            // The header ran into a boundary line: no body at all.
            if !too_deep && is_multipart {
                node.kind = Kind::Multipart(vec![Node::empty_text(header_end)]);
            } else if !too_deep && is_message {
                node.kind = Kind::Message(Box::new(Node::empty_text(header_end)));
            }
            return (node, header_end, Some(hit));
        }
        let body_start = header_end;
        if !too_deep && is_multipart {
            let (children, end, hit) = self.multipart_body(&node.ctype, body_start, depth);
            node.body = (body_start, end);
            node.kind = Kind::Multipart(children);
            (node, end, hit)
        } else if !too_deep && is_message {
            let (inner, end, hit) = self.entity(body_start, false, depth + 1);
            node.body = (body_start, end);
            node.kind = Kind::Message(Box::new(inner));
            (node, end, hit)
        } else {
            let hit = self.find_boundary(body_start);
            let end = hit.map_or(self.raw.len(), |h| h.content_end(self.raw, body_start));
            node.body = (body_start, end);
            (node, end, hit)
        }
    }

    /// Parses a multipart body (preamble, parts, epilogue) starting at `body_start`.
    fn multipart_body(
        &mut self,
        ctype: &MimeValue,
        body_start: usize,
        depth: usize,
    ) -> (Vec<Node>, usize, Option<Hit>) {
        let in_digest = ctype.subtype.eq_ignore_ascii_case(b"digest");
        let mut children = Vec::new();
        let boundary = match ctype.param("boundary") {
            Some(b) if !b.is_empty() => b.to_vec(),
            _ => {
                // No boundary: the multipart has no parts (Dovecot does the same).
                let hit = self.find_boundary(body_start);
                let end = hit.map_or(self.raw.len(), |h| h.content_end(self.raw, body_start));
                return (vec![Node::empty_text(end)], end, hit);
            }
        };
        self.boundaries.push(boundary);
        let level = self.boundaries.len() - 1;
        let mut region_start = body_start;
        let mut hit = self.find_boundary(body_start);
        let (end, terminator) = loop {
            match hit {
                None => break (self.raw.len(), None),
                Some(h) if h.level < level => break (h.content_end(self.raw, region_start), Some(h)),
                // A delimiter on the last line without a line break cannot be followed by
                // a part (RFC 2046: dash-boundary CRLF body-part): it ends the multipart,
                // like a close delimiter (Dovecot agrees).
                Some(h) if h.close || self.raw.get(h.line_end.wrapping_sub(1)) != Some(&b'\n') => {
                    // Close delimiter: the rest of its line and the epilogue are ours.
                    self.boundaries.truncate(level);
                    let next = self.find_boundary(h.line_end);
                    let end = next.map_or(self.raw.len(), |n| n.content_end(self.raw, h.line_end));
                    break (end, next);
                }
                Some(h) => {
                    region_start = h.line_end;
                    let (child, _, child_hit) = self.entity(h.line_end, in_digest, depth + 1);
                    children.push(child);
                    hit = child_hit;
                }
            }
        };
        self.boundaries.truncate(level);
        if children.is_empty() {
            children.push(Node::empty_text(end));
        }
        (children, end, terminator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_with_comments_and_quotes() {
        let ct =
            parse_content_type(br#"TEXT/plain (comment); charset = "utf-8" (c2) ; x=y; q="a \"b\" \\c""#)
                .expect("valid");
        assert_eq!(ct.kind, b"TEXT");
        assert_eq!(ct.subtype, b"plain");
        assert_eq!(
            ct.params,
            vec![
                (b"charset".to_vec(), b"utf-8".to_vec()),
                (b"x".to_vec(), b"y".to_vec()),
                (b"q".to_vec(), br#"a "b" \c"#.to_vec())
            ]
        );
        assert!(parse_content_type(b"garbage").is_none());
        assert!(parse_content_type(b"text/").is_none());
        assert!(parse_content_type(b"").is_none());
    }

    #[test]
    fn malformed_params_are_skipped() {
        let ct = parse_content_type(b"text/plain; ; junk; a=1;b=\"2\"").expect("valid");
        assert_eq!(ct.params, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
    }

    #[test]
    fn language_list() {
        assert_eq!(parse_language(b"en, de (German)"), vec![b"en".to_vec(), b"de".to_vec()]);
        assert!(parse_language(b"  ").is_empty());
    }

    #[test]
    fn deep_nesting_is_cut_off() {
        let mut raw = Vec::new();
        for i in 0..(MAX_DEPTH + 20) {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
            );
        }
        raw.extend_from_slice(b"\r\nleaf\r\n");
        let mut node = parse(&raw);
        let mut depth = 0;
        while let Kind::Multipart(mut children) = node.kind {
            node = children.remove(0);
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(node.ctype.is("application", "octet-stream"));
    }
}
