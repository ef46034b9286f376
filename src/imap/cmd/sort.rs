//! SORT and UID SORT (RFC 5256 §3) with ESORT results (RFC 5267 §3) and DISPLAYFROM /
//! DISPLAYTO (RFC 5957). Every key comes from the FETCH data computed at delivery (base subject,
//! first addresses, display names, Date header): sorting parses no message.

use std::cmp::Ordering;

use super::search::{check_charset, find};
use crate::imap::context::LiveSearch;
use crate::imap::fetchdata::{FetchData, display_keys};
use crate::imap::session::{Done, Error, Outcome, Session};
use crate::proto::command::{SearchKey, SearchReturn, SortCriterion, SortKey, Tag};
use crate::store::{MessageRecord, Reader, StoreError};

/// One message's sort keys, filled for the criteria asked.
#[derive(Default)]
pub struct Keys {
    seq: u32,
    pub uid: u32,
    arrival: i64,
    date: i64,
    size: u32,
    subject: String,
    from: String,
    to: String,
    cc: String,
    display_from: String,
    display_to: String,
}

/// Reads the keys `criteria` need of one message, from its record and the FETCH data stored at
/// delivery (DISPLAYFROM / DISPLAYTO also read the header bytes).
pub fn keys_of(
    r: &Reader,
    seq: u32,
    uid: u32,
    m: &MessageRecord,
    criteria: &[SortCriterion],
) -> Result<Keys, StoreError> {
    let need_data = criteria.iter().any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size));
    let need_header = criteria.iter().any(|c| matches!(c.key, SortKey::DisplayFrom | SortKey::DisplayTo));
    let mut k =
        Keys { seq, uid, arrival: m.internal_date, date: m.internal_date, size: m.size, ..Keys::default() };
    if need_data {
        let d = FetchData::decode(&r.blob(m.blob)?.fetch_data)
            .ok_or_else(|| StoreError::Corrupt("FETCH data".into()))?;
        // RFC 5256 §3: DATE falls back to the internal date without a Date header.
        k.date = d.date.unwrap_or(m.internal_date);
        k.subject = d.sort_subject;
        k.from = d.from_addr;
        k.to = d.to_addr;
        k.cc = d.cc_addr;
        if need_header {
            (k.display_from, k.display_to) = match d.display {
                Some(keys) => keys,
                // Stored before format 2 of the FETCH data: read the header.
                None => display_keys(&r.blob_bytes(m.blob, 0, d.header_len as usize)?),
            };
        }
    }
    Ok(k)
}

/// RFC 5256 §3 order; ties by sequence number, which within one snapshot is UID order.
pub fn compare(a: &Keys, b: &Keys, criteria: &[SortCriterion]) -> Ordering {
    for c in criteria {
        let o = match c.key {
            SortKey::Arrival => a.arrival.cmp(&b.arrival),
            SortKey::Date => a.date.cmp(&b.date),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Subject => a.subject.cmp(&b.subject),
            SortKey::From => a.from.cmp(&b.from),
            SortKey::To => a.to.cmp(&b.to),
            SortKey::Cc => a.cc.cmp(&b.cc),
            SortKey::DisplayFrom => a.display_from.cmp(&b.display_from),
            SortKey::DisplayTo => a.display_to.cmp(&b.display_to),
        };
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    // RFC 5256 §3: ties are broken by sequence number (the same order as UIDs).
    a.uid.cmp(&b.uid)
}

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
                        let list: Vec<String> = numbers.iter().map(u32::to_string).collect();
                        out.extend_from_slice(list.join(",").as_bytes());
                    }
                    SearchReturn::Partial(range) => super::write_partial_result(out, &numbers, *range, false),
                    _ => {}
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    Ok(Done::text("SORT completed"))
}
