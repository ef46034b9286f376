//! XSYNC (docs/mapi-extension.md §7): a folder's messages newest first and its changes since a
//! state, in batches that stream out one after another, each followed by the state that
//! resumes after it. The run itself is `mapi::sync`; this handler checks the arguments and the
//! state, writes the header and sends each batch as it is read.

use super::folder;
use super::state::FolderState;
use super::summary::Fields;
use super::sync::{Run, RunError};
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::proto::command::{MailboxRef, SyncOptions};

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxRef,
    state: Option<&str>,
    options: &SyncOptions,
    out: &mut Vec<u8>,
) -> Outcome {
    let window_max = s.ctx.config.mapi.window_max as usize;
    let window = match options.window {
        Some(w) if w.get() as usize > window_max => {
            return Err(Error::No(Some(Code::Limit), format!("WINDOW is at most {window_max}")));
        }
        Some(w) => w.get() as usize,
        None => window_max,
    };
    let fields = options.fields.as_deref().map_or_else(Fields::default_set, Fields::of);
    let account = s.account_id()?;
    let utf8 = s.enabled.utf8();
    let (m, text) = (mailbox.clone(), state.map(str::to_string));
    // The state is checked before anything else is read (§7.5): a bad one never gives an answer.
    let (id, key, checked, mut header) = s
        .read(move |r| {
            let id = folder::resolve(r, account, &m)?;
            let rec = r.mailbox(id)?;
            let key = r.sync_key()?;
            let checked = match &text {
                None => Ok(FolderState::first(rec.uidvalidity, rec.uidnext, rec.highest_modseq)),
                Some(t) => FolderState::decode(
                    t,
                    &key,
                    account,
                    id,
                    (rec.uidvalidity, rec.uidnext, rec.highest_modseq),
                ),
            };
            let mut header = format!("* XSYNC M{id} ").into_bytes();
            folder::write_counts(&mut header, &rec);
            header.extend_from_slice(b"\r\n");
            Ok((id, key, checked, header))
        })
        .await?;
    let start = checked.map_err(|bad| {
        Error::No(Some(Code::XRestart), format!("{}: sync it again from \"\"", bad.reason()))
    })?;
    out.append(&mut header);
    s.stream_now(out).await;
    let limit = options.batches.map_or(u64::MAX, |b| b.get());
    let mut run = Run::new(start, window);
    let mut sent = 0u64;
    loop {
        // Each batch is one snapshot on the store's read threads; the stream's channel holds
        // at most two pieces, so a slow reader stalls this loop, not the server's memory.
        let (back, mut chunk, result) = s
            .read(move |r| {
                let mut chunk = Vec::new();
                let result = run.batch(r, &key, account, id, fields, utf8, &mut chunk);
                Ok((run, chunk, result))
            })
            .await?;
        run = back;
        out.append(&mut chunk);
        match result {
            Ok(batch) => {
                sent += u64::from(batch.stated);
                s.stream_now(out).await;
                if batch.done || sent >= limit {
                    break;
                }
            }
            Err(RunError::Gone) => {
                return Err(Error::No(Some(Code::NonExistent), "the folder was deleted during XSYNC".into()));
            }
            Err(RunError::Store(e)) => return Err(e.into()),
        }
    }
    let plural = if sent == 1 { "" } else { "es" };
    Ok(Done::text(format!("XSYNC completed ({sent} batch{plural})")))
}
