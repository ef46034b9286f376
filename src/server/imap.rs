//! IMAP connections: listeners for the plain/STARTTLS and implicit-TLS ports, and the loop that
//! moves bytes between a socket and an `imap::Session`. All IO is here; the session only sees
//! framed commands and writes responses into a buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::budget::{Budget, CommandMemory, Shortfall};
use super::counted::{Counted, LinkTally};
use super::limits::{ConnectionLimits, Permit, Refusal};
use super::tls::Tls;
use crate::imap::Context;
use crate::imap::session::{self, Next, Session, State};
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
    /// The memory all connections together may hold in literals (`limits.literal_memory_mb`).
    pub literals: Arc<Budget>,
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
                    let mut bye = Vec::new();
                    session::Code::Unavailable.untagged(&mut bye, "BYE", text);
                    let _ = s.write_all(&bye).await;
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            if let Err(e) = connection(stream, peer, implicit_tls, &shared, permit).await {
                log::debug!("{peer}: {e}");
            }
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

/// A framer with the caps of the session's state, reporting non-synchronising literals so
/// that their memory is accounted for before their data is collected.
fn framer_for(session: &Session) -> Framer {
    let limits = &session.ctx.config.limits;
    let mut framer = Framer::new(limits.max_line_length, limits.max_literal_size);
    let (literal, command) = session.literal_limits();
    framer.set_limits(literal, command);
    framer.report_non_sync_literals();
    framer
}

/// What to do with a literal the client announced.
enum Verdict {
    Accept,
    Refuse(session::Error),
    Shutdown,
}

/// Decides on a literal of `size` bytes for `command`: the state must allow the command (the
/// size is within the framer's caps already), and once logged in its bytes must fit in the
/// memory for literals in transit, waiting for room up to `literal_memory_wait_secs`.
async fn literal_verdict(
    session: &Session,
    shared: &Shared,
    memory: &mut CommandMemory,
    command: &[u8],
    size: u64,
) -> Verdict {
    if let Err(e) = session.accept_literal(command) {
        return Verdict::Refuse(e);
    }
    if session.state == State::NotAuthenticated {
        // Bounded by the pre-login caps: a few KiB per connection.
        return Verdict::Accept;
    }
    let wait = Duration::from_secs(session.ctx.config.limits.literal_memory_wait_secs);
    match guarded(memory.literal(&shared.literals, size), wait, &shared.shutdown).await {
        Event::Done(Ok(())) => Verdict::Accept,
        Event::Done(Err(Shortfall::TooBig)) => Verdict::Refuse(session::Error::No(
            Some(session::Code::TooBig),
            "this command's literals exceed the memory the server has for messages in transit".into(),
        )),
        Event::TimedOut => Verdict::Refuse(session::Error::No(
            Some(session::Code::Unavailable),
            "the server is busy receiving other large messages; try again later".into(),
        )),
        Event::Shutdown => Verdict::Shutdown,
    }
}

