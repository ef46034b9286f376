//! IMAP connections: listeners for the plain/STARTTLS and implicit-TLS ports, and the loop that
//! moves bytes between a socket and an `imap::Session`. All IO is here; the session only sees
//! framed commands and writes responses into a buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::limits::{ConnectionLimits, Refusal};
use super::tls::Tls;
use crate::imap::Context;
use crate::imap::session::{Next, Session};
use crate::imap::trace::Tracer;
use crate::proto::framing::{Frame, Framer};

/// A byte stream: TCP, TLS over TCP, and later a COMPRESS layer over either.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type Stream = Box<dyn Duplex>;

/// What every connection task shares.
pub struct Shared {
    pub ctx: Arc<Context>,
    /// `None` when no certificate is configured (then no STARTTLS and no implicit TLS).
    pub tls: Option<Arc<Tls>>,
    pub limits: Arc<ConnectionLimits>,
    /// Closed when the server shuts down: every session says BYE and ends.
    pub shutdown: smol::channel::Receiver<()>,
}

/// Accepts connections on one listener until shutdown.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    implicit_tls: bool,
    ex: Arc<smol::Executor<'static>>,
) {
    loop {
        let accepted = smol::future::or(async { Some(listener.accept().await) }, async {
            let _ = shared.shutdown.recv().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                log::warn!("accept: {e}");
                // Out of descriptors and the like: do not spin.
                async_io::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        ex.spawn(async move {
            let permit = match shared.limits.admit(peer.ip()) {
                Ok(p) => p,
                Err(why) => {
                    let text = match why {
                        Refusal::Total => "too many connections to this server",
                        Refusal::PerAddress => "too many connections from your address",
                    };
                    log::warn!("{peer}: refused, {text}");
                    let mut s = stream;
                    let _ = s.write_all(format!("* BYE [UNAVAILABLE] {text}\r\n").as_bytes()).await;
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            if let Err(e) = connection(stream, peer, implicit_tls, &shared).await {
                log::debug!("{peer}: {e}");
            }
            drop(permit);
        })
        .detach();
    }
}

/// Races a future against a timeout and the server's shutdown.
enum Event<T> {
    Done(T),
    TimedOut,
    Shutdown,
}

async fn guarded<T>(
    f: impl std::future::Future<Output = T>,
    timeout: Duration,
    shutdown: &smol::channel::Receiver<()>,
) -> Event<T> {
    smol::future::or(
        async { Event::Done(f.await) },
        smol::future::or(
            async {
                async_io::Timer::after(timeout).await;
                Event::TimedOut
            },
            async {
                let _ = shutdown.recv().await;
                Event::Shutdown
            },
        ),
    )
    .await
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    shared: &Shared,
) -> std::io::Result<()> {
    let ctx = &shared.ctx;
    let handshake = Duration::from_secs(ctx.config.limits.login_timeout_secs);
    let mut io: Stream = if implicit_tls {
        let Some(tls) = &shared.tls else { return Ok(()) };
        match guarded(tls.acceptor().accept(tcp), handshake, &shared.shutdown).await {
            Event::Done(Ok(s)) => Box::new(s),
            Event::Done(Err(e)) => return Err(e),
            _ => return Ok(()),
        }
    } else {
        Box::new(tcp)
    };
    let mut session = Session::new(shared.ctx.clone(), peer, implicit_tls);
    // The protocol trace sees the IMAP text: what the framer hands over and what is written.
    let mut trace = Tracer::new(ctx.traces.clone(), peer);
    let limits = &ctx.config.limits;
    let mut framer = Framer::new(limits.max_line_length, limits.max_literal_size);
    let mut out = Vec::with_capacity(4096);
    session.greeting(&mut out);
    trace.pushed(&out);
    io.write_all(&out).await?;
    io.flush().await?;
    // 8 KiB per connection: a thousand idle clients cost 8 MB of read buffers.
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        out.clear();
        if out.capacity() > 64 * 1024 {
            // A large response grew the buffer; an idle connection should not keep it.
            out = Vec::with_capacity(4096);
        }
        let timeout = session.timeout();
        // With NOTIFY on, changes are pushed while the client is quiet (RFC 5465 §4).
        let notify = if session.notify_active() { session.subscription() } else { None };
        let read = async {
            match &notify {
                Some(sub) => {
                    smol::future::or(async { Some(io.read(&mut buf).await) }, async {
                        let _ = sub.changed().await;
                        None
                    })
                    .await
                }
                None => Some(io.read(&mut buf).await),
            }
        };
        let n = match guarded(read, timeout, &shared.shutdown).await {
            Event::Done(None) => {
                session.notify_update(&mut out).await;
                if !out.is_empty() {
                    trace.pushed(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                }
                continue;
            }
            Event::Done(Some(r)) => r?,
            Event::TimedOut => {
                log::info!("{peer}: closed after {}s of silence", timeout.as_secs());
                trace.pushed(AUTOLOGOUT);
                let _ = io.write_all(AUTOLOGOUT).await;
                return Ok(());
            }
            Event::Shutdown => {
                trace.pushed(SHUTDOWN);
                let _ = io.write_all(SHUTDOWN).await;
                let _ = io.flush().await;
                return Ok(());
            }
        };
        if n == 0 {
            return Ok(());
        }
        framer.push(&buf[..n]);
        while let Some(frame) = framer.next() {
            let next = match frame {
                Frame::Command(bytes) => {
                    trace.client(&bytes, out.len());
                    // Large responses (a FETCH of thousands of envelopes) stream out in pieces
                    // while the command runs, so a connection's memory stays bounded.
                    let (sink, pieces) = smol::channel::bounded::<Vec<u8>>(2);
                    let run = session.command(&bytes, &mut out, sink);
                    let drain = async {
                        let mut result = Ok(());
                        while let Ok(piece) = pieces.recv().await {
                            if result.is_ok() {
                                trace.server(&piece);
                                result = io.write_all(&piece).await;
                            }
                        }
                        result
                    };
                    let (next, written) = smol::future::zip(run, drain).await;
                    written?;
                    if trace.before_login()
                        && let Some(account) = &session.account
                    {
                        trace.logged_in(&account.name);
                    }
                    next
                }
                Frame::ContinuationNeeded { tag, size } => {
                    if session.accept_literal(size) {
                        out.extend_from_slice(b"+ ready for literal data\r\n");
                    } else {
                        framer.refuse_literal();
                        let tag = String::from_utf8_lossy(&tag).into_owned();
                        out.extend_from_slice(format!("{tag} NO [TOOBIG] literal too large\r\n").as_bytes());
                    }
                    Next::Continue
                }
                Frame::Rejected { tag, reason } => {
                    trace.event(format_args!("client command refused by the framer: {reason:?}"));
                    session.rejected(tag.as_deref(), &reason, &mut out)
                }
            };
            match next {
                Next::Continue => {}
                Next::RawLine => {
                    framer.expect_raw_line();
                    trace.sasl_response_next();
                }
                Next::Logout => {
                    trace.server(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                    return Ok(());
                }
                Next::StartTls => {
                    trace.server(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                    out.clear();
                    // RFC 9051 §6.2.1: anything the client sent after STARTTLS in plaintext is discarded.
                    framer = Framer::new(limits.max_line_length, limits.max_literal_size);
                    let Some(tls) = &shared.tls else { return Ok(()) };
                    io = match guarded(tls.acceptor().accept(io), handshake, &shared.shutdown).await {
                        Event::Done(Ok(s)) => Box::new(s),
                        Event::Done(Err(e)) => return Err(e),
                        _ => return Ok(()),
                    };
                    session.tls_started();
                    trace.event(format_args!("TLS started"));
                    break;
                }
                Next::Compress => {
                    trace.server(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                    out.clear();
                    // What the client sent after the command is already compressed.
                    let pending = framer.take_unframed();
                    io = Box::new(super::compress::Deflate::new(io, pending));
                    trace.event(format_args!("COMPRESS=DEFLATE started"));
                    break;
                }
                Next::Idle => {
                    framer.expect_raw_line();
                    trace.server(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                    out.clear();
                    if !idle(&mut io, &mut session, &mut framer, &mut buf, &mut out, &mut trace, shared)
                        .await?
                    {
                        return Ok(());
                    }
                    // `idle` wrote its tagged response already.
                    out.clear();
                }
            }
            if trace.recording() && !out.is_empty() {
                // Traced: each command's response goes out before the next command is taken,
                // so the trace shows them in order and times each one.
                trace.server(&out);
                io.write_all(&out).await?;
                io.flush().await?;
                out.clear();
            }
        }
        if !out.is_empty() {
            trace.server(&out);
            io.write_all(&out).await?;
            io.flush().await?;
        }
    }
}

const AUTOLOGOUT: &[u8] = b"* BYE autologout; idle for too long\r\n";
const SHUTDOWN: &[u8] = b"* BYE server shutting down\r\n";

/// IDLE (RFC 2177, RFC 9051 §6.3.13): push changes as the store reports them until `DONE`.
/// Returns false when the connection should end.
async fn idle(
    io: &mut Stream,
    session: &mut Session,
    framer: &mut Framer,
    buf: &mut [u8],
    out: &mut Vec<u8>,
    trace: &mut Tracer,
    shared: &Shared,
) -> std::io::Result<bool> {
    let Some(sub) = session.subscription() else { return Ok(true) };
    let timeout = session.timeout();
    trace.raw_line_next();
    loop {
        enum Wake {
            Read(std::io::Result<usize>),
            Changed,
        }
        let wake = guarded(
            smol::future::or(async { Wake::Read(io.read(buf).await) }, async {
                let _ = sub.changed().await;
                Wake::Changed
            }),
            timeout,
            &shared.shutdown,
        )
        .await;
        out.clear();
        match wake {
            Event::Done(Wake::Changed) => session.idle_update(out).await,
            Event::Done(Wake::Read(r)) => {
                let n = r?;
                if n == 0 {
                    return Ok(false);
                }
                framer.push(&buf[..n]);
                let mut done = false;
                for frame in framer.by_ref() {
                    if let Frame::Command(line) = frame {
                        trace.client(&line, 0);
                        session.idle_end(&line, out);
                        done = true;
                        break;
                    }
                }
                if done {
                    trace.server(out);
                    io.write_all(out).await?;
                    io.flush().await?;
                    return Ok(true);
                }
            }
            Event::TimedOut => {
                trace.pushed(AUTOLOGOUT);
                let _ = io.write_all(AUTOLOGOUT).await;
                return Ok(false);
            }
            Event::Shutdown => {
                trace.pushed(SHUTDOWN);
                let _ = io.write_all(SHUTDOWN).await;
                let _ = io.flush().await;
                return Ok(false);
            }
        }
        if !out.is_empty() {
            trace.pushed(out);
            io.write_all(out).await?;
            io.flush().await?;
        }
    }
}
