//! The command line (argh). Its shape is a contract used outside the code base: extend it,
//! do not change what exists.
//!
//! ```text
//! applianced --init [--data-dir DIR] [--hostname NAME] [--admin ADDRESS] [--password-file FILE]
//!                   [--imap-listen ADDR]... [--imaps-listen ADDR]...
//! applianced [--data-dir DIR] [--config FILE]                  # serve
//! applianced [--data-dir DIR] user add|del|passwd|list ...
//! applianced [--data-dir DIR] deliver ADDRESS...               # one message on stdin
//! applianced [--data-dir DIR] check                            # verify the database
//! applianced [--data-dir DIR] trace [ACCOUNT on|off]           # protocol trace in the running
//!                                                              # server, until it stops
//! applianced [--data-dir DIR] reload                           # TLS certificate, [log] trace, in
//!                                                              # the running server; fails if any failed
//! applianced [--data-dir DIR] sessions [--json]                # MAPI sessions of the running server
//! applianced [--data-dir DIR] stats | alias ... | domain ... | backup FILE | restore FILE
//! applianced [--data-dir DIR] import maildir DIR --user ADDRESS  # Maildir++ (Dovecot), resumable
//! applianced [--data-dir DIR] import mbox PATH --user ADDRESS [--folder NAME]
//!                                                               # mbox file or Thunderbird/mutt tree
//! applianced [--data-dir DIR] export maildir DIR --user ADDRESS  # an account as Maildir++
//! applianced [--data-dir DIR] import imap imaps://LOGIN@HOST[:PORT] --user ADDRESS
//!                   [--password-file FILE] [--insecure] [--ca FILE] [--plain] [--force] [--batch N]
//! applianced probe imaps://[LOGIN@]HOST[:PORT] [--user LOGIN] [--password-file FILE]
//!                   [--folder NAME] [--insecure] [--ca FILE] [--plain] [--push] [--json]
//! ```
//!
//! `import maildir|mbox` and `export` work with the server running (batches and the export
//! stream go over the control socket, `sink.rs`) or stopped (the same code runs on the store
//! opened here). `import imap` (src/cli/import_imap.rs) and `probe` (src/cli/probe.rs) speak IMAP
//! as a client through `crate::client`; `probe` needs no data directory.

mod address;
mod backup;
mod deliver;
mod import;
mod import_imap;
mod init;
mod mbox;
mod mirror;
mod probe;
mod progress;
pub mod sink;
mod trace;
mod user;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;

use crate::admin::{self, Request, Response, exit};
use crate::config::{Config, Paths};
use crate::server::control;
use crate::store::{Store, StoreError};

/// applianced: an IMAP mail server for small office appliances. With no command, serves.
#[derive(FromArgs, Debug)]
pub struct Args {
    /// set up a data directory: config, TLS certificate, database and the first account
    #[argh(switch)]
    pub init: bool,
    /// data directory (default: /var/lib/applianced as root, ./applianced-data otherwise)
    #[argh(option)]
    pub data_dir: Option<PathBuf>,
    /// config file (default: DATA_DIR/applianced.toml, or /etc/applianced/applianced.toml as root)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// with --init: the server's host name (default: this machine's)
    #[argh(option)]
    pub hostname: Option<String>,
    /// with --init: address of the first account (default: admin@HOSTNAME)
    #[argh(option)]
    pub admin: Option<String>,
    /// with --init: file holding the first account's password (default: generate one)
    #[argh(option)]
    pub password_file: Option<PathBuf>,
    /// with --init: plain/STARTTLS listen address, repeatable (default 127.0.0.1:1143, or 0.0.0.0:143 as root)
    #[argh(option)]
    pub imap_listen: Vec<String>,
    /// with --init: implicit-TLS listen address, repeatable (default 127.0.0.1:1993, or 0.0.0.0:993 as root)
    #[argh(option)]
    pub imaps_listen: Vec<String>,
    /// with --init: LMTP listen address for the MTA, `unix:PATH` or `HOST:PORT`, repeatable (default: none)
    #[argh(option)]
    pub lmtp_listen: Vec<String>,
    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    User(user::UserCmd),
    Deliver(deliver::DeliverCmd),
    Check(CheckCmd),
    Stats(StatsCmd),
    Alias(address::AliasCmd),
    Domain(address::DomainCmd),
    Backup(backup::BackupCmd),
    Restore(backup::RestoreCmd),
    Import(import::ImportCmd),
    Export(import::ExportCmd),
    Probe(probe::ProbeCmd),
    Mirror(mirror::MirrorCmd),
    Trace(trace::TraceCmd),
    Reload(ReloadCmd),
    Sessions(SessionsCmd),
}

/// List the running server's MAPI sessions (docs/mapi-extension.md §4.4): account, client ID,
/// and per connection its role, state, address, age, bytes and last activity. Never a token.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "sessions")]
pub struct SessionsCmd {
    /// one JSON object instead of text
    #[argh(switch)]
    json: bool,
}

