//! XHIERARCHY (docs/mapi-extension.md §8): the folder tree from one snapshot, in full or as
//! the changes since a hierarchy state, folders named by MAILBOXID so that a rename is a
//! rename. The changes are read from the account's change log (cost: the changes since the
//! state); when the log no longer reaches back, or the state is from the future, FULL.

use std::collections::{BTreeMap, BTreeSet};

use super::folder;
use super::state::HierarchyState;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::store::ChangeKind;

pub async fn run(s: &mut Session, state: Option<&str>, out: &mut Vec<u8>) -> Outcome {
    let account = s.account_id()?;
    let utf8 = s.enabled.utf8();
    let text = state.map(str::to_string);
    let answer = s
        .read(move |r| {
            let key = r.sync_key()?;
            let since = match &text {
                None => None,
                Some(t) => match HierarchyState::decode(t, &key, account) {
                    Ok(h) => Some(h.change),
                    Err(bad) => return Ok(Err(bad)),
                },
            };
            let change = r.account(account)?.last_change;
            let log = match since {
                Some(n) if n <= change => r.account_changes_since(account, n)?,
                _ => None,
            };
            let subscribed: BTreeSet<String> = r.subscriptions(account)?.into_iter().collect();
            let mut lines = Vec::new();
            match log {
                None => {
                    lines.extend_from_slice(format!("* XHIERARCHY FULL CHANGE {change}\r\n").as_bytes());
                    for (id, rec) in r.mailboxes(account)? {
                        lines.extend_from_slice(format!("* XMAILBOX M{id} ").as_bytes());
                        folder::write_info(&mut lines, &rec, subscribed.contains(&rec.name), utf8);
                        lines.extend_from_slice(b"\r\n");
                    }
                }
                Some(changes) => {
                    lines.extend_from_slice(format!("* XHIERARCHY CHANGES CHANGE {change}\r\n").as_bytes());
                    // Every change names its mailbox: a message change alters its counts.
                    let mut touched: BTreeSet<u64> = BTreeSet::new();
                    let mut deleted: BTreeSet<u64> = BTreeSet::new();
                    for (_, c) in &changes {
                        match c.kind {
                            ChangeKind::MailboxDeleted => {
                                deleted.insert(c.mailbox);
                            }
                            _ => {
                                touched.insert(c.mailbox);
                            }
                        }
                    }
                    // Deleted ones first; a MAILBOXID is never reused, so one deleted is gone.
                    for id in &deleted {
                        lines.extend_from_slice(format!("* XMAILBOX M{id} DELETED\r\n").as_bytes());
                    }
                    let mut live = BTreeMap::new();
                    for id in touched.difference(&deleted) {
                        if let Ok(rec) = r.mailbox(*id) {
                            live.insert(rec.name.clone(), (*id, rec));
                        }
                    }
                    // In name order, a parent before its children (as FULL).
                    for (id, rec) in live.values() {
                        lines.extend_from_slice(format!("* XMAILBOX M{id} ").as_bytes());
                        folder::write_info(&mut lines, rec, subscribed.contains(&rec.name), utf8);
                        lines.extend_from_slice(b"\r\n");
                    }
                }
            }
            let next = HierarchyState { change }.encode(&key, account);
            lines.extend_from_slice(format!("* XHSTATE {next}\r\n").as_bytes());
            Ok(Ok(lines))
        })
        .await?;
    match answer {
        Ok(mut lines) => {
            out.append(&mut lines);
            Ok(Done::text("XHIERARCHY completed"))
        }
        Err(bad) => Err(Error::No(
            Some(Code::XRestart),
            format!(
                "{}: sync the folder tree again from \"\"",
                bad.reason().replace("this folder", "this account")
            ),
        )),
    }
}
