//! Bounded pools of threads for blocking work that async code awaits: a fixed number of threads,
//! each with a state of its own ([`Worker`]), and a bounded waiting line ordered by priority.
//! Two pools use it: the password checks (`auth::pool`, one argon2 memory block per thread) and
//! the store reads of the IMAP and LMTP sessions (`store::reads`).
//!
//! Why not `smol::unblock`: its pool grows to 500 threads. Each concurrent argon2 evaluation
//! allocates its own 19 MiB, and each thread that allocates gets a glibc arena of its own (up to
//! 8 per core), whose freed memory the allocator keeps: a burst of logins or of 1,000 SELECTs
//! left hundreds of MB resident. Here the threads, and so the arenas and the memory they touch,
//! are bounded by configuration.
//!
//! The line is ordered by the caller's priority (lower first), then by arrival. It holds at most
//! `max_queue` jobs: a new job that would rank behind all of them is refused at once, one that
//! ranks ahead takes the place of the last. A job that waited `max_wait` without a thread is
//! refused. Refusals are [`Busy`] (the IMAP layer answers `NO [UNAVAILABLE]`) and hand the
//! job's input back, so that a caller can keep what it lent.
//!
//! `reserved` threads run only jobs of priority 0: the store reads put the cheap ones there (a
//! NOOP's check for changes, a login's account lookup), so that they never wait behind a line of
//! expensive SEARCHes, however many clients send those.
//!
//! A thread that has had nothing to do for `release_after` calls [`Worker::release`] (the hash
//! threads give their 19 MiB back), and the first of a pool's threads to do so after work
//! returns the memory the allocator keeps in its free lists to the kernel ([`crate::memory`]),
//! so that a burst leaves nothing resident behind it.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The state a pool thread keeps between jobs.
pub trait Worker: Send + 'static {
    /// The state of a new thread.
    fn start() -> Self;
    /// After `release_after` without work: give back memory kept for the next job.
    fn release(&mut self) {}
    /// Bytes kept between jobs.
    fn kept_bytes(&self) -> usize {
        0
    }
}

/// Threads that keep nothing between jobs.
impl Worker for () {
    fn start() -> Self {}
}

/// Why a job did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// The waiting line was full of jobs that rank ahead (or equal).
    Full,
    /// The job waited the longest allowed time without a free thread.
    Waited,
    /// The pool is shutting down (or the job panicked).
    Closed,
}

/// A job that did not run, and its input when it can be given back.
#[derive(Debug)]
pub struct Refused<I> {
    pub busy: Busy,
    /// `None` when the pool shut down with the job in its line.
    pub input: Option<I>,
}

/// A job in the line: called with the thread's state to run, or with why it will not.
type Job<W> = Box<dyn FnOnce(Result<&mut W, Busy>) + Send>;

/// (priority, arrival): the order of the line.
type Key = (u32, u64);

struct State<W> {
    line: BTreeMap<Key, Job<W>>,
    next_seq: u64,
    /// Threads started so far (started on demand, up to the pool's size).
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    /// Jobs of priority above 0 running now (at most `size - reserved`).
    ranked: usize,
    /// A job finished since the allocator's free memory was last returned.
    dirty: bool,
    closed: bool,
}

impl<W> State<W> {
    /// Takes the first job of the line if a thread may run it now; true if it is ranked.
    fn take(&mut self, ranked_max: usize) -> Option<(Job<W>, bool)> {
        let (&(priority, _), _) = self.line.first_key_value()?;
        // The line is in priority order: when its first job must wait, so must every other.
        if priority > 0 && self.ranked >= ranked_max {
            return None;
        }
        let (_, job) = self.line.pop_first()?;
        if priority > 0 {
            self.ranked += 1;
        }
        Some((job, priority > 0))
    }
}

struct Shared<W> {
    state: Mutex<State<W>>,
    work: Condvar,
    /// Threads' name, for `ps` and the log.
    name: &'static str,
    /// Threads that may run jobs of priority above 0.
    ranked_max: usize,
    /// Idle time after which a thread releases its memory.
    release_after: Duration,
    /// Bytes the threads' states keep, in all.
    kept: AtomicUsize,
}

impl<W> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, State<W>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How a pool is sized.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Threads at most (at least one).
    pub threads: usize,
    /// Of them, threads kept for jobs of priority 0 (fewer than `threads`).
    pub reserved: usize,
    /// Jobs waiting at most (at least one).
    pub max_queue: usize,
    /// The longest a job waits for a thread.
    pub max_wait: Duration,
    /// Idle time after which a thread releases its memory.
    pub release_after: Duration,
}

