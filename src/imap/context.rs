//! Updating searches (RFC 5267 §4.3: CONTEXT=SEARCH and CONTEXT=SORT). A `SEARCH` or `SORT` with
//! `RETURN (UPDATE)` leaves a live search in the selected mailbox; whenever the session reports
//! changes (at command end, in IDLE), the messages that changed — and only those — are checked
//! against its criteria, and the client is told with `ADDTO` / `REMOVEFROM` how its result moved.
//!
//! A live search keeps the UIDs of its result in result order: mailbox order for SEARCH, the
//! requested order for SORT. Sort keys are not kept: an insertion reads the keys of the
//! O(log n) results its binary search compares with (they come from the FETCH data stored at
//! delivery). Sort keys never change after delivery (dates, sizes, addresses, subjects), so a
//! flag change can move a message into or out of a result, never within it.
//!
//! Not tracked (as no MODSEQ changes with them): OLDER / YOUNGER moving with the clock, and
//! sequence-number keys moving with expunges; the criteria are re-checked for messages that
//! changed, with the numbers they have then.

use std::cmp::Ordering;

use super::response::number_set;
use super::search_eval::{Env, matches};
use super::seqmap::SeqMap;
use super::session::{Error, Session};
use super::sort_keys::{compare, keys_of};
use crate::proto::command::{SearchKey, SortCriterion};
use crate::store::{MessageRecord, Reader, Result};

/// Updating searches one session may hold; the next gets `NO [NOUPDATE "tag"]` (RFC 5267 §4.3.1
/// asks for at least one). Each costs 4 bytes per message in its result.
pub const MAX_CONTEXTS: usize = 4;

#[derive(Debug)]
pub struct LiveSearch {
    /// The tag of the searching command: the correlator of every update (RFC 5267 §4.3).
    pub tag: String,
    /// UID SEARCH / UID SORT: updates carry UIDs, else sequence numbers (§4.3.2).
    uid: bool,
    key: SearchKey,
    /// `None` for SEARCH (mailbox order), the criteria for SORT.
    order: Option<Vec<SortCriterion>>,
    /// `$` as it was when the search ran.
    saved: Option<Vec<u32>>,
    /// The result's UIDs in result order.
    results: Vec<u32>,
}

impl LiveSearch {
    pub fn new(
        tag: String,
        uid: bool,
        key: SearchKey,
        order: Option<Vec<SortCriterion>>,
        saved: Option<Vec<u32>>,
        results: Vec<u32>,
    ) -> Self {
        LiveSearch { tag, uid, key, order, saved, results }
    }

    fn number(&self, uid: u32, map: &SeqMap) -> u32 {
        if self.uid { uid } else { map.seq_of(uid).unwrap_or(0) }
    }

    fn position(&self, uid: u32) -> Option<usize> {
        match self.order {
            None => self.results.binary_search(&uid).ok(),
            Some(_) => self.results.iter().position(|u| *u == uid),
        }
    }

    fn header(&self, out: &mut Vec<u8>) {
        super::response::esearch_start(out, &self.tag, self.uid);
    }

    /// Messages about to be reported expunged: `REMOVEFROM`, sent before the EXPUNGE responses
    /// so that its sequence numbers are still valid (RFC 5267 §4.3.4). `map` is the sequence map
    /// before the expunge.
    pub fn expunging(&mut self, gone: &[u32], map: &SeqMap, out: &mut Vec<u8>) {
        let removed: Vec<u32> = gone.iter().copied().filter(|u| self.position(*u).is_some()).collect();
        self.remove(&removed, map, out);
    }

    /// Re-checks the messages that changed or arrived (`uids`, ascending), after the EXISTS and
    /// FETCH responses: `REMOVEFROM` for those that no longer match, then `ADDTO` for those that
    /// now do (RFC 5267 §4.3.3: after EXISTS, so new sequence numbers are valid).
    pub fn changed(
        &mut self,
        r: &Reader,
        mailbox: u64,
        uids: &[u32],
        map: &SeqMap,
        env: &Env,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let env = Env { saved: self.saved.clone(), ..env.clone() };
        let (mut add, mut drop) = (Vec::new(), Vec::new());
        for &u in uids {
            let Some(seq) = map.seq_of(u) else { continue };
            let Some(m) = r.message(mailbox, u)? else { continue };
            let now = matches(r, &self.key, seq, u, m.clone(), &env)?;
            match (now, self.position(u).is_some()) {
                (true, false) => add.push((u, seq, m)),
                (false, true) => drop.push(u),
                _ => {}
            }
        }
        self.remove(&drop, map, out);
        self.add(r, mailbox, add, map, out)
    }

