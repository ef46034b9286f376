//! SORT keys (RFC 5256 §3, RFC 5957 DISPLAYFROM / DISPLAYTO), below the handlers: SORT and the
//! updating sorts of `context.rs` read and compare them.

use std::cmp::Ordering;

use crate::imap::fetchdata::{FetchData, display_keys};
use crate::proto::command::{SortCriterion, SortKey};
use crate::store::{MessageRecord, Reader, StoreError};

/// One message's sort keys, filled for the criteria asked.
#[derive(Default)]
pub struct Keys {
    pub seq: u32,
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
