//! Administrative requests (`deliver`, `user ...`), executed the same way whether the CLI opened the
//! database itself or handed the request to the running server over its control socket
//! (`server::control`). This module holds the requests, their wire form and their execution;
//! it does no socket IO.

use crate::imap::trace::Switch;
use crate::ingest;
use crate::mapi::registry::SessionView;
use crate::migrate::{self, Appended, Batch, MailboxInfo, MigrateError};
use crate::store::{DEFAULT_MAILBOXES, SpecialUse, Store, StoreError};

/// Exit codes of `<sysexits.h>`, which MTAs understand.
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 64;
    pub const DATAERR: u8 = 65;
    pub const NOINPUT: u8 = 66;
    pub const NOUSER: u8 = 67;
    pub const UNAVAILABLE: u8 = 69;
    pub const SOFTWARE: u8 = 70;
    pub const CANTCREAT: u8 = 73;
    pub const IOERR: u8 = 74;
    pub const TEMPFAIL: u8 = 75;
    pub const NOPERM: u8 = 77;
    pub const CONFIG: u8 = 78;
}

/// One administrative request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Store one RFC 5322 message in the INBOX of each recipient.
    Deliver {
        recipients: Vec<String>,
        message: Vec<u8>,
    },
    UserAdd {
        address: String,
        password_hash: String,
    },
    UserDel {
        address: String,
    },
    UserPasswd {
        address: String,
        password_hash: String,
    },
    UserList,
    /// The running server's MAPI sessions (docs/mapi-extension.md §4.4), as text or JSON.
    Sessions {
        json: bool,
    },
    /// Counters of the running process (diagnostics).
    Stats,
    /// An alias, or a catch-all given as `@domain`, delivering to an account.
    AliasAdd {
        alias: String,
        target: String,
    },
    AliasDel {
        alias: String,
    },
    AliasList,
    DomainAdd {
        domain: String,
    },
    DomainDel {
        domain: String,
    },
    DomainList,
    /// A consistent copy of the database to a new file (absolute path), while serving.
    Backup {
        path: String,
    },
    /// Reload the TLS certificate and `[log] trace` in the running server (`server::reload`).
    Reload,
    /// The accounts whose sessions the running server traces (`imap::trace`).
    TraceList,
    /// Switches the protocol trace of an account on or off in the running server.
    TraceSet {
        address: String,
        on: bool,
    },
    /// Messages for one account, added in one durable commit (import); the payload is
    /// [`Batch::encode`]. Answered after the commit.
    AppendBatch {
        account: String,
        batch: Batch,
    },
    /// Every mailbox and message of an account, streamed (export); see [`crate::migrate`] for
    /// the stream. Only the control socket serves it (`server::control`), or
    /// [`crate::migrate::export`] on an open store.
    Export {
        account: String,
    },
    /// The mailboxes of an account (`import imap` maps folders by special use and announces
    /// the UIDs a batch will take at least); see [`mailboxes_answer`].
    Mailboxes {
        account: String,
    },
    /// UID and size of at most `limit` messages of a mailbox from UID `from` on (`import imap`
    /// checks whether an announced batch was committed); see [`sizes_answer`].
    Sizes {
        account: String,
        mailbox: String,
        from: u32,
        limit: usize,
    },
}

/// The answer: lines to print and an exit code (one of [`exit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub lines: Vec<String>,
    pub code: u8,
}

impl Response {
    pub fn ok(lines: Vec<String>) -> Self {
        Response { lines, code: exit::OK }
    }
    fn fail(code: u8, line: impl Into<String>) -> Self {
        Response { lines: vec![line.into()], code }
    }
}

/// Checks that an account address is `local@domain`, printable, without spaces, at most 254 bytes.
pub fn check_address(a: &str) -> Result<(), String> {
    let ok = a.len() <= 254
        && a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && a.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"');
    if ok { Ok(()) } else { Err(format!("{a:?} is not an address of the form user@domain")) }
}

/// Largest request payload accepted on the control socket.
pub const MAX_PAYLOAD: usize = 256 << 20;