    fn remove(&mut self, uids: &[u32], map: &SeqMap, out: &mut Vec<u8>) {
        if uids.is_empty() {
            return;
        }
        self.header(out);
        out.extend_from_slice(b" REMOVEFROM (");
        match self.order {
            None => {
                // §4.3.4: position 0, the numbers in mailbox order.
                let mut numbers: Vec<u32> = uids.iter().map(|u| self.number(*u, map)).collect();
                numbers.sort_unstable();
                out.extend_from_slice(b"0 ");
                number_set(out, &numbers);
                self.results.retain(|u| !uids.contains(u));
            }
            Some(_) => {
                // One pair per message, each position valid when its pair is applied: from the
                // end of the result towards its start.
                let mut at: Vec<(usize, u32)> =
                    uids.iter().filter_map(|u| self.position(*u).map(|p| (p, *u))).collect();
                at.sort_unstable_by_key(|a| std::cmp::Reverse(a.0));
                let mut first = true;
                for (p, u) in at {
                    if !first {
                        out.push(b' ');
                    }
                    first = false;
                    out.extend_from_slice(format!("{} {}", p + 1, self.number(u, map)).as_bytes());
                    self.results.remove(p);
                }
            }
        }
        out.extend_from_slice(b")\r\n");
    }

    fn add(
        &mut self,
        r: &Reader,
        mailbox: u64,
        mut add: Vec<(u32, u32, MessageRecord)>,
        map: &SeqMap,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if add.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        match &self.order {
            None => {
                let mut numbers: Vec<u32> = add.iter().map(|(u, _, _)| self.number(*u, map)).collect();
                numbers.sort_unstable();
                text.extend_from_slice(b"0 ");
                number_set(&mut text, &numbers);
                for (u, _, _) in &add {
                    if let Err(i) = self.results.binary_search(u) {
                        self.results.insert(i, *u);
                    }
                }
            }
            Some(criteria) => {
                let criteria = criteria.clone();
                // Insert in result order, so each position is final when its pair is applied.
                let mut keyed = Vec::with_capacity(add.len());
                for (u, seq, m) in add.drain(..) {
                    keyed.push(keys_of(r, seq, u, &m, &criteria)?);
                }
                keyed.sort_by(|a, b| compare(a, b, &criteria));
                let mut first = true;
                for k in keyed {
                    // Binary search over the current result, reading the keys it compares with.
                    let (mut lo, mut hi) = (0, self.results.len());
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        let other = self.results[mid];
                        let before = match r.message(mailbox, other)? {
                            Some(om) => {
                                let ok = keys_of(r, map.seq_of(other).unwrap_or(0), other, &om, &criteria)?;
                                compare(&ok, &k, &criteria) == Ordering::Less
                            }
                            // Expunged but not yet reported: its keys are gone; UID order.
                            None => other < k.uid,
                        };
                        if before {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    self.results.insert(lo, k.uid);
                    if !first {
                        text.push(b' ');
                    }
                    first = false;
                    text.extend_from_slice(format!("{} {}", lo + 1, self.number(k.uid, map)).as_bytes());
                }
            }
        }
        self.header(out);
        out.extend_from_slice(b" ADDTO (");
        out.extend_from_slice(&text);
        out.extend_from_slice(b")\r\n");
        Ok(())
    }
}

/// RFC 5267 §4.3: before running a searching command with UPDATE, its tag must not be the tag of
/// a live search already (`BAD`).
pub fn check_tag(s: &Session, tag: &str) -> std::result::Result<(), Error> {
    let taken = s.selected.as_ref().is_some_and(|sel| sel.contexts.iter().any(|c| c.tag == tag));
    if taken { Err(Error::Bad(format!("tag {tag} is in use by an updating search"))) } else { Ok(()) }
}

/// After a searching command with UPDATE ran: keeps its result live, or says why not with
/// `NO [NOUPDATE "tag"]` (§4.3.1; the other return options are answered all the same).
pub fn start(s: &mut Session, search: LiveSearch, out: &mut Vec<u8>) {
    let Some(sel) = s.selected.as_mut() else { return };
    if sel.contexts.len() >= MAX_CONTEXTS {
        out.extend_from_slice(b"* NO [");
        crate::proto::code::Code::NoUpdate(search.tag.clone()).write(out);
        out.extend_from_slice(format!("] at most {MAX_CONTEXTS} updating searches at once\r\n").as_bytes());
        return;
    }
    sel.contexts.push(search);
}
