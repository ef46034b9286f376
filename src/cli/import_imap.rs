//! `applianced import imap URL --user ACCOUNT`: copies every folder of an account on another
//! IMAP server into a local account, with flags, keywords and INTERNALDATEs, over TLS.
//!
//! The source is only read (EXAMINE, `BODY.PEEK[]`). Messages come in UID batches and are
//! committed durably as [`crate::migrate::Batch`]es through `sink.rs`, like `import maildir`:
//! to the running server over its control socket, or to the store when no server runs. A state
//! file per (account, source) records, per source folder, its UIDVALIDITY, the highest source
//! UID durably imported and the local UIDs it became (the batch's answer names them), so that a
//! rerun fetches only `UID n+1:*`. Before each commit the batch is announced in the state file
//! (`pending`: the mailbox's UIDNEXT then, the count and size); a run that finds a pending batch
//! checks whether that commit happened (a run of that many consecutive UIDs from that UIDNEXT
//! on, of exactly that size: one commit's UIDs are consecutive even when mail arrives
//! meanwhile), so an interruption at any point neither loses nor duplicates a message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argh::FromArgs;

use super::fail;
use super::progress::Progress;
use super::sink::{self, SinkError, Target};
use crate::admin::exit;
use crate::client::response::internal_date;
use crate::client::tls::TlsOptions;
use crate::client::{ClientError, Connection, ServerUrl, Untagged, Value, quote};
use crate::config::Paths;
use crate::ingest;
use crate::migrate::{Batch, ImportMessage, MailboxInfo};
use crate::proto::command::decode_modified_utf7;
use crate::store::{SpecialUse, flag};

/// The environment variable that may hold the source password.
pub const PASSWORD_ENV: &str = "APPLIANCED_IMPORT_PASSWORD";
/// Bytes of message bodies fetched and committed at most per batch.
const BATCH_BYTES: u64 = 16 << 20;

/// Another IMAP server: every folder, flags, keywords and dates kept; resumable.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "imap")]
pub struct ImapSource {
    /// imaps://LOGIN@HOST[:PORT], or imap://... with STARTTLS; a "@" in LOGIN is written %40
    #[argh(positional)]
    url: String,
    /// the local account to import into
    #[argh(option)]
    user: String,
    /// file holding the source password (default: the APPLIANCED_IMPORT_PASSWORD variable)
    #[argh(option)]
    password_file: Option<PathBuf>,
    /// accept any certificate of the source (self-signed, expired, another name)
    #[argh(switch)]
    insecure: bool,
    /// PEM file of certificates to trust besides the system's
    #[argh(option)]
    ca: Option<PathBuf>,
    /// with imap:// to a loopback address: no STARTTLS
    #[argh(switch)]
    plain: bool,
    /// import again, from scratch, a folder whose UIDVALIDITY changed since the last run
    #[argh(switch)]
    force: bool,
    /// messages per fetch and commit (default 200)
    #[argh(option, default = "200")]
    batch: usize,
}

/// What can stop an import, by who is to blame (and so which exit code).
#[derive(Debug)]
enum ImportError {
    /// The source server or the network.
    Client(ClientError),
    /// The local store, or the server in front of it.
    Store(SinkError),
    /// The state file.
    State(String),
}

impl ImportError {
    fn code(&self) -> u8 {
        match self {
            ImportError::Client(ClientError::Usage(_)) => exit::USAGE,
            ImportError::Client(ClientError::Tls(_)) => exit::CONFIG,
            ImportError::Client(ClientError::Refused { command, .. }) if command == "LOGIN" => exit::NOPERM,
            ImportError::Client(ClientError::Parse(_) | ClientError::Protocol(_)) => exit::DATAERR,
            ImportError::Client(_) => exit::TEMPFAIL,
            ImportError::Store(e) => e.code,
            ImportError::State(_) => exit::IOERR,
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Client(e) => write!(f, "source: {e}"),
            ImportError::Store(e) => write!(f, "{e}"),
            ImportError::State(e) => write!(f, "state file: {e}"),
        }
    }
}

impl From<ClientError> for ImportError {
    fn from(e: ClientError) -> Self {
        ImportError::Client(e)
    }
}

fn store_err(what: &str) -> impl Fn(SinkError) -> ImportError + '_ {
    move |e| ImportError::Store(SinkError { code: e.code, message: format!("{what}: {}", e.message) })
}

/// Reads the password from `file`, or from the environment; the first line only.
pub fn read_password(file: Option<&Path>) -> Result<String, (u8, String)> {
    let text = match file {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| (exit::NOINPUT, format!("{}: {e}", f.display())))?
        }
        None => std::env::var(PASSWORD_ENV)
            .map_err(|_| (exit::USAGE, format!("give --password-file FILE or set {PASSWORD_ENV}")))?,
    };
    let pw = text.lines().next().unwrap_or_default().to_string();
    if pw.is_empty() {
        return Err((exit::USAGE, "the password is empty".into()));
    }
    Ok(pw)
}

