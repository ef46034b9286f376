//! `applianced import imap URL --user ACCOUNT`: copies every folder of an account on another
//! IMAP server into a local account, with flags, keywords and INTERNALDATEs, over TLS.
//!
//! The source is only read (EXAMINE, `BODY.PEEK[]`). Messages come in UID batches and are
//! committed durably through the store's writer, like `import maildir`; the server must be
//! stopped. A state file per (account, source) records, per source folder, its UIDVALIDITY, the
//! highest source UID durably imported and the local UIDs it became, so that a rerun fetches only
//! `UID n+1:*`. Before each commit the batch is announced in the state file (`pending`); a run
//! that finds a pending batch checks in the store whether that commit happened, so an
//! interruption at any point neither loses nor duplicates a message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use argh::FromArgs;

use super::fail;
use super::progress::Progress;
use crate::admin::{exit, normalize_line_ends};
use crate::client::response::internal_date;
use crate::client::tls::TlsOptions;
use crate::client::{ClientError, Connection, ServerUrl, Untagged, Value, quote};
use crate::config::{Config, Paths};
use crate::events::Hub;
use crate::imap::fetchdata;
use crate::proto::command::decode_modified_utf7;
use crate::store::{NewMessage, SpecialUse, Store, StoreError, flag};

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
    /// The local store.
    Store(String),
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
            ImportError::Store(_) => exit::SOFTWARE,
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

fn store_err(what: &str) -> impl Fn(StoreError) -> ImportError + '_ {
    move |e| ImportError::Store(format!("{what}: {e}"))
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

pub fn run(src: ImapSource, config: &Config, paths: &Paths) -> u8 {
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
    if std::os::unix::net::UnixStream::connect(paths.control_socket()).is_ok() {
        return fail(exit::TEMPFAIL, "the server is running: stop it for the import");
    }
    let user = src.user.to_ascii_lowercase();
    let store = match Store::open(&paths.database(), &config.store_options(), Arc::new(Hub::new())) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(exit::SOFTWARE, format!("cannot open the database: {e}")),
    };
    let account = match store.read().and_then(|r| r.account_id(&user)) {
        Ok(a) => a,
        Err(StoreError::NoSuchAccount) => return fail(exit::NOUSER, format!("{user}: no such account")),
        Err(e) => return fail(exit::SOFTWARE, format!("{user}: {e}")),
    };
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
        store: store.clone(),
        account,
        state_path,
        force: src.force,
        batch: src.batch,
        progress: Progress::new("import", None),
        summary: Summary::default(),
    };
    let tls = TlsOptions { insecure: src.insecure, ca: src.ca.clone() };
    let result = smol::block_on(job.run(&url, &tls, src.plain, &login, &password));
    store.close();
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

/// A batch announced before its commit: it took local UIDs `first..first+count` of a total size.
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

