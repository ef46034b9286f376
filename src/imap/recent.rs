//! `\Recent` (RFC 3501 §2.3.2, IMAP4rev1 only; RFC 9051 Appendix E drops it): a message is
//! `\Recent` in exactly one session, the first to be told of it. The store keeps, per mailbox,
//! the first UID no read-write SELECT has taken (`first_recent_uid`, written by SELECT); messages
//! that arrive while sessions have the mailbox selected are taken, in this process's memory, by
//! the first session whose refresh reports them ([`Claims`]): no write, so a push to an IDLE
//! client waits for no fsync. STATUS RECENT counts what neither took. A restart forgets the
//! claims in memory (every session ended with it): the messages they covered count as recent
//! again for the first SELECT after it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::seqmap::SeqMap;

/// Claims made since the store's record, per mailbox: the first UID nobody has taken.
#[derive(Debug, Default)]
pub struct Claims(Mutex<HashMap<u64, u32>>);

impl Claims {
    /// The first UID still `\Recent` for a newcomer, given the store's `first_recent_uid`.
    pub fn first(&self, mailbox: u64, stored: u32) -> u32 {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&mailbox).map_or(stored, |c| (*c).max(stored))
    }

    /// Takes every message below `end` that nobody took; returns the first UID taken (`end`
    /// when nothing was left).
    pub fn claim(&self, mailbox: u64, stored: u32, end: u32) -> u32 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(mailbox).or_insert(stored);
        let first = (*entry).max(stored);
        if first < end {
            *entry = end;
            first
        } else {
            *entry = first;
            end
        }
    }
}

/// The UIDs `\Recent` in one session: a few half-open ranges, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recent {
    ranges: Vec<(u32, u32)>,
}

/// Ranges a session keeps; beyond, the oldest stops being `\Recent` (a session that sat through
/// thousands of deliveries interleaved with other sessions' claims).
const MAX_RANGES: usize = 64;

impl Recent {
    pub fn range(first: u32, end: u32) -> Recent {
        let mut r = Recent::default();
        r.add(first, end);
        r
    }

    /// Adds the UIDs `first .. end`.
    pub fn add(&mut self, first: u32, end: u32) {
        if first >= end {
            return;
        }
        match self.ranges.last_mut() {
            Some(last) if last.1 >= first && last.0 <= first => last.1 = last.1.max(end),
            _ => self.ranges.push((first, end)),
        }
        self.ranges.sort_unstable();
        if self.ranges.len() > MAX_RANGES {
            self.ranges.remove(0);
        }
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|(a, b)| uid >= *a && uid < *b)
    }

    /// How many of the session's messages are `\Recent` (the `* n RECENT` number).
    pub fn count(&self, uids: &SeqMap) -> usize {
        self.ranges.iter().map(|&(a, b)| uids.uid_range(a, b - 1).count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_to_claim_takes_them() {
        let c = Claims::default();
        assert_eq!(c.first(7, 5), 5);
        assert_eq!(c.claim(7, 5, 9), 5, "the first session takes 5..9");
        assert_eq!(c.claim(7, 5, 9), 9, "the second takes nothing");
        assert_eq!(c.first(7, 5), 9);
        assert_eq!(c.claim(7, 12, 14), 12, "a SELECT's write moved the store past the claims");
        let mut r = Recent::range(5, 9);
        r.add(9, 11);
        assert!(r.contains(10) && !r.contains(11) && !r.contains(4));
        assert_eq!(r.ranges, vec![(5, 11)]);
    }
}
