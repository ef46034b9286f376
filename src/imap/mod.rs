//! IMAP protocol logic over message bytes and stored records.
//!
//! * `fetchdata`: what FETCH needs (ENVELOPE, BODYSTRUCTURE, MIME part offsets), computed once at
//!   delivery and stored opaquely by the store.
//! * `response`: response pieces shared by the command handlers.

pub mod fetchdata;
pub mod response;
