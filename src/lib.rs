//! applianced: a mail server in one static binary for small office appliances.
//!
//! See `docs/ARCHITECTURE.md` for the rooms and the one way the arrows between them run.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod client;
pub mod clock;
pub mod codec;
pub mod compress;
pub mod config;
pub mod corpus;
pub mod counted;
pub mod events;
pub mod files;
pub mod imap;
pub mod ingest;
pub mod lmtp;
pub mod mapi;
pub mod memory;
pub mod migrate;
pub mod pool;
pub mod proto;
pub mod server;
pub mod store;
pub mod tls;
