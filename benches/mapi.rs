//! `applianced-bench mapi`: the MAPI extension's folder sync (docs/mapi-extension.md §7, issue
//! 13) against plain IMAP's first sync of the same folder, applianced and Dovecot side by side
//! in the same run, loopback.
//!
//! On each server, an INBOX of `--messages` corpus messages:
//! * plain IMAP, as a desktop client syncs: SELECT, then the newest 1,000 messages' `UID FLAGS
//!   INTERNALDATE RFC822.SIZE ENVELOPE`, then the same for every message;
//! * applianced only, XSYNC: the first window (`XSYNC INBOX "" WINDOW 1000 BATCHES 1`: time to
//!   the first row and to its XSTATE), the full sync in windows of 1,000 (time, bytes, bytes per
//!   summary, what COMPRESS=DEFLATE would make of them, the state's size, the server's memory
//!   while it streams), a sync cut after 10 batches and resumed from the last state (messages
//!   sent twice), and the cost of a pool connection: XJOIN against LOGIN (argon2, then LOGIN's
//!   cache of a recent success).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argh::FromArgs;

use std::sync::mpsc;

use applianced::corpus::Corpus;

use crate::imap::{Conn, PASSWORD, R, Server, USER, e, exists, median, memory_mb, on_both_servers};

