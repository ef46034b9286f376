//! One file per command. Each handler runs after the session checked its state, writes untagged
//! responses into `out`, and returns the tagged OK's text or an error.
//!
//! Handlers are leaves: they use what lies below them (`session`, `outcome`, `shared`,
//! `search_eval`, `sort_keys`, `mailbox_status`, `changes`, `selected` ...), never each other, and
//! nothing below imports them; `imap::dispatch` calls them.

pub mod append;
pub mod authenticate;
pub mod cancelupdate;
pub mod copy;
pub mod create;
pub mod delete;
pub mod enable;
pub mod expunge;
pub mod fetch;
pub mod list;
pub mod login;
pub mod notify;
pub mod quota;
pub mod rename;
pub mod search;
pub mod select;
pub mod sort;
pub mod status;
pub mod store;
pub mod subscribe;
pub mod thread;
