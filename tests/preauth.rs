//! Before login: literals only as large as LOGIN needs and only for commands the state allows
//! (issue 10, item 3), a deadline for logging in that trickling bytes cannot extend, and a cap
//! of their own for connections that have not logged in (item 8).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Client, PASSWORD, Server, USER};

/// The server process serving `s` (found by its data directory), for its memory figures.
fn server_pid(s: &Server) -> u32 {
    let data = s.data();
    let data = data.to_string_lossy();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = cmdline.strip_suffix(b"\0").unwrap_or(&cmdline);
        let args: Vec<String> =
            cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.len() == 3 && args[0].ends_with("applianced") && args[1] == "--data-dir" && args[2] == data {
            return pid;
        }
    }
    panic!("no server process for {data}");
}

/// A `/proc/PID/status` figure in MiB (`VmRSS`, `VmHWM`).
fn status_mb(pid: u32, field: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: f64 = text
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("field");
    kb / 1024.0
}

/// Everything the server sends until it closes the connection (bounded by a read timeout).
fn rest_of(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Reset after the server closed with unread data in its buffer: closed all the same.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&got).into_owned();
            }
            Err(e) => panic!("server did not close: {e}; so far {:?}", String::from_utf8_lossy(&got)),
        }
    }
}

#[test]
fn literals_before_login_are_refused_before_they_are_sent() {
    let s = Server::start("preauth-literals", "");
    let mut c = s.connect();
    // A command the state does not allow gets no continuation, whatever its size, and the
    // session stays in step (the client sends nothing more of the command).
    c.run(
        "C: a1 APPEND INBOX {62914560}
         S: a1 NO [TOOBIG] *
         C: a2 APPEND INBOX {10}
         S: a2 BAD APPEND not allowed now: log in first
         C: a3 SELECT {5}
         S: a3 BAD SELECT not allowed now: log in first
         C: a4 NOOP
         S: a4 OK NOOP completed",
    );
    // LOGIN: a few KiB at most.
    c.run("C: a5 LOGIN {9000}\nS: a5 NO [TOOBIG] *\nC: a6 NOOP\nS: a6 OK *");
    // Non-synchronising and small: the data is dropped with the rest of the command.
    c.send(b"a7 APPEND INBOX {5+}\r\nhello {3+}\r\nabc\r\na8 NOOP\r\n");
    c.run("S: a7 BAD APPEND not allowed now: log in first\nS: a8 OK NOOP completed");
    // What LOGIN needs is accepted.
    c.send(format!("a9 LOGIN {{{}}}\r\n", USER.len()).as_bytes());
    assert!(c.line().starts_with("+ "));
    c.send(format!("{USER} {{{}}}\r\n", PASSWORD.len()).as_bytes());
    assert!(c.line().starts_with("+ "));
    c.send(format!("{PASSWORD}\r\n").as_bytes());
    c.run("S: a9 OK *");
    // Logged in: the configured limit (32 MiB by default), and APPEND may have its literal.
    c.run("C: b1 APPEND INBOX {62914560}\nS: b1 NO [TOOBIG] *");
    let msg = common::mail("after login", "x");
    c.send(format!("b2 APPEND INBOX {{{}}}\r\n", msg.len()).as_bytes());
    assert!(c.line().starts_with("+ "));
    c.send(&msg);
    c.send(b"\r\n");
    c.run("S: b2 OK [APPENDUID *");
    // Logged in, nothing selected: no literal for a command that needs a mailbox.
    c.run("C: b3 UID SEARCH TEXT {3}\nS: b3 BAD UID not allowed now: no mailbox selected\nC: b4 NOOP\nS: b4 OK *");
}

#[test]
fn a_huge_non_synchronising_literal_before_login_closes_the_connection() {
    let s = Server::start("preauth-literal-plus", "");
    let pid = server_pid(&s);
    let before = status_mb(pid, "VmRSS:");
    let mut c = s.connect();
    // RFC 7888 §4: the server cannot refuse it before it arrives; it refuses it at once,
    // drops what arrives of it, and closes.
    c.send(b"a APPEND INBOX {62914560+}\r\n");
    c.run("S: a NO [TOOBIG] *\nS: * BYE *");
    // The data, as a hostile client sends it anyway (the server has closed meanwhile).
    let mut stream = c.stream;
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..8 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    assert_eq!(rest_of(&mut stream), "");
    let grown = status_mb(pid, "VmHWM:") - before;
    assert!(grown < 8.0, "the server grew by {grown:.1} MiB");
}

