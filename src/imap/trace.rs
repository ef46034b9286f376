//! The protocol trace: for chosen accounts, every line of their IMAP sessions as the client sent
//! it and the server wrote it (after TLS and COMPRESS, that is the IMAP text), written to the
//! log with target `trace` at info level, passwords and message text redacted (`redact`).
//!
//! * [`Switch`]: which accounts are traced, shared by the server. Filled from `[log] trace`,
//!   changed on SIGHUP and by `applianced trace ACCOUNT on|off` through the control socket.
//!   A session looks its account's flag up once, at login; after that, whether to trace costs
//!   one atomic load per command.
//! * [`Tracer`]: one per connection, fed by `server::imap` with every framed command and every
//!   byte it writes. Until a login it keeps the redacted lines in a small buffer (only while some
//!   account is traced at all), shown if the login turns out to be a traced account.
//!
//! Line format, one log record per IMAP line:
//!
//! ```text
//! #12 +1503ms C: a3 FETCH 1 (BODY[] ENVELOPE)
//! #12 +1506ms S: * 1 FETCH (BODY[] {2310} [literal 2310 bytes] ENVELOPE (...))
//! #12 +1506ms S: a3 OK FETCH completed (took 2.914 ms)
//! ```
//!
//! `#12` is the connection, `+1503ms` the time since it was accepted, `took` the time from the
//! server taking the command (its last byte had arrived) to the tagged response being written.
//! Lines starting with `--` are events (login, TLS, COMPRESS, switch, close).

mod redact;

pub use redact::{LINE_CAP, Redactor, Side};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The log target of trace lines; logged at info whatever `[log] level` says (`cli::init_logging`).
pub const TARGET: &str = "trace";

/// Lines kept for a connection before login, and their bytes: the greeting, CAPABILITY,
/// STARTTLS, ID, LOGIN and their responses fit.
const PREAUTH_LINES: usize = 24;
const PREAUTH_BYTES: usize = 6 * 1024;

/// Commands waiting for their tagged response, for the `took` time (pipelining).
const PENDING: usize = 32;

/// Accounts whose sessions are traced.
#[derive(Debug, Default)]
pub struct Switch {
    /// Lower-case account name to the flag every session of that account holds.
    accounts: Mutex<Accounts>,
    /// Accounts switched on: while 0, connections keep nothing before login.
    on: AtomicUsize,
    /// Connection numbers for the trace lines.
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Accounts {
    flags: HashMap<String, Arc<AtomicBool>>,
    /// The `[log] trace` list last applied (so that a reload changes only what the file changed).
    configured: BTreeSet<String>,
}

/// One traced account, for `applianced trace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    pub account: String,
    /// Sessions logged in as the account now.
    pub sessions: usize,
    /// It is in the `[log] trace` list.
    pub configured: bool,
}

