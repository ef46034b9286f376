//! One XSYNC run (docs/mapi-extension.md §7.2-7.4, Appendix A), a batch at a time, each batch
//! from a fresh read snapshot. No IO: the caller reads (on the store's read threads), sends
//! each batch and decides when to stop (`BATCHES`).
//!
//! What a client holds is a [`FolderState`]: every live UID in `[B, E)` and `[C, T)` as of
//! MODSEQ `M`. A cycle first sends the changes to held messages since `M` (part 1, from the
//! MODSEQ index and the tombstones: cost in proportion to the changes), then, newest first,
//! what the client does not hold (part 2: the gap `[E, C)` an earlier run left, the messages
//! that arrived since `T`, then the older ones below `B`), extending the held ranges only over
//! UIDs just read. So the state after every batch describes exactly what the client holds, and
//! a run cut anywhere resumes from its last state with at most one window sent twice.

use std::ops::ControlFlow;

use super::state::FolderState;
use super::summary::{self, Fields};
use crate::imap::response::number_set;
use crate::store::{MailboxRecord, Reader, StoreError};

/// At most this many cycles per run (§7.2).
const MAX_CYCLES: u8 = 3;
/// Part 1 reads at most this many index entries per window of output in one batch, so that a
/// batch whose changes are mostly to messages the client does not hold stays bounded.
const SCAN_PER_ITEM: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Part 1: changes to held messages since `M`.
    Changes,
    /// Part 2a/2b: the gap `[E, C)`, from `C - 1` down.
    Gap,
    /// Part 2b: messages that arrived since `T` (set up as a gap).
    New,
    /// Part 2c: the messages below `B`.
    Older,
    Done,
}

/// Why a batch could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The folder was deleted (or is not the account's): `NO [NONEXISTENT]`.
    Gone,
    Store(StoreError),
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchMailbox => RunError::Gone,
            e => RunError::Store(e),
        }
    }
}

/// The run of one XSYNC command.
#[derive(Clone, Debug)]
pub struct Run {
    state: FolderState,
    window: usize,
    phase: Phase,
    cycles: u8,
    sent_in_cycle: bool,
    /// Messages part 2 still has to send, for `REMAINING` (counted once per cycle).
    remaining: u64,
    counted: bool,
    /// UIDNEXT of the snapshot in which part 1 reached the end (`U` of Appendix A).
    uidnext: u32,
    /// An XSTATE has been written by this run.
    stated: bool,
}

/// What one batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Items sent (an `XMSG`, or one UID of an `XVANISHED`).
    pub items: usize,
    /// The run is over: nothing more to send.
    pub done: bool,
    /// The batch ended with an `XSTATE` (one that sent nothing and changed nothing, the check
    /// that a last cycle has nothing, writes none and is no batch to the client).
    pub stated: bool,
}

impl Run {
    /// A run from `state` (already checked against the folder, `FolderState::decode`), with
    /// batches of at most `window` items.
    pub fn new(state: FolderState, window: usize) -> Run {
        Run {
            state,
            window: window.max(1),
            phase: Phase::Changes,
            cycles: 1,
            sent_in_cycle: false,
            remaining: 0,
            counted: false,
            uidnext: state.t,
            stated: false,
        }
    }

    pub fn state(&self) -> FolderState {
        self.state
    }