impl Request {
    /// The request as sent over the control socket: one header line, then the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = match self {
            Request::Deliver { recipients, message } => {
                format!("DELIVER {} {}\n", message.len(), recipients.join(" ")).into_bytes()
            }
            Request::UserAdd { address, password_hash } => {
                format!("USER-ADD {address} {password_hash}\n").into_bytes()
            }
            Request::UserDel { address } => format!("USER-DEL {address}\n").into_bytes(),
            Request::UserPasswd { address, password_hash } => {
                format!("USER-PASSWD {address} {password_hash}\n").into_bytes()
            }
            Request::UserList => b"USER-LIST\n".to_vec(),
            Request::Sessions { json: false } => b"SESSIONS\n".to_vec(),
            Request::Sessions { json: true } => b"SESSIONS json\n".to_vec(),
            Request::Stats => b"STATS\n".to_vec(),
            Request::AliasAdd { alias, target } => format!("ALIAS-ADD {alias} {target}\n").into_bytes(),
            Request::AliasDel { alias } => format!("ALIAS-DEL {alias}\n").into_bytes(),
            Request::AliasList => b"ALIAS-LIST\n".to_vec(),
            Request::DomainAdd { domain } => format!("DOMAIN-ADD {domain}\n").into_bytes(),
            Request::DomainDel { domain } => format!("DOMAIN-DEL {domain}\n").into_bytes(),
            Request::DomainList => b"DOMAIN-LIST\n".to_vec(),
            Request::Backup { path } => format!("BACKUP {path}\n").into_bytes(),
            Request::TraceList => b"TRACE-LIST\n".to_vec(),
            Request::Reload => b"RELOAD\n".to_vec(),
            Request::TraceSet { address, on } => {
                format!("TRACE-SET {address} {}\n", if *on { "on" } else { "off" }).into_bytes()
            }
            Request::AppendBatch { account, batch } => {
                let payload = batch.encode();
                let mut out = format!("APPEND-BATCH {} {account}\n", payload.len()).into_bytes();
                out.extend_from_slice(&payload);
                return out;
            }
            Request::Export { account } => format!("EXPORT {account}\n").into_bytes(),
            Request::Mailboxes { account } => format!("MAILBOXES {account}\n").into_bytes(),
            Request::Sizes { account, mailbox, from, limit } => {
                format!("SIZES {account} {from} {limit} {}\n", mailbox.replace(['\r', '\n'], " "))
                    .into_bytes()
            }
        };
        if let Request::Deliver { message, .. } = self {
            out.extend_from_slice(message);
        }
        out
    }

    /// Takes the payload whose length [`Request::parse_header`] returned.
    pub fn attach_payload(&mut self, payload: Vec<u8>) -> Result<(), String> {
        match self {
            Request::Deliver { message, .. } => *message = payload,
            Request::AppendBatch { batch, .. } => *batch = Batch::decode(&payload)?,
            _ if payload.is_empty() => {}
            _ => return Err("this request takes no payload".into()),
        }
        Ok(())
    }

    /// Parses a header line; for `DELIVER` returns the payload length still to read.
    pub fn parse_header(line: &str) -> Result<(Request, usize), String> {
        let mut words = line.split_ascii_whitespace();
        let verb = words.next().unwrap_or("");
        let mut arg = || words.next().map(str::to_string).ok_or_else(|| format!("{verb}: missing argument"));
        let req = match verb {
            "DELIVER" => {
                let len: usize = arg()?.parse().map_err(|_| "DELIVER: bad length".to_string())?;
                if len > MAX_PAYLOAD {
                    return Err("DELIVER: message too large".into());
                }
                let recipients: Vec<String> = words.map(str::to_string).collect();
                return Ok((Request::Deliver { recipients, message: Vec::new() }, len));
            }
            "USER-ADD" => Request::UserAdd { address: arg()?, password_hash: arg()? },
            "USER-DEL" => Request::UserDel { address: arg()? },
            "USER-PASSWD" => Request::UserPasswd { address: arg()?, password_hash: arg()? },
            "USER-LIST" => Request::UserList,
            "SESSIONS" => Request::Sessions { json: words.next() == Some("json") },
            "STATS" => Request::Stats,
            "ALIAS-ADD" => Request::AliasAdd { alias: arg()?, target: arg()? },
            "ALIAS-DEL" => Request::AliasDel { alias: arg()? },
            "ALIAS-LIST" => Request::AliasList,
            "DOMAIN-ADD" => Request::DomainAdd { domain: arg()? },
            "DOMAIN-DEL" => Request::DomainDel { domain: arg()? },
            "DOMAIN-LIST" => Request::DomainList,
            "BACKUP" => Request::Backup { path: arg()? },
            "TRACE-LIST" => Request::TraceList,
            "RELOAD" => Request::Reload,
            "TRACE-SET" => {
                let address = arg()?;
                let on = match arg()?.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err("TRACE-SET: expected on or off".into()),
                };
                Request::TraceSet { address, on }
            }
            "APPEND-BATCH" => {
                let len: usize = arg()?.parse().map_err(|_| "APPEND-BATCH: bad length".to_string())?;
                if len > MAX_PAYLOAD {
                    return Err("APPEND-BATCH: batch too large".into());
                }
                return Ok((Request::AppendBatch { account: arg()?, batch: Batch::default() }, len));
            }
            "EXPORT" => Request::Export { account: arg()? },
            "MAILBOXES" => Request::Mailboxes { account: arg()? },
            "SIZES" => {
                let mut it = line.splitn(5, ' ').skip(1);
                let mut next = || it.next().ok_or_else(|| "SIZES: missing argument".to_string());
                let account = next()?.to_string();
                let from = next()?.parse().map_err(|_| "SIZES: bad UID".to_string())?;
                let limit = next()?.parse().map_err(|_| "SIZES: bad limit".to_string())?;
                Request::Sizes { account, from, limit, mailbox: next()?.to_string() }
            }
            other => return Err(format!("unknown request {other:?}")),
        };
        Ok((req, 0))
    }
}