/// Imports into `target` (the running server or the store); the caller closes it.
pub fn run(src: ImapSource, target: &Target, paths: &Paths) -> u8 {
    let url = match ServerUrl::parse(&src.url) {
        Ok(u) => u,
        Err(e) => return fail(exit::USAGE, e),
    };
    let Some(login) = url.login.clone() else {
        return fail(exit::USAGE, format!("{}: the URL needs the login: imaps://LOGIN@HOST", src.url));
    };
    if src.batch == 0 {
        return fail(exit::USAGE, "--batch must be at least 1");
    }
    let password = match read_password(src.password_file.as_deref()) {
        Ok(p) => p,
        Err((code, e)) => return fail(code, e),
    };
    let user = src.user.to_ascii_lowercase();
    // The account must exist before anything is fetched.
    if let Err(e) = sink::mailboxes(target, &user) {
        return fail(e.code, e);
    }
    if src.insecure {
        eprintln!(
            "applianced: warning: --insecure: the certificate of {} is not checked; anyone on the path could read the password and the mail",
            url.host
        );
    }
    let source_id = format!("{login}@{}", url.display_server());
    let state_path =
        paths.data_dir.join(format!("import-imap-{}-{}.state", file_safe(&user), file_safe(&source_id)));
    let job = Job {
        target,
        account: user.clone(),
        floor: 1,
        state_path,
        force: src.force,
        batch: src.batch,
        progress: Progress::new("import", None),
        summary: Summary::default(),
    };
    let tls = TlsOptions { insecure: src.insecure, ca: src.ca.clone() };
    // Commits run on threads of this scope while the connection is read (see `off_thread`).
    let result =
        std::thread::scope(|scope| smol::block_on(job.run(&url, &tls, src.plain, &login, &password, scope)));
    match result {
        Ok(s) => {
            println!(
                "imported {} messages from {} folders ({} already imported before, {} skipped)",
                s.imported, s.folders, s.before, s.skipped
            );
            if s.warnings > 0 {
                println!("{} folders were skipped: see the warnings above", s.warnings);
            }
            exit::OK
        }
        Err(e) => {
            let code = e.code();
            fail(code, format!("{e} (what was imported is kept; run the same command again to resume)"))
        }
    }
}

/// Letters, digits, `.`, `-` and `@` as they are; anything else as `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@') { c } else { '_' })
        .collect()
}

#[derive(Debug, Default)]
struct Summary {
    folders: usize,
    imported: usize,
    before: usize,
    /// Messages the source sent that are not mail (or vanished meanwhile).
    skipped: usize,
    /// Folders skipped (UIDVALIDITY changed, names that cannot be used).
    warnings: usize,
}

/// One source folder as LIST showed it, with where it goes.
#[derive(Debug)]
struct Folder {
    /// The name as the source sent it (modified UTF-7), for EXAMINE and the state file.
    source: String,
    /// The local name, with `/` as the delimiter.
    target: String,
    special: SpecialUse,
}

// ---- the state file ----

/// A batch announced before its commit: `count` messages of a total (stored) size, whose local
/// UIDs are consecutive, from `first` (the mailbox's UIDNEXT before the commit) on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    first: u32,
    count: u32,
    size: u64,
    last_source_uid: u32,
}

/// What the state file knows of one source folder.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FolderState {
    target: String,
    uidvalidity: u32,
    last_uid: u32,
    /// Local UIDs the imported messages got, as inclusive ranges.
    local: Vec<(u32, u32)>,
    pending: Option<Pending>,
}

const STATE_HEADER: &str =
    "# applianced import imap: source\ttarget\tuidvalidity\tlast-uid\tlocal-uids\tpending";

/// `%`, tab and newline escaped, so a name fits in a tab-separated line.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\t', "%09").replace('\n', "%0A").replace('\r', "%0D")
}

fn unescape(s: &str) -> String {
    crate::client::url::percent_decode(s).unwrap_or_else(|| s.to_string())
}

fn ranges_text(r: &[(u32, u32)]) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") })
        .collect::<Vec<_>>()
        .join(",")
}

fn add_range(r: &mut Vec<(u32, u32)>, first: u32, last: u32) {
    match r.last_mut() {
        Some((_, b)) if b.checked_add(1) == Some(first) => *b = last,
        _ => r.push((first, last)),
    }
}

fn format_state(state: &BTreeMap<String, FolderState>) -> String {
    let mut out = format!("{STATE_HEADER}\n");
    for (source, f) in state {
        let pending = match f.pending {
            Some(p) => format!("{}:{}:{}:{}", p.first, p.count, p.size, p.last_source_uid),
            None => "-".into(),
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{pending}\n",
            escape(source),
            escape(&f.target),
            f.uidvalidity,
            f.last_uid,
            ranges_text(&f.local)
        ));
    }
    out
}

