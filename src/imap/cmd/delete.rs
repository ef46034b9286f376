//! DELETE (RFC 9051 §6.3.5). A mailbox with children is refused ([HASCHILDREN]), as is INBOX.

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::{Session, State};
use crate::proto::command::MailboxName;
use crate::store::HIERARCHY_DELIMITER;

pub async fn run(s: &mut Session, mailbox: &MailboxName) -> Outcome {
    let name = mailbox.as_str().to_string();
    let account = s.account_id()?;
    let prefix = format!("{name}{HIERARCHY_DELIMITER}");
    let has_children =
        s.read(move |r| Ok(r.mailboxes(account)?.iter().any(|(_, m)| m.name.starts_with(&prefix)))).await?;
    if has_children {
        return Err(Error::No(Some(Code::HasChildren), "delete the mailboxes below it first".into()));
    }
    let n = name.clone();
    let id = s.read(move |r| r.mailbox_id(account, &n)).await?;
    s.ctx.store.write(move |t| t.delete_mailbox(account, &name)).await?;
    if s.selected.as_ref().is_some_and(|sel| sel.mailbox == id) {
        s.selected = None;
        s.state = State::Authenticated;
    }
    Ok(Done::text("DELETE completed"))
}
