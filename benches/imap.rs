//! `applianced-bench imap`: applianced and Dovecot side by side over IMAP, in the same run, with
//! the same corpus, at 0 ms and at 50 ms one-way latency (a delaying proxy inside the benchmark).
//!
//! Measured for each server: APPEND rate over one connection, the first access of a big INBOX the
//! way a desktop client does it (newest 50 envelopes), indexing every envelope, a QRESYNC resync
//! after 100 changes, push latency (IDLE and NOTIFY), one message pushed to C IDLE connections,
//! and the servers' memory with those C connections open.
//!
//! Dovecot is not installed by the benchmark: `apt-get install dovecot-imapd`. The benchmark runs
//! its own instance (its own `dovecot.conf` in a temporary directory, loopback, a free port) and
//! stops it at the end; it never touches a system instance.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use applianced::corpus::Corpus;
use applianced::events::Hub;
use applianced::imap::fetchdata;
use applianced::store::{NewMessage, SpecialUse, Store, StoreOptions, flag};
use argh::FromArgs;

/// Compare applianced with Dovecot over IMAP (Dovecot from `apt-get install dovecot-imapd`).
#[derive(FromArgs)]
#[argh(subcommand, name = "imap")]
pub struct ImapBench {
    /// messages in the big INBOX (default 100000)
    #[argh(option, default = "100_000")]
    pub(crate) messages: usize,
    /// messages in the small mailbox used for the second QRESYNC figure (default 10000)
    #[argh(option, default = "10_000")]
    pub(crate) small: usize,
    /// one-way latency added by the proxy, in ms (default: run both 0 and 50)
    #[argh(option)]
    pub(crate) latency_ms: Option<u64>,
    /// IDLE connections for the fan-out and memory figures (default 1000)
    #[argh(option, default = "1000")]
    pub(crate) idle_connections: usize,
    /// messages APPENDed for the APPEND rate (default 2000)
    #[argh(option, default = "2000")]
    pub(crate) appends: usize,
    /// measure applianced only
    #[argh(switch)]
    pub(crate) skip_dovecot: bool,
    /// applianced's `[store] cache_mb` (default: what `--init` writes)
    #[argh(option)]
    pub(crate) cache_mb: Option<usize>,
    /// corpus seed (default 1)
    #[argh(option, default = "1")]
    pub(crate) seed: u64,
    /// MALLOC_ARENA_MAX for applianced: a number, or `unset` to leave the environment without it
    /// (default: the caller's, else 2 as the systemd unit sets)
    #[argh(option)]
    pub(crate) malloc_arena_max: Option<String>,
}

pub(crate) const USER: &str = "bench@bench.test";
pub(crate) const PASSWORD: &str = "bench-secret-1";
/// Every read from a server gives up after this long: no step of the benchmark hangs.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) type R<T> = Result<T, String>;

pub(crate) fn e<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{context}: {err}")
}

// ---------------------------------------------------------------------------------------------
// A plain IMAP client: lines with their literals, tags, pipelining left to the caller.

pub(crate) struct Conn {
    pub(crate) w: TcpStream,
    r: BufReader<TcpStream>,
    next: u32,
}

impl Conn {
    pub(crate) fn connect(port: u16) -> R<Conn> {
        let w = TcpStream::connect(("127.0.0.1", port)).map_err(e("connect"))?;
        w.set_nodelay(true).map_err(e("nodelay"))?;
        w.set_read_timeout(Some(READ_TIMEOUT)).map_err(e("timeout"))?;
        let r = BufReader::with_capacity(1 << 16, w.try_clone().map_err(e("clone"))?);
        let mut c = Conn { w, r, next: 0 };
        let greeting = c.line()?;
        if !greeting.starts_with(b"* OK") {
            return Err(format!("greeting: {}", String::from_utf8_lossy(&greeting)));
        }
        Ok(c)
    }

    pub(crate) fn login(port: u16) -> R<Conn> {
        let mut c = Conn::connect(port)?;
        c.cmd(&format!("LOGIN {USER} {PASSWORD}"))?;
        Ok(c)
    }

