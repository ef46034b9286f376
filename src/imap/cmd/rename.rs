//! RENAME (RFC 9051 §6.3.6): children move along; renaming INBOX moves its messages.

use crate::imap::outcome::{Done, Outcome};
use crate::imap::session::Session;
use crate::imap::shared::check_new_name;
use crate::proto::command::MailboxName;

pub async fn run(s: &mut Session, from: &MailboxName, to: &MailboxName) -> Outcome {
    check_new_name(to.as_str(), s.ctx.config.limits.max_mailbox_name_length)?;
    let (from, to) = (from.as_str().to_string(), to.as_str().to_string());
    let account = s.account_id()?;
    s.ctx.store.write(move |t| t.rename_mailbox(account, &from, &to)).await?;
    Ok(Done::text("RENAME completed"))
}
