//! `applianced mirror URL... --replica DIR --once`: a local replica of one or more accounts the
//! way a connector keeps one (issue 14), from the MAPI extension alone (docs/mapi-extension.md):
//! the folder tree by XHIERARCHY, each folder by XSYNC from its last state, every batch applied
//! with its state in one local transaction (§7.4, §10), so a run cut anywhere resumes where it
//! stopped. One redb file per account in DIR (`client::replica`).
//!
//! With `--once` it syncs and exits. Without, it stays: a session per account (XSESSION), a
//! pool connection joined with the token for the syncs, and the session's backchannel opened
//! `FROM` the last change applied, whose events are applied as they come (§5, §10); heartbeats
//! are answered after what they cover is stored; a link that carries nothing for two intervals
//! is dead (§6); it reconnects with exponential backoff and jitter (0.5 s doubling to 60 s,
//! reset after a minute of health); SIGTERM or SIGINT stops it cleanly, its state saved.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argh::FromArgs;

use super::fail;
use super::import_imap::read_password;
use crate::admin::{exit, json_string};
use crate::client::mapi::{Event, HierarchyItem, SyncItem, event, hierarchy_item, sync_item};
use crate::client::replica::{Batch, Replica};
use crate::client::tls::TlsOptions;
use crate::client::{ClientError, Cond, Connection, Response, ServerUrl};

/// Keep a local replica of accounts: folders, message summaries, flags (the MAPI extension).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "mirror")]
pub struct MirrorCmd {
    /// imaps://LOGIN@HOST[:PORT] (or imap://... with STARTTLS), one per account
    #[argh(positional)]
    urls: Vec<String>,
    /// directory of the replicas (one file per account, made if missing)
    #[argh(option)]
    replica: PathBuf,
    /// file of passwords, one line per URL in order (one line: the same for all; default: the
    /// APPLIANCED_IMPORT_PASSWORD variable)
    #[argh(option)]
    password_file: Option<PathBuf>,
    /// sync once and exit (default: stay, kept up to date by the backchannel)
    #[argh(switch)]
    once: bool,
    /// heartbeat interval to propose, in seconds (default 60; the server clamps it)
    #[argh(option, default = "60")]
    heartbeat: u64,
    /// print one JSON object per account instead of a line
    #[argh(switch)]
    json: bool,
    /// accept any certificate (self-signed, expired, another name)
    #[argh(switch)]
    insecure: bool,
    /// PEM file of certificates to trust besides the system's
    #[argh(option)]
    ca: Option<PathBuf>,
    /// with imap:// to a loopback address: no STARTTLS
    #[argh(switch)]
    plain: bool,
}

/// What one account's run did.
#[derive(Debug, Default)]
struct Report {
    folders: usize,
    messages: usize,
    batches: usize,
    restarted: usize,
    bytes_in: u64,
    first_screen: Option<Duration>,
    took: Duration,
}

pub fn run(cmd: MirrorCmd) -> u8 {
    if cmd.urls.is_empty() {
        return fail(exit::USAGE, "give at least one imaps://LOGIN@HOST URL");
    }
    let passwords: Vec<String> = match cmd.password_file.as_deref() {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => t.lines().map(str::to_string).filter(|l| !l.is_empty()).collect(),
            Err(e) => return fail(exit::NOINPUT, format!("{}: {e}", f.display())),
        },
        None => match read_password(None) {
            Ok(p) => vec![p],
            Err((code, e)) => return fail(code, e),
        },
    };
    if passwords.is_empty() || (passwords.len() != 1 && passwords.len() != cmd.urls.len()) {
        return fail(exit::USAGE, "the password file needs one line, or one per URL");
    }
    if let Err(e) = std::fs::create_dir_all(&cmd.replica) {
        return fail(exit::CANTCREAT, format!("{}: {e}", cmd.replica.display()));
    }
    let tls = TlsOptions { insecure: cmd.insecure, ca: cmd.ca.clone() };
    let accounts = match accounts(&cmd, &passwords, &tls) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if !cmd.once {
        return live_all(accounts);
    }
    let mut worst = exit::OK;
    for a in &accounts {
        let (login, file) = (&a.login, &a.file);
        let result = smol::block_on(sync_account(&a.url, &a.tls, a.plain, login, &a.password, &a.replica));
        match result {
            Ok(r) => print_report(login, file, &r, cmd.json),
            Err(e) => {
                eprintln!("applianced: {login}: {e}");
                worst = worst.max(match e {
                    ClientError::Usage(_) => exit::USAGE,
                    ClientError::Tls(_) => exit::CONFIG,
                    ClientError::Refused { ref command, .. } if command == "LOGIN" => exit::NOPERM,
                    ClientError::Parse(_) | ClientError::Protocol(_) => exit::DATAERR,
                    _ => exit::TEMPFAIL,
                });
            }
        }
    }
    worst
}

