//! GETQUOTA and GETQUOTAROOT (RFC 9208): one quota root, `""`, per account, with STORAGE (KiB)
//! and MESSAGE from the account's counters and the limits of `[quota]` in the config. SETQUOTA is
//! refused: limits are the administrator's (applianced.toml).
//!
//! An account without limits has no quota root: RFC 9208 §5.1's `quota-list` needs at least one
//! resource, so `* QUOTA "" ()` is not a valid response (Thunderbird logs a syntax error at every
//! folder open). GETQUOTAROOT then lists no root and sends no QUOTA (§4.3: a QUOTA response for
//! each root listed), and GETQUOTA "" answers that the root does not exist (§4.2).

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::imap::shared::wire_name;
use crate::proto::command::MailboxName;

/// The account's `quota-resource` items (RFC 9208 §5.1); empty when it has no limits.
async fn resources(s: &Session) -> Result<Vec<String>, Error> {
    let account = s.account_id()?;
    let acct = s.read(move |r| r.account(account)).await?;
    let limits = s.ctx.config.quota.policy().limits(&acct.name);
    let mut items = Vec::new();
    if let Some(max) = limits.storage {
        items.push(format!("STORAGE {} {}", acct.bytes.div_ceil(1024), max / 1024));
    }
    if let Some(max) = limits.messages {
        items.push(format!("MESSAGE {} {}", acct.messages, max));
    }
    Ok(items)
}

fn write_quota(items: &[String], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("* QUOTA \"\" ({})\r\n", items.join(" ")).as_bytes());
}

pub async fn get_quota(s: &mut Session, root: &str, out: &mut Vec<u8>) -> Outcome {
    if !root.is_empty() {
        return Err(Error::No(Some(Code::NonExistent), "the only quota root is \"\"".into()));
    }
    let items = resources(s).await?;
    if items.is_empty() {
        return Err(Error::No(Some(Code::NonExistent), "no quota is set for this account".into()));
    }
    write_quota(&items, out);
    Ok(Done::text("GETQUOTA completed"))
}

pub async fn get_quota_root(s: &mut Session, mailbox: &MailboxName, out: &mut Vec<u8>) -> Outcome {
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    s.read(move |r| r.mailbox_id(account, &name)).await?;
    let items = resources(s).await?;
    out.extend_from_slice(b"* QUOTAROOT ");
    out.extend_from_slice(&wire_name(mailbox.as_str(), s.enabled.utf8()));
    if items.is_empty() {
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(b" \"\"\r\n");
        write_quota(&items, out);
    }
    Ok(Done::text("GETQUOTAROOT completed"))
}
