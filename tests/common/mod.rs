//! Test helpers: a real `applianced` process on loopback ports chosen by the kernel, and a
//! client that plays scripted IMAP sessions (`C:` lines sent, `S:` lines expected).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_applianced");
pub const USER: &str = "bob@mail.test";
pub const PASSWORD: &str = "bobs-secret";

/// A running server with its own data directory; killed and removed on drop.
pub struct Server {
    pub dir: PathBuf,
    pub imap: u16,
    pub imaps: u16,
    /// The LMTP TCP port, when the config asked for one.
    pub lmtp: u16,
    child: Child,
    /// Every line the server wrote to stderr (its log), across restarts.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `--init` a fresh data directory (with `extra_config` appended to the config) and serve it.
    pub fn start(tag: &str, extra_config: &str) -> Server {
        Server::start_with_env(tag, extra_config, &[])
    }

    /// As [`Server::start`], with extra environment variables for the serving process.
    pub fn start_with_env(tag: &str, extra_config: &str, env: &[(&str, &str)]) -> Server {
        let dir = std::env::temp_dir().join(format!("applianced-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Server::start_at(dir, extra_config, env)
    }

    /// As [`Server::start_with_env`], in an existing empty directory (where a test mounted a
    /// file system); removed on drop like the others (a mount point stays, emptied).
    pub fn start_at(dir: PathBuf, extra_config: &str, env: &[(&str, &str)]) -> Server {
        let pw = dir.join("pw");
        std::fs::write(&pw, PASSWORD).expect("pw");
        let data = dir.join("data");
        let o = Command::new(BIN)
            .args(["--init", "--hostname", "mail.test", "--admin", USER, "--data-dir"])
            .arg(&data)
            .arg("--password-file")
            .arg(&pw)
            .args(["--imap-listen", "127.0.0.1:0", "--imaps-listen", "127.0.0.1:0"])
            .output()
            .expect("init");
        assert!(o.status.success(), "init: {}", String::from_utf8_lossy(&o.stderr));
        if !extra_config.is_empty() {
            let cfg = data.join("applianced.toml");
            let text = std::fs::read_to_string(&cfg).expect("config");
            std::fs::write(&cfg, patch_config(&text, extra_config)).expect("config");
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let (child, imap, imaps, lmtp) = serve(&data, env, &log);
        Server { dir, imap, imaps, lmtp, child, log }
    }

    /// Stops the server (SIGKILL) and serves the same data directory again.
    pub fn restart(&mut self) {
        self.stop();
        let (child, imap, imaps, lmtp) = serve(&self.data(), &[], &self.log);
        (self.child, self.imap, self.imaps, self.lmtp) = (child, imap, imaps, lmtp);
    }

    /// The server's log so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (up to 10 s) for a log line that contains `needle`; returns the log then.
    pub fn wait_log(&self, needle: &str) -> Vec<String> {
        for _ in 0..1000 {
            let log = self.log();
            if log.iter().any(|l| l.contains(needle)) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no log line with {needle:?} in {:#?}", self.log());
    }

    /// Stops the server (SIGKILL), leaving its data directory.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal (`TERM`, `HUP`) to the server process.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Waits for the server to exit by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }

    /// The serving process's id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs the CLI against this server's data directory.
    pub fn cli(&self, args: &[&str], stdin: &[u8]) -> std::process::Output {
        cli(&self.data(), args, stdin)
    }

    pub fn deliver(&self, to: &str, message: &[u8]) {
        let o = self.cli(&["deliver", to], message);
        assert!(o.status.success(), "deliver: {}", String::from_utf8_lossy(&o.stderr));
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.imap)
    }

    /// Adds an account with `password` (`applianced user add`).
    pub fn add_user(&self, name: &str, password: &str) {
        let pw = self.dir.join(format!("pw-{name}"));
        std::fs::write(&pw, password).expect("pw");
        let o = self.cli(&["user", "add", name, "--password-file", pw.to_str().expect("path")], b"");
        assert!(o.status.success(), "user add: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// A client logged in as `name`.
    pub fn login_as(&self, name: &str, password: &str) -> Client {
        let mut c = self.connect();
        c.run(&format!("C: L1 LOGIN {name} {password}\nS: L1 OK *"));
        c
    }

    /// A logged-in client.
    pub fn login(&self) -> Client {
        let mut c = self.connect();
        c.run(&format!("C: L1 LOGIN {USER} {PASSWORD}\nS: L1 OK *"));
        c
    }
}

/// Serves a data directory; returns the process and its IMAP, IMAPS and LMTP ports (from its log).
/// Every log line is also appended to `log`.
fn serve(data: &Path, env: &[(&str, &str)], log: &Arc<Mutex<Vec<String>>>) -> (Child, u16, u16, u16) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let (mut imap, mut imaps, mut lmtp) = (0, 0, 0);
    loop {
        let line = lines.next().expect("server exited early").expect("line");
        log.lock().unwrap_or_else(|e| e.into_inner()).push(line.clone());
        if let Some(rest) = line.split("LMTP listening on ").nth(1) {
            if !rest.starts_with("unix:") {
                lmtp = port(rest);
            }
        } else if let Some(rest) = line.split("IMAPS listening on ").nth(1) {
            imaps = port(rest);
        } else if let Some(rest) = line.split("IMAP listening on ").nth(1) {
            imap = port(rest);
        }
        if line.contains("serving") {
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    let log = log.clone();
    std::thread::spawn(move || {
        for line in lines {
            match line {
                Ok(line) => log.lock().unwrap_or_else(|e| e.into_inner()).push(line),
                // A line that is not UTF-8 is drained all the same.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {}
                Err(_) => break,
            }
        }
    });
    (child, imap, imaps, lmtp)
}

/// Replaces `key = ...` lines inside `[section]` blocks, given as `section.key = value` lines;
/// lines starting with `+` are appended as they are (new sections).
fn patch_config(text: &str, patches: &str) -> String {
    let (appended, patches): (Vec<&str>, Vec<&str>) = patches.lines().partition(|l| l.starts_with('+'));
    let patches = patches.join("\n");
    let patches = patches.as_str();
    let mut out = String::new();
    let mut section = String::new();
    let mut placed = std::collections::HashSet::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(['[', ']']).to_string();
        }
        let mut replaced = false;
        for p in patches.lines().filter(|l| !l.trim().is_empty()) {
            let (full, value) = p.split_once('=').expect("section.key = value");
            let full = full.trim();
            let (sec, key) = full.rsplit_once('.').expect("section.key");
            if sec == section && t.starts_with(&format!("{key} =")) {
                out.push_str(&format!("{key} = {}\n", value.trim()));
                replaced = true;
                placed.insert(full.to_string());
            }
        }
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    // A key the documented config does not carry would be silently ignored: the test would then
    // run with the default it meant to change.
    for p in patches.lines().filter(|l| !l.trim().is_empty()) {
        let full = p.split_once('=').map(|(k, _)| k.trim()).unwrap_or(p);
        assert!(placed.contains(full), "config patch {p:?}: no such key in the config --init writes");
    }
    for line in appended {
        out.push_str(&line[1..]);
        out.push('\n');
    }
    out
}

fn port(rest: &str) -> u16 {
    rest.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in log line")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn cli(data: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The child may exit (a usage error) before reading its input: a broken pipe is fine then.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("wait")
}

/// A plain IMAP client that reads whole responses, literals included.
pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut c = Client { stream, reader };
        let greeting = c.line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        c
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// One response line, with any literal it announces appended (as text).
    pub fn line(&mut self) -> String {
        self.try_line().expect("read")
    }

    /// [`Client::line`], with the read error (a timeout) returned.
    pub fn try_line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        loop {
            let mut part = Vec::new();
            let n = self.reader.read_until(b'\n', &mut part)?;
            assert!(n > 0, "server closed the connection; so far: {}", String::from_utf8_lossy(&line));
            line.extend_from_slice(&part);
            let trimmed = part.strip_suffix(b"\r\n").unwrap_or(&part);
            let Some(open) = trimmed.iter().rposition(|b| *b == b'{') else { break };
            let Some(len) = trimmed
                .strip_suffix(b"}")
                .and_then(|s| std::str::from_utf8(&s[open + 1..]).ok())
                .and_then(|s| s.trim_end_matches('+').parse::<usize>().ok())
            else {
                break;
            };
            let mut lit = vec![0u8; len];
            self.reader.read_exact(&mut lit)?;
            line.extend_from_slice(&lit);
        }
        Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string())
    }

    /// Sends a command and returns every line up to and including its tagged response.
    pub fn cmd(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.until(tag)
    }

    pub fn until(&mut self, tag: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            let done = l.starts_with(&format!("{tag} "));
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Plays a script: `C: text` lines are sent; `S: text` lines must come in order (see
    /// [`matches`]: `S: * ...` is an untagged line, `S: + ...` a continuation, anything else a
    /// tagged line with that tag). Untagged lines and continuations that the script does not name
    /// are skipped while waiting; an unexpected tagged line fails.
    pub fn run(&mut self, script: &str) {
        self.play(script, false);
    }

    /// [`Client::run`], but every line the server sends must be in the script: an untagged line
    /// it does not name fails too.
    pub fn run_exact(&mut self, script: &str) {
        self.play(script, true);
    }

    fn play(&mut self, script: &str, exact: bool) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(c) = line.strip_prefix("C: ") {
                self.send(format!("{c}\r\n").as_bytes());
            } else if let Some(expected) = line.strip_prefix("S: ") {
                let mut seen = Vec::new();
                loop {
                    let got = self
                        .try_line()
                        .unwrap_or_else(|e| panic!("waiting for {expected:?}: {e}; so far {seen:#?}"));
                    if matches(expected, &got) {
                        break;
                    }
                    let skippable = !exact && (got.starts_with("* ") || got.starts_with('+'));
                    seen.push(got);
                    assert!(skippable, "expected {expected:?}, got {seen:#?}");
                }
            } else {
                panic!("script line {line:?} must start with C: or S:");
            }
        }
    }
}

/// Matches a response line against a script's expected line. The first word is literal: `*` an
/// untagged response, `+` a continuation request, anything else a tag, so `* NO [..]` is never
/// satisfied by a tagged `a1 NO [..]`. In the rest of the line `*` stands for any run of
/// characters (and nothing else is special).
pub fn matches(pattern: &str, got: &str) -> bool {
    let (want_word, want_rest) = pattern.split_once(' ').unwrap_or((pattern, ""));
    let (got_word, got_rest) = got.split_once(' ').unwrap_or((got, ""));
    want_word == got_word && glob(want_rest, got_rest)
}

/// Glob match where `*` stands for any run of characters.
fn glob(pattern: &str, got: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == got;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !got.starts_with(first) || got.len() < first.len() + last.len() || !got.ends_with(last) {
        return false;
    }
    let mut rest = &got[first.len()..got.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

pub fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: {USER}\r\nSubject: {subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <{subject}@example.com>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Appends `n` generated messages over IMAP with MULTIAPPEND, 100 per command.
pub fn fill(s: &Server, mailbox: &str, n: usize) {
    let mut c = s.login();
    let mut corpus = applianced::corpus::Corpus::new(42);
    let mut i = 0;
    while i < n {
        let mut cmd = format!("fill{i} APPEND {mailbox}").into_bytes();
        for _ in 0..100.min(n - i) {
            let m = corpus.next_message();
            cmd.extend_from_slice(format!(" {{{}+}}\r\n", m.len()).as_bytes());
            cmd.extend_from_slice(&m);
            i += 1;
        }
        cmd.extend_from_slice(b"\r\n");
        c.send(&cmd);
        let tag =
            String::from_utf8_lossy(&cmd[..cmd.iter().position(|b| *b == b' ').unwrap_or(0)]).into_owned();
        let last = c.until(&tag).pop().unwrap_or_default();
        assert!(last.contains("OK [APPENDUID"), "{last}");
    }
}

/// A test that needs something this machine lacks (root, a tool) says so where `cargo test`
/// shows it even for a passing test (stderr itself, not the captured `eprintln!`), and returns.
/// Under CI (`CI` set, as `.ci/run` runs) nothing may be missing: `.ci/run` installs it all.
pub fn skip(test: &str, why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{test} cannot run under CI: {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The time of one NOOP, round trip.
pub fn noop(c: &mut Client, n: usize) -> Duration {
    let started = Instant::now();
    let done = c.cmd(&format!("n{n}"), "NOOP").pop().unwrap_or_default();
    assert!(done.starts_with(&format!("n{n} OK")), "{done}");
    started.elapsed()
}

/// Times the victim's NOOPs, every few milliseconds (as a person clicking would, not a flood of
/// its own), until `work` ends; at least five must have been timed, the slowest under `limit`.
pub fn noops_stay_quick(
    victim: &mut Client,
    work: std::thread::JoinHandle<Duration>,
    what: &str,
    limit: Duration,
) {
    let mut times = Vec::new();
    while !work.is_finished() {
        times.push(noop(victim, times.len()));
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = work.join().expect("work");
    let worst = times.iter().max().copied().unwrap_or_default();
    eprintln!("{what} took {took:?}; {} NOOPs meanwhile, the slowest {worst:?}", times.len());
    assert!(times.len() >= 5, "{what} ended before NOOPs could be timed ({took:?})");
    assert!(worst < limit, "slowest NOOP {worst:?} of {times:?}");
}
