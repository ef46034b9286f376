//! CATENATE (RFC 4469 §3): the messages of an APPEND built from TEXT literals and from IMAP
//! URLs (RFC 5092) of messages or parts of messages in the account's own mailboxes.
//!
//! A URL is resolved against the session: relative URLs against the base URL RFC 4469 §3 gives
//! (`imap://user@server/` once authenticated, `imap://user@server/mailbox` with a mailbox
//! selected, so `;UID=n` names a message of the selected mailbox); an absolute URL is taken only
//! when it names this server (`hostname` of the config) and the logged-in account (RFC 4469 §3
//! leaves other absolute URLs out of its scope, "a server implementing only this specification
//! would return NO"). Mailboxes are looked up by the session's account id alone, so no URL
//! reads another account's mail. The part's bytes are what `BODY[section]<partial>` gives
//! (`imap::section`), copied unchanged (RFC 4469 §3: no conversion); reading a part sets no flag.
//!
//! Every URL part is read on the store's read threads in one snapshot, and its size is checked
//! against the cap before its bytes are read: a message is at most `limits.max_literal_size`
//! (as a literal is), and so are the CATENATE messages of one APPEND together (as the framer
//! holds a MULTIAPPEND's literals together), else `NO [TOOBIG]` (RFC 4469 §4.2).

use std::ops::Range;

use crate::imap::fetchdata::FetchData;
use crate::imap::outcome::{Code, Error};
use crate::imap::section;
use crate::imap::session::Session;
use crate::proto::command::{AppendData, AppendMessage, CatPart, ImapUrl, MailboxName, Section, UrlMailbox};
use crate::proto::parse::parse_imap_url;
use crate::store::{Reader, StoreError};

/// Builds the CATENATE messages of `messages`, appending their bytes to `command` (the framed
/// command, which holds the TEXT literals), and gives where each message lies in it: a literal
/// message where it was sent, a built one where it was appended. `command` is handed back.
pub async fn assemble(
    s: &Session,
    messages: &[AppendMessage],
    command: Vec<u8>,
) -> Result<(Vec<u8>, Vec<Range<usize>>), Error> {
    let literal = |m: &AppendMessage| match &m.data {
        AppendData::Literal { range, .. } => Some(range.clone()),
        AppendData::Catenate(_) => None,
    };
    if let Some(ranges) = messages.iter().map(literal).collect::<Option<Vec<_>>>() {
        return Ok((command, ranges));
    }
    let mut plan = Vec::with_capacity(messages.len());
    for m in messages {
        plan.push(match &m.data {
            AppendData::Literal { range, .. } => Message::Literal(range.clone()),
            AppendData::Catenate(parts) => {
                Message::Built(parts.iter().map(|p| piece(s, p)).collect::<Result<_, _>>()?)
            }
        });
    }
    let account = s.account_id()?;
    let cap = usize::try_from(s.ctx.config.limits.max_literal_size).unwrap_or(usize::MAX);
    let built = s.read(move |r| Ok(build(r, account, cap, plan, command))).await?;
    match built {
        Ok(done) => Ok(done),
        Err(Refusal::BadUrl(url)) => {
            Err(Error::No(Some(Code::BadUrl(url)), "CATENATE: the URL names no message or part".into()))
        }
        Err(Refusal::TooBig) => Err(Error::No(
            Some(Code::TooBig),
            format!("CATENATE: the message would be larger than {cap} bytes"),
        )),
        Err(Refusal::Empty) => Err(Error::No(None, "CATENATE: the parts make an empty message".into())),
        Err(Refusal::Store(e)) => Err(e.into()),
    }
}

/// One message of the APPEND, as planned before the store is read.
enum Message {
    Literal(Range<usize>),
    Built(Vec<Piece>),
}

/// One part of a CATENATE message.
enum Piece {
    /// A TEXT literal, where it is in the command.
    Text(Range<usize>),
    /// A URL, resolved against the session but not yet against the store.
    Url { sent: Vec<u8>, mailbox: Target, url: ImapUrl },
}

/// The mailbox a URL names.
enum Target {
    /// The selected mailbox (a relative `;UID=` URL).
    Id(u64),
    Name(String),
}

/// Why the messages could not be built.
enum Refusal {
    BadUrl(Vec<u8>),
    TooBig,
    Empty,
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// A part, with its URL parsed and checked against the session (RFC 4469 §3).
fn piece(s: &Session, part: &CatPart) -> Result<Piece, Error> {
    let url_bytes = match part {
        CatPart::Text { range, .. } => return Ok(Piece::Text(range.clone())),
        CatPart::Url(u) => u,
    };
    let bad = |why: &str| {
        if url_bytes.is_empty() {
            // url-resp-text has one octet at least: an empty URL gets no code.
            Error::No(None, format!("CATENATE: empty URL ({why})"))
        } else {
            Error::No(Some(Code::BadUrl(url_bytes.clone())), format!("CATENATE: {why}"))
        }
    };
    let url = parse_imap_url(url_bytes).map_err(|e| bad(e.0))?;
    if let Some(server) = &url.server {
        let account = s.account.as_ref().map(|a| a.name.as_str()).unwrap_or_default();
        if !server.host.eq_ignore_ascii_case(&s.ctx.config.hostname) {
            return Err(bad("the URL names another server"));
        }
        if !server.user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(account)) {
            return Err(bad("the URL names another user"));
        }
    }
    let mailbox = match &url.mailbox {
        UrlMailbox::Selected => match &s.selected {
            Some(sel) => Target::Id(sel.mailbox),
            None => return Err(bad("a relative ;UID= URL needs a selected mailbox")),
        },
        UrlMailbox::Named(name) => {
            let name = MailboxName::new(name).map_err(|_| bad("invalid mailbox name"))?;
            Target::Name(name.as_str().to_string())
        }
    };
    Ok(Piece::Url { sent: url_bytes.clone(), mailbox, url })
}

