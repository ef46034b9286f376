//! `applianced backup FILE` (while serving, a consistent snapshot) and `applianced restore FILE`
//! (with the server stopped; the current database is kept beside it as `.before-restore`).

use std::path::PathBuf;
use std::sync::Arc;

use argh::FromArgs;

use super::{execute, fail, report};
use crate::admin::{Request, exit};
use crate::config::{Config, Paths};
use crate::events::Hub;
use crate::store::Store;

/// Write a consistent copy of the database to FILE (a new file), even while the server runs.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "backup")]
pub struct BackupCmd {
    /// the backup file to create
    #[argh(positional)]
    file: PathBuf,
}

/// Put a backup in place of the database (stop the server first).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "restore")]
pub struct RestoreCmd {
    /// the backup file
    #[argh(positional)]
    file: PathBuf,
}

pub fn backup(cmd: BackupCmd, config: &Config, paths: &Paths) -> u8 {
    // The server may run as another user in another directory: give it an absolute path.
    let file = match std::path::absolute(&cmd.file) {
        Ok(f) => f,
        Err(e) => return fail(exit::USAGE, format!("{}: {e}", cmd.file.display())),
    };
    report(&execute(config, paths, Request::Backup { path: file.display().to_string() }))
}

/// Gives the restored copy a new sync key: the MAPI extension's sync states and epochs of the
/// history after the backup was taken are then refused (`NO [XRESTART]`) instead of being
/// read against older data (docs/mapi-extension.md §16).
fn renew_sync_key(path: &std::path::Path, config: &Config) -> std::io::Result<()> {
    let store =
        Store::open(path, &config.store_options(), Arc::new(Hub::new())).map_err(std::io::Error::other)?;
    let renewed = store.write_blocking(|t| t.renew_sync_key());
    store.close();
    renewed.map_err(std::io::Error::other)
}

pub fn restore(cmd: RestoreCmd, config: &Config, paths: &Paths) -> u8 {
    if crate::server::control::answers(&paths.control_socket()) {
        return fail(exit::TEMPFAIL, "the server is running: stop it before restoring");
    }
    if !cmd.file.is_file() {
        return fail(exit::NOINPUT, format!("{} is not a backup file", cmd.file.display()));
    }
    // Check the backup opens and holds an applianced database before touching anything.
    match Store::open(&cmd.file, &config.store_options(), Arc::new(Hub::new())) {
        Ok(s) => {
            let accounts = s.read().and_then(|r| r.accounts()).map(|a| a.len());
            s.close();
            if let Err(e) = accounts {
                return fail(exit::DATAERR, format!("{} is not a usable backup: {e}", cmd.file.display()));
            }
        }
        Err(e) => return fail(exit::DATAERR, format!("{} is not a usable backup: {e}", cmd.file.display())),
    }
    let db = paths.database();
    let tmp = db.with_extension("redb.restoring");
    let kept = db.with_extension("redb.before-restore");
    // Not fs::copy, which gives the copy the backup's mode: the database is created 0600.
    let _ = std::fs::remove_file(&tmp);
    let result = std::fs::File::open(&cmd.file)
        .and_then(|mut from| {
            let mut to = crate::files::create_new(&tmp)?;
            std::io::copy(&mut from, &mut to)?;
            to.sync_all()
        })
        .and_then(|()| renew_sync_key(&tmp, config))
        .and_then(|()| if db.exists() { std::fs::rename(&db, &kept) } else { Ok(()) })
        .and_then(|()| std::fs::rename(&tmp, &db));
    match result {
        Ok(()) => {
            println!("restored {} into {}", cmd.file.display(), db.display());
            if kept.exists() {
                println!("the previous database is kept as {}", kept.display());
            }
            exit::OK
        }
        Err(e) => fail(exit::IOERR, format!("restore failed: {e}")),
    }
}