impl Switch {
    /// A switch with the accounts of `[log] trace` on.
    pub fn new(configured: &[String]) -> Self {
        let s = Switch::default();
        s.configure(configured);
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A number for a new connection.
    pub fn connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Is any account traced?
    pub fn any(&self) -> bool {
        self.on.load(Ordering::Relaxed) > 0
    }

    /// The flag of an account, for a session that just logged in as it.
    pub fn flag(&self, account: &str) -> Arc<AtomicBool> {
        let mut a = self.lock();
        if a.flags.len() >= 4096 {
            // Accounts that are off and have no session left need no entry.
            a.flags.retain(|_, f| f.load(Ordering::Relaxed) || Arc::strong_count(f) > 1);
        }
        a.flags.entry(account.to_ascii_lowercase()).or_default().clone()
    }

    /// Switches an account on or off, at once for its sessions. Returns whether it was on.
    pub fn set(&self, account: &str, on: bool) -> bool {
        let mut a = self.lock();
        let was = Self::set_locked(&mut a, account, on);
        self.count(&a);
        was
    }

    fn set_locked(a: &mut Accounts, account: &str, on: bool) -> bool {
        let key = account.to_ascii_lowercase();
        match a.flags.get(&key) {
            Some(f) => f.swap(on, Ordering::Relaxed),
            None if on => {
                a.flags.insert(key, Arc::new(AtomicBool::new(true)));
                false
            }
            None => false,
        }
    }

    fn count(&self, a: &Accounts) {
        let n = a.flags.values().filter(|f| f.load(Ordering::Relaxed)).count();
        self.on.store(n, Ordering::Relaxed);
    }

    /// Applies a (re-read) `[log] trace` list: accounts added to it are switched on, accounts
    /// removed from it off; the others keep what `applianced trace` made of them. Returns the
    /// accounts switched on and off.
    pub fn configure(&self, list: &[String]) -> (Vec<String>, Vec<String>) {
        let new: BTreeSet<String> = list.iter().map(|s| s.to_ascii_lowercase()).collect();
        let mut a = self.lock();
        let added: Vec<String> = new.difference(&a.configured).cloned().collect();
        let removed: Vec<String> = a.configured.difference(&new).cloned().collect();
        for acct in &added {
            Self::set_locked(&mut a, acct, true);
        }
        for acct in &removed {
            Self::set_locked(&mut a, acct, false);
        }
        a.configured = new;
        self.count(&a);
        (added, removed)
    }

    /// The accounts traced now, by name.
    pub fn list(&self) -> Vec<Traced> {
        let a = self.lock();
        let mut out: Vec<Traced> = a
            .flags
            .iter()
            .filter(|(_, f)| f.load(Ordering::Relaxed))
            .map(|(name, f)| Traced {
                account: name.clone(),
                sessions: Arc::strong_count(f) - 1,
                configured: a.configured.contains(name),
            })
            .collect();
        out.sort_by(|x, y| x.account.cmp(&y.account));
        out
    }
}

/// Whether and how a connection is traced.
#[derive(Debug)]
enum State {
    /// Not logged in. With a buffer, lines are kept in case the login is a traced account.
    PreAuth(Option<Buffer>),
    /// Logged in: traced while `live`, the account's flag as read at the last safe point.
    Account { flag: Arc<AtomicBool>, live: bool },
}

/// Trace lines of a connection before its login, bounded.
#[derive(Debug, Default)]
struct Buffer {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: u64,
}

impl Buffer {
    fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > PREAUTH_LINES || self.bytes > PREAUTH_BYTES {
            let Some(old) = self.lines.pop_front() else { break };
            self.bytes -= old.len();
            self.dropped += 1;
        }
    }
}

/// The trace of one connection. Cheap when off: every entry point checks one field first.
#[derive(Debug)]
pub struct Tracer {
    switch: Arc<Switch>,
    client: Redactor,
    server: Redactor,
    /// What the next client line is (kept here: the redactor forgets it when reset).
    next_line: NextLine,
    out: Sink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextLine {
    Command,
    /// IDLE's `DONE`.
    Raw,
    /// The answer to an AUTHENTICATE continuation request.
    Sasl,
}

/// Where a connection's trace lines go, with what they are stamped with.
#[derive(Debug)]
struct Sink {
    id: u64,
    peer: SocketAddr,
    start: Instant,
    state: State,
    /// Bytes about to be written that were produced before tracing went on; not shown, since
    /// they may begin in the middle of a response.
    skip: usize,
    /// Commands waiting for their tagged response: tag and when the server took them.
    pending: VecDeque<(String, Instant)>,
    /// Tests collect the lines here instead of logging them.
    capture: Option<Vec<String>>,
}

impl Tracer {
    pub fn new(switch: Arc<Switch>, peer: SocketAddr) -> Self {
        let buffer = switch.any().then(Buffer::default);
        let out = Sink {
            id: switch.connection_id(),
            peer,
            start: Instant::now(),
            state: State::PreAuth(buffer),
            skip: 0,
            pending: VecDeque::new(),
            capture: None,
        };
        Tracer {
            switch,
            client: Redactor::new(Side::Client),
            server: Redactor::new(Side::Server),
            next_line: NextLine::Command,
            out,
        }
    }

    /// Lines are being recorded (shown, or kept until login). The connection loop then writes
    /// each command's response before taking the next command, so that lines come in order.
    #[inline]
    pub fn recording(&self) -> bool {
        matches!(self.out.state, State::PreAuth(Some(_)) | State::Account { live: true, .. })
    }

