//! FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5) with BINARY (RFC 3516) and CONDSTORE's
//! MODSEQ and CHANGEDSINCE (RFC 7162 §3.1.4). ENVELOPE, BODYSTRUCTURE and the byte ranges of MIME
//! parts come from the FETCH data computed at delivery: no message is parsed here, and only the
//! chunks of the requested bytes are read.

use crate::imap::enabled::Extension;
use std::collections::HashSet;
use std::ops::ControlFlow;

use crate::imap::fetchdata::{self, Cte, FetchData, ThreadKeys};
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::response;
use crate::imap::section;
use crate::imap::session::Session;
use crate::proto::command::{FetchAttribute, FetchModifier, Partial, Section, SequenceSet};
use crate::proto::string::{write_literal, write_literal8, write_string};
use crate::store::{FlagOp, MessageRecord, Reader, StoreError, flag};

/// Messages whose responses are built per store snapshot (bounds the time one read holds).
const BATCH: usize = 256;
/// The batches after the first: the first answers quickly, the rest take fewer hand-overs to
/// the read pool (each costs a wake-up of two threads) for the same bytes.
const LATER_BATCH: usize = 2048;

pub async fn run(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    attrs: &[FetchAttribute],
    modifiers: &[FetchModifier],
    out: &mut Vec<u8>,
) -> Outcome {
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    let mut targets = crate::imap::shared::resolve(sel, set, uid, s.saved.as_deref())?;
    let mailbox = sel.mailbox;
    let read_only = sel.read_only;
    let mut attrs: Vec<FetchAttribute> = attrs.to_vec();
    if uid && !attrs.contains(&FetchAttribute::Uid) {
        attrs.insert(0, FetchAttribute::Uid);
    }
    let changed_since = modifiers.iter().find_map(|m| match m {
        FetchModifier::ChangedSince(c) => Some(c.get()),
        _ => None,
    });
    let want_vanished = modifiers.contains(&FetchModifier::Vanished);
    if want_vanished && (!uid || !s.enabled.qresync() || changed_since.is_none()) {
        // RFC 7162 §3.2.6: only in UID FETCH, with CHANGEDSINCE, after ENABLE QRESYNC.
        return Err(Error::Bad("VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC".into()));
    }
    if let Some(since) = changed_since {
        s.enabled.enable_reporting(Extension::Condstore, Some(sel.modseq), out);
        // Only the messages changed since then: the MODSEQ index, not a scan.
        let changed: HashSet<u32> =
            s.read(move |r| r.changed_since(mailbox, since)).await?.into_iter().map(|(u, _)| u).collect();
        targets.retain(|(_, u)| changed.contains(u));
        if !attrs.contains(&FetchAttribute::ModSeq) {
            attrs.push(FetchAttribute::ModSeq);
        }
        if want_vanished {
            // UIDs of the set expunged since then (RFC 7162 §3.2.6), from the tombstones.
            let set = set.clone();
            let max = sel.max_uid();
            let gone: Vec<u32> = s
                .read(move |r| r.vanished_since(mailbox, since))
                .await?
                .into_iter()
                .filter(|u| set.contains(*u, max).unwrap_or(false))
                .collect();
            response::vanished(out, &gone, true);
        }
    }
    if let Some(range) = modifiers.iter().find_map(|m| match m {
        FetchModifier::Partial(r) => Some(*r),
        _ => None,
    }) {
        // RFC 9394 §3.1: a window of the matching messages, counted from the first or the last.
        targets = crate::imap::shared::partial_window(&targets, range);
    }
    if attrs.contains(&FetchAttribute::ModSeq) {
        s.enabled.enable_reporting(Extension::Condstore, Some(sel.modseq), out);
    }
    // Fetching a body section without .PEEK sets \Seen (RFC 9051 §6.4.5).
    let sets_seen = !read_only
        && attrs.iter().any(|a| {
            matches!(
                a,
                FetchAttribute::BodySection { peek: false, .. }
                    | FetchAttribute::Binary { peek: false, .. }
                    | FetchAttribute::Rfc822
                    | FetchAttribute::Rfc822Text
            )
        });
    let mut newly_seen = HashSet::new();
    if sets_seen {
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let changed = s
            .ctx
            .store
            .write(move |t| {
                let mut changed = Vec::new();
                for &u in &uids {
                    match t.store_flags(mailbox, u, FlagOp::Add, flag::SEEN, &[], None) {
                        Ok((Some(m), _)) => changed.push((u, m)),
                        Ok((None, _)) | Err(StoreError::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(changed)
            })
            .await;
        let changed = match changed {
            Ok(changed) => changed,
            // A full or failing disk takes writes away, not reads: the client gets its data, and
            // \Seen stays unset (no FLAGS reported), as after a BODY.PEEK.
            Err(e) if e.is_temporary() => {
                log::warn!("FETCH: \\Seen not set: {e}");
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(sel) = s.selected.as_mut() {
            for (u, m) in changed {
                sel.own_modseqs.insert(m);
                newly_seen.insert(u);
            }
        }
    }
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    let recent = sel.recent.clone();
    let read_only = sel.read_only;
    let shows_flags = attrs.iter().any(|a| matches!(a, FetchAttribute::Flags));
    let mut failed = false;
    let (first, rest) = targets.split_at(targets.len().min(BATCH));
    let mut first_batch = !rest.is_empty();
    for batch in std::iter::once(first).filter(|b| !b.is_empty()).chain(rest.chunks(LATER_BATCH)) {
        let batch = batch.to_vec();
        let attrs = attrs.clone();
        let newly_seen: HashSet<u32> =
            batch.iter().map(|(_, u)| *u).filter(|u| newly_seen.contains(u)).collect();
        let mut keywords = s.selected.as_ref().map(|sel| sel.keywords.clone()).unwrap_or_default();
        let recent = recent.clone();
        let (bytes, bad, keywords) = s
            .read(move |r| {
                let mut buf = Vec::new();
                let mut bad = false;
                let mut write = |seq: u32, u: u32, m: &MessageRecord| -> Result<(), StoreError> {
                    if shows_flags || newly_seen.contains(&u) {
                        // Keywords new to the session are announced first (RFC 9051 §7.3.5).
                        keywords.announce(&m.keywords, read_only, &mut buf);
                    }
                    let is_recent = recent.contains(u);
                    if write_message(r, &mut buf, seq, u, m, &attrs, is_recent, newly_seen.contains(&u))?
                        .is_err()
                    {
                        bad = true;
                    }
                    Ok(())
                };
                let (first, last) = (batch[0].1, batch[batch.len() - 1].1);
                if (last - first) as usize <= 2 * batch.len() {
                    // Mostly consecutive UIDs (`1:*`, a window): one range scan instead of a
                    // lookup per message.
                    let mut want = batch.iter().peekable();
                    let mut failure = None;
                    r.scan(mailbox, first..=last, |u, m| {
                        while want.next_if(|(_, w)| *w < u).is_some() {}
                        match want.next_if(|(_, w)| *w == u) {
                            Some(&(seq, _)) => match write(seq, u, &m) {
                                Ok(()) => ControlFlow::Continue(()),
                                Err(e) => {
                                    failure = Some(e);
                                    ControlFlow::Break(())
                                }
                            },
                            None => ControlFlow::Continue(()),
                        }
                    })?;
                    if let Some(e) = failure {
                        return Err(e);
                    }
                } else {
                    for (seq, u) in batch {
                        let Some(m) = r.message(mailbox, u)? else { continue };
                        write(seq, u, &m)?;
                    }
                }
                Ok((buf, bad, keywords))
            })
            .await?;
        if let Some(sel) = s.selected.as_mut() {
            sel.keywords = keywords;
        }
        out.extend_from_slice(&bytes);
        failed |= bad;
        if first_batch {
            // The first batch goes out at once; the larger ones after it stream by size.
            first_batch = false;
            s.stream_now(out).await;
        } else {
            s.stream(out).await;
        }
    }
    if failed {
        return Err(Error::No(
            Some(Code::UnknownCte),
            "a part has an unknown content transfer encoding".into(),
        ));
    }
    Ok(Done::text("FETCH completed"))
}

/// One `* n FETCH (...)` response. `Ok(Err(()))` when a BINARY part cannot be decoded.
#[allow(clippy::too_many_arguments)]
fn write_message(
    r: &Reader,
    out: &mut Vec<u8>,
    seq: u32,
    uid: u32,
    m: &MessageRecord,
    attrs: &[FetchAttribute],
    recent: bool,
    flags_changed: bool,
) -> Result<Result<(), ()>, StoreError> {
    let needs_data = attrs.iter().any(|a| {
        !matches!(
            a,
            FetchAttribute::Uid
                | FetchAttribute::Flags
                | FetchAttribute::InternalDate
                | FetchAttribute::Rfc822Size
                | FetchAttribute::ModSeq
                | FetchAttribute::EmailId
                | FetchAttribute::SaveDate
                | FetchAttribute::Rfc822
                | FetchAttribute::Preview { .. }
        )
    });
    let data = if needs_data {
        let blob = r.blob(m.blob)?;
        Some(
            FetchData::decode(&blob.fetch_data)
                .ok_or_else(|| StoreError::Corrupt(format!("FETCH data of blob {} unreadable", m.blob)))?,
        )
    } else {
        None
    };
    let load = |_: &Reader| data.as_ref().ok_or_else(|| StoreError::Corrupt("FETCH data not loaded".into()));
    let mut result = Ok(());
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    let mut first = true;
    let mut flags_sent = false;
    for a in attrs {
        if !first {
            out.push(b' ');
        }
        first = false;
        match a {
            FetchAttribute::Uid => out.extend_from_slice(format!("UID {uid}").as_bytes()),
            FetchAttribute::Flags => {
                flags_sent = true;
                out.extend_from_slice(b"FLAGS ");
                response::flags(out, m.flags, &m.keywords, recent);
            }
            FetchAttribute::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE \"");
                out.extend_from_slice(
                    crate::imap::shared::format_internal_date(m.internal_date, m.tz_minutes).as_bytes(),
                );
                out.push(b'"');
            }
            FetchAttribute::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", m.size).as_bytes()),
            FetchAttribute::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes()),
            FetchAttribute::EmailId => out.extend_from_slice(format!("EMAILID (M{})", m.blob).as_bytes()),
            // RFC 8474 §5.2: the same THREADID for every message of a thread (see ThreadKeys).
            FetchAttribute::ThreadId => {
                let d = load(r)?;
                let keys = match &d.thread {
                    Some(k) => k.clone(),
                    None => ThreadKeys::from_header(&r.blob_bytes(m.blob, 0, d.header_len as usize)?),
                };
                out.extend_from_slice(format!("THREADID ({})", keys.thread_id(m.blob)).as_bytes());
            }
            FetchAttribute::SaveDate => out.extend_from_slice(b"SAVEDATE NIL"),
            FetchAttribute::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                out.extend_from_slice(&load(r)?.envelope);
            }
            FetchAttribute::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                out.extend_from_slice(&load(r)?.bodystructure);
            }
            FetchAttribute::Body => {
                out.extend_from_slice(b"BODY ");
                out.extend_from_slice(&load(r)?.body);
            }
            FetchAttribute::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                write_literal(out, &r.raw(m.blob)?);
            }
            FetchAttribute::Rfc822Header => {
                let d = load(r)?;
                out.extend_from_slice(b"RFC822.HEADER ");
                write_literal(out, &r.blob_bytes(m.blob, 0, d.header_len as usize)?);
            }
            FetchAttribute::Rfc822Text => {
                let d = load(r)?;
                out.extend_from_slice(b"RFC822.TEXT ");
                let start = d.header_len as usize;
                write_literal(out, &r.blob_bytes(m.blob, start, (m.size as usize).saturating_sub(start))?);
            }
            FetchAttribute::BodySection { section, partial, .. } => {
                let d = load(r)?;
                out.extend_from_slice(b"BODY[");
                write_section(out, section);
                out.push(b']');
                let bytes = section::bytes(r, m, d, section)?;
                write_partial(out, bytes.as_deref(), partial.as_ref(), false);
            }
            FetchAttribute::Binary { part, partial, .. } => {
                let d = load(r)?;
                let path: Vec<u32> = part.iter().map(|n| n.get()).collect();
                out.extend_from_slice(b"BINARY[");
                out.extend_from_slice(dotted(&path).as_bytes());
                out.push(b']');
                let decoded = match binary_part(r, m, d, &path)? {
                    Some(Ok(b)) => Some(b),
                    Some(Err(())) => {
                        result = Err(());
                        None
                    }
                    None => None,
                };
                write_partial(out, decoded.as_deref(), partial.as_ref(), true);
            }
            FetchAttribute::BinarySize { part } => {
                let d = load(r)?;
                let path: Vec<u32> = part.iter().map(|n| n.get()).collect();
                let size =
                    if path.is_empty() { Some(m.size) } else { d.section(&path).map(|p| p.binary_size) };
                out.extend_from_slice(format!("BINARY.SIZE[{}] ", dotted(&path)).as_bytes());
                match size {
                    Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                    None => out.extend_from_slice(b"NIL"),
                }
            }
            FetchAttribute::Preview { .. } => out.extend_from_slice(b"PREVIEW NIL"),
        }
    }
    if flags_changed && !flags_sent {
        out.extend_from_slice(b" FLAGS ");
        response::flags(out, m.flags, &m.keywords, recent);
    }
    out.extend_from_slice(b")\r\n");
    Ok(result)
}

