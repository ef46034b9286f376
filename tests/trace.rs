//! The protocol trace as an admin uses it: `[log] trace` in the config, `applianced trace` on a
//! running server, SIGHUP; what the log then shows, and what it never shows (passwords, SASL
//! data, message text), also under COMPRESS=DEFLATE.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{PASSWORD, Server, USER, mail};

/// "\0bob@mail.test\0bobs-secret"
const SASL_PLAIN: &str = "AGJvYkBtYWlsLnRlc3QAYm9icy1zZWNyZXQ=";
const BODY: &str = "xyzzy-plugh: the distinctive body text of the traced message";
const CAROL: &str = "carol@mail.test";
const CAROL_PASSWORD: &str = "carols-own-secret";

/// The trace lines of the log (target `trace`), the part after the target.
fn trace_lines(log: &[String]) -> Vec<String> {
    log.iter().filter_map(|l| l.split_once(" [trace] ").map(|(_, t)| t.to_string())).collect()
}

/// `#ID +Nms DIR text`: returns (id, ms, dir, text).
fn parse(line: &str) -> (u64, u64, String, String) {
    let mut parts = line.splitn(4, ' ');
    let id = parts.next().and_then(|p| p.strip_prefix('#')).and_then(|p| p.parse().ok());
    let ms = parts.next().and_then(|p| p.strip_prefix('+')?.strip_suffix("ms")?.parse().ok());
    let dir = parts.next().unwrap_or("").to_string();
    let text = parts.next().unwrap_or("").to_string();
    match (id, ms) {
        (Some(id), Some(ms)) if ["C:", "S:", "--"].contains(&dir.as_str()) => (id, ms, dir, text),
        _ => panic!("trace line not in the form `#ID +Nms DIR text`: {line:?}"),
    }
}