    /// Lines are being shown: the connection is logged in as a traced account.
    #[inline]
    fn live(&self) -> bool {
        matches!(self.out.state, State::Account { live: true, .. })
    }

    /// Not logged in yet: the connection loop calls [`Tracer::logged_in`] once the session is.
    #[inline]
    pub fn before_login(&self) -> bool {
        matches!(self.out.state, State::PreAuth(_))
    }

    /// At a safe point (between commands, before an unsolicited write): follows the account's
    /// switch. `queued` bytes already waiting to be written are not traced if it goes on now.
    #[inline]
    fn follow_switch(&mut self, queued: usize) {
        if let State::Account { flag, live } = &self.out.state
            && flag.load(Ordering::Relaxed) != *live
        {
            self.switched(queued);
        }
    }

    #[cold]
    fn switched(&mut self, queued: usize) {
        let State::Account { live, .. } = &mut self.out.state else { return };
        *live = !*live;
        if *live {
            self.client.reset();
            self.server.reset();
            self.out.pending.clear();
            self.out.skip = queued;
            let what = format!("trace switched on ({})", self.out.peer);
            self.out.event(&what);
        } else {
            // Written directly: `live` is already off.
            let line = self.out.format("--", "trace switched off", None);
            self.out.write(line);
        }
    }

    /// A command framed from the client (or the raw line IDLE or AUTHENTICATE waits for);
    /// `queued` bytes of responses wait to be written before this command's.
    #[inline]
    pub fn client(&mut self, command: &[u8], queued: usize) {
        self.follow_switch(queued);
        let next = std::mem::replace(&mut self.next_line, NextLine::Command);
        if self.recording() {
            match next {
                NextLine::Command => {}
                NextLine::Raw => self.client.raw_line(),
                NextLine::Sasl => self.client.sasl_response(),
            }
            self.client.feed(command, &mut |l: &str| self.out.line(Side::Client, l));
        }
    }

    /// The next client line answers an AUTHENTICATE continuation: hidden.
    #[inline]
    pub fn sasl_response_next(&mut self) {
        self.next_line = NextLine::Sasl;
    }

    /// The next client line is IDLE's `DONE`: raw, not a command.
    #[inline]
    pub fn raw_line_next(&mut self) {
        self.next_line = NextLine::Raw;
    }

    /// Bytes written to the client as part of a command's response (in order, in any pieces).
    #[inline]
    pub fn server(&mut self, bytes: &[u8]) {
        if self.recording() {
            self.server_bytes(bytes);
        }
    }

    fn server_bytes(&mut self, mut bytes: &[u8]) {
        if self.out.skip > 0 {
            let n = self.out.skip.min(bytes.len());
            self.out.skip -= n;
            bytes = &bytes[n..];
        }
        // Each line goes to the log as it completes: nothing accumulates.
        self.server.feed(bytes, &mut |l: &str| self.out.line(Side::Server, l));
    }

    /// Bytes written between commands (greeting, IDLE and NOTIFY pushes, BYE): a safe point.
    #[inline]
    pub fn pushed(&mut self, bytes: &[u8]) {
        self.follow_switch(0);
        self.server(bytes);
    }

    /// Something happened to the connection (TLS, COMPRESS, a refused command).
    #[inline]
    pub fn event(&mut self, what: std::fmt::Arguments<'_>) {
        if self.recording() {
            self.out.event(&what.to_string());
        }
    }

