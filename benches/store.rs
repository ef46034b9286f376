//! `applianced-bench store`: the store's figures for docs/PERFORMANCE.md — durable deliveries
//! per second (one client, then several at once, batched by group commit), database size against
//! raw bytes, peak memory, and the time to list UID + flags of a 1,000,000-message mailbox.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use applianced::corpus::Corpus;
use applianced::events::Hub;
use applianced::imap::fetchdata;
use applianced::store::{NewMessage, Store, StoreOptions};
use argh::FromArgs;

/// Measure the store: delivery rates, size on disk, memory, listing a huge mailbox.
#[derive(FromArgs)]
#[argh(subcommand, name = "store")]
pub struct StoreBench {
    /// messages delivered by the concurrent clients (default 50000)
    #[argh(option, default = "50_000")]
    messages: usize,
    /// concurrent delivering clients (default 16; Postfix delivers up to 20 at once per destination)
    #[argh(option, default = "16")]
    clients: usize,
    /// messages in the mailbox that is listed (default 1000000)
    #[argh(option, default = "1_000_000")]
    list_size: u32,
    /// corpus seed (default 1)
    #[argh(option, default = "1")]
    seed: u64,
    /// working directory (default: a temporary one, removed afterwards)
    #[argh(option)]
    dir: Option<PathBuf>,
}

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

fn open(path: &std::path::Path) -> Result<Arc<Store>, String> {
    Store::open(path, &StoreOptions::default(), Arc::new(Hub::new())).map(Arc::new).map_err(|e| e.to_string())
}