/// Reload the TLS certificate and key and the `[log] trace` list in the running server (what
/// SIGHUP does), and wait for the outcome: exit 0 when everything was reloaded, 78 when a part
/// could not be (the server keeps its old certificate), 69 when no server runs. systemd's
/// `ExecReload=` runs it, so that `systemctl reload` reports a failed reload.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "reload")]
pub struct ReloadCmd {}

/// Print the counters of the running server (message records read, push subscribers).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "stats")]
pub struct StatsCmd {}

/// Verify every page of the database and the counters of every mailbox (server must be stopped).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckCmd {}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let code = run(args);
    ExitCode::from(code)
}

fn init_logging(level: &str) {
    let level = level.parse().unwrap_or(log::LevelFilter::Info);
    let inner = simple_logger::SimpleLogger::new()
        .with_level(level)
        // A protocol trace was asked for by name (`[log] trace`, `applianced trace`): it shows
        // whatever the level; switching it off is how to silence it.
        .with_module_level(crate::imap::trace::TARGET, log::LevelFilter::Info)
        .env();
    log::set_max_level(inner.max_level());
    // Errors only if a logger is already set (tests); then the existing one stays.
    let _ = log::set_boxed_logger(Box::new(Demote(inner)));
}

/// Log targets whose warnings are about what a peer sent, not about the server: rustls warns of
/// every client that sends an IP address as its TLS server name (RFC 6066 §3 forbids it, yet
/// Thunderbird and mbsync do it for `127.0.0.1`). They are logged at debug, so that a WARN in
/// the journal always means something.
const PEER_WARNINGS: &[&str] = &["rustls::msgs::handshake"];

/// The logger with [`PEER_WARNINGS`] demoted to debug.
struct Demote(simple_logger::SimpleLogger);