    pub(crate) fn tag(&mut self) -> String {
        self.next += 1;
        format!("a{}", self.next)
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> R<()> {
        self.w.write_all(bytes).map_err(e("send"))
    }

    /// Sends a command without waiting; returns its tag.
    pub(crate) fn start(&mut self, command: &str) -> R<String> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes())?;
        Ok(tag)
    }

    /// One response line, with the literals it announces appended.
    pub(crate) fn line(&mut self) -> R<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let start = line.len();
            let n = self.r.read_until(b'\n', &mut line).map_err(e("read"))?;
            if n == 0 {
                return Err(format!("connection closed after {:?}", String::from_utf8_lossy(&line)));
            }
            let part = &line[start..];
            let part = part.strip_suffix(b"\r\n").unwrap_or(part);
            let Some(len) = part
                .strip_suffix(b"}")
                .and_then(|p| p.iter().rposition(|b| *b == b'{').map(|i| &p[i + 1..]))
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.trim_end_matches('+').parse::<usize>().ok())
            else {
                return Ok(line);
            };
            let at = line.len();
            line.resize(at + len, 0);
            self.r.read_exact(&mut line[at..]).map_err(e("read literal"))?;
        }
    }

    /// Reads up to the tagged response of `tag`, handing every untagged line to `f`.
    fn until_with(&mut self, tag: &str, mut f: impl FnMut(&[u8])) -> R<()> {
        let prefix = format!("{tag} ");
        loop {
            let l = self.line()?;
            if l.starts_with(prefix.as_bytes()) {
                if l[prefix.len()..].starts_with(b"OK") {
                    return Ok(());
                }
                return Err(String::from_utf8_lossy(&l).trim_end().to_string());
            }
            f(&l);
        }
    }

    pub(crate) fn until(&mut self, tag: &str) -> R<Vec<String>> {
        let mut out = Vec::new();
        self.until_with(tag, |l| out.push(String::from_utf8_lossy(l).trim_end().to_string()))?;
        Ok(out)
    }

    pub(crate) fn cmd(&mut self, command: &str) -> R<Vec<String>> {
        let tag = self.start(command)?;
        self.until(&tag)
    }
}

/// The number after `word` in `line` (`HIGHESTMODSEQ 42`, `UIDVALIDITY 7`).
fn number_after(line: &str, word: &str) -> Option<u64> {
    let rest = &line[line.find(word)? + word.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `* n EXISTS` in SELECT's answer.
pub(crate) fn exists(lines: &[String]) -> u64 {
    lines
        .iter()
        .find(|l| l.ends_with(" EXISTS"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The UID of a `* n FETCH (UID u ...)` line.
fn fetch_uid(line: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(&line[..line.len().min(100)]).ok()?;
    number_after(text, "UID ").and_then(|u| u32::try_from(u).ok())
}

// ---------------------------------------------------------------------------------------------
// The delaying proxy: a thread per direction reads chunks and stamps them, another writes each
// chunk once its time has come. Adds `delay` one way (so 2x to a round trip), bandwidth unlimited.

fn proxy(target: u16, delay: Duration) -> R<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(e("proxy bind"))?;
    let port = listener.local_addr().map_err(e("proxy addr"))?.port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                pipe(client, s2, delay);
                pipe(server, c2, delay);
            }
        }
    });
    Ok(port)
}

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

// ---------------------------------------------------------------------------------------------
// Memory of a process tree, from /proc.

