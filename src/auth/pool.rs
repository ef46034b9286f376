//! The bounded pool for password checks: [`crate::pool`] threads, each with one [`Verifier`], so
//! that memory is at most threads x 19 MiB however many logins arrive (the memory is allocated
//! once per thread and reused, and given back after an idle while).
//!
//! The line is ordered by the caller's priority: the login code passes the number of recent
//! attempts from the client's address, so an address that has not failed goes ahead of one that
//! is guessing. Refusals are [`Busy`]; the IMAP layer answers `NO [UNAVAILABLE]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Verifier;
pub use crate::pool::Busy;
use crate::pool::{Pool, Sizes, Worker};

impl Worker for Verifier {
    fn start() -> Self {
        Verifier::new()
    }
    fn release(&mut self) {
        Verifier::release(self);
    }
    fn kept_bytes(&self) -> usize {
        Verifier::kept_bytes(self)
    }
}

/// Threads with a verifier each.
pub type HashPool = Pool<Verifier>;

/// `size` threads (at least one), at most `max_queue` attempts waiting (at least one), each for
/// at most `max_wait`; a thread idle for `release_after` frees its memory.
pub fn hash_pool(size: usize, max_queue: usize, max_wait: Duration, release_after: Duration) -> HashPool {
    Pool::new("argon2", Sizes { threads: size, reserved: 0, max_queue, max_wait, release_after })
}

/// Password checks handed to a hash pool since the process started (`applianced stats`): what
/// shows that a MAPI XJOIN costs no argon2 evaluation.
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// See [`VERIFICATIONS`].
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::Relaxed)
}

impl Pool<Verifier> {
    /// Checks `password` against the PHC string `phc` on a pool thread.
    pub async fn verify(&self, priority: u32, password: String, phc: String) -> Result<bool, Busy> {
        VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
        self.run(priority, (password, phc), |(password, phc), v: &mut Verifier| v.verify(&password, &phc))
            .await
            .map_err(|r| r.busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Real checks run on the pool; the thread keeps one block while busy and gives it back
    /// once idle.
    #[test]
    fn checks_run_and_an_idle_thread_gives_its_memory_back() {
        let pool = hash_pool(1, 8, Duration::from_secs(30), Duration::from_millis(300));
        // Tiny parameters, to be quick.
        use argon2::password_hash::PasswordHasher;
        let params = argon2::Params::new(64, 1, 1, None).expect("params");
        let phc = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"right")
            .expect("hash")
            .to_string();
        assert_eq!(smol::block_on(pool.verify(0, "right".into(), phc.clone())), Ok(true));
        assert_eq!(smol::block_on(pool.verify(0, "wrong".into(), phc)), Ok(false));
        assert_eq!(pool.kept_bytes(), 19 << 20);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.kept_bytes() != 0 {
            assert!(Instant::now() < deadline, "memory never released");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pool.threads(), 1, "the thread stays, only its memory goes");
    }
}
