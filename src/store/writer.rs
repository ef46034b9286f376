//! The single writer with group commit. Every mutation is a job sent to one thread that owns
//! redb's write transactions; jobs that arrive while a commit is in flight are applied together in
//! the next transaction and made durable by one fsync. A job's caller gets its answer only after
//! that commit, so an acknowledged write is on disk.
//!
//! When a batch fails on the disk (full, read-only, an fsync that failed), the writer reopens the
//! file at once, so that reads work again, and then refuses writes without touching redb until
//! the disk looks usable again ([`Fault`]): each try waits longer (up to [`MAX_DELAY`]) and
//! starts with a cheap probe ([`probe`]), so a full disk costs neither a log line per delivery
//! nor a reopen per try. The first batch that commits ends the fault; no restart is needed.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};

use super::error::{Result, StoreError};
use super::handle::Handle;
use super::write::{Policy, Room, Tables};
use crate::events::{Change, Hub};

/// Jobs applied in one transaction at most; bounds the work lost to a failed commit and the
/// latency of the first job of a batch.
const MAX_BATCH: usize = 512;

pub(super) enum Outcome {
    Ok,
    /// The job's request was refused; the batch is replayed without it.
    Refused,
    /// The disk failed; the whole batch fails.
    Failed(StoreError),
}

pub(super) trait Job: Send {
    fn apply(&mut self, tables: &mut Tables<'_>) -> Outcome;
    fn finish(self: Box<Self>, commit: Result<()>);
}

struct JobImpl<T, F> {
    f: F,
    result: Option<Result<T>>,
    reply: Sender<Result<T>>,
}

impl<T: Send, F: FnMut(&mut Tables<'_>) -> Result<T> + Send> Job for JobImpl<T, F> {
    fn apply(&mut self, tables: &mut Tables<'_>) -> Outcome {
        let r = (self.f)(tables);
        let outcome = match &r {
            Ok(_) => Outcome::Ok,
            // The free-space reserve refused the request before it wrote: like the quota, a
            // refusal of this job, not a failure of the disk.
            Err(_) if tables.refused_for_room => Outcome::Refused,
            Err(e @ StoreError::Corrupt(_)) => Outcome::Failed(e.clone()),
            Err(e) if e.is_io() => Outcome::Failed(e.clone()),
            Err(_) => Outcome::Refused,
        };
        self.result = Some(r);
        outcome
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        let answer = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(e),
            (Some(ok), Ok(())) => ok,
            (None, Ok(())) => Err(StoreError::Closed),
        };
        // The caller may have gone away; the write stands all the same.
        let _ = self.reply.try_send(answer);
    }
}

/// Handle to the writer thread.
pub(super) struct Writer {
    jobs: Sender<Box<dyn Job>>,
}

/// A submitted job's answer, to be awaited or blocked on.
pub(super) struct Pending<T>(Receiver<Result<T>>);

impl<T> Pending<T> {
    pub async fn wait(self) -> Result<T> {
        self.0.recv().await.unwrap_or(Err(StoreError::Closed))
    }
    pub fn wait_blocking(self) -> Result<T> {
        self.0.recv_blocking().unwrap_or(Err(StoreError::Closed))
    }
}

impl Writer {
    pub fn start(
        db: Arc<Handle>,
        hub: Arc<Hub>,
        policy: Arc<Policy>,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = smol::channel::bounded::<Box<dyn Job>>(4 * MAX_BATCH);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(&db, &hub, &rx, &policy))
            .unwrap_or_else(|e| panic!("cannot start the store writer thread: {e}"));
        (Writer { jobs: tx }, handle)
    }

    pub fn submit<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Tables<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = smol::channel::bounded(1);
        let job = Box::new(JobImpl { f, result: None, reply });
        if let Err(e) = self.jobs.send_blocking(job) {
            e.into_inner().finish(Err(StoreError::Closed));
        }
        Pending(rx)
    }

    pub async fn submit_async<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Tables<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = smol::channel::bounded(1);
        let job = Box::new(JobImpl { f, result: None, reply });
        if let Err(e) = self.jobs.send(job).await {
            e.into_inner().finish(Err(StoreError::Closed));
        }
        Pending(rx)
    }

    pub fn close(&self) {
        self.jobs.close();
    }
}

/// Longest the writer waits for the rest of a batch it expects (see `run`).
const MAX_LINGER: Duration = Duration::from_millis(1);

