//! Files and directories applianced creates, made private to the user it runs as: every file
//! 0600 and every directory 0700, whatever the umask. They hold mail, password hashes or keys (the
//! database, the config, `tls/`, backups, exports, import state), so no umask of the shell or the
//! unit that happens to start a command may open them to other users. The umask can only take
//! bits away, so asking for these modes at creation is enough; there is no window in which a file
//! exists with a wider mode, as there would be with a `chmod` after the fact.
//!
//! A file or directory that exists already keeps its mode: the admin may have chosen it (the
//! system installation gives the config to the service group, `cli/init.rs`).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The mode of every file applianced creates.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every directory applianced creates.
pub const DIR_MODE: u32 = 0o700;

/// `mkdir -p` with mode 0700 for each directory it creates.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates a new file (mode 0600) for writing; fails if it exists.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)
}

/// Opens a file for appending, creating it (mode 0600) if needed.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().append(true).create(true).mode(FILE_MODE).open(path)
}

/// `File::create`: opens for writing, truncated, creating the file (mode 0600) if needed.
pub fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)
}

/// `std::fs::write`, creating the file with mode 0600 if it does not exist.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    create(path)?.write_all(contents)
}

/// Makes a file written with [`write`] or [`create_new`] durable: its data, and its name in its
/// directory. For what a restart needs (the config, the TLS key and certificate): a crash, or a
/// file system that turns read-only, right after `--init` would leave them empty otherwise.
pub fn sync(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}
