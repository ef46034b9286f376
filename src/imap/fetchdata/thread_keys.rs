//! What threading needs of a message (RFC 5256 §4 step 1): its Message-ID and the chain of its
//! parents, kept at delivery so that THREAD=REFERENCES and THREADID (RFC 8474 §5.2) never parse
//! a header at command time. Message-IDs are compared lower-cased, without the angle brackets.

/// Most references kept: the first (the thread's root) and the last ones (the nearest parents),
/// so a message with a runaway References field stays small.
pub const MAX_REFERENCES: usize = 64;
/// Longest message-id kept; longer ones are dropped (RFC 5322 ids are short in practice).
const MAX_ID: usize = 250;

use super::header::MAX_FIELD_VALUE;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// The first id of the Message-ID field.
    pub message_id: Option<String>,
    /// The ids of References, oldest first; when there are none, the first id of In-Reply-To.
    pub references: Vec<String>,
}

impl ThreadKeys {
    /// Reads the keys from a header section (CRLF or LF line ends, folded fields).
    pub fn from_header(header: &[u8]) -> ThreadKeys {
        let message_id = header_field(header, "Message-ID").and_then(|v| ids(&v).into_iter().next());
        let mut references = header_field(header, "References").map(|v| ids(&v)).unwrap_or_default();
        if references.is_empty() {
            references = header_field(header, "In-Reply-To").map(|v| ids(&v)).unwrap_or_default();
            references.truncate(1);
        }
        if references.len() > MAX_REFERENCES {
            let tail = references.split_off(references.len() - (MAX_REFERENCES - 1));
            references.truncate(1);
            references.extend(tail);
        }
        ThreadKeys { message_id, references }
    }

    /// The RFC 8474 THREADID: `T` and 16 hex digits of a SHA-256 of the thread's root id (the
    /// first reference, else the message's own id), so every message of a thread gets the same
    /// one in every mailbox, with no table to keep. A message without any id is a thread of its
    /// own, named after `fallback` (its blob id: copies of it share the thread).
    pub fn thread_id(&self, fallback: u64) -> String {
        let root = match self.references.first().or(self.message_id.as_ref()) {
            Some(id) => format!("<{id}>"),
            None => format!("blob:{fallback}"),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, root.as_bytes());
        let mut out = String::with_capacity(17);
        out.push('T');
        for b in &digest.as_ref()[..8] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// The `<id>`s of a field value, lower-cased, without brackets; overlong ones dropped.
fn ids(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else { break };
        let id = rest[start + 1..start + end].trim();
        if !id.is_empty() && id.len() <= MAX_ID {
            out.push(id.to_ascii_lowercase());
        }
        rest = &rest[start + end + 1..];
    }
    out
}

/// The unfolded value of the first field called `name` in a header section. Of a value longer
/// than [`MAX_FIELD_VALUE`] only the first and the last half of that are read: the thread's
/// root and the nearest parents are at the two ends of References, and a runaway field must
/// not cost its size several times over (here and in [`ids`]).
fn header_field(header: &[u8], name: &str) -> Option<String> {
    // The value's span in `header`: after the colon up to the end of its last continuation.
    let mut span: Option<(usize, usize)> = None;
    let mut pos = 0;
    for line in header.split(|&b| b == b'\n') {
        let start = pos;
        pos += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some((_, end)) = span.as_mut() {
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                *end = start + line.len();
                continue;
            }
            break;
        }
        if line.is_empty() {
            return None;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon].trim_ascii().eq_ignore_ascii_case(name.as_bytes())
        {
            span = Some((start + colon + 1, start + line.len()));
        }
    }
    let (from, to) = span?;
    let value = header.get(from..to)?;
    if value.len() <= MAX_FIELD_VALUE {
        return Some(unfold_lines(value));
    }
    let half = MAX_FIELD_VALUE / 2;
    Some(format!("{} {}", unfold_lines(&value[..half]), unfold_lines(&value[value.len() - half..])))
}

/// A folded value's lines, each trimmed, joined by one space.
fn unfold_lines(value: &[u8]) -> String {
    let lines: Vec<String> =
        value.split(|&b| b == b'\n').map(|l| String::from_utf8_lossy(l).trim().to_string()).collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_references_or_in_reply_to() {
        let k = ThreadKeys::from_header(
            b"Message-ID: <C@x>\r\nReferences: <A@x>\r\n <B@Y>\r\nIn-Reply-To: <B@y>\r\n\r\nbody <Z@z>",
        );
        assert_eq!(k.message_id.as_deref(), Some("c@x"));
        assert_eq!(k.references, vec!["a@x", "b@y"]);
        let k = ThreadKeys::from_header(b"In-Reply-To: <p@x> <q@x>\nMessage-Id: <m@x>\n\n");
        assert_eq!(k.references, vec!["p@x"]);
        assert_eq!(k.message_id.as_deref(), Some("m@x"));
        assert_eq!(
            ThreadKeys::from_header(b"Subject: none\r\n\r\nMessage-ID: <no@x>\r\n"),
            ThreadKeys::default()
        );
    }

    #[test]
    fn long_reference_chains_keep_root_and_parents() {
        let refs: String = (0..200).map(|i| format!(" <r{i}@x>")).collect();
        let k = ThreadKeys::from_header(format!("References:{refs}\r\n\r\n").as_bytes());
        assert_eq!(k.references.len(), MAX_REFERENCES);
        assert_eq!(k.references[0], "r0@x");
        assert_eq!(k.references[1], "r137@x");
        assert_eq!(k.references.last().map(String::as_str), Some("r199@x"));
    }

    #[test]
    fn a_runaway_field_is_read_at_both_ends() {
        // 20 MB of References: the root and the last parents are found, and what is read of
        // the field is bounded (its two ends).
        let mut refs = b"References: <root@x>".to_vec();
        while refs.len() < 20 << 20 {
            refs.extend_from_slice(b"\r\n <mid@x>");
        }
        refs.extend_from_slice(b" <parent@x>\r\nMessage-ID: <me@x>\r\n\r\n");
        let k = ThreadKeys::from_header(&refs);
        assert_eq!(k.message_id.as_deref(), Some("me@x"));
        assert_eq!(k.references.len(), MAX_REFERENCES);
        assert_eq!(k.references[0], "root@x");
        assert_eq!(k.references.last().map(String::as_str), Some("parent@x"));
        assert_eq!(header_field(&refs, "References").map(|v| v.len() < 2 * MAX_FIELD_VALUE), Some(true));
    }

    #[test]
    fn a_thread_shares_one_id() {
        let root = ThreadKeys::from_header(b"Message-ID: <a@x>\r\n\r\n");
        let reply = ThreadKeys::from_header(b"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n\r\n");
        let deeper = ThreadKeys::from_header(b"Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\n\r\n");
        let other = ThreadKeys::from_header(b"Message-ID: <d@x>\r\n\r\n");
        let id = root.thread_id(1);
        assert_eq!(id.len(), 17);
        assert!(id.starts_with('T') && id[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(reply.thread_id(2), id);
        assert_eq!(deeper.thread_id(3), id);
        assert_ne!(other.thread_id(4), id);
        let none = ThreadKeys::default();
        assert_eq!(none.thread_id(7), none.thread_id(7));
        assert_ne!(none.thread_id(7), none.thread_id(8));
    }
}
