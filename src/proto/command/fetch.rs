//! FETCH and STORE: attributes, sections, partial ranges, modifiers (RFC 9051 §6.4.5, §6.4.6).

use super::*;

// FETCH and STORE

/// `section-part = nz-number *("." nz-number)`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Part(pub NonEmpty<NonZeroU32>);

/// `section-spec` of BODY[...] (RFC 9051 §6.4.5). `MIME` exists only with a part number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `[]`: the whole message.
    Full,
    /// `[1.2]`
    Part(Part),
    /// `[HEADER]`, `[1.2.HEADER]` (a part that is a message/rfc822).
    Header(Option<Part>),
    /// `[HEADER.FIELDS (a b)]`; field names as sent (compare case-insensitively).
    HeaderFields(Option<Part>, NonEmpty<String>),
    /// `[HEADER.FIELDS.NOT (a b)]`
    HeaderFieldsNot(Option<Part>, NonEmpty<String>),
    /// `[TEXT]`, `[1.TEXT]`
    Text(Option<Part>),
    /// `[1.MIME]`
    Mime(Part),
}

/// `partial = "<" number64 "." nz-number64 ">"`: offset and length of the slice wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partial {
    pub offset: u64,
    pub length: NonZeroU64,
}

/// A FETCH data item (RFC 9051 §6.4.5). The macros ALL, FAST and FULL are expanded by the
/// parser into their items.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FetchAttribute {
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]` (RFC 3516); an empty part list is the whole message.
    Binary {
        peek: bool,
        part: Vec<NonZeroU32>,
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        part: Vec<NonZeroU32>,
    },
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<Partial>,
    },
    BodyStructure,
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Uid,
    /// RFC 7162
    ModSeq,
    /// RFC 8474
    EmailId,
    /// RFC 8474
    ThreadId,
    /// RFC 8514
    SaveDate,
    /// RFC 8970 `PREVIEW [(LAZY)]`
    Preview {
        lazy: bool,
    },
}

/// `fetch-modifier` (RFC 7162 CHANGEDSINCE / VANISHED, RFC 9394 PARTIAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FetchModifier {
    ChangedSince(ModSeq),
    Vanished,
    Partial(PartialRange),
}

/// How STORE changes the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreAction {
    pub mode: StoreMode,
    pub silent: bool,
    pub flags: Vec<Flag>,
}

/// `store-modifier` (RFC 7162 §3.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreModifier {
    /// `UNCHANGEDSINCE mod-sequence-valzer` (0 allowed).
    UnchangedSince(u64),
}
