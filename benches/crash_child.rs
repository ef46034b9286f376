//! The crash test's child: delivers generated messages in a loop from several threads (so that
//! group commit batches them) and prints one `ACK` line per delivery once it is durable, until it
//! is killed. The test kills it with SIGKILL and checks every acknowledged message.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use applianced::corpus::Corpus;
use applianced::events::Hub;
use applianced::imap::fetchdata;
use applianced::store::{Store, StoreOptions};
use argh::FromArgs;

/// Deliver in a loop, printing `ACK <uid> <len> <fnv64>` after each durable delivery.
#[derive(FromArgs)]
#[argh(subcommand, name = "crash-child")]
pub struct CrashChild {
    /// database file
    #[argh(option)]
    db: PathBuf,
    /// corpus seed
    #[argh(option, default = "1")]
    seed: u64,
    /// delivering threads
    #[argh(option, default = "4")]
    threads: u64,
}

/// FNV-1a, 64 bits: a cheap fingerprint of a message's bytes.
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

pub fn run(c: CrashChild) -> Result<(), String> {
    let store =
        Store::open(&c.db, &StoreOptions::default(), Arc::new(Hub::new())).map_err(|e| e.to_string())?;
    let store = Arc::new(store);
    let exists = store.read().and_then(|r| r.account_id("crash@test")).is_ok();
    if !exists {
        store.write_blocking(|t| t.create_account("crash@test", "x", &[])).map_err(|e| e.to_string())?;
    }
    let mut handles = Vec::new();
    for t in 0..c.threads {
        let store = store.clone();
        let seed = c.seed * 1000 + t;
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut corpus = Corpus::new(seed);
            loop {
                let raw = corpus.next_message();
                let data = fetchdata::compute(&raw).map_err(|e| e.to_string())?.encode();
                let (len, hash) = (raw.len(), fnv64(&raw));
                let r = store
                    .deliver_blocking(vec!["crash@test".into()], raw, data, 0)
                    .map_err(|e| e.to_string())?;
                let d = r.into_iter().next().ok_or("no answer")?.map_err(|e| e.to_string())?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "ACK {} {len} {hash}", d.uid).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
        }));
    }
    for h in handles {
        h.join().map_err(|_| "thread panicked".to_string())??;
    }
    Ok(())
}
