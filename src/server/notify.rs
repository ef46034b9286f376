//! The systemd notification protocol (sd_notify(3)) without libsystemd: newline-separated
//! `KEY=VALUE` datagrams to the `AF_UNIX` socket named by `NOTIFY_SOCKET`, a path or an abstract
//! name written with a leading `@`. With `Type=notify` in the unit, systemd waits for `READY=1`
//! before it calls the service started, shows the last `STATUS=` in `systemctl status`, and, with
//! `WatchdogSec=`, restarts the service when `WATCHDOG=1` stops coming for that long.
//!
//! Outside systemd `NOTIFY_SOCKET` is unset and every call is a no-op. Sending never blocks the
//! executor: the socket is non-blocking and a datagram the manager cannot take now is dropped
//! with a debug line (the next tick sends again).

use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A connection to the service manager's notification socket.
pub struct Notifier {
    /// Unbound datagram socket the messages leave from.
    socket: UnixDatagram,
    /// The manager's socket, from `NOTIFY_SOCKET`.
    target: SocketAddr,
    /// Half of `WATCHDOG_USEC`, when the manager asked this process for keep-alives.
    watchdog: Option<Duration>,
    /// Set by [`Notifier::stopping`]: later connection counts would hide "shutting down".
    stopping: AtomicBool,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for, or `None` when not started by a service manager
    /// (or when the variable cannot be used, which is logged).
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = watchdog_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        match Self::connect(name.as_bytes(), watchdog) {
            Ok(n) => Some(n),
            Err(e) => {
                log::warn!("NOTIFY_SOCKET={}: {e}; not notifying systemd", name.to_string_lossy());
                None
            }
        }
    }

    fn connect(name: &[u8], watchdog: Option<Duration>) -> std::io::Result<Notifier> {
        let target = match name {
            [b'@', abstract_name @ ..] => SocketAddr::from_abstract_name(abstract_name)?,
            [b'/', ..] => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(name))?,
            _ => return Err(std::io::Error::new(ErrorKind::InvalidInput, "neither a path nor @abstract")),
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Notifier { socket, target, watchdog, stopping: AtomicBool::new(false) })
    }

    /// How often to send `WATCHDOG=1`: half the manager's timeout, as sd_watchdog_enabled(3)
    /// advises; `None` when no watchdog is asked for.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one message (`KEY=VALUE` lines); failures are logged at debug level only.
    pub fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.target) {
            log::debug!("sd_notify {:?}: {e}", message.lines().next().unwrap_or(""));
        }
    }

    /// Listeners are bound and the server accepts connections.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// A human-readable state for `systemctl status`; ignored once shutdown has begun.
    pub fn status(&self, status: &str) {
        if !self.stopping.load(Ordering::Relaxed) {
            self.send(&format!("STATUS={}", one_line(status)));
        }
    }

    /// The server is alive (its executor still runs tasks).
    pub fn watchdog_ping(&self) {
        self.send("WATCHDOG=1");
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.send("STOPPING=1\nSTATUS=shutting down");
    }
}

/// A status must not contain a newline: it would start another `KEY=VALUE` line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// sd_watchdog_enabled(3): `WATCHDOG_USEC` in microseconds, for us only if `WATCHDOG_PID` is
/// unset or names this process. Keep-alives go out at half the timeout.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(me)
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_this_pid() {
        assert_eq!(watchdog_interval(Some("30000000"), None, 7), Some(Duration::from_secs(15)));
        assert_eq!(watchdog_interval(Some("30000000"), Some("7"), 7), Some(Duration::from_secs(15)));
        assert_eq!(watchdog_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("x"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[test]
    fn messages_reach_a_path_and_an_abstract_socket() {
        let dir = std::env::temp_dir().join(format!("applianced-notify-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier::connect(path.as_os_str().as_bytes(), None).expect("connect");
        n.ready("up\nand running");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up and running");

        let name = format!("applianced-notify-unit-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract");
        let rx = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        let n = Notifier::connect(format!("@{name}").as_bytes(), None).expect("connect");
        n.stopping();
        let len = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"STOPPING=1\nSTATUS=shutting down");
        n.status("0 connections");
        n.watchdog_ping();
        let len = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"WATCHDOG=1", "no STATUS after STOPPING");
        let _ = std::fs::remove_dir_all(&dir);

        assert!(Notifier::connect(b"relative", None).is_err());
    }
}
