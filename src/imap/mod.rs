//! IMAP: the session, its commands and what they share, in three layers (docs/ARCHITECTURE.md;
//! `tests/structure.rs` checks the arrows):
//!
//! * `dispatch`: parses a command, checks the state in one place, calls its handler, answers.
//! * `cmd/`: one handler per command, leaves: each reads and writes through the store and writes
//!   its responses into the session's output buffer. No sockets here: `server::imap` moves bytes.
//! * below them: `session` (state, literals, reads, refresh), `outcome` (what a handler returns),
//!   `enabled`, `shared`, `search_eval`, `sort_keys`, `mailbox_status`, `changes` (NOTIFY and the
//!   report of other mailboxes' changes), `recent` (\Recent claims), `list_match`, `selected`
//!   (the selected mailbox and others' changes to it), `context` (updating searches), `seqmap`,
//!   `fetchdata` (what FETCH needs, computed once at delivery), `login` (password checks),
//!   `response` (flag lists, sets, keyword announcements), `trace` (the per-account protocol
//!   trace; `server::imap` feeds it the bytes).

pub mod backchannel;
pub mod catenate;
pub mod changes;
pub mod cmd;
pub mod context;
pub mod dispatch;
pub mod enabled;
pub mod fetchdata;
pub mod list_match;
pub mod login;
pub mod mailbox_status;
pub mod outcome;
pub mod recent;
pub mod response;
pub mod search_eval;
pub mod section;
pub mod selected;
pub mod seqmap;
pub mod session;
pub mod shared;
pub mod sort_keys;
pub mod trace;

use std::sync::Arc;

use crate::config::Config;
use crate::store::{Reads, Store};

/// What every session of a server shares.
pub struct Context {
    pub store: Arc<Store>,
    /// The threads every session's store reads run on (bounded; LMTP's too).
    pub reads: Arc<Reads>,
    pub config: Config,
    pub logins: login::Logins,
    /// STARTTLS and implicit TLS are available (a certificate is loaded).
    pub tls_available: bool,
    /// Accounts whose sessions are traced to the log; changed by SIGHUP and the control socket.
    pub traces: Arc<trace::Switch>,
    /// Messages taken as `\Recent` by a session's refresh since the store's record.
    pub recent: Arc<recent::Claims>,
    /// Every live MAPI session (docs/mapi-extension.md §4); the control socket revokes them.
    pub sessions: Arc<crate::mapi::registry::Registry>,
}

impl Context {
    pub fn new(store: Arc<Store>, config: Config, tls_available: bool) -> Self {
        let reads = Arc::new(Reads::new(store.clone(), config.store.read_limits()));
        let logins = login::Logins::new(reads.clone(), &config.limits);
        let traces = Arc::new(trace::Switch::new(&config.log.trace));
        let sessions = Arc::new(crate::mapi::registry::Registry::new(
            crate::mapi::registry::Limits::from_config(&config.mapi),
        ));
        Context { store, reads, config, logins, tls_available, traces, recent: Arc::default(), sessions }
    }
}
