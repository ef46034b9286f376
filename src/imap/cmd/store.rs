//! STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3).

use crate::imap::enabled::Extension;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::response;
use crate::imap::session::Session;
use crate::proto::command::{SequenceSet, StoreAction, StoreMode, StoreModifier};
use crate::store::{FlagOp, StoreError};

pub async fn run(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    action: &StoreAction,
    modifiers: &[StoreModifier],
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    if sel.read_only {
        return Err(Error::No(Some(Code::ReadOnly), "mailbox is read-only".into()));
    }
    let targets = crate::imap::shared::resolve(sel, set, uid, s.saved.as_deref())?;
    let (bits, keywords) = crate::imap::shared::flag_bits(&action.flags)?;
    let op = match action.mode {
        StoreMode::Replace => FlagOp::Replace,
        StoreMode::Add => FlagOp::Add,
        StoreMode::Remove => FlagOp::Remove,
    };
    let unchanged_since = modifiers.iter().map(|StoreModifier::UnchangedSince(m)| *m).next();
    if unchanged_since.is_some() {
        s.enabled.enable_reporting(Extension::Condstore, Some(sel.modseq), out);
    }
    let id = sel.mailbox;
    let t2 = targets.clone();
    let results = s
        .ctx
        .store
        .write(move |t| {
            let mut res = Vec::with_capacity(t2.len());
            for &(seq, u) in &t2 {
                match t.store_flags(id, u, op, bits, &keywords, unchanged_since) {
                    Ok((modseq, m)) => res.push((seq, u, Some((modseq, m)))),
                    // Modified since UNCHANGEDSINCE: reported in [MODIFIED] (RFC 7162 §3.1.3).
                    Err(StoreError::Conflict(why)) if why.contains("UNCHANGEDSINCE") => {
                        res.push((seq, u, None))
                    }
                    // Expunged by another session meanwhile: nothing to change or report.
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(res)
        })
        .await?;
    let condstore = s.enabled.condstore();
    let mut failed = Vec::new();
    let sel = s.selected.as_mut().ok_or_else(|| Error::Bad("no mailbox selected".into()))?;
    for (seq, u, r) in results {
        let Some((modseq, m)) = r else {
            failed.push(if uid { u } else { seq });
            continue;
        };
        if let Some(ms) = modseq {
            sel.own_modseqs.insert(ms);
        }
        // .SILENT suppresses the FLAGS echo, but under CONDSTORE the MODSEQ is still sent (RFC 7162 §3.1.3).
        if action.silent && !(condstore && modseq.is_some()) {
            continue;
        }
        if !action.silent {
            // A keyword new to the mailbox is announced before the FETCH shows it (RFC 9051 §7.3.5).
            sel.keywords.announce(&m.keywords, sel.read_only, out);
        }
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        if uid {
            out.extend_from_slice(format!("UID {u} ").as_bytes());
        }
        if !action.silent {
            out.extend_from_slice(b"FLAGS ");
            response::flags(out, m.flags, &m.keywords, sel.is_recent(u));
        }
        if condstore {
            if !action.silent {
                out.push(b' ');
            }
            out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes());
        }
        out.extend_from_slice(b")\r\n");
    }
    if failed.is_empty() {
        Ok(Done::text("STORE completed"))
    } else {
        failed.sort_unstable();
        Ok(Done::with_code(Code::Modified(failed), "conditional STORE failed"))
    }
}