/// (RSS, PSS) in MB of `pid` and, with `tree`, all its descendants.
pub(crate) fn memory_mb(pid: u32, tree: bool) -> (f64, f64) {
    let mut pids = vec![pid];
    if tree {
        let mut parent: HashMap<u32, u32> = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(p) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                // The field after the command's closing parenthesis is the state, then the ppid.
                if let Some(pp) = stat
                    .rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                    .and_then(|s| s.parse().ok())
                {
                    parent.insert(p, pp);
                }
            }
        }
        let mut i = 0;
        while i < pids.len() {
            let p = pids[i];
            pids.extend(parent.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
            i += 1;
        }
    }
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (mut rss, mut pss) = (0.0, 0.0);
    for p in pids {
        rss += field(&std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default(), "VmRSS:");
        pss += field(&std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default(), "Pss:");
    }
    (rss / 1024.0, pss / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// The two servers.

pub(crate) struct Server {
    pub(crate) name: &'static str,
    pub(crate) port: u16,
    pub(crate) pid: u32,
    /// Dovecot forks a process per connection: its memory is the whole tree under the master.
    pub(crate) tree: bool,
    /// Whether the PARTIAL fast path (UID SEARCH RETURN (PARTIAL ...)) is offered.
    pub(crate) partial: bool,
    /// (RSS, PSS) in MB right after start, before any client.
    fresh: (f64, f64),
    /// applianced's data directory (for `applianced user add` in a benchmark).
    pub(crate) data: Option<PathBuf>,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
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

fn free_port() -> R<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(e("bind"))?;
    Ok(l.local_addr().map_err(e("addr"))?.port())
}

/// Internal date of the corpus's message `n` (its Date: header), and whether it is seen.
fn date_of(n: usize) -> i64 {
    1_704_067_200 + n as i64 * 300
}
fn seen(n: usize) -> bool {
    n.is_multiple_of(3)
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

/// `--init` a data dir and fill its INBOX (and "Small") through the store directly, in batches
/// of 2,000 messages per commit: the same writes as `deliver`, without a fsync per message.
pub(crate) fn setup_applianced(dir: &Path, b: &ImapBench) -> R<Server> {
    let bin = sibling_binary("applianced")?;
    let data = dir.join("applianced");
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).map_err(e("pw"))?;
    let o = Command::new(&bin)
        .args(["--init", "--hostname", "bench.test", "--admin", USER, "--data-dir"])
        .arg(&data)
        .arg("--password-file")
        .arg(&pw)
        .args(["--imap-listen", "127.0.0.1:0", "--imaps-listen", "127.0.0.1:0"])
        .output()
        .map_err(e("applianced --init"))?;
    if !o.status.success() {
        return Err(format!("applianced --init: {}", String::from_utf8_lossy(&o.stderr)));
    }
    let cfg = data.join(applianced::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg).map_err(e("config"))?;
    let limit = b.idle_connections + 500;
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("max_connections =") {
                format!("max_connections = {limit}\n")
            } else if l.starts_with("max_connections_per_ip =") {
                format!("max_connections_per_ip = {limit}\n")
            } else if l.starts_with("sessions_per_account =") {
                // MAPI sessions of the benchmark's one account.
                format!("sessions_per_account = {limit}\n")
            } else if l.starts_with("max_unauthenticated =") || l.starts_with("max_unauthenticated_per_ip =")
            {
                // The clients connect 50 at a time from one address, as no real crowd does.
                let key = l.split(" =").next().unwrap_or_default();
                format!("{key} = {limit}\n")
            } else if l.starts_with("cache_mb =")
                && let Some(mb) = b.cache_mb
            {
                format!("cache_mb = {mb}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&cfg, text).map_err(e("config"))?;

    let t = Instant::now();
    let store =
        Store::open(&data.join(applianced::config::DB_FILE), &StoreOptions::default(), Arc::new(Hub::new()))
            .map_err(e("store"))?;
    let (inbox, small) = store
        .write_blocking(|t| {
            let account = t.account_id(USER)?;
            let inbox = t.mailbox_id(account, "INBOX")?;
            let small = t.create_mailbox(account, "Small", SpecialUse::None)?;
            Ok((inbox, small))
        })
        .map_err(e("mailboxes"))?;
    for (mailbox, count) in [(inbox, b.messages), (small, b.small)] {
        let mut corpus = Corpus::new(b.seed);
        let mut n = 0;
        while n < count {
            let batch: Vec<(Vec<u8>, Vec<u8>, usize)> = (n..count.min(n + 2000))
                .map(|i| {
                    let raw = corpus.next_message();
                    let data = fetchdata::compute(&raw).map(|d| d.encode()).unwrap_or_default();
                    (raw, data, i + 1)
                })
                .collect();
            n += batch.len();
            store
                .write_blocking(move |t| {
                    for (raw, data, i) in &batch {
                        let blob = t.put_blob(raw, data)?;
                        let flags = if seen(*i) { flag::SEEN } else { 0 };
                        let m = NewMessage {
                            blob,
                            flags,
                            keywords: vec![],
                            internal_date: date_of(*i),
                            tz_minutes: 0,
                        };
                        t.append(mailbox, &m)?;
                    }
                    Ok(())
                })
                .map_err(e("fill"))?;
        }
    }
    store.close();
    drop(store);
    println!("applianced filled through the store in {:.1} s", t.elapsed().as_secs_f64());

    // As systemd/applianced.service runs it (unless the caller chose otherwise).
    let arenas = b
        .malloc_arena_max
        .clone()
        .or_else(|| std::env::var("MALLOC_ARENA_MAX").ok())
        .unwrap_or_else(|| "2".into());
    let mut cmd = Command::new(&bin);
    cmd.arg("--data-dir").arg(&data).stderr(Stdio::piped());
    if arenas == "unset" {
        cmd.env_remove("MALLOC_ARENA_MAX");
    } else {
        cmd.env("MALLOC_ARENA_MAX", arenas);
    }
    let mut child = cmd.spawn().map_err(e("start applianced"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut port = 0u16;
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
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    let fresh = memory_mb(pid, false);
    Ok(Server { name: "applianced", port, pid, tree: false, partial: true, fresh, data: Some(data), child })
}

/// (uid, gid) of a user from /etc/passwd.
fn passwd_ids(user: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(user))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> R<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(e("chown"))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(e("read_dir"))?.flatten() {
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// For the benchmarks that measure one scenario on both servers (`cpu`, `connections`): sets up
/// applianced, then (unless `--skip-dovecot`) Dovecot, each with an INBOX of `messages` corpus
/// messages and room for `connections`, runs `measure` on each, and removes the directory.
pub(crate) fn on_both_servers(
    tag: &str,
    messages: usize,
    connections: usize,
    skip_dovecot: bool,
    malloc_arena_max: Option<String>,
    mut measure: impl FnMut(&Server) -> R<()>,
) -> R<()> {
    let version = if skip_dovecot { None } else { Some(dovecot_version()?) };
    let dir = std::env::temp_dir().join(format!("applianced-bench-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(e("temp dir"))?;
    let setup = ImapBench {
        messages,
        small: 0,
        latency_ms: None,
        idle_connections: connections,
        appends: 0,
        skip_dovecot,
        cache_mb: None,
        seed: 1,
        malloc_arena_max,
    };
    let result = (|| {
        measure(&setup_applianced(&dir, &setup)?)?;
        if let Some(v) = version {
            println!("Dovecot {v}");
            measure(&setup_dovecot(&dir, &setup, &v)?)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

pub(crate) fn dovecot_version() -> R<String> {
    let o = Command::new("dovecot")
        .arg("--version")
        .output()
        .map_err(|_| "dovecot is not installed: apt-get install dovecot-imapd (Debian/Ubuntu)".to_string())?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn write_maildir_file(dir: &Path, i: usize, raw: &[u8]) -> R<()> {
    let flags = if seen(i) { "S" } else { "" };
    let name = format!("{}.M{i}P1.bench,S={}:2,{flags}", date_of(i), raw.len());
    let path = dir.join("cur").join(name);
    let f = std::fs::File::create(&path).map_err(e("maildir file"))?;
    (&f).write_all(raw).map_err(e("maildir write"))?;
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date_of(i)).unwrap_or(0));
    f.set_modified(mtime).map_err(e("mtime"))?;
    Ok(())
}

/// A Dovecot of our own: config, Maildir filled with the same corpus, indexes built, started.
pub(crate) fn setup_dovecot(dir: &Path, b: &ImapBench, version: &str) -> R<Server> {
    let root = dir.join("dovecot");
    let mail = root.join("mail");
    let home = root.join("home");
    for d in ["run", "state", "home"] {
        std::fs::create_dir_all(root.join(d)).map_err(e("dovecot dirs"))?;
    }
    let t = Instant::now();
    let inbox = mail.join(USER);
    let small = inbox.join(".Small");
    for d in [&inbox, &small] {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(d.join(sub)).map_err(e("maildir"))?;
        }
    }
    std::fs::write(small.join("maildirfolder"), b"").map_err(e("maildirfolder"))?;
    let mut corpus = Corpus::new(b.seed);
    for i in 1..=b.messages.max(b.small) {
        let raw = corpus.next_message();
        if i <= b.messages {
            write_maildir_file(&inbox, i, &raw)?;
        }
        if i <= b.small {
            write_maildir_file(&small, i, &raw)?;
        }
    }
    // Mail is owned by an unprivileged user (the `dovecot` one when we are root): Dovecot does not
    // access mail as root.
    let me = std::fs::metadata(&root).map_err(e("meta"))?;
    let (uid, gid) = if std::os::unix::fs::MetadataExt::uid(&me) == 0 {
        let ids = passwd_ids("dovecot").ok_or("no `dovecot` user: is dovecot-imapd installed?")?;
        chown_tree(&mail, ids.0, ids.1)?;
        chown_tree(&home, ids.0, ids.1)?;
        ids
    } else {
        (std::os::unix::fs::MetadataExt::uid(&me), std::os::unix::fs::MetadataExt::gid(&me))
    };
    let port = free_port()?;
    let cleartext = if version.starts_with("2.3") || version.starts_with("2.2") {
        "disable_plaintext_auth = no"
    } else {
        "auth_allow_cleartext = yes"
    };
    let c = b.idle_connections + 200;
    let conf = root.join("dovecot.conf");
    let text = format!(
        r#"# Written by applianced-bench imap: a private instance on loopback.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
{cleartext}
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{mail}/%u
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
default_process_limit = {c}
default_client_limit = {cl}
default_vsz_limit = 1G
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  client_limit = {cl}
}}
protocol imap {{
  mail_max_userip_connections = {c}
}}
"#,
        root = root.display(),
        mail = mail.display(),
        home = home.display(),
        cl = 4 * c + 100,
    );
    std::fs::write(&conf, text).map_err(e("dovecot.conf"))?;
    let child = Command::new("dovecot")
        .arg("-c")
        .arg(&conf)
        .arg("-F")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(e("start dovecot"))?;
    let pid = child.id();
    let mut server = Server {
        name: "Dovecot",
        port,
        pid,
        tree: true,
        partial: false,
        fresh: (0.0, 0.0),
        data: None,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if Conn::connect(port).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default();
            return Err(format!("dovecot did not start; log:\n{log}"));
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default();
            return Err(format!("dovecot exited ({status}); log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (what, args) in [("index", vec!["INBOX"]), ("index", vec!["Small"])] {
        let o = Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .args([what, "-u", USER])
            .args(&args)
            .output()
            .map_err(e("doveadm"))?;
        if !o.status.success() {
            return Err(format!("doveadm {what}: {}", String::from_utf8_lossy(&o.stderr)));
        }
    }
    let o = Command::new("doveadm")
        .arg("-c")
        .arg(&conf)
        .args(["mailbox", "status", "-u", USER, "all", "INBOX"])
        .output()
        .map_err(e("doveadm"))?;
    println!(
        "Dovecot Maildir filled and indexed in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&o.stdout).trim()
    );
    std::thread::sleep(Duration::from_millis(500));
    server.fresh = memory_mb(pid, true);
    Ok(server)
}

// ---------------------------------------------------------------------------------------------
// The measurements. Each returns a figure with its unit, or an error that becomes "failed" in
// the table.

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// APPEND of `msgs` over one connection, pipelined with LITERAL+ (each APPEND its own command).
fn append_rate(port: u16, msgs: &Arc<Vec<Vec<u8>>>) -> R<f64> {
    let mut c = Conn::login(port)?;
    let _ = c.cmd("CREATE Bench");
    let mut w = c.w.try_clone().map_err(e("clone"))?;
    let msgs2 = msgs.clone();
    let t = Instant::now();
    let writer = std::thread::spawn(move || -> R<()> {
        let mut buf = Vec::new();
        for (i, m) in msgs2.iter().enumerate() {
            buf.extend_from_slice(format!("p{i} APPEND Bench {{{}+}}\r\n", m.len()).as_bytes());
            buf.extend_from_slice(m);
            buf.extend_from_slice(b"\r\n");
            if buf.len() > 1 << 16 {
                w.write_all(&buf).map_err(e("append send"))?;
                buf.clear();
            }
        }
        w.write_all(&buf).map_err(e("append send"))
    });
    for i in 0..msgs.len() {
        c.until_with(&format!("p{i}"), |_| {})?;
    }
    let rate = msgs.len() as f64 / t.elapsed().as_secs_f64();
    writer.join().map_err(|_| "writer panicked")??;
    let _ = c.cmd("LOGOUT");
    Ok(rate)
}

/// Desktop first access, classic path: SELECT and UID FETCH 1:* (UID FLAGS) pipelined, then the
/// newest 50 envelopes. Returns ms from SELECT to the last envelope.
fn first_access_classic(port: u16) -> R<f64> {
    let mut c = Conn::login(port)?;
    let t = Instant::now();
    let sel = c.start("SELECT INBOX")?;
    let fetch = c.start("UID FETCH 1:* (UID FLAGS)")?;
    c.until(&sel)?;
    let mut uids = Vec::new();
    c.until_with(&fetch, |l| uids.extend(fetch_uid(l)))?;
    let newest: Vec<String> = uids.iter().rev().take(50).map(u32::to_string).collect();
    let mut n = 0;
    let tag = c.start(&format!("UID FETCH {} (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE)", newest.join(",")))?;
    c.until_with(&tag, |_| n += 1)?;
    let took = ms(t.elapsed());
    if n < newest.len() {
        return Err(format!("{n} envelopes"));
    }
    let _ = c.cmd("LOGOUT");
    Ok(took)
}

/// Fast path: SELECT and UID SEARCH RETURN (PARTIAL -1:-50) ALL pipelined, then those envelopes.
fn first_access_partial(port: u16) -> R<f64> {
    let mut c = Conn::login(port)?;
    let t = Instant::now();
    let sel = c.start("SELECT INBOX")?;
    let search = c.start("UID SEARCH RETURN (PARTIAL -1:-50) ALL")?;
    c.until(&sel)?;
    let lines = c.until(&search)?;
    let set = lines
        .iter()
        .find(|l| l.starts_with("* ESEARCH"))
        .and_then(|l| l.split("PARTIAL (").nth(1))
        .and_then(|r| r.split(' ').nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .ok_or_else(|| format!("no PARTIAL result: {lines:?}"))?;
    let mut n = 0;
    let tag = c.start(&format!("UID FETCH {set} (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE)"))?;
    c.until_with(&tag, |_| n += 1)?;
    let took = ms(t.elapsed());
    if n < 50 {
        return Err(format!("{n} envelopes"));
    }
    let _ = c.cmd("LOGOUT");
    Ok(took)
}

/// UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE): (ms, ms to the first FETCH
/// response, messages, MB received).
fn index_all(port: u16) -> R<(f64, f64, usize, f64)> {
    let mut c = Conn::login(port)?;
    c.cmd("EXAMINE INBOX")?;
    let t = Instant::now();
    let (mut n, mut bytes, mut first) = (0, 0usize, None);
    let tag = c.start("UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE)")?;
    c.until_with(&tag, |l| {
        first = first.or_else(|| Some(ms(t.elapsed())));
        n += 1;
        bytes += l.len();
    })?;
    let took = ms(t.elapsed());
    let _ = c.cmd("LOGOUT");
    Ok((took, first.unwrap_or(took), n, bytes as f64 / 1e6))
}

/// QRESYNC after 100 changes made by another connection (50 flagged, 50 expunged): ms of
/// `SELECT mailbox (QRESYNC (v m))`, and the VANISHED and FETCH lines it brought.
fn qresync(port: u16, mailbox: &str, round: usize) -> R<(f64, usize, usize)> {
    let mut a = Conn::login(port)?;
    a.cmd("ENABLE QRESYNC")?;
    let lines = a.cmd(&format!("SELECT {mailbox} (CONDSTORE)"))?;
    let joined = lines.join("\n");
    let validity = number_after(&joined, "UIDVALIDITY").ok_or("no UIDVALIDITY")?;
    let modseq = number_after(&joined, "HIGHESTMODSEQ").ok_or("no HIGHESTMODSEQ")?;
    let count = exists(&lines);
    let _ = a.cmd("LOGOUT");

    let mut b = Conn::login(port)?;
    b.cmd(&format!("SELECT {mailbox}"))?;
    let step = (count / 100).max(1);
    // Each round (latency) picks other messages, so that every flag change is a real change.
    let seqs: Vec<String> = (0..100).map(|i| (1 + i * step + round as u64).min(count).to_string()).collect();
    b.cmd(&format!("STORE {} +FLAGS.SILENT (\\Flagged)", seqs[..50].join(",")))?;
    b.cmd(&format!("STORE {} +FLAGS.SILENT (\\Deleted)", seqs[50..].join(",")))?;
    b.cmd("EXPUNGE")?;
    let _ = b.cmd("LOGOUT");

    let mut c = Conn::login(port)?;
    c.cmd("ENABLE QRESYNC")?;
    let t = Instant::now();
    let lines = c.cmd(&format!("SELECT {mailbox} (QRESYNC ({validity} {modseq}))"))?;
    let took = ms(t.elapsed());
    let vanished = lines.iter().filter(|l| l.starts_with("* VANISHED")).count();
    let fetches = lines.iter().filter(|l| l.contains(" FETCH ")).count();
    let _ = c.cmd("LOGOUT");
    Ok((took, vanished, fetches))
}

/// Reads lines in a thread and reports when one contains `needle`.
fn watch(mut c: Conn, needle: &'static str, tx: mpsc::Sender<(&'static str, Instant)>) {
    std::thread::spawn(move || {
        while let Ok(l) = c.line() {
            if l.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                let _ = tx.send((needle, Instant::now()));
            }
        }
    });
}

/// Push latency: ms from sending an APPEND (another connection) to `* n EXISTS` on an IDLE
/// connection and to `* STATUS` on a NOTIFY connection; medians of `samples`.
fn push_latency(port: u16, samples: usize) -> R<(f64, f64)> {
    let (tx, rx) = mpsc::channel();
    let mut idle = Conn::login(port)?;
    idle.cmd("SELECT INBOX")?;
    let tag = idle.start("IDLE")?;
    let l = idle.line()?;
    if !l.starts_with(b"+") {
        return Err(format!("IDLE ({tag}): {}", String::from_utf8_lossy(&l)));
    }
    let idle_sock = idle.w.try_clone().map_err(e("clone"))?;
    watch(idle, " EXISTS", tx.clone());
    let mut notify = Conn::login(port)?;
    notify.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")?;
    let notify_sock = notify.w.try_clone().map_err(e("clone"))?;
    watch(notify, "* STATUS", tx);
    let mut app = Conn::login(port)?;
    let msg = Corpus::new(99).next_message();
    let (mut to_idle, mut to_notify) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        while rx.try_recv().is_ok() {}
        let t = Instant::now();
        let tag = app.tag();
        let mut cmd = format!("{tag} APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
        cmd.extend_from_slice(&msg);
        cmd.extend_from_slice(b"\r\n");
        app.send(&cmd)?;
        let (mut gi, mut gn) = (None, None);
        let deadline = t + Duration::from_secs(10);
        while gi.is_none() || gn.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((" EXISTS", at)) => gi = gi.or(Some(ms(at - t))),
                Ok((_, at)) => gn = gn.or(Some(ms(at - t))),
                Err(_) => break,
            }
        }
        app.until(&tag)?;
        to_idle.push(gi.ok_or("no EXISTS pushed to IDLE within 10 s")?);
        if let Some(n) = gn {
            to_notify.push(n);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = idle_sock.shutdown(std::net::Shutdown::Both);
    let _ = notify_sock.shutdown(std::net::Shutdown::Both);
    let _ = app.cmd("LOGOUT");
    Ok((median(to_idle), if to_notify.is_empty() { f64::NAN } else { median(to_notify) }))
}

struct Fanout {
    opened: usize,
    open_secs: f64,
    before: (f64, f64),
    after: (f64, f64),
    last_ms: f64,
    median_ms: f64,
}

/// C connections LOGIN, SELECT INBOX and IDLE; memory before and after; one APPEND; ms until the
/// last of them has its `* n EXISTS`.
fn idle_fanout(s: &Server, count: usize) -> R<Fanout> {
    std::thread::sleep(Duration::from_millis(500));
    let before = memory_mb(s.pid, s.tree);
    let t = Instant::now();
    let deadline = t + Duration::from_secs(300);
    let mut conns: Vec<Conn> = Vec::with_capacity(count);
    while conns.len() < count && Instant::now() < deadline {
        // Batches of 50, pipelined: LOGIN, SELECT, IDLE sent at once, then wait for "+ idling".
        let mut batch = Vec::new();
        for _ in 0..50.min(count - conns.len()) {
            let mut c = Conn::connect(s.port)?;
            c.send(format!("l LOGIN {USER} {PASSWORD}\r\ns SELECT INBOX\r\ni IDLE\r\n").as_bytes())?;
            batch.push(c);
        }
        for mut c in batch {
            loop {
                let l = c.line()?;
                if l.starts_with(b"+") {
                    break;
                }
                if l.starts_with(b"l NO") || l.starts_with(b"s NO") || l.starts_with(b"i BAD") {
                    return Err(format!("connection {}: {}", conns.len(), String::from_utf8_lossy(&l)));
                }
            }
            conns.push(c);
        }
    }
    let open_secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let after = memory_mb(s.pid, s.tree);
    let mut app = Conn::login(s.port)?;
    let msg = Corpus::new(98).next_message();
    let t = Instant::now();
    let tag = app.tag();
    let mut cmd = format!("{tag} APPEND INBOX {{{}+}}\r\n", msg.len()).into_bytes();
    cmd.extend_from_slice(&msg);
    cmd.extend_from_slice(b"\r\n");
    app.send(&cmd)?;
    let mut arrivals = Vec::with_capacity(conns.len());
    for c in &mut conns {
        loop {
            let l = c.line()?;
            if l.ends_with(b"EXISTS\r\n") {
                break;
            }
        }
        arrivals.push(ms(t.elapsed()));
    }
    let last_ms = ms(t.elapsed());
    app.until(&tag)?;
    for c in &conns {
        let _ = c.w.shutdown(std::net::Shutdown::Both);
    }
    let opened = conns.len();
    drop(conns);
    Ok(Fanout { opened, open_secs, before, after, last_ms, median_ms: median(arrivals) })
}

// ---------------------------------------------------------------------------------------------

/// Results: (measure, server, latency) -> text.
struct Table {
    rows: Vec<String>,
    cells: HashMap<(String, &'static str, u64), (String, f64)>,
}

impl Table {
    fn put(&mut self, measure: &str, server: &'static str, lat: u64, text: String, value: f64) {
        if !self.rows.iter().any(|r| r == measure) {
            self.rows.push(measure.to_string());
        }
        println!("  {server} @{lat} ms: {measure}: {text}");
        self.cells.insert((measure.to_string(), server, lat), (text, value));
    }
    fn fail(&mut self, measure: &str, server: &'static str, lat: u64, err: &str) {
        self.put(
            measure,
            server,
            lat,
            format!("failed: {}", err.chars().take(80).collect::<String>()),
            f64::NAN,
        );
    }

    fn print(&self, latencies: &[u64]) -> String {
        let mut out = String::new();
        for &lat in latencies {
            out.push_str(&format!(
                "\n### {lat} ms one-way latency\n\n| measure | applianced | Dovecot | Dovecot / applianced (times, memory: >1 favours applianced; msg/s: <1) |\n|---|---|---|---|\n"
            ));
            for r in &self.rows {
                let a = self.cells.get(&(r.clone(), "applianced", lat));
                let d = self.cells.get(&(r.clone(), "Dovecot", lat));
                if a.is_none() && d.is_none() {
                    continue;
                }
                let ratio = match (a, d) {
                    (Some((_, x)), Some((_, y))) if x.is_finite() && y.is_finite() && *x > 0.0 => {
                        format!("{:.2}", y / x)
                    }
                    _ => String::new(),
                };
                let cell = |c: Option<&(String, f64)>| c.map_or("—".to_string(), |(t, _)| t.clone());
                out.push_str(&format!("| {r} | {} | {} | {ratio} |\n", cell(a), cell(d)));
            }
        }
        out
    }
}

fn measure(
    s: &Server,
    port: u16,
    lat: u64,
    round: usize,
    b: &ImapBench,
    msgs: &Arc<Vec<Vec<u8>>>,
    t: &mut Table,
) {
    let name = s.name;
    println!("{name}, {lat} ms one-way:");
    match append_rate(port, msgs) {
        Ok(r) => t.put("APPEND, 1 connection, LITERAL+ pipelined (msg/s)", name, lat, format!("{r:.0}"), r),
        Err(err) => t.fail("APPEND, 1 connection, LITERAL+ pipelined (msg/s)", name, lat, &err),
    }
    let m = "first access: newest 50 envelopes, classic (SELECT, UID FETCH 1:* FLAGS, FETCH 50) (ms)";
    match (0..3).map(|_| first_access_classic(port)).collect::<R<Vec<f64>>>() {
        Ok(v) => {
            let med = median(v.clone());
            t.put(m, name, lat, format!("{med:.0} (first {:.0})", v[0]), med);
        }
        Err(err) => t.fail(m, name, lat, &err),
    }
    let m = "first access: newest 50 envelopes, SEARCH RETURN (PARTIAL -1:-50) (ms)";
    if s.partial {
        match (0..3).map(|_| first_access_partial(port)).collect::<R<Vec<f64>>>() {
            Ok(v) => {
                let med = median(v.clone());
                t.put(m, name, lat, format!("{med:.0} (first {:.0})", v[0]), med);
            }
            Err(err) => t.fail(m, name, lat, &err),
        }
    } else {
        t.put(m, name, lat, "no PARTIAL".into(), f64::NAN);
    }
    let m = "index all envelopes: UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE) (ms)";
    // Twice: Dovecot parses every message for the first one and fills its cache file; the second
    // one is served from that cache.
    match index_all(port).and_then(|first| Ok((first, index_all(port)?))) {
        Ok(((first, first_byte, n, mb), (second, _, _, _))) => {
            let text = format!(
                "{first:.0}, again {second:.0} (first response after {first_byte:.0}; {n} msgs, {mb:.0} MB)"
            );
            t.put(m, name, lat, text, first);
        }
        Err(err) => t.fail(m, name, lat, &err),
    }
    for (mailbox, size) in [("Small", b.small), ("INBOX", b.messages)] {
        let m = format!("QRESYNC SELECT after 50 flag changes + 50 expunges, {size} msgs (ms)");
        match qresync(port, mailbox, round) {
            Ok((took, v, f)) => t.put(&m, name, lat, format!("{took:.1} ({v} VANISHED, {f} FETCH)"), took),
            Err(err) => t.fail(&m, name, lat, &err),
        }
    }
    match push_latency(port, 20) {
        Ok((idle, notify)) => {
            t.put(
                "new message -> IDLE `* n EXISTS`, median of 20 (ms)",
                name,
                lat,
                format!("{idle:.1}"),
                idle,
            );
            t.put(
                "new message -> NOTIFY `* STATUS`, median of 20 (ms)",
                name,
                lat,
                format!("{notify:.1}"),
                notify,
            );
        }
        Err(err) => t.fail("new message -> IDLE `* n EXISTS`, median of 20 (ms)", name, lat, &err),
    }
}

pub fn run(b: ImapBench) -> R<()> {
    let latencies: Vec<u64> = match b.latency_ms {
        Some(l) => vec![l],
        None => vec![0, 50],
    };
    let version = if b.skip_dovecot { None } else { Some(dovecot_version()?) };
    let dir = std::env::temp_dir().join(format!("applianced-bench-imap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(e("temp dir"))?;
    let result = run_in(&b, &dir, &latencies, version.as_deref());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(b: &ImapBench, dir: &Path, latencies: &[u64], version: Option<&str>) -> R<()> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the start: {}", load.trim());
    // Dovecot's IDLE watches the mailbox with one inotify instance per process (per connection);
    // past the per-user limit it falls back to polling every 30 s (mailbox_idle_check_interval).
    let inotify: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if version.is_some() && inotify < b.idle_connections + 50 {
        println!(
            "warning: fs.inotify.max_user_instances = {inotify}: Dovecot's IDLE connections beyond it poll every 30 s; \
             for a fair fan-out figure run `sysctl fs.inotify.max_user_instances={}` first",
            b.idle_connections + 200
        );
    }
    // Each IDLE connection is a descriptor here and one in applianced (which inherits our limit).
    let files: usize = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(usize::MAX);
    if files < b.idle_connections + 200 {
        return Err(format!(
            "open files limited to {files}, below {} IDLE connections: run `ulimit -n 65536` first",
            b.idle_connections
        ));
    }
    let mut servers = vec![setup_applianced(dir, b)?];
    if let Some(v) = version {
        servers.push(setup_dovecot(dir, b, v)?);
    }
    let mut corpus = Corpus::new(b.seed + 1000);
    let msgs: Arc<Vec<Vec<u8>>> = Arc::new((0..b.appends).map(|_| corpus.next_message()).collect());
    let mut table = Table { rows: Vec::new(), cells: HashMap::new() };
    for s in &servers {
        for (round, &lat) in latencies.iter().enumerate() {
            let port = if lat == 0 { s.port } else { proxy(s.port, Duration::from_millis(lat))? };
            measure(s, port, lat, round, b, &msgs, &mut table);
        }
        // Fan-out and memory without the proxy (it would need four threads per connection).
        let lat = latencies[0];
        match idle_fanout(s, b.idle_connections) {
            Ok(f) => {
                let c = f.opened;
                table.put(
                    &format!("one new message pushed to {c} IDLE connections: last EXISTS (ms)"),
                    s.name,
                    lat,
                    format!("{:.0} (median {:.0})", f.last_ms, f.median_ms),
                    f.last_ms,
                );
                table.put(
                    &format!("time to open {c} connections (LOGIN, SELECT INBOX, IDLE) (s)"),
                    s.name,
                    lat,
                    format!("{:.2}", f.open_secs),
                    f.open_secs,
                );
                table.put(
                    "server memory right after start: RSS / PSS (MB)",
                    s.name,
                    lat,
                    format!("{:.0} / {:.0}", s.fresh.0, s.fresh.1),
                    s.fresh.1,
                );
                table.put(
                    "server memory after the tests above, no client: RSS / PSS (MB)",
                    s.name,
                    lat,
                    format!("{:.0} / {:.0}", f.before.0, f.before.1),
                    f.before.1,
                );
                table.put(
                    &format!("server memory with {c} IDLE connections: RSS / PSS (MB)"),
                    s.name,
                    lat,
                    format!("{:.0} / {:.0}", f.after.0, f.after.1),
                    f.after.1,
                );
                let per = (f.after.1 - f.before.1) * 1024.0 / c.max(1) as f64;
                table.put("memory per IDLE connection, PSS (KB)", s.name, lat, format!("{per:.0}"), per);
            }
            Err(err) => table.fail("IDLE fan-out", s.name, lat, &err),
        }
    }
    let applianced_version = env!("CARGO_PKG_VERSION");
    println!("\n## Results\n");
    println!("machine: {}", crate::store::machine());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    println!(
        "applianced {applianced_version} (release build), Dovecot {}; {} messages in INBOX, {} in Small, corpus seed {}",
        version.unwrap_or("skipped"),
        b.messages,
        b.small,
        b.seed
    );
    println!("{}", table.print(latencies));
    Ok(())
}
