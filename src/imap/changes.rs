//! The reporting of changes that happen outside a session's own commands, below the handlers:
//! what NOTIFY (RFC 5465) asked to be told about the account's other mailboxes, and the report
//! itself, read from the account's change log since the last change number this session saw, so
//! the cost is the number of changes, never the number of mailboxes or messages. IDLE, NOTIFY and
//! the connection loop call [`report`]; the selected mailbox's own changes are
//! `Session::refresh`'s (`selected.rs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::imap::mailbox_status::write_status;
use crate::imap::outcome::{Code, warn};
use crate::imap::session::Session;
use crate::imap::shared::wire_name;
use crate::proto::command::{MailboxFilter, StatusAttribute};
use crate::store::{ChangeKind, HIERARCHY_DELIMITER, MailboxRecord, Reader};

/// What a session asked to be told.
#[derive(Clone, Debug)]
pub struct Notify {
    /// (filter, wants message events, wants flag changes, wants mailbox-name events).
    pub groups: Vec<(MailboxFilter, bool, bool, bool)>,
    /// The last account change number reported.
    pub last_change: u64,
}

impl Notify {
    /// The group that covers a mailbox that is not the selected one, if any.
    /// `r` is the snapshot `rec` was read from (for the `subscribed` filter).
    pub fn covering(&self, rec: &MailboxRecord, r: &Reader) -> Option<(bool, bool, bool)> {
        self.groups.iter().find(|(f, ..)| matches_filter(f, rec, r)).map(|(_, m, fl, n)| (*m, *fl, *n))
    }
}

fn matches_filter(f: &MailboxFilter, rec: &MailboxRecord, r: &Reader) -> bool {
    match f {
        MailboxFilter::Selected | MailboxFilter::SelectedDelayed => false,
        MailboxFilter::Inboxes => rec.name == "INBOX",
        MailboxFilter::Personal => true,
        MailboxFilter::Subscribed => r.is_subscribed(rec.account, &rec.name).unwrap_or(false),
        MailboxFilter::Mailboxes(names) => names.iter().any(|n| n.as_str() == rec.name),
        MailboxFilter::Subtree(names) => names.iter().any(|n| {
            rec.name == n.as_str() || rec.name.starts_with(&format!("{}{HIERARCHY_DELIMITER}", n.as_str()))
        }),
    }
}

pub fn status_items(condstore: bool) -> Vec<StatusAttribute> {
    let mut v = vec![
        StatusAttribute::Messages,
        StatusAttribute::UidNext,
        StatusAttribute::UidValidity,
        StatusAttribute::Unseen,
    ];
    if condstore {
        v.push(StatusAttribute::HighestModSeq);
    }
    v
}

/// Writes what changed in other mailboxes since the last report (the selected mailbox is the
/// session's refresh's job). Called when the account's subscription wakes and at command end.
pub async fn report(s: &mut Session, out: &mut Vec<u8>) {
    let Some(notify) = s.notify.clone() else { return };
    let account = match s.account_id() {
        Ok(a) => a,
        Err(e) => return warn(out, e),
    };
    let since = notify.last_change;
    let selected = s.selected.as_ref().map(|sel| sel.mailbox);
    let utf8 = s.enabled.utf8();
    let condstore = s.enabled.condstore();
    let result = s
        .read_cheap(move |r| {
            let Some(changes) = r.account_changes_since(account, since)? else { return Ok(None) };
            let last = changes.last().map(|(n, _)| *n).unwrap_or(since);
            // Coalesce: one STATUS per mailbox, one LIST per renamed/created/deleted mailbox.
            let mut status: BTreeSet<u64> = BTreeSet::new();
            let mut lists: BTreeMap<u64, bool> = BTreeMap::new();
            for (_, c) in &changes {
                if Some(c.mailbox) == selected {
                    continue;
                }
                match c.kind {
                    ChangeKind::Added | ChangeKind::Expunged | ChangeKind::Flags => {
                        status.insert(c.mailbox);
                    }
                    ChangeKind::MailboxCreated | ChangeKind::MailboxChanged => {
                        lists.insert(c.mailbox, true);
                    }
                    ChangeKind::MailboxDeleted => {
                        lists.insert(c.mailbox, false);
                    }
                }
            }
            let mut buf = Vec::new();
            for (id, exists) in lists {
                if !exists {
                    // The name is gone with the record; a deleted mailbox is announced by id-less
                    // clients' next LIST. Nothing to name here.
                    continue;
                }
                let Ok(rec) = r.mailbox(id) else { continue };
                if notify.covering(&rec, r).is_some_and(|(.., names)| names) {
                    buf.extend_from_slice(b"* LIST () \"/\" ");
                    buf.extend_from_slice(&wire_name(&rec.name, utf8));
                    buf.extend_from_slice(b"\r\n");
                }
            }
            for id in status {
                let Ok(rec) = r.mailbox(id) else { continue };
                if notify.covering(&rec, r).is_some_and(|(m, ..)| m) {
                    write_status(&mut buf, &rec, id, &status_items(condstore), utf8, 0);
                }
            }
            Ok(Some((last, buf)))
        })
        .await;
    match result {
        Ok(Some((last, buf))) => {
            out.extend_from_slice(&buf);
            if let Some(n) = s.notify.as_mut() {
                n.last_change = last;
            }
        }
        Ok(None) => {
            // RFC 5465 §5.8: too much happened to tell; notifications stop.
            Code::NotificationOverflow.untagged_ok(out, "too many changes, NOTIFY is off");
            s.notify = None;
        }
        // Told, not swallowed: the changes come with a later report (`last_change` stays).
        Err(e) => {
            log::info!("{}: NOTIFY: cannot report changes: {e:?}", s.peer);
            warn(out, e);
        }
    }
}
