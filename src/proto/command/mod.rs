//! Typed IMAP commands: what `proto::parse` produces and the command handlers consume.
//!
//! Every wrapper type here is checked when it is built (`TryFrom`, `new` returning `Option` or
//! `Result`), so a handler never validates a tag, a mailbox name, a sequence set or a flag again
//! (STYLE.md §3). Grammar references are to RFC 9051 §9 unless another RFC is named.
//!
//! Strings the client sends to be matched against messages (SEARCH keys) are kept as the raw bytes
//! received, in the charset named by the command's `CHARSET` (`None` meaning US-ASCII / UTF-8): the
//! search handler decides which charsets it supports (`NO [BADCHARSET]`).

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::ops::{Deref, Range};

/// Why a value could not become one of the checked types of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    /// What was being built, e.g. `"tag"` or `"mailbox name"`.
    pub what: &'static str,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.what)
    }
}

impl std::error::Error for InvalidValue {}

fn invalid<T>(what: &'static str) -> Result<T, InvalidValue> {
    Err(InvalidValue { what })
}

mod catenate;
mod compress;
mod core;
mod datetime;
mod fetch;
mod flag;
mod mailbox;
mod mapi;
mod notify;
mod quota;
mod search;
mod sequence;
mod xsync;

pub use catenate::*;
pub use compress::*;
pub use core::*;
pub use datetime::*;
pub use fetch::*;
pub use flag::*;
pub use mailbox::*;
pub use mapi::*;
pub use notify::*;
pub use quota::*;
pub use search::*;
pub use sequence::*;
pub use xsync::*;

// Commands

/// A parsed command: `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub tag: Tag,
    pub body: CommandBody,
}

/// The commands applianced understands. Which session state allows which is decided by the
/// session (STYLE.md §5), not here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody {
    // command-any
    Capability,
    Noop,
    Logout,
    /// RFC 2971
    Id {
        /// `None` for `ID NIL`.
        parameters: Option<Vec<(String, Option<String>)>>,
    },
    // command-nonauth
    StartTls,
    /// `AUTHENTICATE mech [initial-response]` (RFC 4959 SASL-IR); `=` gives an empty response.
    Authenticate {
        mechanism: Atom,
        initial_response: Option<Secret>,
    },
    Login {
        username: String,
        password: Secret,
    },
    // command-auth
    Enable {
        capabilities: NonEmpty<Atom>,
    },
    Namespace,
    Select {
        mailbox: MailboxName,
        params: SelectParams,
    },
    Examine {
        mailbox: MailboxName,
        params: SelectParams,
    },
    Create {
        mailbox: MailboxName,
        special_use: Vec<SpecialUse>,
    },
    Delete {
        mailbox: MailboxName,
    },
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe {
        mailbox: MailboxName,
    },
    Unsubscribe {
        mailbox: MailboxName,
    },
    /// LIST, with LIST-EXTENDED (RFC 5258) options; a plain RFC 3501 LIST has one pattern and
    /// no options. Reference and patterns are decoded like mailbox names but may be empty and
    /// hold wildcards.
    List {
        select: Vec<ListSelect>,
        reference: String,
        patterns: NonEmpty<String>,
        returns: Vec<ListReturn>,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status {
        mailbox: MailboxName,
        attributes: NonEmpty<StatusAttribute>,
    },
    Append {
        mailbox: MailboxName,
        messages: NonEmpty<AppendMessage>,
    },
    Idle,
    /// RFC 5465
    Notify {
        /// `None` for `NOTIFY NONE`.
        set: Option<NotifySet>,
    },
    /// RFC 4978
    Compress {
        algorithm: CompressionAlgorithm,
    },
    /// RFC 9208
    GetQuota {
        root: String,
    },
    GetQuotaRoot {
        mailbox: MailboxName,
    },
    SetQuota {
        root: String,
        limits: Vec<(QuotaResource, u64)>,
    },
    /// docs/mapi-extension.md §7: `None` for the empty state `""`.
    XSync {
        mailbox: MailboxRef,
        state: Option<String>,
        options: SyncOptions,
    },
    /// docs/mapi-extension.md §8.
    XHierarchy {
        state: Option<String>,
    },
    // command-select
    /// RFC 3501 only.
    Check,
    Close,
    Unselect,
    Expunge,
    /// RFC 5267 §4.3.5: `CANCELUPDATE "tag" ...`, the tags of updating searches.
    CancelUpdate {
        tags: NonEmpty<String>,
    },
    /// RFC 4315 / RFC 9051 `UID EXPUNGE`
    UidExpunge {
        set: SequenceSet,
    },
    Search {
        uid: bool,
        /// `None`: a classic SEARCH; `Some`: ESEARCH with these options (`RETURN ()` is `[All]`).
        returns: Option<Vec<SearchReturn>>,
        charset: Option<String>,
        /// Several top-level keys are given as `SearchKey::And`.
        criteria: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        attributes: NonEmpty<FetchAttribute>,
        modifiers: Vec<FetchModifier>,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        action: StoreAction,
        modifiers: Vec<StoreModifier>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// RFC 6851
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// RFC 5256, with RFC 5267 ESORT `RETURN`.
    Sort {
        uid: bool,
        returns: Option<Vec<SearchReturn>>,
        criteria: NonEmpty<SortCriterion>,
        charset: String,
        search: SearchKey,
    },
    /// RFC 5256
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: String,
        search: SearchKey,
    },
    /// docs/mapi-extension.md §4.1, §4.4, §4.5.
    XSession {
        op: XSessionOp,
    },
    /// docs/mapi-extension.md §4.2.
    XJoin {
        username: String,
        token: Token,
        replace: Option<ConnId>,
    },
    /// docs/mapi-extension.md §5.1.
    XBackchannel(XBackchannelArgs),
    /// docs/mapi-extension.md §6: `XACK hb-id change-number`.
    XAck {
        heartbeat: u64,
        applied: u64,
    },
}

