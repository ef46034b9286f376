//! The MAPI extension's responses, typed, for a connector (docs/mapi-extension.md §15): what
//! XSYNC and XHIERARCHY send, read from the generic untagged responses of
//! [`crate::proto::response`]. No IO.
//!
//! ```
//! use applianced::client::mapi::{SyncItem, sync_item};
//! use applianced::client::response::{Response, parse};
//!
//! let line = b"* XSTATE AWVT8QAA MODSEQ 250112 REMAINING 99800\r\n";
//! let Ok(Response::Untagged(u)) = parse(line) else { panic!() };
//! let Some(Ok(SyncItem::State { state, modseq, remaining, complete })) = sync_item(&u) else { panic!() };
//! assert_eq!((state.as_str(), modseq, remaining, complete), ("AWVT8QAA", 250112, 99800, false));
//! ```

use super::response::{Untagged, Value};

/// A message summary (§9), as far as the fields asked for go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub flags: Vec<String>,
    pub modseq: u64,
    pub internal_date: Option<String>,
    pub size: Option<u64>,
    pub email_id: Option<String>,
    pub thread_id: Option<String>,
    /// (display name, address) of the first From address.
    pub from: Option<(Option<String>, String)>,
    pub to: Option<(Option<String>, String)>,
    pub subject: Option<String>,
    pub attachment: Option<bool>,
    /// More than FLAGS and MODSEQ came: a new message's summary, not a change of a held one.
    pub full: bool,
}

/// One item of an XSYNC run (§7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncItem {
    /// `* XSYNC mbox (counts)`: the folder's MAILBOXID and counts when the run began.
    Header {
        mailbox: String,
        counts: Vec<(String, u64)>,
    },
    Msg {
        uid: u32,
        summary: Box<Summary>,
    },
    Vanished {
        modseq: u64,
        uids: Vec<u32>,
    },
    /// The end of a batch: the state to hand back, the MODSEQ the client now holds its
    /// messages as of, messages still to come (for display), and whether it holds them all.
    State {
        state: String,
        modseq: u64,
        remaining: u64,
        complete: bool,
    },
}

/// A folder as XMAILBOX and XFOLDER describe it (`folder-info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderInfo {
    pub attrs: Vec<String>,
    pub delimiter: Option<char>,
    /// The name as sent (UTF-8 after ENABLE UTF8=ACCEPT, else modified UTF-7).
    pub name: Vec<u8>,
    pub counts: Vec<(String, u64)>,
}

