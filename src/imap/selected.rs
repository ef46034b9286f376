//! The selected mailbox as one session sees it: the sequence-number map, and the changes of other
//! sessions reported at the moments the RFC allows (RFC 9051 §5.2, §7.5.1). What changed is read
//! from the store's MODSEQ index and tombstones, so a refresh costs in proportion to the changes.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::store::{Reader, Result};

use super::context::LiveSearch;
use super::recent::{Claims, Recent};
use super::response;
use super::search_eval::Env;
use super::seqmap::SeqMap;

/// The session's view of its selected mailbox.
#[derive(Debug)]
pub struct Selected {
    pub mailbox: u64,
    pub name: String,
    pub uidvalidity: u32,
    /// EXAMINE, or a mailbox the session may not change.
    pub read_only: bool,
    /// UIDs in sequence-number order, as runs (see `seqmap`).
    pub uids: SeqMap,
    /// Everything up to this MODSEQ has been reported to the client.
    pub modseq: u64,
    /// The UIDs `\Recent` for this session (RFC 3501 only).
    pub recent: Recent,
    /// Where this session takes the `\Recent` messages its refresh reports; `None` under
    /// IMAP4rev2, which has no `\Recent`.
    pub claims: Option<Arc<Claims>>,
    /// UIDs expunged by others but not yet reported (reporting is not allowed during FETCH,
    /// STORE and SEARCH, RFC 9051 §7.5.1); they keep their sequence numbers until then.
    pub pending_expunge: BTreeSet<u32>,
    /// Changes this session made itself and reported already (STORE answers, .SILENT): not echoed.
    pub own_modseqs: BTreeSet<u64>,
    /// Updating searches (RFC 5267 §4.3); they end with the selection.
    pub contexts: Vec<LiveSearch>,
    /// The flags announced with `* FLAGS` (RFC 9051 §7.3.5).
    pub keywords: response::Keywords,
}

impl Selected {
    /// The sequence number of a UID, if the session knows it.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.seq_of(uid)
    }

    /// The UID at a sequence number.
    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        self.uids.uid_of(seq)
    }

    /// Messages the client knows of (the last EXISTS).
    pub fn exists(&self) -> u32 {
        self.uids.len()
    }

    /// The highest UID known, or 0.
    pub fn max_uid(&self) -> u32 {
        self.uids.max_uid()
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.contains(uid)
    }

    /// Reads what others changed since the last refresh and writes the untagged responses:
    /// `EXPUNGE` (or `VANISHED` under QRESYNC) when `expunge_allowed`, then `EXISTS` for new
    /// messages, then `FETCH (FLAGS ..)` for flag changes of known messages.
    pub fn refresh(
        &mut self,
        r: &Reader,
        out: &mut Vec<u8>,
        expunge_allowed: bool,
        qresync: bool,
        condstore: bool,
    ) -> Result<()> {
        let rec = r.mailbox(self.mailbox)?;
        if rec.highest_modseq <= self.modseq && (self.pending_expunge.is_empty() || !expunge_allowed) {
            return Ok(());
        }
        let since = self.modseq;
        for uid in r.vanished_since(self.mailbox, since)? {
            if self.uids.seq_of(uid).is_some() {
                self.pending_expunge.insert(uid);
            }
        }
        if expunge_allowed && !self.pending_expunge.is_empty() {
            let gone: Vec<u32> = std::mem::take(&mut self.pending_expunge).into_iter().collect();
            for c in &mut self.contexts {
                c.expunging(&gone, &self.uids, out);
            }
            if qresync {
                response::vanished(out, &gone, false);
                for uid in &gone {
                    self.uids.remove(*uid);
                }
            } else {
                // Highest sequence numbers first, so that each number is valid when it is sent.
                for uid in gone.iter().rev() {
                    if let Some(seq) = self.uids.remove(*uid) {
                        out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
                    }
                }
            }
        }
        let changed = r.changed_since(self.mailbox, since)?;
        let known_max = self.max_uid();
        let mut new: Vec<u32> = changed.iter().map(|(u, _)| *u).filter(|u| *u > known_max).collect();
        new.sort_unstable();
        if !new.is_empty() {
            for uid in new {
                self.uids.push(uid);
            }
            out.extend_from_slice(format!("* {} EXISTS\r\n", self.uids.len()).as_bytes());
            // RFC 3501 §2.3.2: new messages are \Recent in the first session told of them; a
            // read-only session sees them as \Recent without taking them.
            if let Some(claims) = &self.claims {
                let end = self.max_uid().saturating_add(1);
                let first = if self.read_only {
                    claims.first(self.mailbox, rec.first_recent_uid)
                } else {
                    claims.claim(self.mailbox, rec.first_recent_uid, end)
                };
                self.recent.add(first.max(known_max.saturating_add(1)), end);
                out.extend_from_slice(format!("* {} RECENT\r\n", self.recent.count(&self.uids)).as_bytes());
            }
        }
        // ADDTO / REMOVEFROM of updating searches, sent after EXISTS and FETCH (RFC 5267 §4.3.3).
        let mut updates = Vec::new();
        if !self.contexts.is_empty() {
            // Every change counts here, this session's own included (RFC 5267 §4.3 example).
            let mut touched: Vec<u32> = changed.iter().map(|(u, _)| *u).collect();
            touched.sort_unstable();
            touched.dedup();
            let env = Env::of(self, None);
            for c in &mut self.contexts {
                c.changed(r, self.mailbox, &touched, &self.uids, &env, &mut updates)?;
            }
        }
        for (uid, modseq) in changed {
            if uid > known_max || self.own_modseqs.remove(&modseq) {
                continue;
            }
            let (Some(seq), Some(m)) = (self.seq_of(uid), r.message(self.mailbox, uid)?) else { continue };
            self.keywords.announce(&m.keywords, self.read_only, out);
            out.extend_from_slice(format!("* {seq} FETCH (UID {uid} FLAGS ").as_bytes());
            response::flags(out, m.flags, &m.keywords, self.is_recent(uid));
            if qresync || condstore {
                out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
        }
        out.extend_from_slice(&updates);
        self.own_modseqs.retain(|m| *m > rec.highest_modseq);
        self.modseq = rec.highest_modseq;
        Ok(())
    }
}
