//! SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH results (RFC 4731),
//! SEARCHRES (RFC 5182), PARTIAL (RFC 9394) and the MODSEQ key (RFC 7162 §3.1.5). Flags, sizes and dates come from the
//! message records; header keys read only the header bytes; BODY and TEXT decode the message
//! (RFC 2047 words, transfer encodings, charsets) with mail-parser and match case-insensitively.

use crate::imap::enabled::Extension;
use crate::imap::search_eval::{MatchModseqs, check_charset, find, uses_modseq};

use crate::imap::context::LiveSearch;
use crate::imap::outcome::{Done, Outcome};
use crate::imap::response::number_set;
use crate::imap::session::Session;
use crate::proto::command::{SearchKey, SearchReturn, Tag};

pub async fn run(
    s: &mut Session,
    uid: bool,
    returns: Option<&[SearchReturn]>,
    charset: Option<&str>,
    criteria: &SearchKey,
    tag: &Tag,
    out: &mut Vec<u8>,
) -> Outcome {
    check_charset(charset)?;
    let update = returns.is_some_and(|r| r.contains(&SearchReturn::Update));
    if update {
        crate::imap::context::check_tag(s, tag.as_str())?;
    }
    let modseq = uses_modseq(criteria);
    if modseq {
        s.enable(Extension::Condstore, out);
    }
    if let Some(returns) = returns
        && !returns.is_empty()
        && matches!(criteria, SearchKey::All)
        && !returns.contains(&SearchReturn::Save)
        && !update
    {
        return Ok(all_messages(s, uid, returns, tag, out));
    }
    let (hits, modseqs) = find(s, criteria).await?;
    let numbers: Vec<u32> = hits.iter().map(|(seq, u)| if uid { *u } else { *seq }).collect();
    if update {
        let live = LiveSearch::new(
            tag.as_str().to_string(),
            uid,
            criteria.clone(),
            None,
            s.saved.clone(),
            hits.iter().map(|(_, u)| *u).collect(),
        );
        crate::imap::context::start(s, live, out);
    }
    let esearch = returns.is_some() || s.enabled.rev2();
    let returns: Vec<SearchReturn> = match returns {
        Some([]) | None => vec![SearchReturn::All],
        Some(r) => r.to_vec(),
    };
    if returns.contains(&SearchReturn::Save) {
        let mut saved: Vec<u32> = hits.iter().map(|(_, u)| *u).collect();
        saved.sort_unstable();
        s.saved = Some(saved);
        if returns.len() == 1 {
            return Ok(Done::text("SEARCH completed, result saved"));
        }
    }
    if !esearch {
        out.extend_from_slice(b"* SEARCH");
        for n in &numbers {
            out.extend_from_slice(format!(" {n}").as_bytes());
        }
        if modseq && !numbers.is_empty() {
            out.extend_from_slice(format!(" (MODSEQ {})", modseqs.highest).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        return Ok(Done::text("SEARCH completed"));
    }
    // RFC 4731 §3.1: `* ESEARCH (TAG "x") [UID] MIN n MAX n COUNT n ALL set`.
    crate::imap::response::esearch_start(out, tag.as_str(), uid);
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    let n = u32::try_from(sorted.len()).unwrap_or(u32::MAX);
    write_returns(out, &returns, n, |i| sorted[i as usize - 1], |out| number_set(out, &sorted));
    if modseq && !sorted.is_empty() {
        out.extend_from_slice(format!(" MODSEQ {}", result_modseq(&returns, modseqs)).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(Done::text("SEARCH completed"))
}

/// The MODSEQ of an ESEARCH result (RFC 7162 §3.1.5, RFC 4731 §3.2): that of the messages
/// returned, so with only MIN and/or MAX the highest of those one or two (matches ascend, so
/// MIN is the first and MAX the last); otherwise the highest of every match.
fn result_modseq(returns: &[SearchReturn], m: MatchModseqs) -> u64 {
    if !returns.iter().all(|r| matches!(r, SearchReturn::Min | SearchReturn::Max | SearchReturn::Save)) {
        return m.highest;
    }
    let min = if returns.contains(&SearchReturn::Min) { m.first } else { 0 };
    let max = if returns.contains(&SearchReturn::Max) { m.last } else { 0 };
    min.max(max)
}

/// `SEARCH RETURN (...) ALL`, the first screen of a desktop client (`UID SEARCH RETURN (PARTIAL
/// -1:-50) ALL`): answered from the session's UID runs, touching only the numbers it returns
/// rather than listing every message of the mailbox.
fn all_messages(s: &Session, uid: bool, returns: &[SearchReturn], tag: &Tag, out: &mut Vec<u8>) -> Done {
    let Some(sel) = s.selected.as_ref() else { return Done::text("SEARCH completed") };
    let n = sel.exists();
    let number = |i: u32| if uid { sel.uid_of(i).unwrap_or(0) } else { i };
    crate::imap::response::esearch_start(out, tag.as_str(), uid);
    write_returns(out, returns, n, number, |out| {
        if uid {
            sel.uids.write_set(out);
        } else if n == 1 {
            out.extend_from_slice(b"1");
        } else {
            out.extend_from_slice(format!("1:{n}").as_bytes());
        }
    });
    out.extend_from_slice(b"\r\n");
    Done::text("SEARCH completed")
}

/// The result data of an ESEARCH response (RFC 4731 §3.1, RFC 9394 §3.1) for `n` matches in
/// ascending order, `number(i)` being the i-th (1-based) and `all` writing them as a set.
fn write_returns(
    out: &mut Vec<u8>,
    returns: &[SearchReturn],
    n: u32,
    number: impl Fn(u32) -> u32,
    all: impl Fn(&mut Vec<u8>),
) {
    for r in returns {
        match r {
            SearchReturn::Min if n > 0 => out.extend_from_slice(format!(" MIN {}", number(1)).as_bytes()),
            SearchReturn::Max if n > 0 => out.extend_from_slice(format!(" MAX {}", number(n)).as_bytes()),
            SearchReturn::Count => out.extend_from_slice(format!(" COUNT {n}").as_bytes()),
            SearchReturn::All if n > 0 => {
                out.extend_from_slice(b" ALL ");
                all(out);
            }
            // `PARTIAL (range set-or-NIL)`: only the numbers in the window are looked up.
            SearchReturn::Partial(range) => {
                let window: Vec<u32> = crate::imap::shared::partial_positions(n as usize, *range)
                    .map(|i| number(i as u32 + 1))
                    .collect();
                crate::imap::shared::write_partial_window(out, &window, *range, true);
            }
            _ => {}
        }
    }
}