impl Response {
    /// Wire form: `* line` per line, then `<code>`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str("* ");
            out.push_str(&l.replace('\n', " "));
            out.push('\n');
        }
        out.push_str(&format!("{}\n", self.code));
        out.into_bytes()
    }

    /// Parses the wire form; `None` if it is incomplete or malformed.
    pub fn decode(text: &str) -> Option<Response> {
        let mut lines = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("* ") {
                lines.push(rest.to_string());
            } else {
                return Some(Response { lines, code: l.trim().parse().ok()? });
            }
        }
        None
    }
}

fn store_failure(e: &StoreError) -> Response {
    let code = if e.is_temporary() { exit::TEMPFAIL } else { exit::SOFTWARE };
    Response::fail(code, format!("error: {e}"))
}

/// Executes a request in the running server, which holds more than the store: the protocol
/// trace switch. Blocking: call it off the async executor.
pub fn execute_in_server(store: &Store, traces: &Switch, req: Request) -> Response {
    match req {
        Request::TraceList => {
            let list = traces.list();
            if list.is_empty() {
                return Response::ok(vec!["no account is traced".into()]);
            }
            Response::ok(
                list.into_iter()
                    .map(|t| {
                        let s = if t.sessions == 1 { "" } else { "s" };
                        let from = if t.configured { "\t[log] trace" } else { "\tapplianced trace" };
                        format!("{}\t{} session{s} now{from}", t.account, t.sessions)
                    })
                    .collect(),
            )
        }
        Request::TraceSet { address, on } => {
            if on {
                // A typo would trace nobody, silently: only existing accounts are switched on.
                match store.read().and_then(|r| r.account_id(&address)) {
                    Ok(_) => {}
                    Err(StoreError::NoSuchAccount) => {
                        return Response::fail(exit::NOUSER, format!("no account {address}"));
                    }
                    Err(e) => return store_failure(&e),
                }
            }
            let was = traces.set(&address, on);
            let sessions = traces
                .list()
                .iter()
                .find(|t| t.account.eq_ignore_ascii_case(&address))
                .map_or(0, |t| t.sessions);
            let line = match (was, on) {
                (false, true) => format!(
                    "{address}: trace on, {sessions} session(s) now; until the server stops (for good: [log] trace)"
                ),
                (true, true) => format!("{address}: trace was on already, {sessions} session(s) now"),
                (true, false) => format!("{address}: trace off"),
                (false, false) => format!("{address}: trace was off already"),
            };
            Response::ok(vec![line])
        }
        other => execute(store, other),
    }
}

