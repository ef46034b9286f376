//! `applianced mirror URL... --replica DIR --once`: a local replica of one or more accounts the
//! way a connector keeps one (issue 14), from the MAPI extension alone (docs/mapi-extension.md):
//! the folder tree by XHIERARCHY, each folder by XSYNC from its last state, every batch applied
//! with its state in one local transaction (§7.4, §10), so a run cut anywhere resumes where it
//! stopped. One redb file per account in DIR (`client::replica`).
//!
//! So far the command syncs once and exits (`--once`); staying up to date from the backchannel
//! comes with it (issue 13's §5).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argh::FromArgs;

use super::fail;
use super::import_imap::read_password;
use crate::admin::{exit, json_string};
use crate::client::mapi::{HierarchyItem, SyncItem, hierarchy_item, sync_item};
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
    /// sync once and exit (required for now: the live mode needs the backchannel)
    #[argh(switch)]
    once: bool,
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
    if !cmd.once {
        return fail(
            exit::USAGE,
            "only --once is available yet: staying up to date needs the backchannel (issue 13)",
        );
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
    let mut worst = exit::OK;
    for (i, text) in cmd.urls.iter().enumerate() {
        let url = match ServerUrl::parse(text) {
            Ok(u) => u,
            Err(e) => return fail(exit::USAGE, e),
        };
        let Some(login) = url.login.clone() else {
            return fail(exit::USAGE, format!("{text}: the URL needs the login: imaps://LOGIN@HOST"));
        };
        let password = &passwords[if passwords.len() == 1 { 0 } else { i }];
        let file = cmd.replica.join(format!("{}.redb", file_name(&login)));
        let replica = match Replica::open(&file) {
            Ok(r) => r,
            Err(e) => return fail(exit::CANTCREAT, format!("{}: {e}", file.display())),
        };
        let result = smol::block_on(sync_account(&url, &tls, cmd.plain, &login, password, &replica));
        match result {
            Ok(r) => print_report(&login, &file, &r, cmd.json),
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
    hierarchy(&mut c, replica).await?;
    let mut folders = replica.folders().map_err(replica_err)?;
    // INBOX first: the first screen.
    folders.sort_by_key(|(_, f)| f.info.name != b"INBOX");
    report.folders = folders.len();
    for (id, folder) in folders {
        let mut state = folder.state.clone();
        loop {
            let arg = if state.is_empty() { "\"\"".to_string() } else { state.clone() };
            let tag = c.send(&format!("XSYNC ({id}) {arg} WINDOW 1000")).await?;
            let mut batch = Batch::default();
            let mut failed = None;
            let (status, code, text) = answer(&mut c, &tag, |u| {
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
                            && let Err(e) = replica.apply_batch(&id, &applied)
                        {
                            failed = Some(e);
                        }
                    }
                }
                Ok(())
            })
            .await?;
            if let Some(e) = failed {
                // §10 rule 2: the local copy is damaged; sync the folder again from "".
                log::warn!("{login}: {id}: {e}; syncing it again");
                replica.restart_folder(&id).map_err(replica_err)?;
                state.clear();
                report.restarted += 1;
                continue;
            }
            match (status, code.as_deref()) {
                (Cond::Ok, _) => break,
                (Cond::No, Some("XRESTART")) if !state.is_empty() => {
                    replica.restart_folder(&id).map_err(replica_err)?;
                    state.clear();
                    report.restarted += 1;
                }
                (Cond::No, Some("NONEXISTENT")) => {
                    // Deleted since the hierarchy was read: the next XHIERARCHY says so.
                    break;
                }
                _ => {
                    return Err(ClientError::Refused { command: "XSYNC".into(), status, text });
                }
            }
        }
    }
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
