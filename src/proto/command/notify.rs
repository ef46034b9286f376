//! NOTIFY (RFC 5465): mailbox filters, events and event groups.

use super::*;

/// `filter-mailboxes` (RFC 5465 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(NonEmpty<MailboxName>),
    Mailboxes(NonEmpty<MailboxName>),
}

/// `event` (RFC 5465 §8). Unknown events are kept so the handler can answer `NO [BADEVENT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    /// `MessageNew [(fetch-att ...)]`
    MessageNew(Vec<FetchAttribute>),
    MessageExpunge,
    FlagChange,
    AnnotationChange,
    MailboxName,
    SubscriptionChange,
    MailboxMetadataChange,
    ServerMetadataChange,
    QuotaChange,
    Other(Atom),
}

/// `event-group = "(" filter-mailboxes SP events ")"`; no events means `NONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventGroup {
    pub filter: MailboxFilter,
    pub events: Vec<NotifyEvent>,
}

/// `notify-set = "SET" [status-indicator] SP event-groups`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySet {
    pub status: bool,
    pub groups: NonEmpty<EventGroup>,
}
