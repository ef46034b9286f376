//! EXPUNGE, UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9) and CLOSE (§6.4.1). Only the messages flagged
//! `\Deleted` are touched; the mailbox counter says when there are none.

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::{Session, State};
use crate::proto::command::SequenceSet;

pub async fn expunge(s: &mut Session, only: Option<&SequenceSet>, out: &mut Vec<u8>) -> Outcome {
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    if sel.read_only {
        return Err(Error::No(Some(Code::ReadOnly), "mailbox is read-only".into()));
    }
    let id = sel.mailbox;
    let uids: Option<Vec<u32>> = match only {
        Some(set) => Some(
            crate::imap::shared::resolve(sel, set, true, s.saved.as_deref())?
                .into_iter()
                .map(|(_, u)| u)
                .collect(),
        ),
        None => None,
    };
    s.ctx.store.write(move |t| t.expunge_deleted(id, uids.as_deref())).await?;
    // The refresh reports our own expunges together with anyone else's, in order.
    s.refresh(out, true).await;
    Ok(Done::text("EXPUNGE completed"))
}

pub async fn close(s: &mut Session) -> Outcome {
    if let Some(sel) = s.selected.take()
        && !sel.read_only
    {
        let id = sel.mailbox;
        // RFC 9051 §6.4.1: expunge silently, no untagged responses.
        s.ctx.store.write(move |t| t.expunge_deleted(id, None)).await?;
    }
    s.state = State::Authenticated;
    Ok(Done::text("CLOSE completed"))
}
