//! `applianced-bench connections`: the server's memory with many connections, and whether it
//! comes back (issue 11, part 4).
//!
//! On an INBOX of `--messages` corpus messages: `--rounds` times in a row, in one server,
//! `--idle` connections log in, SELECT INBOX and IDLE; resident memory is taken with all of them
//! open, then again after they all closed. Then `--readers` connections, logged in with INBOX
//! selected, all at once read what a client's first screen reads (the newest 50 UIDs with
//! `UID SEARCH RETURN (PARTIAL -1:-50)`, or the last 50 sequence numbers where PARTIAL is not
//! offered, then their ENVELOPE, FLAGS and size): the peak resident memory and thread count
//! during the burst, the time until every reader has its answer, and memory after they closed.
//! Dovecot runs the same in the same run, for comparison (a process per connection: its figure
//! is the whole process tree).

use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::imap::{Conn, PASSWORD, R, Server, USER, memory_mb, on_both_servers};

/// Memory with many IDLE connections, three times in a row, and many connections reading at once.
#[derive(FromArgs)]
#[argh(subcommand, name = "connections")]
pub struct ConnectionsBench {
    /// messages in the INBOX (default 100000)
    #[argh(option, default = "100_000")]
    messages: usize,
    /// IDLE connections per round (default 1000)
    #[argh(option, default = "1000")]
    idle: usize,
    /// rounds of IDLE connections in one server (default 3)
    #[argh(option, default = "3")]
    rounds: usize,
    /// connections reading at once (default 2000)
    #[argh(option, default = "2000")]
    readers: usize,
    /// MALLOC_ARENA_MAX for applianced: a number, or `unset` (default: unset, as a user running
    /// the binary by hand has it)
    #[argh(option, default = "String::from(\"unset\")")]
    malloc_arena_max: String,
    /// measure applianced only
    #[argh(switch)]
    skip_dovecot: bool,
}

/// Threads of applianced's process (Dovecot runs a single-threaded process per connection:
/// its figure is not comparable and is not taken).
fn threads(pid: u32, tree: bool) -> u64 {
    if tree {
        return 0;
    }
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("Threads:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Opens `n` connections, each LOGIN + SELECT INBOX + IDLE (pipelined, 50 at a time).
fn open_idle(port: u16, n: usize) -> R<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        let mut batch = Vec::new();
        for _ in 0..50.min(n - conns.len()) {
            let mut c = Conn::connect(port)?;
            c.send(format!("l LOGIN {USER} {PASSWORD}\r\ns SELECT INBOX\r\ni IDLE\r\n").as_bytes())?;
            batch.push(c);
        }
        for mut c in batch {
            loop {
                let l = String::from_utf8_lossy(&c.line()?).into_owned();
                if l.starts_with('+') {
                    break;
                }
                if l.starts_with("l NO") || l.starts_with("s NO") || l.starts_with("i BAD") {
                    return Err(format!("connection {}: {l}", conns.len()));
                }
            }
            conns.push(c);
        }
    }
    Ok(conns)
}

/// Closes connections the way clients do: DONE, LOGOUT, then the socket.
fn close_all(conns: Vec<Conn>) {
    for mut c in conns {
        let _ = c.send(b"DONE\r\nz LOGOUT\r\n");
        let _ = c.w.shutdown(std::net::Shutdown::Write);
    }
}

fn settle() {
    std::thread::sleep(Duration::from_secs(5));
}

fn measure(s: &Server, b: &ConnectionsBench) -> R<()> {
    // One login first, as a client's first connection: the others find it in the success cache.
    Conn::login(s.port)?.cmd("LOGOUT").ok();
    let base = memory_mb(s.pid, s.tree).0;
    println!("{}: {:.1} MB resident before any client", s.name, base);
    for round in 1..=b.rounds {
        let t = Instant::now();
        let conns = open_idle(s.port, b.idle)?;
        let open = t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(2));
        let (rss, pss) = memory_mb(s.pid, s.tree);
        let th = threads(s.pid, s.tree);
        close_all(conns);
        settle();
        let (after, _) = memory_mb(s.pid, s.tree);
        println!(
            "{}: round {round}: {} SELECT + IDLE opened in {open:.1} s: {rss:.1} MB resident (PSS {pss:.1} MB), {th} threads; {after:.1} MB after they closed",
            s.name, b.idle
        );
    }
    // The readers: connected and selected first, then all asked at once.
    let mut readers = Vec::with_capacity(b.readers);
    while readers.len() < b.readers {
        let mut batch = Vec::new();
        for _ in 0..50.min(b.readers - readers.len()) {
            let mut c = match Conn::connect(s.port) {
                Ok(c) => c,
                Err(err) => {
                    println!("{}: reader {} could not connect: {err}", s.name, readers.len() + batch.len());
                    return Ok(());
                }
            };
            c.send(format!("l LOGIN {USER} {PASSWORD}\r\ns SELECT INBOX\r\n").as_bytes())?;
            batch.push(c);
        }
        for mut c in batch {
            c.until("l")?;
            c.until("s")?;
            readers.push(c);
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let before = memory_mb(s.pid, s.tree).0;
    let first_screen = if s.partial {
        "f UID SEARCH RETURN (PARTIAL -1:-50) ALL\r\n".to_string()
    } else {
        format!("f FETCH {}:{} (UID)\r\n", b.messages.saturating_sub(49).max(1), b.messages)
    };
    let t = Instant::now();
    for c in &mut readers {
        c.send(first_screen.as_bytes())?;
        c.send(
            format!(
                "g FETCH {}:* (UID FLAGS RFC822.SIZE ENVELOPE)\r\n",
                b.messages.saturating_sub(49).max(1)
            )
            .as_bytes(),
        )?;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        let (pid, tree) = (s.pid, s.tree);
        std::thread::spawn(move || {
            let (mut peak, mut peak_threads) = (0.0f64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory_mb(pid, tree).0);
                peak_threads = peak_threads.max(threads(pid, tree));
                std::thread::sleep(Duration::from_millis(50));
            }
            (peak, peak_threads)
        })
    };
    for c in &mut readers {
        c.until("f")?;
        c.until("g")?;
    }
    let took = t.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (peak, peak_threads) = sampler.join().map_err(|_| "sampler panicked")?;
    close_all(readers);
    settle();
    let after = memory_mb(s.pid, s.tree).0;
    println!(
        "{}: {} readers at once: {before:.1} MB resident before, peak {peak:.1} MB, {peak_threads} threads at most, all answered in {took:.1} s; {after:.1} MB after they closed",
        s.name, b.readers
    );
    Ok(())
}

pub fn run(b: ConnectionsBench) -> R<()> {
    let arenas = Some(b.malloc_arena_max.clone());
    on_both_servers("connections", b.messages, b.idle.max(b.readers), b.skip_dovecot, arenas, |server| {
        if server.name == "applianced" {
            println!("applianced, MALLOC_ARENA_MAX {}", b.malloc_arena_max);
        }
        measure(server, &b)
    })
}
