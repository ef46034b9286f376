//! Response codes (`resp-text-code`, RFC 9051 §7.1 and §9, and the extensions'), typed: every
//! code the server sends is a variant here and is written by [`Code::write`] alone, so a new
//! extension adds its codes in one place and a misspelt code does not compile.

use std::fmt;

/// A response code, the bracketed part of `OK [code] text` / `NO [code] text`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// RFC 9051 §7.1: the text must be shown to the user.
    Alert,
    /// RFC 5530 §3: the mailbox already exists.
    AlreadyExists,
    /// RFC 4315 §3 (UIDPLUS): the UIDVALIDITY and the UIDs APPEND gave the new messages.
    AppendUid { uidvalidity: u32, uids: Vec<u32> },
    /// RFC 5530 §3: wrong credentials.
    AuthenticationFailed,
    /// RFC 5530 §3: right credentials, but not for the identity asked for.
    AuthorizationFailed,
    /// RFC 4469 §4.1 (CATENATE): a URL of the APPEND that could not be used, as the client sent
    /// it (not empty).
    BadUrl(Vec<u8>),
    /// RFC 9051 §7.1: the charsets the server supports.
    BadCharset(Vec<&'static str>),
    /// RFC 5465 §5.1 (NOTIFY): the events the server supports.
    BadEvent(Vec<&'static str>),
    /// RFC 5530 §3: the operation violates a rule of the server.
    Cannot,
    /// RFC 9051 §7.1: the capability list (space-separated atoms).
    Capability(String),
    /// RFC 7162 §3.2.11: the previously selected mailbox is closed.
    Closed,
    /// RFC 4978 §3: COMPRESS is already active.
    CompressionActive,
    /// RFC 4315 §3 (UIDPLUS): COPY / MOVE's source and destination UIDs, position by position.
    CopyUid { uidvalidity: u32, source: Vec<u32>, destination: Vec<u32> },
    /// RFC 5530 §3: the mailbox has children (DELETE).
    HasChildren,
    /// RFC 7162 §3.1.2.1: the highest mod-sequence of the mailbox.
    HighestModseq(u64),
    /// RFC 5530 §3: a limit of the server is reached.
    Limit,
    /// RFC 8474 §4.1: the MAILBOXID of a new mailbox (an objectid, e.g. `M42`).
    MailboxId(String),
    /// RFC 7162 §3.1.3: messages a conditional STORE did not change (UIDs or numbers, ascending).
    Modified(Vec<u32>),
    /// RFC 7162 §3.1.2.2: the mailbox does not keep mod-sequences.
    NoModseq,
    /// RFC 5530 §3: the mailbox (or quota root) does not exist.
    NonExistent,
    /// RFC 5530 §3: no permission.
    NoPerm,
    /// RFC 5465 §5.8: NOTIFY could not keep up and is off.
    NotificationOverflow,
    /// RFC 5267 §4.3.1: an updating search (its tag) is not kept up to date.
    NoUpdate(String),
    /// RFC 9208 §4.3 (QUOTA): over quota.
    OverQuota,
    /// RFC 9051 §7.1: the message could not be parsed.
    Parse,
    /// RFC 9051 §7.1: the flags that can be changed permanently (`\*`: new keywords too).
    PermanentFlags(Vec<String>),
    /// RFC 5530 §3: needs TLS first.
    PrivacyRequired,
    /// RFC 9051 §7.1: the mailbox is selected read-only.
    ReadOnly,
    /// RFC 9051 §7.1: the mailbox is selected read-write.
    ReadWrite,
    /// RFC 5530 §3: a fault of the server.
    ServerBug,
    /// RFC 4469 §5 / RFC 7889 §4: the message or command is too big.
    TooBig,
    /// RFC 9051 §7.1: the target mailbox does not exist but may be created.
    TryCreate,
    /// RFC 9051 §7.1: the next UID.
    UidNext(u32),
    /// RFC 9051 §7.1: the mailbox's UIDVALIDITY.
    UidValidity(u32),
    /// RFC 5530 §3: temporary failure; try again later.
    Unavailable,
    /// RFC 3516 §4.3 (BINARY): a content transfer encoding the server cannot decode.
    UnknownCte,
    /// RFC 3501 §7.1: the first unseen message's sequence number (IMAP4rev1).
    Unseen(u32),
    /// RFC 6154 §6: a special use the server does not support.
    UseAttr,
    /// docs/mapi-extension.md §13: a command not allowed on the backchannel (`BAD`).
    XBackchannel,
    /// docs/mapi-extension.md §13: a heartbeat was not acknowledged in time (`BYE`).
    XNoAck,
    /// docs/mapi-extension.md §13: the connection was replaced on purpose (`BYE`).
    XReplaced,
    /// docs/mapi-extension.md §13: a sync state or epoch is not valid here (`NO`).
    XRestart,
    /// docs/mapi-extension.md §13: the session ended, its token revoked (`BYE`).
    XRevoked,
}

impl Code {
    /// Writes the code without its brackets: `APPENDUID 38505 3955`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let atom = |out: &mut Vec<u8>, a: &str| out.extend_from_slice(a.as_bytes());
        let list = |out: &mut Vec<u8>, name: &str, items: &[&str]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b" (");
            out.extend_from_slice(items.join(" ").as_bytes());
            out.push(b')');
        };
        match self {
            Code::Alert => atom(out, "ALERT"),
            Code::AlreadyExists => atom(out, "ALREADYEXISTS"),
            Code::AppendUid { uidvalidity, uids } => {
                out.extend_from_slice(format!("APPENDUID {uidvalidity} ").as_bytes());
                number_set(out, uids);
            }
            Code::AuthenticationFailed => atom(out, "AUTHENTICATIONFAILED"),
            Code::AuthorizationFailed => atom(out, "AUTHORIZATIONFAILED"),
            Code::BadUrl(url) => {
                // RFC 4469 §5 (with erratum 2002): `"BADURL" SP url-resp-text`, url-resp-text =
                // 1*(%x01-09 / %x0B-0C / %x0E-5C / %x5E-FE): the octets it leaves out (NUL, CR,
                // LF, "]", 0xFF) are %-encoded (RFC 3986 §2.1), as a URL would carry them.
                out.extend_from_slice(b"BADURL ");
                for &b in url {
                    if matches!(b, 0 | b'\r' | b'\n' | b']' | 0xFF) {
                        out.extend_from_slice(format!("%{b:02X}").as_bytes());
                    } else {
                        out.push(b);
                    }
                }
                if url.is_empty() {
                    // Never built so; an empty url-resp-text would end the code early.
                    out.extend_from_slice(b"%00");
                }
            }
            Code::BadCharset(charsets) => list(out, "BADCHARSET", charsets),
            Code::BadEvent(events) => list(out, "BADEVENT", events),
            Code::Cannot => atom(out, "CANNOT"),
            Code::Capability(caps) => {
                out.extend_from_slice(b"CAPABILITY ");
                out.extend_from_slice(caps.as_bytes());
            }
            Code::Closed => atom(out, "CLOSED"),
            Code::CompressionActive => atom(out, "COMPRESSIONACTIVE"),
            Code::CopyUid { uidvalidity, source, destination } => {
                out.extend_from_slice(format!("COPYUID {uidvalidity} ").as_bytes());
                number_set(out, source);
                out.push(b' ');
                number_set(out, destination);
            }
            Code::HasChildren => atom(out, "HASCHILDREN"),
            Code::HighestModseq(m) => out.extend_from_slice(format!("HIGHESTMODSEQ {m}").as_bytes()),
            Code::Limit => atom(out, "LIMIT"),
            Code::MailboxId(id) => out.extend_from_slice(format!("MAILBOXID ({id})").as_bytes()),
            Code::Modified(set) => {
                out.extend_from_slice(b"MODIFIED ");
                number_set(out, set);
            }
            Code::NoModseq => atom(out, "NOMODSEQ"),
            Code::NonExistent => atom(out, "NONEXISTENT"),
            Code::NoPerm => atom(out, "NOPERM"),
            Code::NotificationOverflow => atom(out, "NOTIFICATIONOVERFLOW"),
            Code::NoUpdate(tag) => {
                // RFC 5267 §5: `"NOUPDATE" SP quoted`; a tag holds no quoted-specials.
                out.extend_from_slice(format!("NOUPDATE \"{tag}\"").as_bytes());
            }
            Code::OverQuota => atom(out, "OVERQUOTA"),
            Code::Parse => atom(out, "PARSE"),
            Code::PermanentFlags(flags) => {
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                list(out, "PERMANENTFLAGS", &flags)
            }
            Code::PrivacyRequired => atom(out, "PRIVACYREQUIRED"),
            Code::ReadOnly => atom(out, "READ-ONLY"),
            Code::ReadWrite => atom(out, "READ-WRITE"),
            Code::ServerBug => atom(out, "SERVERBUG"),
            Code::TooBig => atom(out, "TOOBIG"),
            Code::TryCreate => atom(out, "TRYCREATE"),
            Code::UidNext(n) => out.extend_from_slice(format!("UIDNEXT {n}").as_bytes()),
            Code::UidValidity(n) => out.extend_from_slice(format!("UIDVALIDITY {n}").as_bytes()),
            Code::Unavailable => atom(out, "UNAVAILABLE"),
            Code::UnknownCte => atom(out, "UNKNOWN-CTE"),
            Code::Unseen(n) => out.extend_from_slice(format!("UNSEEN {n}").as_bytes()),
            Code::UseAttr => atom(out, "USEATTR"),
            Code::XBackchannel => atom(out, "XBACKCHANNEL"),
            Code::XNoAck => atom(out, "XNOACK"),
            Code::XReplaced => atom(out, "XREPLACED"),
            Code::XRestart => atom(out, "XRESTART"),
            Code::XRevoked => atom(out, "XREVOKED"),
        }
    }

    /// `* OK [code] text\r\n`: an untagged status response carrying the code.
    pub fn untagged_ok(&self, out: &mut Vec<u8>, text: &str) {
        self.untagged(out, "OK", text);
    }

    /// `* status [code] text\r\n` (`status`: OK, NO, BAD or BYE, RFC 9051 §7.1).
    pub fn untagged(&self, out: &mut Vec<u8>, status: &str, text: &str) {
        out.extend_from_slice(b"* ");
        out.extend_from_slice(status.as_bytes());
        out.extend_from_slice(b" [");
        self.write(out);
        out.extend_from_slice(b"] ");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// Writes numbers as a compact sequence set, runs of consecutive numbers as `a:b`: `1:3,7,9:10`
/// (RFC 9051 §9 `sequence-set`; RFC 4315 `uid-set`). Numbers are written in the order given.
pub fn number_set(out: &mut Vec<u8>, numbers: &[u32]) {
    let mut i = 0;
    let mut first = true;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && end.checked_add(1) == Some(numbers[i + 1]) {
            i += 1;
            end = numbers[i];
        }
        if !first {
            out.push(b',');
        }
        first = false;
        if start == end {
            out.extend_from_slice(start.to_string().as_bytes());
        } else {
            out.extend_from_slice(format!("{start}:{end}").as_bytes());
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_the_rfcs_spell_them() {
        let cases = [
            (Code::AppendUid { uidvalidity: 38505, uids: vec![3955] }, "APPENDUID 38505 3955"),
            (
                Code::CopyUid {
                    uidvalidity: 38505,
                    source: vec![304, 319, 320],
                    destination: vec![3956, 3957, 3958],
                },
                "COPYUID 38505 304,319:320 3956:3958",
            ),
            (Code::BadCharset(vec!["UTF-8", "US-ASCII"]), "BADCHARSET (UTF-8 US-ASCII)"),
            (Code::MailboxId("M42".into()), "MAILBOXID (M42)"),
            (Code::Modified(vec![7, 9]), "MODIFIED 7,9"),
            (Code::NoUpdate("B2".into()), "NOUPDATE \"B2\""),
            (Code::ReadOnly, "READ-ONLY"),
            (Code::UnknownCte, "UNKNOWN-CTE"),
            (Code::PermanentFlags(vec!["\\Seen".into(), "\\*".into()]), "PERMANENTFLAGS (\\Seen \\*)"),
            (Code::HighestModseq(715194045007), "HIGHESTMODSEQ 715194045007"),
            // RFC 4469 §5 (erratum 4046): the URL bare, not an astring; "]" and line ends encoded.
            (
                Code::BadUrl(b"/INBOX;UIDVALIDITY=785799047/;UID=113330".to_vec()),
                "BADURL /INBOX;UIDVALIDITY=785799047/;UID=113330",
            ),
            (Code::BadUrl(b"/a]b\r\nc\\\"d".to_vec()), "BADURL /a%5Db%0D%0Ac\\\"d"),
            (Code::XBackchannel, "XBACKCHANNEL"),
            (Code::XNoAck, "XNOACK"),
            (Code::XReplaced, "XREPLACED"),
            (Code::XRestart, "XRESTART"),
            (Code::XRevoked, "XREVOKED"),
        ];
        for (code, want) in cases {
            assert_eq!(code.to_string(), want);
        }
        let mut out = Vec::new();
        Code::UidNext(5).untagged_ok(&mut out, "predicted next UID");
        assert_eq!(out, b"* OK [UIDNEXT 5] predicted next UID\r\n");
    }

    #[test]
    fn sets_compact_runs() {
        let mut out = Vec::new();
        number_set(&mut out, &[1, 2, 3, 7, 9, 10, u32::MAX]);
        assert_eq!(out, b"1:3,7,9:10,4294967295");
    }
}
