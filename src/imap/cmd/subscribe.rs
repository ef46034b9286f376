//! SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8).

use crate::imap::outcome::{Done, Outcome};
use crate::imap::session::Session;
use crate::proto::command::MailboxName;

pub async fn run(s: &mut Session, mailbox: &MailboxName, on: bool) -> Outcome {
    let name = mailbox.as_str().to_string();
    let account = s.account_id()?;
    s.ctx.store.write(move |t| t.set_subscribed(account, &name, on)).await?;
    Ok(Done::text(if on { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }))
}
