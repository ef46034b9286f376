//! Where an import's batches go and an export's messages come from: the running server, over
//! its control socket (so IDLE and NOTIFY clients see the mail arrive, and the server keeps the
//! database it holds open), or the database opened by this process when no server runs. Both
//! paths run the same code on the store (`migrate::append_batch`, `migrate::export`); only the
//! transport differs.
//!
//! Every importer (maildir, mbox, remote IMAP) does the same: [`Target::open`] once, then
//! [`append_batch`] for each [`Batch`] (at most [`crate::migrate::MAX_BATCH_BYTES`] or
//! [`crate::migrate::MAX_BATCH_MESSAGES`]), and records its resume state only after
//! `append_batch` returned `Ok`: the batch is durable then, and [`Appended::uids`] says where
//! its messages went. `import imap` also reads [`mailboxes`] and [`sizes`] through the same
//! two paths, so it too runs while the server does.

use std::path::PathBuf;
use std::sync::Arc;

use crate::admin::{self, Request, Response, exit};
use crate::config::{Config, Paths};
use crate::events::Hub;
use crate::migrate::{self, Appended, Batch, ExportItem, MailboxInfo};
use crate::server::control;
use crate::store::{Store, StoreError};

/// The running server (its control socket) or the store opened here.
pub enum Target {
    Server(PathBuf),
    Store(Store),
}

/// Why a batch or an export failed: a line for the user and an exit code of [`exit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl SinkError {
    fn from_response(r: &Response) -> SinkError {
        SinkError { code: r.code, message: r.lines.join("; ") }
    }
    fn io(e: &std::io::Error) -> SinkError {
        SinkError { code: exit::TEMPFAIL, message: format!("control socket: {e}") }
    }
}

impl Target {
    /// The running server when its control socket answers, else the database opened here
    /// (waiting up to 5 s while a starting or stopping server still holds the file).
    pub fn open(config: &Config, paths: &Paths) -> Result<Target, SinkError> {
        let socket = paths.control_socket();
        for attempt in 0..50 {
            if control::answers(&socket) {
                return Ok(Target::Server(socket));
            }
            let db = paths.database();
            if !db.exists() {
                return Err(SinkError {
                    code: exit::CONFIG,
                    message: format!(
                        "{} is not initialised: run `applianced --init` first",
                        paths.data_dir.display()
                    ),
                });
            }
            match Store::open(&db, &config.store_options(), Arc::new(Hub::new())) {
                Ok(store) => return Ok(Target::Store(store)),
                Err(StoreError::Storage(e)) if e.contains("already open") && attempt < 49 => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => {
                    let code = if e.is_temporary() { exit::TEMPFAIL } else { exit::SOFTWARE };
                    return Err(SinkError { code, message: format!("cannot open {}: {e}", db.display()) });
                }
            }
        }
        Err(SinkError { code: exit::TEMPFAIL, message: "the database stayed busy".into() })
    }

    /// Whether batches go through a running server.
    pub fn is_online(&self) -> bool {
        matches!(self, Target::Server(_))
    }

    /// Closes the store if this process opened it (waiting for its last commit).
    pub fn close(self) {
        if let Target::Store(s) = self {
            s.close();
        }
    }
}

/// Sends `req` to the running server or executes it on the store: the same answer either way.
fn ask(target: &Target, req: Request) -> Result<Response, SinkError> {
    match target {
        Target::Store(store) => Ok(admin::execute(store, req)),
        Target::Server(socket) => match control::send(socket, &req) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(SinkError {
                code: exit::TEMPFAIL,
                message: "the server stopped during the import: run the import again to resume".into(),
            }),
            Err(e) => Err(SinkError::io(&e)),
        },
    }
}

/// Adds `batch` to `account` in one durable commit, creating missing mailboxes (quota applies),
/// through the running server or the store. Returns once the batch is durable: record resume
/// state after `Ok`, never before. Messages that are not mail are skipped and listed in
/// [`Appended::skipped`] by their index in the batch; any other refusal fails the whole batch.
pub fn append_batch(target: &Target, account: &str, batch: Batch) -> Result<Appended, SinkError> {
    let response = ask(target, Request::AppendBatch { account: account.to_string(), batch })?;
    admin::read_batch_answer(&response).ok_or_else(|| SinkError::from_response(&response))
}

/// The mailboxes of `account`, with their special use and next UID.
pub fn mailboxes(target: &Target, account: &str) -> Result<Vec<MailboxInfo>, SinkError> {
    let response = ask(target, Request::Mailboxes { account: account.to_string() })?;
    admin::read_mailboxes_answer(&response).ok_or_else(|| SinkError::from_response(&response))
}

/// (UID, size) of at most `limit` messages of `mailbox` from UID `from` on.
pub fn sizes(
    target: &Target,
    account: &str,
    mailbox: &str,
    from: u32,
    limit: usize,
) -> Result<Vec<(u32, u32)>, SinkError> {
    let req = Request::Sizes { account: account.to_string(), mailbox: mailbox.to_string(), from, limit };
    let response = ask(target, req)?;
    admin::read_sizes_answer(&response).ok_or_else(|| SinkError::from_response(&response))
}

/// Reads every mailbox and message of `account`, handing them to `emit` in order (each
/// mailbox, then its messages). Returns the closing line (`exported N messages`).
pub fn export(
    target: &Target,
    account: &str,
    emit: &mut dyn FnMut(ExportItem) -> Result<(), String>,
) -> Result<String, SinkError> {
    let response = match target {
        Target::Store(store) => admin::export_answer(migrate::export(store, account, emit)),
        Target::Server(socket) => match control::export_stream(socket, account, emit) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(SinkError {
                    code: exit::TEMPFAIL,
                    message: "the server stopped during the export".into(),
                });
            }
            Err(e) => return Err(SinkError::io(&e)),
        },
    };
    if response.code == exit::OK {
        Ok(response.lines.join("; "))
    } else {
        Err(SinkError::from_response(&response))
    }
}
