//! `applianced import maildir DIR --user ADDRESS`: brings a Maildir++ tree (Dovecot's layout:
//! `cur/ new/` for INBOX, `.Folder.Sub/` for `Folder/Sub`, names in modified UTF-7) into an
//! account, keeping folders, flags (`:2,DFRST`), Dovecot's keywords (the lowercase letters of
//! the info, named by the folder's `dovecot-keywords`) and dates (the file's modification time,
//! which is Dovecot's INTERNALDATE). `import mbox` lives in `mbox.rs`.
//!
//! Resumable: the files already imported are listed in a state file next to the database,
//! written after each durable batch, and skipped on the next run. Batches go through
//! `sink.rs`: to the running server over its control socket, or to the store directly when
//! no server runs.
//!
//! `applianced export maildir DIR --user ADDRESS` writes the same layout back (keywords in a
//! `dovecot-keywords` per folder), reading from the running server or from the store.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use argh::FromArgs;

use super::fail;
use super::progress::Progress;
use super::sink::{SinkError, Target, append_batch, export as export_account};
use crate::admin::exit;
use crate::config::{Config, Paths};
use crate::imap::fetchdata;
use crate::migrate::{Batch, ExportItem, ImportMessage};
use crate::proto::command::{Atom, decode_modified_utf7};
use crate::store::flag;

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
    Mbox(super::mbox::MboxSource),
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

pub fn run(cmd: ImportCmd, config: &Config, paths: &Paths) -> u8 {
    let target = match Target::open(config, paths) {
        Ok(t) => t,
        Err(e) => return fail(e.code, e),
    };
    let result = match cmd.source {
        Source::Maildir(src) => import_maildir(&target, &src.dir, &src.user.to_ascii_lowercase(), paths),
        Source::Mbox(src) => super::mbox::import(&target, &src, paths),
        Source::Imap(src) => {
            let code = super::import_imap::run(src, &target, paths);
            target.close();
            return code;
        }
    };
    target.close();
    match result {
        Ok(summary) => {
            println!("{summary}");
            exit::OK
        }
        Err(e) => fail(e.code, e),
    }
}

fn err(code: u8, message: impl Into<String>) -> SinkError {
    SinkError { code, message: message.into() }
}

/// Sends a batch and, once it is durable, records its keys in the state file.
fn commit(
    target: &Target,
    user: &str,
    batch: Batch,
    keys: Vec<String>,
    state: &mut std::fs::File,
) -> Result<usize, SinkError> {
    let done = append_batch(target, user, batch)?;
    // Only after the durable commit: a crash before it imports these again, never loses them.
    for (i, k) in keys.iter().enumerate() {
        if !done.skipped.iter().any(|(s, _)| *s == i) {
            writeln!(state, "{k}").map_err(|e| err(exit::IOERR, e.to_string()))?;
        }
    }
    state.sync_data().map_err(|e| err(exit::IOERR, e.to_string()))?;
    Ok(done.appended())
}

