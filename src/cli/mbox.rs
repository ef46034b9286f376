//! `applianced import mbox PATH --user ADDRESS [--folder NAME]`: one mbox file (into `--folder`,
//! INBOX by default), or a directory tree of them as Thunderbird and mutt keep them (file `Foo`
//! is folder `Foo`, directory `Foo.sbd/` holds its subfolders, a plain directory `lists/` of
//! mutt holds folders `lists/...`; `.msf` indexes and other non-mbox files are skipped). With a
//! tree, `--folder` names the parent of its folders, and a top-level `Inbox` file is INBOX.
//!
//! The file is streamed (`migrate::mbox::Splitter`: one message in memory at a time) and sent
//! in batches through `sink.rs`. Flags and keywords come from the headers mail stores write
//! (`Status`, `X-Status`, `X-Keywords`, `X-Mozilla-Status`, `X-Mozilla-Keys`), which are then
//! removed; INTERNALDATE from the `From_` line, else the `Date:` header, else the file's time.
//!
//! Resumable: after each durable batch the state file `import-mbox-USER.state` (next to the
//! database) records, per source file and folder, the byte offset of the next message; the next
//! run starts there (so mail appended to the file since is imported then). Progress counts bytes
//! of the file (its total is the file's size): counting messages first would read a file of
//! gigabytes twice.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use argh::FromArgs;

use super::progress::Progress;
use super::sink::{SinkError, Target, append_batch};
use crate::admin::exit;
use crate::config::Paths;
use crate::imap::fetchdata;
use crate::migrate::mbox::{Splitter, from_line_date, header_date, take_store_headers};
use crate::migrate::{Batch, ImportMessage};

/// One mbox file, or a tree of them (Thunderbird, mutt): folders, flags and dates kept.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "mbox")]
pub struct MboxSource {
    /// an mbox file, or a directory of them (Thunderbird's `Foo` and `Foo.sbd/`, mutt's folders)
    #[argh(positional)]
    pub path: PathBuf,
    /// the account to import into
    #[argh(option)]
    pub user: String,
    /// for a file: the folder to import into (default INBOX); for a tree: the parent folder
    #[argh(option)]
    pub folder: Option<String>,
}

/// Largest message imported; a larger one is skipped with a notice (IMAP clients and the
/// control socket's payload cap would choke on it anyway).
const MAX_MESSAGE: usize = 64 << 20;
/// Bytes read from the file at a time.
const CHUNK: usize = 256 << 10;

fn err(code: u8, message: impl Into<String>) -> SinkError {
    SinkError { code, message: message.into() }
}

/// Whether a file holds mbox data: empty, or starting with a `From ` line.
fn looks_like_mbox(path: &Path) -> bool {
    let mut head = [0u8; 5];
    match std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) {
        Ok(0) => true,
        Ok(n) => n == 5 && &head == b"From ",
        Err(_) => false,
    }
}

fn join(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    }
}

/// Folder levels followed at most (a symbolic link may loop).
const MAX_DEPTH: usize = 32;

/// (folder, file) of every mbox file under `dir`, in name order; `notes` collects skipped files.
fn walk(dir: &Path, prefix: Option<&str>, out: &mut Vec<(String, PathBuf)>, notes: &mut Vec<String>) {
    if prefix.is_some_and(|p| p.matches('/').count() >= MAX_DEPTH) {
        notes.push(format!("skipping {}: more than {MAX_DEPTH} folder levels", dir.display()));
        return;
    }
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(e) => e.flatten().map(|e| e.path()).collect(),
        Err(e) => {
            notes.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if path.is_dir() && link {
            notes.push(format!("skipping {} (a link to a directory: it may loop)", path.display()));
        } else if path.is_dir() {
            let folder = name.strip_suffix(".sbd").unwrap_or(&name);
            walk(&path, Some(&join(prefix, folder)), out, notes);
        } else if path.is_file() {
            if name.ends_with(".msf") {
                continue;
            }
            if !looks_like_mbox(&path) {
                notes.push(format!("skipping {} (not an mbox file)", path.display()));
                continue;
            }
            let folder = if prefix.is_none() && name.eq_ignore_ascii_case("inbox") {
                "INBOX".to_string()
            } else {
                join(prefix, &name)
            };
            out.push((folder, path));
        }
    }
}

