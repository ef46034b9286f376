//! The control socket: a Unix socket in the data directory, mode 0600, through which `deliver`
//! and `user ...` reach a running server (redb lets one process open the database at a time,
//! and a delivery through the server wakes its IDLE sessions at once).
//!
//! Wire form (see `admin::Request::encode`): one header line, an optional payload whose length
//! the header gives, then the server's answer (`* line`... then the exit code) and close.

use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::sync::Arc;

use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use smol::net::unix::{UnixListener, UnixStream};

use crate::admin::{self, Request, Response};
use crate::imap::trace::Switch;
use crate::store::Store;

/// Longest header line accepted.
const MAX_HEADER: usize = 4096;

/// Binds the control socket, replacing a stale one (a socket file nobody answers on).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if StdUnixStream::connect(path).is_ok() {
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
    ex: Arc<smol::Executor<'static>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let store = store.clone();
                let traces = traces.clone();
                ex.spawn(async move {
                    if let Err(e) = handle(stream, store, traces).await {
                        log::warn!("control connection: {e}");
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

async fn handle(stream: UnixStream, store: Arc<Store>, traces: Arc<Switch>) -> std::io::Result<()> {
    let mut reader = smol::io::BufReader::new(stream.clone());
    let mut header = Vec::new();
    (&mut reader).take(MAX_HEADER as u64).read_until(b'\n', &mut header).await?;
    let mut writer = stream;
    let line = String::from_utf8_lossy(&header);
    let response = match Request::parse_header(line.trim_end()) {
        Err(e) => Response { lines: vec![e], code: admin::exit::USAGE },
        Ok((mut req, len)) => {
            if let Request::Deliver { message, .. } = &mut req {
                message.resize(len, 0);
                reader.read_exact(message).await?;
            }
            smol::unblock(move || admin::execute_in_server(&store, &traces, req)).await
        }
    };
    writer.write_all(&response.encode()).await?;
    writer.flush().await
}

/// Sends a request to a running server. `Ok(None)` when no server answers on `path`.
pub fn send(path: &Path, req: &Request) -> std::io::Result<Option<Response>> {
    let mut stream = match StdUnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    stream.write_all(&req.encode())?;
    let mut text = String::new();
    BufReader::new(&mut stream).take(64 << 20).read_to_string(&mut text)?;
    match Response::decode(&text) {
        Some(r) => Ok(Some(r)),
        None => Err(std::io::Error::other("the server closed the control connection early")),
    }
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