/// A JSON string (RFC 8259 §7), for the `--json` reports.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `applianced sessions`: one line per session, then one per connection, indented. No token.
pub fn sessions_text(views: &[SessionView]) -> Vec<String> {
    if views.is_empty() {
        return vec!["no MAPI session".into()];
    }
    let mut lines = Vec::new();
    for v in views {
        let client = match &v.client {
            Some(pairs) => pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NIL")))
                .collect::<Vec<_>>()
                .join(" ")
                .replace(|c: char| c.is_control(), " "),
            None => "-".into(),
        };
        let grace = v.grace_left_secs.map_or(String::new(), |g| format!("\tno connection, ends in {g}s"));
        lines.push(format!(
            "{}\t{}\tclient {client}\tage {}s\t{} connection(s){grace}",
            v.id,
            v.account,
            v.age_secs,
            v.conns.len()
        ));
        for c in &v.conns {
            let l = &c.link;
            let mut state = l.activity.state.name().to_string();
            if let Some(cmd) = l.activity.command {
                state = format!("{state} {cmd}");
            }
            if let Some(m) = &l.activity.mailbox {
                state = format!("{state} {m:?}");
            }
            let figures: Vec<String> =
                l.figures().iter().map(|(k, v)| format!("{} {v}", k.to_ascii_lowercase())).collect();
            lines.push(format!(
                "  {}\t{}\t{state}\t{}\t{}",
                c.id,
                c.role.name(),
                l.address,
                figures.join("\t")
            ));
        }
    }
    lines
}

/// `applianced sessions --json`: one object, `{"sessions": [...]}`. No token.
pub fn sessions_json(views: &[SessionView]) -> String {
    let opt = |s: Option<&str>| s.map_or("null".to_string(), json_string);
    let sessions: Vec<String> = views
        .iter()
        .map(|v| {
            let client = match &v.client {
                Some(pairs) => format!(
                    "{{{}}}",
                    pairs.iter().map(|(k, v)| format!("{}:{}", json_string(k), opt(v.as_deref()))).collect::<Vec<_>>().join(",")
                ),
                None => "null".into(),
            };
            let conns: Vec<String> = v
                .conns
                .iter()
                .map(|c| {
                    let l = &c.link;
                    let figures: String = l
                        .figures()
                        .iter()
                        .map(|(k, v)| match *k {
                            "TLS" | "COMPRESS" => format!(",\"{}\":{}", k.to_ascii_lowercase(), *v == 1),
                            "LASTACTIVE" => format!(",\"last_active\":{v}"),
                            _ => format!(",\"{}\":{v}", k.to_ascii_lowercase()),
                        })
                        .collect();
                    format!(
                        "{{\"id\":{},\"role\":\"{}\",\"state\":\"{}\",\"command\":{},\"mailbox\":{},\"address\":{}{figures}}}",
                        c.id,
                        c.role.name(),
                        l.activity.state.name(),
                        opt(l.activity.command),
                        opt(l.activity.mailbox.as_deref()),
                        json_string(&l.address.to_string()),
                    )
                })
                .collect();
            format!(
                "{{\"id\":{},\"account\":{},\"client\":{client},\"age\":{},\"grace_left\":{},\"connections\":[{}]}}",
                json_string(&v.id),
                json_string(&v.account),
                v.age_secs,
                v.grace_left_secs.map_or("null".to_string(), |g| g.to_string()),
                conns.join(",")
            )
        })
        .collect();
    format!("{{\"sessions\":[{}]}}", sessions.join(","))
}

