//! The control socket: a Unix socket in the data directory, mode 0600, through which `deliver`
//! and `user ...` reach a running server (redb lets one process open the database at a time,
//! and a delivery through the server wakes its IDLE sessions at once).
//!
//! Wire form (see `admin::Request::encode`): one header line, an optional payload whose length
//! the header gives, then the server's answer (`* line`... then the exit code) and close.
//! `APPEND-BATCH` (import) carries a batch of messages as its payload (`migrate::Batch`) and is
//! answered after the batch's durable commit. `EXPORT` is answered with a stream of mailboxes
//! and messages (`migrate::ExportItem`) before the usual answer: the server reads the store,
//! the CLI process writes the files (the service may not write where the user exports to).
//! `MAILBOXES` and `SIZES` answer `import imap`'s look-ups (folders by special use, the resume
//! check), so that it too runs beside the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::sync::Arc;

use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use smol::net::unix::{UnixListener, UnixStream};

use crate::admin::{self, Request, Response};
use crate::imap::trace::Switch;
use crate::mapi::registry::Registry;
use crate::migrate::{self, ExportItem};
use crate::store::Store;

/// Export items in flight between the thread reading the store and the socket: the memory an
/// export holds is this many messages at most.
const EXPORT_QUEUE: usize = 8;

/// Longest header line accepted.
const MAX_HEADER: usize = 4096;

/// Whether a server answers on the Unix socket at `path` (the control socket, or LMTP's): the
/// one probe of "is applianced running?". A socket file nobody answers on is stale.
pub fn answers(path: &Path) -> bool {
    StdUnixStream::connect(path).is_ok()
}

/// Binds the control socket, replacing a stale one (a socket file nobody answers on).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if answers(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use: is applianced already running?", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    // Only the service user (and root) may deliver or manage accounts.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves control connections until the listener fails.
pub async fn serve(
    listener: UnixListener,
    store: Arc<Store>,
    traces: Arc<Switch>,
    reloader: Arc<super::reload::Reloader>,
    sessions: Arc<Registry>,
    ex: Arc<smol::Executor<'static>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let store = store.clone();
                let traces = traces.clone();
                let reloader = reloader.clone();
                let sessions = sessions.clone();
                ex.spawn(async move {
                    match handle(stream, store, traces, reloader, sessions).await {
                        // The command went away before reading all of its answer (an export
                        // piped into `head`, a Ctrl-C): its business, not a fault of the server.
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                            ) =>
                        {
                            log::debug!("control connection: {e}")
                        }
                        Err(e) => log::warn!("control connection: {e}"),
                        Ok(()) => {}
                    }
                })
                .detach();
            }
            Err(e) => {
                log::error!("control socket accept: {e}");
                return;
            }
        }
    }
}

async fn handle(
    stream: UnixStream,
    store: Arc<Store>,
    traces: Arc<Switch>,
    reloader: Arc<super::reload::Reloader>,
    sessions: Arc<Registry>,
) -> std::io::Result<()> {
    let mut reader = smol::io::BufReader::new(stream.clone());
    let mut header = Vec::new();
    (&mut reader).take(MAX_HEADER as u64).read_until(b'\n', &mut header).await?;
    let mut writer = stream;
    let line = String::from_utf8_lossy(&header);
    let response = match Request::parse_header(line.trim_end()) {
        Err(e) => Response { lines: vec![e], code: admin::exit::USAGE },
        Ok((mut req, len)) => {
            let mut payload = vec![0; len];
            reader.read_exact(&mut payload).await?;
            match req.attach_payload(payload) {
                Err(e) => Response { lines: vec![e], code: admin::exit::DATAERR },
                Ok(()) => match req {
                    Request::Export { account } => export(&mut writer, store, account).await?,
                    Request::Sessions { json } => {
                        let views = sessions.list();
                        Response::ok(if json {
                            vec![admin::sessions_json(&views)]
                        } else {
                            admin::sessions_text(&views)
                        })
                    }
                    Request::UserPasswd { .. } | Request::UserDel { .. } => {
                        smol::unblock(move || account_change(&store, &traces, &sessions, req)).await
                    }
                    Request::Reload => {
                        let done = smol::unblock(move || reloader.reload("applianced reload")).await;
                        let code = if done.failed { admin::exit::CONFIG } else { admin::exit::OK };
                        Response { lines: done.lines, code }
                    }
                    // Not on the sessions' read threads: an import or a backup runs for minutes,
                    // and only the administrator (the socket is 0600) can ask for one.
                    req => smol::unblock(move || admin::execute_in_server(&store, &traces, req)).await,
                },
            }
        }
    };
    writer.write_all(&response.encode()).await?;
    writer.flush().await
}