/// A URL part found in the store, not read yet.
enum Found {
    /// `len` bytes of blob `blob` from `start`.
    Range { blob: u64, start: usize, len: usize },
    /// HEADER.FIELDS (.NOT): the filtered header, already read (a header, so small).
    Bytes(Vec<u8>),
}

/// A part whose size is known.
enum Ready {
    Text(Range<usize>),
    Url(Found),
}

impl Ready {
    fn len(&self) -> usize {
        match self {
            Ready::Text(range) => range.len(),
            Ready::Url(Found::Range { len, .. }) => *len,
            Ready::Url(Found::Bytes(b)) => b.len(),
        }
    }
}

/// Resolves every URL part in one snapshot and checks the sizes, then reads the parts and
/// appends the built messages to `command`.
fn build(
    r: &Reader,
    account: u64,
    cap: usize,
    plan: Vec<Message>,
    mut command: Vec<u8>,
) -> Result<(Vec<u8>, Vec<Range<usize>>), Refusal> {
    let sent = command.len();
    let mut total = 0usize;
    let mut resolved: Vec<Result<Vec<Ready>, Range<usize>>> = Vec::with_capacity(plan.len());
    for m in plan {
        let pieces = match m {
            Message::Literal(range) => {
                resolved.push(Err(range));
                continue;
            }
            Message::Built(pieces) => pieces,
        };
        let mut size = 0usize;
        let mut parts = Vec::with_capacity(pieces.len());
        for p in pieces {
            let part = match p {
                Piece::Text(range) if range.end <= sent => Ready::Text(range),
                Piece::Text(_) => {
                    return Err(StoreError::Corrupt("TEXT literal outside the command".into()).into());
                }
                Piece::Url { sent, mailbox, url } => {
                    Ready::Url(find(r, account, &mailbox, &url)?.ok_or(Refusal::BadUrl(sent))?)
                }
            };
            size = size.saturating_add(part.len());
            if size > cap {
                return Err(Refusal::TooBig);
            }
            parts.push(part);
        }
        if size == 0 {
            return Err(Refusal::Empty);
        }
        total = total.saturating_add(size);
        if total > cap {
            return Err(Refusal::TooBig);
        }
        resolved.push(Ok(parts));
    }
    command.reserve_exact(total);
    let mut ranges = Vec::with_capacity(resolved.len());
    for m in resolved {
        let parts = match m {
            Ok(parts) => parts,
            Err(literal) => {
                ranges.push(literal);
                continue;
            }
        };
        let start = command.len();
        for part in parts {
            match part {
                Ready::Text(range) => command.extend_from_within(range),
                Ready::Url(Found::Bytes(b)) => command.extend_from_slice(&b),
                Ready::Url(Found::Range { blob, start, len }) => {
                    r.blob_bytes_into(blob, start, len, &mut command)?;
                }
            }
        }
        ranges.push(start..command.len());
    }
    Ok((command, ranges))
}

/// The part a URL names in the account's mailboxes: `None` when there is no such mailbox (of
/// this account), UIDVALIDITY, message or part (RFC 4469 §4.1: BADURL).
fn find(r: &Reader, account: u64, mailbox: &Target, url: &ImapUrl) -> Result<Option<Found>, StoreError> {
    let id = match mailbox {
        Target::Id(id) => *id,
        Target::Name(name) => match r.mailbox_id(account, name) {
            Ok(id) => id,
            Err(StoreError::NoSuchMailbox) => return Ok(None),
            Err(e) => return Err(e),
        },
    };
    let record = match r.mailbox(id) {
        Ok(m) => m,
        Err(StoreError::NoSuchMailbox) => return Ok(None),
        Err(e) => return Err(e),
    };
    if url.uidvalidity.is_some_and(|v| v.get() != record.uidvalidity) {
        return Ok(None);
    }
    let Some(m) = r.message(id, url.uid.get())? else { return Ok(None) };
    let data = FetchData::decode(&r.blob(m.blob)?.fetch_data)
        .ok_or_else(|| StoreError::Corrupt(format!("FETCH data of blob {} unreadable", m.blob)))?;
    let Some((a, b)) = section::span(&m, &data, &url.section) else { return Ok(None) };
    let (a, b) = (a as usize, (b as usize).max(a as usize));
    // ;PARTIAL=offset.length is BODY[section]<offset.length> (RFC 5092 §6): past the end, empty.
    let window = |len: usize| -> (usize, usize) {
        match url.partial {
            None => (0, len),
            Some((offset, length)) => {
                let from = usize::try_from(offset).unwrap_or(usize::MAX).min(len);
                let n = length.map_or(usize::MAX, |l| usize::try_from(l.get()).unwrap_or(usize::MAX));
                (from, n.min(len - from))
            }
        }
    };
    Ok(Some(match &url.section {
        Section::HeaderFields(..) | Section::HeaderFieldsNot(..) => {
            let Some(fields) = section::bytes(r, &m, &data, &url.section)? else { return Ok(None) };
            let (from, n) = window(fields.len());
            Found::Bytes(fields[from..from + n].to_vec())
        }
        _ => {
            let (from, n) = window(b - a);
            Found::Range { blob: m.blob, start: a + from, len: n }
        }
    }))
}