fn dotted(path: &[u32]) -> String {
    path.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// The section spec as echoed in the response (`1.2.HEADER.FIELDS (FROM TO)`).
fn write_section(out: &mut Vec<u8>, section: &Section) {
    let part = |p: &Option<crate::proto::command::Part>| {
        p.as_ref().map(|p| format!("{}.", dotted(&p.0.iter().map(|n| n.get()).collect::<Vec<_>>())))
    };
    let text = match section {
        Section::Full => String::new(),
        Section::Part(p) => dotted(&p.0.iter().map(|n| n.get()).collect::<Vec<_>>()),
        Section::Header(p) => format!("{}HEADER", part(p).unwrap_or_default()),
        Section::Text(p) => format!("{}TEXT", part(p).unwrap_or_default()),
        Section::Mime(p) => format!("{}.MIME", dotted(&p.0.iter().map(|n| n.get()).collect::<Vec<_>>())),
        Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names) => {
            let not = if matches!(section, Section::HeaderFieldsNot(..)) { ".NOT" } else { "" };
            let list: Vec<String> = names.iter().map(|n| n.to_ascii_uppercase()).collect();
            format!("{}HEADER.FIELDS{not} ({})", part(p).unwrap_or_default(), list.join(" "))
        }
    };
    out.extend_from_slice(text.as_bytes());
}