/// `%`, tab and line ends escaped, so that a state line splits at its tabs.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\t', "%09").replace('\n', "%0A").replace('\r', "%0D")
}

fn unescape(s: &str) -> String {
    s.replace("%0D", "\r").replace("%0A", "\n").replace("%09", "\t").replace("%25", "%")
}

/// The resume state: (file, folder) → offset of the next message. The last line of a key wins.
fn load_state(text: &str) -> HashMap<(String, String), u64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(off), Some(mb), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if let Ok(off) = off.parse() {
            out.insert((unescape(path), unescape(mb)), off);
        }
    }
    out
}

/// Counters of one run.
#[derive(Default)]
struct Tally {
    imported: usize,
    expunged: usize,
    refused: usize,
    resumed: usize,
}

/// One source file being imported.
struct FileImport<'a> {
    target: &'a Target,
    user: &'a str,
    mailbox: &'a str,
    path: &'a Path,
    key: String,
    state: &'a mut std::fs::File,
    progress: &'a mut Progress,
    tally: &'a mut Tally,
    /// Offset recorded last in the state file.
    recorded: u64,
    batch: Batch,
    /// Offset just past the last message taken (batched or skipped).
    taken: u64,
    mtime: i64,
}

impl FileImport<'_> {
    fn take(&mut self, m: crate::migrate::mbox::Message) -> Result<(), SinkError> {
        self.taken = m.end;
        let at = format!("{} at byte {}", self.path.display(), m.start);
        if m.truncated {
            self.progress.message(&format!("skipping the message {at}: larger than {MAX_MESSAGE} bytes"));
            self.tally.refused += 1;
        } else {
            let (raw, st) = take_store_headers(&m.data);
            if st.expunged {
                self.tally.expunged += 1;
            } else if let Err(e) = fetchdata::validate(&raw) {
                self.progress.message(&format!("skipping the message {at}: {e}"));
                self.tally.refused += 1;
            } else {
                let (internal_date, tz_minutes) =
                    from_line_date(&m.from_line).or_else(|| header_date(&raw)).unwrap_or((self.mtime, 0));
                self.batch.messages.push(ImportMessage {
                    mailbox: self.mailbox.to_string(),
                    flags: st.flags,
                    keywords: st.keywords,
                    internal_date,
                    tz_minutes,
                    raw,
                });
            }
        }
        if self.batch.is_full() { self.commit() } else { Ok(()) }
    }

    /// Sends the batch and, once durable, records where the next message starts.
    fn commit(&mut self) -> Result<(), SinkError> {
        if !self.batch.messages.is_empty() {
            let done = append_batch(self.target, self.user, std::mem::take(&mut self.batch))
                .map_err(|e| err(e.code, format!("{}: {e}", self.path.display())))?;
            self.tally.imported += done.appended();
            for (i, why) in &done.skipped {
                self.progress
                    .message(&format!("{}: message {i} of a batch skipped: {why}", self.path.display()));
            }
            self.tally.refused += done.skipped.len();
        }
        if self.taken > self.recorded {
            writeln!(self.state, "{}\t{}\t{}", self.taken, escape(self.mailbox), escape(&self.key))
                .and_then(|()| self.state.sync_data())
                .map_err(|e| err(exit::IOERR, format!("state file: {e}")))?;
            self.progress.inc(self.taken - self.recorded);
            self.recorded = self.taken;
        }
        Ok(())
    }
}

