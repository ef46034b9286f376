//! sd_notify: the server tells a service manager (here a datagram socket of the test's) when it is
//! ready, how many connections it has, that it is alive (watchdog) and that it is stopping.

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use common::Server;

/// Collects messages until one contains `want` (or fails after `secs`).
fn until(rx: &UnixDatagram, seen: &mut Vec<String>, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while !seen.iter().any(|m| m.lines().any(|l| l.starts_with(want))) {
        assert!(Instant::now() < deadline, "no {want:?} from the server; got {seen:?}");
        if let Ok(n) = rx.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[test]
fn ready_status_watchdog_and_stopping_reach_a_path_socket() {
    let dir = std::env::temp_dir().join(format!("applianced-notify-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("notify.sock");
    let rx = UnixDatagram::bind(&path).expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let sock = path.to_str().expect("utf-8 path");
    // 200 ms watchdog: keep-alives every 100 ms.
    let mut server =
        Server::start_with_env("notify", "", &[("NOTIFY_SOCKET", sock), ("WATCHDOG_USEC", "200000")]);
    let mut seen = Vec::new();
    until(&rx, &mut seen, "READY=1", 10);
    assert!(seen[0].starts_with("READY=1\nSTATUS=serving: IMAP 127.0.0.1:"), "{seen:?}");
    until(&rx, &mut seen, "WATCHDOG=1", 10);
    let _client = server.login();
    until(&rx, &mut seen, "STATUS=1 connection", 10);
    // Keep-alives go on while a session is open.
    let count = |seen: &[String]| seen.iter().filter(|m| *m == "WATCHDOG=1").count();
    let before = count(&seen);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while count(&seen) < before + 3 {
        assert!(Instant::now() < deadline, "keep-alives stopped: {seen:?}");
        if let Ok(n) = rx.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    server.signal("TERM");
    until(&rx, &mut seen, "STOPPING=1", 10);
    assert!(server.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn abstract_socket_without_watchdog() {
    let name = format!("applianced-notify-it-{}", std::process::id());
    let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("addr"))
        .expect("bind abstract");
    rx.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let mut server = Server::start_with_env("notify-abstract", "", &[("NOTIFY_SOCKET", &format!("@{name}"))]);
    let mut seen = Vec::new();
    until(&rx, &mut seen, "READY=1", 10);
    server.signal("TERM");
    until(&rx, &mut seen, "STOPPING=1", 10);
    assert!(server.wait_exit().success());
    assert!(!seen.iter().any(|m| m.contains("WATCHDOG=1")), "watchdog without WATCHDOG_USEC: {seen:?}");
}
