//! The store's one error type.

use std::fmt;

/// What can go wrong in the store. `Storage` is the disk's fault (a temporary failure for the
/// caller); `Corrupt`, `Format` and `Inconsistent` are the file's; every other variant is the
/// request's.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// redb or the file system failed; the operation did not happen.
    Storage(String),
    /// The database file is damaged or not an applianced database.
    Corrupt(String),
    /// The database was written by a newer applianced.
    Format(u64),
    NoSuchAccount,
    AccountExists,
    NoSuchMailbox,
    MailboxExists,
    /// INBOX cannot be deleted, a mailbox cannot be renamed into itself, and the like.
    NotAllowed(&'static str),
    /// The expected state changed under the caller (for example a UIDVALIDITY mismatch).
    Conflict(&'static str),
    /// A record contradicts another (a mailbox counter would go below zero): the file was damaged
    /// or written by a faulty version. The operation did not happen; nothing else is affected.
    Inconsistent(&'static str),
    /// The account's quota has no room for the message.
    OverQuota,
    /// The store's writer thread is gone (shutting down).
    Closed,
}

/// Shorthand used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// True when the error is the storage's, not the request's: retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Storage(_) | StoreError::Closed)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Storage(e) => write!(f, "storage failure: {e}"),
            StoreError::Corrupt(e) => write!(f, "database is damaged: {e}"),
            StoreError::Format(v) => {
                write!(f, "database format {v} is newer than this applianced understands")
            }
            StoreError::NoSuchAccount => f.write_str("no such account"),
            StoreError::AccountExists => f.write_str("account already exists"),
            StoreError::NoSuchMailbox => f.write_str("no such mailbox"),
            StoreError::MailboxExists => f.write_str("mailbox already exists"),
            StoreError::NotAllowed(why) => f.write_str(why),
            StoreError::Conflict(why) => f.write_str(why),
            StoreError::Inconsistent(why) => write!(f, "database is inconsistent: {why}"),
            StoreError::OverQuota => f.write_str("over quota"),
            StoreError::Closed => f.write_str("store is shutting down"),
        }
    }
}

impl std::error::Error for StoreError {}

macro_rules! storage_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                let e: redb::Error = e.into();
                match e {
                    redb::Error::Corrupted(m) => StoreError::Corrupt(m),
                    other => StoreError::Storage(other.to_string()),
                }
            }
        }
    )*};
}
storage_error!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}