/// The pool; dropping it stops its threads once they finish the job in hand.
pub struct Pool<W: Worker> {
    shared: Arc<Shared<W>>,
    size: usize,
    max_queue: usize,
    max_wait: Duration,
}

impl<W: Worker> Pool<W> {
    /// A pool whose threads are called `name`; none runs until the first job arrives.
    pub fn new(name: &'static str, sizes: Sizes) -> Self {
        let size = sizes.threads.max(1);
        let state = State {
            line: BTreeMap::new(),
            next_seq: 0,
            threads: 0,
            idle: 0,
            ranked: 0,
            dirty: false,
            closed: false,
        };
        let shared = Shared {
            state: Mutex::new(state),
            work: Condvar::new(),
            name,
            ranked_max: size - sizes.reserved.min(size - 1),
            release_after: sizes.release_after,
            kept: AtomicUsize::new(0),
        };
        Pool { shared: Arc::new(shared), size, max_queue: sizes.max_queue.max(1), max_wait: sizes.max_wait }
    }

    /// Runs `f(input, state)` on a pool thread when its turn comes, or says why not and hands
    /// `input` back. A job that a thread took runs to its end even if its caller stops waiting.
    pub async fn run<I, R, F>(&self, priority: u32, input: I, f: F) -> Result<R, Refused<I>>
    where
        I: Send + 'static,
        R: Send + 'static,
        F: FnOnce(I, &mut W) -> R + Send + 'static,
    {
        let (reply, answer) = smol::channel::bounded::<Result<R, Refused<I>>>(1);
        let job: Job<W> = Box::new(move |state| {
            let out = match state {
                // Nobody waits for it any more: not worth a thread's time.
                Ok(_) if reply.is_closed() => return,
                Ok(w) => Ok(f(input, w)),
                Err(busy) => Err(Refused { busy, input: Some(input) }),
            };
            let _ = reply.try_send(out);
        });
        let key = {
            let mut st = self.shared.lock();
            if st.closed {
                drop(st);
                return Err(refused_now(job, &answer, Busy::Closed));
            }
            let key = (priority, st.next_seq);
            st.next_seq += 1;
            if st.line.len() >= self.max_queue {
                match st.line.last_key_value() {
                    Some((last, _)) if *last > key => {
                        if let Some((_, bumped)) = st.line.pop_last() {
                            // Its waiter sees `Full`, as if it had come after this one.
                            bumped(Err(Busy::Full));
                        }
                    }
                    _ => {
                        drop(st);
                        return Err(refused_now(job, &answer, Busy::Full));
                    }
                }
            }
            st.line.insert(key, job);
            // Every waiting job needs a thread on its way: an idle one, or a new one.
            if st.line.len() > st.idle && st.threads < self.size {
                st.threads += 1;
                let shared = self.shared.clone();
                let spawned =
                    std::thread::Builder::new().name(self.shared.name.into()).spawn(move || worker(&shared));
                if let Err(e) = spawned {
                    st.threads -= 1;
                    log::error!("cannot start a {} thread: {e}", self.shared.name);
                }
            }
            self.shared.work.notify_one();
            key
        };
        // Until a thread takes the job, leaving (a timeout, or the caller gone) takes it out of
        // the line, so that it neither runs for nobody nor holds a place.
        let mut waiting = Waiting { shared: &self.shared, key: Some(key) };
        let first = smol::future::or(async { Some(answer.recv().await) }, async {
            async_io::Timer::after(self.max_wait).await;
            None
        })
        .await;
        let closed = || Refused { busy: Busy::Closed, input: None };
        match first {
            Some(r) => {
                waiting.key = None;
                r.unwrap_or_else(|_| Err(closed()))
            }
            None => match waiting.leave() {
                Some(job) => Err(refused_now(job, &answer, Busy::Waited)),
                // A thread took it as the time ran out: the answer is on its way.
                None => answer.recv().await.unwrap_or_else(|_| Err(closed())),
            },
        }
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Bytes the threads' states keep now.
    pub fn kept_bytes(&self) -> usize {
        self.shared.kept.load(Ordering::Relaxed)
    }
}

/// Refuses a job that never ran, and takes its input back from its reply.
fn refused_now<W, R, I>(
    job: Job<W>,
    answer: &smol::channel::Receiver<Result<R, Refused<I>>>,
    busy: Busy,
) -> Refused<I> {
    job(Err(busy));
    match answer.try_recv() {
        Ok(Err(refused)) => refused,
        _ => Refused { busy, input: None },
    }
}

impl<W: Worker> Drop for Pool<W> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        // Dropping the jobs closes their reply channels: their waiters see `Closed`.
        st.line.clear();
        self.shared.work.notify_all();
    }
}

