//! The text of a message summary (docs/mapi-extension.md §9): the first From and To address
//! with its display name, the Subject, RFC 2047-decoded, and whether the message has an
//! attachment. Computed at delivery with the rest of the FETCH data (version 3), so that a
//! sync window reads records, not headers.

use super::mime::{Kind, Node};
use super::{MAX_PARSED_HEADER, header::unfold, mime};

/// At most this many octets of each text value (§9), cut at a character boundary.
pub const MAX_TEXT: usize = 1000;

/// One address of a summary: the display name (unfolded, RFC 2047-decoded; `None` if there is
/// none) and `local@domain`.
pub type SummaryAddress = (Option<String>, String);

/// What a summary shows of a message besides its record (§9: XFROM, XTO, XSUBJECT, XATTACH).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub from: Option<SummaryAddress>,
    pub to: Option<SummaryAddress>,
    pub subject: Option<String>,
    pub attachment: bool,
}

/// The summary of a message whose MIME tree is `root`.
pub(super) fn compute(raw: &[u8], root: &Node) -> Summary {
    let header = raw.get(root.header.0..root.header.1).unwrap_or_default();
    Summary { attachment: has_attachment(raw, root), ..texts(header) }
}

/// The summary of a message whose FETCH data predates it (versions 1 and 2): from its header
/// and the MIME headers of its parts that are not multiparts (`Part::header` of each), so that
/// only those bytes are read, not the message.
pub fn from_stored<'a>(header: &[u8], part_headers: impl IntoIterator<Item = &'a [u8]>) -> Summary {
    let attachment = part_headers.into_iter().any(|h| has_attachment(h, &mime::parse(h)));
    Summary { attachment, ..texts(header) }
}

/// From, To and Subject of a header section, decoded (attachment: false).
fn texts(header: &[u8]) -> Summary {
    let header = header.get(..MAX_PARSED_HEADER).unwrap_or(header);
    let mut summary = Summary::default();
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(header) else { return summary };
    let first = |a: Option<&mail_parser::Address<'_>>| -> Option<SummaryAddress> {
        let a = a?.first()?;
        let address = a.address().map(str::to_string).unwrap_or_default();
        let name = a.name().filter(|n| !n.trim().is_empty()).map(|n| cut(n.trim()));
        if address.is_empty() && name.is_none() {
            return None;
        }
        Some((name, cut(&address)))
    };
    summary.from = first(msg.from());
    summary.to = first(msg.to());
    summary.subject = msg.subject().map(cut);
    summary
}

/// §9's rule: some body part has the disposition `attachment`, or has a file name (the
/// disposition's `filename` or the content type's `name`) and no disposition `inline`.
/// Multiparts are looked into; an encapsulated message (message/rfc822) is itself an
/// attachment when its disposition says so or it has a name, and its own parts are not.
fn has_attachment(raw: &[u8], node: &Node) -> bool {
    let disposition =
        node.field(raw, "Content-Disposition").and_then(|v| mime::parse_disposition(&unfold(v)));
    let kind = disposition.as_ref().map(|d| d.kind.to_ascii_lowercase());
    let named = disposition.as_ref().and_then(|d| d.param("filename")).is_some()
        || node.ctype.param("name").is_some();
    match &node.kind {
        Kind::Multipart(children) => children.iter().any(|c| has_attachment(raw, c)),
        Kind::Leaf | Kind::Message(_) => match kind.as_deref() {
            Some(b"attachment") => true,
            Some(b"inline") => false,
            _ => named,
        },
    }
}

/// At most [`MAX_TEXT`] octets, cut at a character boundary.
fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(raw: &str) -> Summary {
        let raw = raw.replace('\n', "\r\n");
        compute(raw.as_bytes(), &mime::parse(raw.as_bytes()))
    }

    #[test]
    fn names_are_decoded_and_addresses_kept() {
        let s = summary(
            "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>\nTo: bob@example.net, c@x\n\
             Subject: =?UTF-8?B?w4RwZmVs?= and\n pears\n\nbody\n",
        );
        assert_eq!(s.from, Some((Some("Jörg".into()), "joerg@example.org".into())));
        assert_eq!(s.to, Some((None, "bob@example.net".into())));
        assert_eq!(s.subject.as_deref(), Some("Äpfel and pears"));
        assert!(!s.attachment);
        let s = summary("\nno header at all\n");
        assert_eq!(s, Summary::default());
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        let subject = "ä".repeat(800);
        let s = summary(&format!("Subject: {subject}\n\nx\n"));
        let got = s.subject.expect("subject");
        assert!(got.len() <= MAX_TEXT && got.len() >= MAX_TEXT - 1, "{}", got.len());
        assert!(got.chars().all(|c| c == 'ä'));
    }

    #[test]
    fn attachments_by_disposition_or_name() {
        let multipart = |part: &str| {
            format!(
                "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n{part}\n\nx\n--b--\n"
            )
        };
        assert!(
            summary(&multipart("Content-Type: application/pdf\nContent-Disposition: attachment")).attachment
        );
        assert!(summary(&multipart("Content-Type: application/pdf; name=\"a.pdf\"")).attachment);
        assert!(
            summary(&multipart("Content-Type: image/png\nContent-Disposition: attachment; filename=x.png"))
                .attachment
        );
        assert!(
            !summary(&multipart("Content-Type: image/png; name=x.png\nContent-Disposition: inline"))
                .attachment
        );
        assert!(!summary(&multipart("Content-Type: text/html")).attachment);
        assert!(
            summary(&multipart("Content-Type: message/rfc822\nContent-Disposition: attachment")).attachment
        );
        assert!(!summary("Content-Type: text/plain\n\nplain\n").attachment);
    }

    /// Data stored before version 3 gets the same summary from the headers alone.
    #[test]
    fn the_stored_path_agrees_with_the_computed_one() {
        let raw = "From: A <a@x>\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                   Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\nx\r\n--b--\r\n";
        let fd = crate::imap::fetchdata::compute(raw.as_bytes()).expect("mail");
        let headers: Vec<&[u8]> = fd
            .parts
            .iter()
            .filter(|p| !p.is_multipart && !p.section.is_empty())
            .map(|p| &raw.as_bytes()[p.header.0 as usize..p.header.1 as usize])
            .collect();
        let stored = from_stored(&raw.as_bytes()[..fd.header_len as usize], headers);
        assert_eq!(Some(stored), fd.summary);
        assert!(fd.summary.is_some_and(|s| s.attachment));
    }
}
