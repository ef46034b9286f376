//! The async connection: TCP, then implicit TLS or STARTTLS (RFC 9051 §6.2.1), optionally
//! COMPRESS=DEFLATE (RFC 4978), and tagged commands whose responses are framed and parsed by
//! [`super::response`]. Every read and the connect are bounded by a timeout.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_rustls::TlsConnector;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;

#[cfg(test)]
use super::Value;
use super::response::{self, Code, Cond, Framed, Response, Untagged};
use super::tls::{TlsOptions, client_config, server_name};
use super::url::{Security, ServerUrl};
use super::{ClientError, quote};
use crate::counted::{Counted, Tally};

/// A byte stream: TCP, TLS over TCP, a DEFLATE layer over either.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type Stream = Box<dyn Duplex>;

/// How long the steps of opening a connection took (for `probe`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub tcp_connect: Duration,
    /// The TLS handshake; with STARTTLS, the STARTTLS command and the handshake.
    pub tls_handshake: Option<Duration>,
    /// From the end of the TCP connect (or of implicit TLS) to the greeting.
    pub greeting: Duration,
}

/// The untagged responses to one command and its tagged completion.
#[derive(Debug)]
pub struct Reply {
    pub untagged: Vec<Untagged>,
    pub status: Cond,
    pub code: Option<Code>,
    pub text: String,
}

/// Counts the bytes read from the socket, under TLS and COMPRESS: what crossed the wire.
struct WireRead(Arc<AtomicU64>);

