//! CREATE (RFC 9051 §6.3.4), with the USE option of RFC 6154 §3.

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::imap::shared::check_new_name;
use crate::proto::command::{MailboxName, SpecialUse as Use};
use crate::store::{HIERARCHY_DELIMITER, SpecialUse, StoreError};

pub async fn run(s: &mut Session, mailbox: &MailboxName, uses: &[Use]) -> Outcome {
    let name = mailbox.as_str().trim_end_matches(HIERARCHY_DELIMITER).to_string();
    if mailbox.is_inbox() {
        return Err(Error::No(Some(Code::AlreadyExists), "INBOX always exists".into()));
    }
    check_new_name(&name, s.ctx.config.limits.max_mailbox_name_length)?;
    let special = match uses {
        [] => SpecialUse::None,
        // RFC 6154 §3: USEATTR for a use the server does not support (RFC 8457 \Important too).
        [Use(name)] => SpecialUse::from_name(name.as_str())
            .ok_or_else(|| Error::No(Some(Code::UseAttr), "that special use is not supported".into()))?,
        _ => return Err(Error::No(Some(Code::UseAttr), "one special use per mailbox".into())),
    };
    let account = s.account_id()?;
    // RFC 9051 §6.3.4: create missing superior levels too.
    let id = s
        .ctx
        .store
        .write(move |t| {
            let mut id = 0;
            let mut path = String::new();
            let levels: Vec<&str> = name.split(HIERARCHY_DELIMITER).collect();
            for (i, level) in levels.iter().enumerate() {
                if i > 0 {
                    path.push(HIERARCHY_DELIMITER);
                }
                path.push_str(level);
                let last = i + 1 == levels.len();
                match t.create_mailbox(account, &path, if last { special } else { SpecialUse::None }) {
                    Ok(new) => id = new,
                    Err(StoreError::MailboxExists) if !last => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(id)
        })
        .await?;
    // RFC 8474 §4.1: the new mailbox's MAILBOXID.
    Ok(Done::with_code(Code::MailboxId(format!("M{id}")), "CREATE completed"))
}