impl CommandBody {
    /// The first mailbox name of the command that is not valid modified UTF-7
    /// ([`MailboxName::is_not_modified_utf7`]), and whether the command would create a mailbox
    /// of that name (CREATE, RENAME's new name) rather than use an existing one. SELECT and
    /// EXAMINE are left to their handler, which closes the selected mailbox first.
    pub fn name_not_modified_utf7(&self) -> Option<(&MailboxName, bool)> {
        use CommandBody as C;
        let (name, creates) = match self {
            C::Create { mailbox, .. } => (mailbox, true),
            C::Rename { from, to } => {
                if from.is_not_modified_utf7() {
                    (from, false)
                } else {
                    (to, true)
                }
            }
            C::Delete { mailbox }
            | C::Subscribe { mailbox }
            | C::Unsubscribe { mailbox }
            | C::Status { mailbox, .. }
            | C::Append { mailbox, .. }
            | C::GetQuotaRoot { mailbox }
            | C::Copy { mailbox, .. }
            | C::Move { mailbox, .. } => (mailbox, false),
            _ => return None,
        };
        name.is_not_modified_utf7().then_some((name, creates))
    }

    /// The command's name as a client writes it, for logs and response texts.
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::Id { .. } => "ID",
            C::StartTls => "STARTTLS",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Login { .. } => "LOGIN",
            C::Enable { .. } => "ENABLE",
            C::Namespace => "NAMESPACE",
            C::Select { .. } => "SELECT",
            C::Examine { .. } => "EXAMINE",
            C::Create { .. } => "CREATE",
            C::Delete { .. } => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Subscribe { .. } => "SUBSCRIBE",
            C::Unsubscribe { .. } => "UNSUBSCRIBE",
            C::List { .. } => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Status { .. } => "STATUS",
            C::Append { .. } => "APPEND",
            C::Idle => "IDLE",
            C::Notify { .. } => "NOTIFY",
            C::Compress { .. } => "COMPRESS",
            C::GetQuota { .. } => "GETQUOTA",
            C::GetQuotaRoot { .. } => "GETQUOTAROOT",
            C::SetQuota { .. } => "SETQUOTA",
            C::XSync { .. } => "XSYNC",
            C::XHierarchy { .. } => "XHIERARCHY",
            C::Check => "CHECK",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::CancelUpdate { .. } => "CANCELUPDATE",
            C::Expunge => "EXPUNGE",
            C::UidExpunge { .. } => "UID EXPUNGE",
            C::Search { uid: false, .. } => "SEARCH",
            C::Search { uid: true, .. } => "UID SEARCH",
            C::Fetch { uid: false, .. } => "FETCH",
            C::Fetch { uid: true, .. } => "UID FETCH",
            C::Store { uid: false, .. } => "STORE",
            C::Store { uid: true, .. } => "UID STORE",
            C::Copy { uid: false, .. } => "COPY",
            C::Copy { uid: true, .. } => "UID COPY",
            C::Move { uid: false, .. } => "MOVE",
            C::Move { uid: true, .. } => "UID MOVE",
            C::Sort { uid: false, .. } => "SORT",
            C::Sort { uid: true, .. } => "UID SORT",
            C::Thread { uid: false, .. } => "THREAD",
            C::Thread { uid: true, .. } => "UID THREAD",
            C::XSession { op: XSessionOp::Create } => "XSESSION",
            C::XSession { op: XSessionOp::Status } => "XSESSION STATUS",
            C::XSession { op: XSessionOp::End } => "XSESSION END",
            C::XJoin { .. } => "XJOIN",
            C::XBackchannel(_) => "XBACKCHANNEL",
            C::XAck { .. } => "XACK",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_atoms() {
        assert!(Tag::try_from("a001").is_ok());
        assert!(Tag::try_from("A.1]x").is_ok());
        for bad in ["", "a+1", "a b", "a(", "a{", "a\"", "a%", "a*", "a\\"] {
            assert!(Tag::try_from(bad).is_err(), "{bad}");
        }
        assert!(Tag::try_from(&b"a\x01"[..]).is_err());
        assert!(Tag::try_from(&b"\xc3\xa9"[..]).is_err());
        assert!(Atom::try_from("AUTH=PLAIN").is_ok());
        assert!(Atom::try_from("a]").is_err());
        assert!(Atom::try_from("CONDSTORE").unwrap().is("condstore"));
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(MailboxName::new("inbox").unwrap().as_str(), "INBOX");
        assert!(MailboxName::new("InBoX").unwrap().is_inbox());
        assert_eq!(MailboxName::new("inbox/Sub").unwrap().as_str(), "inbox/Sub");
        assert!(MailboxName::new("").is_err());
        assert!(MailboxName::new("a\nb").is_err());
        assert!(MailboxName::new("a\u{85}b").is_err());
        assert_eq!(MailboxName::from_wire(b"Entw&APw-rfe", false).unwrap().as_str(), "Entwürfe");
        assert_eq!(MailboxName::from_wire(b"Entw&APw-rfe", true).unwrap().as_str(), "Entw&APw-rfe");
        assert_eq!(MailboxName::from_wire("Entwürfe".as_bytes(), false).unwrap().as_str(), "Entwürfe");
        assert!(MailboxName::from_wire(b"\xff", true).is_err());
    }