pub fn run(b: StoreBench) -> Result<(), String> {
    let (dir, temporary) = match b.dir {
        Some(d) => (d, false),
        None => (std::env::temp_dir().join(format!("applianced-bench-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    println!("# applianced store benchmark\n\nmachine: {}\n", machine());
    println!("| measure | result |\n|---|---|");

    // Corpus, with FETCH data computed beforehand so the timings below measure the store.
    let t = Instant::now();
    let mut corpus = Corpus::new(b.seed);
    let mut prepared = Vec::with_capacity(b.messages + 2000);
    let mut raw_bytes = 0u64;
    for _ in 0..b.messages + 2000 {
        let raw = corpus.next_message();
        let data = fetchdata::compute(&raw).map_err(|e| e.to_string())?.encode();
        raw_bytes += raw.len() as u64;
        prepared.push((raw, data));
    }
    let parse = t.elapsed();
    let mut sizes: Vec<usize> = prepared.iter().map(|(r, _)| r.len()).collect();
    sizes.sort_unstable();
    println!(
        "| corpus | {} messages, median {} B, {:.1} MB; fetchdata::compute {:.0} msg/s |",
        prepared.len(),
        sizes[sizes.len() / 2],
        raw_bytes as f64 / 1e6,
        prepared.len() as f64 / parse.as_secs_f64()
    );

    let db_path = dir.join("deliveries.redb");
    let _ = std::fs::remove_file(&db_path);
    let store = open(&db_path)?;
    for c in 0..b.clients {
        let name = format!("user{c}@bench.test");
        store.write_blocking(move |t| t.create_account(&name, "x", &[])).map_err(|e| e.to_string())?;
    }

    // 1. One client: each delivery is its own durable commit.
    let single: Vec<_> = prepared.split_off(b.messages);
    let t = Instant::now();
    let n_single = single.len();
    for (raw, data) in single {
        store.deliver_blocking(vec!["user0@bench.test".into()], raw, data, 0).map_err(|e| e.to_string())?;
    }
    let one = n_single as f64 / t.elapsed().as_secs_f64();
    println!("| durable deliveries/s, 1 client, one commit each | {one:.0} |");

    // 2. Several clients at once: group commit batches them.
    let per = prepared.len().div_ceil(b.clients);
    let mut handles = Vec::new();
    let mut chunks = Vec::new();
    while !prepared.is_empty() {
        let rest = prepared.split_off(per.min(prepared.len()));
        chunks.push(std::mem::replace(&mut prepared, rest));
    }
    // Each client's messages go to a file and are streamed back, so that the peak memory below is
    // the store's and not the corpus's.
    let mut files = Vec::new();
    for (c, chunk) in chunks.into_iter().enumerate() {
        let path = dir.join(format!("client{c}.corpus"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| e.to_string())?);
        for (raw, data) in chunk {
            for part in [&raw, &data] {
                w.write_all(&(part.len() as u32).to_le_bytes()).map_err(|e| e.to_string())?;
                w.write_all(part).map_err(|e| e.to_string())?;
            }
        }
        w.flush().map_err(|e| e.to_string())?;
        files.push(path);
    }
    // Reset the peak-RSS mark (Linux: writing 5 to clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base_rss = rss_mb("VmRSS:");
    let t = Instant::now();
    for (c, path) in files.into_iter().enumerate() {
        let store = store.clone();
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut r = std::io::BufReader::new(std::fs::File::open(&path).map_err(|e| e.to_string())?);
            let mut next = || -> Option<Vec<u8>> {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).ok()?;
                let mut v = vec![0u8; u32::from_le_bytes(len) as usize];
                r.read_exact(&mut v).ok()?;
                Some(v)
            };
            while let (Some(raw), Some(data)) = (next(), next()) {
                store
                    .deliver_blocking(vec![format!("user{c}@bench.test")], raw, data, 0)
                    .map_err(|e| e.to_string())?;
            }
            let _ = std::fs::remove_file(&path);
            Ok(())
        }));
    }
    for h in handles {
        h.join().map_err(|_| "client panicked")??;
    }
    let many = b.messages as f64 / t.elapsed().as_secs_f64();
    println!("| durable deliveries/s, {} clients at once (group commit) | {many:.0} |", b.clients);
    println!(
        "| memory while delivering (peak RSS above the process's base) | {:.0} MB (base {base_rss:.0} MB) |",
        rss_mb("VmHWM:") - base_rss
    );
    let (allocated, stored, fragmented) = store.space().map_err(|e| e.to_string())?;
    println!(
        "| redb pages allocated / stored key+value bytes / fragmented | {:.1} MB / {:.1} MB / {:.1} MB |",
        allocated as f64 / 1e6,
        stored as f64 / 1e6,
        fragmented as f64 / 1e6
    );
    store.close();
    drop(store);
    let meta = std::fs::metadata(&db_path).map_err(|e| e.to_string())?;
    // redb grows its file by doubling (sparse: the kernel allocates no blocks for the unwritten
    // tail), so the disk space used is the blocks, not the apparent length.
    let used = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    println!(
        "| disk used by the database / raw message bytes | {:.2}x ({:.1} MB / {:.1} MB; apparent file length {:.1} MB) |",
        used as f64 / raw_bytes as f64,
        used as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        meta.len() as f64 / 1e6
    );

    // 3. A mailbox of list_size small messages, then list UID + flags.
    let list_path = dir.join("list.redb");
    let _ = std::fs::remove_file(&list_path);
    let store = open(&list_path)?;
    let account =
        store.write_blocking(|t| t.create_account("big@bench.test", "x", &[])).map_err(|e| e.to_string())?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base_rss = rss_mb("VmRSS:");
    let t = Instant::now();
    let mut left = b.list_size;
    while left > 0 {
        let n = left.min(20_000);
        left -= n;
        store
            .write_blocking(move |t| {
                let mb = t.mailbox_id(account, "INBOX")?;
                let mut blob = 0;
                for i in 0..n {
                    if i % 1000 == 0 {
                        blob = t.put_blob(b"Subject: x\r\n\r\nx\r\n", b"")?;
                    }
                    let flags = if i % 3 == 0 { applianced::store::flag::SEEN } else { 0 };
                    t.append(
                        mb,
                        &NewMessage { blob, flags, keywords: vec![], internal_date: 0, tz_minutes: 0 },
                    )?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
    }
    println!("| building a {}-message mailbox | {:.1} s |", b.list_size, t.elapsed().as_secs_f64());
    let mb = store.read().and_then(|r| r.mailbox_id(account, "INBOX")).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = store.read().map_err(|e| e.to_string())?;
        let mut out: Vec<(u32, u8)> = Vec::with_capacity(b.list_size as usize);
        r.scan(mb, 1..=u32::MAX, |uid, m| {
            out.push((uid, m.flags));
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
        assert_eq!(out.len(), b.list_size as usize);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let best = times.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "| list UID + flags of {} messages | first {:.0} ms, best of 5 {best:.0} ms |",
        b.list_size, times[0]
    );
    let t = Instant::now();
    let uids = store.read().and_then(|r| r.uids(mb)).map_err(|e| e.to_string())?;
    println!(
        "| UID list only (SELECT's sequence map) | {:.0} ms ({} UIDs) |",
        t.elapsed().as_secs_f64() * 1000.0,
        uids.len()
    );
    store.close();
    println!(
        "| memory while building and listing the big mailbox (peak RSS above base) | {:.0} MB (base {base_rss:.0} MB) |",
        rss_mb("VmHWM:") - base_rss
    );
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
