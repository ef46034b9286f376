//! SEARCH, SORT and THREAD: keys, return options, criteria (RFC 9051 §6.4.4, RFC 4731, RFC 5256,
//! RFC 5267, RFC 9394).

use super::*;

// SEARCH, SORT, THREAD

/// `entry-type-req = entry-type-resp / "all"` (RFC 7162 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryType {
    Private,
    Shared,
    All,
}

/// A search criterion (RFC 9051 §6.4.4 and RFC 3501 §6.4.4; extensions named per variant).
/// Strings are the raw bytes received, in the command's charset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(Date),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    Header(String, Vec<u8>),
    Keyword(Atom),
    Larger(u64),
    /// RFC 3501 only: `\Recent` and not `\Seen`.
    New,
    Not(Box<SearchKey>),
    /// RFC 3501 only: not `\Recent`.
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    /// RFC 3501 only.
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(Atom),
    Unseen,
    SequenceSet(SequenceSet),
    /// `"(" search-key *(SP search-key) ")"`, and several keys given side by side.
    And(NonEmpty<SearchKey>),
    /// RFC 7162 §3.1.5: `MODSEQ ["/flags/<flag>" entry-type] mod-sequence-valzer`.
    ModSeq {
        entry: Option<(Flag, EntryType)>,
        mod_seq: u64,
    },
    /// RFC 8474 §5.
    EmailId(ObjectId),
    /// RFC 8474 §5.
    ThreadId(ObjectId),
    /// RFC 5032 WITHIN: messages older than this many seconds.
    Older(NonZeroU32),
    /// RFC 5032 WITHIN: messages younger than this many seconds.
    Younger(NonZeroU32),
}

/// `search-return-opt` (RFC 4731 ESEARCH, RFC 5182 SAVE, RFC 9394 PARTIAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
    Partial(PartialRange),
    /// RFC 5267 §4.2: a hint that the criteria will be used again.
    Context,
    /// RFC 5267 §4.3: keep the result up to date with ADDTO / REMOVEFROM.
    Update,
}

/// `sort-key` (RFC 5256 §5, RFC 5957 DISPLAYFROM / DISPLAYTO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// `sort-criterion = ["REVERSE" SP] sort-key`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// `thread-alg` (RFC 5256 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}