    #[test]
    fn modified_utf7_rfc3501_examples() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode_modified_utf7(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode_modified_utf7(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
        assert_eq!(decode_modified_utf7(b"Fish &- Chips").unwrap(), "Fish & Chips");
        assert_eq!(encode_modified_utf7("Fish & Chips"), "Fish &- Chips");
        // Astral plane (surrogate pair) round trip.
        let emoji = "mail \u{1F4E7} box";
        assert_eq!(decode_modified_utf7(encode_modified_utf7(emoji).as_bytes()).unwrap(), emoji);
        for bad in [&b"&"[..], b"a&Jjo", b"&Jj!-", b"&U-", b"&2D0-", b"&AGE"] {
            assert!(decode_modified_utf7(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn flags() {
        assert_eq!(Flag::try_from("\\seen").unwrap(), Flag::Seen);
        assert_eq!(Flag::try_from("\\DRAFT").unwrap(), Flag::Draft);
        assert_eq!(Flag::try_from("$Forwarded").unwrap().to_string(), "$Forwarded");
        assert_eq!(Flag::try_from("\\Recent").unwrap(), Flag::Extension(Atom::try_from("Recent").unwrap()));
        assert!(Flag::try_from("\\").is_err());
        assert!(Flag::try_from("a b").is_err());
        assert!(Flag::try_from("\\\\x").is_err());
    }

    #[test]
    fn sequence_sets() {
        let n = |v| SeqNumber::Number(NonZeroU32::new(v).unwrap());
        let set = SequenceSet::Ranges(
            NonEmpty::try_from(vec![SeqRange { start: n(5), end: n(2) }, SeqRange::single(SeqNumber::Last)])
                .unwrap(),
        );
        assert_eq!(set.contains(3, 10), Some(true));
        assert_eq!(set.contains(10, 10), Some(true));
        assert_eq!(set.contains(7, 10), Some(false));
        assert_eq!(SequenceSet::Saved.contains(1, 1), None);
        assert!(NumberSet::new(vec![]).is_err());
        let known = NumberSet::new(vec![(NonZeroU32::new(9).unwrap(), NonZeroU32::new(3).unwrap())]).unwrap();
        assert!(known.contains(4) && !known.contains(10));
        assert_eq!(ModSeq::new(0), None);
        assert_eq!(ModSeq::new(ModSeq::MAX + 1), None);
        assert_eq!(ModSeq::new(ModSeq::MAX).map(ModSeq::get), Some(ModSeq::MAX));
    }

    #[test]
    fn dates() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(0, 1, 1).is_none());
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        for days in [-719_162, -1, 0, 59, 60, 11_016, 20_786, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            let date = Date::new(y as u16, m as u8, d as u8).unwrap();
            assert_eq!(date.days_since_epoch(), days, "{date:?}");
        }
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        // RFC 9051 §6.3.12 example date: 7-Feb-1994 21:52:25 -0800 = 1994-02-08 05:52:25 UTC.
        let dt = DateTime::new(Date::new(1994, 2, 7).unwrap(), 21, 52, 25, -480).unwrap();
        assert_eq!(dt.unix_timestamp(), 760_686_745);
        assert!(DateTime::new(Date::new(1994, 2, 7).unwrap(), 24, 0, 0, 0).is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<7 bytes>)");
        assert_eq!(s.expose(), b"hunter2");
    }
}