/// A login as a file name: `/` and NUL, which no file name may hold, and a leading `.` escaped.
fn file_name(login: &str) -> String {
    let mut out = String::with_capacity(login.len());
    for (i, c) in login.chars().enumerate() {
        match c {
            '/' | '\0' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            '.' if i == 0 => out.push_str("%2E"),
            c => out.push(c),
        }
    }
    out
}

fn print_report(login: &str, file: &Path, r: &Report, json: bool) {
    if json {
        println!(
            "{{\"account\":{},\"replica\":{},\"folders\":{},\"messages\":{},\"batches\":{},\"restarted\":{},\
             \"bytes_in\":{},\"first_screen_ms\":{},\"full_replica_ms\":{}}}",
            json_string(login),
            json_string(&file.display().to_string()),
            r.folders,
            r.messages,
            r.batches,
            r.restarted,
            r.bytes_in,
            r.first_screen.map_or("null".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0)),
            format_args!("{:.1}", r.took.as_secs_f64() * 1000.0),
        );
    } else {
        println!(
            "{login}: {} folders, {} messages in {} batches, {} bytes in, {:.2} s (first screen {})",
            r.folders,
            r.messages,
            r.batches,
            r.bytes_in,
            r.took.as_secs_f64(),
            r.first_screen.map_or("-".to_string(), |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
        );
    }
}

fn replica_err(e: crate::client::replica::ReplicaError) -> ClientError {
    ClientError::Protocol(format!("replica: {e}"))
}

/// The tagged answer of `tag`, with every untagged response before it handed to `f`.
async fn answer(
    c: &mut Connection,
    tag: &str,
    mut f: impl FnMut(&crate::client::Untagged) -> Result<(), ClientError>,
) -> Result<(Cond, Option<String>, String), ClientError> {
    loop {
        match c.read_response().await? {
            Response::Untagged(u) => f(&u)?,
            Response::Tagged { tag: t, status, code, text } if t == tag => {
                return Ok((status, code.map(|c| c.name.to_ascii_uppercase()), text));
            }
            Response::Tagged { tag: t, .. } => {
                return Err(ClientError::Protocol(format!("an answer to {t} while waiting for {tag}")));
            }
            Response::Continue(_) => return Err(ClientError::Protocol("an unexpected continuation".into())),
        }
    }
}

async fn sync_account(
    url: &ServerUrl,
    tls: &TlsOptions,
    plain: bool,
    login: &str,
    password: &str,
    replica: &Replica,
) -> Result<Report, ClientError> {
    let started = Instant::now();
    let mut report = Report::default();
    let (mut c, _) = Connection::open(url, tls, plain, Duration::from_secs(120)).await?;
    c.login(login, password).await?;
    if !c.has("XMAPI1") {
        return Err(ClientError::Protocol(format!("{} does not offer XMAPI1", url.display_server())));
    }
    if c.has("UTF8=ACCEPT") {
        c.ok("ENABLE UTF8=ACCEPT").await?;
    }
    sync_all(&mut c, replica, &mut report, started, login).await?;
    report.bytes_in = c.wire_bytes_read();
    c.logout().await;
    report.took = started.elapsed();
    Ok(report)
}