fn run(db: &Handle, hub: &Hub, rx: &Receiver<Box<dyn Job>>, policy: &Policy) {
    // Jobs in the last batch, and how long its commit took: with N clients delivering in a
    // loop, each batch holds the jobs that arrived during the previous commit, and the clients
    // that were answered last come back a little later. Waiting for them (at most half a commit,
    // at most 1 ms) lets one fsync serve all N instead of splitting them over two commits.
    let (mut expected, mut last_commit) = (1usize, Duration::ZERO);
    let mut health = Health::default();
    while let Ok(first) = rx.recv_blocking() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.len() < expected {
            let deadline = Instant::now() + (last_commit / 2).min(MAX_LINGER);
            while batch.len() < expected.min(MAX_BATCH) {
                let next = async_io::block_on(smol::future::or(async { rx.recv().await.ok() }, async {
                    async_io::Timer::at(deadline).await;
                    None
                }));
                match next {
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
        }
        expected = batch.len();
        let room = match health.admit(db) {
            Ok(room) => room,
            Err(e) => {
                let refused = vec![false; batch.len()];
                finish_all(batch, &refused, &e);
                continue;
            }
        };
        let started = Instant::now();
        let outcome = run_batch(db, hub, batch, policy, room);
        health.after(db, outcome);
        last_commit = started.elapsed();
    }
    log::debug!("store writer stopped");
}

fn finish_all(batch: Vec<Box<dyn Job>>, refused: &[bool], err: &StoreError) {
    for (job, refused) in batch.into_iter().zip(refused) {
        job.finish(if *refused { Ok(()) } else { Err(err.clone()) });
    }
}

/// The writer's view of the disk, kept between batches.
#[derive(Default)]
struct Health {
    /// Set by a batch that failed on the disk, cleared by the first that commits.
    fault: Option<Fault>,
    /// The file system was read-only before the last batch (logged once per episode).
    read_only: bool,
}

impl Health {
    /// Before a batch: the room on the file system when the batch may try the disk, else the
    /// answer for its jobs (nothing was written, and redb was not touched).
    fn admit(&mut self, db: &Handle) -> Result<Room> {
        if let Some(f) = self.fault.as_mut() {
            f.admit(db)?;
        }
        match measure(db.dir()) {
            Ok(room) => {
                if std::mem::take(&mut self.read_only) {
                    log::warn!("store: the file system is writable again");
                }
                Ok(room)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.read_only, true) {
                    log::error!("store: {e}: writes are refused, reads go on");
                }
                Err(e)
            }
        }
    }

    /// After a batch: a failure on the disk starts (or prolongs) a fault and reopens the file,
    /// whose handle latched the error, so that reads work again; a commit ends the fault.
    fn after(&mut self, db: &Handle, outcome: Result<()>) {
        match outcome {
            Ok(()) => {
                if let Some(f) = self.fault.take() {
                    log::warn!(
                        "store: writes work again, {} s after the failure",
                        f.since.elapsed().as_secs()
                    );
                }
            }
            Err(e) if e.is_io() => {
                match self.fault.as_mut() {
                    Some(f) => f.failed_again(&e),
                    None => {
                        log::error!("store: writes fail ({e}); reads go on, writes are retried");
                        self.fault = Some(Fault::new(&e));
                    }
                }
                if let Err(e) = db.reopen() {
                    log::error!("store: cannot reopen the database: {e}; trying again");
                }
            }
            Err(_) => {}
        }
    }
}

/// First wait after a failure before writes are tried again.
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between tries: once space returns, writes resume within this (plus one open).
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Longest wait between tries to open the file again after an open failed.
const MAX_REOPEN_DELAY: Duration = Duration::from_secs(60);
/// What the probe writes and syncs: the room a write is given before it is let through to redb
/// again, so that a disk with a few free KiB does not cost a reopen per try.
const PROBE_BYTES: usize = 1 << 20;
/// The probe's file, beside the database.
const PROBE_FILE: &str = ".applianced-space-probe";

/// Writes failed on the disk: when to try again, and what callers are told until then.
struct Fault {
    since: Instant,
    /// The answer to refused writes: `DiskFull` or `Unavailable`.
    error: StoreError,
    retry_at: Instant,
    /// Doubles with each batch that fails again, up to [`MAX_DELAY`].
    delay: Duration,
}

impl Fault {
    fn new(e: &StoreError) -> Fault {
        let now = Instant::now();
        Fault { since: now, error: refusal(e), retry_at: now + FIRST_DELAY, delay: FIRST_DELAY }
    }

    fn failed_again(&mut self, e: &StoreError) {
        log::debug!("store: writes still fail: {e}");
        self.error = refusal(e);
        self.delay = (self.delay * 2).min(MAX_DELAY);
        self.retry_at = Instant::now() + self.delay;
    }

    /// `Ok` when the next batch may try the disk; else the answer for its jobs.
    fn admit(&mut self, db: &Handle) -> Result<()> {
        let now = Instant::now();
        if now < self.retry_at {
            return Err(self.error.clone());
        }
        self.retry_at = now + self.delay;
        // First a handle for the readers, read-only if need be; then, if the disk takes writes
        // again, one to write through.
        if !db.is_open() {
            self.reopen(db, now)?;
        }
        if let Err(e) = probe(db.dir()) {
            self.error = refusal(&e);
            return Err(self.error.clone());
        }
        if !db.is_writable() {
            self.reopen(db, now)?;
            if !db.is_writable() {
                return Err(self.error.clone());
            }
        }
        Ok(())
    }