/// `user passwd` and `user del`, with the revocation of the account's MAPI sessions after
/// (docs/mapi-extension.md §4.3): every connection of them gets `* BYE [XREVOKED]`.
fn account_change(store: &Store, traces: &Switch, sessions: &Registry, req: Request) -> Response {
    let (address, why) = match &req {
        Request::UserDel { address } => (address.clone(), "the account was deleted"),
        Request::UserPasswd { address, .. } => (address.clone(), "the account's password was changed"),
        _ => return admin::execute_in_server(store, traces, req),
    };
    // Before the change: a deleted account has no id after.
    let id = store.read().and_then(|r| r.account_id(&address)).ok();
    let response = admin::execute_in_server(store, traces, req);
    if response.code == admin::exit::OK
        && let Some(id) = id
    {
        let ended = sessions.revoke_account(id, why);
        if ended > 0 {
            log::info!("{address}: {ended} MAPI session(s) revoked: {why}");
        }
    }
    response
}

/// Streams an account to the client: a thread reads the store from one snapshot, the socket
/// takes the items as fast as the client reads them (the queue between them is bounded).
async fn export(writer: &mut UnixStream, store: Arc<Store>, account: String) -> std::io::Result<Response> {
    let (tx, rx) = smol::channel::bounded::<Vec<u8>>(EXPORT_QUEUE);
    let producer = smol::unblock(move || {
        admin::export_answer(migrate::export(&store, &account, &mut |item| {
            tx.send_blocking(item.encode()).map_err(|_| "the client went away".to_string())
        }))
    });
    while let Ok(frame) = rx.recv().await {
        if let Err(e) = writer.write_all(&frame).await {
            // Closing the queue ends the reading thread at its next item.
            rx.close();
            return Err(e);
        }
    }
    Ok(producer.await)
}

/// Connects to a running server; `Ok(None)` when none answers on `path`.
fn connect(path: &Path) -> std::io::Result<Option<StdUnixStream>> {
    match StdUnixStream::connect(path) {
        Ok(s) => Ok(Some(s)),
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The server's answer at the end of a control connection.
fn decode_answer(text: &str) -> std::io::Result<Response> {
    Response::decode(text)
        .ok_or_else(|| std::io::Error::other("the server closed the control connection early"))
}

/// Reads an export stream from a running server, handing each item to `emit`. `Ok(None)` when
/// no server answers on `path`.
pub fn export_stream(
    path: &Path,
    account: &str,
    emit: &mut dyn FnMut(ExportItem) -> Result<(), String>,
) -> std::io::Result<Option<Response>> {
    let Some(mut stream) = connect(path)? else { return Ok(None) };
    stream.write_all(&Request::Export { account: account.to_string() }.encode())?;
    let mut reader = BufReader::with_capacity(256 << 10, stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        (&mut reader).take(MAX_HEADER as u64).read_until(b'\n', &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let parsed = ExportItem::parse_header(text.trim_end_matches('\n')).map_err(std::io::Error::other)?;
        let Some((mut item, len)) = parsed else { break };
        if let ExportItem::Message { raw, .. } = &mut item {
            raw.resize(len, 0);
            reader.read_exact(raw)?;
        }
        if let Err(e) = emit(item) {
            return Ok(Some(Response { lines: vec![e], code: admin::exit::IOERR }));
        }
    }
    let mut text = String::from_utf8_lossy(&line).into_owned();
    reader.take(64 << 20).read_to_string(&mut text)?;
    decode_answer(&text).map(Some)
}

/// Sends a request to a running server. `Ok(None)` when no server answers on `path`.
pub fn send(path: &Path, req: &Request) -> std::io::Result<Option<Response>> {
    let Some(mut stream) = connect(path)? else { return Ok(None) };
    stream.write_all(&req.encode())?;
    let mut text = String::new();
    BufReader::new(&mut stream).take(64 << 20).read_to_string(&mut text)?;
    decode_answer(&text).map(Some)
}

/// Reads a whole stream, for callers that hold a blocking reader (kept here to share the cap).
pub fn read_capped(r: impl Read, cap: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(cap as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > cap {
        return Err(std::io::Error::other(format!("input larger than {cap} bytes")));
    }
    Ok(buf)
}
