//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502, all or nothing) and APPENDUID
//! (RFC 4315). FETCH data is computed here, once, as at delivery.

use crate::imap::fetchdata;
use crate::imap::session::{Code, Done, Error, Outcome, Session};
use crate::proto::command::{AppendMessage, MailboxName};
use crate::store::{NewMessage, StoreError};

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxName,
    messages: &[AppendMessage],
    command: Vec<u8>,
) -> Outcome {
    let mut prepared = Vec::with_capacity(messages.len());
    for m in messages {
        let data = fetchdata::compute(m.bytes(&command))
            .map_err(|e| Error::No(Some(Code::Parse), format!("message refused: {e}")))?;
        let (flags, keywords) = super::flag_bits(&m.flags)?;
        let (date, tz) = match m.date_time {
            Some(d) => (d.unix_timestamp(), d.zone_minutes()),
            None => (now(), 0),
        };
        prepared.push((m.data.clone(), data.encode(), flags, keywords, date, tz));
    }
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    // The messages are stored straight from the framed command (the buffer the framer filled
    // as the literal arrived), which moves to the writer: no copy of a message is ever made.
    let result = s
        .ctx
        .store
        .write(move |t| {
            let id = t.mailbox_id(account, &name)?;
            let mut uids = Vec::new();
            for (range, data, flags, keywords, date, tz) in &prepared {
                let raw = command.get(range.clone()).unwrap_or_default();
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