/// What ended a wait for the client.
enum Wake {
    Read(std::io::Result<usize>),
    /// NOTIFY: something changed in the account.
    Changed,
    /// A newcomer displaced this connection, which had not logged in yet.
    Evicted,
    /// Its MAPI session asked it to close (REPLACE, revocation, XSESSION END elsewhere).
    Closed(crate::mapi::link::Closing),
    /// A backchannel's next heartbeat is due (docs/mapi-extension.md §6).
    Heartbeat,
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    shared: &Shared,
    mut permit: Permit,
) -> std::io::Result<()> {
    let ctx = &shared.ctx;
    let limits = &ctx.config.limits;
    // The time to log in counts from the connect, whatever the client sends meanwhile (a byte
    // every few seconds must not hold a place forever): TLS handshakes included.
    let login_by = Instant::now() + Duration::from_secs(limits.login_timeout_secs);
    let session = Session::new(shared.ctx.clone(), peer, implicit_tls);
    let link = session.link.clone();
    // Bytes are counted above TLS and below COMPRESS (docs/mapi-extension.md §4.4).
    let mut counting = Arc::new(AtomicBool::new(true));
    let mut io: Stream = if implicit_tls {
        let Some(tls) = &shared.tls else { return Ok(()) };
        match guarded(tls.acceptor().accept(tcp), left(login_by), &shared.shutdown).await {
            Event::Done(Ok(s)) => Box::new(Counted::new(s, LinkTally::new(link.clone(), counting.clone()))),
            Event::Done(Err(e)) => return Err(e),
            _ => return Ok(()),
        }
    } else {
        Box::new(Counted::new(tcp, LinkTally::new(link.clone(), counting.clone())))
    };
    let mut session = session;
    // The protocol trace sees the IMAP text: what the framer hands over and what is written.
    let mut trace = Tracer::new(ctx.traces.clone(), peer);
    let mut framer = framer_for(&session);
    // What the command being framed holds of the memory for literals.
    let mut memory = CommandMemory::default();
    let mut logged_in = false;
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
        let (mut timeout, waiting) =
            if logged_in { (session.timeout(), false) } else { (left(login_by), true) };
        // A pool connection of a session with a backchannel: two heartbeat intervals (§6).
        let pool_silence = session.pool_silence().filter(|d| *d < timeout);
        if let Some(d) = pool_silence {
            timeout = d;
        }
        // With NOTIFY on, changes are pushed while the client is quiet (RFC 5465 §4); so are a
        // backchannel's events (docs/mapi-extension.md §5.3), and its heartbeats at their time.
        let notify =
            if session.notify_active() || session.is_backchannel() { session.subscription() } else { None };
        let heartbeat = session.heartbeat_due();
        let read = async {
            let read = async { Wake::Read(io.read(&mut buf).await) };
            let changed = async {
                match &notify {
                    Some(sub) => {
                        let _ = sub.changed().await;
                        Wake::Changed
                    }
                    None => std::future::pending().await,
                }
            };
            let evicted = async {
                if waiting {
                    permit.evicted().await;
                    Wake::Evicted
                } else {
                    std::future::pending().await
                }
            };
            let closed = async { Wake::Closed(link.closing().await) };
            let beat = async {
                match heartbeat {
                    Some(at) => {
                        async_io::Timer::at(at).await;
                        Wake::Heartbeat
                    }
                    None => std::future::pending().await,
                }
            };
            smol::future::or(
                read,
                smol::future::or(changed, smol::future::or(evicted, smol::future::or(closed, beat))),
            )
            .await
        };
        let n = match guarded(read, timeout, &shared.shutdown).await {
            Event::Done(Wake::Changed) if session.is_backchannel() => {
                session.backchannel_changed();
                if !pump(&mut io, &mut session, &mut out, &mut trace).await? {
                    return Ok(());
                }
                continue;
            }
            Event::Done(Wake::Heartbeat) => {
                // Changes a failed step left behind go first: SENT then covers them (§5.4).
                if !pump(&mut io, &mut session, &mut out, &mut trace).await?
                    || !beat(&mut io, &mut session, &mut out, &mut trace).await?
                {
                    return Ok(());
                }
                continue;
            }
            Event::Done(Wake::Changed) => {
                session.notify_update(&mut out).await;
                if !out.is_empty() {
                    trace.pushed(&out);
                    io.write_all(&out).await?;
                    io.flush().await?;
                }
                continue;
            }
            Event::Done(Wake::Evicted) => {
                log::info!("{peer}: closed, displaced by a newer connection (too many waiting to log in)");
                trace.pushed(&displaced());
                let _ = io.write_all(&displaced()).await;
                let _ = io.flush().await;
                return Ok(());
            }
            Event::Done(Wake::Closed(why)) => return say_closed(&mut io, &mut trace, peer, &why).await,
            Event::Done(Wake::Read(r)) => r?,
            Event::TimedOut if waiting => {
                log::info!("{peer}: closed, not logged in within {}s", limits.login_timeout_secs);
                trace.pushed(LOGIN_TIMEOUT);
                let _ = io.write_all(LOGIN_TIMEOUT).await;
                return Ok(());
            }
            Event::TimedOut if pool_silence.is_some() => {
                log::info!("{peer}: pool connection closed after {}s of silence", timeout.as_secs());
                let bye = crate::mapi::link::Closing {
                    code: session::Code::XNoAck,
                    text: "silent for two heartbeat intervals".into(),
                }
                .bye();
                trace.pushed(&bye);
                let _ = io.write_all(&bye).await;
                let _ = io.flush().await;
                return Ok(());
            }
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
                    let run = session.command(bytes, &mut out, sink);
                    let drain = async {
                        let mut result = Ok(());
                        while let Ok(piece) = pieces.recv().await {
                            if result.is_ok() {
                                trace.server(&piece);
                                // Flushed, the COMPRESS stream included: a streamed piece (an
                                // XSYNC batch, a part of a long FETCH) reaches the client whole,
                                // not when the command ends (docs/mapi-extension.md §7.3).
                                result = match io.write_all(&piece).await {
                                    Ok(()) => io.flush().await,
                                    e => e,
                                };
                            }
                        }
                        result
                    };
                    let (next, written) = smol::future::zip(run, drain).await;
                    // The command is done and its bytes are gone: so is what its literals held.
                    memory.release();
                    written?;
                    if trace.before_login()
                        && let Some(account) = &session.account
                    {
                        trace.logged_in(&account.name);
                    }
                    if !logged_in && session.state != State::NotAuthenticated {
                        if !permit.authenticated() {
                            // Displaced while its login ran: its place is someone else's now.
                            trace.server(&out);
                            io.write_all(&out).await?;
                            trace.pushed(&displaced());
                            let _ = io.write_all(&displaced()).await;
                            let _ = io.flush().await;
                            return Ok(());
                        }
                        logged_in = true;
                        let (literal, command) = session.literal_limits();
                        framer.set_limits(literal, command);
                    }
                    next
                }
                Frame::ContinuationNeeded { tag, command, size } => {
                    match literal_verdict(&session, shared, &mut memory, &command, size).await {
                        Verdict::Accept => out.extend_from_slice(b"+ ready for literal data\r\n"),
                        Verdict::Refuse(e) => {
                            // RFC 9051 §7.5: no continuation, so the client sends no more of it.
                            framer.refuse_literal();
                            memory.release();
                            trace.event(format_args!("literal of {size} bytes refused"));
                            session.literal_refused(&tag, e, &mut out);
                        }
                        Verdict::Shutdown => return say_shutdown(&mut io, &mut trace, &out).await,
                    }
                    Next::Continue
                }
                Frame::LiteralFollows { tag, command, size } => {
                    match literal_verdict(&session, shared, &mut memory, &command, size).await {
                        Verdict::Accept => {}
                        Verdict::Refuse(e) => {
                            // RFC 7888 §4: the data comes anyway; the framer drops it as it
                            // arrives, with the rest of the command, and the answer goes now.
                            framer.refuse_literal();
                            memory.release();
                            trace.event(format_args!("non-synchronising literal of {size} bytes refused"));
                            session.literal_refused(&tag, e, &mut out);
                        }
                        Verdict::Shutdown => return say_shutdown(&mut io, &mut trace, &out).await,
                    }
                    Next::Continue
                }
                Frame::Rejected { tag, reason } => {
                    memory.release();
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
                    framer = framer_for(&session);
                    memory.release();
                    let Some(tls) = &shared.tls else { return Ok(()) };
                    // The plaintext stream's count stops; the TLS stream above it counts now.
                    counting.store(false, Ordering::Relaxed);
                    counting = Arc::new(AtomicBool::new(true));
                    io = match guarded(tls.acceptor().accept(io), left(login_by), &shared.shutdown).await {
                        Event::Done(Ok(s)) => {
                            Box::new(Counted::new(s, LinkTally::new(link.clone(), counting.clone())))
                        }
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
                    memory.release();
                    io = Box::new(crate::compress::Deflate::new(io, pending));
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
        // A new backchannel's replay follows its tagged OK (docs/mapi-extension.md §5.1).
        if session.backchannel_pending() && !pump(&mut io, &mut session, &mut out, &mut trace).await? {
            return Ok(());
        }
    }
}

/// A backchannel's event stream until it has caught up with the log: each step (at most
/// `mapi.backchannel_batch` changes) is written and flushed, the COMPRESS stream included,
/// before the next is read, so the connection holds one batch at most; a heartbeat that falls
/// due meanwhile goes between two steps (§6: behind at most one batch). Returns false when the
/// connection must close.
async fn pump(
    io: &mut Stream,
    session: &mut Session,
    out: &mut Vec<u8>,
    trace: &mut Tracer,
) -> std::io::Result<bool> {
    while session.backchannel_pending() {
        out.clear();
        let more = session.backchannel_step(out).await;
        if !out.is_empty() {
            trace.pushed(out);
            push(io, out, session.backchannel_write_limit()).await?;
        }
        if session.heartbeat_due().is_some_and(|t| t <= Instant::now())
            && !beat(io, session, out, trace).await?
        {
            return Ok(false);
        }
        if !more {
            break;
        }
    }
    out.clear();
    Ok(true)
}

/// A backchannel's heartbeat is due: sent and flushed, or, when the previous one went
/// unanswered, `* BYE [XNOACK]` (best effort) and false: the connection closes (§6).
async fn beat(
    io: &mut Stream,
    session: &mut Session,
    out: &mut Vec<u8>,
    trace: &mut Tracer,
) -> std::io::Result<bool> {
    out.clear();
    let within = session.backchannel_write_limit();
    match session.heartbeat(out).await {
        Ok(()) => {
            trace.pushed(out);
            push(io, out, within).await?;
            out.clear();
            Ok(true)
        }
        Err(why) => {
            log::info!("{}: backchannel closed: {}", session.peer, why.text);
            let bye = why.bye();
            trace.pushed(&bye);
            let _ = push(io, &bye, within).await;
            Ok(false)
        }
    }
}

/// Writes and flushes `bytes` on a backchannel within `within` (its heartbeat interval): a
/// client that does not take what it is sent (a link stalled under a stream of events, a peer
/// that stopped reading) is not waited for past §6's two intervals; the error closes the
/// connection, whatever was queued for it.
async fn push(io: &mut Stream, bytes: &[u8], within: Duration) -> std::io::Result<()> {
    let write = async {
        io.write_all(bytes).await?;
        io.flush().await
    };
    let expired = async {
        async_io::Timer::after(within).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the backchannel's client took nothing for a heartbeat interval",
        ))
    };
    smol::future::or(write, expired).await
}

