//! `applianced probe URL`: what an admin needs to know about the link to an IMAP server (this
//! one from outside, or a source before `import imap`): connect and TLS times, round trips,
//! extensions, fetch throughput with and without COMPRESS=DEFLATE, the time to a client's first
//! screen, and (with `--push`, which writes) how long a new message takes to be pushed to IDLE.
//!
//! Without credentials only what needs no login is measured. Every row is always printed; a
//! row that could not be measured says why.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use argh::FromArgs;

use super::fail;
use super::import_imap::read_password;
use crate::admin::exit;
use crate::client::tls::TlsOptions;
use crate::client::{ClientError, Connection, Response, ServerUrl, Untagged, Value, quote};

/// Measure the link to an IMAP server and print a table.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "probe")]
pub struct ProbeCmd {
    /// imaps://[LOGIN@]HOST[:PORT], or imap://... with STARTTLS; a "@" in LOGIN is written %40
    #[argh(positional)]
    url: String,
    /// the login (default: the URL's)
    #[argh(option)]
    user: Option<String>,
    /// file holding the password (default: the APPLIANCED_IMPORT_PASSWORD variable)
    #[argh(option)]
    password_file: Option<PathBuf>,
    /// the folder to measure (default INBOX)
    #[argh(option, default = "String::from(\"INBOX\")")]
    folder: String,
    /// accept any certificate (self-signed, expired, another name)
    #[argh(switch)]
    insecure: bool,
    /// PEM file of certificates to trust besides the system's
    #[argh(option)]
    ca: Option<PathBuf>,
    /// with imap:// to a loopback address: no STARTTLS
    #[argh(switch)]
    plain: bool,
    /// measure push latency: APPEND a small message, wait for IDLE to report it, delete it
    #[argh(switch)]
    push: bool,
    /// bytes of the newest messages to fetch for the throughput rows (default 4000000)
    #[argh(option, default = "4_000_000")]
    fetch_bytes: u64,
    /// print JSON instead of the table
    #[argh(switch)]
    json: bool,
}

/// One line of the table.
#[derive(Debug)]
struct Row {
    name: &'static str,
    value: String,
    /// The main duration of the row, for JSON.
    seconds: Option<f64>,
    /// Megabytes (10^6 bytes) per second, for JSON.
    mb_per_s: Option<f64>,
}

fn row(name: &'static str, value: impl Into<String>) -> Row {
    Row { name, value: value.into(), seconds: None, mb_per_s: None }
}

fn timed_row(name: &'static str, d: Duration, extra: &str) -> Row {
    Row { name, value: format!("{}{extra}", ms(d)), seconds: Some(d.as_secs_f64()), mb_per_s: None }
}

/// `0.21 ms`, `12.3 ms`, `1.52 s`.
pub fn ms(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 { format!("{s:.2} s") } else { format!("{:.2} ms", s * 1000.0) }
}

/// `1.23 MB` (10^6 bytes) or `456.0 kB`.
fn size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} kB", bytes as f64 / 1e3)
    }
}

/// (median, p90) of samples; nearest-rank percentiles.
pub fn median_p90(samples: &mut [Duration]) -> Option<(Duration, Duration)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    Some((rank(0.5), rank(0.9)))
}

/// The table: labels padded to one column.
fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0) + 2;
    rows.iter().map(|r| format!("{:<width$}{}\n", r.name, r.value)).collect()
}

fn json(server: &str, rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut o = format!(
                "{{\"row\":{},\"value\":{}",
                crate::admin::json_string(r.name),
                crate::admin::json_string(&r.value)
            );
            if let Some(s) = r.seconds {
                o.push_str(&format!(",\"seconds\":{s}"));
            }
            if let Some(m) = r.mb_per_s {
                o.push_str(&format!(",\"mb_per_s\":{m}"));
            }
            o.push('}');
            o
        })
        .collect();
    format!("{{\"server\":{},\"rows\":[{}]}}\n", crate::admin::json_string(server), items.join(","))
}

