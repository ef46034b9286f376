//! Store reads on a bounded pool (issue 11 part 4): 2,000 connections reading at once are all
//! answered, in bounded time, while the server's threads stay few. Before, every concurrent read
//! ran on a `smol::unblock` thread of its own, up to 500 of them, each with its own allocator
//! arena.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, PASSWORD, Server, USER};

/// `key` from /proc/PID/status (the number before any unit).
fn status(pid: u32, key: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The soft limit on open files of this process (the server inherits it).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(1024)
}

#[test]
fn two_thousand_connections_reading_at_once_keep_the_threads_bounded() {
    // Each client holds two descriptors here (the stream and its reader's clone), one in the
    // server: as many as the limit allows, up to 2,000.
    let n = 2000.min(open_files_limit().saturating_sub(200) / 2);
    if n < 2000 {
        eprintln!("open files limited to {}: {n} connections instead of 2,000", open_files_limit());
    }
    let s = Server::start(
        "reads-2000",
        "limits.max_connections = 2100\n\
         limits.max_connections_per_ip = 2100\n\
         limits.login_failures_before_delay = 100000",
    );
    common::fill(&s, "INBOX", 200);
    let pid = s.pid();
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    // One login pays the hash; the others find it in the success cache.
    let mut clients: Vec<Client> = (0..n)
        .map(|_| {
            let mut c = s.connect();
            c.run(&format!("C: L LOGIN {USER} {PASSWORD}\nS: L OK *"));
            c
        })
        .collect();
    let idle_threads = status(pid, "Threads:");

    // The server's thread count, sampled while the reads run.
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, most) = (done.clone(), most.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(status(pid, "Threads:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let started = Instant::now();
    for c in &mut clients {
        c.send(b"r1 SELECT INBOX\r\nr2 FETCH 1:* (UID FLAGS RFC822.SIZE)\r\nr3 UID SEARCH UNSEEN\r\n");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let lines = c.until("r3");
        let ok = lines.iter().filter(|l| l.starts_with("r1 OK") || l.starts_with("r2 OK")).count();
        assert_eq!(ok, 2, "connection {i}: {lines:?}");
        assert_eq!(lines.iter().filter(|l| l.starts_with("* ") && l.contains(" FETCH ")).count(), 200);
        assert!(lines.last().is_some_and(|l| l.starts_with("r3 OK")), "connection {i}: {lines:?}");
    }
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let most = most.load(Ordering::Relaxed);
    let peak_kb = status(pid, "VmHWM:");
    eprintln!(
        "{n} connections x 3 reads: {took:?}; threads {idle_threads} idle, {most} at most; \
         peak resident {peak_kb} kB"
    );
    // The executor (one per core), the read pool (two per core, at least two), the hash pool
    // (one per core, one used), the store's writer, the signal and timer threads.
    let bound = cores + (2 * cores).max(2) + cores + 6;
    assert!(most <= bound, "{most} threads (bound {bound})");
    assert!(took < Duration::from_secs(120), "{took:?}");
    // What stays after a burst is the benchmark's to measure (`applianced-bench connections`,
    // docs/PERFORMANCE.md), not a timed test's.
    eprintln!("resident {} kB with the connections open", status(pid, "VmRSS:"));
    drop(clients);
}