    /// The next batch, read from `r` and appended to `out`: its `XMSG` / `XVANISHED`
    /// responses and the `XSTATE` that ends it (written whenever the batch sent something,
    /// changed the state, or is the run's first). `key`, `account`, `mailbox` bind the state.
    #[allow(clippy::too_many_arguments)]
    pub fn batch(
        &mut self,
        r: &Reader,
        key: &[u8; 32],
        account: u64,
        mailbox: u64,
        fields: Fields,
        utf8: bool,
        out: &mut Vec<u8>,
    ) -> Result<Batch, RunError> {
        let rec = r.mailbox(mailbox)?;
        if rec.account != account || rec.uidvalidity != self.state.uidvalidity {
            return Err(RunError::Gone);
        }
        let before = self.state;
        if !self.counted {
            self.remaining = count_unheld(r, mailbox, &self.state, rec.uidnext)?;
            self.counted = true;
        }
        let mut items = 0;
        let mut vanished: Vec<u32> = Vec::new();
        let mut vanished_modseq = 0;
        while items < self.window && self.phase != Phase::Done {
            match self.phase {
                Phase::Changes => {
                    let room = self.window - items;
                    let (sent, finished) =
                        self.changes(r, mailbox, &rec, room, out, &mut vanished, &mut vanished_modseq)?;
                    items += sent;
                    if !finished {
                        // The index entries this batch may read are read; the rest next batch.
                        break;
                    }
                }
                Phase::Gap => {
                    let (lo, hi) = (self.state.e, self.state.c);
                    let room = self.window - items;
                    let (sent, lowest, exhausted) =
                        self.send_new(r, mailbox, lo, hi, room, fields, utf8, out)?;
                    items += sent;
                    if let Some(uid) = lowest {
                        self.state.c = uid;
                    }
                    if exhausted {
                        // The gap is filled: the held ranges join into [B, T).
                        self.state.e = self.state.t;
                        self.state.c = self.state.t;
                        self.phase = Phase::New;
                    }
                }
                Phase::New => {
                    if self.uidnext > self.state.t {
                        // [old T, U) becomes the gap, [U, U) the (empty) upper held range.
                        self.state.e = self.state.t;
                        self.state.c = self.uidnext;
                        self.state.t = self.uidnext;
                        self.phase = Phase::Gap;
                    } else {
                        self.phase = Phase::Older;
                    }
                }
                Phase::Older => {
                    let room = self.window - items;
                    let (sent, lowest, exhausted) =
                        self.send_new(r, mailbox, 1, self.state.b, room, fields, utf8, out)?;
                    items += sent;
                    if let Some(uid) = lowest {
                        self.state.b = uid;
                    }
                    if exhausted {
                        self.state.b = 1;
                        self.end_cycle();
                    }
                }
                Phase::Done => {}
            }
        }
        if !vanished.is_empty() {
            vanished.sort_unstable();
            out.extend_from_slice(format!("* XVANISHED {vanished_modseq} ").as_bytes());
            number_set(out, &vanished);
            out.extend_from_slice(b"\r\n");
        }
        let done = self.phase == Phase::Done;
        let stated = items > 0 || self.state != before || !self.stated;
        if stated {
            self.write_state(out, key, account, mailbox, &rec);
        }
        Ok(Batch { items, done, stated })
    }

    /// Part 1 within one batch: at most `room` items, at most `room * SCAN_PER_ITEM` index
    /// entries read. Returns the items sent and whether part 1 reached the end of the index.
    #[allow(clippy::too_many_arguments)]
    fn changes(
        &mut self,
        r: &Reader,
        mailbox: u64,
        rec: &MailboxRecord,
        room: usize,
        out: &mut Vec<u8>,
        vanished: &mut Vec<u32>,
        vanished_modseq: &mut u64,
    ) -> Result<(usize, bool), RunError> {
        let limit = room.saturating_mul(SCAN_PER_ITEM).max(1);
        let changed = r.modseq_entries_since(mailbox, self.state.modseq, limit)?;
        let gone = r.tombstones_since(mailbox, self.state.modseq, limit)?;
        // Entries at or below the horizon are all in the two lists; beyond it a list was cut.
        let horizon = [&changed, &gone]
            .into_iter()
            .filter(|l| l.len() == limit)
            .filter_map(|l| l.last().map(|(m, _)| *m))
            .min()
            .unwrap_or(u64::MAX);
        let mut merged: Vec<(u64, u32, bool)> = changed
            .iter()
            .map(|(m, u)| (*m, *u, true))
            .chain(gone.iter().map(|(m, u)| (*m, *u, false)))
            .filter(|(m, ..)| *m <= horizon)
            .collect();
        merged.sort_unstable();
        let mut sent = 0;
        for (i, (modseq, uid, live)) in merged.iter().copied().enumerate() {
            if sent == room {
                // Every entry up to the previous one is dealt with (MODSEQs are unique).
                self.state.modseq = merged[i - 1].0;
                self.sent_in_cycle = true;
                return Ok((sent, false));
            }
            if self.state.holds(uid) {
                if live {
                    if let Some(m) = r.message(mailbox, uid)? {
                        out.extend_from_slice(format!("* XMSG {uid} ").as_bytes());
                        summary::write_flags_only(out, &m);
                        out.extend_from_slice(b"\r\n");
                        sent += 1;
                    }
                } else {
                    vanished.push(uid);
                    *vanished_modseq = (*vanished_modseq).max(modseq);
                    sent += 1;
                }
            }
        }
        if horizon != u64::MAX {
            self.state.modseq = horizon;
            self.sent_in_cycle |= sent > 0;
            return Ok((sent, false));
        }
        // The whole index after M is dealt with, as of this snapshot.
        self.state.modseq = rec.highest_modseq.max(self.state.modseq);
        self.uidnext = rec.uidnext;
        self.sent_in_cycle |= sent > 0;
        self.phase = if self.state.e < self.state.c { Phase::Gap } else { Phase::New };
        Ok((sent, true))
    }

