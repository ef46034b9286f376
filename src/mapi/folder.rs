//! What the MAPI extension says of a folder (docs/mapi-extension.md §5.2, §7.3, §8):
//! `folder-info` for XMAILBOX and XFOLDER, the counts of the XSYNC header and XCOUNTS, and
//! folder references by MAILBOXID.

use crate::imap::shared::wire_name;
use crate::proto::command::MailboxRef;
use crate::store::{MailboxRecord, Reader, StoreError};

/// `MESSAGES UNSEEN DELETED SIZE UIDNEXT UIDVALIDITY HIGHESTMODSEQ`, as in STATUS.
pub fn write_counts(out: &mut Vec<u8>, rec: &MailboxRecord) {
    out.extend_from_slice(
        format!(
            "(MESSAGES {} UNSEEN {} DELETED {} SIZE {} UIDNEXT {} UIDVALIDITY {} HIGHESTMODSEQ {})",
            rec.exists, rec.unseen, rec.deleted, rec.size, rec.uidnext, rec.uidvalidity, rec.highest_modseq
        )
        .as_bytes(),
    );
}

/// `folder-info = "(" [mbx-list-flags] ")" SP delimiter SP mailbox SP "(" status-att-list ")"`:
/// `\Subscribed` when subscribed and the special use (RFC 6154) as attributes.
pub fn write_info(out: &mut Vec<u8>, rec: &MailboxRecord, subscribed: bool, utf8: bool) {
    let mut attrs: Vec<String> = Vec::new();
    if subscribed {
        attrs.push("\\Subscribed".into());
    }
    if let Some(u) = rec.special_use.name() {
        attrs.push(format!("\\{u}"));
    }
    out.push(b'(');
    out.extend_from_slice(attrs.join(" ").as_bytes());
    out.extend_from_slice(b") \"/\" ");
    out.extend_from_slice(&wire_name(&rec.name, utf8));
    out.push(b' ');
    write_counts(out, rec);
}

/// The mailbox id a reference names in `account`: `NoSuchMailbox` for a name or MAILBOXID the
/// account does not have, another account's included (§16: the two are indistinguishable).
pub fn resolve(r: &Reader, account: u64, m: &MailboxRef) -> Result<u64, StoreError> {
    match m {
        MailboxRef::Name(name) => r.mailbox_id(account, name.as_str()),
        MailboxRef::Id(oid) => {
            let id: u64 = oid
                .strip_prefix('M')
                .filter(|d| !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse().ok())
                .ok_or(StoreError::NoSuchMailbox)?;
            if r.mailbox(id)?.account == account { Ok(id) } else { Err(StoreError::NoSuchMailbox) }
        }
    }
}