impl Tally for WireRead {
    fn received(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Runs `f`, failing with [`ClientError::Timeout`] after `d`.
async fn timed<T, E: Into<ClientError>>(
    d: Duration,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, ClientError> {
    smol::future::or(async { f.await.map_err(Into::into) }, async {
        async_io::Timer::after(d).await;
        Err(ClientError::Timeout)
    })
    .await
}

/// One connection to an IMAP server.
pub struct Connection {
    io: Stream,
    /// Bytes read and not yet consumed as a response.
    buf: Vec<u8>,
    /// [`response::frame`] said it needs at least this many bytes in `buf`.
    need: usize,
    next_tag: u32,
    /// The server's capabilities, as last announced (upper-cased).
    capabilities: Vec<String>,
    wire_read: Arc<AtomicU64>,
    /// The longest wait for any read.
    pub timeout: Duration,
    /// The tag of the IDLE in progress.
    idle_tag: Option<String>,
}

impl Connection {
    /// Connects, secures the connection as the URL says and reads the greeting and the
    /// capabilities. `plain` allows an `imap://` URL without STARTTLS, on loopback only.
    pub async fn open(
        url: &ServerUrl,
        tls: &TlsOptions,
        plain: bool,
        timeout: Duration,
    ) -> Result<(Connection, Timings), ClientError> {
        if plain && (url.security != Security::StartTls || !url.is_loopback()) {
            return Err(ClientError::Usage(
                "--plain is only for imap:// URLs to a loopback address: passwords must not cross a network in clear"
                    .into(),
            ));
        }
        let config = client_config(tls)?;
        let name = server_name(&url.host)?;
        let mut timings = Timings::default();
        let t0 = Instant::now();
        let tcp = timed(timeout, TcpStream::connect((url.host.as_str(), url.port))).await?;
        timings.tcp_connect = t0.elapsed();
        let _ = tcp.set_nodelay(true);
        let wire_read = Arc::new(AtomicU64::new(0));
        let mut io: Stream = Box::new(Counted::new(tcp, WireRead(wire_read.clone())));
        if url.security == Security::Tls {
            let t = Instant::now();
            let connector = TlsConnector::from(config.clone());
            let s = timed(timeout, async { connector.connect(name.clone(), io).await.map_err(tls_error) })
                .await?;
            timings.tls_handshake = Some(t.elapsed());
            io = Box::new(s);
        }
        let mut c = Connection {
            io,
            buf: Vec::with_capacity(64 * 1024),
            need: 0,
            next_tag: 1,
            capabilities: Vec::new(),
            wire_read,
            timeout,
            idle_tag: None,
        };
        let t = Instant::now();
        // greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF (RFC 9051 §7.1.5)
        match c.read_response().await? {
            Response::Untagged(Untagged::Cond { status: Cond::Ok | Cond::PreAuth, code, .. }) => {
                c.note_code(code.as_ref());
            }
            Response::Untagged(Untagged::Cond { status: Cond::Bye, text, .. }) => {
                return Err(ClientError::Closed(text));
            }
            other => return Err(ClientError::Protocol(format!("unexpected greeting {other:?}"))),
        }
        timings.greeting = t.elapsed();
        if c.capabilities.is_empty() {
            c.ok("CAPABILITY").await?;
        }
        if url.security == Security::StartTls && !plain {
            if !c.has("STARTTLS") {
                return Err(ClientError::Tls(
                    "the server does not offer STARTTLS: use imaps:// (or --plain on loopback)".into(),
                ));
            }
            let t = Instant::now();
            c.ok("STARTTLS").await?;
            // RFC 9051 §6.2.1: nothing may follow the OK in plaintext; anything that did was
            // injected by someone on the path.
            if !c.buf.is_empty() {
                return Err(ClientError::Protocol("bytes after the STARTTLS response".into()));
            }
            let plain_io = c.take_io();
            let connector = TlsConnector::from(config);
            let s =
                timed(timeout, async { connector.connect(name, plain_io).await.map_err(tls_error) }).await?;
            c.io = Box::new(s);
            timings.tls_handshake = Some(t.elapsed());
            // The capabilities before TLS must be forgotten (RFC 9051 §6.2.1).
            c.capabilities.clear();
            c.ok("CAPABILITY").await?;
        }
        Ok((c, timings))
    }

    fn take_io(&mut self) -> Stream {
        std::mem::replace(&mut self.io, Box::new(smol::io::Cursor::new(Vec::new())))
    }

    /// The server offers this capability (case-insensitive).
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.eq_ignore_ascii_case(capability))
    }

    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Bytes read from the socket so far (compressed and encrypted as they came).
    pub fn wire_bytes_read(&self) -> u64 {
        self.wire_read.load(Ordering::Relaxed)
    }

    fn note_code(&mut self, code: Option<&Code>) {
        if let Some(code) = code.filter(|c| c.name == "CAPABILITY") {
            self.capabilities = code
                .args
                .iter()
                .filter_map(|v| v.as_bytes())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect();
        }
    }

    /// The next whole response from the server.
    pub async fn read_response(&mut self) -> Result<Response, ClientError> {
        loop {
            if self.buf.len() >= self.need {
                match response::frame(&self.buf)? {
                    Framed::Complete(n) => {
                        let r = response::parse(&self.buf[..n]);
                        self.buf.drain(..n);
                        self.need = 0;
                        return Ok(r?);
                    }
                    Framed::Incomplete { at_least } => self.need = at_least,
                }
            }
            let start = self.buf.len();
            let chunk = self.need.saturating_sub(start).clamp(64 * 1024, 4 << 20);
            self.buf.resize(start + chunk, 0);
            let read = timed(self.timeout, self.io.read(&mut self.buf[start..])).await;
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e);
                }
            };
            self.buf.truncate(start + n);
            if n == 0 {
                return Err(ClientError::Closed("the server closed the connection".into()));
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        timed(self.timeout, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
    }

    fn tag(&mut self) -> String {
        let t = format!("A{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Reads responses until the tagged one for `tag`.
    async fn collect(&mut self, tag: &str) -> Result<Reply, ClientError> {
        let mut untagged = Vec::new();
        let mut bye = None;
        loop {
            let r = match self.read_response().await {
                Err(ClientError::Closed(e)) => return Err(ClientError::Closed(bye.unwrap_or(e))),
                r => r?,
            };
            match r {
                Response::Tagged { tag: t, status, code, text } if t == tag => {
                    self.note_code(code.as_ref());
                    return Ok(Reply { untagged, status, code, text });
                }
                Response::Tagged { tag: t, .. } => {
                    return Err(ClientError::Protocol(format!(
                        "response for unknown tag {t} (waiting for {tag})"
                    )));
                }
                Response::Continue(_) => {
                    return Err(ClientError::Protocol("unexpected continuation request".into()));
                }
                Response::Untagged(u) => {
                    match &u {
                        Untagged::Capability(caps) => self.capabilities.clone_from(caps),
                        Untagged::Cond { status: Cond::Bye, text, .. } => bye = Some(text.clone()),
                        Untagged::Cond { code, .. } => self.note_code(code.as_ref()),
                        _ => {}
                    }
                    untagged.push(u);
                }
            }
        }
    }

    /// Sends one command (without tag and CRLF) and returns its responses, whatever the status.
    pub async fn command(&mut self, command: &str) -> Result<Reply, ClientError> {
        let tag = self.send(command).await?;
        self.collect(&tag).await
    }

    /// Sends a command without waiting for its answer (pipelining); returns its tag for
    /// [`Connection::finish`]. Answers must be collected in the order the commands went out.
    pub async fn send(&mut self, command: &str) -> Result<String, ClientError> {
        let tag = self.tag();
        self.write(format!("{tag} {command}\r\n").as_bytes()).await?;
        Ok(tag)
    }

    /// The answer to a command sent with [`Connection::send`], NO and BAD as errors named `verb`.
    pub async fn finish(&mut self, tag: &str, verb: &str) -> Result<Reply, ClientError> {
        let reply = self.collect(tag).await?;
        check(verb, reply)
    }

    /// [`Connection::command`], with NO and BAD as errors.
    pub async fn ok(&mut self, command: &str) -> Result<Reply, ClientError> {
        let reply = self.command(command).await?;
        check(command, reply)
    }

    /// LOGIN (RFC 9051 §6.2.3), then the capabilities of the authenticated state.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        if self.has("LOGINDISABLED") {
            return Err(ClientError::Usage(
                "the server refuses LOGIN on this connection (LOGINDISABLED)".into(),
            ));
        }
        let (Some(u), Some(p)) = (quote(user), quote(password)) else {
            return Err(ClientError::Usage("login and password must not contain CR, LF or NUL".into()));
        };
        self.capabilities.clear();
        let reply = self.command(&format!("LOGIN {u} {p}")).await?;
        let reply = check("LOGIN", reply)?;
        drop(reply);
        if self.capabilities.is_empty() {
            self.ok("CAPABILITY").await?;
        }
        Ok(())
    }

    /// APPEND (RFC 9051 §6.3.12) of one message, with a non-synchronizing literal when the
    /// server allows it (LITERAL+, or LITERAL- up to 4096 bytes: RFC 7888 §4), else waiting for
    /// the continuation request.
    pub async fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        date: Option<&str>,
        message: &[u8],
    ) -> Result<Reply, ClientError> {
        let Some(mbox) = quote(mailbox) else { return Err(ClientError::Usage("bad mailbox name".into())) };
        let tag = self.tag();
        let date = date.map(|d| format!(" \"{d}\"")).unwrap_or_default();
        let sync = !(self.has("LITERAL+") || (self.has("LITERAL-") && message.len() <= 4096));
        let head = format!(
            "{tag} APPEND {mbox} ({flags}){date} {{{}{}}}\r\n",
            message.len(),
            if sync { "" } else { "+" }
        );
        self.write(head.as_bytes()).await?;
        if sync {
            match self.read_response().await? {
                Response::Continue(_) => {}
                Response::Tagged { status, text, .. } => {
                    return Err(ClientError::Refused { command: "APPEND".into(), status, text });
                }
                other => {
                    return Err(ClientError::Protocol(format!("expected + for the literal, got {other:?}")));
                }
            }
        }
        let mut body = Vec::with_capacity(message.len() + 2);
        body.extend_from_slice(message);
        body.extend_from_slice(b"\r\n");
        self.write(&body).await?;
        let reply = self.collect(&tag).await?;
        check("APPEND", reply)
    }