/// A waiter's place in the line, given up when the waiter leaves before its job was taken.
struct Waiting<'a, W> {
    shared: &'a Shared<W>,
    key: Option<Key>,
}

impl<W> Waiting<'_, W> {
    /// Leaves the line, with the job; `None` if a thread already took it.
    fn leave(&mut self) -> Option<Job<W>> {
        let key = self.key.take()?;
        self.shared.lock().line.remove(&key)
    }
}

impl<W> Drop for Waiting<'_, W> {
    fn drop(&mut self) {
        self.leave();
    }
}

fn worker<W: Worker>(shared: &Shared<W>) {
    let mut state = W::start();
    // A job ran since this thread last released its memory.
    let mut worked = false;
    let mut st = shared.lock();
    loop {
        if st.closed {
            break;
        }
        if let Some((job, ranked)) = st.take(shared.ranked_max) {
            drop(st);
            let before = state.kept_bytes();
            // A panicking job drops its reply (its waiter sees `Closed`); the thread goes on.
            if std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(&mut state)))).is_err() {
                log::error!("a {} job panicked", shared.name);
            }
            account(shared, before, state.kept_bytes());
            worked = true;
            st = shared.lock();
            st.dirty = true;
            if ranked {
                st.ranked -= 1;
                // A ranked job that waited for this one's place may go now, on an idle thread
                // if this one takes a job of priority 0.
                if !st.line.is_empty() {
                    shared.work.notify_one();
                }
            }
            continue;
        }
        st.idle += 1;
        let (guard, waited) =
            shared.work.wait_timeout(st, shared.release_after).unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if waited.timed_out() && worked && st.line.is_empty() && !st.closed {
            worked = false;
            let trim = std::mem::take(&mut st.dirty);
            drop(st);
            let before = state.kept_bytes();
            state.release();
            account(shared, before, state.kept_bytes());
            if trim {
                crate::memory::return_free();
            }
            st = shared.lock();
        }
    }
    drop(st);
    let before = state.kept_bytes();
    drop(state);
    account(shared, before, 0);
}