fn import_maildir(target: &Target, root: &Path, user: &str, paths: &Paths) -> Result<String, SinkError> {
    if !root.is_dir() {
        return Err(err(exit::NOINPUT, format!("{}: not a directory", root.display())));
    }
    let state_path = paths.data_dir.join(format!("import-{}.state", user.replace(['/', '@'], "_")));
    let done: HashSet<String> =
        std::fs::read_to_string(&state_path).unwrap_or_default().lines().map(str::to_string).collect();
    let mut state = crate::files::open_append(&state_path)
        .map_err(|e| err(exit::CANTCREAT, format!("{}: {e}", state_path.display())))?;
    let (mut imported, mut skipped) = (0, 0);
    let mut progress = Progress::new("import", None);
    for (name, dir) in folders(root).map_err(|e| err(exit::NOINPUT, e))? {
        // The folder exists afterwards even when empty (and the account is checked first).
        let create = Batch { mailboxes: vec![name.clone()], ..Batch::default() };
        append_batch(target, user, create).map_err(|e| err(e.code, format!("{name}: {e}")))?;
        let keywords = dovecot_keywords(&dir);
        let mut files: Vec<PathBuf> = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
        }
        files.sort();
        progress.relabel(name.clone(), Some(files.len() as u64));
        let mut batch = Batch::default();
        let mut keys = Vec::new();
        for path in &files {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let base = file.split(':').next().unwrap_or(&file).to_string();
            let key = format!("{name}\t{base}");
            if done.contains(&key) {
                skipped += 1;
                progress.inc(1);
                continue;
            }
            let raw =
                std::fs::read(path).map_err(|e| err(exit::IOERR, format!("{}: {e}", path.display())))?;
            if fetchdata::validate(&raw).is_err() {
                progress.message(&format!("skipping {} (not mail)", path.display()));
                continue;
            }
            let date = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            batch.messages.push(ImportMessage {
                mailbox: name.clone(),
                flags: maildir_flags(&file),
                keywords: maildir_keywords(&file, &keywords),
                internal_date: date,
                tz_minutes: 0,
                raw,
            });
            keys.push(key);
            if batch.is_full() {
                let n =
                    commit(target, user, std::mem::take(&mut batch), std::mem::take(&mut keys), &mut state)
                        .map_err(|e| err(e.code, format!("{name}: {e}")))?;
                imported += n;
                progress.inc(n as u64);
            }
        }
        if !batch.messages.is_empty() {
            let n = commit(target, user, batch, keys, &mut state)
                .map_err(|e| err(e.code, format!("{name}: {e}")))?;
            imported += n;
            progress.inc(n as u64);
        }
        progress.finish();
    }
    Ok(format!("imported {imported} messages ({skipped} already imported before)"))
}

/// A Maildir folder's keyword names by letter (`a` = 0), from Dovecot's `dovecot-keywords`.
fn dovecot_keywords(dir: &Path) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(dir.join("dovecot-keywords")).unwrap_or_default();
    parse_dovecot_keywords(&text)
}

/// Parses `dovecot-keywords` (lines `0 name`, `1 name`...; at most 26, `a` to `z`); names that
/// are not IMAP atoms are left out.
pub fn parse_dovecot_keywords(text: &str) -> Vec<Option<String>> {
    let mut out = vec![None; 26];
    for line in text.lines() {
        let Some((i, name)) = line.trim_end().split_once(' ') else { continue };
        let Ok(i) = i.parse::<usize>() else { continue };
        if i < 26 && !name.starts_with('\\') && Atom::try_from(name).is_ok() {
            out[i] = Some(name.to_string());
        }
    }
    out
}

/// The keywords of a Maildir file name's `:2,` info: its lowercase letters, looked up in the
/// folder's `dovecot-keywords` (a letter without a name there is left out, as Dovecot does).
pub fn maildir_keywords(name: &str, table: &[Option<String>]) -> Vec<String> {
    let Some((_, info)) = name.rsplit_once(":2,") else { return vec![] };
    info.bytes()
        .filter(u8::is_ascii_lowercase)
        .filter_map(|c| table.get(usize::from(c - b'a')).cloned().flatten())
        .collect()
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

    #[test]
    fn dovecot_keywords_by_letter() {
        let table = parse_dovecot_keywords("0 $Forwarded\n1 work\n3 bad(name\n27 far\nnonsense\n2 $Junk\n");
        assert_eq!(table[0].as_deref(), Some("$Forwarded"));
        assert_eq!(table[3], None);
        assert_eq!(
            maildir_keywords("1700000000.M1P2.host,S=5:2,FSacd", &table),
            vec!["$Forwarded".to_string(), "$Junk".to_string()]
        );
        assert_eq!(maildir_flags("1700000000.M1P2.host,S=5:2,FSacd"), flag::FLAGGED | flag::SEEN);
        assert!(maildir_keywords("1700000000.M1P2.host", &table).is_empty());
    }
}

