//! The MAPI extension (`XMAPI1`, docs/mapi-extension.md): sessions over a pool of connections,
//! the account-wide backchannel, and resumable newest-first folder sync. Its commands sit
//! beside IMAP's (`imap/cmd/`) as leaves; what they share lives here.

pub mod state;
pub mod summary;
pub mod sync;
