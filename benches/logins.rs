//! `applianced-bench logins`: password guessing from many connections and addresses against a
//! release applianced (issue 10 items 2 and 5), and what it costs the server and the real users.
//!
//! The guessers are `benches/login_flood.py` (Python binds each client socket to its source
//! address, 127.0.0.2 onwards; Rust's std cannot), each connection sending wrong LOGINs for an
//! account one after the other for the whole run. Meanwhile real users log in from 127.0.0.1
//! (an address that has not failed), each account once so that every one of them pays a full
//! argon2 check (a second login would hit the success cache). Printed: the guessers' answers,
//! the real users' login times, and the server's resident memory: fresh, peak (VmHWM), and once
//! it has settled after the run (the hash threads give their memory back when idle), with its
//! thread counts.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use argh::FromArgs;

/// Password guessing from many addresses: peak memory and the real users' login times.
#[derive(FromArgs)]
#[argh(subcommand, name = "logins")]
pub struct LoginsBench {
    /// guessing connections in all (default 500)
    #[argh(option, default = "500")]
    connections: usize,
    /// source addresses they come from, 127.0.0.2 onwards (default 10)
    #[argh(option, default = "10")]
    addresses: usize,
    /// seconds the guessing lasts (default 30)
    #[argh(option, default = "30")]
    seconds: u64,
    /// real users, each logging in once during the guessing (default 10)
    #[argh(option, default = "10")]
    users: usize,
    /// the server's `[limits] login_hash_threads` (default: its own, one per core)
    #[argh(option)]
    hash_threads: Option<usize>,
}

const FLOOD: &str = include_str!("login_flood.py");
const PASSWORD: &str = "bench-secret-1";
/// The bounds of issue 10 item 2.
const MEMORY_BOUND_MB: f64 = 128.0;
const LOGIN_BOUND: Duration = Duration::from_secs(2);

type R<T> = Result<T, String>;

fn e<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{context}: {err}")
}

fn user(i: usize) -> String {
    format!("real{i}@bench.test")
}

/// `key` of /proc/PID/status (kB, or a count for `Threads:`); 0 if absent.
fn status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn sibling_binary(name: &str) -> R<PathBuf> {
    let exe = std::env::current_exe().map_err(e("current_exe"))?;
    let path = exe.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} not found: build it with `cargo build --release`", path.display()))
    }
}

/// The serving process; stopped (SIGTERM, then SIGKILL) on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--init`s a data directory with `users` real accounts and the limits the run needs, and
/// serves it.
fn setup(dir: &Path, b: &LoginsBench, per_source: usize) -> R<Server> {
    let bin = sibling_binary("applianced")?;
    let data = dir.join("data");
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).map_err(e("pw"))?;
    let o = Command::new(&bin)
        .args(["--init", "--hostname", "bench.test", "--admin", &user(0), "--data-dir"])
        .arg(&data)
        .arg("--password-file")
        .arg(&pw)
        .args(["--imap-listen", "127.0.0.1:0", "--imaps-listen", "127.0.0.1:0"])
        .output()
        .map_err(e("applianced --init"))?;
    if !o.status.success() {
        return Err(format!("applianced --init: {}", String::from_utf8_lossy(&o.stderr)));
    }
    for i in 1..b.users {
        let o = Command::new(&bin)
            .arg("--data-dir")
            .arg(&data)
            .args(["user", "add", &user(i), "--password-file"])
            .arg(&pw)
            .output()
            .map_err(e("applianced user add"))?;
        if !o.status.success() {
            return Err(format!("user add: {}", String::from_utf8_lossy(&o.stderr)));
        }
    }
    let cfg = data.join(applianced::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg).map_err(e("config"))?;
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("max_connections =") {
                format!("max_connections = {}\n", b.connections + b.users + 100)
            } else if l.starts_with("max_connections_per_ip =") {
                format!("max_connections_per_ip = {}\n", per_source.max(b.users) + 10)
            } else if l.starts_with("login_hash_threads =")
                && let Some(n) = b.hash_threads
            {
                format!("login_hash_threads = {n}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&cfg, text).map_err(e("config"))?;
    // No MALLOC_ARENA_MAX: the bound must hold whatever the allocator's arena setting.
    let mut child = Command::new(&bin)
        .arg("--data-dir")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(e("start applianced"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut port = 0u16;
        // Drained to the end, so the server never blocks on a full pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("IMAP listening on ").nth(1) {
                port = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
            }
            if line.contains("serving") {
                let _ = tx.send(port);
            }
        }
    });
    let port = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| "applianced did not start")?;
    Ok(Server { child, port })
}