    /// COMPRESS DEFLATE (RFC 4978 §3): from the OK on, both directions are deflated.
    pub async fn compress(&mut self) -> Result<(), ClientError> {
        self.ok("COMPRESS DEFLATE").await?;
        // Whatever the server sent after its OK is already compressed.
        let pending = std::mem::take(&mut self.buf);
        self.need = 0;
        let io = self.take_io();
        self.io = Box::new(crate::compress::Deflate::new(io, pending));
        Ok(())
    }

    /// Starts IDLE (RFC 2177, RFC 9051 §6.3.13); returns the untagged responses that came before
    /// the continuation request.
    pub async fn idle(&mut self) -> Result<Vec<Untagged>, ClientError> {
        let tag = self.tag();
        self.write(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let mut before = Vec::new();
        loop {
            match self.read_response().await? {
                Response::Continue(_) => break,
                Response::Untagged(u) => before.push(u),
                Response::Tagged { status, text, .. } => {
                    return Err(ClientError::Refused { command: "IDLE".into(), status, text });
                }
            }
        }
        self.idle_tag = Some(tag);
        Ok(before)
    }

    /// Ends IDLE with DONE and reads the tagged completion.
    pub async fn idle_done(&mut self) -> Result<Reply, ClientError> {
        let Some(tag) = self.idle_tag.take() else {
            return Err(ClientError::Protocol("DONE without IDLE".into()));
        };
        self.write(b"DONE\r\n").await?;
        let reply = self.collect(&tag).await?;
        check("IDLE", reply)
    }

    /// Ends the session politely; errors are ignored (the server may already be gone).
    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }
}

fn tls_error(e: std::io::Error) -> ClientError {
    ClientError::Tls(e.to_string())
}

