//! `applianced import maildir DIR --user ADDRESS`: brings a Maildir++ tree (Dovecot's layout:
//! `cur/ new/` for INBOX, `.Folder.Sub/` for `Folder/Sub`, names in modified UTF-7) into an
//! account, keeping folders, flags (`:2,DFRST`) and dates (the file's modification time, which is
//! Dovecot's INTERNALDATE). Resumable: the files already imported are listed in a state file next
//! to the database and skipped on the next run. The server must be stopped (the import writes
//! through the store directly, 500 messages per commit).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argh::FromArgs;

use super::fail;
use super::progress::Progress;
use crate::admin::{exit, normalize_line_ends};
use crate::config::{Config, Paths};
use crate::events::Hub;
use crate::imap::fetchdata;
use crate::proto::command::decode_modified_utf7;
use crate::store::{NewMessage, SpecialUse, Store, StoreError, flag};

/// Import mail from another server's store.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "import")]
pub struct ImportCmd {
    #[argh(subcommand)]
    source: Source,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Source {
    Maildir(MaildirSource),
    Imap(super::import_imap::ImapSource),
}

/// A Maildir++ tree (Dovecot, Courier): folders, flags and dates kept.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "maildir")]
struct MaildirSource {
    /// the Maildir root (the directory holding cur/ and new/)
    #[argh(positional)]
    dir: PathBuf,
    /// the account to import into
    #[argh(option)]
    user: String,
}

/// Flags from a Maildir file name's `:2,` info (Maildir spec; Dovecot's letters).
pub fn maildir_flags(name: &str) -> u8 {
    let Some((_, info)) = name.rsplit_once(":2,") else { return 0 };
    let mut bits = 0;
    for c in info.chars() {
        bits |= match c {
            'S' => flag::SEEN,
            'R' => flag::ANSWERED,
            'F' => flag::FLAGGED,
            'T' => flag::DELETED,
            'D' => flag::DRAFT,
            _ => 0,
        };
    }
    bits
}

/// (mailbox name, directory) of every folder of a Maildir++ root.
fn folders(root: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = vec![("INBOX".to_string(), root.to_path_buf())];
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(folder) = name.strip_prefix('.') else { continue };
        if folder.is_empty() || folder == "." || !e.path().join("cur").is_dir() {
            continue;
        }
        let decoded = decode_modified_utf7(folder.as_bytes()).unwrap_or_else(|_| folder.to_string());
        out.push((decoded.replace('.', "/"), e.path()));
    }
    out.sort();
    Ok(out)
}

pub(super) fn special_use(name: &str) -> SpecialUse {
    match name {
        "Drafts" => SpecialUse::Drafts,
        "Sent" => SpecialUse::Sent,
        "Trash" => SpecialUse::Trash,
        "Junk" | "Spam" => SpecialUse::Junk,
        "Archive" => SpecialUse::Archive,
        _ => SpecialUse::None,
    }
}

pub fn run(cmd: ImportCmd, config: &Config, paths: &Paths) -> u8 {
    let src = match cmd.source {
        Source::Maildir(src) => src,
        Source::Imap(src) => return super::import_imap::run(src, config, paths),
    };
    if std::os::unix::net::UnixStream::connect(paths.control_socket()).is_ok() {
        return fail(exit::TEMPFAIL, "the server is running: stop it for the import");
    }
    match import_maildir(&src.dir, &src.user.to_ascii_lowercase(), config, paths) {
        Ok((done, skipped)) => {
            println!("imported {done} messages ({skipped} already imported before)");
            exit::OK
        }
        Err(e) => fail(exit::SOFTWARE, e),
    }
}

