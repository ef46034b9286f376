//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502, all or nothing), CATENATE (RFC 4469:
//! messages built from TEXT literals and URLs of parts the account has, `imap::catenate`) and
//! APPENDUID (RFC 4315). The messages take the ingest road (`crate::ingest`) like a delivery:
//! CRLF line ends, FETCH data computed once, off the executor.

use crate::imap::catenate;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::ingest::{self, InPlace};
use crate::proto::command::{AppendMessage, MailboxName};
use crate::store::{NewMessage, StoreError};

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxName,
    messages: &[AppendMessage],
    command: Vec<u8>,
) -> Outcome {
    let mut meta = Vec::with_capacity(messages.len());
    for m in messages {
        let (flags, keywords) = crate::imap::shared::flag_bits(&m.flags)?;
        let (date, tz) = match m.date_time {
            Some(d) => (d.unix_timestamp(), d.zone_minutes()),
            None => (ingest::arrival(), 0),
        };
        meta.push((flags, keywords, date, tz));
    }
    // A CATENATE message is built (RFC 4469 §3) at the end of the command's buffer, so every
    // message is a range of it. Any part that cannot be had fails the whole APPEND, before
    // anything is stored (RFC 3502 §6.3.11: all or nothing).
    let (command, ranges) = catenate::assemble(s, messages, command).await?;
    let meta: Vec<_> = ranges.iter().cloned().zip(meta).map(|(r, (f, k, d, t))| (r, f, k, d, t)).collect();
    let (command, parsed) = ingest::prepare_in_place_async(command, ranges).await;
    let parsed = parsed.map_err(|e| Error::No(Some(Code::Parse), format!("message refused: {e}")))?;
    let prepared: Vec<_> = parsed.into_iter().zip(meta).collect();
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    // The messages are stored straight from the framed command (the buffer the framer filled
    // as the literal arrived), which moves to the writer: a message in CRLF form is never
    // copied (one with bare LFs is, once, by the ingest road).
    let result = s
        .ctx
        .store
        .write(move |t| {
            let id = t.mailbox_id(account, &name)?;
            let mut uids = Vec::new();
            for (InPlace { normalised, data }, (range, flags, keywords, date, tz)) in &prepared {
                let raw = match normalised {
                    Some(copy) => copy.as_slice(),
                    None => command.get(range.clone()).unwrap_or_default(),
                };
                let blob = t.put_blob(raw, data)?;
                let m = NewMessage {
                    blob,
                    flags: *flags,
                    keywords: keywords.clone(),
                    internal_date: *date,
                    tz_minutes: *tz,
                };
                uids.push(t.append(id, &m)?);
            }
            Ok((t.mailbox(id)?.uidvalidity, uids))
        })
        .await;
    let (validity, uids) = match result {
        Ok(r) => r,
        Err(StoreError::NoSuchMailbox) => {
            return Err(Error::No(Some(Code::TryCreate), "no such mailbox".into()));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Done::with_code(Code::AppendUid { uidvalidity: validity, uids }, "APPEND completed"))
}
