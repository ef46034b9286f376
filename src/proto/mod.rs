//! Bytes and grammar of IMAP only: no IO, no store (see `docs/ARCHITECTURE.md`).
//!
//! The session pushes received bytes into a [`framing::Framer`], which hands back complete
//! commands; [`parse::parse_command`] turns each into a typed [`command::Command`].
//! [`string`] writes strings in responses (quoted or literal).

pub mod code;
pub mod command;
pub mod framing;
pub mod literal;
pub mod parse;
pub mod response;
pub mod string;
