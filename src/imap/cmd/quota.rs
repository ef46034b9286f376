//! GETQUOTA and GETQUOTAROOT (RFC 9208): one quota root, `""`, per account, with STORAGE (KiB)
//! and MESSAGE from the account's counters and the limits of `[quota]` in the config. SETQUOTA is
//! refused: limits are the administrator's (applianced.toml).

use super::wire_name;
use crate::imap::session::{Done, Error, Outcome, Session};
use crate::proto::command::MailboxName;

async fn write_quota(s: &Session, out: &mut Vec<u8>) -> Result<(), Error> {
    let account = s.account_id();
    let acct = s.read(move |r| r.account(account)).await?;
    let limits = s.ctx.config.quota.policy().limits(&acct.name);
    let mut items = Vec::new();
    if let Some(max) = limits.storage {
        items.push(format!("STORAGE {} {}", acct.bytes.div_ceil(1024), max / 1024));
    }
    if let Some(max) = limits.messages {
        items.push(format!("MESSAGE {} {}", acct.messages, max));
    }
    out.extend_from_slice(format!("* QUOTA \"\" ({})\r\n", items.join(" ")).as_bytes());
    Ok(())
}

pub async fn get_quota(s: &mut Session, root: &str, out: &mut Vec<u8>) -> Outcome {
    if !root.is_empty() {
        return Err(Error::No(Some("NONEXISTENT"), "the only quota root is \"\"".into()));
    }
    write_quota(s, out).await?;
    Ok(Done::text("GETQUOTA completed"))
}

pub async fn get_quota_root(s: &mut Session, mailbox: &MailboxName, out: &mut Vec<u8>) -> Outcome {
    let account = s.account_id();
    let name = mailbox.as_str().to_string();
    s.read(move |r| r.mailbox_id(account, &name)).await?;
    out.extend_from_slice(b"* QUOTAROOT ");
    out.extend_from_slice(&wire_name(mailbox.as_str(), s.utf8));
    out.extend_from_slice(b" \"\"\r\n");
    write_quota(s, out).await?;
    Ok(Done::text("GETQUOTAROOT completed"))
}