/// XSYNC against plain IMAP's first sync of a big folder, and the backchannel's pushes against
/// NOTIFY; applianced and Dovecot.
#[derive(FromArgs)]
#[argh(subcommand, name = "mapi")]
pub struct MapiBench {
    /// messages in the INBOX (default 100000)
    #[argh(option, default = "100_000")]
    messages: usize,
    /// XSYNC window (default 1000)
    #[argh(option, default = "1000")]
    window: usize,
    /// joins and logins timed (default 20)
    #[argh(option, default = "20")]
    joins: usize,
    /// deliveries timed to three accounts' backchannels (default 1000; Dovecot's NOTIFY gets a
    /// tenth, it takes half a second each)
    #[argh(option, default = "1000")]
    pushes: usize,
    /// idle MAPI sessions (a backchannel and two pool connections each) for the memory and
    /// fan-out figures (default 1000; needs `ulimit -n` above 4 per session)
    #[argh(option, default = "1000")]
    sessions: usize,
    /// measure applianced only
    #[argh(switch)]
    skip_dovecot: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sends `command` and reads to its tagged OK: (time to the first untagged line matching
/// `row`, time to the end, bytes, rows).
fn timed(c: &mut Conn, command: &str, row: &[u8]) -> R<(Duration, Duration, usize, usize)> {
    let t = Instant::now();
    let tag = c.start(command)?;
    let (mut first, mut bytes, mut rows) = (None, 0, 0);
    loop {
        let l = c.line()?;
        bytes += l.len();
        if l.starts_with(format!("{tag} ").as_bytes()) {
            if !l[tag.len() + 1..].starts_with(b"OK") {
                return Err(format!("{command}: {}", String::from_utf8_lossy(&l)));
            }
            return Ok((first.unwrap_or_default(), t.elapsed(), bytes, rows));
        }
        if l.starts_with(row) {
            rows += 1;
            first.get_or_insert_with(|| t.elapsed());
        }
    }
}

fn plain_imap(server: &Server) -> R<()> {
    let mut c = Conn::login(server.port)?;
    let t = Instant::now();
    let n = exists(&c.cmd("SELECT INBOX")?) as usize;
    let from = n.saturating_sub(999).max(1);
    let (_, took, bytes, rows) =
        timed(&mut c, &format!("FETCH {from}:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"), b"* ")?;
    println!(
        "{}: plain IMAP, SELECT + newest {rows}: {:.1} ms ({:.1} ms of it the FETCH), {bytes} bytes",
        server.name,
        ms(t.elapsed()),
        ms(took)
    );
    let (_, took, bytes, rows) =
        timed(&mut c, "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", b"* ")?;
    println!(
        "{}: plain IMAP, all {rows} (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE): {:.0} ms, {:.1} MB, {:.0} bytes/message",
        server.name,
        ms(took),
        bytes as f64 / 1e6,
        bytes as f64 / rows.max(1) as f64
    );
    Ok(())
}

/// What COMPRESS=DEFLATE (RFC 4978: raw deflate, a sync flush per response burst) would send
/// for `batches`, each flushed as the server flushes each XSYNC batch.
fn deflated(batches: &[Vec<u8>]) -> usize {
    let mut z = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(1 << 20);
    let mut total = 0;
    for b in batches {
        let mut input = &b[..];
        loop {
            out.clear();
            out.reserve(b.len() + 1024);
            let before = z.total_in();
            let _ = z.compress_vec(input, &mut out, flate2::FlushCompress::Sync);
            let taken = (z.total_in() - before) as usize;
            total += out.len();
            input = &input[taken..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
    }
    total
}

/// What a full XSYNC brought: XMSG rows, bytes, the last state, time to the first row and in
/// all, each batch's bytes, the UIDs sent, the bytes of the XMSG lines.
struct Sync {
    rows: usize,
    bytes: usize,
    state: String,
    first_row: Duration,
    took: Duration,
    batch_bytes: Vec<Vec<u8>>,
    uids: Vec<u32>,
    row_bytes: usize,
}

/// An XSYNC from `state`, batch by batch; stops after `cut` batches when given (the caller then
/// drops the connection without reading further).
fn xsync(c: &mut Conn, state: &str, window: usize, cut: Option<usize>) -> R<Sync> {
    let t = Instant::now();
    let tag = c.start(&format!("XSYNC INBOX {state} WINDOW {window}"))?;
    let mut s = Sync {
        rows: 0,
        bytes: 0,
        state: String::new(),
        first_row: Duration::ZERO,
        took: Duration::ZERO,
        batch_bytes: Vec::new(),
        uids: Vec::new(),
        row_bytes: 0,
    };
    let mut current = Vec::new();
    loop {
        let l = c.line()?;
        s.bytes += l.len();
        current.extend_from_slice(&l);
        if l.starts_with(format!("{tag} ").as_bytes()) {
            if !l[tag.len() + 1..].starts_with(b"OK") {
                return Err(format!("XSYNC: {}", String::from_utf8_lossy(&l)));
            }
            s.took = t.elapsed();
            return Ok(s);
        }
        if let Some(rest) = l.strip_prefix(b"* XMSG ") {
            if s.rows == 0 {
                s.first_row = t.elapsed();
            }
            s.rows += 1;
            s.row_bytes += l.len();
            let uid =
                rest.split(|b| *b == b' ').next().and_then(|u| std::str::from_utf8(u).ok()?.parse().ok());
            s.uids.push(uid.unwrap_or(0));
        } else if let Some(rest) = l.strip_prefix(b"* XSTATE ") {
            let text = String::from_utf8_lossy(rest);
            s.state = text.split(' ').next().unwrap_or_default().to_string();
            s.batch_bytes.push(std::mem::take(&mut current));
            if cut.is_some_and(|n| s.batch_bytes.len() >= n) {
                s.took = t.elapsed();
                return Ok(s);
            }
        }
    }
}

fn xsync_measures(server: &Server, b: &MapiBench) -> R<()> {
    let port = server.port;
    let mut c = Conn::login(port)?;
    // The first window: a connector's first screen.
    let (first, took, bytes, rows) =
        timed(&mut c, &format!("XSYNC INBOX \"\" WINDOW {} BATCHES 1", b.window), b"* XMSG ")?;
    println!(
        "applianced: XSYNC first window of {rows}: first row after {:.1} ms, its XSTATE after {:.1} ms, {bytes} bytes",
        ms(first),
        ms(took)
    );
    // The full sync, with the server's memory sampled meanwhile.
    let (rss_before, _) = memory_mb(server.pid, false);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (done, pid) = (done.clone(), server.pid);
        std::thread::spawn(move || {
            let mut peak = 0f64;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(memory_mb(pid, false).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let full = xsync(&mut c, "\"\"", b.window, None)?;
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().map_err(|_| "sampler panicked")?;
    let z = deflated(&full.batch_bytes);
    println!(
        "applianced: XSYNC full, {} rows in {} batches: {:.0} ms (first row {:.1} ms), {:.1} MB, {:.0} bytes/summary \
         ({:.0} with COMPRESS=DEFLATE, {:.1} MB in all); state {} octets; server RSS {:.1} MB before, peak {:.1} MB",
        full.rows,
        full.batch_bytes.len(),
        ms(full.took),
        ms(full.first_row),
        full.bytes as f64 / 1e6,
        full.row_bytes as f64 / full.rows.max(1) as f64,
        z as f64 / full.rows.max(1) as f64,
        z as f64 / 1e6,
        full.state.len(),
        rss_before,
        peak
    );
    // Nothing changed: the next run from the final state.
    let (_, took, bytes, rows) =
        timed(&mut c, &format!("XSYNC INBOX {} WINDOW {}", full.state, b.window), b"* XMSG ")?;
    println!("applianced: XSYNC from the final state: {rows} rows, {:.1} ms, {bytes} bytes", ms(took));
    // Cut after 10 batches (the connection dropped), resumed from the last state received.
    let mut cut = Conn::login(port)?;
    let part = xsync(&mut cut, "\"\"", b.window, Some(10))?;
    drop(cut);
    let mut c2 = Conn::login(port)?;
    let rest = xsync(&mut c2, &part.state, b.window, None)?;
    let seen: std::collections::HashSet<u32> = part.uids.iter().copied().collect();
    let twice = rest.uids.iter().filter(|u| seen.contains(u)).count();
    println!(
        "applianced: XSYNC cut after {} rows, resumed: {} more rows in {:.0} ms, {twice} sent twice",
        part.rows,
        rest.rows,
        ms(rest.took)
    );
    joins(port, b.joins)
}

/// XJOIN against LOGIN, each on a fresh connection: connect, greeting, one command.
fn joins(port: u16, n: usize) -> R<()> {
    let mut owner = Conn::login(port)?;
    let lines = owner.cmd("XSESSION")?;
    let line = lines.iter().find(|l| l.starts_with("* XSESSION ")).ok_or("no XSESSION response")?;
    let token = line.split(' ').nth(4).ok_or("no token")?.to_string();
    let mut join_times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let mut c = Conn::connect(port)?;
        c.cmd(&format!("XJOIN {USER} {token}"))?;
        join_times.push(ms(t.elapsed()));
        // Keep the pool under its cap: each joined connection leaves again.
        c.cmd("LOGOUT").ok();
    }
    let mut login_times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let mut c = Conn::connect(port)?;
        c.cmd(&format!("LOGIN {USER} {PASSWORD}"))?;
        login_times.push(ms(t.elapsed()));
        c.cmd("LOGOUT").ok();
    }
    // A password the server has not seen verified lately costs its argon2 hash.
    let fresh = {
        let t = Instant::now();
        let mut c = Conn::connect(port)?;
        let tag = c.start(&format!("LOGIN {USER} wrong-{PASSWORD}"))?;
        let _ = c.until(&tag);
        ms(t.elapsed())
    };
    join_times.sort_by(f64::total_cmp);
    login_times.sort_by(f64::total_cmp);
    println!(
        "applianced: connect + XJOIN median {:.2} ms (max {:.2}); connect + LOGIN of a recent password median {:.2} ms; \
         a password check that hashes (argon2) {:.0} ms",
        join_times[join_times.len() / 2],
        join_times.last().copied().unwrap_or_default(),
        login_times[login_times.len() / 2],
        fresh
    );
    owner.cmd("LOGOUT").ok();
    Ok(())
}

/// `EPOCH e` and `CHANGE c` of an XSESSION response, and the token when it has one.
fn session_items(lines: &[String]) -> R<(String, u64, Option<String>)> {
    let l = lines.iter().find(|l| l.starts_with("* XSESSION ")).ok_or("no XSESSION response")?;
    let w: Vec<&str> = l.split(' ').collect();
    let after = |k: &str| w.iter().position(|x| x.trim_start_matches('(') == k).and_then(|i| w.get(i + 1));
    let epoch = after("EPOCH").ok_or("no EPOCH")?.to_string();
    let change = after("CHANGE").and_then(|c| c.parse().ok()).ok_or("no CHANGE")?;
    Ok((epoch, change, after("TOKEN").map(|t| t.to_string())))
}

/// A backchannel of a new session of `user`, its lines read by a thread that answers heartbeats
/// and stamps each `XNEW` (with `idx`) on `tx`. Returns the session's token and the socket (to
/// shut the backchannel down).
fn backchannel(
    port: u16,
    user: &str,
    password: &str,
    heartbeat: u64,
    idx: usize,
    tx: mpsc::Sender<(usize, Instant)>,
) -> R<(String, std::net::TcpStream)> {
    let mut c = Conn::connect(port)?;
    c.cmd(&format!("LOGIN {user} {password}"))?;
    let (epoch, change, token) = session_items(&c.cmd("XSESSION")?)?;
    let lines = c.cmd(&format!("XBACKCHANNEL FROM {change} EPOCH {epoch} HEARTBEAT {heartbeat}"))?;
    if !lines.iter().any(|l| l.starts_with("* XBACKCHANNEL ")) {
        return Err(format!("XBACKCHANNEL: {lines:?}"));
    }
    let mut w = c.w.try_clone().map_err(e("clone"))?;
    let handle = c.w.try_clone().map_err(e("clone"))?;
    std::thread::spawn(move || {
        while let Ok(l) = c.line() {
            if l.starts_with(b"* XNEW ") {
                let _ = tx.send((idx, Instant::now()));
            } else if let Some(rest) = l.strip_prefix(b"* XHEARTBEAT ") {
                // XACK k a: everything sent is applied at once here.
                let text = String::from_utf8_lossy(rest);
                let words: Vec<&str> = text.split_whitespace().collect();
                if let (Some(k), Some(sent)) = (words.first(), words.get(2)) {
                    use std::io::Write;
                    let _ = w.write_all(format!("h XACK {k} {sent}\r\n").as_bytes());
                }
            }
        }
    });
    Ok((token.ok_or("no TOKEN")?, handle))
}

fn append_cmd(tag: &str, folder: &str, msg: &[u8]) -> Vec<u8> {
    let mut cmd = format!("{tag} APPEND {folder} {{{}+}}\r\n", msg.len()).into_bytes();
    cmd.extend_from_slice(msg);
    cmd.extend_from_slice(b"\r\n");
    cmd
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() { f64::NAN } else { sorted[((sorted.len() - 1) as f64 * p).round() as usize] }
}

/// Three accounts, each with a session and a backchannel, no folder selected: `n` messages
/// APPENDed (by another connection of the account) into a random folder of a random account;
/// ms from sending the APPEND to the `XNEW` on that account's backchannel.
fn three_accounts(server: &Server, n: usize) -> R<()> {
    let data = server.data.as_ref().ok_or("no data directory")?;
    let bin = std::env::current_exe().map_err(e("exe"))?.with_file_name("applianced");
    let mut users = vec![(USER.to_string(), PASSWORD.to_string())];
    for name in ["second@bench.test", "third@bench.test"] {
        let pw = data.join(format!("pw-{name}"));
        std::fs::write(&pw, PASSWORD).map_err(e("pw"))?;
        let o = std::process::Command::new(&bin)
            .arg("--data-dir")
            .arg(data)
            .args(["user", "add", name, "--password-file"])
            .arg(&pw)
            .output()
            .map_err(e("user add"))?;
        if !o.status.success() {
            return Err(format!("user add {name}: {}", String::from_utf8_lossy(&o.stderr)));
        }
        users.push((name.to_string(), PASSWORD.to_string()));
    }
    let (tx, rx) = mpsc::channel();
    let (mut writers, mut backchannels) = (Vec::new(), Vec::new());
    for (i, (user, pw)) in users.iter().enumerate() {
        backchannels.push(backchannel(server.port, user, pw, 1740, i, tx.clone())?.1);
        let mut w = Conn::connect(server.port)?;
        w.cmd(&format!("LOGIN {user} {pw}"))?;
        w.cmd("CREATE Work")?;
        w.cmd("CREATE Lists/rust")?;
        writers.push(w);
    }
    std::thread::sleep(Duration::from_millis(300));
    while rx.try_recv().is_ok() {}
    let folders = ["INBOX", "Work", "Lists/rust"];
    let msg = Corpus::new(97).next_message();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut times = Vec::with_capacity(n);
    let mut wrong = 0;
    for _ in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let (account, folder) = ((seed % 3) as usize, folders[((seed >> 8) % 3) as usize]);
        let w = &mut writers[account];
        let tag = w.tag();
        let t = Instant::now();
        w.send(&append_cmd(&tag, folder, &msg))?;
        loop {
            let (idx, at) = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| "no XNEW within 10 s")?;
            if idx == account {
                times.push(ms(at - t));
                break;
            }
            wrong += 1;
        }
        w.until(&tag)?;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "applianced: {n} messages into random folders of 3 accounts, APPEND sent -> XNEW on that account's backchannel: \
         median {:.2} ms, p99 {:.2} ms, max {:.2} ms; XNEW on another account's backchannel: {wrong}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
    for b in backchannels {
        let _ = b.shutdown(std::net::Shutdown::Both);
    }
    Ok(())
}

/// Dovecot's nearest: NOTIFY for every folder of the account (RFC 5465), `* STATUS` after an
/// APPEND into a random folder by another connection.
fn notify_pushes(server: &Server, n: usize) -> R<()> {
    let mut setup = Conn::login(server.port)?;
    // Dovecot's Maildir++ has `.` as its hierarchy separator: flat names.
    setup.cmd("CREATE Work")?;
    setup.cmd("CREATE Later")?;
    let (tx, rx) = mpsc::channel();
    let mut watcher = Conn::login(server.port)?;
    watcher.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")?;
    std::thread::spawn(move || {
        while let Ok(l) = watcher.line() {
            if l.starts_with(b"* STATUS") {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let msg = Corpus::new(97).next_message();
    let folders = ["INBOX", "Work", "Later"];
    let (mut times, mut missed) = (Vec::new(), Vec::new());
    for i in 0..n {
        while rx.try_recv().is_ok() {}
        let tag = setup.tag();
        let t = Instant::now();
        setup.send(&append_cmd(&tag, folders[i % 3], &msg))?;
        // Past Dovecot's 30-second poll of a folder it could not watch with inotify.
        match rx.recv_timeout(Duration::from_secs(40)) {
            Ok(at) => times.push(ms(at - t)),
            Err(_) => missed.push(folders[i % 3]),
        }
        setup.until(&tag)?;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}: {n} messages into INBOX, Work, Later in turn, APPEND sent -> NOTIFY `* STATUS`: median {:.1} ms, p99 {:.1} ms; \
         none within 40 s: {} ({missed:?})",
        server.name,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        missed.len()
    );
    Ok(())
}

/// `count` MAPI sessions of the account, each a backchannel (heartbeat 30 s, answered) and two
/// pool connections joined with the token: the server's memory after a heartbeat round, and
/// the time from one APPEND to its `XNEW` on the last of the backchannels.
fn idle_sessions(server: &Server, count: usize) -> R<()> {
    std::thread::sleep(Duration::from_millis(300));
    let before = memory_mb(server.pid, false);
    let (tx, rx) = mpsc::channel();
    let t = Instant::now();
    let mut pool = Vec::with_capacity(count * 2);
    let mut backchannels = Vec::with_capacity(count);
    for i in 0..count {
        let (token, socket) = backchannel(server.port, USER, PASSWORD, 30, i, tx.clone())?;
        backchannels.push(socket);
        for _ in 0..2 {
            let mut c = Conn::connect(server.port)?;
            c.cmd(&format!("XJOIN {USER} {token}"))?;
            pool.push(c);
        }
    }
    let opened = t.elapsed();
    // Past the first heartbeat of every backchannel (30 s), and under the two intervals after
    // which a silent pool connection is closed.
    std::thread::sleep(Duration::from_secs(35));
    let after = memory_mb(server.pid, false);
    while rx.try_recv().is_ok() {}
    let mut app = Conn::login(server.port)?;
    let msg = Corpus::new(96).next_message();
    let tag = app.tag();
    let t = Instant::now();
    app.send(&append_cmd(&tag, "INBOX", &msg))?;
    let mut arrivals = Vec::with_capacity(count);
    while arrivals.len() < count {
        let (_, at) = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| format!("{} of {count} XNEW in 30 s", arrivals.len()))?;
        arrivals.push(ms(at - t));
    }
    app.until(&tag)?;
    println!(
        "applianced: {count} sessions (3 connections each) opened in {:.1} s; server RSS / PSS {:.1} / {:.1} MB before, \
         {:.1} / {:.1} MB with them after a heartbeat round; one APPEND -> XNEW on all {count} backchannels: last {:.1} ms, median {:.1} ms",
        opened.as_secs_f64(),
        before.0,
        before.1,
        after.0,
        after.1,
        arrivals.iter().copied().fold(0.0, f64::max),
        median(arrivals)
    );
    for c in &pool {
        let _ = c.w.shutdown(std::net::Shutdown::Both);
    }
    for b in backchannels {
        let _ = b.shutdown(std::net::Shutdown::Both);
    }
    // The server lets the 3,000 connections go before the next measures.
    std::thread::sleep(Duration::from_secs(1));
    Ok(())
}

fn measure(server: &Server, b: &MapiBench) -> R<()> {
    if server.name == "applianced" {
        // First, on the fresh server: the memory figure is the sessions', not the caches' of
        // the syncs below.
        idle_sessions(server, b.sessions)?;
    }
    plain_imap(server)?;
    if server.name == "applianced" {
        xsync_measures(server, b)?;
        three_accounts(server, b.pushes)?;
    } else {
        notify_pushes(server, (b.pushes / 10).max(1))?;
    }
    Ok(())
}

pub fn run(b: MapiBench) -> R<()> {
    on_both_servers("mapi", b.messages, b.sessions * 3 + 100, b.skip_dovecot, None, |server| {
        measure(server, &b)
    })
}