/// Special use from LIST attributes (RFC 6154 §2).
fn special_from_attrs(attrs: &[String]) -> SpecialUse {
    for a in attrs {
        let s = match a.to_ascii_lowercase().as_str() {
            "\\sent" => SpecialUse::Sent,
            "\\drafts" => SpecialUse::Drafts,
            "\\trash" => SpecialUse::Trash,
            "\\junk" => SpecialUse::Junk,
            "\\archive" => SpecialUse::Archive,
            "\\all" => SpecialUse::All,
            "\\flagged" => SpecialUse::Flagged,
            _ => continue,
        };
        return s;
    }
    SpecialUse::None
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

/// One message fetched from the source, ready to store.
struct Fetched {
    raw: Vec<u8>,
    data: Vec<u8>,
    flags: u8,
    keywords: Vec<String>,
    date: i64,
    tz: i16,
}

/// The import of one source account. Its store calls are awaited, never blocking (reads on a
/// thread, writes on the store's writer), so that a batch's commit and the next batch's bytes
/// from the source overlap (see `folder`).
struct Job {
    store: Arc<Store>,
    account: u64,
    state_path: PathBuf,
    force: bool,
    batch: usize,
    progress: Progress,
    summary: Summary,
}

impl Job {
    /// Runs `f` on a snapshot, off this thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&crate::store::Reader) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        smol::unblock(move || f(&store.read()?)).await
    }

    async fn run(
        mut self,
        url: &ServerUrl,
        tls: &TlsOptions,
        plain: bool,
        login: &str,
        password: &str,
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
            self.folder(&mut c, &folder, &mut state).await?;
        }
        c.logout().await;
        Ok(self.summary)
    }

    /// Resolves batches announced but not known to be committed: committed if the local UIDs
    /// they were to get hold messages of exactly their count and total size.
    fn settle_pending(&self, state: &mut BTreeMap<String, FolderState>) -> Result<(), ImportError> {
        let r = self.store.read().map_err(store_err("database"))?;
        let mut changed = false;
        for f in state.values_mut() {
            let Some(p) = f.pending.take() else { continue };
            changed = true;
            let Ok(mb) = r.mailbox_id(self.account, &f.target) else { continue };
            let mut size = 0u64;
            let mut all = p.count > 0;
            for uid in p.first..p.first.saturating_add(p.count) {
                match r.message(mb, uid).map_err(store_err(&f.target))? {
                    Some(m) => size += u64::from(m.size),
                    None => all = false,
                }
            }
            if all && size == p.size {
                f.last_uid = p.last_source_uid;
                add_range(&mut f.local, p.first, p.first + p.count - 1);
            }
        }
        drop(r);
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
            let special =
                if special == SpecialUse::None { crate::migrate::special_use(&target) } else { special };
            out.push(Folder { source, target, special });
        }
        // INBOX first, then by name: parents before children.
        out.sort_by(|a, b| (a.target != "INBOX", &a.target).cmp(&(b.target != "INBOX", &b.target)));
        Ok(out)
    }

    /// The local mailbox of a folder: with a special use the account already has a folder for,
    /// that folder (a source's "Sent Items" goes to the local Sent); else its own name, created
    /// when missing.
    async fn target_mailbox(&mut self, folder: &Folder) -> Result<String, ImportError> {
        let account = self.account;
        let (target, special) = (folder.target.clone(), folder.special);
        let existing = self
            .read(move |r| {
                if special == SpecialUse::None || r.mailbox_id(account, &target).is_ok() {
                    return Ok(None);
                }
                Ok(r.mailboxes(account)?.into_iter().find(|(_, mb)| mb.special_use == special))
            })
            .await
            .map_err(store_err("database"))?;
        if let Some((_, mb)) = existing {
            if mb.name != folder.target {
                self.progress.message(&format!("{} goes to {} (same special use)", folder.target, mb.name));
            }
            return Ok(mb.name);
        }
        let (name, special) = (folder.target.clone(), folder.special);
        self.store
            .write(move |t| match t.create_mailbox(account, &name, special) {
                Ok(_) | Err(StoreError::MailboxExists) => Ok(()),
                Err(e) => Err(e),
            })
            .await
            .map_err(store_err(&folder.target))?;
        Ok(folder.target.clone())
    }

    async fn folder(
        &mut self,
        c: &mut Connection,
        folder: &Folder,
        state: &mut BTreeMap<String, FolderState>,
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
                let account = self.account;
                let n = name.clone();
                let missing = self.read(move |r| r.mailbox_id(account, &n)).await.is_err();
                if missing {
                    let n = name.clone();
                    self.store
                        .write(move |t| match t.create_mailbox(account, &n, SpecialUse::None) {
                            Ok(_) | Err(StoreError::MailboxExists) => Ok(()),
                            Err(e) => Err(e),
                        })
                        .await
                        .map_err(store_err(&name))?;
                }
                name
            }
            None => self.target_mailbox(folder).await?,
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
            let (account, name, local) = (self.account, fs.target.clone(), fs.local.clone());
            self.store
                .write(move |t| {
                    let mb = t.mailbox_id(account, &name)?;
                    for &(a, b) in &local {
                        for uid in a..=b {
                            t.expunge(mb, uid)?;
                        }
                    }
                    Ok(())
                })
                .await
                .map_err(store_err(&fs.target))?;
            fs =
                FolderState { target: fs.target, uidvalidity, last_uid: 0, local: Vec::new(), pending: None };
            state.insert(folder.source.clone(), fs.clone());
            save_state(&self.state_path, state)?;
        }
        self.summary.folders += 1;
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
        // The commit of one batch and the reading of the next run together: the source's bytes
        // keep coming while the disk syncs.
        let mut reply = match in_flight.take() {
            Some(tag) => Some(c.finish(&tag, "UID FETCH").await?),
            None => None,
        };
        for (i, chunk) in chunks.iter().enumerate() {
            let Some(this) = reply.take() else { break };
            if let Some(next) = chunks.get(i + 1) {
                in_flight = Some(c.send(&fetch_command(next)).await?);
            }
            let next = async {
                match in_flight.take() {
                    Some(tag) => c.finish(&tag, "UID FETCH").await.map(Some),
                    None => Ok(None),
                }
            };
            let (stored, next) =
                smol::future::zip(self.batch_of(this, chunk, &mut fs, &folder.source, state), next).await;
            stored?;
            reply = next?;
        }
        if !state.contains_key(&folder.source) {
            state.insert(folder.source.clone(), fs);
            save_state(&self.state_path, state)?;
        }
        self.progress.finish();
        Ok(())
    }

    /// Fetches, stores and records one batch of source UIDs.
    async fn batch_of(
        &mut self,
        reply: crate::client::Reply,
        chunk: &[(u32, u64)],
        fs: &mut FolderState,
        source: &str,
        state: &mut BTreeMap<String, FolderState>,
    ) -> Result<(), ImportError> {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else { return Ok(()) };
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
            let raw = normalize_line_ends(body);
            let Ok(data) = fetchdata::compute(&raw) else {
                self.progress.message(&format!("skipping UID {uid} of {source}: not a message"));
                self.summary.skipped += 1;
                continue;
            };
            let (flags, keywords) = flags_of(flags.as_ref());
            let when = date
                .as_ref()
                .and_then(|v| v.as_bytes())
                .and_then(|b| internal_date(&String::from_utf8_lossy(&b)));
            let (date, tz) = when.unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                (now, 0)
            });
            got.insert(uid, Fetched { raw, data: data.encode(), flags, keywords, date, tz });
        }
        // Messages expunged on the source since the size listing simply do not come.
        self.summary.skipped += chunk.len().saturating_sub(answered);
        let batch: Vec<Fetched> = got.into_values().collect();
        let count = batch.len();
        if count > 0 {
            // Announce the batch: the local UIDs it will take and its size (see settle_pending).
            let (account, target) = (self.account, fs.target.clone());
            let first_local = self
                .read(move |r| Ok(r.mailbox(r.mailbox_id(account, &target)?)?.uidnext))
                .await
                .map_err(store_err(&fs.target))?;
            let size: u64 = batch.iter().map(|m| m.raw.len() as u64).sum();
            fs.pending =
                Some(Pending { first: first_local, count: count as u32, size, last_source_uid: last });
            state.insert(source.to_string(), fs.clone());
            save_state(&self.state_path, state)?;
            let account = self.account;
            let target = fs.target.clone();
            let uids = self
                .store
                .write(move |t| {
                    let mb = t.mailbox_id(account, &target)?;
                    let mut uids = Vec::with_capacity(batch.len());
                    for m in &batch {
                        let blob = t.put_blob(&m.raw, &m.data)?;
                        let msg = NewMessage {
                            blob,
                            flags: m.flags,
                            keywords: m.keywords.clone(),
                            internal_date: m.date,
                            tz_minutes: m.tz,
                        };
                        uids.push(t.append(mb, &msg)?);
                    }
                    Ok(uids)
                })
                .await
                .map_err(store_err(&fs.target))?;
            // Contiguous, as announced: nothing else writes while the import holds the database.
            if uids.first() != Some(&first_local) || uids.len() != count {
                return Err(ImportError::Store(format!("{}: local UIDs not as announced", fs.target)));
            }
            add_range(&mut fs.local, first_local, first_local + count as u32 - 1);
        }
        // Only after the durable commit: the source UIDs are done.
        fs.pending = None;
        fs.last_uid = last;
        state.insert(source.to_string(), fs.clone());
        save_state(&self.state_path, state)?;
        self.summary.imported += count;
        self.progress.inc(chunk.len() as u64);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A batch announced and committed is counted as imported; one announced but not
    /// committed is dropped, so it is fetched again: no loss, no duplicate.
    #[test]
    fn pending_batches_are_settled_against_the_store() {
        let dir = std::env::temp_dir().join(format!("applianced-settle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store =
            Arc::new(Store::open(&dir.join("db"), &Default::default(), Arc::new(Hub::new())).expect("store"));
        let account = store.write_blocking(|t| t.create_account("a@b.c", "x", &[])).expect("account");
        let raw = b"Subject: x\r\n\r\nbody\r\n".to_vec();
        let data = fetchdata::compute(&raw).expect("mail").encode();
        let (r2, d2) = (raw.clone(), data.clone());
        store
            .write_blocking(move |t| {
                let mb = t.mailbox_id(account, "INBOX")?;
                for _ in 0..2 {
                    let blob = t.put_blob(&r2, &d2)?;
                    let m = NewMessage { blob, flags: 0, keywords: vec![], internal_date: 0, tz_minutes: 0 };
                    t.append(mb, &m)?;
                }
                Ok(())
            })
            .expect("append");
        let size = raw.len() as u64;
        let folder = |pending| FolderState {
            target: "INBOX".into(),
            uidvalidity: 5,
            last_uid: 10,
            local: vec![],
            pending: Some(pending),
        };
        let mut state = BTreeMap::new();
        // Committed: UIDs 1 and 2 hold two messages of the announced total size.
        state.insert(
            "A".to_string(),
            folder(Pending { first: 1, count: 2, size: 2 * size, last_source_uid: 30 }),
        );
        // Not committed: UID 3 does not exist.
        state.insert("B".to_string(), folder(Pending { first: 3, count: 1, size, last_source_uid: 40 }));
        // Not committed, though UIDs exist: the size does not match.
        state.insert("C".to_string(), folder(Pending { first: 1, count: 2, size: 7, last_source_uid: 50 }));
        let job = Job {
            store: store.clone(),
            account,
            state_path: dir.join("state"),
            force: false,
            batch: 10,
            progress: Progress::new("test", None),
            summary: Summary::default(),
        };
        job.settle_pending(&mut state).expect("settle");
        assert_eq!(
            (state["A"].last_uid, state["A"].local.clone(), state["A"].pending),
            (30, vec![(1, 2)], None)
        );
        assert_eq!((state["B"].last_uid, state["B"].local.clone(), state["B"].pending), (10, vec![], None));
        assert_eq!((state["C"].last_uid, state["C"].pending), (10, None));
        let saved =
            parse_state(&std::fs::read_to_string(dir.join("state")).expect("state file")).expect("parse");
        assert_eq!(saved, state);
        drop(job);
        store.close();
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