/// Executes a request against an open store. Blocking: call it off the async executor.
pub fn execute(store: &Store, req: Request) -> Response {
    match req {
        Request::Reload => Response::fail(exit::UNAVAILABLE, "no server is running: nothing to reload"),
        // Sessions live in the server's memory (§4.3): without one there are none.
        Request::Sessions { json: true } => Response::ok(vec![sessions_json(&[])]),
        Request::Sessions { json: false } => {
            Response::ok(vec!["no server is running: no MAPI session".into()])
        }
        Request::TraceList | Request::TraceSet { .. } => Response::fail(
            exit::UNAVAILABLE,
            "the protocol trace is switched in a running server, and none is running; \
             to trace from the start, list the account in [log] trace",
        ),
        Request::Deliver { recipients, message } => deliver(store, recipients, message),
        Request::AppendBatch { account, batch } => {
            batch_answer(migrate::append_batch(store, &account, batch))
        }
        Request::Export { account } => Response::fail(
            exit::USAGE,
            format!("export of {account}: a stream, served by the control socket"),
        ),
        Request::Mailboxes { account } => mailboxes_answer(migrate::mailboxes(store, &account)),
        Request::Sizes { account, mailbox, from, limit } => {
            sizes_answer(migrate::sizes(store, &account, &mailbox, from, limit))
        }
        Request::UserAdd { address, password_hash } => {
            if let Err(e) = check_address(&address) {
                return Response::fail(exit::USAGE, e);
            }
            let a = address.clone();
            match store.write_blocking(move |t| t.create_account(&a, &password_hash, DEFAULT_MAILBOXES)) {
                Ok(_) => Response::ok(vec![format!("added {address}")]),
                Err(StoreError::AccountExists) => {
                    Response::fail(exit::CANTCREAT, format!("{address} already exists"))
                }
                Err(e) => store_failure(&e),
            }
        }
        Request::UserDel { address } => {
            let a = address.clone();
            match store.write_blocking(move |t| {
                let id = t.account_id(&a)?;
                t.delete_account(id)
            }) {
                Ok(()) => Response::ok(vec![format!("deleted {address}")]),
                Err(StoreError::NoSuchAccount) => {
                    Response::fail(exit::NOUSER, format!("no account {address}"))
                }
                Err(e) => store_failure(&e),
            }
        }
        Request::UserPasswd { address, password_hash } => {
            let a = address.clone();
            match store.write_blocking(move |t| {
                let id = t.account_id(&a)?;
                t.set_password(id, &password_hash)
            }) {
                Ok(()) => Response::ok(vec![format!("password of {address} changed")]),
                Err(StoreError::NoSuchAccount) => {
                    Response::fail(exit::NOUSER, format!("no account {address}"))
                }
                Err(e) => store_failure(&e),
            }
        }
        Request::AliasAdd { alias, target } => {
            let ok = alias
                .strip_prefix('@')
                .map_or_else(|| check_address(&alias).is_ok(), |d| !d.is_empty() && !d.contains('@'));
            if !ok {
                return Response::fail(exit::USAGE, format!("{alias:?} is neither user@domain nor @domain"));
            }
            let (a, t) = (alias.clone(), target.clone());
            match store.write_blocking(move |tx| tx.set_alias(&a, &t)) {
                Ok(()) => Response::ok(vec![format!("{alias} -> {target}")]),
                Err(StoreError::NoSuchAccount) => {
                    Response::fail(exit::NOUSER, format!("no account {target}"))
                }
                Err(e) => store_failure(&e),
            }
        }
        Request::AliasDel { alias } => {
            let a = alias.clone();
            match store.write_blocking(move |tx| tx.remove_alias(&a)) {
                Ok(true) => Response::ok(vec![format!("removed {alias}")]),
                Ok(false) => Response::fail(exit::NOUSER, format!("no alias {alias}")),
                Err(e) => store_failure(&e),
            }
        }
        Request::AliasList => match store.read().and_then(|r| r.aliases()) {
            Ok(list) => Response::ok(list.into_iter().map(|(a, t)| format!("{a}\t{t}")).collect()),
            Err(e) => store_failure(&e),
        },
        Request::DomainAdd { domain } => {
            if domain.is_empty() || domain.contains(['@', ' ']) {
                return Response::fail(exit::USAGE, format!("{domain:?} is not a domain"));
            }
            let d = domain.clone();
            let now = crate::clock::unix_now().max(0).unsigned_abs();
            match store.write_blocking(move |tx| tx.add_domain(&d, now)) {
                Ok(true) => Response::ok(vec![format!("added {domain}")]),
                Ok(false) => Response::ok(vec![format!("{domain} exists, unchanged")]),
                Err(e) => store_failure(&e),
            }
        }
        Request::DomainDel { domain } => {
            let d = domain.clone();
            match store.write_blocking(move |tx| tx.remove_domain(&d)) {
                Ok(true) => Response::ok(vec![format!("removed {domain}")]),
                Ok(false) => Response::fail(exit::NOUSER, format!("no domain {domain}")),
                Err(e) => store_failure(&e),
            }
        }
        Request::DomainList => match store.read().and_then(|r| r.domains()) {
            Ok(list) => Response::ok(list),
            Err(e) => store_failure(&e),
        },
        Request::Backup { path } => {
            let started = std::time::Instant::now();
            if std::path::Path::new(&path).exists() {
                return Response::fail(
                    exit::CANTCREAT,
                    format!("{path} exists: a backup never overwrites a file"),
                );
            }
            match store.backup(std::path::Path::new(&path)) {
                Ok(n) => Response::ok(vec![format!(
                    "backup written to {path}: {n} entries in {:.1} s",
                    started.elapsed().as_secs_f64()
                )]),
                Err(e) => {
                    // Only the partial copy this request created (checked absent above) goes.
                    let _ = std::fs::remove_file(&path);
                    Response::fail(exit::CANTCREAT, format!("backup to {path} failed: {e}"))
                }
            }
        }
        Request::Stats => Response::ok(vec![
            format!("records_read\t{}", crate::store::records_read()),
            format!("event_subscribers\t{}", store.hub().subscribers()),
            format!("password_checks\t{}", crate::auth::pool::verifications()),
        ]),
        Request::UserList => {
            let listed = store.read().and_then(|r| {
                r.accounts().map(|accts| {
                    accts
                        .into_iter()
                        .map(|(_, a)| format!("{}\t{} messages\t{} bytes", a.name, a.messages, a.bytes))
                        .collect()
                })
            });
            match listed {
                Ok(lines) => Response::ok(lines),
                Err(e) => store_failure(&e),
            }
        }
    }
}