fn import_maildir(root: &Path, user: &str, config: &Config, paths: &Paths) -> Result<(usize, usize), String> {
    let store = Store::open(&paths.database(), &config.store_options(), Arc::new(Hub::new()))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let account = store.read().and_then(|r| r.account_id(user)).map_err(|e| format!("{user}: {e}"))?;
    let state_path = paths.data_dir.join(format!("import-{}.state", user.replace(['/', '@'], "_")));
    let done: HashSet<String> =
        std::fs::read_to_string(&state_path).unwrap_or_default().lines().map(str::to_string).collect();
    let mut state = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state_path)
        .map_err(|e| format!("{}: {e}", state_path.display()))?;
    let (mut imported, mut skipped) = (0, 0);
    let mut progress = Progress::new("import", None);
    for (name, dir) in folders(root)? {
        let n = name.clone();
        let created = store.write_blocking(move |t| match t.create_mailbox(account, &n, special_use(&n)) {
            Ok(_) | Err(StoreError::MailboxExists) => Ok(()),
            Err(e) => Err(e),
        });
        created.map_err(|e| format!("{name}: {e}"))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
        }
        files.sort();
        progress.relabel(name.clone(), Some(files.len() as u64));
        for chunk in files.chunks(500) {
            let mut batch = Vec::new();
            let mut keys = Vec::new();
            for path in chunk {
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                let base = file.split(':').next().unwrap_or(&file).to_string();
                let key = format!("{name}\t{base}");
                if done.contains(&key) {
                    skipped += 1;
                    progress.inc(1);
                    continue;
                }
                let raw =
                    normalize_line_ends(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
                let Ok(data) = fetchdata::compute(&raw) else {
                    progress.message(&format!("skipping {} (not mail)", path.display()));
                    continue;
                };
                let date = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                batch.push((raw, data.encode(), maildir_flags(&file), date));
                keys.push(key);
            }
            let n = name.clone();
            let count = batch.len();
            store
                .write_blocking(move |t| {
                    let mb = t.mailbox_id(account, &n)?;
                    for (raw, data, flags, date) in &batch {
                        let blob = t.put_blob(raw, data)?;
                        let m = NewMessage {
                            blob,
                            flags: *flags,
                            keywords: vec![],
                            internal_date: *date,
                            tz_minutes: 0,
                        };
                        t.append(mb, &m)?;
                    }
                    Ok(())
                })
                .map_err(|e| format!("{name}: {e}"))?;
            // Only after the durable commit: a crash before it imports these again, never loses them.
            for k in keys {
                writeln!(state, "{k}").map_err(|e| e.to_string())?;
            }
            state.sync_data().map_err(|e| e.to_string())?;
            imported += count;
            progress.inc(count as u64);
        }
        progress.finish();
    }
    store.close();
    Ok((imported, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_names() {
        assert_eq!(
            maildir_flags("1700000000.M1P2.host,S=100:2,FRS"),
            flag::FLAGGED | flag::ANSWERED | flag::SEEN
        );
        assert_eq!(maildir_flags("1700000000.M1P2.host:2,T"), flag::DELETED);
        assert_eq!(maildir_flags("1700000000.M1P2.host"), 0);
    }
}

/// Export an account to a Maildir++ tree.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "export")]
pub struct ExportCmd {
    #[argh(subcommand)]
    target: Target,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Target {
    Maildir(MaildirTarget),
}

/// Write every mailbox of an account as Maildir++ (the layout `import maildir` and Dovecot read).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "maildir")]
struct MaildirTarget {
    /// the Maildir root to create (must not exist)
    #[argh(positional)]
    dir: PathBuf,
    /// the account to export
    #[argh(option)]
    user: String,
}

/// The `:2,` info letters for flags, in the Maildir spec's (ASCII) order.
pub fn maildir_info(flags: u8) -> String {
    let mut s = String::from(":2,");
    for (bit, c) in [
        (flag::DRAFT, 'D'),
        (flag::FLAGGED, 'F'),
        (flag::ANSWERED, 'R'),
        (flag::SEEN, 'S'),
        (flag::DELETED, 'T'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

pub fn export(cmd: ExportCmd, config: &Config, paths: &Paths) -> u8 {
    let Target::Maildir(t) = cmd.target;
    if std::os::unix::net::UnixStream::connect(paths.control_socket()).is_ok() {
        return fail(exit::TEMPFAIL, "the server is running: stop it for the export");
    }
    if t.dir.exists() {
        return fail(exit::CANTCREAT, format!("{} exists: export writes a new tree", t.dir.display()));
    }
    match export_maildir(&t.dir, &t.user.to_ascii_lowercase(), config, paths) {
        Ok(n) => {
            println!("exported {n} messages to {}", t.dir.display());
            exit::OK
        }
        Err(e) => fail(exit::SOFTWARE, e),
    }
}

fn export_maildir(root: &Path, user: &str, config: &Config, paths: &Paths) -> Result<usize, String> {
    let store = Store::open(&paths.database(), &config.store_options(), Arc::new(Hub::new()))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let r = store.read().map_err(|e| e.to_string())?;
    let account = r.account_id(user).map_err(|e| format!("{user}: {e}"))?;
    let mut n = 0;
    let mut progress = Progress::new("export", None);
    for (id, mb) in r.mailboxes(account).map_err(|e| e.to_string())? {
        progress.relabel(mb.name.clone(), Some(u64::from(mb.exists)));
        let dir = if mb.name == "INBOX" {
            root.to_path_buf()
        } else {
            root.join(format!(".{}", crate::proto::command::encode_modified_utf7(&mb.name).replace('/', ".")))
        };
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut failure = None;
        r.scan(id, 1..=u32::MAX, |uid, m| {
            let result = (|| -> Result<(), String> {
                let raw = r.raw(m.blob).map_err(|e| e.to_string())?;
                let name = format!(
                    "{}.M{uid}P{id}.applianced,S={}{}",
                    m.internal_date,
                    raw.len(),
                    maildir_info(m.flags)
                );
                let path = dir.join("cur").join(name);
                std::fs::write(&path, &raw).map_err(|e| format!("{}: {e}", path.display()))?;
                let when =
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.internal_date.max(0) as u64);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(when))
                    .map_err(|e| format!("{}: {e}", path.display()))
            })();
            match result {
                Ok(()) => {
                    n += 1;
                    progress.inc(1);
                    std::ops::ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    std::ops::ControlFlow::Break(())
                }
            }
        })
        .map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(e);
        }
        progress.finish();
    }
    drop(r);
    store.close();
    Ok(n)
}