pub fn import(target: &Target, src: &MboxSource, paths: &Paths) -> Result<String, SinkError> {
    let user = src.user.to_ascii_lowercase();
    let mut notes = Vec::new();
    let mut sources = Vec::new();
    if src.path.is_dir() {
        walk(&src.path, src.folder.as_deref(), &mut sources, &mut notes);
    } else if src.path.is_file() {
        if !looks_like_mbox(&src.path) {
            return Err(err(
                exit::DATAERR,
                format!("{}: not an mbox file (it does not start with a `From ` line)", src.path.display()),
            ));
        }
        sources.push((src.folder.clone().unwrap_or_else(|| "INBOX".into()), src.path.clone()));
    } else {
        return Err(err(exit::NOINPUT, format!("{}: no such file or directory", src.path.display())));
    }
    let mut progress = Progress::new("import", None);
    for n in &notes {
        progress.message(n);
    }
    if sources.is_empty() {
        return Err(err(exit::NOINPUT, format!("{}: no mbox files found", src.path.display())));
    }
    let state_path = paths.data_dir.join(format!("import-mbox-{}.state", user.replace(['/', '@'], "_")));
    let done = load_state(&std::fs::read_to_string(&state_path).unwrap_or_default());
    let mut state = crate::files::open_append(&state_path)
        .map_err(|e| err(exit::CANTCREAT, format!("{}: {e}", state_path.display())))?;
    let mut tally = Tally::default();
    for (mailbox, path) in &sources {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).to_string_lossy().into_owned();
        let start = done.get(&(key.clone(), mailbox.clone())).copied().unwrap_or(0);
        let mut file =
            std::fs::File::open(path).map_err(|e| err(exit::NOINPUT, format!("{}: {e}", path.display())))?;
        let meta = file.metadata().map_err(|e| err(exit::IOERR, format!("{}: {e}", path.display())))?;
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        if start > size {
            return Err(err(
                exit::DATAERR,
                format!(
                    "{} is shorter than the {start} bytes imported from it before: a different file? \
                     Delete {} to import it anew",
                    path.display(),
                    state_path.display()
                ),
            ));
        }
        // The folder exists afterwards even when the file is empty (and the account is checked).
        let create = Batch { mailboxes: vec![mailbox.clone()], ..Batch::default() };
        append_batch(target, &user, create).map_err(|e| err(e.code, format!("{mailbox}: {e}")))?;
        progress.relabel(mailbox.clone(), Some(size));
        progress.inc(start);
        // Where the next message starts: the recorded offset, past any blank lines an appending
        // writer put after a last message that had no line end.
        let mut origin = start;
        if start > 0 {
            tally.resumed += 1;
            let mut head = [0u8; 512];
            let read = file.seek(SeekFrom::Start(start)).and_then(|_| file.read(&mut head));
            let head = &head[..read.unwrap_or(0)];
            let blank = head.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            origin = start + blank as u64;
            if blank < head.len() && !head[blank..].starts_with(b"From ") {
                return Err(err(
                    exit::DATAERR,
                    format!(
                        "{} changed since the last import (no message starts at byte {start}): \
                         delete {} to import it anew",
                        path.display(),
                        state_path.display()
                    ),
                ));
            }
            file.seek(SeekFrom::Start(origin))
                .map_err(|e| err(exit::IOERR, format!("{}: {e}", path.display())))?;
        }
        let mut job = FileImport {
            target,
            user: &user,
            mailbox,
            path,
            key,
            state: &mut state,
            progress: &mut progress,
            tally: &mut tally,
            recorded: start,
            batch: Batch::default(),
            taken: start,
            mtime,
        };
        let mut splitter = Splitter::new(origin, MAX_MESSAGE);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(exit::IOERR, format!("{}: {e}", path.display()))),
            };
            if n == 0 {
                splitter.finish();
            } else {
                splitter.feed(&buf[..n]);
            }
            while let Some(m) = splitter.next_message() {
                job.take(m)?;
            }
            if n == 0 {
                break;
            }
        }
        job.commit()?;
        if splitter.junk > 0 {
            progress.message(&format!(
                "{}: {} bytes before the first `From ` line left out",
                path.display(),
                splitter.junk
            ));
        }
        progress.finish();
    }
    let mut summary = format!("imported {} messages from {} mbox files", tally.imported, sources.len());
    if tally.resumed > 0 {
        summary.push_str(&format!(", {} of them resumed where an earlier run stopped", tally.resumed));
    }
    if tally.expunged > 0 {
        summary.push_str(&format!("; {} expunged by Thunderbird left out", tally.expunged));
    }
    if tally.refused > 0 {
        summary.push_str(&format!("; {} not mail or too large, left out", tally.refused));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lines_round_trip() {
        let key = ("/tmp/a\tb%09".to_string(), "Work/Jobs 2024".to_string());
        let text = format!(
            "10\t{}\t{}\n42\t{}\t{}\nbroken\n",
            escape(&key.1),
            escape(&key.0),
            escape(&key.1),
            escape(&key.0)
        );
        let state = load_state(&text);
        assert_eq!(state.get(&key), Some(&42));
        assert_eq!(state.len(), 1);
    }
}
