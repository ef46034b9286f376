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

/// Issue 12 item 14: `applianced reload` (the unit's ExecReload=) reloads the certificate and
/// reports the outcome; a certificate that cannot be loaded makes it fail (exit 78) while the
/// server keeps the old one, and systemd hears RELOADING=1, then READY=1 with the failure in
/// STATUS= (sd_notify(3)).
#[test]
fn reload_reports_success_and_a_bad_certificate_to_the_command_and_to_systemd() {
    let dir = std::env::temp_dir().join(format!("applianced-notify-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("notify.sock");
    let rx = UnixDatagram::bind(&path).expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let server =
        Server::start_with_env("notify-reload", "", &[("NOTIFY_SOCKET", path.to_str().expect("utf-8"))]);
    let mut seen = Vec::new();
    until(&rx, &mut seen, "READY=1", 10);
    seen.clear();

    let ok = server.cli(&["reload"], b"");
    let out = String::from_utf8_lossy(&ok.stdout).into_owned() + &String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("TLS certificate reloaded"), "{out}");
    until(&rx, &mut seen, "READY=1", 10);
    assert_eq!(seen.first().map(String::as_str), Some("RELOADING=1"), "{seen:?}");
    assert!(seen.iter().any(|m| m == "READY=1\nSTATUS=reloaded"), "{seen:?}");
    seen.clear();

    let cert = server.data().join("tls/cert.pem");
    std::fs::write(&cert, "not a certificate\n").expect("spoil the certificate");
    let bad = server.cli(&["reload"], b"");
    let out = String::from_utf8_lossy(&bad.stdout).into_owned() + &String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(78), "{out}");
    assert!(out.contains("keeping the old TLS certificate"), "{out}");
    until(&rx, &mut seen, "READY=1", 10);
    assert!(
        seen.iter().any(|m| m.starts_with("READY=1\nSTATUS=reload failed: keeping the old TLS")),
        "{seen:?}"
    );
    // The old certificate still serves: a TLS login works.
    let o = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.imaps), "-quiet"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(b"a LOGOUT\r\n")?;
            c.wait_with_output()
        });
    match o {
        Ok(o) => assert!(String::from_utf8_lossy(&o.stdout).contains("* OK"), "no greeting over TLS"),
        Err(e) => common::skip("reload test's TLS check", &format!("openssl: {e}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