/// XHIERARCHY from the stored state (again from "" if the server refuses it), applied.
async fn hierarchy(c: &mut Connection, replica: &Replica) -> Result<(), ClientError> {
    let mut hstate = replica.meta("hstate").map_err(replica_err)?.unwrap_or_default();
    loop {
        let arg = if hstate.is_empty() { "\"\"".to_string() } else { hstate.clone() };
        let tag = c.send(&format!("XHIERARCHY {arg}")).await?;
        let (mut full, mut listed, mut deleted, mut next) = (false, Vec::new(), Vec::new(), String::new());
        let (status, code, text) = answer(c, &tag, |u| {
            match hierarchy_item(u) {
                None => {}
                Some(Err(e)) => return Err(ClientError::Protocol(e.0)),
                Some(Ok(HierarchyItem::Start { full: f, .. })) => full = f,
                Some(Ok(HierarchyItem::Mailbox { id, info: Some(info) })) => listed.push((id, info)),
                Some(Ok(HierarchyItem::Mailbox { id, info: None })) => deleted.push(id),
                Some(Ok(HierarchyItem::State(s))) => next = s,
            }
            Ok(())
        })
        .await?;
        match (status, code.as_deref()) {
            (Cond::Ok, _) => {
                return replica.apply_hierarchy(full, &listed, &deleted, &next).map_err(replica_err);
            }
            (Cond::No, Some("XRESTART")) if !hstate.is_empty() => hstate.clear(),
            _ => return Err(ClientError::Refused { command: "XHIERARCHY".into(), status, text }),
        }
    }
}

/// The folder tree, then every folder from its last state, INBOX first (the first screen).
async fn sync_all(
    c: &mut Connection,
    replica: &Replica,
    report: &mut Report,
    started: Instant,
    login: &str,
) -> Result<(), ClientError> {
    hierarchy(c, replica).await?;
    let mut folders = replica.folders().map_err(replica_err)?;
    folders.sort_by_key(|(_, f)| f.info.name != b"INBOX");
    report.folders = folders.len();
    for (id, _) in folders {
        sync_folder(c, replica, &id, report, started, login).await?;
    }
    Ok(())
}

/// XSYNC of one folder from its stored state until the run ends, each batch applied with its
/// state; again from "" after `NO [XRESTART]` or a damaged copy (§10 rule 2).
async fn sync_folder(
    c: &mut Connection,
    replica: &Replica,
    id: &str,
    report: &mut Report,
    started: Instant,
    login: &str,
) -> Result<(), ClientError> {
    let mut state = replica.folder(id).map_err(replica_err)?.map(|f| f.state).unwrap_or_default();
    loop {
        let arg = if state.is_empty() { "\"\"".to_string() } else { state.clone() };
        let tag = c.send(&format!("XSYNC ({id}) {arg} WINDOW 1000")).await?;
        let mut batch = Batch::default();
        let mut failed = None;
        let (status, code, text) = answer(c, &tag, |u| {
            match sync_item(u) {
                None | Some(Ok(SyncItem::Header { .. })) => {}
                Some(Err(e)) => return Err(ClientError::Protocol(e.0)),
                Some(Ok(SyncItem::Msg { uid, summary })) => batch.messages.push((uid, *summary)),
                Some(Ok(SyncItem::Vanished { modseq, uids })) => {
                    batch.vanished.extend(uids.into_iter().map(|u| (modseq, u)));
                }
                Some(Ok(SyncItem::State { state, modseq, complete, .. })) => {
                    let done = std::mem::take(&mut batch);
                    let applied = Batch { state, modseq, complete, ..done };
                    report.messages += applied.messages.iter().filter(|(_, s)| s.full).count();
                    report.batches += 1;
                    if report.first_screen.is_none() {
                        report.first_screen = Some(started.elapsed());
                    }
                    if failed.is_none()
                        && let Err(e) = replica.apply_batch(id, &applied)
                    {
                        failed = Some(e);
                    }
                }
            }
            Ok(())
        })
        .await?;
        if let Some(e) = failed {
            log::warn!("{login}: {id}: {e}; syncing it again");
            replica.restart_folder(id).map_err(replica_err)?;
            state.clear();
            report.restarted += 1;
            continue;
        }
        match (status, code.as_deref()) {
            (Cond::Ok, _) => return Ok(()),
            (Cond::No, Some("XRESTART")) if !state.is_empty() => {
                replica.restart_folder(id).map_err(replica_err)?;
                state.clear();
                report.restarted += 1;
            }
            // Deleted since the hierarchy was read: the next XHIERARCHY says so.
            (Cond::No, Some("NONEXISTENT")) => return Ok(()),
            _ => return Err(ClientError::Refused { command: "XSYNC".into(), status, text }),
        }
    }
}

/// One account to mirror: how to reach it, and its replica.
struct Account {
    url: ServerUrl,
    tls: TlsOptions,
    plain: bool,
    login: String,
    password: String,
    replica: Replica,
    file: PathBuf,
    heartbeat: u64,
    json: bool,
}

