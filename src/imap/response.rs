//! Pieces of server responses shared by the command handlers: flag lists, UID sets, status
//! lines. Strings go through `proto::string`, which picks quoted or literal forms.

use crate::store::flag;

/// The system flags as IMAP atoms, in bit order.
pub const SYSTEM_FLAGS: [(u8, &str); 5] = [
    (flag::SEEN, "\\Seen"),
    (flag::ANSWERED, "\\Answered"),
    (flag::FLAGGED, "\\Flagged"),
    (flag::DELETED, "\\Deleted"),
    (flag::DRAFT, "\\Draft"),
];

/// Writes a flag list: `(\Seen \Flagged $Forwarded)`, with `\Recent` when asked.
pub fn flags(out: &mut Vec<u8>, bits: u8, keywords: &[String], recent: bool) {
    out.push(b'(');
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    for (bit, name) in SYSTEM_FLAGS {
        if bits & bit != 0 {
            sep(out);
            out.extend_from_slice(name.as_bytes());
        }
    }
    if recent {
        sep(out);
        out.extend_from_slice(b"\\Recent");
    }
    for k in keywords {
        sep(out);
        out.extend_from_slice(k.as_bytes());
    }
    out.push(b')');
}

/// The keywords a session has announced for its selected mailbox: the system flags at SELECT,
/// then each keyword the first time a response would show it. RFC 9051 §7.3.5 (RFC 3501
/// §7.2.6): a FETCH may show only flags that an untagged FLAGS listed, so a keyword that another
/// session (or this one) put into the mailbox is announced with `* FLAGS` and `* OK
/// [PERMANENTFLAGS]` just before the first response that shows it. The cost is per new keyword,
/// never a scan of the mailbox.
#[derive(Clone, Debug, Default)]
pub struct Keywords {
    announced: std::collections::BTreeSet<String>,
}

impl Keywords {
    /// `* FLAGS (...)` with the system flags and the keywords announced so far.
    pub fn write_flags(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* FLAGS (");
        out.extend_from_slice(self.flag_list().join(" ").as_bytes());
        out.extend_from_slice(b")\r\n");
    }

    /// `* OK [PERMANENTFLAGS (...)]`: what can be stored for good; `\*` (new keywords too) unless
    /// the mailbox is read-only, which permits nothing (RFC 9051 §7.1).
    pub fn write_permanent(&self, out: &mut Vec<u8>, read_only: bool) {
        let flags = if read_only {
            Vec::new()
        } else {
            let mut f: Vec<String> = self.flag_list().into_iter().map(String::from).collect();
            f.push("\\*".into());
            f
        };
        crate::proto::code::Code::PermanentFlags(flags).untagged_ok(out, "flags permitted");
    }

    fn flag_list(&self) -> Vec<&str> {
        let mut v: Vec<&str> = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"].to_vec();
        v.extend(self.announced.iter().map(String::as_str));
        v
    }

    /// Before a response that shows `keywords`: announces those not announced yet.
    pub fn announce(&mut self, keywords: &[String], read_only: bool, out: &mut Vec<u8>) {
        let mut new = false;
        for k in keywords {
            if !self.announced.contains(k) {
                self.announced.insert(k.clone());
                new = true;
            }
        }
        if new {
            self.write_flags(out);
            self.write_permanent(out, read_only);
        }
    }
}

/// `* ESEARCH (TAG "tag")` and ` UID` for a UID command: the start of every ESEARCH response,
/// correlated to its command (RFC 4731 §3.1, RFC 4466 search-correlator).
pub fn esearch_start(out: &mut Vec<u8>, tag: &str, uid: bool) {
    out.extend_from_slice(format!("* ESEARCH (TAG \"{tag}\")").as_bytes());
    if uid {
        out.extend_from_slice(b" UID");
    }
}

pub use crate::proto::code::number_set;

/// `* VANISHED [(EARLIER)] uids` (RFC 7162 §3.2.10).
pub fn vanished(out: &mut Vec<u8>, sorted_uids: &[u32], earlier: bool) {
    if sorted_uids.is_empty() {
        return;
    }
    out.extend_from_slice(if earlier { b"* VANISHED (EARLIER) " } else { b"* VANISHED " });
    number_set(out, sorted_uids);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_lists_and_sets() {
        let mut out = Vec::new();
        flags(&mut out, flag::SEEN | flag::DELETED, &["$Forwarded".into()], true);
        assert_eq!(out, b"(\\Seen \\Deleted \\Recent $Forwarded)");
        let mut out = Vec::new();
        flags(&mut out, 0, &[], false);
        assert_eq!(out, b"()");
        let mut out = Vec::new();
        number_set(&mut out, &[1, 2, 3, 7, 9, 10]);
        assert_eq!(out, b"1:3,7,9:10");
    }
}