/// Keeps `Shared::kept` up to date with one thread's change.
fn account<W>(shared: &Shared<W>, before: usize, after: usize) {
    if after > before {
        shared.kept.fetch_add(after - before, Ordering::Relaxed);
    } else {
        shared.kept.fetch_sub(before - after, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// A gate that blocked jobs wait on until the test opens it.
    type Gate = Arc<(Mutex<bool>, Condvar)>;

    fn gate() -> Gate {
        Arc::new((Mutex::new(false), Condvar::new()))
    }

    fn open(go: &Gate) {
        *go.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        go.1.notify_all();
    }

    fn sizes(threads: usize, reserved: usize, max_queue: usize, max_wait_ms: u64) -> Sizes {
        Sizes {
            threads,
            reserved,
            max_queue,
            max_wait: Duration::from_millis(max_wait_ms),
            release_after: Duration::from_secs(60),
        }
    }

    /// Runs, on a thread of its own, a job that reports `id` when it starts and then blocks
    /// until `go` opens.
    fn spawn_blocker(
        pool: &Arc<Pool<()>>,
        priority: u32,
        started: &mpsc::Sender<u32>,
        id: u32,
        go: &Gate,
    ) -> std::thread::JoinHandle<Result<u32, Busy>> {
        let (pool, started, go) = (pool.clone(), started.clone(), go.clone());
        std::thread::spawn(move || {
            let job = pool.run(priority, (), move |(), ()| {
                let _ = started.send(id);
                let (m, c) = &*go;
                let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
                while !*g {
                    g = c.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                id
            });
            smol::block_on(job).map_err(|r| r.busy)
        })
    }

    /// Polls the pool's line until it holds `n` jobs (the waiters run on other threads).
    fn wait_line<W: Worker>(pool: &Pool<W>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.shared.lock().line.len() != n {
            assert!(Instant::now() < deadline, "line never reached {n}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn quick(pool: &Pool<()>, priority: u32) -> Result<u32, Busy> {
        smol::block_on(pool.run(priority, (), |(), ()| 0)).map_err(|r| r.busy)
    }

    #[test]
    fn never_more_threads_than_the_size() {
        let pool = Arc::new(Pool::new("test", sizes(2, 0, 16, 30_000)));
        let go = gate();
        let (started, starts) = mpsc::channel();
        let jobs: Vec<_> = (0..6).map(|id| spawn_blocker(&pool, 0, &started, id, &go)).collect();
        starts.recv().expect("start");
        starts.recv().expect("start");
        wait_line(&pool, 4);
        assert_eq!(pool.threads(), 2);
        assert!(starts.try_recv().is_err(), "a third job started");
        open(&go);
        for (id, j) in jobs.into_iter().enumerate() {
            assert_eq!(j.join().expect("join"), Ok(id as u32));
        }
        assert_eq!(pool.threads(), 2);
    }

    #[test]
    fn priority_order_and_a_full_line() {
        let pool = Arc::new(Pool::new("test", sizes(1, 0, 2, 30_000)));
        let go = gate();
        let (started, starts) = mpsc::channel();
        let busy = spawn_blocker(&pool, 5, &started, 1, &go);
        assert_eq!(starts.recv().expect("start"), 1);
        // Two wait (priority 7, then 3): the line is full.
        let low = spawn_blocker(&pool, 7, &started, 3, &go);
        wait_line(&pool, 1);
        let high = spawn_blocker(&pool, 3, &started, 4, &go);
        wait_line(&pool, 2);
        // Ranking behind everyone in a full line: refused at once, the input handed back.
        let refused = smol::block_on(pool.run(9, String::from("lent"), |s, ()| s)).expect_err("full");
        assert_eq!((refused.busy, refused.input.as_deref()), (Busy::Full, Some("lent")));
        assert_eq!(quick(&pool, 7), Err(Busy::Full), "ties go to the earlier");
        // Ranking ahead: takes the place of the last (priority 7), whose waiter is told so.
        let urgent = spawn_blocker(&pool, 0, &started, 5, &go);
        assert_eq!(low.join().expect("join"), Err(Busy::Full));
        open(&go);
        assert_eq!(busy.join().expect("join"), Ok(1));
        // The urgent job runs before the one of priority 3 that came earlier.
        assert_eq!(starts.recv().expect("start"), 5);
        assert_eq!(starts.recv().expect("start"), 4);
        assert_eq!(urgent.join().expect("join"), Ok(5));
        assert_eq!(high.join().expect("join"), Ok(4));
    }

    #[test]
    fn a_waiter_gives_up_after_the_longest_wait() {
        let pool = Arc::new(Pool::new("test", sizes(1, 0, 8, 200)));
        let go = gate();
        let (started, starts) = mpsc::channel();
        let busy = spawn_blocker(&pool, 0, &started, 1, &go);
        starts.recv().expect("start");
        let t = Instant::now();
        let refused = smol::block_on(pool.run(0, vec![7u8], |v, ()| v)).expect_err("waited");
        assert_eq!((refused.busy, refused.input), (Busy::Waited, Some(vec![7u8])));
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(pool.shared.lock().line.len(), 0, "the waiter left the line");
        // The running job is past the longest wait too: a job that runs is not abandoned.
        open(&go);
        assert_eq!(busy.join().expect("join"), Ok(1));
        assert_eq!(quick(&pool, 0), Ok(0));
    }

    /// Issue 11 part 4: the reserved thread serves cheap jobs (priority 0) while every other
    /// thread is busy with ranked ones and more ranked ones wait.
    #[test]
    fn a_reserved_thread_serves_priority_zero_past_a_line_of_ranked_jobs() {
        let pool = Arc::new(Pool::new("test", sizes(3, 1, 64, 30_000)));
        let go = gate();
        let (started, starts) = mpsc::channel();
        let heavy: Vec<_> = (0..10).map(|id| spawn_blocker(&pool, 1, &started, id, &go)).collect();
        starts.recv().expect("start");
        starts.recv().expect("start");
        wait_line(&pool, 8);
        assert!(starts.try_recv().is_err(), "a third ranked job started");
        // Cheap jobs go through, one after the other, on the thread kept for them.
        for _ in 0..3 {
            let t = Instant::now();
            assert_eq!(quick(&pool, 0), Ok(0));
            assert!(t.elapsed() < Duration::from_secs(5));
        }
        assert_eq!(pool.threads(), 3);
        assert!(starts.try_recv().is_err(), "a ranked job took the reserved thread");
        open(&go);
        for (id, j) in heavy.into_iter().enumerate() {
            assert_eq!(j.join().expect("join"), Ok(id as u32));
        }
    }

    /// A panicking job is answered `Closed`; its thread goes on with the next job.
    #[test]
    fn a_panicking_job_leaves_its_thread_working() {
        let pool = Pool::<()>::new("test", sizes(1, 0, 4, 30_000));
        let r = smol::block_on(pool.run(0, (), |(), ()| -> u32 { panic!("in a job") }));
        assert_eq!(r.map_err(|r| r.busy), Err(Busy::Closed));
        assert_eq!(quick(&pool, 0), Ok(0));
        assert_eq!(pool.threads(), 1);
    }
}
