//! The open database file: the one `redb::Database` the readers and the writer share, and its
//! replacement after a storage failure.
//!
//! redb latches the first I/O error of a handle (a write that found the disk full, an fsync that
//! failed): from then on every read and write through that handle fails with `PreviousIo`, because
//! what it holds in memory may no longer match the file. The cure is to close the handle and open
//! the file again, which recovers the last durable commit: every acknowledged write is in it, as
//! a write is acknowledged only after its commit's fsync succeeded. The writer does that right
//! after a batch fails on the disk ([`Handle::reopen`]), so reads work again once the file is
//! open (the open of a file that was not closed cleanly walks its trees once to rebuild the
//! allocator state). Meanwhile, and while a reopen fails, readers get
//! [`StoreError::Unavailable`].
//!
//! Readers take the `Arc<Database>` only to begin a transaction (a `ReadTransaction` does not hold
//! it), so the writer can swap it under them: a read that started on the old handle fails with
//! `DatabaseClosed`, also answered as `Unavailable`. A read that begins during a reopen waits for
//! it (up to [`READ_WAIT`]), so that a short reopen is a pause, not a failure.
//!
//! When the file system refuses writes (read-only), the file is reopened read-only
//! (`store/overlay.rs`) so that reads go on; the writer reopens it for writing before it writes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use redb::{Database, ReadTransaction, ReadableDatabase};

use super::error::{Result, StoreError};

/// How long a reopen waits for the last holders of the failed handle (a read being begun, a
/// backup) to let it go, so that the file is closed and its lock released before the open.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How long a read that begins during a reopen waits for it before it is answered `Unavailable`.
const READ_WAIT: Duration = Duration::from_secs(5);

pub(super) struct Handle {
    path: PathBuf,
    /// redb's page cache, in bytes: kept for the reopen.
    cache_size: usize,
    slot: Mutex<Slot>,
    /// Signalled when a reopen ends, for the reads waiting on it.
    reopened: Condvar,
}

struct Slot {
    /// `None` between the close of a failed handle and a successful open.
    db: Option<Arc<Database>>,
    /// The handle may be written through (false: opened read-only, `store/overlay.rs`).
    writable: bool,
    /// A reopen is under way.
    reopening: bool,
}