/// The exit code of a failed import, export or look-up.
fn migrate_code(e: &MigrateError) -> u8 {
    match e {
        MigrateError::NoSuchAccount(_) => exit::NOUSER,
        MigrateError::Invalid(_) | MigrateError::Store(StoreError::NotAllowed(_)) => exit::DATAERR,
        MigrateError::Emit(_) => exit::IOERR,
        // Room may be made; the import resumes where it stopped.
        MigrateError::Store(StoreError::OverQuota) => exit::TEMPFAIL,
        MigrateError::Store(StoreError::NoSuchMailbox) => exit::NOINPUT,
        MigrateError::Store(e) if e.is_temporary() => exit::TEMPFAIL,
        MigrateError::Store(_) => exit::SOFTWARE,
    }
}

/// The answer to `APPEND-BATCH`: `* appended N`, `* uids <runs>` (the new UIDs in the order of
/// the batch, runs of consecutive ones as `a:b`), one `* skipped I reason` per message refused
/// as not mail (`I` its index in the batch).
pub fn batch_answer(r: Result<Appended, MigrateError>) -> Response {
    match r {
        Ok(a) => {
            let mut lines = vec![format!("appended {}", a.appended())];
            let mut runs: Vec<(u32, u32)> = Vec::new();
            for &uid in &a.uids {
                match runs.last_mut() {
                    Some((_, b)) if b.checked_add(1) == Some(uid) => *b = uid,
                    _ => runs.push((uid, uid)),
                }
            }
            if !runs.is_empty() {
                lines.push(format!("uids {}", migrate::runs_text(&runs)));
            }
            lines.extend(a.skipped.iter().map(|(i, why)| format!("skipped {i} {why}")));
            Response::ok(lines)
        }
        Err(e) => Response::fail(migrate_code(&e), format!("batch not imported: {e}")),
    }
}

