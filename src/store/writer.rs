//! The single writer with group commit. Every mutation is a job sent to one thread that owns
//! redb's write transactions; jobs that arrive while a commit is in flight are applied together in
//! the next transaction and made durable by one fsync. A job's caller gets its answer only after
//! that commit, so an acknowledged write is on disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::Database;
use smol::channel::{Receiver, Sender};

use super::error::{Result, StoreError};
use super::write::{Policy, Tables};
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
            Err(StoreError::Storage(e)) => Outcome::Failed(StoreError::Storage(e.clone())),
            Err(StoreError::Corrupt(e)) => Outcome::Failed(StoreError::Corrupt(e.clone())),
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
        db: Arc<Database>,
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

fn run(db: &Database, hub: &Hub, rx: &Receiver<Box<dyn Job>>, policy: &Policy) {
    // Jobs in the last batch, and how long its commit took: with N clients delivering in a
    // loop, each batch holds the jobs that arrived during the previous commit, and the clients
    // that were answered last come back a little later. Waiting for them (at most half a commit,
    // at most 1 ms) lets one fsync serve all N instead of splitting them over two commits.
    let (mut expected, mut last_commit) = (1usize, Duration::ZERO);
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
        let started = Instant::now();
        run_batch(db, hub, batch, policy);
        last_commit = started.elapsed();
    }
    log::debug!("store writer stopped");
}

fn finish_all(batch: Vec<Box<dyn Job>>, refused: &[bool], err: &StoreError) {
    for (job, refused) in batch.into_iter().zip(refused) {
        job.finish(if *refused { Ok(()) } else { Err(clone_err(err)) });
    }
}

fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        other => StoreError::Storage(other.to_string()),
    }
}

fn run_batch(db: &Database, hub: &Hub, mut batch: Vec<Box<dyn Job>>, policy: &Policy) {
    let mut refused = vec![false; batch.len()];
    loop {
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => return finish_all(batch, &refused, &e.into()),
        };
        let mut events: Vec<Change> = Vec::new();
        let mut replay = false;
        let mut failure = None;
        {
            let mut tables = match Tables::open(&txn, policy) {
                Ok(t) => t,
                Err(e) => return finish_all(batch, &refused, &e),
            };
            for (i, job) in batch.iter_mut().enumerate() {
                if refused[i] {
                    continue;
                }
                tables.events.clear();
                match job.apply(&mut tables) {
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
            log::error!("store write failed: {e}");
            return finish_all(batch, &refused, &e);
        }
        if replay {
            // A refused job may have written before it failed: drop the whole transaction
            // and apply the others again, so that nothing of the refused job remains.
            let _ = txn.abort();
            continue;
        }
        let commit = txn.commit().map_err(StoreError::from);
        if let Err(e) = &commit {
            log::error!("store commit failed: {e}");
        } else {
            hub.publish(&events);
        }
        for (job, _) in batch.into_iter().zip(&refused) {
            job.finish(commit.as_ref().map(|_| ()).map_err(clone_err));
        }
        return;
    }
}
