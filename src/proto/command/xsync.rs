//! The MAPI extension's sync commands (docs/mapi-extension.md §7, §8, §15): XSYNC and
//! XHIERARCHY, and the message summary fields they (and XBACKCHANNEL) name.

use std::num::{NonZeroU32, NonZeroU64};

use super::MailboxName;

/// `mailbox-ref = "(" objectid ")" / mailbox`: a folder by MAILBOXID (RFC 8474) or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxRef {
    /// The objectid as sent (`M12`); which mailbox it names, if any, is the handler's question.
    Id(String),
    Name(MailboxName),
}

/// `field` (§15): a message summary item; FLAGS and MODSEQ are sent whether named or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SummaryField {
    Flags,
    ModSeq,
    InternalDate,
    Rfc822Size,
    EmailId,
    ThreadId,
    Envelope,
    BodyStructure,
    XFrom,
    XTo,
    XSubject,
    XAttach,
}

impl SummaryField {
    /// In the order a summary lists them.
    pub const ALL: [SummaryField; 12] = [
        SummaryField::Flags,
        SummaryField::ModSeq,
        SummaryField::InternalDate,
        SummaryField::Rfc822Size,
        SummaryField::EmailId,
        SummaryField::ThreadId,
        SummaryField::Envelope,
        SummaryField::BodyStructure,
        SummaryField::XFrom,
        SummaryField::XTo,
        SummaryField::XSubject,
        SummaryField::XAttach,
    ];

    /// The field named `name` (any case), as §15 spells them.
    pub fn from_name(name: &str) -> Option<SummaryField> {
        SummaryField::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            SummaryField::Flags => "FLAGS",
            SummaryField::ModSeq => "MODSEQ",
            SummaryField::InternalDate => "INTERNALDATE",
            SummaryField::Rfc822Size => "RFC822.SIZE",
            SummaryField::EmailId => "EMAILID",
            SummaryField::ThreadId => "THREADID",
            SummaryField::Envelope => "ENVELOPE",
            SummaryField::BodyStructure => "BODYSTRUCTURE",
            SummaryField::XFrom => "XFROM",
            SummaryField::XTo => "XTO",
            SummaryField::XSubject => "XSUBJECT",
            SummaryField::XAttach => "XATTACH",
        }
    }
}

/// The options of XSYNC (`sync-option`, each at most once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `WINDOW w`: the batch size (the cap is the handler's, `mapi.window_max`).
    pub window: Option<NonZeroU32>,
    /// `BATCHES b`: stop after `b` batches.
    pub batches: Option<NonZeroU64>,
    /// `FIELDS (...)`: `None` for the default set.
    pub fields: Option<Vec<SummaryField>>,
}
