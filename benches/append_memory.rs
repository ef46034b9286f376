//! `applianced-bench append-memory`: the server's peak memory for large APPENDs (issue 10,
//! item 10): one APPEND of a large message, several at once, and a message with one huge header
//! line. Each figure is measured on a fresh server (the release `applianced` next to this
//! program, run as systemd runs it, MALLOC_ARENA_MAX=2): its VmHWM after the APPENDs minus its
//! VmRSS before them, in MB (10^6 bytes), and as a multiple of one message's size.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use argh::FromArgs;

/// Peak server memory for large APPENDs (one, several at once, a huge header line).
#[derive(FromArgs)]
#[argh(subcommand, name = "append-memory")]
pub struct AppendMemoryBench {
    /// size of the large message in MB (default 60)
    #[argh(option, default = "60")]
    size_mb: usize,
    /// APPENDs of it at once for the second figure (default 5)
    #[argh(option, default = "5")]
    concurrent: usize,
    /// size of the header line of the third figure in MB (default 20)
    #[argh(option, default = "20")]
    header_mb: usize,
    /// applianced's `limits.literal_memory_mb` (default: the server's default)
    #[argh(option)]
    literal_memory_mb: Option<u64>,
}

const USER: &str = "bench@bench.test";
const PASSWORD: &str = "bench-secret-1";
const READ_TIMEOUT: Duration = Duration::from_secs(600);

type R<T> = Result<T, String>;

fn e<E: std::fmt::Display>(context: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{context}: {err}")
}

pub fn run(b: AppendMemoryBench) -> R<()> {
    let large = large_message(b.size_mb * 1_000_000);
    let header = header_line_message(b.header_mb * 1_000_000);
    let literal = large.len().max(header.len()) as u64;
    let dir = std::env::temp_dir().join(format!("applianced-bench-append-{}", std::process::id()));
    let result = (|| {
        let scenarios: [(String, Arc<Vec<u8>>, usize); 3] = [
            (format!("one {} MB APPEND", b.size_mb), Arc::new(large.clone()), 1),
            (format!("{} concurrent {} MB APPENDs", b.concurrent, b.size_mb), Arc::new(large), b.concurrent),
            (format!("one APPEND with a {} MB header line", b.header_mb), Arc::new(header), 1),
        ];
        println!("applianced peak memory (VmHWM after - VmRSS before, MB)");
        for (i, (name, msg, n)) in scenarios.into_iter().enumerate() {
            let server = Server::start(&dir.join(format!("s{i}")), literal, b.literal_memory_mb)?;
            let t = Instant::now();
            let grown = server.peak_growth(&msg, n)?;
            println!(
                "{name:<45} +{grown:>7.1} MB  ({:.2}x one message of {:.1} MB)  {:.1} s",
                grown / (msg.len() as f64 / 1e6),
                msg.len() as f64 / 1e6,
                t.elapsed().as_secs_f64()
            );
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A text part and a base64 attachment, about `size` bytes in all.
fn large_message(size: usize) -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.com>\r\nTo: bench@bench.test\r\nSubject: large\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--b\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while m.len() + line.len() + 8 < size {
        m.extend_from_slice(line);
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// A message whose Subject is one line of about `size` bytes.
fn header_line_message(size: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nSubject: ".to_vec();
    m.resize(size, b'x');
    m.extend_from_slice(b"\r\nTo: bench@bench.test\r\n\r\nbody\r\n");
    m
}

struct Server {
    port: u16,
    pid: u32,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

impl Server {
    /// `--init`s `data` with literals up to `literal` bytes allowed and serves it.
    fn start(data: &Path, literal: u64, literal_memory_mb: Option<u64>) -> R<Server> {
        let bin = sibling_binary("applianced")?;
        std::fs::create_dir_all(data).map_err(e("data dir"))?;
        let pw = data.with_extension("pw");
        std::fs::write(&pw, PASSWORD).map_err(e("pw"))?;
        let o = Command::new(&bin)
            .args(["--init", "--hostname", "bench.test", "--admin", USER, "--data-dir"])
            .arg(data)
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
        let literal = literal.max(32 << 20);
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("max_literal_size =") {
                    format!("max_literal_size = {literal}\n")
                } else if l.starts_with("literal_memory_mb =") {
                    // At least one literal must fit (the config check insists).
                    let floor = literal.div_ceil(1 << 20);
                    let mb = literal_memory_mb.unwrap_or_else(|| {
                        l.split('=').nth(1).and_then(|v| v.trim().parse().ok()).unwrap_or(128)
                    });
                    format!("literal_memory_mb = {}\n", mb.max(floor))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&cfg, text).map_err(e("config"))?;
        let mut child = Command::new(&bin)
            .arg("--data-dir")
            .arg(data)
            .env("MALLOC_ARENA_MAX", "2")
            .stderr(Stdio::piped())
            .spawn()
            .map_err(e("start applianced"))?;
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
        Ok(Server { port, pid, child })
    }

    fn status_mb(&self, field: &str) -> R<f64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).map_err(e("status"))?;
        let kb: f64 = text
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no {field} in /proc/{}/status", self.pid))?;
        Ok(kb * 1024.0 / 1e6)
    }

    /// `n` connections log in, then APPEND `msg` at once; the peak growth in MB.
    fn peak_growth(&self, msg: &Arc<Vec<u8>>, n: usize) -> R<f64> {
        let conns = (0..n).map(|_| Conn::login(self.port)).collect::<R<Vec<_>>>()?;
        std::thread::sleep(Duration::from_millis(200));
        let before = self.status_mb("VmRSS:")?;
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                let msg = msg.clone();
                std::thread::spawn(move || c.append(&msg))
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "client thread panicked")??;
        }
        Ok(self.status_mb("VmHWM:")? - before)
    }
}

/// A minimal IMAP client: enough to log in and APPEND.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn login(port: u16) -> R<Conn> {
        let w = TcpStream::connect(("127.0.0.1", port)).map_err(e("connect"))?;
        w.set_read_timeout(Some(READ_TIMEOUT)).map_err(e("timeout"))?;
        let r = BufReader::new(w.try_clone().map_err(e("clone"))?);
        let mut c = Conn { w, r };
        c.line()?;
        c.send(format!("l LOGIN {USER} {PASSWORD}\r\n").as_bytes())?;
        c.until("l ")?;
        Ok(c)
    }

    fn send(&mut self, bytes: &[u8]) -> R<()> {
        self.w.write_all(bytes).map_err(e("send"))
    }

    fn line(&mut self) -> R<String> {
        let mut line = String::new();
        let n = self.r.read_line(&mut line).map_err(e("read"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        Ok(line)
    }

    /// Reads up to the line starting with `prefix`; an error unless it is OK.
    fn until(&mut self, prefix: &str) -> R<String> {
        loop {
            let l = self.line()?;
            if let Some(rest) = l.strip_prefix(prefix) {
                return if rest.starts_with("OK") { Ok(l) } else { Err(l.trim_end().to_string()) };
            }
        }
    }

    fn append(&mut self, msg: &[u8]) -> R<()> {
        self.send(format!("a APPEND INBOX {{{}}}\r\n", msg.len()).as_bytes())?;
        let cont = self.line()?;
        if !cont.starts_with('+') {
            return Err(format!("APPEND refused: {}", cont.trim_end()));
        }
        self.send(msg)?;
        self.send(b"\r\n")?;
        self.until("a ")?;
        Ok(())
    }
}
