//! STATUS (RFC 9051 §6.3.11) with SIZE and DELETED (RFC 8438, RFC 9051), HIGHESTMODSEQ (RFC 7162)
//! and MAILBOXID (RFC 8474): every value is a counter the store keeps, no scan.

use crate::imap::enabled::Extension;
use crate::imap::mailbox_status::{recent_count, write_status};
use crate::imap::outcome::{Done, Outcome};
use crate::imap::session::Session;
use crate::proto::command::{MailboxName, StatusAttribute};

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxName,
    attrs: &[StatusAttribute],
    out: &mut Vec<u8>,
) -> Outcome {
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    let want_recent = attrs.contains(&StatusAttribute::Recent);
    let claims = s.ctx.recent.clone();
    let (id, rec, recent) = s
        .read(move |r| {
            let id = r.mailbox_id(account, &name)?;
            let rec = r.mailbox(id)?;
            let recent = if want_recent { recent_count(r, id, &rec, &claims)? } else { 0 };
            Ok((id, rec, recent))
        })
        .await?;
    if attrs.contains(&StatusAttribute::HighestModSeq) {
        s.enable(Extension::Condstore, out);
    }
    write_status(out, &rec, id, attrs, s.enabled.utf8(), recent);
    Ok(Done::text("STATUS completed"))
}
