//! The backchannel's event stream and heartbeats (docs/mapi-extension.md §5, §6), with no IO:
//! a [`Stream`] reads a store snapshot and appends events and signals to a buffer, a step at a
//! time; [`Heartbeats`] says when the next heartbeat is due and whether the last was answered.
//! The connection loop (`server::imap`) runs the steps on the store's read threads, writes and
//! flushes each before the next, and keeps the timers.
//!
//! A step reads at most `mapi.backchannel_batch` entries of the account's change log after the
//! cursor (`Reader::account_changes_after`), so memory is bounded by one batch whatever the
//! backlog. For each entry it writes the event of §5.2, or omits it under §5.3's rules, reading
//! each object as it is in the snapshot; after the group, one `XCOUNTS` per folder whose messages
//! it reported. A step is also the span of §5.5: at most `mapi.burst_events` message events of
//! one folder, the rest of that folder's message changes in the step coalesced into one
//! `XCHANGED` at the place of the last. When the log no longer holds the change after the cursor,
//! the step sends the `XRESYNC`s of §5.6 instead and moves the cursor over the lost range.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::folder;
use super::link::BackchannelFigures;
use super::summary::{self, Fields};
use crate::store::{ChangeKind, ChangeRecord, MailboxRecord, Reader, StoreError};

/// The stream of one backchannel: its cursor (§5.3) and how it writes events. Small and `Copy`,
/// so that a step can run on a read thread and hand it back.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    account: u64,
    /// Every change up to this number has been dealt with (`SENT`, §5.4).
    cursor: u64,
    fields: Fields,
    utf8: bool,
    /// Log entries read per step, and the span of §5.5.
    batch: usize,
    /// Message events of one folder per span (§5.5).
    burst: usize,
    /// `XLIVE` has been sent (once per XBACKCHANNEL, §5.2).
    live: bool,
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The cursor reached the account's last change of the step's snapshot.
    pub caught_up: bool,
    /// The account's last change number in the step's snapshot (`CURRENT`).
    pub current: u64,
}