/// The accounts the URLs name, each with its password and its replica opened.
fn accounts(cmd: &MirrorCmd, passwords: &[String], tls: &TlsOptions) -> Result<Vec<Account>, u8> {
    let mut out = Vec::new();
    for (i, text) in cmd.urls.iter().enumerate() {
        let url = ServerUrl::parse(text).map_err(|e| fail(exit::USAGE, e))?;
        let Some(login) = url.login.clone() else {
            return Err(fail(exit::USAGE, format!("{text}: the URL needs the login: imaps://LOGIN@HOST")));
        };
        let password = passwords[if passwords.len() == 1 { 0 } else { i }].clone();
        let file = cmd.replica.join(format!("{}.redb", file_name(&login)));
        let replica =
            Replica::open(&file).map_err(|e| fail(exit::CANTCREAT, format!("{}: {e}", file.display())))?;
        out.push(Account {
            url,
            tls: tls.clone(),
            plain: cmd.plain,
            login,
            password,
            replica,
            file,
            heartbeat: cmd.heartbeat,
            json: cmd.json,
        });
    }
    Ok(out)
}

/// The live mode: one thread per account, each reconnecting until SIGTERM or SIGINT.
fn live_all(accounts: Vec<Account>) -> u8 {
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let mut threads = Vec::new();
    for account in accounts {
        let stop = stop_rx.clone();
        threads.push(std::thread::spawn(move || smol::block_on(live(&account, stop))));
    }
    let signals = async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int]);
    let Ok(mut signals) = signals else { return fail(exit::SOFTWARE, "cannot watch for SIGTERM") };
    smol::block_on(async {
        use smol::stream::StreamExt;
        let _ = signals.next().await;
    });
    drop(stop_tx);
    let mut worst = exit::OK;
    for t in threads {
        if t.join().map_or(true, |code| code != exit::OK) {
            worst = exit::TEMPFAIL;
        }
    }
    worst
}

