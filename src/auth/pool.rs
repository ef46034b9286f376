//! A bounded pool for password checks: a fixed number of threads, each with one [`Verifier`]
//! (so memory is at most threads x 19 MiB however many logins arrive), and a bounded waiting
//! line ordered by priority.
//!
//! Why not `smol::unblock`: its pool grows to 500 threads, and each concurrent argon2 evaluation
//! allocates its own 19 MiB, so a burst of logins took the server to gigabytes and the allocator
//! kept much of it afterwards. Here the memory is allocated once per thread and reused.
//!
//! The line is ordered by the caller's priority (lower first; the login code passes the number of
//! recent attempts from the client's address, so an address that has not failed goes ahead of
//! one that is guessing), then by arrival. It holds at most `max_queue` attempts: a new attempt
//! that would rank behind all of them is refused at once, one that ranks ahead takes the place of
//! the last. An attempt that waited `max_wait` without a thread is refused. Refusals are
//! [`Busy`]; the IMAP layer answers `NO [UNAVAILABLE]`.
//!
//! A thread that has had nothing to do for `release_after` gives its verifier's memory back, so
//! a burst of logins leaves nothing resident behind it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::Verifier;

/// Why a check did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// The waiting line was full of attempts that rank ahead (or equal).
    Full,
    /// The attempt waited the longest allowed time without a free thread.
    Waited,
    /// The pool is shutting down.
    Closed,
}

/// The work of one check: runs on a pool thread with that thread's verifier.
type Work = Box<dyn FnOnce(&mut Verifier) -> bool + Send>;

struct Job {
    work: Work,
    reply: smol::channel::Sender<Result<bool, Busy>>,
}

/// (priority, arrival): the order of the line.
type Key = (u32, u64);

struct State {
    line: BTreeMap<Key, Job>,
    next_seq: u64,
    /// Threads started so far (started on demand, up to the pool's size).
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    /// Idle time after which a thread releases its verifier's memory.
    release_after: Duration,
    /// Bytes the threads' verifiers hold, in all.
    kept: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The pool; dropping it stops its threads once they finish the check in hand.
pub struct HashPool {
    shared: Arc<Shared>,
    size: usize,
    max_queue: usize,
    max_wait: Duration,
}

impl HashPool {
    /// `size` threads (at least one), at most `max_queue` attempts waiting (at least one), each
    /// for at most `max_wait`; a thread idle for `release_after` frees its memory.
    pub fn new(size: usize, max_queue: usize, max_wait: Duration, release_after: Duration) -> Self {
        let state = State { line: BTreeMap::new(), next_seq: 0, threads: 0, idle: 0, closed: false };
        let shared = Shared {
            state: Mutex::new(state),
            work: Condvar::new(),
            release_after,
            kept: AtomicUsize::new(0),
        };
        HashPool { shared: Arc::new(shared), size: size.max(1), max_queue: max_queue.max(1), max_wait }
    }

    /// Checks `password` against the PHC string `phc` on a pool thread.
    pub async fn verify(&self, priority: u32, password: String, phc: String) -> Result<bool, Busy> {
        self.run(priority, Box::new(move |v: &mut Verifier| v.verify(&password, &phc))).await
    }