impl log::Log for Demote {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if record.level() == log::Level::Warn && PEER_WARNINGS.contains(&record.target()) {
            let demoted = log::Record::builder()
                .level(log::Level::Debug)
                .target(record.target())
                .args(*record.args())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build();
            self.0.log(&demoted);
        } else {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Prints one line to stderr and returns the code, for early exits.
fn fail(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("applianced: {msg}");
    code
}

pub fn run(mut args: Args) -> u8 {
    if args.init {
        init_logging("warn");
        return init::run(&args);
    }
    // The probe measures a server from outside: it needs no data directory or config.
    if let Some(Command::Probe(cmd)) = args.command.take_if(|c| matches!(c, Command::Probe(_))) {
        init_logging("warn");
        return probe::run(cmd);
    }
    // So is the mirror: a client of a server, anywhere.
    if let Some(Command::Mirror(cmd)) = args.command.take_if(|c| matches!(c, Command::Mirror(_))) {
        init_logging("warn");
        return mirror::run(cmd);
    }
    let config_file = Paths::config_file(args.data_dir.as_deref(), args.config.as_deref());
    let (config, paths) = match load(&config_file, args.data_dir.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match args.command {
        None => {
            init_logging(&config.log.level);
            match crate::server::serve(config, paths) {
                Ok(()) => exit::OK,
                Err(e) => fail(exit::SOFTWARE, e),
            }
        }
        Some(Command::User(cmd)) => {
            init_logging("warn");
            user::run(cmd, &config, &paths)
        }
        Some(Command::Deliver(cmd)) => {
            init_logging("warn");
            deliver::run(cmd, &config, &paths)
        }
        Some(Command::Alias(cmd)) => {
            init_logging("warn");
            address::alias(cmd, &config, &paths)
        }
        Some(Command::Domain(cmd)) => {
            init_logging("warn");
            address::domain(cmd, &config, &paths)
        }
        Some(Command::Backup(cmd)) => {
            init_logging("warn");
            backup::backup(cmd, &config, &paths)
        }
        Some(Command::Restore(cmd)) => {
            init_logging("warn");
            backup::restore(cmd, &config, &paths)
        }
        Some(Command::Import(cmd)) => {
            init_logging("warn");
            import::run(cmd, &config, &paths)
        }
        Some(Command::Export(cmd)) => {
            init_logging("warn");
            import::export(cmd, &config, &paths)
        }
        Some(Command::Trace(cmd)) => {
            init_logging("warn");
            trace::run(cmd, &config, &paths)
        }
        Some(Command::Reload(_)) => {
            init_logging("warn");
            match crate::server::control::send(&paths.control_socket(), &Request::Reload) {
                Ok(Some(resp)) => report(&resp),
                Ok(None) => fail(
                    exit::UNAVAILABLE,
                    format!("no server is running on {}: nothing to reload", paths.data_dir.display()),
                ),
                Err(e) => fail(exit::TEMPFAIL, format!("control socket: {e}")),
            }
        }
        Some(Command::Sessions(cmd)) => {
            init_logging("warn");
            let req = Request::Sessions { json: cmd.json };
            match crate::server::control::send(&paths.control_socket(), &req) {
                Ok(Some(resp)) => report(&resp),
                // Sessions live in the server's memory: none runs, none exists.
                Ok(None) if cmd.json => report(&Response::ok(vec![admin::sessions_json(&[])])),
                Ok(None) => fail(
                    exit::UNAVAILABLE,
                    format!("no server is running on {}: no MAPI session", paths.data_dir.display()),
                ),
                Err(e) => fail(exit::TEMPFAIL, format!("control socket: {e}")),
            }
        }
        Some(Command::Stats(_)) => {
            init_logging("warn");
            report(&execute(&config, &paths, Request::Stats))
        }
        Some(Command::Check(_)) => {
            init_logging("warn");
            check(&config, &paths)
        }
        Some(Command::Probe(cmd)) => {
            init_logging("warn");
            probe::run(cmd)
        }
        Some(Command::Mirror(cmd)) => {
            init_logging("warn");
            mirror::run(cmd)
        }
    }
}

/// Loads the config, or explains in one line that the data directory needs `--init`.
fn load(config_file: &Path, data_dir: Option<&Path>) -> Result<(Config, Paths), u8> {
    if !config_file.exists() {
        let dir = data_dir.map(Path::to_path_buf).unwrap_or_else(|| {
            config_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
        });
        return Err(fail(
            exit::CONFIG,
            format!(
                "no configuration at {}: run `applianced --init --data-dir {}` first",
                config_file.display(),
                dir.display()
            ),
        ));
    }
    let config = Config::load(config_file).map_err(|e| fail(exit::CONFIG, e))?;
    let paths = Paths::resolve(config_file, data_dir, &config);
    Ok((config, paths))
}

/// Executes an admin request through the running server, or on the database directly when no
/// server runs.
fn execute(config: &Config, paths: &Paths, req: Request) -> Response {
    for attempt in 0..50 {
        match control::send(&paths.control_socket(), &req) {
            Ok(Some(resp)) => return resp,
            Ok(None) => {}
            Err(e) => {
                return Response { lines: vec![format!("control socket: {e}")], code: exit::TEMPFAIL };
            }
        }
        let db = paths.database();
        if !db.exists() {
            return Response {
                lines: vec![format!(
                    "{} is not initialised: run `applianced --init` first",
                    paths.data_dir.display()
                )],
                code: exit::CONFIG,
            };
        }
        let hub = std::sync::Arc::new(crate::events::Hub::new());
        match Store::open(&db, &config.store_options(), hub) {
            Ok(store) => {
                let resp = admin::execute(&store, req);
                store.close();
                return resp;
            }
            // A server holds the database but its socket is not up yet (starting or stopping).
            Err(StoreError::Storage(e)) if e.contains("already open") && attempt < 49 => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => {
                let code = if e.is_temporary() { exit::TEMPFAIL } else { exit::SOFTWARE };
                return Response { lines: vec![format!("cannot open {}: {e}", db.display())], code };
            }
        }
    }
    Response { lines: vec!["the database stayed busy".into()], code: exit::TEMPFAIL }
}

/// Prints a response (its lines to stdout when it succeeded, to stderr otherwise).
fn report(resp: &Response) -> u8 {
    for l in &resp.lines {
        if resp.code == exit::OK {
            println!("{l}");
        } else {
            eprintln!("applianced: {l}");
        }
    }
    resp.code
}

fn check(config: &Config, paths: &Paths) -> u8 {
    let db = paths.database();
    match Store::check_integrity(&db) {
        Ok(true) => println!("{}: every page checks out", db.display()),
        Ok(false) => println!("{}: repaired after an unclean shutdown", db.display()),
        Err(e) => return fail(exit::SOFTWARE, format!("{}: {e}", db.display())),
    }
    let hub = std::sync::Arc::new(crate::events::Hub::new());
    let store = match Store::open(&db, &config.store_options(), hub) {
        Ok(s) => s,
        Err(e) => return fail(exit::SOFTWARE, format!("{}: {e}", db.display())),
    };
    let mut bad = 0;
    let result = store.read().and_then(|r| {
        for (id, acct) in r.accounts()? {
            for (mb_id, mb) in r.mailboxes(id)? {
                if let Err(why) = r.verify_mailbox(mb_id)? {
                    bad += 1;
                    eprintln!("applianced: {} {}: {why}", acct.name, mb.name);
                }
            }
        }
        Ok(())
    });
    store.close();
    match result {
        Err(e) => fail(exit::SOFTWARE, e),
        Ok(()) if bad > 0 => exit::SOFTWARE,
        Ok(()) => {
            println!("every mailbox's counters and indexes agree with its messages");
            exit::OK
        }
    }
}
