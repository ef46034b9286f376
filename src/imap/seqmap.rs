//! The sequence-number map of a selected mailbox, kept as runs of consecutive UIDs. A mailbox's
//! UIDs are mostly consecutive (deliveries take the next UID; expunges come in clusters), so a
//! 100,000-message INBOX with a few holes costs a few runs, not 400 KB per session: this is what
//! lets a small box keep a thousand IDLE clients selected.

/// UIDs in ascending order; sequence number n is the n-th.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqMap {
    /// (first UID, count) of each run of consecutive UIDs.
    runs: Vec<(u32, u32)>,
    /// Messages up to and including each run (prefix sums of the counts).
    ends: Vec<u32>,
}

impl SeqMap {
    pub fn new() -> Self {
        SeqMap::default()
    }

    /// Builds the map from ascending, non-overlapping runs of (first UID, count), as the store
    /// keeps them.
    pub fn from_runs(runs: Vec<(u32, u32)>) -> Self {
        let mut ends = Vec::with_capacity(runs.len());
        let mut total = 0u32;
        for &(_, count) in &runs {
            total += count;
            ends.push(total);
        }
        SeqMap { runs, ends }
    }

    /// Builds the map from ascending UIDs.
    pub fn from_sorted(uids: impl IntoIterator<Item = u32>) -> Self {
        let mut m = SeqMap::new();
        for u in uids {
            m.push(u);
        }
        m
    }

    /// Messages in the map (the EXISTS count).
    pub fn len(&self) -> u32 {
        self.ends.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest UID, or 0.
    pub fn max_uid(&self) -> u32 {
        self.runs.last().map(|(f, c)| f + c - 1).unwrap_or(0)
    }

    /// Appends a UID above every UID in the map.
    pub fn push(&mut self, uid: u32) {
        if let Some((first, count)) = self.runs.last_mut()
            && *first + *count == uid
        {
            *count += 1;
            if let Some(e) = self.ends.last_mut() {
                *e += 1;
            }
            return;
        }
        let end = self.len() + 1;
        self.runs.push((uid, 1));
        self.ends.push(end);
    }

    /// The UID at sequence number `seq` (1-based).
    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        if seq == 0 || seq > self.len() {
            return None;
        }
        let i = self.ends.partition_point(|e| *e < seq);
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(self.runs[i].0 + (seq - before - 1))
    }

    /// The sequence number of `uid`, if it is in the map.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        let i = self.runs.partition_point(|(f, _)| *f <= uid).checked_sub(1)?;
        let (first, count) = self.runs[i];
        if uid >= first + count {
            return None;
        }
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(before + (uid - first) + 1)
    }

    /// Removes `uid`; returns the sequence number it had.
    pub fn remove(&mut self, uid: u32) -> Option<u32> {
        let seq = self.seq_of(uid)?;
        let i = self.runs.partition_point(|(f, _)| *f <= uid) - 1;
        let (first, count) = self.runs[i];
        let left = uid - first;
        let right = count - left - 1;
        match (left, right) {
            (0, 0) => {
                self.runs.remove(i);
                self.ends.remove(i);
            }
            (0, _) => self.runs[i] = (uid + 1, right),
            (_, 0) => self.runs[i] = (first, left),
            _ => {
                self.runs[i] = (first, left);
                self.runs.insert(i + 1, (uid + 1, right));
                self.ends.insert(i, 0);
            }
        }
        // Recount the prefix sums from the changed run on.
        let mut total = if i == 0 { 0 } else { self.ends[i - 1] };
        for j in i..self.runs.len() {
            total += self.runs[j].1;
            self.ends[j] = total;
        }
        Some(seq)
    }

    /// Writes the UIDs as an IMAP sequence set (`2:4,8,20:23`), one range per run.
    pub fn write_set(&self, out: &mut Vec<u8>) {
        for (i, &(first, count)) in self.runs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if count == 1 {
                out.extend_from_slice(first.to_string().as_bytes());
            } else {
                out.extend_from_slice(format!("{first}:{}", first + count - 1).as_bytes());
            }
        }
    }

    /// (sequence number, UID) of every message, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.runs.iter().zip(self.ends.iter()).flat_map(|(&(first, count), &end)| {
            let start = end - count;
            (0..count).map(move |k| (start + k + 1, first + k))
        })
    }

    /// (sequence number, UID) of the messages with `lo <= UID <= hi`, ascending.
    pub fn uid_range(&self, lo: u32, hi: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let i = self.runs.partition_point(|(f, c)| f + c - 1 < lo);
        self.runs[i..].iter().zip(self.ends[i..].iter()).take_while(move |((f, _), _)| *f <= hi).flat_map(
            move |(&(first, count), &end)| {
                let start = end - count;
                let from = lo.max(first);
                let to = hi.min(first + count - 1);
                (from..=to).map(move |u| (start + (u - first) + 1, u))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_like_a_sorted_vec(uids in prop::collection::btree_set(1u32..300, 0..120), removals in prop::collection::vec(1u32..300, 0..60), lo in 0u32..300, hi in 0u32..300) {
            let mut model: Vec<u32> = uids.into_iter().collect();
            let mut map = SeqMap::from_sorted(model.iter().copied());
            for r in removals {
                let want = model.binary_search(&r).ok().map(|i| i as u32 + 1);
                prop_assert_eq!(map.remove(r), want);
                model.retain(|u| *u != r);
            }
            prop_assert_eq!(map.len() as usize, model.len());
            prop_assert_eq!(map.max_uid(), model.last().copied().unwrap_or(0));
            for (i, u) in model.iter().enumerate() {
                prop_assert_eq!(map.uid_of(i as u32 + 1), Some(*u));
                prop_assert_eq!(map.seq_of(*u), Some(i as u32 + 1));
            }
            prop_assert_eq!(map.uid_of(model.len() as u32 + 1), None);
            let all: Vec<(u32, u32)> = map.iter().collect();
            let want: Vec<(u32, u32)> = model.iter().enumerate().map(|(i, u)| (i as u32 + 1, *u)).collect();
            prop_assert_eq!(&all, &want);
            let ranged: Vec<(u32, u32)> = map.uid_range(lo, hi).collect();
            let want: Vec<(u32, u32)> = want.into_iter().filter(|(_, u)| *u >= lo && *u <= hi).collect();
            prop_assert_eq!(ranged, want);
        }
    }

    #[test]
    fn consecutive_uids_are_one_run() {
        let m = SeqMap::from_sorted(1..=100_000);
        assert_eq!(m.runs.len(), 1);
        assert_eq!(m.uid_of(100_000), Some(100_000));
    }

    #[test]
    fn from_runs_equals_from_sorted() {
        let uids = [2u32, 3, 4, 8, 9, 20, 21, 22, 23, 100];
        let a = SeqMap::from_sorted(uids);
        let b = SeqMap::from_runs(vec![(2, 3), (8, 2), (20, 4), (100, 1)]);
        assert_eq!(a, b);
        assert_eq!(b.seq_of(21), Some(7));
        assert_eq!(b.uid_of(10), Some(100));
        assert!(SeqMap::from_runs(Vec::new()).is_empty());
        let mut set = Vec::new();
        b.write_set(&mut set);
        assert_eq!(set, b"2:4,8:9,20:23,100");
    }
}