#[test]
fn announcing_huge_literals_before_login_costs_no_memory() {
    let s = Server::start("preauth-memory", "");
    let pid = server_pid(&s);
    let before = status_mb(pid, "VmRSS:");
    // Eight connections announce 60 MB each, get no `+`, and send 8 MB anyway.
    let mut conns: Vec<Client> = (0..8).map(|_| s.connect()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send(format!("a{i} APPEND INBOX {{62914560}}\r\n").as_bytes());
        let answer = c.line();
        assert!(answer.starts_with(&format!("a{i} NO [TOOBIG]")), "{answer}");
    }
    let chunk = vec![b'x'; 1 << 20];
    for c in &mut conns {
        for _ in 0..8 {
            c.send(&chunk);
        }
        // Dropped as one overlong line, and the connection still answers.
        c.send(b"\r\nz NOOP\r\n");
    }
    for c in &mut conns {
        c.run("S: * BAD command line too long\nS: z OK NOOP completed");
    }
    let grown = status_mb(pid, "VmHWM:") - before;
    assert!(grown < 16.0, "the server grew by {grown:.1} MiB for 8 refused 60 MB literals");
}

#[test]
fn privacy_is_checked_before_a_login_literal() {
    let s = Server::start("preauth-privacy", "security.allow_plaintext_loopback = false");
    let mut c = s.connect();
    // No `+`: the password would go out in plaintext.
    c.run("C: a1 LOGIN {13}\nS: a1 NO [PRIVACYREQUIRED] *\nC: a2 NOOP\nS: a2 OK *");
}

#[test]
fn trickling_bytes_do_not_extend_the_login_deadline() {
    let s = Server::start("preauth-deadline", "limits.login_timeout_secs = 2");
    let mut c = TcpStream::connect(("127.0.0.1", s.imap)).expect("connect");
    let started = Instant::now();
    let mut writer = c.try_clone().expect("clone");
    // One byte every 200 ms: never 2 s of silence, and never a whole command.
    let trickle = std::thread::spawn(move || {
        for _ in 0..40 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let text = rest_of(&mut c);
    let took = started.elapsed();
    assert!(text.contains("* BYE autologout; not logged in in time"), "{text}");
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(6), "closed after {took:?}");
    let _ = trickle.join();
    s.wait_log("not logged in within 2s");
    // Whole commands do not extend it either; logging in ends it.
    let mut late = s.connect();
    let mut on_time = s.login();
    std::thread::sleep(Duration::from_millis(1200));
    late.run("C: n1 NOOP\nS: n1 OK *");
    on_time.run("C: n1 NOOP\nS: n1 OK *");
    std::thread::sleep(Duration::from_millis(1200));
    on_time.run("C: n2 NOOP\nS: n2 OK *");
    let mut late = late.stream;
    assert!(rest_of(&mut late).contains("* BYE autologout; not logged in in time"));
}

#[test]
fn connections_waiting_to_log_in_cannot_crowd_out_a_real_login() {
    let s = Server::start(
        "preauth-cap",
        "limits.max_connections = 6\nlimits.max_connections_per_ip = 10\n\
         limits.max_unauthenticated = 3\nlimits.max_unauthenticated_per_ip = 6",
    );
    // An attacker fills the unauthenticated cap.
    let mut idle: Vec<Client> = (0..3).map(|_| s.connect()).collect();
    // A real user still gets in: the oldest waiting connection makes room.
    let mut alice = s.login();
    idle[0].run("S: * BYE [UNAVAILABLE] too many connections waiting to log in");
    idle.remove(0);
    // Logged in, alice no longer counts as waiting: room for one more.
    idle.push(s.connect());
    // The attacker keeps coming: each newcomer displaces the oldest waiting one, never a
    // logged-in session.
    for _ in 0..4 {
        idle.push(s.connect());
        idle[0].run("S: * BYE [UNAVAILABLE] too many connections waiting to log in");
        idle.remove(0);
    }
    alice.run("C: n1 NOOP\nS: n1 OK *");
    // Logged-in users take the rest of the total; a login still finds room when it is full.
    let mut users = vec![alice, s.login(), s.login()];
    assert_eq!(idle.len(), 3);
    users.push(s.login());
    idle[0].run("S: * BYE [UNAVAILABLE] too many connections waiting to log in");
    idle.remove(0);
    users.push(s.login());
    users.push(s.login());
    idle[0].run("S: * BYE [UNAVAILABLE] too many connections waiting to log in");
    idle[1].run("S: * BYE [UNAVAILABLE] too many connections waiting to log in");
    // Six logged in: only now is a newcomer refused.
    let mut refused = TcpStream::connect(("127.0.0.1", s.imap)).expect("connect");
    assert!(rest_of(&mut refused).starts_with("* BYE [UNAVAILABLE] too many connections to this server"));
    for u in &mut users {
        u.run("C: n2 NOOP\nS: n2 OK *");
    }
}