/// Time left until `deadline` (zero once it has passed).
fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Another part of the server closed the connection (its MAPI session): `* BYE [code] text`.
async fn say_closed(
    io: &mut Stream,
    trace: &mut Tracer,
    peer: SocketAddr,
    why: &crate::mapi::link::Closing,
) -> std::io::Result<()> {
    log::info!("{peer}: closed by its MAPI session: {}", why.text);
    let bye = why.bye();
    trace.pushed(&bye);
    let _ = io.write_all(&bye).await;
    let _ = io.flush().await;
    Ok(())
}

/// The server stops while a command waits: what is answered so far, then BYE.
async fn say_shutdown(io: &mut Stream, trace: &mut Tracer, out: &[u8]) -> std::io::Result<()> {
    trace.server(out);
    let _ = io.write_all(out).await;
    trace.pushed(SHUTDOWN);
    let _ = io.write_all(SHUTDOWN).await;
    let _ = io.flush().await;
    Ok(())
}

const AUTOLOGOUT: &[u8] = b"* BYE autologout; idle for too long\r\n";
const LOGIN_TIMEOUT: &[u8] = b"* BYE autologout; not logged in in time\r\n";
/// The BYE of a connection displaced by a newcomer (see `ConnectionLimits`).
fn displaced() -> Vec<u8> {
    let mut bye = Vec::new();
    session::Code::Unavailable.untagged(&mut bye, "BYE", "too many connections waiting to log in");
    bye
}
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
            Closed(crate::mapi::link::Closing),
        }
        let link = session.link.clone();
        let wake = guarded(
            smol::future::or(
                async { Wake::Read(io.read(buf).await) },
                smol::future::or(
                    async {
                        let _ = sub.changed().await;
                        Wake::Changed
                    },
                    async { Wake::Closed(link.closing().await) },
                ),
            ),
            timeout,
            &shared.shutdown,
        )
        .await;
        out.clear();
        match wake {
            Event::Done(Wake::Changed) => session.idle_update(out).await,
            Event::Done(Wake::Closed(why)) => {
                say_closed(io, trace, session.peer, &why).await?;
                return Ok(false);
            }
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
