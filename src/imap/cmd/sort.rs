//! SORT and UID SORT (RFC 5256 §3) with ESORT results (RFC 5267 §3) and DISPLAYFROM /
//! DISPLAYTO (RFC 5957). Every key comes from the FETCH data computed at delivery (base subject,
//! first addresses, display names, Date header): sorting parses no message.

use crate::imap::context::LiveSearch;
use crate::imap::outcome::{Done, Error, Outcome};
use crate::imap::search_eval::{check_charset, find};
use crate::imap::session::Session;
use crate::proto::command::{SearchKey, SearchReturn, SortCriterion, Tag};

use crate::imap::sort_keys::{Keys, compare, keys_of};
#[allow(clippy::too_many_arguments)]
pub async fn run(
    s: &mut Session,
    uid: bool,
    returns: Option<&[SearchReturn]>,
    criteria: &[SortCriterion],
    charset: &str,
    search: &SearchKey,
    tag: &Tag,
    out: &mut Vec<u8>,
) -> Outcome {
    check_charset(Some(charset))?;
    let update = returns.is_some_and(|r| r.contains(&SearchReturn::Update));
    if update {
        crate::imap::context::check_tag(s, tag.as_str())?;
    }
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    let mailbox = sel.mailbox;
    let (hits, _) = find(s, search).await?;
    let crit = criteria.to_vec();
    let for_keys = crit.clone();
    // Sorting 100,000 keys is CPU work: it happens with the read, off the executor (issue 10).
    let keys: Vec<Keys> = s
        .read(move |r| {
            let mut v = Vec::with_capacity(hits.len());
            for (seq, u) in hits {
                let Some(m) = r.message(mailbox, u)? else { continue };
                v.push(keys_of(r, seq, u, &m, &for_keys)?);
            }
            v.sort_by(|a, b| compare(a, b, &for_keys));
            Ok(v)
        })
        .await?;
    let numbers: Vec<u32> = keys.iter().map(|k| if uid { k.uid } else { k.seq }).collect();
    if update {
        let results = keys.iter().map(|k| k.uid).collect();
        let live = LiveSearch::new(
            tag.as_str().to_string(),
            uid,
            search.clone(),
            Some(crit),
            s.saved.clone(),
            results,
        );
        crate::imap::context::start(s, live, out);
    }
    match returns {
        None => {
            out.extend_from_slice(b"* SORT");
            for n in &numbers {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        Some(returns) => {
            // RFC 5267 §3.2: ESEARCH whose MIN/MAX are the first and last in sort order and
            // whose ALL lists the numbers in sort order.
            let returns = if returns.is_empty() { &[SearchReturn::All][..] } else { returns };
            crate::imap::response::esearch_start(out, tag.as_str(), uid);
            for r in returns {
                match r {
                    SearchReturn::Min if !numbers.is_empty() => {
                        out.extend_from_slice(format!(" MIN {}", numbers[0]).as_bytes())
                    }
                    SearchReturn::Max if !numbers.is_empty() => {
                        out.extend_from_slice(format!(" MAX {}", numbers[numbers.len() - 1]).as_bytes())
                    }
                    SearchReturn::Count => {
                        out.extend_from_slice(format!(" COUNT {}", numbers.len()).as_bytes())
                    }
                    SearchReturn::All if !numbers.is_empty() => {
                        out.extend_from_slice(b" ALL ");
                        // A sequence-set (RFC 4731 §3.1) that keeps the sort order: only
                        // ascending runs of consecutive numbers become `a:b`.
                        crate::imap::response::number_set(out, &numbers);
                    }
                    SearchReturn::Partial(range) => {
                        crate::imap::shared::write_partial_result(out, &numbers, *range, false)
                    }
                    _ => {}
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    Ok(Done::text("SORT completed"))
}
