//! The LMTP listener (RFC 2033): on loopback TCP and/or a Unix socket, as the config says. An MTA
//! hands mail over; each recipient gets its own reply after DATA, sent only once the message is
//! durable in the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use smol::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::ingest;
use crate::lmtp::MAX_COMMAND_LINE;
use crate::lmtp::session::{Failure, Next, Session, Settings};
use crate::store::{Delivered, Lane, Reads, Store, StoreError};

/// What the LMTP connections share.
pub struct Lmtp {
    pub store: Arc<Store>,
    /// The bounded threads the recipient checks read the store on (shared with IMAP).
    pub reads: Arc<Reads>,
    /// Name and limits every session applies (replies are the session's business).
    pub settings: Arc<Settings>,
    /// Connections at once, over all LMTP listeners (`lmtp.max_connections`).
    pub max_connections: usize,
    /// Silence allowed between commands and within DATA (`lmtp.idle_timeout_secs`).
    pub idle_timeout: Duration,
    /// Closed when the server shuts down: sessions waiting for a command say 421 and end.
    pub shutdown: smol::channel::Receiver<()>,
    /// Live connections: the limit counts them and shutdown waits for them to end.
    live: AtomicUsize,
}

impl Lmtp {
    pub fn new(
        store: Arc<Store>,
        reads: Arc<Reads>,
        settings: Settings,
        max_connections: usize,
        idle_timeout: Duration,
        shutdown: smol::channel::Receiver<()>,
    ) -> Self {
        Lmtp {
            store,
            reads,
            settings: Arc::new(settings),
            max_connections,
            idle_timeout,
            shutdown,
            live: AtomicUsize::new(0),
        }
    }

    /// Connections being served now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// A place for one more connection, unless all are taken.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

/// One admitted connection; dropping it frees its place.
struct Slot(Arc<Lmtp>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
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
            if super::control::answers(p) {
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
                    let Some(slot) = shared.admit() else {
                        log::warn!("LMTP: refused a connection, {} are open", shared.max_connections);
                        let mut out = Vec::new();
                        Session::new(shared.settings.clone()).busy(&mut out);
                        let mut stream = stream;
                        let _ = send(&mut stream, &out, shared.idle_timeout).await;
                        return;
                    };
                    if let Err(e) = connection(stream, &shared).await {
                        log::debug!("LMTP: {e}");
                    }
                    drop(slot);
                })
                .detach();
            }
            Err(e) => {
                log::warn!("LMTP accept: {e}");
                async_io::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}

/// How a wait for the client ended.
enum Event<T> {
    Done(T),
    TimedOut,
    Shutdown,
}

/// Races `f` against the idle timeout and, when given, the server's shutdown.
async fn guarded<T>(
    f: impl std::future::Future<Output = T>,
    timeout: Duration,
    shutdown: Option<&smol::channel::Receiver<()>>,
) -> Event<T> {
    smol::future::or(
        async { Event::Done(f.await) },
        smol::future::or(
            async {
                async_io::Timer::after(timeout).await;
                Event::TimedOut
            },
            async {
                match shutdown {
                    Some(s) => {
                        let _ = s.recv().await;
                        Event::Shutdown
                    }
                    None => std::future::pending().await,
                }
            },
        ),
    )
    .await
}

/// Writes and flushes `bytes`; a client that takes none of them for the idle timeout is given up.
async fn send<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
    let write = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    match guarded(write, timeout, None).await {
        Event::Done(r) => r,
        _ => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "client does not read")),
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
    let timeout = shared.idle_timeout;
    let (reader, mut writer) = smol::io::split(stream);
    // 16 KiB: a DATA body passes through it in pieces of that size; the body reader finds the
    // end across pieces, so their size does not matter to what the message is.
    let mut reader = BufReader::with_capacity(16 * 1024, reader);
    let mut session = Session::new(shared.settings.clone());
    let mut out = Vec::new();
    session.greeting(&mut out);
    loop {
        // Shutdown is seen between commands even when pipelined ones are waiting: what was
        // answered is sent, the rest gets 421 (RFC 5321 §3.8).
        if shared.shutdown.is_closed() {
            session.shutting_down(&mut out);
            return send(&mut writer, &out, timeout).await;
        }
        // Pipelining (RFC 2920): replies are sent when the client's input runs dry.
        if reader.buffer().is_empty() && !out.is_empty() {
            send(&mut writer, &out, timeout).await?;
            out.clear();
        }
        let (line, too_long) =
            match guarded(read_line(&mut reader, MAX_COMMAND_LINE), timeout, Some(&shared.shutdown)).await {
                Event::Done(r) => match r? {
                    Some(l) => l,
                    None => return Ok(()),
                },
                Event::TimedOut => {
                    log::info!("LMTP: closed after {}s of silence", timeout.as_secs());
                    session.timed_out(&mut out);
                    return send(&mut writer, &out, timeout).await;
                }
                Event::Shutdown => {
                    session.shutting_down(&mut out);
                    return send(&mut writer, &out, timeout).await;
                }
            };
        match session.line(&line, too_long, &mut out) {
            Next::Line => {}
            Next::CheckRecipient(to) => {
                let who = to.clone();
                let found = shared.reads.read(Lane::Cheap, move |r| r.resolve(&who).map(|_| ())).await;
                session.recipient(to, found, &mut out);
            }
            Next::ReadBody => {
                send(&mut writer, &out, timeout).await?;
                out.clear();
                // The body is read to its end even when the server starts shutting down: the
                // shutdown waits for this connection (a few seconds), so the message is either
                // stored and acknowledged or, cut off, never acknowledged.
                let mut body = session.body();
                loop {
                    let piece = match guarded(reader.fill_buf(), timeout, None).await {
                        Event::Done(r) => r?,
                        _ => {
                            log::info!("LMTP: closed after {}s of silence in DATA", timeout.as_secs());
                            session.timed_out(&mut out);
                            return send(&mut writer, &out, timeout).await;
                        }
                    };
                    if piece.is_empty() {
                        // The client went away mid-DATA: nothing was stored.
                        return Ok(());
                    }
                    let len = piece.len();
                    match body.push(piece) {
                        Some(end) => {
                            // What follows the end is the client's next command.
                            reader.consume(end);
                            break;
                        }
                        None => reader.consume(len),
                    }
                }
                let recipients = session.take_recipients();
                let outcome = deliver(shared, &recipients, body.finish()).await;
                session.delivered(&recipients, outcome, &mut out);
            }
            Next::Close => return send(&mut writer, &out, timeout).await,
        }
    }
}

/// Stores the message once for every distinct mailbox among the recipients; the replies are
/// written after the commit, so a 250 means the message is durable.
async fn deliver(
    shared: &Lmtp,
    recipients: &[String],
    message: Result<Vec<u8>, Failure>,
) -> Result<Vec<Result<Delivered, StoreError>>, Failure> {
    let message = ingest::prepare_async(message?).await.map_err(|e| Failure::NotMail(e.to_string()))?;
    let (raw, data) = (message.raw, message.data);
    shared.store.deliver(recipients.to_vec(), raw, data, ingest::arrival()).await.map_err(|e| {
        log::error!("LMTP delivery: {e}");
        Failure::Store(e)
    })
}