impl FolderInfo {
    pub fn count(&self, name: &str) -> Option<u64> {
        self.counts.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// One item of an XHIERARCHY answer (§8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HierarchyItem {
    /// `FULL` (drop every folder not listed) or `CHANGES`, and the snapshot's change number.
    Start {
        full: bool,
        change: u64,
    },
    /// A folder by MAILBOXID; `None` when it was deleted.
    Mailbox {
        id: String,
        info: Option<FolderInfo>,
    },
    State(String),
}

/// A response that should be one of this module's but is not well formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadResponse(pub String);

fn bad<T>(what: &str, rest: &[Value]) -> Result<T, BadResponse> {
    Err(BadResponse(format!("{what}: {rest:?}")))
}

fn text(v: &Value) -> Option<String> {
    v.as_bytes().map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn counts(v: &Value) -> Option<Vec<(String, u64)>> {
    let l = v.as_list()?;
    l.chunks(2).map(|p| Some((text(p.first()?)?.to_ascii_uppercase(), p.get(1)?.as_u64()?))).collect()
}

fn address(v: &Value) -> Option<(Option<String>, String)> {
    let l = v.as_list()?;
    let name = match l.first()? {
        Value::Nil => None,
        other => Some(text(other)?),
    };
    Some((name, text(l.get(1)?)?))
}

/// `summary = "(" summary-att *(SP summary-att) ")"`; unknown items are ignored (§2).
pub fn summary(v: &Value) -> Option<Summary> {
    let l = v.as_list()?;
    let mut s = Summary::default();
    for pair in l.chunks(2) {
        let [name, value] = pair else { return None };
        let name = text(name)?.to_ascii_uppercase();
        match name.as_str() {
            "FLAGS" => s.flags = value.as_list()?.iter().map(text).collect::<Option<_>>()?,
            "MODSEQ" => s.modseq = value.as_list()?.first()?.as_u64()?,
            "INTERNALDATE" => s.internal_date = text(value),
            "RFC822.SIZE" => s.size = value.as_u64(),
            "EMAILID" => s.email_id = value.as_list().and_then(|l| text(l.first()?)),
            "THREADID" => s.thread_id = value.as_list().and_then(|l| text(l.first()?)),
            "XFROM" => s.from = address(value),
            "XTO" => s.to = address(value),
            "XSUBJECT" => s.subject = if *value == Value::Nil { None } else { text(value) },
            "XATTACH" => s.attachment = Some(value.as_u64()? == 1),
            _ => {}
        }
        if name != "FLAGS" && name != "MODSEQ" {
            s.full = true;
        }
    }
    Some(s)
}

/// The item of an XSYNC run `u` is, `None` for another response.
pub fn sync_item(u: &Untagged) -> Option<Result<SyncItem, BadResponse>> {
    let Untagged::Other { keyword, number: None, rest } = u else { return None };
    Some(match keyword.as_str() {
        "XSYNC" => match rest.as_slice() {
            [id, c] => match (text(id), counts(c)) {
                (Some(mailbox), Some(counts)) => Ok(SyncItem::Header { mailbox, counts }),
                _ => bad("XSYNC", rest),
            },
            _ => bad("XSYNC", rest),
        },
        "XMSG" => match rest.as_slice() {
            [uid, s] => match (uid.as_u32(), summary(s)) {
                (Some(uid), Some(summary)) => Ok(SyncItem::Msg { uid, summary: Box::new(summary) }),
                _ => bad("XMSG", rest),
            },
            _ => bad("XMSG", rest),
        },
        "XVANISHED" => match rest.as_slice() {
            [m, set] => {
                let uids = text(set).and_then(|s| super::response::sequence_numbers(&s));
                match (m.as_u64(), uids) {
                    (Some(modseq), Some(uids)) => Ok(SyncItem::Vanished { modseq, uids }),
                    _ => bad("XVANISHED", rest),
                }
            }
            _ => bad("XVANISHED", rest),
        },
        "XSTATE" => {
            let state = rest.first().and_then(text);
            let after = |w: &str| {
                rest.iter()
                    .position(|v| text(v).is_some_and(|t| t.eq_ignore_ascii_case(w)))
                    .and_then(|i| rest.get(i + 1)?.as_u64())
            };
            let complete =
                rest.iter().skip(1).any(|v| text(v).is_some_and(|t| t.eq_ignore_ascii_case("COMPLETE")));
            match (state, after("MODSEQ"), after("REMAINING")) {
                (Some(state), Some(modseq), Some(remaining)) => {
                    Ok(SyncItem::State { state, modseq, remaining, complete })
                }
                _ => bad("XSTATE", rest),
            }
        }
        _ => return None,
    })
}

/// `folder-info = "(" [mbx-list-flags] ")" SP delimiter SP mailbox SP "(" status-att-list ")"`,
/// from the values it spans.
pub fn folder_info(v: &[Value]) -> Option<FolderInfo> {
    let [attrs, delim, name, c] = v else { return None };
    Some(FolderInfo {
        attrs: attrs.as_list()?.iter().map(text).collect::<Option<_>>()?,
        delimiter: match delim {
            Value::Nil => None,
            other => text(other)?.chars().next(),
        },
        name: name.as_bytes()?.into_owned(),
        counts: counts(c)?,
    })
}

/// The item of an XHIERARCHY answer `u` is, `None` for another response.
pub fn hierarchy_item(u: &Untagged) -> Option<Result<HierarchyItem, BadResponse>> {
    let Untagged::Other { keyword, number: None, rest } = u else { return None };
    Some(match keyword.as_str() {
        "XHIERARCHY" => match rest.as_slice() {
            [kind, _, change] => match (text(kind).map(|k| k.to_ascii_uppercase()), change.as_u64()) {
                (Some(k), Some(change)) if k == "FULL" || k == "CHANGES" => {
                    Ok(HierarchyItem::Start { full: k == "FULL", change })
                }
                _ => bad("XHIERARCHY", rest),
            },
            _ => bad("XHIERARCHY", rest),
        },
        "XMAILBOX" => match rest.split_first() {
            Some((id, [deleted])) if text(deleted).is_some_and(|d| d.eq_ignore_ascii_case("DELETED")) => {
                match text(id) {
                    Some(id) => Ok(HierarchyItem::Mailbox { id, info: None }),
                    None => bad("XMAILBOX", rest),
                }
            }
            Some((id, info)) => match (text(id), folder_info(info)) {
                (Some(id), Some(info)) => Ok(HierarchyItem::Mailbox { id, info: Some(info) }),
                _ => bad("XMAILBOX", rest),
            },
            None => bad("XMAILBOX", rest),
        },
        "XHSTATE" => match rest.first().and_then(text) {
            Some(s) => Ok(HierarchyItem::State(s)),
            None => bad("XHSTATE", rest),
        },
        _ => return None,
    })
}

/// What the backchannel sends (§5.2, §6): events, which carry a change number, and signals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `XNEW c mbox uid summary`
    New { change: u64, mailbox: String, uid: u32, summary: Box<Summary> },
    /// `XFLAGS c mbox uid (FLAGS (...) MODSEQ (m))`
    Flags { change: u64, mailbox: String, uid: u32, summary: Box<Summary> },
    /// `XEXPUNGE c mbox uid m`
    Expunge { change: u64, mailbox: String, uid: u32, modseq: u64 },
    /// `XFOLDER c mbox CREATED|CHANGED folder-info` (`Some`) or `DELETED` (`None`).
    Folder { change: u64, mailbox: String, info: Option<FolderInfo> },
    /// `XCHANGED c mbox m1 m2`: sync the folder to at least MODSEQ `m2`.
    Changed { change: u64, mailbox: String, to: u64 },
    /// `XRESYNC c mbox m` (`Some(mbox)`) or `XRESYNC c HIERARCHY` (`None`).
    Resync { change: u64, mailbox: Option<String> },
    /// `XCOUNTS c mbox (counts)`: for display.
    Counts { change: u64, mailbox: String, counts: Vec<(String, u64)> },
    /// `XLIVE c`
    Live(u64),
    /// `XHEARTBEAT id SENT s CURRENT c`
    Heartbeat { id: u64, sent: u64, current: u64 },
}

impl Event {
    /// The change number an event (not a signal) carries.
    pub fn change(&self) -> Option<u64> {
        match self {
            Event::New { change, .. }
            | Event::Flags { change, .. }
            | Event::Expunge { change, .. }
            | Event::Folder { change, .. }
            | Event::Changed { change, .. } => Some(*change),
            _ => None,
        }
    }
}

/// The backchannel response `u` is, `None` for another response.
pub fn event(u: &Untagged) -> Option<Result<Event, BadResponse>> {
    let Untagged::Other { keyword, number: None, rest } = u else { return None };
    let n = |i: usize| rest.get(i).and_then(Value::as_u64);
    let t = |i: usize| rest.get(i).and_then(text);
    let e = match keyword.as_str() {
        "XNEW" | "XFLAGS" => {
            match (n(0), t(1), rest.get(2).and_then(Value::as_u32), rest.get(3).and_then(summary)) {
                (Some(change), Some(mailbox), Some(uid), Some(s)) => {
                    let summary = Box::new(s);
                    if keyword == "XNEW" {
                        Event::New { change, mailbox, uid, summary }
                    } else {
                        Event::Flags { change, mailbox, uid, summary }
                    }
                }
                _ => return Some(bad(keyword, rest)),
            }
        }
        "XEXPUNGE" => match (n(0), t(1), rest.get(2).and_then(Value::as_u32), n(3)) {
            (Some(change), Some(mailbox), Some(uid), Some(modseq)) => {
                Event::Expunge { change, mailbox, uid, modseq }
            }
            _ => return Some(bad(keyword, rest)),
        },
        "XFOLDER" => match (n(0), t(1), t(2).map(|k| k.to_ascii_uppercase())) {
            (Some(change), Some(mailbox), Some(k)) if k == "DELETED" => {
                Event::Folder { change, mailbox, info: None }
            }
            (Some(change), Some(mailbox), Some(k)) if k == "CREATED" || k == "CHANGED" => {
                match folder_info(rest.get(3..).unwrap_or_default()) {
                    Some(info) => Event::Folder { change, mailbox, info: Some(info) },
                    None => return Some(bad(keyword, rest)),
                }
            }
            _ => return Some(bad(keyword, rest)),
        },
        "XCHANGED" => match (n(0), t(1), n(3)) {
            (Some(change), Some(mailbox), Some(to)) => Event::Changed { change, mailbox, to },
            _ => return Some(bad(keyword, rest)),
        },
        "XRESYNC" => match (n(0), t(1)) {
            (Some(change), Some(m)) if m.eq_ignore_ascii_case("HIERARCHY") => {
                Event::Resync { change, mailbox: None }
            }
            (Some(change), Some(m)) => Event::Resync { change, mailbox: Some(m) },
            _ => return Some(bad(keyword, rest)),
        },
        "XCOUNTS" => match (n(0), t(1), rest.get(2).and_then(counts)) {
            (Some(change), Some(mailbox), Some(counts)) => Event::Counts { change, mailbox, counts },
            _ => return Some(bad(keyword, rest)),
        },
        "XLIVE" => match n(0) {
            Some(c) => Event::Live(c),
            None => return Some(bad(keyword, rest)),
        },
        "XHEARTBEAT" => match (n(0), n(2), n(4)) {
            (Some(id), Some(sent), Some(current)) => Event::Heartbeat { id, sent, current },
            _ => return Some(bad(keyword, rest)),
        },
        _ => return None,
    };
    Some(Ok(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::response::{Response, parse};

    fn untagged(line: &str) -> Untagged {
        match parse(line.as_bytes()) {
            Ok(Response::Untagged(u)) => u,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_spec_examples_parse() {
        let u = untagged(
            "* XMSG 100310 (FLAGS () MODSEQ (250112) INTERNALDATE \"17-Jan-2025 09:12:44 +0100\" RFC822.SIZE 8123 \
             EMAILID (M551234) THREADID (T3f2a9c0d11e4b7a2) XFROM (\"Bob Example\" \"bob@example.org\") \
             XSUBJECT \"Re: quarterly numbers\" XATTACH 0 XFUTURE (1 2))\r\n",
        );
        let Some(Ok(SyncItem::Msg { uid, summary })) = sync_item(&u) else { panic!("{u:?}") };
        assert_eq!(uid, 100310);
        assert_eq!(summary.modseq, 250112);
        assert_eq!(summary.from, Some((Some("Bob Example".into()), "bob@example.org".into())));
        assert_eq!(summary.subject.as_deref(), Some("Re: quarterly numbers"));
        assert_eq!(summary.attachment, Some(false));
        assert!(summary.full);
        let u = untagged("* XMSG 5 (FLAGS (\\Seen $Work) MODSEQ (9))\r\n");
        let Some(Ok(SyncItem::Msg { summary, .. })) = sync_item(&u) else { panic!() };
        assert_eq!(summary.flags, ["\\Seen", "$Work"]);
        assert!(!summary.full);
        let u = untagged("* XVANISHED 77 3:5,9\r\n");
        assert_eq!(sync_item(&u), Some(Ok(SyncItem::Vanished { modseq: 77, uids: vec![3, 4, 5, 9] })));
        let u = untagged("* XSTATE 0abc MODSEQ 3 REMAINING 0 COMPLETE\r\n");
        assert_eq!(
            sync_item(&u),
            Some(Ok(SyncItem::State { state: "0abc".into(), modseq: 3, remaining: 0, complete: true }))
        );
        let u = untagged("* XSYNC M1 (MESSAGES 2 UIDNEXT 3)\r\n");
        assert!(matches!(sync_item(&u), Some(Ok(SyncItem::Header { .. }))));
        assert!(sync_item(&untagged("* XMSG x y\r\n")).is_some_and(|r| r.is_err()));
        assert_eq!(sync_item(&untagged("* 3 EXISTS\r\n")), None);
        let u = untagged("* XMAILBOX M12 (\\Subscribed) \"/\" \"Lists/rust\" (MESSAGES 7 UIDVALIDITY 9)\r\n");
        let Some(Ok(HierarchyItem::Mailbox { id, info: Some(info) })) = hierarchy_item(&u) else { panic!() };
        assert_eq!(
            (id.as_str(), info.name.as_slice(), info.delimiter),
            ("M12", &b"Lists/rust"[..], Some('/'))
        );
        assert_eq!(info.count("messages"), Some(7));
        let u = untagged("* XMAILBOX M9 DELETED\r\n");
        assert_eq!(hierarchy_item(&u), Some(Ok(HierarchyItem::Mailbox { id: "M9".into(), info: None })));
        let u = untagged("* XNEW 4501 M7 4711 (FLAGS () MODSEQ (9001) XSUBJECT \"Invoice\" XATTACH 1)\r\n");
        let Some(Ok(Event::New { change, mailbox, uid, summary })) = event(&u) else { panic!("{u:?}") };
        assert_eq!((change, mailbox.as_str(), uid, summary.modseq), (4501, "M7", 4711, 9001));
        let u = untagged(
            "* XFOLDER 4540 M31 CREATED (\\Subscribed) \"/\" \"Projects/2025\" (MESSAGES 0 UIDNEXT 1)\r\n",
        );
        let Some(Ok(Event::Folder { info: Some(info), .. })) = event(&u) else { panic!("{u:?}") };
        assert_eq!(info.name, b"Projects/2025");
        assert_eq!(
            event(&untagged("* XFOLDER 4542 M31 DELETED\r\n")),
            Some(Ok(Event::Folder { change: 4542, mailbox: "M31".into(), info: None }))
        );
        assert_eq!(
            event(&untagged("* XEXPUNGE 4650 M1 100001 250177\r\n")),
            Some(Ok(Event::Expunge { change: 4650, mailbox: "M1".into(), uid: 100001, modseq: 250177 }))
        );
        assert_eq!(
            event(&untagged("* XCHANGED 54650 M9 60000 110000\r\n")),
            Some(Ok(Event::Changed { change: 54650, mailbox: "M9".into(), to: 110000 }))
        );
        assert_eq!(
            event(&untagged("* XRESYNC 9 HIERARCHY\r\n")),
            Some(Ok(Event::Resync { change: 9, mailbox: None }))
        );
        assert_eq!(
            event(&untagged("* XHEARTBEAT 1 SENT 54650 CURRENT 54651\r\n")),
            Some(Ok(Event::Heartbeat { id: 1, sent: 54650, current: 54651 }))
        );
        assert_eq!(event(&untagged("* XLIVE 4533\r\n")), Some(Ok(Event::Live(4533))));
        assert!(event(&untagged("* XNEW x\r\n")).is_some_and(|r| r.is_err()));
        let u = untagged("* XHIERARCHY CHANGES CHANGE 4612\r\n");
        assert_eq!(hierarchy_item(&u), Some(Ok(HierarchyItem::Start { full: false, change: 4612 })));
    }
}