impl Handle {
    /// Opens the database at `path`, creating it (mode 0600, whatever the umask: it holds every
    /// mailbox and password hash) if it does not exist.
    pub fn open(path: &Path, cache_size: usize, verify: bool) -> Result<Handle> {
        let db = open_file(path, cache_size, verify, true)?;
        Ok(Handle {
            path: path.to_path_buf(),
            cache_size,
            slot: Mutex::new(Slot { db: Some(Arc::new(db)), writable: true, reopening: false }),
            reopened: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current handle; during a reopen, the new one once it is open (waiting up to
    /// [`READ_WAIT`]); `Unavailable` when there is none.
    pub fn get(&self) -> Result<Arc<Database>> {
        let slot = self.lock();
        let (slot, _) = self
            .reopened
            .wait_timeout_while(slot, READ_WAIT, |s| s.reopening)
            .unwrap_or_else(|e| e.into_inner());
        slot.db
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the database could not be reopened yet".into()))
    }

    /// A read snapshot of the current handle.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(self.get()?.begin_read()?)
    }

    /// The current handle, for the writer: `Unavailable` unless it may be written through.
    pub fn get_writable(&self) -> Result<Arc<Database>> {
        let slot = self.lock();
        match &slot.db {
            Some(db) if slot.writable => Ok(db.clone()),
            _ => Err(StoreError::Unavailable("the database is not open for writing".into())),
        }
    }

    /// True while a handle is open (false after a reopen failed).
    pub fn is_open(&self) -> bool {
        self.lock().db.is_some()
    }

    /// True while the open handle may be written through.
    pub fn is_writable(&self) -> bool {
        let slot = self.lock();
        slot.db.is_some() && slot.writable
    }

    /// The directory that holds the file (where the writer probes for space).
    pub fn dir(&self) -> &Path {
        self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    }

    /// Closes the current handle and opens the file again. Called by the writer thread only, with
    /// no write transaction of its own alive. On error no handle is open; the writer tries again.
    pub fn reopen(&self) -> Result<()> {
        let old = {
            let mut slot = self.lock();
            slot.reopening = true;
            slot.db.take()
        };
        if let Some(old) = old {
            close(old);
        }
        forget_cached_pages(&self.path);
        let started = Instant::now();
        // Never a new file: one that vanished under the server must not come back empty.
        let opened = match open_file(&self.path, self.cache_size, false, false) {
            Ok(db) => Ok((db, true)),
            Err(e) if refuses_writes(&self.path) => {
                log::warn!("store: {e}: opening {} read-only", self.path.display());
                open_read_only(&self.path, self.cache_size).map(|db| (db, false))
            }
            Err(e) => Err(e),
        };
        let mut slot = self.lock();
        slot.reopening = false;
        let result = match opened {
            Ok((db, writable)) => {
                let how = if writable { "" } else { " read-only" };
                log::info!(
                    "store: {} reopened{how} in {} ms",
                    self.path.display(),
                    started.elapsed().as_millis()
                );
                slot.db = Some(Arc::new(db));
                slot.writable = writable;
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.reopened.notify_all();
        result
    }
}

/// Closes a handle once nobody else holds it. The close of a latched handle writes nothing (redb
/// leaves the file for the next open to recover) and returns the latched error, which was
/// reported when it happened.
fn close(mut db: Arc<Database>) {
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match Arc::try_unwrap(db) {
            Ok(db) => {
                if let Err(e) = db.close() {
                    log::debug!("store: closing the failed handle: {e}");
                }
                return;
            }
            Err(shared) if Instant::now() < deadline => {
                db = shared;
                std::thread::sleep(Duration::from_millis(10));
            }
            // Its last holder closes it; until then the open fails ("already open") and the
            // writer tries again later.
            Err(_) => return,
        }
    }
}

/// Drops the kernel's cached pages of the file, so that the reopen reads what is on the disk.
///
/// After a failed fsync, Linux marks the pages it could not write clean, yet keeps them: a read
/// returns bytes that are not on the disk and never will be (a later fsync reports success
/// without writing them again). Reopened over those, redb would take a commit whose fsync failed
/// (one it never acknowledged) for durable, and build the next commits on pages that a reboot
/// loses. One more sync first lets what can still be written reach the disk; what cannot is
/// dropped with the rest. On tmpfs, where the page cache is the file, this changes nothing.
fn forget_cached_pages(path: &Path) {
    let Ok(file) = std::fs::File::open(path) else { return };
    if let Err(e) = file.sync_data() {
        log::debug!("store: sync before the reopen: {e}");
    }
    if let Err(e) = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed) {
        log::debug!("store: dropping the cached pages of {}: {e}", path.display());
    }
}

/// True when the file cannot be opened for writing because of where it is (a read-only file
/// system) or its mode, not because of what is in it.
fn refuses_writes(path: &Path) -> bool {
    use std::io::ErrorKind;
    match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => false,
        Err(e) => matches!(e.kind(), ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied),
    }
}

/// Opens the file through [`super::overlay::ReadOnlyFile`]: reads only, nothing reaches the file.
fn open_read_only(path: &Path, cache_size: usize) -> Result<Database> {
    let file = std::fs::File::open(path)?;
    let mut builder = Database::builder();
    builder.set_cache_size(cache_size);
    Ok(builder.create_with_backend(super::overlay::ReadOnlyFile::new(file)?)?)
}

fn open_file(path: &Path, cache_size: usize, verify: bool, create: bool) -> Result<Database> {
    let mut builder = Database::builder();
    builder.set_cache_size(cache_size);
    builder.set_check_integrity_on_open(verify);
    if !create || path.exists() {
        return Ok(builder.open(path)?);
    }
    // redb would create the file with the umask's mode: create it private first, empty, which
    // redb initialises as a new database.
    match crate::files::create_new(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    Ok(builder.create(path)?)
}