/// NO and BAD as [`ClientError::Refused`], named by the command's verb (never its arguments,
/// which may hold a password).
fn check(command: &str, reply: Reply) -> Result<Reply, ClientError> {
    if reply.status == Cond::Ok {
        return Ok(reply);
    }
    let mut words = command.split(' ');
    let first = words.next().unwrap_or_default();
    let verb = if first.eq_ignore_ascii_case("UID") {
        format!("{first} {}", words.next().unwrap_or_default())
    } else {
        first.to_string()
    };
    Err(ClientError::Refused { command: verb, status: reply.status, text: reply.text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A server on loopback playing a script: `S: ` lines are sent (CRLF added), `C: ` lines
    /// must arrive in order. Returns the port and the thread, which fails on a mismatch.
    fn fake_server(script: &'static str) -> (u16, std::thread::JoinHandle<Result<(), String>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
            let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
            let mut w = s;
            for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if let Some(text) = line.strip_prefix("S: ") {
                    w.write_all(format!("{text}\r\n").as_bytes()).map_err(|e| e.to_string())?;
                } else if let Some(expected) = line.strip_prefix("C: ") {
                    let mut got = String::new();
                    r.read_line(&mut got).map_err(|e| format!("waiting for {expected:?}: {e}"))?;
                    if got.trim_end_matches(['\r', '\n']) != expected {
                        return Err(format!("expected {expected:?}, got {got:?}"));
                    }
                }
            }
            Ok(())
        });
        (port, h)
    }

    fn url(port: u16, scheme: &str) -> ServerUrl {
        ServerUrl::parse(&format!("{scheme}://u@127.0.0.1:{port}")).expect("url")
    }

    #[test]
    fn plain_session_with_synchronizing_literal_and_bye() {
        let (port, server) = fake_server(
            "S: * OK hi
             C: A1 CAPABILITY
             S: * CAPABILITY IMAP4rev1 AUTH=PLAIN
             S: A1 OK done
             C: A2 LOGIN \"u\" \"p\\\"w\"
             S: A2 OK [CAPABILITY IMAP4rev1 IDLE] welcome
             C: A3 APPEND \"INBOX\" (\\Seen) \"01-Jan-2020 00:00:00 +0000\" {5}
             S: + go ahead
             C: hello
             S: A3 OK [APPENDUID 7 9] done
             C: A4 FETCH 1 (BODY[])
             S: * 1 FETCH (BODY[] {7}
             S: hello
             S: )
             S: A4 OK done
             C: A5 NOOP
             S: * BYE going away",
        );
        smol::block_on(async {
            let (mut c, t) =
                Connection::open(&url(port, "imap"), &TlsOptions::default(), true, Duration::from_secs(5))
                    .await
                    .expect("open");
            assert!(t.tls_handshake.is_none());
            assert!(c.has("auth=plain") && !c.has("IDLE"));
            c.login("u", "p\"w").await.expect("login");
            assert!(c.has("IDLE") && !c.has("AUTH=PLAIN"), "capabilities after login");
            let r = c
                .append("INBOX", "\\Seen", Some("01-Jan-2020 00:00:00 +0000"), b"hello")
                .await
                .expect("append");
            assert_eq!(r.code.map(|c| c.args), Some(vec![Value::Number(7), Value::Number(9)]));
            let r = c.ok("FETCH 1 (BODY[])").await.expect("fetch");
            assert_eq!(r.untagged[0].fetch_item("BODY[]"), Some(&Value::Str(b"hello\r\n".to_vec())));
            match c.ok("NOOP").await {
                Err(ClientError::Closed(why)) => assert_eq!(why, "going away"),
                other => panic!("{other:?}"),
            }
        });
        server.join().expect("thread").expect("script");
    }

    #[test]
    fn starttls_is_required_and_refusals_are_errors() {
        let (port, server) = fake_server("S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi");
        let r = smol::block_on(Connection::open(
            &url(port, "imap"),
            &TlsOptions::default(),
            false,
            Duration::from_secs(5),
        ));
        assert!(matches!(r, Err(ClientError::Tls(ref e)) if e.contains("STARTTLS")), "{:?}", r.err());
        server.join().expect("thread").expect("script");

        let (port, server) = fake_server(
            "S: * OK [CAPABILITY IMAP4rev1] hi
             C: A1 SELECT \"nope\"
             S: A1 NO [NONEXISTENT] no such mailbox",
        );
        smol::block_on(async {
            let (mut c, _) =
                Connection::open(&url(port, "imap"), &TlsOptions::default(), true, Duration::from_secs(5))
                    .await
                    .expect("open");
            match c.ok("SELECT \"nope\"").await {
                Err(ClientError::Refused { command, status: Cond::No, text }) => {
                    assert_eq!((command.as_str(), text.as_str()), ("SELECT", "no such mailbox"));
                }
                other => panic!("{other:?}"),
            }
        });
        server.join().expect("thread").expect("script");
        // --plain is for loopback only.
        let far = ServerUrl::parse("imap://u@192.0.2.1:143").expect("url");
        let r = smol::block_on(Connection::open(&far, &TlsOptions::default(), true, Duration::from_secs(5)));
        assert!(matches!(r, Err(ClientError::Usage(_))));
    }
}
