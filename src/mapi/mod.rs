//! The MAPI extension (`XMAPI1`, docs/mapi-extension.md): its session layer (§4) so far.
//!
//! Two layers, as in `imap/` (tests/structure.rs checks the arrows):
//!
//! * handlers, one per command, leaves called only by `imap::dispatch` after its state check:
//!   `xsession.rs` (XSESSION, XSESSION STATUS, XSESSION END), `xjoin.rs` (XJOIN).
//! * below them, importing nothing of `imap/`: `registry.rs` (every live session, its tokens and
//!   grace periods, held in `imap::Context`), `link.rs` (what each connection shows of itself and
//!   the signal that closes it), `response.rs` (the `XSESSION` response of a create or a join).

pub mod link;
pub mod registry;
pub mod response;
pub mod state;
pub mod summary;
pub mod sync;
pub mod xjoin;
pub mod xsession;