/// Reads [`batch_answer`] back; `None` if it is not a success.
pub fn read_batch_answer(r: &Response) -> Option<Appended> {
    if r.code != exit::OK {
        return None;
    }
    let mut out = Appended::default();
    let mut count = 0;
    for l in &r.lines {
        if let Some(n) = l.strip_prefix("appended ") {
            count = n.trim().parse().ok()?;
        } else if let Some(runs) = l.strip_prefix("uids ") {
            for (a, b) in migrate::parse_runs(runs).ok()? {
                out.uids.extend(a..=b);
            }
        } else if let Some(rest) = l.strip_prefix("skipped ") {
            let (i, why) = rest.split_once(' ').unwrap_or((rest, ""));
            out.skipped.push((i.parse().ok()?, why.to_string()));
        }
    }
    (out.uids.len() == count).then_some(out)
}

/// The answer to `EXPORT` after its stream: `* exported N messages`.
pub fn export_answer(r: Result<u64, MigrateError>) -> Response {
    match r {
        Ok(n) => Response::ok(vec![format!("exported {n} messages")]),
        Err(e) => Response::fail(migrate_code(&e), e.to_string()),
    }
}

/// The answer to `MAILBOXES`: `* <uidvalidity> <uidnext> <use> <name>` per mailbox (`-`: no
/// special use).
pub fn mailboxes_answer(r: Result<Vec<MailboxInfo>, MigrateError>) -> Response {
    match r {
        Ok(list) => Response::ok(
            list.iter()
                .map(|m| {
                    let u = m.special_use.name().unwrap_or("-");
                    format!("{} {} {u} {}", m.uidvalidity, m.uidnext, m.name)
                })
                .collect(),
        ),
        Err(e) => Response::fail(migrate_code(&e), e.to_string()),
    }
}

/// Reads [`mailboxes_answer`] back; `None` if it is not a success.
pub fn read_mailboxes_answer(r: &Response) -> Option<Vec<MailboxInfo>> {
    if r.code != exit::OK {
        return None;
    }
    r.lines
        .iter()
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let uidvalidity = it.next()?.parse().ok()?;
            let uidnext = it.next()?.parse().ok()?;
            let special_use = match it.next()? {
                "-" => SpecialUse::None,
                u => SpecialUse::from_name(u)?,
            };
            Some(MailboxInfo { name: it.next()?.to_string(), special_use, uidvalidity, uidnext })
        })
        .collect()
}

/// The answer to `SIZES`: `* <uid> <size>` per message.
pub fn sizes_answer(r: Result<Vec<(u32, u32)>, MigrateError>) -> Response {
    match r {
        Ok(list) => Response::ok(list.iter().map(|(uid, size)| format!("{uid} {size}")).collect()),
        Err(e) => Response::fail(migrate_code(&e), e.to_string()),
    }
}

/// Reads [`sizes_answer`] back; `None` if it is not a success.
pub fn read_sizes_answer(r: &Response) -> Option<Vec<(u32, u32)>> {
    if r.code != exit::OK {
        return None;
    }
    r.lines
        .iter()
        .map(|l| {
            let (uid, size) = l.split_once(' ')?;
            Some((uid.parse().ok()?, size.parse().ok()?))
        })
        .collect()
}