pub fn run(cmd: ProbeCmd) -> u8 {
    let url = match ServerUrl::parse(&cmd.url) {
        Ok(u) => u,
        Err(e) => return fail(exit::USAGE, e),
    };
    let login = cmd.user.clone().or_else(|| url.login.clone());
    // A password only matters with a login; without either, the probe stays before LOGIN.
    let password = match (&login, &cmd.password_file) {
        (Some(_), _) | (None, Some(_)) => match read_password(cmd.password_file.as_deref()) {
            Ok(p) => Some(p),
            Err((code, e)) if cmd.password_file.is_some() => return fail(code, e),
            Err(_) => None,
        },
        (None, None) => None,
    };
    let creds = match (login, password) {
        (Some(l), Some(p)) => Some((l, p)),
        (None, Some(_)) => {
            return fail(exit::USAGE, "a password without a login: give --user or LOGIN@ in the URL");
        }
        _ => None,
    };
    if cmd.insecure {
        eprintln!("applianced: warning: --insecure: the certificate of {} is not checked", url.host);
    }
    let tls = TlsOptions { insecure: cmd.insecure, ca: cmd.ca.clone() };
    let server = url.display_server();
    match smol::block_on(probe(&cmd, &url, &tls, creds.as_ref())) {
        Ok(rows) => {
            if cmd.json {
                print!("{}", json(&server, &rows));
            } else {
                let who = match &creds {
                    Some((l, _)) => format!("login {l}, folder {}", cmd.folder),
                    None => "no login".to_string(),
                };
                println!("probe of {server} ({who})");
                print!("{}", table(&rows));
            }
            exit::OK
        }
        Err(e) => {
            let code = match e {
                ClientError::Usage(_) => exit::USAGE,
                ClientError::Tls(_) => exit::CONFIG,
                ClientError::Refused { ref command, .. } if command == "LOGIN" => exit::NOPERM,
                ClientError::Parse(_) | ClientError::Protocol(_) => exit::DATAERR,
                _ => exit::TEMPFAIL,
            };
            fail(code, format!("{server}: {e}"))
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(60);

async fn probe(
    cmd: &ProbeCmd,
    url: &ServerUrl,
    tls: &TlsOptions,
    creds: Option<&(String, String)>,
) -> Result<Vec<Row>, ClientError> {
    let mut rows = Vec::new();
    let (mut c, t) = Connection::open(url, tls, cmd.plain, TIMEOUT).await?;
    rows.push(timed_row("tcp connect", t.tcp_connect, ""));
    rows.push(match t.tls_handshake {
        Some(d) if url.security == crate::client::Security::Tls => {
            timed_row("tls handshake", d, " (implicit TLS)")
        }
        Some(d) => timed_row("tls handshake", d, " (STARTTLS command and handshake)"),
        None => row("tls handshake", "none: plaintext (--plain)"),
    });
    rows.push(timed_row("greeting", t.greeting, ""));
    // NOOP is allowed in every state (RFC 9051 §6.1.2): a round trip through the server.
    let mut samples = Vec::with_capacity(10);
    for _ in 0..10 {
        let s = Instant::now();
        c.ok("NOOP").await?;
        samples.push(s.elapsed());
    }
    if let Some((median, p90)) = median_p90(&mut samples) {
        rows.push(Row {
            name: "round trip",
            value: format!("median {}, p90 {} ({} NOOPs)", ms(median), ms(p90), samples.len()),
            seconds: Some(median.as_secs_f64()),
            mb_per_s: None,
        });
    }
    let Some((login, password)) = creds else {
        rows.push(row(
            "capabilities",
            capabilities(&c, "before login; servers often list extensions only after it"),
        ));
        for name in ["login", "first screen", "fetch plain", "fetch deflate", "push latency"] {
            rows.push(row(name, "not measured: no credentials (--user and --password-file)"));
        }
        c.logout().await;
        return Ok(rows);
    };
    let s = Instant::now();
    c.login(login, password).await?;
    let login_time = s.elapsed();
    rows.push(row("capabilities", capabilities(&c, "after login")));
    rows.push(timed_row("login", login_time, ""));
    let Some(folder) = quote(&crate::proto::command::encode_modified_utf7(&cmd.folder)) else {
        return Err(ClientError::Usage("bad folder name".into()));
    };

    // First screen: open the folder, then the newest 50 envelopes, as a mail client does.
    let s = Instant::now();
    let reply = c.command(&format!("EXAMINE {folder}")).await?;
    if reply.status != crate::client::Cond::Ok {
        // A wrong --folder: the rows that need it say so; the others stand.
        let why = format!("failed: EXAMINE {} refused: {}", cmd.folder, reply.text);
        for name in ["first screen", "fetch plain", "fetch deflate", "push latency"] {
            rows.push(row(name, why.clone()));
        }
        c.logout().await;
        return Ok(rows);
    }
    let exists = reply
        .untagged
        .iter()
        .filter_map(|u| if let Untagged::Exists(n) = u { Some(*n) } else { None })
        .next_back()
        .unwrap_or(0);
    let (how, reply) = if exists == 0 {
        ("no messages to list", None)
    } else if c.has("PARTIAL") {
        // RFC 9394 §3.2: the last 50 of the set, without knowing the numbers first.
        (
            "UID FETCH with PARTIAL -1:-50",
            Some(c.ok("UID FETCH 1:* (UID FLAGS ENVELOPE) (PARTIAL -1:-50)").await?),
        )
    } else {
        let first = exists.saturating_sub(49).max(1);
        ("FETCH n-49:n", Some(c.ok(&format!("FETCH {first}:{exists} (UID FLAGS ENVELOPE)")).await?))
    };
    let first_screen = s.elapsed();
    let envelopes =
        reply.map_or(0, |r| r.untagged.iter().filter(|u| u.fetch_item("ENVELOPE").is_some()).count());
    rows.push(timed_row(
        "first screen",
        first_screen,
        &format!(": EXAMINE {} ({exists} messages) + {envelopes} envelopes ({how})", cmd.folder),
    ));

    // The newest messages up to --fetch-bytes, by sequence number.
    let set = if exists == 0 {
        None
    } else {
        let first = exists.saturating_sub(999).max(1);
        let reply = c.ok(&format!("FETCH {first}:{exists} (RFC822.SIZE)")).await?;
        let mut sizes: Vec<(u32, u64)> = reply
            .untagged
            .iter()
            .filter_map(|u| match u {
                Untagged::Fetch { seq, .. } => {
                    u.fetch_item("RFC822.SIZE").and_then(Value::as_u64).map(|s| (*seq, s))
                }
                _ => None,
            })
            .collect();
        sizes.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        let mut total = 0;
        let mut lowest = exists;
        for (seq, s) in sizes {
            lowest = seq;
            total += s;
            if total >= cmd.fetch_bytes {
                break;
            }
        }
        Some(format!("{lowest}:{exists}"))
    };
    match &set {
        Some(set) => rows.push(throughput(&mut c, "fetch plain", set).await?),
        None => rows.push(row("fetch plain", "not measured: the folder is empty")),
    }

    rows.push(if !cmd.push {
        row("push latency", "not measured: give --push (it appends a test message and deletes it)")
    } else if !c.has("IDLE") {
        row("push latency", "not measured: the server does not offer IDLE")
    } else {
        match push(url, tls, cmd, login, password, &mut c).await {
            Ok(r) => r,
            Err(e) => row("push latency", format!("failed: {e}")),
        }
    });

    rows.push(match &set {
        None => row("fetch deflate", "not measured: the folder is empty"),
        Some(_) if !c.has("COMPRESS=DEFLATE") => {
            row("fetch deflate", "not measured: COMPRESS=DEFLATE not offered")
        }
        Some(set) => {
            c.compress().await?;
            throughput(&mut c, "fetch deflate", set).await?
        }
    });
    c.logout().await;
    // In the order of the documentation: the table reads top to bottom as a session goes.
    let order = [
        "tcp connect",
        "tls handshake",
        "greeting",
        "round trip",
        "capabilities",
        "login",
        "first screen",
        "fetch plain",
        "fetch deflate",
        "push latency",
    ];
    rows.sort_by_key(|r| order.iter().position(|n| *n == r.name));
    Ok(rows)
}

/// `COMPRESS=DEFLATE yes, IDLE yes, ...`: the extensions that matter on a slow link.
fn capabilities(c: &Connection, when: &str) -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let list: Vec<String> = ["COMPRESS=DEFLATE", "IDLE", "NOTIFY", "QRESYNC", "PARTIAL"]
        .iter()
        .map(|cap| format!("{cap} {}", yes(c.has(cap))))
        .collect();
    format!("{} ({when})", list.join(", "))
}

/// Fetches the whole bodies of `set` and reports payload bytes, wire bytes and the rate.
async fn throughput(c: &mut Connection, name: &'static str, set: &str) -> Result<Row, ClientError> {
    let wire0 = c.wire_bytes_read();
    let s = Instant::now();
    let reply = c.ok(&format!("FETCH {set} (BODY.PEEK[])")).await?;
    let secs = s.elapsed();
    let wire = c.wire_bytes_read() - wire0;
    let payload: u64 = reply
        .untagged
        .iter()
        .filter_map(|u| u.fetch_item("BODY[]").and_then(Value::as_bytes).map(|b| b.len() as u64))
        .sum();
    let n = reply.untagged.iter().filter(|u| u.fetch_item("BODY[]").is_some()).count();
    let rate = payload as f64 / 1e6 / secs.as_secs_f64().max(1e-9);
    Ok(Row {
        name,
        value: format!(
            "{} of {n} messages ({} on the wire) in {}: {rate:.2} MB/s",
            size(payload),
            size(wire),
            ms(secs)
        ),
        seconds: Some(secs.as_secs_f64()),
        mb_per_s: Some(rate),
    })
}

/// Push latency: a second connection IDLEs on the folder; this one APPENDs a small message with
/// a unique Message-ID; the time until the IDLE connection sees `* n EXISTS`. The message is
/// then deleted (UID EXPUNGE with UIDPLUS, RFC 4315 §2.1; without UIDPLUS only when no other
/// message of the folder is \Deleted, so that EXPUNGE removes nothing else).
async fn push(
    url: &ServerUrl,
    tls: &TlsOptions,
    cmd: &ProbeCmd,
    login: &str,
    password: &str,
    c: &mut Connection,
) -> Result<Row, ClientError> {
    let (mut idle, _) = Connection::open(url, tls, cmd.plain, TIMEOUT).await?;
    idle.login(login, password).await?;
    let Some(folder_q) = quote(&crate::proto::command::encode_modified_utf7(&cmd.folder)) else {
        return Err(ClientError::Usage("bad folder name".into()));
    };
    let reply = idle.ok(&format!("SELECT {folder_q}")).await?;
    let mut exists = reply
        .untagged
        .iter()
        .filter_map(|u| if let Untagged::Exists(n) = u { Some(*n) } else { None })
        .next_back();
    idle.idle().await?;
    let unique = format!(
        "probe.{}.{}@applianced.invalid",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    );
    let msg = format!(
        "From: applianced probe <probe@applianced.invalid>\r\nTo: {login}\r\nSubject: applianced probe (push latency), delete me\r\nMessage-ID: <{unique}>\r\n\r\nA test message of `applianced probe --push`; it deletes it right away.\r\n"
    );
    let start = Instant::now();
    let wait = async {
        loop {
            match idle.read_response().await? {
                Response::Untagged(Untagged::Exists(n)) if exists.is_none_or(|e| n > e) => {
                    return Ok::<_, ClientError>(start.elapsed());
                }
                Response::Untagged(Untagged::Exists(n)) => exists = Some(n),
                Response::Untagged(Untagged::Cond { status: crate::client::Cond::Bye, text, .. }) => {
                    return Err(ClientError::Closed(text));
                }
                _ => {}
            }
        }
    };
    let wait = async {
        smol::future::or(wait, async {
            async_io::Timer::after(Duration::from_secs(30)).await;
            Err(ClientError::Timeout)
        })
        .await
    };
    let (appended, latency) =
        smol::future::zip(c.append(&cmd.folder_utf7(), "", None, msg.as_bytes()), wait).await;
    let appended = appended?;
    idle.idle_done().await?;
    // Delete the test message on the IDLE connection, which has the folder selected read-write.
    let uid = match appended.code.as_ref().filter(|c| c.name == "APPENDUID").and_then(|c| c.args.get(1)) {
        Some(v) => v.as_u32(),
        None => {
            let r = idle.ok(&format!("UID SEARCH HEADER Message-ID \"<{unique}>\"")).await?;
            r.untagged
                .iter()
                .find_map(|u| if let Untagged::Search(v) = u { v.first().copied() } else { None })
        }
    };
    let cleanup = match uid {
        None => "the test message was not found again: delete it by hand".to_string(),
        Some(uid) => {
            idle.ok(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)")).await?;
            if idle.has("UIDPLUS") {
                idle.ok(&format!("UID EXPUNGE {uid}")).await?;
                "deleted again".to_string()
            } else {
                let r = idle.ok("UID SEARCH DELETED").await?;
                let deleted: Vec<u32> = r
                    .untagged
                    .iter()
                    .filter_map(|u| if let Untagged::Search(v) = u { Some(v.clone()) } else { None })
                    .flatten()
                    .collect();
                if deleted == [uid] {
                    idle.ok("EXPUNGE").await?;
                    "deleted again".to_string()
                } else {
                    "flagged \\Deleted (no UIDPLUS, other \\Deleted messages: not expunged)".to_string()
                }
            }
        }
    };
    idle.logout().await;
    let latency = latency?;
    Ok(Row {
        name: "push latency",
        value: format!(
            "{} from APPEND to EXISTS on a second connection in IDLE; test message {cleanup}",
            ms(latency)
        ),
        seconds: Some(latency.as_secs_f64()),
        mb_per_s: None,
    })
}

impl ProbeCmd {
    /// The folder as APPEND takes it (modified UTF-7, the client does not ENABLE UTF8=ACCEPT).
    fn folder_utf7(&self) -> String {
        crate::proto::command::encode_modified_utf7(&self.folder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut v: Vec<Duration> = (1..=10).rev().map(Duration::from_millis).collect();
        assert_eq!(median_p90(&mut v), Some((Duration::from_millis(5), Duration::from_millis(9))));
        assert_eq!(median_p90(&mut []), None);
        let mut one = [Duration::from_millis(3)];
        assert_eq!(median_p90(&mut one), Some((Duration::from_millis(3), Duration::from_millis(3))));
    }

    #[test]
    fn formatting() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(ms(Duration::from_millis(1520)), "1.52 s");
        assert_eq!(size(4_200_000), "4.20 MB");
        assert_eq!(size(4_200), "4.2 kB");
        let rows = vec![row("tcp connect", "1 ms"), row("login", "2 ms")];
        assert_eq!(table(&rows), "tcp connect  1 ms\nlogin        2 ms\n");
        assert_eq!(
            json("imaps://h:993", &rows[..1]),
            "{\"server\":\"imaps://h:993\",\"rows\":[{\"row\":\"tcp connect\",\"value\":\"1 ms\"}]}\n"
        );
        assert_eq!(crate::admin::json_string("a\"\\\n"), "\"a\\\"\\\\\\u000a\"");
    }
}
