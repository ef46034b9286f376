//! Crash consistency: a child process delivers in a loop and is killed with SIGKILL at random
//! moments, many times. After each kill the database opens, every message whose delivery was
//! acknowledged is there byte for byte, and the store's invariants hold.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use applianced::corpus::Rng;
use applianced::events::Hub;
use applianced::store::{Store, StoreOptions};

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn acknowledged_deliveries_survive_sigkill() {
    let dir = std::env::temp_dir().join(format!("applianced-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("crash.redb");
    let mut rng = Rng::new(0xC0FFEE);
    let mut acked: Vec<(u32, usize, u64)> = Vec::new();
    let rounds = 25;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_applianced-bench"))
            .args(["crash-child", "--db"])
            .arg(&db)
            .args(["--seed", &round.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Kill after a random number of acknowledgements, at a random moment after the last one.
        let wait_for = 1 + rng.below(120) as usize;
        for _ in 0..wait_for {
            let Some(Ok(line)) = lines.next() else { break };
            let mut w = line.split(' ').skip(1);
            let mut num = || w.next().and_then(|s| s.parse::<u64>().ok()).expect("ACK line");
            acked.push((num() as u32, num() as usize, num()));
        }
        std::thread::sleep(std::time::Duration::from_micros(rng.below(20_000)));
        child.kill().expect("SIGKILL");
        // Acknowledgements printed before the kill count too.
        for line in lines.map_while(Result::ok) {
            let mut w = line.split(' ').skip(1);
            let mut num = || w.next().and_then(|s| s.parse::<u64>().ok()).expect("ACK line");
            acked.push((num() as u32, num() as usize, num()));
        }
        let status = child.wait().expect("wait");
        assert!(!status.success(), "round {round}: the child ran to completion instead of being killed");

        let store = Store::open(&db, &StoreOptions::default(), Arc::new(Hub::new())).expect("database opens");
        let r = store.read().expect("read");
        let acct = r.account_id("crash@test").expect("account");
        let inbox = r.mailbox_id(acct, "INBOX").expect("inbox");
        assert_eq!(r.verify_mailbox(inbox).expect("verify"), Ok(()), "round {round}");
        for &(uid, len, hash) in &acked {
            let m = r
                .message(inbox, uid)
                .expect("read")
                .unwrap_or_else(|| panic!("round {round}: UID {uid} lost"));
            let raw = r.raw(m.blob).expect("raw");
            assert_eq!((raw.len(), fnv64(&raw)), (len, hash), "round {round}: UID {uid} differs");
        }
        drop(r);
        store.close();
    }
    assert!(acked.len() >= rounds, "too few deliveries were acknowledged: {}", acked.len());
    let _ = std::fs::remove_dir_all(&dir);
}