fn deliver(store: &Store, recipients: Vec<String>, message: Vec<u8>) -> Response {
    if recipients.is_empty() {
        return Response::fail(exit::USAGE, "deliver: no recipient given");
    }
    let message = match ingest::prepare(message) {
        Ok(m) => m,
        Err(e) => return Response::fail(exit::DATAERR, format!("not delivered: {e}")),
    };
    let names = recipients.clone();
    match store.deliver_blocking(recipients, message.raw, message.data, ingest::arrival()) {
        Err(e) => store_failure(&e),
        Ok(results) => {
            let mut code = exit::OK;
            let mut lines = Vec::new();
            for (rcpt, r) in names.iter().zip(results) {
                match r {
                    Ok(d) => lines.push(format!("{rcpt}: delivered, UID {}", d.uid)),
                    Err(StoreError::NoSuchAccount) => {
                        code = code.max(exit::NOUSER);
                        lines.push(format!("{rcpt}: no such user"));
                    }
                    // Temporary, as a full mailbox usually gets room again: the MTA retries.
                    Err(StoreError::OverQuota) => {
                        code = code.max(exit::TEMPFAIL);
                        lines.push(format!("{rcpt}: over quota"));
                    }
                    Err(e) => {
                        code = code.max(if e.is_temporary() { exit::TEMPFAIL } else { exit::SOFTWARE });
                        lines.push(format!("{rcpt}: not delivered: {e}"));
                    }
                }
            }
            Response { lines, code }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = Request::UserAdd { address: "a@b.c".into(), password_hash: "$argon2id$x".into() };
        let wire = String::from_utf8(r.encode()).expect("utf8");
        assert_eq!(Request::parse_header(wire.trim_end()).ok(), Some((r, 0)));
        let d = Request::Deliver { recipients: vec!["a@b.c".into(), "d@e.f".into()], message: b"x".to_vec() };
        let wire = d.encode();
        let (parsed, len) = Request::parse_header("DELIVER 1 a@b.c d@e.f").expect("parses");
        assert_eq!(len, 1);
        assert!(matches!(parsed, Request::Deliver { recipients, .. } if recipients.len() == 2));
        assert!(wire.ends_with(b"\nx"));
        assert!(Request::parse_header("FROB").is_err());
        for r in [Request::TraceList, Request::TraceSet { address: "a@b.c".into(), on: true }] {
            let wire = String::from_utf8(r.encode()).expect("utf8");
            assert_eq!(Request::parse_header(wire.trim_end()).ok(), Some((r, 0)));
        }
        assert!(Request::parse_header("TRACE-SET a@b.c maybe").is_err());
        let mut b = Request::AppendBatch {
            account: "a@b.c".into(),
            batch: Batch { mailboxes: vec!["X Y".into()], ..Batch::default() },
        };
        let wire = b.encode();
        let nl = wire.iter().position(|&c| c == b'\n').unwrap_or(0);
        let (mut parsed, len) =
            Request::parse_header(std::str::from_utf8(&wire[..nl]).unwrap_or("")).expect("parses");
        assert_eq!(len, wire.len() - nl - 1);
        parsed.attach_payload(wire[nl + 1..].to_vec()).expect("payload");
        assert_eq!(parsed, b);
        if let Request::AppendBatch { batch, .. } = &mut b {
            batch.mailboxes.clear();
        }
        assert_ne!(parsed, b);
        assert!(Request::parse_header("DELIVER 99999999999 a@b").is_err());
    }

    #[test]
    fn migrate_answers_round_trip() {
        let a = Appended { uids: vec![4, 5, 6, 2, 9], skipped: vec![(1, "no header".into())] };
        let r = batch_answer(Ok(a.clone()));
        assert!(r.lines.contains(&"uids 4:6,2,9".to_string()), "{r:?}");
        assert_eq!(read_batch_answer(&r), Some(a));
        assert_eq!(read_batch_answer(&batch_answer(Err(MigrateError::NoSuchAccount("x".into())))), None);
        let list = vec![
            MailboxInfo {
                name: "Sent Items".into(),
                special_use: SpecialUse::Sent,
                uidvalidity: 7,
                uidnext: 9,
            },
            MailboxInfo { name: "INBOX".into(), special_use: SpecialUse::None, uidvalidity: 1, uidnext: 1 },
        ];
        assert_eq!(read_mailboxes_answer(&mailboxes_answer(Ok(list.clone()))), Some(list));
        assert_eq!(
            read_sizes_answer(&sizes_answer(Ok(vec![(3, 100), (5, 7)]))),
            Some(vec![(3, 100), (5, 7)])
        );
        for r in [
            Request::Mailboxes { account: "a@b.c".into() },
            Request::Sizes { account: "a@b.c".into(), mailbox: "Sent Items".into(), from: 3, limit: 10 },
        ] {
            let wire = String::from_utf8(r.encode()).expect("utf8");
            assert_eq!(Request::parse_header(wire.trim_end()).ok(), Some((r, 0)));
        }
    }

    #[test]
    fn responses_round_trip() {
        let r = Response { lines: vec!["one".into(), "two".into()], code: 67 };
        let text = String::from_utf8(r.encode()).expect("utf8");
        assert_eq!(Response::decode(&text), Some(r));
        assert_eq!(Response::decode("* half"), None);
    }

    #[test]
    fn addresses() {
        assert!(check_address("alice@example.com").is_ok());
        for bad in ["alice", "@x", "a@", "a b@c", "a@b@c", ""] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
