//! Every table of the database, in one place: the on-disk format is a public interface
//! (documented in `docs/storage.md`). Changing a key or value layout means bumping
//! [`FORMAT_VERSION`] and writing a migration.

use redb::TableDefinition;

/// Version of the layout below, kept under `"format"` in [`META`].
/// Version 2 added [`UID_RUNS`] and [`BLOB_TAILS`]; version 3 added [`SUBSCRIPTIONS`] and
/// [`SECRETS`] and mailbox records of version 2 (with `last_change`, without the subscription
/// byte). An older file is migrated when opened (`Store::open`), one step per version, in one
/// transaction.
pub const FORMAT_VERSION: u64 = 3;

/// Size of one stored chunk of a message's raw bytes. Chunks of 1 KiB pack densely into redb's
/// 4 KiB pages (whole values round up to a power-of-two page run) and let a partial FETCH read
/// only the chunks it needs.
pub const CHUNK_SIZE: usize = 4072;

/// Named counters: `"format"`, `"next_account"`, `"next_mailbox"`, `"next_blob"`, `"last_uidvalidity"`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Lower-cased address → account id.
pub const ACCOUNT_BY_NAME: TableDefinition<&str, u64> = TableDefinition::new("account_by_name");

/// Account id → [`super::records::AccountRecord`].
pub const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");

/// (account id, mailbox name) → mailbox id. Names are stored as given (UTF-8); INBOX is upper case.
pub const MAILBOX_BY_NAME: TableDefinition<(u64, &str), u64> = TableDefinition::new("mailbox_by_name");

/// Mailbox id → [`super::records::MailboxRecord`] (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, counters).
pub const MAILBOXES: TableDefinition<u64, &[u8]> = TableDefinition::new("mailboxes");

/// (mailbox id, UID) → [`super::records::MessageRecord`]: small, so that listing UID and flags of a
/// whole mailbox is one dense range scan.
pub const MESSAGES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("messages");

/// (mailbox id, first UID of a run) → number of consecutive live UIDs from it. The runs cover
/// exactly the keys of [`MESSAGES`] for the mailbox, so SELECT builds its sequence map from a few
/// runs instead of reading every UID: deliveries extend the last run, an expunge splits one.
/// Added in format 2.
pub const UID_RUNS: TableDefinition<(u64, u32), u32> = TableDefinition::new("uid_runs");

/// (mailbox id, MODSEQ) → UID of the live message last changed at that MODSEQ. Exactly one entry
/// per live message: "changed since N" is a range scan from N+1.
pub const MODSEQ_INDEX: TableDefinition<(u64, u64), u32> = TableDefinition::new("modseq_index");

/// (mailbox id, MODSEQ) → UID expunged at that MODSEQ, for QRESYNC's VANISHED.
pub const TOMBSTONES: TableDefinition<(u64, u64), u32> = TableDefinition::new("tombstones");

/// Blob id → [`super::records::BlobRecord`] (size and the opaque FETCH data computed at delivery).
pub const BLOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("blobs");

/// Blob id → number of messages that point at it: a message delivered to 20 people is stored once.
pub const BLOB_REFS: TableDefinition<u64, u32> = TableDefinition::new("blob_refs");

/// (blob id, chunk number) → up to [`CHUNK_SIZE`] raw bytes of the message.
pub const BLOB_CHUNKS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("blob_chunks");

/// (blob id, chunk number) → the last, partial chunk of a message (its size is not a multiple of
/// [`CHUNK_SIZE`]), kept apart from the full chunks so that tails of consecutive messages share
/// leaf pages instead of each taking one of its own. Same keys as [`BLOB_CHUNKS`]: a reader
/// reads both ranges in order. Added in format 2; format-1 blobs keep their tail in
/// [`BLOB_CHUNKS`], which readers handle the same way.
pub const BLOB_TAILS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("blob_tails");

/// (account id, change number) → [`super::records::ChangeRecord`]: the bounded account-wide change
/// log, oldest entries trimmed as new ones arrive.
pub const CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("changes");

/// Lower-cased alias address, or `@domain` for a domain's catch-all → the account address mail
/// for it goes to.
pub const ALIASES: TableDefinition<&str, &str> = TableDefinition::new("aliases");

/// (account id, mailbox name as [`MAILBOX_BY_NAME`] keeps it) → Unix seconds of the
/// subscription. Kept by name: a subscription outlives its mailbox (RFC 9051 §6.3.7) and is
/// listed as `\NonExistent` then (RFC 5258 §3.4). Added in format 3.
pub const SUBSCRIPTIONS: TableDefinition<(u64, &str), u64> = TableDefinition::new("subscriptions");

/// Named secrets of this database: `"sync_key"`, 32 random octets that authenticate the MAPI
/// extension's sync states and derive its epochs (docs/mapi-extension.md, Appendix A). Made with
/// the file (or by the migration to format 3) and replaced by `restore`. Added in format 3.
pub const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Lower-cased domain names this server holds mail for → creation time (Unix seconds).
pub const DOMAINS: TableDefinition<&str, u64> = TableDefinition::new("domains");