fn add_carol(s: &Server) {
    let pw = s.dir.join("carol-pw");
    std::fs::write(&pw, CAROL_PASSWORD).expect("pw");
    let o = s.cli(&["user", "add", CAROL, "--password-file", pw.to_str().expect("path")], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn assert_secrets_never_logged(log: &[String]) {
    for secret in [PASSWORD, CAROL_PASSWORD, SASL_PLAIN, "xyzzy", "distinctive body"] {
        let hits: Vec<&String> = log.iter().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret:?} in the log: {hits:#?}");
    }
}

/// One response line with the literals it announces, from any reader.
fn read_response_line(r: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    loop {
        let mut part = Vec::new();
        let n = r.read_until(b'\n', &mut part).expect("read");
        assert!(n > 0, "closed; so far {}", String::from_utf8_lossy(&line));
        line.extend_from_slice(&part);
        let trimmed = part.strip_suffix(b"\r\n").unwrap_or(&part);
        let Some(len) = trimmed
            .strip_suffix(b"}")
            .and_then(|t| t.iter().rposition(|b| *b == b'{').map(|i| &t[i + 1..]))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok())
        else {
            break;
        };
        let mut lit = vec![0u8; len];
        r.read_exact(&mut lit).expect("literal");
        line.extend_from_slice(&lit);
    }
    String::from_utf8_lossy(&line).trim_end().to_string()
}

#[test]
fn traced_sessions_are_logged_redacted_and_untraced_ones_not_at_all() {
    let s = Server::start("trace", &format!("log.trace = [\"{USER}\"]"));
    add_carol(&s);

    // An account not in the list: nothing, not even its pre-login lines.
    let mut c = s.connect();
    c.run(&format!(
        "C: c1 LOGIN {CAROL} {CAROL_PASSWORD}\nS: c1 OK *\nC: c2 SELECT INBOX\nS: c2 OK *\nC: c3 LOGOUT\nS: c3 OK *"
    ));
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(trace_lines(&s.log()), Vec::<String>::new());

    // The traced account: LOGIN, APPEND with a synchronising literal, FETCH of the body.
    let mut b = s.connect();
    b.run(&format!("C: a1 LOGIN {USER} {PASSWORD}\nS: a1 OK *"));
    let msg = mail("trace-subject", BODY);
    b.send(format!("a2 APPEND INBOX (\\Seen) {{{}}}\r\n", msg.len()).as_bytes());
    assert!(b.line().starts_with("+ "));
    b.send(&msg);
    b.send(b"\r\n");
    assert!(b.until("a2").last().is_some_and(|l| l.starts_with("a2 OK [APPENDUID")));
    b.cmd("a3", "SELECT INBOX");
    let fetched = b.cmd("a4", "FETCH 1 (BODY[] ENVELOPE)");
    assert!(fetched[0].contains(BODY), "the client gets the body: {fetched:?}");
    // A short section without line ends is sent as a quoted string, not a literal.
    let fetched = b.cmd("a5", "FETCH 1 BODY[TEXT]<0.20>");
    assert!(fetched[0].contains(&format!("BODY[TEXT]<0> \"{}\"", &BODY[..20])), "{fetched:?}");
    b.cmd("a6", "LOGOUT");
    let log = s.wait_log("connection closed");

    let trace = trace_lines(&log);
    let parsed: Vec<_> = trace.iter().map(|l| parse(l)).collect();
    let id = parsed[0].0;
    assert!(parsed.iter().all(|p| p.0 == id), "one connection: {trace:#?}");
    let ms: Vec<u64> = parsed.iter().map(|p| p.1).collect();
    assert!(ms.windows(2).all(|w| w[0] <= w[1]), "offsets grow: {trace:#?}");
    let shown: Vec<String> = parsed.iter().map(|(_, _, d, t)| format!("{d} {t}")).collect();
    let has = |prefix: &str| shown.iter().find(|l| l.starts_with(prefix)).cloned();
    let with = |what: &str| shown.iter().find(|l| l.contains(what)).cloned();
    // Lines from before the login were kept and shown once it matched.
    assert!(has("-- 127.0.0.1:").is_some_and(|l| l.ends_with(&format!("logged in as {USER}: traced"))));
    assert!(has("S: * OK [CAPABILITY ").is_some(), "greeting: {shown:#?}");
    assert_eq!(has("C: a1 "), Some(format!("C: a1 LOGIN {USER} \"***\"")));
    let ok = has("S: a1 OK ").expect("login response");
    assert!(ok.contains(" (took ") && ok.ends_with(" ms)"), "{ok}");
    let n = msg.len();
    assert_eq!(has("C: a2 "), Some(format!("C: a2 APPEND INBOX (\\Seen) {{{n}}} [literal {n} bytes]")));
    assert!(has("S: + ").is_some());
    let fetch = with("BODY[] {").expect("fetch response");
    assert!(fetch.starts_with("S: * 1 FETCH ("), "{fetch}");
    let body_len = n;
    assert!(
        fetch.contains(&format!("BODY[] {{{body_len}}} [literal {body_len} bytes] ENVELOPE (")),
        "{fetch}"
    );
    assert!(fetch.contains("\"trace-subject\""), "the envelope stays: {fetch}");
    let text = with("BODY[TEXT]<0> ").expect("fetch text");
    assert!(text.starts_with("S: * 1 FETCH (") && text.contains("BODY[TEXT]<0> [quoted 20 bytes]"), "{text}");
    for tag in ["a2", "a3", "a4", "a5", "a6"] {
        let done = has(&format!("S: {tag} OK")).unwrap_or_else(|| panic!("{tag} response: {shown:#?}"));
        assert!(done.contains(" (took "), "{done}");
    }
    assert!(has("-- connection closed").is_some());

    // A second traced session: AUTHENTICATE with a continuation, then COMPRESS=DEFLATE.
    let before = trace.len();
    let mut z = s.connect();
    z.run(&format!(
        "C: b1 AUTHENTICATE PLAIN\nS: + *\nC: {SASL_PLAIN}\nS: b1 OK *\nC: b2 COMPRESS DEFLATE\nS: b2 OK *"
    ));
    let stream = z.stream.try_clone().expect("clone");
    let mut w =
        flate2::write::DeflateEncoder::new(stream.try_clone().expect("clone"), flate2::Compression::fast());
    let mut r = BufReader::new(flate2::read::DeflateDecoder::new(stream));
    let mut cmd = |tag: &str, command: &str| -> Vec<String> {
        w.write_all(format!("{tag} {command}\r\n").as_bytes()).expect("write");
        w.flush().expect("flush");
        let mut lines = Vec::new();
        loop {
            let l = read_response_line(&mut r);
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    };
    assert!(cmd("b3", "SELECT INBOX").last().is_some_and(|l| l.starts_with("b3 OK")));
    let fetched = cmd("b4", "FETCH 1 BODY[]");
    assert!(fetched[0].contains(BODY));
    cmd("b5", "LOGOUT");
    let log = s.wait_log("S: b5 OK");
    let trace = trace_lines(&log)[before..].to_vec();
    let shown: Vec<String> = trace.iter().map(|l| parse(l)).map(|(_, _, d, t)| format!("{d} {t}")).collect();
    for expected in [
        "C: b1 AUTHENTICATE PLAIN",
        "S: + ",
        "C: ***",
        "C: b2 COMPRESS DEFLATE",
        "S: b2 OK DEFLATE active",
        "-- COMPRESS=DEFLATE started",
        "C: b3 SELECT INBOX",
        "C: b4 FETCH 1 BODY[]",
        "C: b5 LOGOUT",
    ] {
        assert!(shown.iter().any(|l| l.starts_with(expected)), "{expected:?} not in {shown:#?}");
    }
    assert!(shown.iter().any(|l| l.starts_with("S: * 1 FETCH (")
        && l.contains(&format!("BODY[] {{{body_len}}} [literal {body_len} bytes]"))));
    assert!(shown.iter().any(|l| l.starts_with("S: b4 OK") && l.contains("(took ")));

    assert_secrets_never_logged(&s.log());
}

#[test]
fn the_trace_command_switches_live_sessions_and_sighup_rereads_the_list() {
    let mut s = Server::start("trace-switch", "");
    let mut c = s.login();
    c.cmd("n1", "NOOP");
    std::thread::sleep(Duration::from_millis(200));
    assert!(trace_lines(&s.log()).is_empty());

    let o = s.cli(&["trace", USER, "on"], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("trace on, 1 session(s) now"), "{out}");
    let o = s.cli(&["trace"], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("{USER}\t1 session now\tapplianced trace")), "{out}");
    // The session already logged in is traced from its next command on.
    c.cmd("n2", "NOOP");
    let log = s.wait_log("C: n2 NOOP");
    let trace = trace_lines(&log);
    assert!(trace[0].contains("-- trace switched on"), "{trace:#?}");
    assert!(!trace.iter().any(|l| l.contains("n1")));
    s.wait_log("S: n2 OK NOOP completed (took ");

    let o = s.cli(&["trace", USER, "off"], b"");
    assert!(o.status.success());
    c.cmd("n3", "NOOP");
    s.wait_log("-- trace switched off");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!trace_lines(&s.log()).iter().any(|l| l.contains("n3")));
    let o = s.cli(&["trace"], b"");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "no account is traced");

    // Mistakes get one line and an exit code.
    let o = s.cli(&["trace", "nobody@mail.test", "on"], b"");
    assert_eq!(o.status.code(), Some(67), "{}", String::from_utf8_lossy(&o.stderr));
    let o = s.cli(&["trace", USER, "maybe"], b"");
    assert_eq!(o.status.code(), Some(64));

    // SIGHUP applies [log] trace again: bob is added, so his session is traced again.
    let cfg = s.data().join("applianced.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    assert!(text.contains("trace = []"), "the documented config lists the key");
    std::fs::write(&cfg, text.replace("trace = []", &format!("trace = [\"{USER}\"]"))).expect("config");
    s.signal("HUP");
    s.wait_log(&format!("SIGHUP: protocol trace on for [{USER}]"));
    c.cmd("n4", "NOOP");
    s.wait_log("C: n4 NOOP");

    // IDLE: the pushed EXISTS and the raw DONE line are traced, and IDLE gets its time.
    c.cmd("n5", "SELECT INBOX");
    c.send(b"i1 IDLE\r\n");
    assert!(c.line().starts_with("+ "));
    s.deliver(USER, &mail("pushed", BODY));
    assert!(c.line().ends_with(" EXISTS"));
    c.send(b"DONE\r\n");
    c.until("i1");
    let log = s.wait_log("S: i1 OK IDLE terminated (took ");
    let shown: Vec<String> =
        trace_lines(&log).iter().map(|l| parse(l)).map(|(_, _, d, t)| format!("{d} {t}")).collect();
    let at = shown.iter().position(|l| l == "C: i1 IDLE").expect("IDLE traced");
    assert!(shown[at + 1].starts_with("S: + "), "{shown:#?}");
    assert!(shown[at + 2..].iter().any(|l| l.starts_with("S: * ") && l.ends_with(" EXISTS")), "{shown:#?}");
    assert!(shown[at + 2..].iter().any(|l| l == "C: DONE"), "{shown:#?}");
    assert_eq!(shown.iter().filter(|l| l.starts_with("S: i1 OK")).count(), 1, "{shown:#?}");
    let o = s.cli(&["trace"], b"");
    assert!(String::from_utf8_lossy(&o.stdout).contains("[log] trace"));
    assert_secrets_never_logged(&s.log());

    // Without a server there is nothing to switch.
    drop(c);
    s.stop();
    let o = s.cli(&["trace", USER, "on"], b"");
    assert_eq!(o.status.code(), Some(69), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A client that reads nothing of what it does not need still gets its session traced whole:
/// pipelined commands come out in order, each with its own time.
#[test]
fn pipelined_commands_are_traced_in_order() {
    let s = Server::start("trace-pipe", &format!("log.trace = [\"{USER}\"]"));
    let mut stream = TcpStream::connect(("127.0.0.1", s.imap)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream
        .write_all(
            format!(
                "p0 CAPABILITY\r\np1 LOGIN {USER} {PASSWORD}\r\np2 NOOP\r\np3 CAPABILITY\r\np4 LOGOUT\r\n"
            )
            .as_bytes(),
        )
        .expect("send");
    let mut all = String::new();
    let _ = stream.read_to_string(&mut all);
    assert!(all.contains("p4 OK"), "{all}");
    let log = s.wait_log("S: p4 OK");
    let shown: Vec<String> =
        trace_lines(&log).iter().map(|l| parse(l)).map(|(_, _, d, t)| format!("{d} {t}")).collect();
    let order: Vec<&str> =
        shown.iter().filter(|l| l.starts_with("C: p") || l.starts_with("S: p")).map(|l| &l[..5]).collect();
    assert_eq!(
        order,
        ["C: p0", "S: p0", "C: p1", "S: p1", "C: p2", "S: p2", "C: p3", "S: p3", "C: p4", "S: p4"],
        "{shown:#?}"
    );
    assert_secrets_never_logged(&log);
}

/// Over STARTTLS and implicit TLS the trace shows the IMAP text inside TLS (Python's imaplib as
/// the client, as in tests/clients.rs).
#[test]
fn tls_sessions_are_traced_as_text() {
    let s = Server::start("trace-tls", &format!("log.trace = [\"{USER}\"]"));
    s.deliver(USER, &mail("over-tls", BODY));
    let script = r#"
import imaplib, ssl, sys
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=tls)
m.login(sys.argv[3], sys.argv[4])
m.select("INBOX")
typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
assert typ == "OK" and b"xyzzy" in data[0][1], data
m.logout()
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[2]), ssl_context=tls)
m.login(sys.argv[3], sys.argv[4])
m.logout()
"#;
    let o = std::process::Command::new("python3")
        .args(["-c", script])
        .args([s.imap.to_string(), s.imaps.to_string(), USER.to_string(), PASSWORD.to_string()])
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.wait_log("LOGOUT completed");
    let log = loop {
        let log = s.log();
        if trace_lines(&log).iter().filter(|l| l.ends_with("-- connection closed")).count() == 2 {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let shown: Vec<String> =
        trace_lines(&log).iter().map(|l| parse(l)).map(|(_, _, d, t)| format!("{d} {t}")).collect();
    let tls = shown.iter().position(|l| l == "-- TLS started").expect("STARTTLS traced");
    assert!(shown[..tls].iter().any(|l| l.starts_with("C: ") && l.ends_with(" STARTTLS")), "{shown:#?}");
    let logins: Vec<&String> =
        shown.iter().filter(|l| l.starts_with("C: ") && l.contains(" LOGIN ")).collect();
    assert_eq!(logins.len(), 2, "{shown:#?}");
    assert!(logins.iter().all(|l| l.ends_with(&format!(" LOGIN {USER} \"***\""))), "{logins:?}");
    assert!(shown.iter().any(|l| l.contains("BODY[TEXT] {") && l.contains(" bytes]")), "{shown:#?}");
    assert_secrets_never_logged(&log);
}