impl Stream {
    /// A stream from `FROM` = `from`: `batch` and `burst` are `mapi.backchannel_batch` and
    /// `mapi.burst_events` (at least 1 each); `utf8` as in §2.
    pub fn new(account: u64, from: u64, fields: Fields, utf8: bool, batch: usize, burst: usize) -> Stream {
        Stream { account, cursor: from, fields, utf8, batch: batch.max(1), burst: burst.max(1), live: false }
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Reads the next batch of the log from `r` and appends what it reports to `out`.
    pub fn step(&mut self, r: &Reader, out: &mut Vec<u8>) -> Result<Step, StoreError> {
        let read = r.account_changes_after(self.account, self.cursor, self.batch)?;
        if self.cursor > read.last {
            // §5.1: FROM beyond the account's current number (a database copied back, a client
            // bug) is answered as a log that does not reach back, from the current number; the
            // client's history is not this one's, so every folder may have changed.
            self.resync(r, read.last, true, out)?;
        } else if let Some(lost) = read.lost_to {
            self.resync(r, lost, false, out)?;
        } else {
            self.events(r, &read.entries, out)?;
        }
        let caught_up = self.cursor >= read.last;
        if caught_up && !self.live {
            self.live = true;
            out.extend_from_slice(format!("* XLIVE {}\r\n", self.cursor).as_bytes());
        }
        Ok(Step { caught_up, current: read.last })
    }

    /// §5.6: changes after the cursor up to `lost` are no longer known one by one.
    /// `XRESYNC c HIERARCHY`, then `XRESYNC c M<id> m` for every folder that may have changed in
    /// the lost range: its last logged change is after the cursor, or unknown (a version-1
    /// record, `last_change` 0), or `all`.
    fn resync(&mut self, r: &Reader, lost: u64, all: bool, out: &mut Vec<u8>) -> Result<(), StoreError> {
        out.extend_from_slice(format!("* XRESYNC {lost} HIERARCHY\r\n").as_bytes());
        for (id, rec) in r.mailboxes(self.account)? {
            if all || rec.last_change == 0 || rec.last_change > self.cursor {
                out.extend_from_slice(
                    format!("* XRESYNC {lost} M{id} {}\r\n", rec.highest_modseq).as_bytes(),
                );
            }
        }
        self.cursor = lost;
        Ok(())
    }

    /// §5.2-5.5: the events of consecutive log entries, then the group's `XCOUNTS`.
    fn events(
        &mut self,
        r: &Reader,
        entries: &[(u64, ChangeRecord)],
        out: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        let Some(&(last_number, _)) = entries.last() else { return Ok(()) };
        let bursts = Bursts::plan(entries, self.burst);
        let mut folders: HashMap<u64, Option<MailboxRecord>> = HashMap::new();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        // Folders whose messages were reported, in the order first reported (for XCOUNTS).
        let mut touched: Vec<u64> = Vec::new();
        let mut last_event = None;
        for (i, (n, c)) in entries.iter().enumerate() {
            let n = *n;
            let rec = match folders.get(&c.mailbox) {
                Some(rec) => rec.clone(),
                None => {
                    let rec = self.folder(r, c.mailbox)?;
                    folders.insert(c.mailbox, rec.clone());
                    rec
                }
            };
            let before = out.len();
            match c.kind {
                ChangeKind::Added | ChangeKind::Flags | ChangeKind::Expunged => {
                    // §5.3: any change of a folder that no longer exists is omitted.
                    if rec.is_none() {
                        continue;
                    }
                    let k = seen.entry(c.mailbox).or_default();
                    *k += 1;
                    if *k > self.burst {
                        if let Some((m1, m2)) = bursts.ends_at(i) {
                            out.extend_from_slice(
                                format!("* XCHANGED {n} M{} {m1} {m2}\r\n", c.mailbox).as_bytes(),
                            );
                        }
                    } else {
                        self.message_event(r, n, c, out)?;
                    }
                    if out.len() > before && !touched.contains(&c.mailbox) {
                        touched.push(c.mailbox);
                    }
                }
                ChangeKind::MailboxCreated | ChangeKind::MailboxChanged => {
                    let Some(rec) = rec else { continue };
                    let what = if c.kind == ChangeKind::MailboxCreated { "CREATED" } else { "CHANGED" };
                    out.extend_from_slice(format!("* XFOLDER {n} M{} {what} ", c.mailbox).as_bytes());
                    let subscribed = r.is_subscribed(self.account, &rec.name)?;
                    folder::write_info(out, &rec, subscribed, self.utf8);
                    out.extend_from_slice(b"\r\n");
                }
                ChangeKind::MailboxDeleted => {
                    out.extend_from_slice(format!("* XFOLDER {n} M{} DELETED\r\n", c.mailbox).as_bytes());
                }
            }
            if out.len() > before {
                last_event = Some(n);
            }
        }
        if let Some(c) = last_event {
            // §5.2 signals: the counts after the events of the group, `c` the last event's number.
            for id in touched {
                if let Some(Some(rec)) = folders.get(&id) {
                    out.extend_from_slice(format!("* XCOUNTS {c} M{id} ").as_bytes());
                    folder::write_counts(out, rec);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        self.cursor = last_number;
        Ok(())
    }

    /// `XNEW`, `XFLAGS` or `XEXPUNGE` for change `n`, or nothing under §5.3.
    fn message_event(
        &self,
        r: &Reader,
        n: u64,
        c: &ChangeRecord,
        out: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        match c.kind {
            ChangeKind::Added => {
                // Omitted when the message is gone (its XEXPUNGE follows); else never.
                let Some(m) = r.message(c.mailbox, c.uid)? else { return Ok(()) };
                out.extend_from_slice(format!("* XNEW {n} M{} {} ", c.mailbox, c.uid).as_bytes());
                summary::write(out, r, &m, self.fields, self.utf8)?;
                out.extend_from_slice(b"\r\n");
            }
            ChangeKind::Flags => {
                // Omitted when gone, or changed again since (a later XFLAGS or XEXPUNGE reports it).
                let Some(m) = r.message(c.mailbox, c.uid)? else { return Ok(()) };
                if m.modseq > c.modseq {
                    return Ok(());
                }
                out.extend_from_slice(format!("* XFLAGS {n} M{} {} ", c.mailbox, c.uid).as_bytes());
                summary::write_flags_only(out, &m);
                out.extend_from_slice(b"\r\n");
            }
            _ => {
                out.extend_from_slice(
                    format!("* XEXPUNGE {n} M{} {} {}\r\n", c.mailbox, c.uid, c.modseq).as_bytes(),
                );
            }
        }
        Ok(())
    }

    /// The folder's record, `None` when it no longer exists (or is not this account's).
    fn folder(&self, r: &Reader, id: u64) -> Result<Option<MailboxRecord>, StoreError> {
        match r.mailbox(id) {
            Ok(rec) if rec.account == self.account => Ok(Some(rec)),
            Ok(_) | Err(StoreError::NoSuchMailbox) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// §5.5 over one step: for each folder with more than `burst` message changes, where its
/// `XCHANGED` goes (the index of its last message change) and the MODSEQ range it covers.
struct Bursts(HashMap<usize, (u64, u64)>);

impl Bursts {
    fn plan(entries: &[(u64, ChangeRecord)], burst: usize) -> Bursts {
        // Per folder: message changes seen, MODSEQ before the first coalesced, index and MODSEQ
        // of the last coalesced.
        let mut per: HashMap<u64, (usize, u64, usize, u64)> = HashMap::new();
        for (i, (_, c)) in entries.iter().enumerate() {
            if !matches!(c.kind, ChangeKind::Added | ChangeKind::Flags | ChangeKind::Expunged) {
                continue;
            }
            let e = per.entry(c.mailbox).or_insert((0, 0, 0, 0));
            e.0 += 1;
            if e.0 == burst + 1 {
                // `(m1, m2]` covers every coalesced change: changes of one command may share a
                // MODSEQ, so m1 is below the first coalesced one's (a wider range is harmless).
                e.1 = c.modseq.saturating_sub(1);
            }
            if e.0 > burst {
                e.2 = i;
                e.3 = c.modseq;
            }
        }
        Bursts(per.into_values().filter(|e| e.0 > burst).map(|(_, m1, i, m2)| (i, (m1, m2))).collect())
    }

    /// The `(m1, m2)` of the `XCHANGED` that goes at entry `i`, if one does.
    fn ends_at(&self, i: usize) -> Option<(u64, u64)> {
        self.0.get(&i).copied()
    }
}

/// A connection that is its session's backchannel: the stream, the heartbeats, and whether the
/// log may hold changes not yet reported (set by the account's commits, cleared once caught up).
#[derive(Clone, Debug)]
pub struct Backchannel {
    pub stream: Stream,
    pub beats: Heartbeats,
    pub pending: bool,
}

impl Backchannel {
    /// What `XSESSION STATUS` shows of it (§4.4).
    pub fn figures(&self) -> BackchannelFigures {
        BackchannelFigures {
            heartbeat: self.beats.interval().as_secs(),
            sent: self.stream.cursor(),
            acked: self.beats.acked,
            rtt_ms: self.beats.rtt.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// §6, the server's side: heartbeat `k` is due at `t0 + k·I`; when heartbeat `k + 1` is due and
/// no `XACK` with an id of at least `k` has come, the link is dead.
#[derive(Clone, Debug)]
pub struct Heartbeats {
    interval: Duration,
    t0: Instant,
    /// The last heartbeat sent (0: none yet), and when.
    sent: u64,
    sent_at: Option<Instant>,
    /// The highest heartbeat id acknowledged.
    acked_id: u64,
    /// The change number of the last XACK (`ACKED`).
    pub acked: u64,
    /// The last heartbeat's round trip (`RTT`), heartbeat sent to its XACK received.
    pub rtt: Option<Duration>,
}

/// What is due when the next heartbeat's time has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Send `XHEARTBEAT k`.
    Send(u64),
    /// Heartbeat `k` was not acknowledged: `BYE [XNOACK]`.
    NoAck(u64),
}

/// Why an XACK is refused (`BAD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckError {
    /// It names a heartbeat not sent yet.
    NotSent,
    /// It claims a change number beyond the one the backchannel has dealt with.
    Beyond,
}

impl Heartbeats {
    /// `t0`: when the tagged OK of XBACKCHANNEL went out.
    pub fn new(interval: Duration, t0: Instant) -> Heartbeats {
        Heartbeats { interval, t0, sent: 0, sent_at: None, acked_id: 0, acked: 0, rtt: None }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next heartbeat is due.
    pub fn next_due(&self) -> Instant {
        let k = u32::try_from(self.sent + 1).unwrap_or(u32::MAX);
        self.t0 + self.interval.saturating_mul(k)
    }

    /// The next heartbeat's time has come (`now` at or after [`Heartbeats::next_due`]).
    pub fn due(&mut self, now: Instant) -> Due {
        if self.sent > 0 && self.acked_id < self.sent {
            return Due::NoAck(self.sent);
        }
        self.sent += 1;
        self.sent_at = Some(now);
        Due::Send(self.sent)
    }

    /// `XACK id applied` arrived at `now`; `cursor` is what the backchannel has dealt with.
    pub fn ack(&mut self, id: u64, applied: u64, cursor: u64, now: Instant) -> Result<(), AckError> {
        if id > self.sent {
            return Err(AckError::NotSent);
        }
        if applied > cursor {
            return Err(AckError::Beyond);
        }
        if id == self.sent
            && id > self.acked_id
            && let Some(at) = self.sent_at
        {
            self.rtt = Some(now.saturating_duration_since(at));
        }
        self.acked_id = self.acked_id.max(id);
        self.acked = self.acked.max(applied);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_due_each_interval_and_die_unanswered() {
        let t0 = Instant::now();
        let i = Duration::from_secs(10);
        let mut h = Heartbeats::new(i, t0);
        assert_eq!(h.next_due(), t0 + i);
        assert_eq!(h.due(t0 + i), Due::Send(1));
        assert_eq!(h.next_due(), t0 + 2 * i);
        assert_eq!(h.ack(2, 0, 0, t0 + i), Err(AckError::NotSent));
        assert_eq!(h.ack(1, 5, 4, t0 + i), Err(AckError::Beyond));
        h.ack(1, 4, 4, t0 + i + Duration::from_millis(30)).expect("ack");
        assert_eq!(h.rtt, Some(Duration::from_millis(30)));
        assert_eq!(h.acked, 4);
        // XACK 0 reports progress and is no answer to a heartbeat.
        h.ack(0, 3, 4, t0 + i).expect("progress");
        assert_eq!(h.acked, 4);
        assert_eq!(h.due(t0 + 2 * i), Due::Send(2));
        assert_eq!(h.next_due(), t0 + 3 * i);
        h.ack(0, 4, 4, t0 + 2 * i).expect("progress");
        assert_eq!(h.due(t0 + 3 * i), Due::NoAck(2));
    }
}