    /// The session logged in as `account`: from now on the account's switch decides.
    pub fn logged_in(&mut self, account: &str) {
        let flag = self.switch.flag(account);
        let live = flag.load(Ordering::Relaxed);
        let before = std::mem::replace(&mut self.out.state, State::Account { flag, live });
        if !live {
            return;
        }
        let buffered = match before {
            State::PreAuth(Some(b)) => Some(b),
            _ => {
                // Nothing was recorded: start clean (the login's response is still to come).
                self.client.reset();
                self.server.reset();
                None
            }
        };
        if let Some(b) = buffered {
            if b.dropped > 0 {
                self.out.event(&format!("{} earlier lines not kept", b.dropped));
            }
            for line in b.lines {
                self.out.write(line);
            }
        }
        let what = format!("{} logged in as {account}: traced", self.out.peer);
        self.out.event(&what);
    }
}

impl Sink {
    fn line(&mut self, side: Side, text: &str) {
        let now = Instant::now();
        let mut took = None;
        let mut words = text.splitn(3, ' ');
        let first = words.next().unwrap_or("");
        match side {
            Side::Client => {
                // A command has a tag and a name; `DONE` and SASL responses are not commands.
                if !first.is_empty() && words.next().is_some_and(|w| !w.is_empty()) {
                    if self.pending.len() == PENDING {
                        self.pending.pop_front();
                    }
                    self.pending.push_back((first.to_string(), now));
                }
            }
            Side::Server => {
                if first != "*"
                    && first != "+"
                    && let Some(i) = self.pending.iter().position(|(t, _)| t == first)
                    && let Some((_, at)) = self.pending.remove(i)
                {
                    took = Some(now.duration_since(at));
                }
            }
        }
        let dir = if side == Side::Client { "C:" } else { "S:" };
        let line = self.format(dir, text, took);
        self.write(line);
    }

    fn event(&mut self, what: &str) {
        let line = self.format("--", what, None);
        self.write(line);
    }

    fn format(&self, dir: &str, text: &str, took: Option<std::time::Duration>) -> String {
        let mut line = format!("#{} +{}ms {dir} {text}", self.id, self.start.elapsed().as_millis());
        if let Some(t) = took {
            let _ = write!(line, " (took {:.3} ms)", t.as_secs_f64() * 1000.0);
        }
        line
    }