    /// Runs `work` on a pool thread when its turn comes, or says why not.
    async fn run(&self, priority: u32, work: Work) -> Result<bool, Busy> {
        let (reply, answer) = smol::channel::bounded(1);
        let key = {
            let mut st = self.shared.lock();
            if st.closed {
                return Err(Busy::Closed);
            }
            let key = (priority, st.next_seq);
            st.next_seq += 1;
            if st.line.len() >= self.max_queue {
                match st.line.last_key_value() {
                    Some((last, _)) if *last > key => {
                        if let Some((_, bumped)) = st.line.pop_last() {
                            // Its waiter sees `Full`, as if it had come after this one.
                            let _ = bumped.reply.try_send(Err(Busy::Full));
                        }
                    }
                    _ => return Err(Busy::Full),
                }
            }
            st.line.insert(key, Job { work, reply });
            // Every waiting job needs a thread on its way: an idle one, or a new one.
            if st.line.len() > st.idle && st.threads < self.size {
                st.threads += 1;
                let shared = self.shared.clone();
                let spawned =
                    std::thread::Builder::new().name("argon2".into()).spawn(move || worker(&shared));
                if let Err(e) = spawned {
                    st.threads -= 1;
                    log::error!("cannot start a password-check thread: {e}");
                }
            }
            self.shared.work.notify_one();
            key
        };
        // Until a thread takes the job, leaving (a timeout, or the client gone) takes it out of
        // the line, so that it neither runs for nobody nor holds a place.
        let mut waiting = Waiting { shared: &self.shared, key: Some(key) };
        let first = smol::future::or(async { Some(answer.recv().await) }, async {
            async_io::Timer::after(self.max_wait).await;
            None
        })
        .await;
        match first {
            Some(r) => {
                waiting.key = None;
                r.unwrap_or(Err(Busy::Closed))
            }
            None if waiting.leave() => Err(Busy::Waited),
            // A thread took it as the time ran out: the answer is on its way.
            None => answer.recv().await.unwrap_or(Err(Busy::Closed)),
        }
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Bytes of argon2 memory the threads hold now.
    pub fn kept_bytes(&self) -> usize {
        self.shared.kept.load(Ordering::Relaxed)
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        // Dropping the jobs closes their reply channels: their waiters see `Closed`.
        st.line.clear();
        self.shared.work.notify_all();
    }
}

/// A waiter's place in the line, given up when the waiter leaves before its job was taken.
struct Waiting<'a> {
    shared: &'a Shared,
    key: Option<Key>,
}

impl Waiting<'_> {
    /// Leaves the line; false if a thread already took the job.
    fn leave(&mut self) -> bool {
        match self.key.take() {
            Some(key) => self.shared.lock().line.remove(&key).is_some(),
            None => false,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

fn worker(shared: &Shared) {
    // Allocated on the first check, then reused: the thread's whole argon2 memory.
    let mut verifier = Verifier::new();
    loop {
        let mut idle_release = false;
        let job = {
            let mut st = shared.lock();
            loop {
                if st.closed {
                    break None;
                }
                if let Some((_, job)) = st.line.pop_first() {
                    break Some(job);
                }
                if idle_release {
                    break None;
                }
                st.idle += 1;
                let (guard, waited) =
                    shared.work.wait_timeout(st, shared.release_after).unwrap_or_else(|e| e.into_inner());
                st = guard;
                st.idle -= 1;
                idle_release = waited.timed_out() && verifier.kept_bytes() > 0;
            }
        };
        let before = verifier.kept_bytes();
        let closing = job.is_none() && !idle_release;
        match job {
            Some(job) if !job.reply.is_closed() => {
                let ok = (job.work)(&mut verifier);
                let _ = job.reply.try_send(Ok(ok));
            }
            Some(_) => {}
            None => verifier.release(),
        }
        let after = verifier.kept_bytes();
        if after > before {
            shared.kept.fetch_add(after - before, Ordering::Relaxed);
        } else {
            shared.kept.fetch_sub(before - after, Ordering::Relaxed);
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// Work that blocks its thread until the test lets it go, and reports that it started.
    fn blocker(started: mpsc::Sender<u32>, id: u32, go: Arc<(Mutex<bool>, Condvar)>) -> Work {
        Box::new(move |_| {
            let _ = started.send(id);
            let (m, c) = &*go;
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            while !*g {
                g = c.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            true
        })
    }

    fn release(go: &Arc<(Mutex<bool>, Condvar)>) {
        *go.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        go.1.notify_all();
    }

    /// Polls the pool's line until it holds `n` jobs (the waiters run on other threads).
    fn wait_line(pool: &HashPool, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.shared.lock().line.len() != n {
            assert!(Instant::now() < deadline, "line never reached {n}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn spawn_run(
        pool: &Arc<HashPool>,
        priority: u32,
        work: Work,
    ) -> std::thread::JoinHandle<Result<bool, Busy>> {
        let pool = pool.clone();
        std::thread::spawn(move || smol::block_on(pool.run(priority, work)))
    }

    #[test]
    fn never_more_threads_than_the_size() {
        let pool = Arc::new(HashPool::new(2, 16, Duration::from_secs(30), Duration::from_secs(60)));
        let go = Arc::new((Mutex::new(false), Condvar::new()));
        let (started, starts) = mpsc::channel();
        let jobs: Vec<_> =
            (0..6).map(|id| spawn_run(&pool, 0, blocker(started.clone(), id, go.clone()))).collect();
        starts.recv().expect("start");
        starts.recv().expect("start");
        wait_line(&pool, 4);
        assert_eq!(pool.threads(), 2);
        assert!(starts.try_recv().is_err(), "a third job started");
        release(&go);
        for j in jobs {
            assert_eq!(j.join().expect("join"), Ok(true));
        }
        assert_eq!(pool.threads(), 2);
    }

    #[test]
    fn priority_order_and_a_full_line() {
        let pool = Arc::new(HashPool::new(1, 2, Duration::from_secs(30), Duration::from_secs(60)));
        let go = Arc::new((Mutex::new(false), Condvar::new()));
        let (started, starts) = mpsc::channel();
        let busy = spawn_run(&pool, 5, blocker(started.clone(), 1, go.clone()));
        assert_eq!(starts.recv().expect("start"), 1);
        // Two wait (priority 7, then 3): the line is full.
        let low = spawn_run(&pool, 7, blocker(started.clone(), 3, go.clone()));
        wait_line(&pool, 1);
        let high = spawn_run(&pool, 3, blocker(started.clone(), 4, go.clone()));
        wait_line(&pool, 2);
        // Ranking behind everyone in a full line: refused at once.
        assert_eq!(smol::block_on(pool.run(9, Box::new(|_| true))), Err(Busy::Full));
        assert_eq!(
            smol::block_on(pool.run(7, Box::new(|_| true))),
            Err(Busy::Full),
            "ties go to the earlier"
        );
        // Ranking ahead: takes the place of the last (priority 7), whose waiter is told so.
        let urgent = spawn_run(&pool, 0, blocker(started, 5, go.clone()));
        assert_eq!(low.join().expect("join"), Err(Busy::Full));
        release(&go);
        assert_eq!(busy.join().expect("join"), Ok(true));
        // The urgent job runs before the one of priority 3 that came earlier.
        assert_eq!(starts.recv().expect("start"), 5);
        assert_eq!(starts.recv().expect("start"), 4);
        assert_eq!(urgent.join().expect("join"), Ok(true));
        assert_eq!(high.join().expect("join"), Ok(true));
    }

    #[test]
    fn a_waiter_gives_up_after_the_longest_wait() {
        let pool = Arc::new(HashPool::new(1, 8, Duration::from_millis(200), Duration::from_millis(300)));
        let go = Arc::new((Mutex::new(false), Condvar::new()));
        let (started, starts) = mpsc::channel();
        let busy = spawn_run(&pool, 0, blocker(started, 1, go.clone()));
        starts.recv().expect("start");
        let t = Instant::now();
        assert_eq!(smol::block_on(pool.run(0, Box::new(|_| true))), Err(Busy::Waited));
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(pool.shared.lock().line.len(), 0, "the waiter left the line");
        // The running job is past the longest wait too: a job that runs is not abandoned.
        release(&go);
        assert_eq!(busy.join().expect("join"), Ok(true));
        // With the thread free again, real checks run (tiny parameters, to be quick).
        use argon2::password_hash::PasswordHasher;
        let params = argon2::Params::new(64, 1, 1, None).expect("params");
        let phc = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"right")
            .expect("hash")
            .to_string();
        assert_eq!(smol::block_on(pool.verify(0, "right".into(), phc.clone())), Ok(true));
        assert_eq!(smol::block_on(pool.verify(0, "wrong".into(), phc)), Ok(false));
        // The thread keeps one block while busy, and gives it back once idle.
        assert_eq!(pool.kept_bytes(), 19 << 20);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.kept_bytes() != 0 {
            assert!(Instant::now() < deadline, "memory never released");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pool.threads(), 1, "the thread stays, only its memory goes");
    }
}