/// A part decoded from its transfer encoding (BINARY); `Some(Err)` for an unknown encoding.
fn binary_part(
    r: &Reader,
    m: &MessageRecord,
    d: &FetchData,
    path: &[u32],
) -> Result<Option<Result<Vec<u8>, ()>>, StoreError> {
    if path.is_empty() {
        return Ok(Some(Ok(r.raw(m.blob)?)));
    }
    let Some(part) = d.section(path) else { return Ok(None) };
    if part.content_transfer_encoding == Cte::Unknown {
        return Ok(Some(Err(())));
    }
    let (a, b) = part.body;
    let raw = r.blob_bytes(m.blob, a as usize, b.saturating_sub(a) as usize)?;
    Ok(Some(Ok(fetchdata::decode_transfer(part.content_transfer_encoding, &raw))))
}

/// Writes ` <origin>`-suffixed partial data or the whole value; NIL when the section is missing.
fn write_partial(out: &mut Vec<u8>, bytes: Option<&[u8]>, partial: Option<&Partial>, binary: bool) {
    let Some(bytes) = bytes else {
        out.extend_from_slice(b" NIL");
        return;
    };
    let slice = match partial {
        Some(p) => {
            out.extend_from_slice(format!("<{}>", p.offset).as_bytes());
            let start = usize::try_from(p.offset).unwrap_or(usize::MAX).min(bytes.len());
            let len = usize::try_from(p.length.get()).unwrap_or(usize::MAX);
            &bytes[start..start.saturating_add(len).min(bytes.len())]
        }
        None => bytes,
    };
    out.push(b' ');
    if binary && slice.contains(&0) {
        write_literal8(out, slice);
    } else if binary || slice.len() > 100 {
        write_literal(out, slice);
    } else {
        write_string(out, slice);
    }
}