    fn write(&mut self, line: String) {
        match (&mut self.state, &mut self.capture) {
            (State::PreAuth(Some(buffer)), _) => buffer.push(line),
            (State::PreAuth(None), _) => {}
            (_, Some(captured)) => captured.push(line),
            (_, None) => log::info!(target: TARGET, "{line}"),
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if self.live() {
            self.out.event("connection closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    fn tracer(switch: &Arc<Switch>) -> Tracer {
        let mut t = Tracer::new(switch.clone(), peer());
        t.out.capture = Some(Vec::new());
        t
    }

    /// The captured lines without their `#id +Nms ` prefix and `took` suffix.
    fn lines(t: &mut Tracer) -> Vec<String> {
        let lines = t.out.capture.take().unwrap_or_default();
        t.out.capture = Some(Vec::new());
        lines
            .into_iter()
            .map(|l| {
                let l = l.splitn(3, ' ').nth(2).unwrap_or("").to_string();
                match l.find(" (took ") {
                    Some(i) => l[..i].to_string(),
                    None => l,
                }
            })
            .collect()
    }

    #[test]
    fn switch_follows_config_and_commands() {
        let s = Switch::new(&["Alice@Example.com".into()]);
        assert!(s.any());
        let f = s.flag("alice@example.com");
        assert!(f.load(Ordering::Relaxed));
        assert_eq!(s.list(), [Traced { account: "alice@example.com".into(), sessions: 1, configured: true }]);
        assert!(!s.set("bob@example.com", false));
        assert!(!s.set("bob@example.com", true));
        assert!(s.set("alice@example.com", false));
        assert!(!f.load(Ordering::Relaxed));
        // A reload applies only what the file changed: alice stays off, bob stays on, carol is new.
        let (on, off) = s.configure(&["alice@example.com".into(), "carol@example.com".into()]);
        assert_eq!((on, off), (vec!["carol@example.com".to_string()], vec![]));
        assert!(!f.load(Ordering::Relaxed));
        let names: Vec<String> = s.list().into_iter().map(|t| t.account).collect();
        assert_eq!(names, ["bob@example.com", "carol@example.com"]);
        let (on, off) = s.configure(&[]);
        assert!(on.is_empty());
        assert_eq!(off, ["alice@example.com", "carol@example.com"]);
        assert_eq!(s.list().len(), 1);
        s.set("bob@example.com", false);
        assert!(!s.any());
    }

    #[test]
    fn preauth_lines_are_shown_when_the_login_is_traced() {
        let s = Arc::new(Switch::new(&["bob@x".into()]));
        let mut t = tracer(&s);
        t.pushed(b"* OK ready\r\n");
        t.client(b"a LOGIN bob@x hunter2\r\n", 0);
        assert!(t.out.capture.as_ref().is_some_and(Vec::is_empty), "nothing shown before login");
        t.logged_in("bob@x");
        t.server(b"a OK done\r\n");
        t.client(b"b NOOP\r\n", 0);
        t.server(b"b OK NOOP completed\r\n");
        assert_eq!(
            lines(&mut t),
            [
                "S: * OK ready",
                "C: a LOGIN bob@x \"***\"",
                "-- 127.0.0.1:4000 logged in as bob@x: traced",
                "S: a OK done",
                "C: b NOOP",
                "S: b OK NOOP completed",
            ]
        );
    }

    #[test]
    fn untraced_logins_show_nothing_and_keep_nothing() {
        let s = Arc::new(Switch::new(&["bob@x".into()]));
        let mut t = tracer(&s);
        t.client(b"a LOGIN carol@x pw\r\n", 0);
        t.logged_in("carol@x");
        assert!(!t.recording());
        t.server(b"a OK done\r\n");
        assert!(lines(&mut t).is_empty());
        // Nobody traced: nothing is kept before login either.
        let s = Arc::new(Switch::new(&[]));
        let t = tracer(&s);
        assert!(!t.recording());
    }

    #[test]
    fn preauth_buffer_is_bounded() {
        let s = Arc::new(Switch::new(&["bob@x".into()]));
        let mut t = tracer(&s);
        for i in 0..1000 {
            t.client(format!("a{i} NOOP {}\r\n", "x".repeat(400)).as_bytes(), 0);
        }
        let State::PreAuth(Some(b)) = &t.out.state else { panic!("buffering") };
        assert!(b.lines.len() <= PREAUTH_LINES && b.bytes <= PREAUTH_BYTES);
        t.logged_in("bob@x");
        let shown = lines(&mut t);
        assert!(shown[0].ends_with("earlier lines not kept"), "{shown:?}");
        assert!(shown[shown.len() - 2].starts_with("C: a999 NOOP"));
        assert!(shown.len() <= PREAUTH_LINES + 2);
    }

    #[test]
    fn switching_on_takes_effect_at_the_next_command_and_skips_queued_bytes() {
        let s = Arc::new(Switch::new(&[]));
        let mut t = tracer(&s);
        t.logged_in("bob@x");
        t.client(b"a FETCH 1 BODY[]\r\n", 0);
        // Tracing is off: the first piece of a large response goes by unseen.
        t.server(b"* 1 FETCH (BODY[] {20}\r\nsecret s");
        s.set("bob@x", true);
        // The rest of that response is queued when the next command is taken: not traced,
        // so the middle of the literal is never taken for lines.
        let tail = b"ecret body.\r\n)\r\na OK done\r\n";
        t.client(b"b NOOP\r\n", tail.len());
        t.server(tail);
        t.server(b"b OK NOOP completed\r\n");
        s.set("bob@x", false);
        t.client(b"c NOOP\r\n", 0);
        t.server(b"c OK NOOP completed\r\n");
        let shown = lines(&mut t);
        assert_eq!(
            shown,
            [
                "-- trace switched on (127.0.0.1:4000)",
                "C: b NOOP",
                "S: b OK NOOP completed",
                "-- trace switched off",
            ]
        );
    }

    #[test]
    fn tagged_responses_carry_the_time_taken() {
        let s = Arc::new(Switch::new(&["bob@x".into()]));
        let mut t = tracer(&s);
        t.logged_in("bob@x");
        t.client(b"a1 NOOP\r\n", 0);
        t.client(b"a2 NOOP\r\n", 0);
        t.server(b"* 3 EXISTS\r\na1 OK done\r\na2 OK done\r\n");
        let raw = t.out.capture.take().unwrap_or_default();
        assert_eq!(raw.len(), 6, "{raw:#?}");
        assert!(raw[0].contains(" -- ") && raw[1].contains(" C: a1 NOOP"));
        assert!(!raw[2].contains("took") && !raw[3].contains("took"));
        assert!(raw[4].contains("S: a1 OK done (took ") && raw[4].ends_with(" ms)"), "{}", raw[4]);
        assert!(raw[5].contains("S: a2 OK done (took "));
        let prefix = format!("#{} +", t.out.id);
        assert!(raw.iter().all(|l| l.starts_with(&prefix)));
    }
}