    /// Part 2: full summaries of the live messages in `[lo, hi)`, newest first, at most
    /// `room`. Returns how many, the lowest UID sent, and whether the range is exhausted.
    #[allow(clippy::too_many_arguments)]
    fn send_new(
        &mut self,
        r: &Reader,
        mailbox: u64,
        lo: u32,
        hi: u32,
        room: usize,
        fields: Fields,
        utf8: bool,
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<u32>, bool), RunError> {
        if hi <= lo {
            return Ok((0, None, true));
        }
        let mut found = Vec::with_capacity(room.min(1024));
        let mut more = false;
        r.scan_rev(mailbox, lo..=hi - 1, |uid, m| {
            if found.len() == room {
                more = true;
                return ControlFlow::Break(());
            }
            found.push((uid, m));
            ControlFlow::Continue(())
        })?;
        for (uid, m) in &found {
            out.extend_from_slice(format!("* XMSG {uid} ").as_bytes());
            summary::write(out, r, m, fields, utf8)?;
            out.extend_from_slice(b"\r\n");
        }
        let sent = found.len();
        self.remaining = self.remaining.saturating_sub(sent as u64);
        self.sent_in_cycle |= sent > 0;
        Ok((sent, found.last().map(|(uid, _)| *uid), !more))
    }

    fn end_cycle(&mut self) {
        if self.sent_in_cycle && self.cycles < MAX_CYCLES {
            self.cycles += 1;
            self.sent_in_cycle = false;
            self.counted = false;
            self.phase = Phase::Changes;
        } else {
            self.phase = Phase::Done;
        }
    }

    fn write_state(
        &mut self,
        out: &mut Vec<u8>,
        key: &[u8; 32],
        account: u64,
        mailbox: u64,
        rec: &MailboxRecord,
    ) {
        self.stated = true;
        let s = &self.state;
        out.extend_from_slice(
            format!(
                "* XSTATE {} MODSEQ {} REMAINING {}",
                s.encode(key, account, mailbox),
                s.modseq,
                self.remaining
            )
            .as_bytes(),
        );
        if s.complete(rec.uidnext) {
            out.extend_from_slice(b" COMPLETE");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Live messages in the ranges the client does not hold: `[1, B)`, `[E, C)` and `[T, uidnext)`,
/// from the mailbox's UID runs (cost: its runs, not its messages).
fn count_unheld(r: &Reader, mailbox: u64, s: &FolderState, uidnext: u32) -> Result<u64, StoreError> {
    let ranges = [(1, s.b), (s.e, s.c), (s.t, uidnext)];
    let mut n = 0u64;
    for (first, count) in r.uid_runs(mailbox)? {
        let (a, b) = (u64::from(first), u64::from(first) + u64::from(count));
        for (lo, hi) in ranges {
            let (lo, hi) = (u64::from(lo).max(a), u64::from(hi).min(b));
            n += hi.saturating_sub(lo);
        }
    }
    Ok(n)
}
