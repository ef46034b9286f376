//! Numbers, sequence sets and mod-sequences (RFC 9051 §9, RFC 7162).

use super::*;

// Numbers, sequence sets, mod-sequences

/// `seq-number = nz-number / "*"`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    Number(NonZeroU32),
    /// `*`: the largest number in use (the last message's sequence number or UID).
    Last,
}

impl SeqNumber {
    /// The number with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Number(n) => n.get(),
            SeqNumber::Last => largest,
        }
    }
}

/// `seq-range = seq-number ":" seq-number`, or a single `seq-number` (then `start == end`).
/// The order of the two ends does not matter (`4:2` is `2:4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub start: SeqNumber,
    pub end: SeqNumber,
}

impl SeqRange {
    pub fn single(n: SeqNumber) -> Self {
        SeqRange { start: n, end: n }
    }

    /// The range as `(low, high)` with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> (u32, u32) {
        let a = self.start.resolve(largest);
        let b = self.end.resolve(largest);
        (a.min(b), a.max(b))
    }
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]` and `sequence-set =/ seq-last-command`
/// (`"$"`, RFC 5182 SEARCHRES). As in Dovecot, `$` is accepted only on its own, not mixed with numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)`.
    Saved,
    Ranges(NonEmpty<SeqRange>),
}

impl SequenceSet {
    /// Whether `n` is in the set, `*` standing for `largest`; `None` for `$`, which the caller
    /// resolves from its saved result.
    pub fn contains(&self, n: u32, largest: u32) -> Option<bool> {
        match self {
            SequenceSet::Saved => None,
            SequenceSet::Ranges(r) => Some(r.iter().any(|r| {
                let (lo, hi) = r.resolve(largest);
                (lo..=hi).contains(&n)
            })),
        }
    }
}

/// A set of numbers without `*` or `$` (`known-uids`, `known-sequence-set` and `known-uid-set`
/// of RFC 7162 QRESYNC), held as `(low, high)` ranges with `low <= high`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NumberSet(NonEmpty<(NonZeroU32, NonZeroU32)>);

impl NumberSet {
    /// Builds a set from ranges given either way round.
    pub fn new(ranges: Vec<(NonZeroU32, NonZeroU32)>) -> Result<Self, InvalidValue> {
        let ranges: Vec<_> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        NonEmpty::try_from(ranges).map(NumberSet)
    }

    pub fn ranges(&self) -> &[(NonZeroU32, NonZeroU32)] {
        &self.0
    }

    pub fn contains(&self, n: u32) -> bool {
        self.0.iter().any(|(lo, hi)| (lo.get()..=hi.get()).contains(&n))
    }
}

/// A positive 63-bit mod-sequence (`mod-sequence-value`, RFC 7162 §7). Zero, allowed where the
/// grammar says `mod-sequence-valzer`, is carried as a plain `u64` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModSeq(NonZeroU64);

impl ModSeq {
    /// The largest mod-sequence RFC 7162 allows (63 bits).
    pub const MAX: u64 = i64::MAX as u64;

    pub fn new(v: u64) -> Option<Self> {
        if v > Self::MAX { None } else { NonZeroU64::new(v).map(ModSeq) }
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }
}

/// `partial-range = partial-range-first / partial-range-last` (RFC 9394 §4), held with
/// `from <= to` (the RFC makes `500:400` the same as `400:500`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartialRange {
    /// `1:100`: positions counted from the first (oldest) result, 1-based.
    First { from: NonZeroU32, to: NonZeroU32 },
    /// `-1:-100`: positions counted from the last (newest) result, 1 being the last.
    Last { from: NonZeroU32, to: NonZeroU32 },
}
