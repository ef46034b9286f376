//! The LMTP listener (RFC 2033): on loopback TCP and/or a Unix socket, as the config says. An MTA
//! hands mail over; each recipient gets its own reply after DATA, sent only once the message is
//! durable in the store.

use std::sync::Arc;

use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::imap::fetchdata;
use crate::lmtp::session::{Failure, Next, Session};
use crate::lmtp::{Body, BodyLine, MAX_COMMAND_LINE};
use crate::store::{Delivered, Store, StoreError};

/// What the LMTP connections share.
pub struct Lmtp {
    pub store: Arc<Store>,
    pub hostname: String,
    /// Largest message accepted (SIZE), from `limits.max_literal_size`.
    pub max_size: u64,
    /// Over quota fails permanently (552 5.2.2) rather than temporarily (452 4.2.2).
    pub quota_permanent: bool,
    pub shutdown: smol::channel::Receiver<()>,
}

/// A listening socket: TCP or Unix.
pub enum Listener {
    Tcp(smol::net::TcpListener),
    Unix(smol::net::unix::UnixListener),
}

/// Binds `unix:PATH` (mode 0666: the MTA runs as another user; the socket's directory guards it)
/// or `HOST:PORT`.
pub async fn bind(addr: &str) -> std::io::Result<(Listener, String)> {
    if let Some(path) = addr.strip_prefix("unix:") {
        let p = std::path::Path::new(path);
        if p.exists() {
            if std::os::unix::net::UnixStream::connect(p).is_ok() {
                return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("{path} is in use")));
            }
            std::fs::remove_file(p)?;
        }
        let l = smol::net::unix::UnixListener::bind(p)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666))?;
        return Ok((Listener::Unix(l), addr.to_string()));
    }
    let l = smol::net::TcpListener::bind(addr).await?;
    let local = l.local_addr()?.to_string();
    Ok((Listener::Tcp(l), local))
}

pub async fn accept_loop(listener: Listener, shared: Arc<Lmtp>, ex: Arc<smol::Executor<'static>>) {
    loop {
        let accepted = smol::future::or(
            async {
                Some(match &listener {
                    Listener::Tcp(l) => {
                        l.accept().await.map(|(s, _)| Box::new(s) as Box<dyn super::imap::Duplex>)
                    }
                    Listener::Unix(l) => {
                        l.accept().await.map(|(s, _)| Box::new(s) as Box<dyn super::imap::Duplex>)
                    }
                })
            },
            async {
                let _ = shared.shutdown.recv().await;
                None
            },
        )
        .await;
        let Some(accepted) = accepted else { return };
        match accepted {
            Ok(stream) => {
                let shared = shared.clone();
                ex.spawn(async move {
                    if let Err(e) = connection(stream, &shared).await {
                        log::debug!("LMTP: {e}");
                    }
                })
                .detach();
            }
            Err(e) => {
                log::warn!("LMTP accept: {e}");
                async_io::Timer::after(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads one line (with its line end), at most `cap` bytes kept; `None` at end of stream.
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    cap: usize,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let n = (&mut *r).take(cap as u64).read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.ends_with(b"\n") {
        return Ok(Some((line, false)));
    }
    // Longer than the cap: drop the rest of the line.
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = (&mut *r).take(64 * 1024).read_until(b'\n', &mut rest).await?;
        if n == 0 || rest.ends_with(b"\n") {
            return Ok(Some((line, true)));
        }
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S, shared: &Lmtp) -> std::io::Result<()> {
    let (reader, mut writer) = smol::io::split(stream);
    let mut reader = BufReader::new(reader);
    let mut session = Session::new(&shared.hostname, shared.max_size, shared.quota_permanent);
    let mut out = Vec::new();
    session.greeting(&mut out);
    loop {
        // Pipelining (RFC 2920): replies are sent when the client's input runs dry.
        if reader.buffer().is_empty() && !out.is_empty() {
            writer.write_all(&out).await?;
            writer.flush().await?;
            out.clear();
        }
        let Some((line, too_long)) = read_line(&mut reader, MAX_COMMAND_LINE).await? else { return Ok(()) };
        match session.line(&line, too_long, &mut out) {
            Next::Line => {}
            Next::CheckRecipient(to) => {
                let store = shared.store.clone();
                let who = to.clone();
                let found =
                    smol::unblock(move || store.read().and_then(|r| r.resolve(&who)).map(|_| ())).await;
                session.recipient(to, found, &mut out);
            }
            Next::ReadBody => {
                writer.write_all(&out).await?;
                writer.flush().await?;
                out.clear();
                let mut body = Body::new(usize::try_from(session.max_size()).unwrap_or(usize::MAX));
                loop {
                    // Body lines are capped at 1 MiB each; longer ones are kept whole in pieces.
                    let mut piece = Vec::new();
                    let n = (&mut reader).take(1 << 20).read_until(b'\n', &mut piece).await?;
                    if n == 0 {
                        // The client went away mid-DATA: nothing was stored.
                        return Ok(());
                    }
                    if body.line(&piece) == BodyLine::End {
                        break;
                    }
                }
                let recipients = session.take_recipients();
                let outcome = deliver(shared, &recipients, body.finish()).await;
                session.delivered(&recipients, outcome, &mut out);
            }
            Next::Close => {
                writer.write_all(&out).await?;
                writer.flush().await?;
                return Ok(());
            }
        }
    }
}

/// Stores the message once for every recipient; the replies are written after the commit, so a
/// 250 means the message is durable.
async fn deliver(
    shared: &Lmtp,
    recipients: &[String],
    message: Option<Vec<u8>>,
) -> Result<Vec<Result<Delivered, StoreError>>, Failure> {
    let message = crate::admin::normalize_line_ends(message.ok_or(Failure::TooBig)?);
    let data = fetchdata::compute(&message).map_err(|e| Failure::NotMail(e.to_string()))?.encode();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    shared.store.deliver(recipients.to_vec(), message, data, now).await.map_err(|e| {
        log::error!("LMTP delivery: {e}");
        Failure::Store(e)
    })
}