/// One real user's connect + LOGIN from 127.0.0.1; the time the LOGIN took.
fn real_login(port: u16, name: &str) -> R<Duration> {
    let w = TcpStream::connect(("127.0.0.1", port)).map_err(e("connect"))?;
    w.set_read_timeout(Some(Duration::from_secs(120))).map_err(e("timeout"))?;
    let mut r = BufReader::new(w.try_clone().map_err(e("clone"))?);
    let mut line = String::new();
    r.read_line(&mut line).map_err(e("greeting"))?;
    if !line.starts_with("* OK") {
        return Err(format!("greeting: {line}"));
    }
    let t = Instant::now();
    (&w).write_all(format!("r LOGIN {name} {PASSWORD}\r\n").as_bytes()).map_err(e("send"))?;
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(e("read"))? == 0 {
            return Err("closed during LOGIN".into());
        }
        if line.starts_with("r ") {
            break;
        }
    }
    let took = t.elapsed();
    if !line.starts_with("r OK") {
        return Err(format!("{name}: {}", line.trim_end()));
    }
    let _ = (&w).write_all(b"z LOGOUT\r\n");
    Ok(took)
}

pub fn run(b: LoginsBench) -> R<()> {
    if b.addresses == 0 || b.addresses > 250 || b.users == 0 || b.connections == 0 {
        return Err("--addresses must be 1 to 250, --users and --connections at least 1".into());
    }
    let per_source = b.connections.div_ceil(b.addresses);
    let dir = std::env::temp_dir().join(format!("applianced-bench-logins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(e("temp dir"))?;
    let result = measure(&dir, &b, per_source);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(dir: &Path, b: &LoginsBench, per_source: usize) -> R<()> {
    let server = setup(dir, b, per_source)?;
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let fresh = status(pid, "VmRSS:");
    let sources: Vec<String> = (0..b.addresses).map(|i| format!("127.0.0.{}", i + 2)).collect();
    let mut flood = Command::new("python3")
        .arg("-c")
        .arg(FLOOD)
        .args(["--port", &server.port.to_string(), "--sources", &sources.join(",")])
        .args(["--per-source", &per_source.to_string(), "--user", &user(0), "--password", "guess"])
        .args(["--rounds", "0", "--seconds", &b.seconds.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(e("python3"))?;
    let out = flood.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    let ready = lines.recv_timeout(Duration::from_secs(120)).map_err(|_| "the guessers did not start")?;
    println!(
        "logins: {} guessing connections ({} from each of {}), {} s, wrong passwords for {}; ready after {:.1} s: {ready}",
        per_source * b.addresses,
        per_source,
        sources.join(" "),
        b.seconds,
        user(0),
        started.elapsed().as_secs_f64()
    );
    // Memory and threads sampled while it runs (VmHWM gives the peak memory anyway).
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak_threads = 0;
            while !done.load(Ordering::Relaxed) {
                peak_threads = peak_threads.max(status(pid, "Threads:"));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak_threads
        })
    };
    // The real users, spread over the run (the first one a second in, when the guessing is
    // in full swing).
    let gap = Duration::from_secs(b.seconds).saturating_sub(Duration::from_secs(2)) / b.users as u32;
    let mut times = Vec::new();
    for i in 0..b.users {
        let at = Duration::from_secs(1) + gap * i as u32;
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        match real_login(server.port, &user(i)) {
            Ok(t) => times.push(t),
            Err(err) => println!("  real user {}: {err}", user(i)),
        }
    }
    let summary = lines
        .recv_timeout(Duration::from_secs(b.seconds + 120))
        .map_err(|_| "the guessers did not finish")?;
    let _ = flood.wait();
    done.store(true, Ordering::Relaxed);
    let peak_threads = sampler.join().unwrap_or(0);
    let elapsed = started.elapsed().as_secs_f64();
    // Attempts the throttle delayed are still checked after their clients left (up to 60 s),
    // then the hash threads give their memory back once idle: wait for that (up to 90 s).
    let ended = Instant::now();
    let mut after = status(pid, "VmRSS:");
    while mb(after) > mb(fresh) + 16.0 && ended.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(250));
        after = status(pid, "VmRSS:");
    }
    let settled = ended.elapsed().as_secs_f64();
    let (peak, threads_after) = (status(pid, "VmHWM:"), status(pid, "Threads:"));
    let checked = summary
        .split("\"AUTHENTICATIONFAILED\": ")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    println!("  guessers' answers: {summary} ({:.1} guesses checked per second)", checked / elapsed);
    times.sort_unstable();
    let worst = times.last().copied().unwrap_or_default();
    if let Some(median) = times.get(times.len() / 2) {
        println!(
            "  real users' logins from 127.0.0.1 ({} of {}, each a first login): median {:.0} ms, max {:.0} ms",
            times.len(),
            b.users,
            median.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3
        );
    }
    println!(
        "  server: RSS fresh {:.1} MB, peak (VmHWM) {:.1} MB, {:.1} MB {settled:.0} s after the guessing; threads peak {peak_threads}, after {threads_after}",
        mb(fresh),
        mb(peak),
        mb(after)
    );
    let within = mb(peak) < MEMORY_BOUND_MB && worst < LOGIN_BOUND && times.len() == b.users;
    println!(
        "  issue 10 item 2 bounds (peak under {MEMORY_BOUND_MB} MB, every real login under {} s): {}",
        LOGIN_BOUND.as_secs(),
        if within { "met" } else { "NOT met" }
    );
    Ok(())
}
