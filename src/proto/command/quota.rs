//! QUOTA (RFC 9208): resource names.

use super::*;

/// `resource-name` (RFC 9208 §9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuotaResource {
    Storage,
    Message,
    Mailbox,
    AnnotationStorage,
    Other(Atom),
}
