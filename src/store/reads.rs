//! Store reads for async code: redb blocks, so the IMAP and LMTP sessions read on a bounded pool
//! of threads ([`crate::pool`]) instead of `smol::unblock`'s (up to 500 threads, each with its
//! own allocator arena).
//!
//! Fairness: a session runs one command at a time, so it has at most one read in the line, and
//! the line is served in arrival order; a client cannot get ahead by sending more. Reads whose
//! cost grows with a change, not with a mailbox ([`Lane::Cheap`]: a NOOP's or IDLE's check for
//! changes, a login's account lookup, an LMTP recipient) go before the others and have a thread
//! of their own, so that a user's NOOP stays quick while other clients' SEARCHes fill the rest.
//! A read that finds the line full, or waits too long for a thread, fails with
//! [`StoreError::Unavailable`], a temporary failure (IMAP: `NO [UNAVAILABLE]`, RFC 5530 §3;
//! LMTP: 451 4.3.0).

use std::sync::Arc;
use std::time::Duration;

use super::{Reader, Store, StoreError};
use crate::pool::{Busy, Pool, Refused, Sizes};

/// Idle time after which the pool returns the allocator's free memory to the kernel: long
/// enough that a client's next command usually comes first, short enough that a burst does not
/// stay resident.
const RELEASE_AFTER: Duration = Duration::from_secs(2);

/// Which part of the line a read joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Bounded by a change or one record; may use the thread kept for such reads.
    Cheap,
    /// Anything else (SELECT, FETCH, SEARCH, LIST ...).
    Any,
}

impl Lane {
    fn priority(self) -> u32 {
        match self {
            Lane::Cheap => 0,
            Lane::Any => 1,
        }
    }
}

/// How the pool is sized (`[store] read_threads`, `read_queue`, `read_wait_secs`).
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Threads; 0: two per core, at least two.
    pub threads: usize,
    /// Reads waiting at most.
    pub queue: usize,
    /// The longest a read waits for a thread.
    pub wait: Duration,
}

impl ReadLimits {
    /// The number of threads `threads` stands for.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => (2 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(2),
            n => n,
        }
    }
}

/// The error of a read that did not run.
pub fn busy(why: Busy) -> StoreError {
    StoreError::Unavailable(match why {
        Busy::Full => "too many store reads waiting".into(),
        Busy::Waited => "no store read thread free in time".into(),
        Busy::Closed => "the store read threads stopped".into(),
    })
}

/// The store and the threads that read it.
pub struct Reads {
    store: Arc<Store>,
    pool: Pool<()>,
}

impl Reads {
    pub fn new(store: Arc<Store>, limits: ReadLimits) -> Self {
        let threads = limits.thread_count();
        let sizes = Sizes {
            threads,
            // One thread for cheap reads, unless there is only one.
            reserved: usize::from(threads >= 2),
            max_queue: limits.queue,
            max_wait: limits.wait,
            release_after: RELEASE_AFTER,
        };
        Reads { store, pool: Pool::new("store-read", sizes) }
    }

    /// The store read.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Runs `f` on a snapshot, on a pool thread.
    pub async fn read<T, F>(&self, lane: Lane, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match self.pool.run(lane.priority(), (), move |(), ()| f(&store.read()?)).await {
            Ok(r) => r,
            Err(refused) => Err(busy(refused.busy)),
        }
    }

    /// Runs `f(input, store)` on a pool thread; when it cannot run, `input` comes back (if the
    /// pool still has it: not when the server shuts down with the read in the line).
    pub async fn with<I, T, F>(&self, lane: Lane, input: I, f: F) -> Result<T, Refused<I>>
    where
        I: Send + 'static,
        T: Send + 'static,
        F: FnOnce(I, &Store) -> T + Send + 'static,
    {
        let store = self.store.clone();
        self.pool.run(lane.priority(), input, move |input, ()| f(input, &store)).await
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }
}