fn parse_state(text: &str) -> Result<BTreeMap<String, FolderState>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let bad = || format!("line {}: not a state line", i + 1);
        let f: Vec<&str> = line.split('\t').collect();
        let [source, target, uidvalidity, last, local, pending] = f[..] else { return Err(bad()) };
        let local = if local == "-" {
            Vec::new()
        } else {
            let mut v = Vec::new();
            for part in local.split(',') {
                let (a, b) = part.split_once(':').unwrap_or((part, part));
                v.push((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?));
            }
            v
        };
        let pending = if pending == "-" {
            None
        } else {
            let p: Vec<&str> = pending.split(':').collect();
            let [first, count, size, last_source_uid] = p[..] else { return Err(bad()) };
            Some(Pending {
                first: first.parse().map_err(|_| bad())?,
                count: count.parse().map_err(|_| bad())?,
                size: size.parse().map_err(|_| bad())?,
                last_source_uid: last_source_uid.parse().map_err(|_| bad())?,
            })
        };
        out.insert(
            unescape(source),
            FolderState {
                target: unescape(target),
                uidvalidity: uidvalidity.parse().map_err(|_| bad())?,
                last_uid: last.parse().map_err(|_| bad())?,
                local,
                pending,
            },
        );
    }
    Ok(out)
}

