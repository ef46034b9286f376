//! COPY, UID COPY (RFC 9051 §6.4.7) and MOVE, UID MOVE (RFC 6851), with COPYUID (RFC 4315).

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::proto::command::{MailboxName, SequenceSet};
use crate::store::StoreError;

pub async fn run(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    mailbox: &MailboxName,
    is_move: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    if is_move && sel.read_only {
        return Err(Error::No(Some(Code::ReadOnly), "mailbox is read-only".into()));
    }
    let targets: Vec<u32> = crate::imap::shared::resolve(sel, set, uid, s.saved.as_deref())?
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    let from = sel.mailbox;
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    let result = s
        .ctx
        .store
        .write(move |t| {
            let to = t.mailbox_id(account, &name)?;
            let mut pairs = Vec::new();
            for &u in &targets {
                let new = if is_move { t.move_message(from, u, to)? } else { t.copy_message(from, u, to)? };
                if let Some(n) = new {
                    pairs.push((u, n));
                }
            }
            Ok((t.mailbox(to)?.uidvalidity, pairs))
        })
        .await;
    let (validity, pairs) = match result {
        Ok(r) => r,
        Err(StoreError::NoSuchMailbox) => {
            return Err(Error::No(Some(Code::TryCreate), "no such mailbox".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let verb = if is_move { "MOVE" } else { "COPY" };
    if pairs.is_empty() {
        return Ok(Done::text(format!("{verb} completed, nothing to do")));
    }
    let code = Code::CopyUid {
        uidvalidity: validity,
        source: pairs.iter().map(|p| p.0).collect(),
        destination: pairs.iter().map(|p| p.1).collect(),
    };
    if is_move {
        // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
        code.untagged_ok(out, "moved");
        s.refresh(out, true).await;
        return Ok(Done::text("MOVE completed"));
    }
    Ok(Done::with_code(code, "COPY completed"))
}
