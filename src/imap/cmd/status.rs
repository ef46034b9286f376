//! STATUS (RFC 9051 §6.3.11) with SIZE and DELETED (RFC 8438, RFC 9051), HIGHESTMODSEQ (RFC 7162)
//! and MAILBOXID (RFC 8474): every value is a counter the store keeps, no scan.

use super::wire_name;
use crate::imap::enabled::Extension;
use crate::imap::session::{Done, Outcome, Session};
use crate::proto::command::{MailboxName, StatusAttribute};
use crate::store::{MailboxRecord, Reader, StoreError};

/// Writes `* STATUS name (items)` for a mailbox record.
pub fn write_status(
    out: &mut Vec<u8>,
    rec: &MailboxRecord,
    id: u64,
    attrs: &[StatusAttribute],
    utf8: bool,
    recent: u32,
) {
    out.extend_from_slice(b"* STATUS ");
    out.extend_from_slice(&wire_name(&rec.name, utf8));
    out.extend_from_slice(b" (");
    let items: Vec<String> = attrs
        .iter()
        .map(|a| match a {
            StatusAttribute::Messages => format!("MESSAGES {}", rec.exists),
            StatusAttribute::UidNext => format!("UIDNEXT {}", rec.uidnext),
            StatusAttribute::UidValidity => format!("UIDVALIDITY {}", rec.uidvalidity),
            StatusAttribute::Unseen => format!("UNSEEN {}", rec.unseen),
            StatusAttribute::Deleted => format!("DELETED {}", rec.deleted),
            StatusAttribute::Size => format!("SIZE {}", rec.size),
            StatusAttribute::Recent => format!("RECENT {recent}"),
            StatusAttribute::HighestModSeq => format!("HIGHESTMODSEQ {}", rec.highest_modseq),
            StatusAttribute::MailboxId => format!("MAILBOXID (M{id})"),
            StatusAttribute::AppendLimit => "APPENDLIMIT NIL".to_string(),
        })
        .collect();
    out.extend_from_slice(items.join(" ").as_bytes());
    out.extend_from_slice(b")\r\n");
}

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxName,
    attrs: &[StatusAttribute],
    out: &mut Vec<u8>,
) -> Outcome {
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    let want_recent = attrs.contains(&StatusAttribute::Recent);
    let (id, rec, recent) = s
        .read(move |r| {
            let id = r.mailbox_id(account, &name)?;
            let rec = r.mailbox(id)?;
            let recent = if want_recent { recent_count(r, id, &rec)? } else { 0 };
            Ok((id, rec, recent))
        })
        .await?;
    if attrs.contains(&StatusAttribute::HighestModSeq) {
        s.enabled.enable(Extension::Condstore);
    }
    write_status(out, &rec, id, attrs, s.enabled.utf8(), recent);
    Ok(Done::text("STATUS completed"))
}

/// Messages not yet claimed as `\Recent` by a session: a range scan over the recent ones only.
pub fn recent_count(r: &Reader, id: u64, rec: &MailboxRecord) -> Result<u32, StoreError> {
    let mut n = 0;
    r.scan(id, rec.first_recent_uid..=u32::MAX, |_, _| {
        n += 1;
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(n)
}
