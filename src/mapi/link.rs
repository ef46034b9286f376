//! What one IMAP connection shows of itself to its MAPI session and the administrator
//! (docs/mapi-extension.md §4.4): byte counters, its state, and the signal that asks it to close.
//!
//! Every connection has one (a few atomics); `server::imap` counts the bytes below the COMPRESS
//! layer and waits on [`Link::closing`] between commands, the session sets the state, and the
//! session registry reads it for `XSESSION STATUS` and `applianced sessions` and closes
//! connections through it (REPLACE, revocation, XSESSION END).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use smol::channel::{Receiver, Sender};

use crate::proto::code::Code;

/// What a connection is doing (§4.4 `STATE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Not logged in yet (never in a session: not shown there).
    NotAuthenticated,
    Authenticated,
    Selected,
    Idle,
    /// A command runs; [`Activity::command`] names it.
    Running,
}

impl ConnState {
    /// The atom of `c-item`'s `STATE` (§15).
    pub fn name(self) -> &'static str {
        match self {
            ConnState::NotAuthenticated => "NOTAUTHENTICATED",
            ConnState::Authenticated => "AUTHENTICATED",
            ConnState::Selected => "SELECTED",
            ConnState::Idle => "IDLE",
            ConnState::Running => "RUNNING",
        }
    }
}

/// The state with what it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub state: ConnState,
    /// The running command's name (`RUNNING`).
    pub command: Option<&'static str>,
    /// The selected mailbox, as the client named it (`SELECTED`, and while a command runs).
    pub mailbox: Option<String>,
}

/// Why another part of the server closes this connection: the code and text of its `* BYE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closing {
    pub code: Code,
    pub text: String,
}

impl Closing {
    /// `* BYE [code] text` CRLF.
    pub fn bye(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.code.untagged(&mut out, "BYE", &self.text);
        out
    }
}

#[derive(Debug)]
pub struct Link {
    pub peer: SocketAddr,
    /// For `AGE` and `LASTACTIVE`.
    started: Instant,
    tls: AtomicBool,
    compress: AtomicBool,
    /// Bytes received and sent below COMPRESS (after TLS): `IN`, `OUT`.
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Bytes handed to a write that has not completed (`QUEUED`).
    queued: AtomicU64,
    /// Milliseconds from `started` to the last byte received.
    last_in_ms: AtomicU64,
    activity: Mutex<Activity>,
    /// Set once the connection is its session's backchannel (§4.4 `HEARTBEAT SENT ACKED RTT`).
    backchannel: Mutex<Option<BackchannelFigures>>,
    /// Capacity 1: the first reason to close wins; the connection reads it between commands.
    close_tx: Sender<Closing>,
    close_rx: Receiver<Closing>,
}

impl Link {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        let (close_tx, close_rx) = smol::channel::bounded(1);
        Link {
            peer,
            started: Instant::now(),
            tls: AtomicBool::new(tls),
            compress: AtomicBool::new(false),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            last_in_ms: AtomicU64::new(0),
            activity: Mutex::new(Activity {
                state: ConnState::NotAuthenticated,
                command: None,
                mailbox: None,
            }),
            backchannel: Mutex::new(None),
            close_tx,
            close_rx,
        }
    }

    fn ms_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// `n` bytes arrived from the client.
    pub fn received(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        self.last_in_ms.store(self.ms_since_start(), Ordering::Relaxed);
    }

    /// `n` bytes went to the network; `left` of the write in progress are still waiting.
    pub fn sent(&self, n: usize, left: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        self.queued.store(left as u64, Ordering::Relaxed);
    }

    /// A write of `n` bytes is waiting for the network.
    pub fn waiting(&self, n: usize) {
        self.queued.store(n as u64, Ordering::Relaxed);
    }

    pub fn set_tls(&self) {
        self.tls.store(true, Ordering::Relaxed);
    }

    pub fn set_compress(&self) {
        self.compress.store(true, Ordering::Relaxed);
    }

    pub fn set_activity(&self, activity: Activity) {
        *self.activity.lock().unwrap_or_else(|e| e.into_inner()) = activity;
    }

    /// The connection is a backchannel, with these figures now.
    pub fn set_backchannel(&self, figures: BackchannelFigures) {
        *self.backchannel.lock().unwrap_or_else(|e| e.into_inner()) = Some(figures);
    }

    /// Asks the connection to close with `* BYE` `why`, at its next wait for the client (best
    /// effort: a connection already closing keeps its first reason).
    pub fn close(&self, why: Closing) {
        let _ = self.close_tx.try_send(why);
    }

    /// Someone asked this connection to close, and it has not seen it yet.
    pub fn close_requested(&self) -> bool {
        !self.close_rx.is_empty()
    }

    /// Resolves when someone asked this connection to close.
    pub async fn closing(&self) -> Closing {
        match self.close_rx.recv().await {
            Ok(c) => c,
            // Both ends live in `self`: never closed while it is borrowed.
            Err(_) => std::future::pending().await,
        }
    }

    /// What `XSESSION STATUS` shows of the connection now.
    pub fn view(&self) -> LinkView {
        let now = self.ms_since_start();
        LinkView {
            address: self.peer,
            tls: self.tls.load(Ordering::Relaxed),
            compress: self.compress.load(Ordering::Relaxed),
            age_secs: now / 1000,
            last_active_secs: now.saturating_sub(self.last_in_ms.load(Ordering::Relaxed)) / 1000,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            activity: self.activity.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            backchannel: *self.backchannel.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// What a backchannel shows of itself (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackchannelFigures {
    /// The granted interval, in seconds.
    pub heartbeat: u64,
    /// The cursor: every change up to it dealt with (§5.4).
    pub sent: u64,
    /// The last change number the client acknowledged (§6).
    pub acked: u64,
    /// The last heartbeat's round trip in milliseconds, once one was answered.
    pub rtt_ms: Option<u64>,
}

/// A copy of a [`Link`]'s figures at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub address: SocketAddr,
    pub tls: bool,
    pub compress: bool,
    pub age_secs: u64,
    pub last_active_secs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued: u64,
    pub activity: Activity,
    pub backchannel: Option<BackchannelFigures>,
}

impl LinkView {
    /// The figures of §4.4 after `ADDRESS`, by their item names, in the order `XCONN` sends
    /// them (booleans as 0 and 1), a backchannel's last: one list for the IMAP response and the
    /// administrator's views.
    pub fn figures(&self) -> Vec<(&'static str, u64)> {
        let mut v = vec![
            ("TLS", u64::from(self.tls)),
            ("COMPRESS", u64::from(self.compress)),
            ("AGE", self.age_secs),
            ("LASTACTIVE", self.last_active_secs),
            ("IN", self.bytes_in),
            ("OUT", self.bytes_out),
            ("QUEUED", self.queued),
        ];
        if let Some(b) = self.backchannel {
            v.extend([("HEARTBEAT", b.heartbeat), ("SENT", b.sent), ("ACKED", b.acked)]);
            v.extend(b.rtt_ms.map(|r| ("RTT", r)));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_first_close_reason() {
        let l = Link::new("127.0.0.1:9".parse().expect("addr"), false);
        l.received(10);
        l.sent(100, 5);
        l.set_compress();
        let v = l.view();
        assert_eq!((v.bytes_in, v.bytes_out, v.queued, v.tls, v.compress), (10, 100, 5, false, true));
        l.close(Closing { code: Code::XReplaced, text: "first".into() });
        l.close(Closing { code: Code::XRevoked, text: "second".into() });
        let c = smol::block_on(l.closing());
        assert_eq!(c.bye(), b"* BYE [XREPLACED] first\r\n");
    }
}
