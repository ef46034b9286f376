//! The store's one error type.

use std::fmt;

/// What can go wrong in the store. `Storage`, `DiskFull`, `Unavailable` and `Closed` are the
/// disk's or the process's fault (a temporary failure for the caller: [`StoreError::is_temporary`]);
/// `Corrupt`, `Format` and `Inconsistent` are the file's; every other variant is the request's.
///
/// The `String`s carry redb's or the OS's words for the log and the admin CLI; protocol sessions
/// answer with their own text and never send these to a client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// redb or the file system failed; the operation did not happen.
    Storage(String),
    /// The file system has no room for the write (ENOSPC, or a disk quota: EDQUOT); nothing of it
    /// happened. Writes are refused until space returns, then resume by themselves (see
    /// `store/handle.rs`); reads go on.
    DiskFull(String),
    /// The database is being reopened after a storage failure, or the writer is waiting before it
    /// tries the disk again, or no read thread was free in time (`reads`); retrying later
    /// succeeds once the disk works.
    Unavailable(String),
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
    /// A limit of the configuration (mailboxes per account) is reached; the request was refused.
    Limit(&'static str),
    /// The store's writer thread is gone (shutting down).
    Closed,
}

/// Shorthand used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// True when the error is the storage's, not the request's: retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            StoreError::Storage(_)
                | StoreError::DiskFull(_)
                | StoreError::Unavailable(_)
                | StoreError::Closed
        )
    }

    /// True when the file system is full: LMTP answers `452 4.3.1` (RFC 3463: mail system full).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull(_))
    }

    /// True when the failure was the disk's, so the writer must stop using the failed handle and
    /// open the file again (redb refuses every later I/O on it: `StorageError::PreviousIo`).
    pub(super) fn is_io(&self) -> bool {
        matches!(self, StoreError::Storage(_) | StoreError::DiskFull(_) | StoreError::Unavailable(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Storage(e) => write!(f, "storage failure: {e}"),
            StoreError::DiskFull(e) => write!(f, "file system full: {e}"),
            StoreError::Unavailable(e) => write!(f, "storage temporarily unavailable: {e}"),
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
            StoreError::Limit(what) => f.write_str(what),
            StoreError::Closed => f.write_str("store is shutting down"),
        }
    }
}

impl std::error::Error for StoreError {}

macro_rules! storage_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                classify(e.into())
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

/// Sorts redb's error into the store's: what the caller may do about it matters, not its layer.
fn classify(e: redb::Error) -> StoreError {
    match e {
        redb::Error::Corrupted(m) => StoreError::Corrupt(m),
        redb::Error::Io(e) => StoreError::from(e),
        // The handle latched an earlier I/O error, or was closed by the writer to reopen it.
        e @ (redb::Error::PreviousIo | redb::Error::DatabaseClosed) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Storage(other.to_string()),
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => StoreError::DiskFull(e.to_string()),
            _ => StoreError::Storage(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_errors_are_sorted_by_what_the_caller_can_do() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = StoreError::from(redb::StorageError::Io(full));
        assert!(e.is_disk_full() && e.is_temporary(), "{e:?}");
        let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
        assert!(StoreError::from(quota).is_disk_full());
        let e = StoreError::from(redb::StorageError::PreviousIo);
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        let e = StoreError::from(redb::StorageError::Corrupted("x".into()));
        assert!(matches!(e, StoreError::Corrupt(_)) && !e.is_temporary());
        assert!(!StoreError::Inconsistent("x").is_temporary());
    }
}
