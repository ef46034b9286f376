//! NOTIFY (RFC 5465): events of every mailbox over one connection. The selected mailbox reports
//! as usual (EXISTS, EXPUNGE or VANISHED, FETCH FLAGS); other mailboxes that a filter names get a
//! `STATUS` (new or expunged messages, flag changes) or a `LIST` (created, deleted, renamed) as the
//! account's change log says (`imap::changes` writes them). This file sets up what is reported.

use crate::imap::mailbox_status::write_status;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::proto::command::{EventGroup, NotifyEvent, NotifySet};
use crate::store::MailboxRecord;

use crate::imap::changes::{Notify, status_items};

pub async fn run(s: &mut Session, set: Option<&NotifySet>, out: &mut Vec<u8>) -> Outcome {
    let Some(set) = set else {
        s.notify = None;
        return Ok(Done::text("NOTIFY NONE completed"));
    };
    let mut groups = Vec::new();
    for EventGroup { filter, events } in set.groups.iter() {
        let (mut msg, mut flags, mut names) = (false, false, false);
        for e in events {
            match e {
                NotifyEvent::MessageNew(_) | NotifyEvent::MessageExpunge => msg = true,
                NotifyEvent::FlagChange => flags = true,
                NotifyEvent::MailboxName | NotifyEvent::SubscriptionChange => names = true,
                _ => {
                    return Err(Error::No(
                        Some(Code::BadEvent(vec![
                            "MessageNew",
                            "MessageExpunge",
                            "FlagChange",
                            "MailboxName",
                            "SubscriptionChange",
                        ])),
                        "event not supported".into(),
                    ));
                }
            }
        }
        // RFC 5465 §5: FlagChange needs the message events with it.
        if flags && !msg {
            return Err(Error::Bad("FlagChange requires MessageNew and MessageExpunge".into()));
        }
        groups.push((filter.clone(), msg, flags, names));
    }
    let account = s.account_id()?;
    let last_change = s.read(move |r| Ok(r.account(account)?.last_change)).await?;
    let notify = Notify { groups, last_change };
    if set.status {
        // RFC 5465 §3: STATUS for every mailbox the (non-selected) filters name, now.
        let condstore = s.enabled.condstore();
        let selected = s.selected.as_ref().map(|sel| sel.mailbox);
        let n = notify.clone();
        let boxes: Vec<(u64, MailboxRecord)> = s
            .read(move |r| {
                Ok(r.mailboxes(account)?
                    .into_iter()
                    .filter(|(id, rec)| Some(*id) != selected && n.covering(rec, r).is_some_and(|(m, ..)| m))
                    .collect())
            })
            .await?;
        for (id, rec) in boxes {
            write_status(out, &rec, id, &status_items(condstore), s.enabled.utf8(), 0);
        }
    }
    s.notify = Some(notify);
    Ok(Done::text("NOTIFY completed"))
}