/// Export an account to a Maildir++ tree.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "export")]
pub struct ExportCmd {
    #[argh(subcommand)]
    target: Destination,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Destination {
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
    let Destination::Maildir(t) = cmd.target;
    if t.dir.exists() {
        return fail(exit::CANTCREAT, format!("{} exists: export writes a new tree", t.dir.display()));
    }
    let target = match Target::open(config, paths) {
        Ok(t) => t,
        Err(e) => return fail(e.code, e),
    };
    let mut writer = MaildirWriter::new(&t.dir);
    let result = export_account(&target, &t.user.to_ascii_lowercase(), &mut |item| writer.item(item))
        .and_then(|_| writer.end_folder().map_err(|e| err(exit::IOERR, e)));
    target.close();
    writer.progress.finish();
    match result {
        Ok(()) => {
            println!("exported {} messages to {}", writer.messages, t.dir.display());
            exit::OK
        }
        Err(e) => fail(e.code, e),
    }
}

/// Writes an export stream as a Maildir++ tree: one folder per mailbox, a file per message with
/// its flags (and keywords as letters, named in the folder's `dovecot-keywords`) in the name
/// and its INTERNALDATE as the modification time. The same code serves an export read from
/// the store and one streamed by the server.
struct MaildirWriter {
    root: PathBuf,
    /// The folder being written, its number, and its keywords in letter order.
    folder: Option<(PathBuf, u32, Vec<String>)>,
    folders: u32,
    messages: u64,
    progress: Progress,
}

impl MaildirWriter {
    fn new(root: &Path) -> Self {
        MaildirWriter {
            root: root.to_path_buf(),
            folder: None,
            folders: 0,
            messages: 0,
            progress: Progress::new("export", None),
        }
    }

    fn item(&mut self, item: ExportItem) -> Result<(), String> {
        match item {
            ExportItem::Mailbox { name, messages } => {
                if self.folder.is_some() {
                    self.progress.finish();
                }
                self.end_folder()?;
                self.progress.relabel(name.clone(), Some(u64::from(messages)));
                let dir = if name == "INBOX" {
                    self.root.clone()
                } else {
                    self.root.join(format!(
                        ".{}",
                        crate::proto::command::encode_modified_utf7(&name).replace('/', ".")
                    ))
                };
                for sub in ["cur", "new", "tmp"] {
                    crate::files::create_dir_all(&dir.join(sub))
                        .map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                self.folders += 1;
                self.folder = Some((dir, self.folders, Vec::new()));
                Ok(())
            }
            ExportItem::Message { uid, flags, keywords, internal_date, raw, .. } => {
                let Some((dir, number, known)) = self.folder.as_mut() else {
                    return Err("a message before its mailbox in the export stream".into());
                };
                let mut info = maildir_info(flags);
                let mut letters = Vec::new();
                for k in &keywords {
                    let i = match known.iter().position(|x| x == k) {
                        Some(i) => i,
                        None if known.len() < 26 => {
                            known.push(k.clone());
                            known.len() - 1
                        }
                        None => {
                            self.progress.message(&format!(
                                "keyword {k} of UID {uid} left out: Maildir names 26 keywords per folder"
                            ));
                            continue;
                        }
                    };
                    letters.push(char::from(b'a' + i as u8));
                }
                letters.sort_unstable();
                info.extend(letters);
                let name = format!("{internal_date}.M{uid}P{number}.applianced,S={}{info}", raw.len());
                let path = dir.join("cur").join(name);
                crate::files::write(&path, &raw).map_err(|e| format!("{}: {e}", path.display()))?;
                let when =
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(internal_date.max(0) as u64);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(when))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                self.messages += 1;
                self.progress.inc(1);
                Ok(())
            }
        }
    }

    /// Writes the finished folder's `dovecot-keywords`, if its messages had keywords.
    fn end_folder(&mut self) -> Result<(), String> {
        let Some((dir, _, known)) = self.folder.take() else { return Ok(()) };
        if known.is_empty() {
            return Ok(());
        }
        let text: String = known.iter().enumerate().map(|(i, k)| format!("{i} {k}\n")).collect();
        let path = dir.join("dovecot-keywords");
        crate::files::write(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }
}
