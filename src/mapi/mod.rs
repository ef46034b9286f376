//! The MAPI extension (`XMAPI1`, docs/mapi-extension.md): sessions over a pool of connections
//! (§4), the backchannel that pushes every change of the account with heartbeats (§5, §6), and
//! resumable newest-first sync of folders and of the folder tree (§7, §8).
//!
//! Two layers, as in `imap/` (tests/structure.rs checks the arrows):
//!
//! * handlers, one per command, leaves called only by `imap::dispatch` after its state check:
//!   `xsession.rs` (XSESSION, XSESSION STATUS, XSESSION END), `xjoin.rs` (XJOIN),
//!   `xbackchannel.rs` (XBACKCHANNEL), `xack.rs` (XACK), `xsync.rs` (XSYNC), `xhierarchy.rs`
//!   (XHIERARCHY).
//! * below them, never importing the IMAP session, dispatcher or handlers: `registry.rs` (every
//!   live session, its tokens and grace periods, held in `imap::Context`), `link.rs` (what each
//!   connection shows of itself and the signal that closes it), `response.rs` (the `XSESSION`
//!   response of a create or a join) — these three import nothing of `imap/` —, `state.rs` (the
//!   opaque states and epochs, MAC'd with the database's key), `sync.rs` (an XSYNC run, a batch
//!   at a time, no IO), `summary.rs` (message summaries, §9), `folder.rs` (folder-info, counts,
//!   MAILBOXID references), `backchannel.rs` (the backchannel's event stream, a bounded step of
//!   the change log at a time, and its heartbeat clock; no IO: `imap/backchannel.rs` runs the
//!   steps for the connection loop).

pub mod backchannel;
pub mod folder;
pub mod link;
pub mod registry;
pub mod response;
pub mod state;
pub mod summary;
pub mod sync;
pub mod xack;
pub mod xbackchannel;
pub mod xhierarchy;
pub mod xjoin;
pub mod xsession;
pub mod xsync;
