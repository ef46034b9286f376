//! The LMTP listener (RFC 2033): on loopback TCP and/or a Unix socket, as the config says. An MTA
//! hands mail over; each recipient gets its own reply after DATA, sent only once the message is
//! durable in the store.

use std::sync::Arc;

use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::imap::fetchdata;
use crate::lmtp::{Body, BodyLine, Command, MAX_COMMAND_LINE, parse};
use crate::store::{Store, StoreError};

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
    let mut out = format!("220 {} LMTP applianced ready\r\n", shared.hostname).into_bytes();
    let mut greeted = false;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        // Pipelining (RFC 2920): replies are sent when the client's input runs dry.
        if reader.buffer().is_empty() && !out.is_empty() {
            writer.write_all(&out).await?;
            writer.flush().await?;
            out.clear();
        }
        let Some((line, too_long)) = read_line(&mut reader, MAX_COMMAND_LINE).await? else { return Ok(()) };
        if too_long {
            out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let cmd = match parse(text.trim_end_matches(['\r', '\n'])) {
            Ok(c) => c,
            Err(e) => {
                out.extend_from_slice(format!("{e}\r\n").as_bytes());
                continue;
            }
        };
        match cmd {
            Command::Lhlo(_) => {
                greeted = true;
                from = None;
                rcpts.clear();
                out.extend_from_slice(
                    format!(
                        "250-{}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE {}\r\n",
                        shared.hostname, shared.max_size
                    )
                    .as_bytes(),
                );
            }
            _ if !greeted => out.extend_from_slice(b"503 5.5.1 Send LHLO first\r\n"),
            Command::Mail { from: f, size } => {
                if from.is_some() {
                    out.extend_from_slice(b"503 5.5.1 Nested MAIL command\r\n");
                } else if size.is_some_and(|s| s > shared.max_size) {
                    out.extend_from_slice(b"552 5.3.4 Message too big\r\n");
                } else {
                    from = Some(f);
                    out.extend_from_slice(b"250 2.1.0 OK\r\n");
                }
            }
            Command::Rcpt(to) => {
                if from.is_none() {
                    out.extend_from_slice(b"503 5.5.1 Need MAIL first\r\n");
                    continue;
                }
                let store = shared.store.clone();
                let who = to.clone();
                let known = smol::unblock(move || store.read().and_then(|r| r.resolve(&who))).await;
                match known {
                    Ok(_) => {
                        rcpts.push(to);
                        out.extend_from_slice(b"250 2.1.5 OK\r\n");
                    }
                    Err(StoreError::NoSuchAccount) => {
                        out.extend_from_slice(format!("550 5.1.1 <{to}>: no such user\r\n").as_bytes());
                    }
                    Err(e) => {
                        log::error!("LMTP recipient check: {e}");
                        out.extend_from_slice(b"451 4.3.0 Temporary failure\r\n");
                    }
                }
            }
            Command::Data => {
                if rcpts.is_empty() {
                    out.extend_from_slice(b"503 5.5.1 No valid recipients\r\n");
                    continue;
                }
                out.extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                writer.write_all(&out).await?;
                writer.flush().await?;
                out.clear();
                let mut body = Body::new(usize::try_from(shared.max_size).unwrap_or(usize::MAX));
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
                let recipients = std::mem::take(&mut rcpts);
                from = None;
                deliver(shared, recipients, body.finish(), &mut out).await;
            }
            Command::Rset => {
                from = None;
                rcpts.clear();
                out.extend_from_slice(b"250 2.0.0 OK\r\n");
            }
            Command::Noop => out.extend_from_slice(b"250 2.0.0 OK\r\n"),
            Command::Vrfy => out.extend_from_slice(b"252 2.5.0 Cannot VRFY; send the message\r\n"),
            Command::Quit => {
                out.extend_from_slice(format!("221 2.0.0 {} closing\r\n", shared.hostname).as_bytes());
                writer.write_all(&out).await?;
                writer.flush().await?;
                return Ok(());
            }
        }
    }
}

/// Stores the message once for every recipient and writes one reply per recipient (RFC 2033 §4.2),
/// after the commit: a 250 means the message is durable.
async fn deliver(shared: &Lmtp, recipients: Vec<String>, message: Option<Vec<u8>>, out: &mut Vec<u8>) {
    let reply_all = |out: &mut Vec<u8>, text: &str| {
        for _ in &recipients {
            out.extend_from_slice(format!("{text}\r\n").as_bytes());
        }
    };
    let Some(message) = message else {
        return reply_all(out, "552 5.3.4 Message too big");
    };
    let message = crate::admin::normalize_line_ends(message);
    let data = match fetchdata::compute(&message) {
        Ok(d) => d.encode(),
        Err(e) => return reply_all(out, &format!("554 5.6.0 Not a message: {e}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match shared.store.deliver(recipients.clone(), message, data, now).await {
        Err(e) => {
            log::error!("LMTP delivery: {e}");
            reply_all(out, "451 4.3.0 Temporary storage failure");
        }
        Ok(results) => {
            for (rcpt, r) in recipients.iter().zip(results) {
                let line = match r {
                    Ok(d) => format!("250 2.0.0 <{rcpt}> delivered, UID {}", d.uid),
                    Err(StoreError::NoSuchAccount) => format!("550 5.1.1 <{rcpt}>: no such user"),
                    // RFC 3463: X.2.2 mailbox full.
                    Err(StoreError::OverQuota) if shared.quota_permanent => {
                        format!("552 5.2.2 <{rcpt}>: over quota")
                    }
                    Err(StoreError::OverQuota) => format!("452 4.2.2 <{rcpt}>: over quota"),
                    Err(e) if e.is_temporary() => format!("451 4.3.0 <{rcpt}>: temporary failure"),
                    Err(e) => format!("554 5.3.0 <{rcpt}>: {e}"),
                };
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}