/// Reconnects with exponential backoff and jitter (0.5 s doubling to 60 s, back to 0.5 s after
/// a minute of health) until `stop` closes; a wrong password or a usage error ends it.
async fn live(a: &Account, stop: smol::channel::Receiver<()>) -> u8 {
    let login = a.login.as_str();
    let mut backoff = Duration::from_millis(500);
    loop {
        let began = Instant::now();
        let run = live_once(a);
        let stopped = async {
            let _ = stop.recv().await;
            Ok(())
        };
        match smol::future::or(stopped, run).await {
            Ok(()) => return exit::OK,
            Err(ClientError::Refused { ref command, .. }) if command == "LOGIN" => {
                eprintln!("applianced: {login}: the login was refused");
                return exit::NOPERM;
            }
            Err(ClientError::Usage(e)) => {
                eprintln!("applianced: {login}: {e}");
                return exit::USAGE;
            }
            Err(e) => {
                if began.elapsed() >= Duration::from_secs(60) {
                    backoff = Duration::from_millis(500);
                }
                // Jitter: a quarter either way, from the clock's nanoseconds.
                let nanos = u64::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .subsec_nanos(),
                );
                let quarter = backoff.as_millis() as u64 / 4;
                let wait =
                    Duration::from_millis(backoff.as_millis() as u64 - quarter + nanos % (2 * quarter + 1));
                eprintln!("applianced: {login}: {e}; reconnecting in {:.1} s", wait.as_secs_f64());
                let slept = async {
                    async_io::Timer::after(wait).await;
                    false
                };
                let stopped = async {
                    let _ = stop.recv().await;
                    true
                };
                if smol::future::or(stopped, slept).await {
                    return exit::OK;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// One connected life: a session, its pool connection, the sync, then the backchannel's events
/// until an error (the caller reconnects).
async fn live_once(a: &Account) -> Result<(), ClientError> {
    let Account { url, tls, plain, login, password, replica, heartbeat, json, .. } = a;
    let (plain, heartbeat, json, login) = (*plain, *heartbeat, *json, login.as_str());
    let started = Instant::now();
    let (mut bc, _) = Connection::open(url, tls, plain, Duration::from_secs(120)).await?;
    bc.login(login, password).await?;
    if !bc.has("XMAPI1") {
        return Err(ClientError::Usage(format!("{} does not offer XMAPI1", url.display_server())));
    }
    if bc.has("UTF8=ACCEPT") {
        bc.ok("ENABLE UTF8=ACCEPT").await?;
    }
    // The session first: its CHANGE is at or before the snapshot of every sync that follows
    // (§11.3), so the backchannel opened FROM it misses nothing.
    let tag = bc.send("XSESSION").await?;
    let mut items: Vec<(String, String)> = Vec::new();
    let (status, _, text) = answer(&mut bc, &tag, |u| {
        if let crate::client::Untagged::Other { keyword, rest, .. } = u
            && keyword == "XSESSION"
            && let Some(list) = rest.get(1).and_then(crate::client::Value::as_list)
        {
            for pair in list.chunks(2) {
                if let [k, v] = pair
                    && let (Some(k), Some(v)) = (k.as_bytes(), v.as_bytes())
                {
                    items.push((
                        String::from_utf8_lossy(&k).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    ));
                }
            }
        }
        Ok(())
    })
    .await?;
    if status != Cond::Ok {
        return Err(ClientError::Refused { command: "XSESSION".into(), status, text });
    }
    let item = |k: &str| items.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    let (Some(token), Some(epoch), Some(change)) = (item("TOKEN"), item("EPOCH"), item("CHANGE")) else {
        return Err(ClientError::Protocol("the XSESSION response lacks TOKEN, EPOCH or CHANGE".into()));
    };
    // Another history of the account (a restore, the account made again): start over (§4.1).
    if replica.meta("epoch").map_err(replica_err)?.is_some_and(|e| e != epoch) {
        replica.clear().map_err(replica_err)?;
    }
    replica.set_meta("epoch", &epoch).map_err(replica_err)?;
    let mut applied: u64 = match replica.meta("applied").map_err(replica_err)? {
        Some(a) => a.parse().unwrap_or(0),
        None => change.parse().unwrap_or(0),
    };
    let (mut pool, _) = Connection::open(url, tls, plain, Duration::from_secs(120)).await?;
    pool.ok(&format!("XJOIN {login} {token}")).await?;
    if pool.has("UTF8=ACCEPT") {
        pool.ok("ENABLE UTF8=ACCEPT").await?;
    }
    let mut report = Report::default();
    sync_all(&mut pool, replica, &mut report, started, login).await?;
    let tag = bc.send(&format!("XBACKCHANNEL FROM {applied} EPOCH {epoch} HEARTBEAT {heartbeat}")).await?;
    let mut granted = heartbeat;
    let (status, code, text) = answer(&mut bc, &tag, |u| {
        if let crate::client::Untagged::Other { keyword, rest, .. } = u
            && keyword == "XBACKCHANNEL"
        {
            granted = rest.get(1).and_then(crate::client::Value::as_u64).unwrap_or(heartbeat);
        }
        Ok(())
    })
    .await?;
    match (status, code.as_deref()) {
        (Cond::Ok, _) => {}
        (Cond::No, Some("XRESTART")) => {
            replica.clear().map_err(replica_err)?;
            return Err(ClientError::Protocol(
                "the replica belonged to another history: synced again".into(),
            ));
        }
        _ => return Err(ClientError::Refused { command: "XBACKCHANNEL".into(), status, text }),
    }
    // §6: no heartbeat for two intervals after the previous one means the link is dead.
    bc.timeout = Duration::from_secs(granted.saturating_mul(2).max(1));
    // The syncs events ask for run on the pool connection beside the backchannel's reading
    // (§6: a client keeps reading while it applies), fed by a queue; an idle pool gets a NOOP
    // every half interval so that it is never silent for one (§6).
    let (queue, jobs) = smol::channel::unbounded::<Job>();
    let half = Duration::from_secs(granted).max(Duration::from_secs(1)) / 2;
    let syncs = async {
        loop {
            let next = async { jobs.recv().await.ok() };
            let idle = async {
                async_io::Timer::after(half).await;
                None
            };
            match smol::future::or(next, idle).await {
                None => {
                    pool.ok("NOOP").await?;
                    continue;
                }
                Some(Job::Folder(id)) => {
                    sync_folder(&mut pool, replica, &id, &mut report, started, login).await?
                }
                Some(Job::Restart(id)) => {
                    replica.restart_folder(&id).map_err(replica_err)?;
                    sync_folder(&mut pool, replica, &id, &mut report, started, login).await?;
                }
                Some(Job::Missed(id)) => {
                    hierarchy(&mut pool, replica).await?;
                    sync_folder(&mut pool, replica, &id, &mut report, started, login).await?;
                }
                Some(Job::All) => sync_all(&mut pool, replica, &mut report, started, login).await?,
            }
            // A sync done: its batches so far, as a progress line.
            progress(login, json, "synced", report.batches as u64);
        }
    };
    let events = async {
        loop {
            let response = bc.read_response().await?;
            let event = match &response {
                Response::Untagged(u) => match event(u) {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => return Err(ClientError::Protocol(e.0)),
                    None => {
                        if let crate::client::Untagged::Cond { status: Cond::Bye, text, .. } = u {
                            return Err(ClientError::Closed(text.clone()));
                        }
                        continue;
                    }
                },
                // The answers to our XACKs.
                Response::Tagged { status: Cond::Ok, .. } => continue,
                Response::Tagged { status, text, .. } => {
                    return Err(ClientError::Refused {
                        command: "XACK".into(),
                        status: *status,
                        text: text.clone(),
                    });
                }
                Response::Continue(_) => {
                    return Err(ClientError::Protocol("an unexpected continuation".into()));
                }
            };
            let queued = |job: Job| {
                queue.try_send(job).map_err(|_| ClientError::Protocol("the sync queue is gone".into()))
            };
            match &event {
                Event::New { mailbox, uid, summary, .. } | Event::Flags { mailbox, uid, summary, .. } => {
                    let known = replica.folder(mailbox).map_err(replica_err)?.is_some();
                    if !known {
                        // A folder it missed: the tree, then the folder (which brings this).
                        queued(Job::Missed(mailbox.clone()))?;
                    } else if replica.apply_events(mailbox, &[(*uid, (**summary).clone())], &[]).is_err() {
                        // A change of a message it never held (§10 rule 2): the folder again.
                        queued(Job::Restart(mailbox.clone()))?;
                    }
                }
                Event::Expunge { mailbox, uid, modseq, .. } => {
                    replica.apply_events(mailbox, &[], &[(*modseq, *uid)]).map_err(replica_err)?;
                }
                Event::Folder { mailbox, info, .. } => {
                    let created = info.is_some() && replica.folder(mailbox).map_err(replica_err)?.is_none();
                    replica.update_folder(mailbox, info.as_ref()).map_err(replica_err)?;
                    if created {
                        queued(Job::Folder(mailbox.clone()))?;
                    }
                }
                Event::Changed { mailbox, .. } | Event::Resync { mailbox: Some(mailbox), .. } => {
                    queued(Job::Folder(mailbox.clone()))?;
                }
                Event::Resync { mailbox: None, .. } => queued(Job::All)?,
                Event::Counts { .. } => {}
                Event::Live(c) => {
                    applied = applied.max(*c);
                    replica.set_meta("applied", &applied.to_string()).map_err(replica_err)?;
                    progress(login, json, "live", applied);
                }
                Event::Heartbeat { id, sent, .. } => {
                    // Everything up to SENT is stored, or queued for a sync that a reconnect
                    // would run anyway (every connected life starts with a sync of every folder).
                    applied = applied.max(*sent);
                    replica.set_meta("applied", &applied.to_string()).map_err(replica_err)?;
                    bc.send(&format!("XACK {id} {applied}")).await?;
                }
            }
            if let Some(c) = event.change() {
                applied = applied.max(c);
                replica.set_meta("applied", &applied.to_string()).map_err(replica_err)?;
                progress(login, json, "applied", applied);
            }
        }
    };
    smol::future::try_zip(events, syncs).await.map(|_: ((), ())| ())
}

/// A sync the backchannel's events ask for, run on the pool connection.
enum Job {
    /// XSYNC of the folder from its state (`XCHANGED`, `XRESYNC mbox`, a folder created).
    Folder(String),
    /// Again from "" (a damaged copy, §10 rule 2).
    Restart(String),
    /// An event of a folder the replica does not know: XHIERARCHY, then the folder.
    Missed(String),
    /// `XRESYNC c HIERARCHY`: the tree and every folder.
    All,
}

/// One progress line: `{"account":..,"applied":n}` with --json, else `login: applied n`
/// (`live` once caught up, `applied` per event, `synced` after a sync an event asked for).
fn progress(login: &str, json: bool, what: &str, n: u64) {
    if json {
        println!("{{\"account\":{},\"{what}\":{n}}}", json_string(login));
    } else {
        println!("{login}: {what} {n}");
    }
}