/// Replaces the state file durably: a new file, fsynced, renamed over the old one.
fn save_state(path: &Path, state: &BTreeMap<String, FolderState>) -> Result<(), ImportError> {
    let tmp = path.with_extension("state.new");
    let io = |e: std::io::Error| ImportError::State(format!("{}: {e}", path.display()));
    let mut f = crate::files::create(&tmp).map_err(io)?;
    f.write_all(format_state(state).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

// ---- mapping ----

/// Special use from LIST attributes (RFC 6154 §2: a `\\` and the use's name).
fn special_from_attrs(attrs: &[String]) -> SpecialUse {
    attrs
        .iter()
        .filter(|a| a.starts_with('\\'))
        .find_map(|a| SpecialUse::from_name(a))
        .unwrap_or(SpecialUse::None)
}

/// The local name of a source folder: levels split at the source's delimiter and joined with
/// `/` (a `/` inside a level becomes `_`), INBOX in any case as INBOX.
fn local_name(decoded: &str, delimiter: Option<char>, prefix: &str) -> String {
    // Courier and Cyrus keep every folder under a personal namespace `INBOX.`: `INBOX.Sent` is
    // the user's Sent, not a child of INBOX (RFC 2342 §3).
    let decoded = match decoded.get(..prefix.len()) {
        Some(head)
            if !prefix.is_empty() && head.eq_ignore_ascii_case(prefix) && decoded.len() > prefix.len() =>
        {
            &decoded[prefix.len()..]
        }
        _ => decoded,
    };
    let levels: Vec<String> = match delimiter {
        Some(d) if d != '/' => decoded.split(d).map(|l| l.replace('/', "_")).collect(),
        _ => decoded.split('/').map(str::to_string).collect(),
    };
    let mut levels = levels;
    if levels.first().is_some_and(|l| l.eq_ignore_ascii_case("INBOX")) {
        levels[0] = "INBOX".into();
    }
    levels.join("/")
}

/// The prefix of the first personal namespace (`INBOX.` on Courier), decoded, or "".
/// `namespace-response = "NAMESPACE" SP namespace SP namespace SP namespace`, where
/// `namespace = nil / "(" 1*namespace-descr ")"` and `namespace-descr = "(" string SP
/// (DQUOTE QUOTED-CHAR DQUOTE / nil) [namespace-response-extensions] ")"` (RFC 9051 §7.3.5).
fn personal_prefix(reply: &crate::client::Reply) -> String {
    reply
        .untagged
        .iter()
        .find_map(|u| match u {
            Untagged::Other { keyword, rest, .. } if keyword == "NAMESPACE" => {
                let first = rest.first()?.as_list()?.first()?.as_list()?;
                let prefix = first.first()?.as_bytes()?;
                Some(
                    decode_modified_utf7(&prefix)
                        .unwrap_or_else(|_| String::from_utf8_lossy(&prefix).into_owned()),
                )
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// Flags and keywords from a FETCH FLAGS list; `\Recent` and unknown system flags are dropped.
fn flags_of(v: Option<&Value>) -> (u8, Vec<String>) {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in v.and_then(Value::as_list).unwrap_or_default() {
        let Value::Atom(a) = f else { continue };
        match a.to_ascii_lowercase().as_str() {
            "\\seen" => bits |= flag::SEEN,
            "\\answered" => bits |= flag::ANSWERED,
            "\\flagged" => bits |= flag::FLAGGED,
            "\\deleted" => bits |= flag::DELETED,
            "\\draft" => bits |= flag::DRAFT,
            _ if a.starts_with('\\') => {}
            _ => keywords.push(a.clone()),
        }
    }
    (bits, keywords)
}

/// One message fetched from the source, ready to send, with the size the store will keep.
struct Fetched {
    message: ImportMessage,
    size: u64,
}

/// Most messages that may arrive in a mailbox between a batch's announcement and its commit
/// for the resume check to still find the batch among them.
const SETTLE_SLACK: usize = 10_000;

struct Job<'a> {
    target: &'a Target,
    /// The local account's address.
    account: String,
    /// For the folder being imported: no message added from now on gets a UID below this
    /// (UIDNEXT when the folder started, then one above the last UID a batch got).
    floor: u32,
    state_path: PathBuf,
    force: bool,
    batch: usize,
    progress: Progress,
    summary: Summary,
}

impl<'a> Job<'a> {
    async fn run(
        mut self,
        url: &ServerUrl,
        tls: &TlsOptions,
        plain: bool,
        login: &str,
        password: &str,
        scope: &'a std::thread::Scope<'a, '_>,
    ) -> Result<Summary, ImportError> {
        let mut state = match std::fs::read_to_string(&self.state_path) {
            Ok(text) => parse_state(&text)
                .map_err(|e| ImportError::State(format!("{}: {e}", self.state_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(ImportError::State(format!("{}: {e}", self.state_path.display()))),
        };
        self.settle_pending(&mut state)?;
        let (mut c, _) = Connection::open(url, tls, plain, Duration::from_secs(120)).await?;
        c.login(login, password).await?;
        if c.has("COMPRESS=DEFLATE") {
            c.compress().await?;
        }
        for folder in self.folders(&mut c).await? {
            self.folder(&mut c, &folder, &mut state, scope).await?;
        }
        c.logout().await;
        Ok(self.summary)
    }

    /// Resolves batches announced but not known to be committed: committed if, from the UIDNEXT
    /// they announced on, the mailbox holds a run of that many consecutive UIDs of exactly their
    /// total size (mail delivered meanwhile comes before the run or after it, never inside).
    fn settle_pending(&self, state: &mut BTreeMap<String, FolderState>) -> Result<(), ImportError> {
        let mut changed = false;
        for f in state.values_mut() {
            let Some(p) = f.pending.take() else { continue };
            changed = true;
            let limit = (p.count as usize).saturating_add(SETTLE_SLACK);
            let found = match sink::sizes(self.target, &self.account, &f.target, p.first, limit) {
                Ok(found) => found,
                // The mailbox is gone: nothing of the batch is there.
                Err(e) if e.code == exit::NOINPUT => continue,
                Err(e) => return Err(store_err(&f.target)(e)),
            };
            if let Some(first) = committed_run(&found, p.count, p.size) {
                f.last_uid = p.last_source_uid;
                add_range(&mut f.local, first, first + p.count - 1);
            }
        }
        if changed {
            save_state(&self.state_path, state)?;
        }
        Ok(())
    }

    /// LIST "" "*" (RFC 9051 §6.3.9): the selectable folders, mapped to local names.
    async fn folders(&mut self, c: &mut Connection) -> Result<Vec<Folder>, ImportError> {
        let prefix =
            if c.has("NAMESPACE") { personal_prefix(&c.ok("NAMESPACE").await?) } else { String::new() };
        let reply = c.ok("LIST \"\" \"*\"").await?;
        let mut out: Vec<Folder> = Vec::new();
        for u in reply.untagged {
            let Untagged::List { attrs, delimiter, name } = u else { continue };
            let has = |a: &str| attrs.iter().any(|x| x.eq_ignore_ascii_case(a));
            if has("\\Noselect") || has("\\NonExistent") {
                continue;
            }
            let source = String::from_utf8_lossy(&name).into_owned();
            let special = special_from_attrs(&attrs);
            // RFC 6154 §2: \All and \Flagged are views of messages kept in other folders;
            // importing them would store every such message twice.
            if matches!(special, SpecialUse::All | SpecialUse::Flagged) {
                self.progress.message(&format!("skipping {source}: a virtual folder (\\All or \\Flagged)"));
                continue;
            }
            let decoded = decode_modified_utf7(&name).unwrap_or_else(|_| source.clone());
            let target = local_name(&decoded, delimiter, &prefix);
            if target.is_empty() || target.split('/').any(str::is_empty) {
                self.progress.message(&format!("skipping {source}: no usable local name"));
                self.summary.warnings += 1;
                continue;
            }
            let special = if special == SpecialUse::None {
                crate::migrate::guess_special_use(&target)
            } else {
                special
            };
            out.push(Folder { source, target, special });
        }
        // INBOX first, then by name: parents before children.
        out.sort_by(|a, b| (a.target != "INBOX", &a.target).cmp(&(b.target != "INBOX", &b.target)));
        Ok(out)
    }

    /// The local mailbox of a folder: with a special use the account already has a folder for,
    /// that folder (a source's "Sent Items" goes to the local Sent); else its own name, created
    /// when missing.
    fn target_mailbox(&mut self, folder: &Folder) -> Result<String, ImportError> {
        let existing = self.mailboxes()?;
        if folder.special != SpecialUse::None
            && !existing.iter().any(|m| m.name == folder.target)
            && let Some(mb) = existing.iter().find(|mb| mb.special_use == folder.special)
        {
            if mb.name != folder.target {
                self.progress.message(&format!("{} goes to {} (same special use)", folder.target, mb.name));
            }
            return Ok(mb.name.clone());
        }
        self.ensure_mailbox(&folder.target, folder.special)?;
        Ok(folder.target.clone())
    }

    fn mailboxes(&self) -> Result<Vec<MailboxInfo>, ImportError> {
        sink::mailboxes(self.target, &self.account).map_err(store_err("database"))
    }

    /// Creates `name` with `special` unless it exists.
    fn ensure_mailbox(&self, name: &str, special: SpecialUse) -> Result<(), ImportError> {
        let batch = Batch { uses: vec![(name.to_string(), special)], ..Batch::default() };
        sink::append_batch(self.target, &self.account, batch).map_err(store_err(name))?;
        Ok(())
    }

    async fn folder(
        &mut self,
        c: &mut Connection,
        folder: &Folder,
        state: &mut BTreeMap<String, FolderState>,
        scope: &'a std::thread::Scope<'a, '_>,
    ) -> Result<(), ImportError> {
        let Some(quoted) = quote(&folder.source) else {
            self.progress.message(&format!("skipping {:?}: the name holds a line break", folder.source));
            self.summary.warnings += 1;
            return Ok(());
        };
        // EXAMINE: read-only, so the source's \Recent and \Seen stay as they are (RFC 9051 §6.3.3).
        let reply = c.command(&format!("EXAMINE {quoted}")).await?;
        if reply.status != crate::client::Cond::Ok {
            // One folder the source will not open (permissions, a broken folder) must not stop
            // the migration of the others.
            self.progress.message(&format!(
                "warning: skipping {}: the source refused EXAMINE: {}",
                folder.target, reply.text
            ));
            self.summary.warnings += 1;
            return Ok(());
        }
        let mut uidvalidity = None;
        let mut exists = 0u32;
        for u in &reply.untagged {
            match u {
                Untagged::Exists(n) => exists = *n,
                Untagged::Cond { code: Some(code), .. } if code.name == "UIDVALIDITY" => {
                    uidvalidity = code.args.first().and_then(Value::as_u32);
                }
                _ => {}
            }
        }
        let Some(uidvalidity) = uidvalidity else {
            return Err(ClientError::Protocol(format!("no UIDVALIDITY for {}", folder.source)).into());
        };
        let target = match state.get(&folder.source) {
            Some(f) => {
                let name = f.target.clone();
                self.ensure_mailbox(&name, SpecialUse::None)?;
                name
            }
            None => self.target_mailbox(folder)?,
        };
        let mut fs = state.get(&folder.source).cloned().unwrap_or(FolderState {
            target: target.clone(),
            uidvalidity,
            last_uid: 0,
            local: Vec::new(),
            pending: None,
        });
        if fs.uidvalidity != uidvalidity {
            if !self.force {
                self.progress.message(&format!(
                    "warning: skipping {}: its UIDVALIDITY changed ({} then, {uidvalidity} now), so the source renumbered its messages; run again with --force to import it from scratch (replacing the {} messages imported from it before)",
                    folder.target,
                    fs.uidvalidity,
                    count(&fs.local)
                ));
                self.summary.warnings += 1;
                return Ok(());
            }
            self.progress.message(&format!(
                "{}: UIDVALIDITY changed; --force: removing the {} messages imported before and importing it again",
                folder.target,
                count(&fs.local)
            ));
            let batch = Batch { expunge: vec![(fs.target.clone(), fs.local.clone())], ..Batch::default() };
            sink::append_batch(self.target, &self.account, batch).map_err(store_err(&fs.target))?;
            fs =
                FolderState { target: fs.target, uidvalidity, last_uid: 0, local: Vec::new(), pending: None };
            state.insert(folder.source.clone(), fs.clone());
            save_state(&self.state_path, state)?;
        }
        self.summary.folders += 1;
        self.floor = self.mailboxes()?.iter().find(|m| m.name == fs.target).map_or(1, |m| m.uidnext);
        self.progress.relabel(fs.target.clone(), Some(u64::from(exists)));
        // The UIDs still to import, with their sizes. `n:*` always includes the last message,
        // even below n (RFC 9051 §6.4.8): filter.
        let mut todo: Vec<(u32, u64)> = Vec::new();
        if exists > 0 && fs.last_uid < u32::MAX {
            let reply = c.ok(&format!("UID FETCH {}:* (UID RFC822.SIZE)", fs.last_uid + 1)).await?;
            for u in &reply.untagged {
                let uid = u.fetch_item("UID").and_then(Value::as_u32);
                let size = u.fetch_item("RFC822.SIZE").and_then(Value::as_u64);
                if let (Some(uid), Some(size)) = (uid, size)
                    && uid > fs.last_uid
                {
                    todo.push((uid, size));
                }
            }
        }
        todo.sort_unstable();
        todo.dedup_by_key(|t| t.0);
        let before = (exists as usize).saturating_sub(todo.len());
        self.summary.before += before;
        self.progress.inc(before as u64);
        // Up to `batch` messages and BATCH_BYTES (at least one message) per batch.
        let mut chunks: Vec<&[(u32, u64)]> = Vec::new();
        let mut rest = &todo[..];
        while !rest.is_empty() {
            let mut n = 0;
            let mut bytes = 0;
            while n < rest.len() && n < self.batch && (n == 0 || bytes + rest[n].1 <= BATCH_BYTES) {
                bytes += rest[n].1;
                n += 1;
            }
            let (chunk, after) = rest.split_at(n);
            chunks.push(chunk);
            rest = after;
        }
        // Pipelined: the next batch is asked for before this one is committed, so its bytes
        // cross the link while the disk syncs (RFC 9051 §5.5 allows commands in flight).
        let mut in_flight = match chunks.first() {
            Some(chunk) => Some(c.send(&fetch_command(chunk)).await?),
            None => None,
        };
        // And a batch commits (on a thread of `scope`, waiting for its fsync) while the next
        // batch's reply is read, so the source's bytes keep flowing.
        let mut ready: Option<Ready> = None;
        for (i, chunk) in chunks.iter().enumerate() {
            let Some(tag) = in_flight.take() else { break };
            let reply = match ready.take() {
                Some(Ready { batch, meta }) => {
                    let commit = self.commit_on(scope, batch);
                    let (done, reply) = smol::future::zip(commit, c.finish(&tag, "UID FETCH")).await;
                    self.commit(meta, done, &mut fs, &folder.source, state)?;
                    reply?
                }
                None => c.finish(&tag, "UID FETCH").await?,
            };
            if let Some(next) = chunks.get(i + 1) {
                in_flight = Some(c.send(&fetch_command(next)).await?);
            }
            ready = self.prepare(reply, chunk, &mut fs, &folder.source, state)?;
        }
        if let Some(Ready { batch, meta }) = ready.take() {
            let done = self.commit_on(scope, batch).await;
            self.commit(meta, done, &mut fs, &folder.source, state)?;
        }
        if !state.contains_key(&folder.source) {
            state.insert(folder.source.clone(), fs);
            save_state(&self.state_path, state)?;
        }
        self.progress.finish();
        Ok(())
    }

    /// Takes one batch's FETCH reply apart and announces the batch in the state file; `None`
    /// when nothing of it is left to store (its UIDs are then recorded as done).
    fn prepare(
        &mut self,
        reply: crate::client::Reply,
        chunk: &[(u32, u64)],
        fs: &mut FolderState,
        source: &str,
        state: &mut BTreeMap<String, FolderState>,
    ) -> Result<Option<Ready>, ImportError> {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else { return Ok(None) };
        let (first, last) = (first.0, last.0);
        let mut got: BTreeMap<u32, Fetched> = BTreeMap::new();
        let mut answered = 0;
        // Taken apart by value: a body is moved, never copied, on its way to the store.
        for u in reply.untagged {
            let Untagged::Fetch { items, .. } = u else { continue };
            let (mut uid, mut body, mut flags, mut date) = (None, None, None, None);
            for (name, v) in items {
                match name.as_str() {
                    "UID" => uid = v.as_u32(),
                    "BODY[]" => body = Some(v),
                    "FLAGS" => flags = Some(v),
                    "INTERNALDATE" => date = Some(v),
                    _ => {}
                }
            }
            let Some(uid) = uid.filter(|u| (first..=last).contains(u)) else { continue };
            // A FETCH without the body is an unsolicited flag update (RFC 9051 §7.5.2), not
            // the answer; a second answer for a UID is ignored.
            let Some(body) = body else { continue };
            if got.contains_key(&uid) {
                continue;
            }
            answered += 1;
            let body = match body {
                Value::Str(b) => b,
                _ => {
                    self.progress
                        .message(&format!("skipping UID {uid} of {source}: the server sent no body"));
                    self.summary.skipped += 1;
                    continue;
                }
            };
            let Ok(size) = ingest::stored_size(&body) else {
                self.progress.message(&format!("skipping UID {uid} of {source}: not a message"));
                self.summary.skipped += 1;
                continue;
            };
            let (flags, keywords) = flags_of(flags.as_ref());
            let when = date
                .as_ref()
                .and_then(|v| v.as_bytes())
                .and_then(|b| internal_date(&String::from_utf8_lossy(&b)));
            let (internal_date, tz_minutes) = when.unwrap_or_else(|| (ingest::arrival(), 0));
            let message = ImportMessage {
                mailbox: fs.target.clone(),
                flags,
                keywords,
                internal_date,
                tz_minutes,
                raw: body,
            };
            got.insert(uid, Fetched { message, size });
        }
        // Messages expunged on the source since the size listing simply do not come.
        self.summary.skipped += chunk.len().saturating_sub(answered);
        let batch: Vec<Fetched> = got.into_values().collect();
        let count = batch.len();
        if count == 0 {
            self.batch_done(None, Vec::new(), fs, source, state, last, chunk.len())?;
            return Ok(None);
        }
        // Announce the batch: the UIDs it will take at least and its size (see settle_pending).
        let size: u64 = batch.iter().map(|m| m.size).sum();
        fs.pending = Some(Pending { first: self.floor, count: count as u32, size, last_source_uid: last });
        state.insert(source.to_string(), fs.clone());
        save_state(&self.state_path, state)?;
        let batch = Batch { messages: batch.into_iter().map(|m| m.message).collect(), ..Batch::default() };
        Ok(Some(Ready { batch, meta: Meta { count, last, fetched: chunk.len() } }))
    }

    /// After a batch's commit (`done`, when it had messages): records the new UIDs, then the source
    /// UIDs as done, and saves the state.
    #[allow(clippy::too_many_arguments)]
    fn batch_done(
        &mut self,
        count: Option<usize>,
        uids: Vec<u32>,
        fs: &mut FolderState,
        source: &str,
        state: &mut BTreeMap<String, FolderState>,
        last: u32,
        fetched: usize,
    ) -> Result<(), ImportError> {
        if let Some(count) = count {
            for &uid in &uids {
                add_range(&mut fs.local, uid, uid);
            }
            self.floor = uids.iter().max().map_or(self.floor, |u| u.saturating_add(1));
            self.summary.imported += count;
        }
        // Only after the durable commit: the source UIDs are done.
        fs.pending = None;
        fs.last_uid = last;
        state.insert(source.to_string(), fs.clone());
        save_state(&self.state_path, state)?;
        self.progress.inc(fetched as u64);
        Ok(())
    }

    /// Commits `batch` on a thread of `scope`: the returned future holds nothing of `self`, so
    /// the connection can be read while it runs.
    fn commit_on<'env>(
        &self,
        scope: &'a std::thread::Scope<'a, 'env>,
        batch: Batch,
    ) -> impl std::future::Future<Output = Result<crate::migrate::Appended, SinkError>> + use<'a, 'env> {
        let (target, account) = (self.target, self.account.clone());
        off_thread(scope, move || sink::append_batch(target, &account, batch))
    }

    /// Records a committed batch (`done`, from [`Job::commit_on`]).
    fn commit(
        &mut self,
        ready: Meta,
        done: Result<crate::migrate::Appended, SinkError>,
        fs: &mut FolderState,
        source: &str,
        state: &mut BTreeMap<String, FolderState>,
    ) -> Result<(), ImportError> {
        let done = done.map_err(store_err(&fs.target))?;
        // Checked by stored_size above: the store refuses none of them.
        if done.appended() != ready.count || !done.skipped.is_empty() {
            return Err(ImportError::Store(SinkError {
                code: exit::SOFTWARE,
                message: format!("{}: the store refused messages the import took for mail", fs.target),
            }));
        }
        self.batch_done(Some(ready.count), done.uids, fs, source, state, ready.last, ready.fetched)
    }
}

/// A batch fetched and announced, waiting for its commit.
struct Ready {
    batch: Batch,
    meta: Meta,
}

/// What is recorded of a batch once it is committed.
struct Meta {
    count: usize,
    /// The last source UID of the batch.
    last: u32,
    /// Source UIDs the batch's FETCH asked for (the progress counts them).
    fetched: usize,
}

/// Runs `f` on a thread of `scope` and awaits its result, so that the async task goes on (reads
/// the source's next reply) while `f` blocks (a commit waiting for its fsync).
async fn off_thread<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> T {
    let (tx, rx) = smol::channel::bounded(1);
    scope.spawn(move || {
        let _ = tx.send_blocking(f());
    });
    match rx.recv().await {
        Ok(v) => v,
        // The thread panicked: let the panic show where it happened.
        Err(_) => panic!("import thread failed"),
    }
}

/// The FETCH of one batch: the source UIDs from its first to its last (RFC 9051 §6.4.9).
fn fetch_command(chunk: &[(u32, u64)]) -> String {
    let first = chunk.first().map_or(1, |c| c.0);
    let last = chunk.last().map_or(first, |c| c.0);
    format!("UID FETCH {first}:{last} (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
}

fn count(r: &[(u32, u32)]) -> u64 {
    r.iter().map(|(a, b)| u64::from(b - a) + 1).sum()
}

/// The first UID of a run of `count` consecutive UIDs among `found` ((UID, size) in UID order)
/// whose sizes add up to `size`.
fn committed_run(found: &[(u32, u32)], count: u32, size: u64) -> Option<u32> {
    let n = count as usize;
    if n == 0 {
        return None;
    }
    found.windows(n).find_map(|w| {
        let (first, last) = (w[0].0, w[n - 1].0);
        let total: u64 = w.iter().map(|(_, s)| u64::from(*s)).sum();
        (u64::from(last - first) + 1 == u64::from(count) && total == size).then_some(first)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: a batch's commit (blocking) runs while the async task goes on reading the
    /// source. The blocking side here waits for a signal that only the async side sends: had
    /// `off_thread` run it on the task's own thread, the signal would never come.
    #[test]
    fn a_commit_runs_while_the_connection_is_read() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let overlapped = std::thread::scope(|scope| {
            smol::block_on(async {
                let commit = off_thread(scope, move || rx.recv_timeout(Duration::from_secs(10)).is_ok());
                let read = async move {
                    let _ = tx.send(());
                };
                smol::future::zip(commit, read).await.0
            })
        });
        assert!(overlapped, "the blocking work did not run beside the async task");
    }

    #[test]
    fn state_round_trip() {
        let mut s = BTreeMap::new();
        s.insert(
            "Archiv&AOQ-\tx".to_string(),
            FolderState {
                target: "Archiv/ä 100%".into(),
                uidvalidity: 7,
                last_uid: 300,
                local: vec![(1, 200), (205, 205)],
                pending: Some(Pending { first: 206, count: 3, size: 999, last_source_uid: 310 }),
            },
        );
        s.insert(
            "INBOX".to_string(),
            FolderState { target: "INBOX".into(), uidvalidity: 1, last_uid: 0, local: vec![], pending: None },
        );
        let text = format_state(&s);
        assert_eq!(parse_state(&text), Ok(s));
        assert!(parse_state("INBOX\t1\n").is_err());
    }

    /// A batch announced and committed is counted as imported, wherever mail delivered meanwhile
    /// put its UIDs; one announced but not committed is dropped, so it is fetched again: no
    /// loss, no duplicate.
    #[test]
    fn pending_batches_are_settled_against_the_store() {
        use crate::events::Hub;
        use crate::store::Store;
        let dir = std::env::temp_dir().join(format!("applianced-settle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = Store::open(&dir.join("db"), &Default::default(), std::sync::Arc::new(Hub::new()))
            .expect("store");
        store.write_blocking(|t| t.create_account("a@b.c", "x", &[])).expect("account");
        let target = Target::Store(store);
        let raw = b"Subject: x\r\n\r\nbody\r\n".to_vec();
        let message = |raw: &[u8]| ImportMessage {
            mailbox: "INBOX".into(),
            flags: 0,
            keywords: vec![],
            internal_date: 0,
            tz_minutes: 0,
            raw: raw.to_vec(),
        };
        // Mail delivered after the announcement (UID 1), then the batch (UIDs 2 and 3).
        let batch = Batch {
            messages: vec![message(b"Subject: other\r\n\r\n"), message(&raw), message(&raw)],
            ..Batch::default()
        };
        let done = sink::append_batch(&target, "a@b.c", batch).expect("append");
        assert_eq!(done.uids, vec![1, 2, 3]);
        let size = raw.len() as u64;
        let folder = |target: &str, pending| FolderState {
            target: target.into(),
            uidvalidity: 5,
            last_uid: 10,
            local: vec![],
            pending: Some(pending),
        };
        let mut state = BTreeMap::new();
        // Committed: from UID 1 on, UIDs 2 and 3 hold two messages of the announced total size.
        state.insert(
            "A".to_string(),
            folder("INBOX", Pending { first: 1, count: 2, size: 2 * size, last_source_uid: 30 }),
        );
        // Not committed: nothing from UID 4 on.
        state.insert(
            "B".to_string(),
            folder("INBOX", Pending { first: 4, count: 1, size, last_source_uid: 40 }),
        );
        // Not committed, though UIDs exist: the size does not match.
        state.insert(
            "C".to_string(),
            folder("INBOX", Pending { first: 1, count: 2, size: 7, last_source_uid: 50 }),
        );
        // Not committed: the mailbox does not exist.
        state.insert(
            "D".to_string(),
            folder("Gone", Pending { first: 1, count: 1, size, last_source_uid: 60 }),
        );
        let job = Job {
            target: &target,
            account: "a@b.c".into(),
            floor: 1,
            state_path: dir.join("state"),
            force: false,
            batch: 10,
            progress: Progress::new("test", None),
            summary: Summary::default(),
        };
        job.settle_pending(&mut state).expect("settle");
        assert_eq!(
            (state["A"].last_uid, state["A"].local.clone(), state["A"].pending),
            (30, vec![(2, 3)], None)
        );
        assert_eq!((state["B"].last_uid, state["B"].local.clone(), state["B"].pending), (10, vec![], None));
        assert_eq!((state["C"].last_uid, state["C"].pending), (10, None));
        assert_eq!((state["D"].last_uid, state["D"].pending), (10, None));
        let saved =
            parse_state(&std::fs::read_to_string(dir.join("state")).expect("state file")).expect("parse");
        assert_eq!(saved, state);
        drop(job);
        target.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_and_flags() {
        assert_eq!(local_name("INBOX.Archive.2024", Some('.'), ""), "INBOX/Archive/2024");
        assert_eq!(local_name("INBOX.Archive.2024", Some('.'), "INBOX."), "Archive/2024");
        assert_eq!(local_name("inbox", Some('.'), "INBOX."), "INBOX");
        assert_eq!(local_name("inbox", Some('/'), ""), "INBOX");
        assert_eq!(local_name("a/b.c", Some('.'), ""), "a_b/c");
        assert_eq!(local_name("Ärger/x", None, ""), "Ärger/x");
        let v = Value::List(vec![
            Value::Atom("\\Seen".into()),
            Value::Atom("\\Recent".into()),
            Value::Atom("\\flagged".into()),
            Value::Atom("$Forwarded".into()),
        ]);
        assert_eq!(flags_of(Some(&v)), (flag::SEEN | flag::FLAGGED, vec!["$Forwarded".to_string()]));
        assert_eq!(special_from_attrs(&["\\HasNoChildren".into(), "\\Sent".into()]), SpecialUse::Sent);
        let mut r = vec![(1, 5)];
        add_range(&mut r, 6, 9);
        add_range(&mut r, 20, 20);
        assert_eq!(r, vec![(1, 9), (20, 20)]);
        assert_eq!(count(&r), 10);
    }
}
