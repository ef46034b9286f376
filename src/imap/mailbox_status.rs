//! STATUS data (RFC 9051 §7.3.1), below the handlers: STATUS, LIST-STATUS (RFC 5819) and
//! NOTIFY's STATUS indications write it.

use crate::imap::recent::Claims;
use crate::imap::shared::wire_name;
use crate::proto::command::StatusAttribute;
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

/// Messages no session has taken as `\Recent` (the store's record and the claims since, see
/// `imap::recent`): a range scan over the recent ones only.
pub fn recent_count(r: &Reader, id: u64, rec: &MailboxRecord, claims: &Claims) -> Result<u32, StoreError> {
    let mut n = 0;
    r.scan(id, claims.first(id, rec.first_recent_uid)..=u32::MAX, |_, _| {
        n += 1;
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(n)
}