    fn reopen(&mut self, db: &Handle, now: Instant) -> Result<()> {
        db.reopen().map_err(|e| {
            // An open that fails may have read the whole file: try it less and less often.
            log::error!("store: the database cannot be reopened: {e}");
            self.delay = (self.delay * 2).min(MAX_REOPEN_DELAY);
            self.retry_at = now + self.delay;
            self.error.clone()
        })
    }
}

/// What a refused write is told: no redb text, which the log has.
fn refusal(e: &StoreError) -> StoreError {
    if e.is_disk_full() {
        StoreError::DiskFull("writes wait for free space".into())
    } else {
        StoreError::Unavailable("writes wait for the disk to work again".into())
    }
}

/// Writes, syncs and removes [`PROBE_BYTES`] beside the database: `Err` when the disk still
/// refuses (full, over quota, read-only, failing), `Ok` also when the probe itself cannot be made
/// for another reason (permissions), so that a probe can never keep writes off a working disk.
fn probe(dir: &std::path::Path) -> Result<()> {
    let path = dir.join(PROBE_FILE);
    let _ = std::fs::remove_file(&path);
    let written = crate::files::create_new(&path).and_then(|mut f| {
        let zeros = vec![0u8; 64 << 10];
        for _ in 0..PROBE_BYTES / zeros.len() {
            f.write_all(&zeros)?;
        }
        f.sync_data()
    });
    let _ = std::fs::remove_file(&path);
    match written {
        Ok(()) => Ok(()),
        Err(e) => {
            use std::io::ErrorKind;
            let still_failing = matches!(
                e.kind(),
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem
            ) || e.raw_os_error() == Some(EIO);
            if still_failing {
                Err(e.into())
            } else {
                log::debug!("store: space probe inconclusive ({e}); trying the write");
                Ok(())
            }
        }
    }
}

/// The free space of the file system that holds the database (statvfs(2): the blocks available
/// to unprivileged users, which the service user is). A file system mounted (or turned, after
/// an error) read-only refuses the batch before redb writes, so that the handle does not latch
/// an error and reads go on. When statvfs itself fails, the reserve is not checked.
fn measure(dir: &std::path::Path) -> Result<Room> {
    match rustix::fs::statvfs(dir) {
        Ok(st) if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) => {
            Err(StoreError::Unavailable("the file system is read-only".into()))
        }
        Ok(st) => Ok(Room { free: Some(st.f_bavail.saturating_mul(st.f_frsize)) }),
        Err(e) => {
            log::debug!("store: statvfs {}: {e}", dir.display());
            Ok(Room { free: None })
        }
    }
}

/// Linux's EIO: the device failed (what a failed fsync reports).
const EIO: i32 = 5;

/// Runs one batch; the error is the disk's (the batch failed as a whole), if it did.
fn run_batch(
    handle: &Handle,
    hub: &Hub,
    mut batch: Vec<Box<dyn Job>>,
    policy: &Policy,
    room: Room,
) -> Result<()> {
    let mut refused = vec![false; batch.len()];
    let db = match handle.get_writable() {
        Ok(db) => db,
        Err(e) => {
            finish_all(batch, &refused, &e);
            return Err(e);
        }
    };
    loop {
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                let e = e.into();
                finish_all(batch, &refused, &e);
                return Err(e);
            }
        };
        let mut events: Vec<Change> = Vec::new();
        let mut replay = false;
        let mut failure = None;
        {
            let mut tables = match Tables::open(&txn, policy, room) {
                Ok(t) => t,
                Err(e) => {
                    finish_all(batch, &refused, &e);
                    return Err(e);
                }
            };
            for (i, job) in batch.iter_mut().enumerate() {
                if refused[i] {
                    continue;
                }
                tables.begin_operation();
                let outcome = match job.apply(&mut tables) {
                    Outcome::Ok => match tables.finish_operation() {
                        Ok(()) => Outcome::Ok,
                        Err(e) => Outcome::Failed(e),
                    },
                    other => other,
                };
                match outcome {
                    Outcome::Ok => events.append(&mut tables.events),
                    Outcome::Refused => {
                        refused[i] = true;
                        replay = true;
                        break;
                    }
                    Outcome::Failed(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        if let Some(e) = failure {
            let _ = txn.abort();
            log::debug!("store write failed: {e}");
            finish_all(batch, &refused, &e);
            return Err(e);
        }
        if replay {
            // A refused job may have written before it failed: drop the whole transaction
            // and apply the others again, so that nothing of the refused job remains.
            let _ = txn.abort();
            continue;
        }
        if refused.iter().all(|r| *r) {
            // Nothing to make durable: no commit, no fsync (and no write on a full disk).
            let _ = txn.abort();
            for job in batch {
                // Each answer is the job's own refusal.
                job.finish(Ok(()));
            }
            return Ok(());
        }
        let commit = txn.commit().map_err(StoreError::from);
        if let Err(e) = &commit {
            log::debug!("store commit failed: {e}");
        } else {
            hub.publish(&events);
        }
        for (job, _) in batch.into_iter().zip(&refused) {
            job.finish(commit.clone());
        }
        return commit;
    }
}
