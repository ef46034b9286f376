//! `applianced.toml`: the one configuration file, and where everything lives on disk.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the config file inside a data or config directory.
pub const CONFIG_FILE: &str = "applianced.toml";
/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "applianced.redb";
/// Name of the control socket inside the data directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// True when running as root (the effective uid owns `/proc/self`).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The whole configuration. Every field has a default, so a file need only say what differs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of this server: greeting, certificate, Message-IDs.
    pub hostname: String,
    /// Where the database and control socket live. Relative paths are taken from the config
    /// file's directory; unset means that directory itself.
    pub data_dir: Option<PathBuf>,
    pub imap: Listeners,
    pub imaps: Listeners,
    /// LMTP for the MTA: listeners and the limits of its sessions.
    pub lmtp: LmtpSection,
    pub tls: Tls,
    pub limits: Limits,
    pub security: Security,
    pub store: StoreSection,
    pub quota: Quota,
    /// The MAPI extension (docs/mapi-extension.md §14): sessions, pools, heartbeats, sync.
    pub mapi: Mapi,
    pub log: Log,
}

/// `[mapi]`: the limits of docs/mapi-extension.md §14.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapi {
    /// Advertise `XMAPI1` and accept its commands. Default true.
    pub enabled: bool,
    /// Connections of one session, the backchannel included; XJOIN beyond gets `NO [LIMIT]`.
    /// At least 2. Default 8.
    pub pool_max: usize,
    /// Sessions of one account; XSESSION beyond ends the oldest in its grace period, else gets
    /// `NO [LIMIT]`. At least 1. Default 16.
    pub sessions_per_account: usize,
    /// Seconds a session's token stays valid after its last connection closes. Default 600.
    pub token_grace_secs: u64,
    /// The range heartbeat intervals are granted from, in seconds: min at least 1, max at most
    /// 1740 (under the 30-minute autologout of RFC 9051 §5.4), min at most max. Default 30, 1740.
    pub heartbeat_min_secs: u64,
    pub heartbeat_max_secs: u64,
    /// The largest XSYNC window, 1 to 10000. Default 1000.
    pub window_max: u32,
    /// Message events of one folder per span of the backchannel before they are coalesced into
    /// `XCHANGED`. At least 1. Default 256.
    pub burst_events: u32,
    /// The span, and the events queued on the backchannel before a heartbeat. At least 1.
    /// Default 1024.
    pub backchannel_batch: u32,
}

impl Default for Mapi {
    fn default() -> Self {
        Mapi {
            enabled: true,
            pool_max: 8,
            sessions_per_account: 16,
            token_grace_secs: 600,
            heartbeat_min_secs: 30,
            heartbeat_max_secs: 1740,
            window_max: 1000,
            burst_events: 256,
            backchannel_batch: 1024,
        }
    }
}

impl Mapi {
    /// The largest heartbeat interval any client may be granted (§6): under the 30 minutes of
    /// silence RFC 9051 §5.4 lets a server wait before its autologout.
    pub const HEARTBEAT_CEILING: u64 = 1740;

    fn check(&self) -> Result<(), String> {
        if self.pool_max < 2 {
            return Err("mapi.pool_max must be at least 2 (a backchannel and a pool connection)".into());
        }
        if self.sessions_per_account == 0 {
            return Err("mapi.sessions_per_account must be at least 1".into());
        }
        if self.heartbeat_min_secs == 0 {
            return Err("mapi.heartbeat_min_secs must be at least 1".into());
        }
        if self.heartbeat_max_secs > Self::HEARTBEAT_CEILING {
            return Err(format!("mapi.heartbeat_max_secs must be at most {}", Self::HEARTBEAT_CEILING));
        }
        if self.heartbeat_min_secs > self.heartbeat_max_secs {
            return Err("mapi.heartbeat_min_secs must not be above mapi.heartbeat_max_secs".into());
        }
        if !(1..=10_000).contains(&self.window_max) {
            return Err("mapi.window_max must be between 1 and 10000".into());
        }
        if self.burst_events == 0 || self.backchannel_batch == 0 {
            return Err("mapi.burst_events and mapi.backchannel_batch must be at least 1".into());
        }
        Ok(())
    }
}

/// Per-account quotas (RFC 9208), enforced on LMTP, `deliver`, APPEND, COPY and MOVE.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Storage per account in MiB; 0 is unlimited.
    pub storage_mb: u64,
    /// Messages per account; 0 is unlimited.
    pub messages: u64,
    /// Over-quota deliveries fail permanently (LMTP 552 5.2.2, `deliver` exit 77) instead of
    /// temporarily (452 4.2.2, exit 75) so that the MTA retries.
    pub permanent: bool,
    /// Exceptions by address: `[quota.accounts."alice@example.com"] storage_mb = 5000`.
    pub accounts: std::collections::BTreeMap<String, QuotaLimits>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaLimits {
    pub storage_mb: u64,
    pub messages: u64,
}

impl Quota {
    fn limits(storage_mb: u64, messages: u64) -> crate::store::quota::Limits {
        crate::store::quota::Limits {
            storage: (storage_mb > 0).then_some(storage_mb << 20),
            messages: (messages > 0).then_some(messages),
        }
    }

    pub fn policy(&self) -> crate::store::quota::QuotaPolicy {
        crate::store::quota::QuotaPolicy {
            default: Self::limits(self.storage_mb, self.messages),
            accounts: self
                .accounts
                .iter()
                .map(|(a, l)| (a.to_ascii_lowercase(), Self::limits(l.storage_mb, l.messages)))
                .collect(),
        }
    }
}

/// Addresses to listen on, `HOST:PORT` (IPv6 as `[::]:143`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listeners {
    pub listen: Vec<String>,
}

/// `[lmtp]`: how the MTA hands mail over (RFC 2033), and the limits of those sessions.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmtpSection {
    /// `unix:PATH` or `HOST:PORT`; default none.
    pub listen: Vec<String>,
    /// Allow a TCP listener on an address that is not loopback; default false. LMTP has no
    /// authentication: whoever reaches the port can put mail in any mailbox.
    pub allow_remote: bool,
    /// LMTP connections at once, over all listeners; default 32 (Postfix opens at most 20 per
    /// destination unless told otherwise). More get `421 4.3.2` and are closed.
    pub max_connections: usize,
    /// Seconds the client may stay silent, between commands or within DATA; default 300
    /// (RFC 5321 §4.5.3.2.7). Then `421 4.4.2` and the connection is closed.
    pub idle_timeout_secs: u64,
    /// Recipients per transaction; default 1000 (RFC 5321 §4.5.3.1.8 asks for at least 100).
    /// More get `452 4.5.3`, which tells the MTA to send them in another transaction.
    pub max_recipients: usize,
    /// Longest line of a message, in octets with its CRLF; default 1000, the limit of RFC 5321
    /// §4.5.3.1.6 (and the least accepted here). A message with a longer line is read to its end
    /// and refused with `500 5.5.2`. A larger value takes such mail as it comes (some senders
    /// do not wrap lines; IMAP clients cope); `limits.max_literal_size` still caps the message.
    pub max_line_length: usize,
    /// Special-use folders (`Drafts`, `Sent`, `Trash`, `Junk`, `Archive`, `All`, `Flagged`) that a
    /// `+tag` address may still deliver into; default none, so `bob+Sent@` goes to INBOX: the
    /// sender of a message must not be able to file it among what bob sent or drafted. Folders
    /// without a special use take `+tag` mail always. Applies to `applianced deliver` too.
    pub subaddress_special_use: Vec<String>,
}

impl Default for LmtpSection {
    fn default() -> Self {
        LmtpSection {
            listen: Vec::new(),
            allow_remote: false,
            max_connections: 32,
            idle_timeout_secs: 300,
            max_recipients: 1000,
            max_line_length: crate::lmtp::RFC_LINE_LENGTH,
            subaddress_special_use: Vec::new(),
        }
    }
}

impl LmtpSection {
    /// The special uses of `subaddress_special_use`, or the name that is none.
    pub fn subaddress_special_use(&self) -> Result<Vec<crate::store::SpecialUse>, String> {
        self.subaddress_special_use
            .iter()
            .map(|n| {
                crate::store::SpecialUse::from_name(n)
                    .ok_or_else(|| format!("lmtp.subaddress_special_use: {n:?} is not a special use"))
            })
            .collect()
    }

    fn check(&self) -> Result<(), String> {
        for addr in &self.listen {
            if addr.starts_with("unix:") {
                continue;
            }
            let Ok(sock) = addr.parse::<SocketAddr>() else {
                return Err(format!("LMTP listen address {addr:?} is neither unix:PATH nor HOST:PORT"));
            };
            if !sock.ip().is_loopback() && !self.allow_remote {
                return Err(format!(
                    "LMTP listen address {addr} is not loopback: LMTP has no authentication, so anyone \
                     who reaches it can put mail in any mailbox; listen on 127.0.0.1 or unix:PATH, or \
                     set allow_remote = true in [lmtp] if a firewall guards it"
                ));
            }
        }
        if self.max_connections == 0 {
            return Err("lmtp.max_connections must be at least 1".into());
        }
        if self.idle_timeout_secs == 0 {
            return Err("lmtp.idle_timeout_secs must be at least 1".into());
        }
        if self.max_recipients < 100 {
            return Err("lmtp.max_recipients must be at least 100 (RFC 5321 §4.5.3.1.8)".into());
        }
        if self.max_line_length < crate::lmtp::RFC_LINE_LENGTH {
            return Err("lmtp.max_line_length must be at least 1000 (RFC 5321 §4.5.3.1.6)".into());
        }
        self.subaddress_special_use().map(|_| ())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain. Relative to the config file's directory.
    pub certificate: PathBuf,
    /// PEM private key. Relative to the config file's directory.
    pub key: PathBuf,
}

impl Default for Tls {
    fn default() -> Self {
        Tls { certificate: "tls/cert.pem".into(), key: "tls/key.pem".into() }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest command line accepted, in bytes (literals not counted).
    pub max_line_length: usize,
    /// Largest literal (APPEND message) accepted once logged in, in bytes. Default 32 MiB.
    /// Before login only LOGIN's few KiB are accepted (`imap::session::PREAUTH_MAX_LITERAL`).
    pub max_literal_size: u64,
    /// Literal bytes (APPENDed messages in transit) all connections together may hold in
    /// memory, in MiB; a literal that does not fit waits. Default 128; at least
    /// `max_literal_size`.
    pub literal_memory_mb: u64,
    /// Seconds a literal may wait for room in `literal_memory_mb` before its command gets
    /// `NO [UNAVAILABLE]`. Default 30.
    pub literal_memory_wait_secs: u64,
    /// Connections at once, in all. Default 2000.
    pub max_connections: usize,
    /// Connections at once from one IP address. Default 50.
    pub max_connections_per_ip: usize,
    /// Connections not logged in yet, in all. When full (or when `max_connections` is), a
    /// newcomer displaces the oldest of them from the address that has the most. Default 200.
    pub max_unauthenticated: usize,
    /// Connections not logged in yet from one IP address. Default 10.
    pub max_unauthenticated_per_ip: usize,
    /// Seconds a connection has to log in, counted from the connect (TLS handshake included),
    /// whatever it sends meanwhile. Default 60.
    pub login_timeout_secs: u64,
    /// Seconds an authenticated connection may stay silent (RFC 9051 §5.4: at least 30 minutes).
    pub idle_timeout_secs: u64,
    /// Login attempts from one address (counted when they start; a correct password forgives
    /// its account's) before further attempts from it are slowed down. Default 3.
    pub login_failures_before_delay: u32,
    /// Password checks (argon2id, 19 MiB each) run at once, on threads of their own; 0 means one
    /// per CPU core. Default 0.
    pub login_hash_threads: usize,
    /// Logins waiting for a password-check thread at most; beyond, the attempt from the address
    /// with the most recent attempts gets `NO [UNAVAILABLE]`. At least 1. Default 32.
    pub login_hash_queue: usize,
    /// Seconds a login may wait for a password-check thread before `NO [UNAVAILABLE]`. At
    /// least 1. Default 10.
    pub login_hash_wait_secs: u64,
    /// Mailboxes per account, INBOX and every level of a hierarchy counted; CREATE beyond gets
    /// `NO [LIMIT]`. At least 1. Default 10000.
    pub max_mailboxes: usize,
    /// Longest mailbox name CREATE and RENAME accept, in bytes of UTF-8 (the whole name, all
    /// levels); longer gets `NO [LIMIT]`. Between 1 and 4096. Default 255.
    pub max_mailbox_name_length: usize,
    /// Longest LIST / LSUB pattern, in bytes, the reference and all patterns of one command
    /// together; longer gets `NO [LIMIT]`. At least 1. Default 1024.
    pub max_list_pattern_length: usize,
}

impl Limits {
    /// Threads for password checks: `login_hash_threads`, or one per core.
    pub fn hash_threads(&self) -> usize {
        match self.login_hash_threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_length: 64 * 1024,
            max_literal_size: 32 << 20,
            literal_memory_mb: 128,
            literal_memory_wait_secs: 30,
            max_connections: 2000,
            max_connections_per_ip: 50,
            max_unauthenticated: 200,
            max_unauthenticated_per_ip: 10,
            login_timeout_secs: 60,
            idle_timeout_secs: 31 * 60,
            login_failures_before_delay: 3,
            login_hash_threads: 0,
            login_hash_queue: 32,
            login_hash_wait_secs: 10,
            max_mailboxes: 10_000,
            max_mailbox_name_length: 255,
            max_list_pattern_length: 1024,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS on loopback connections.
    pub allow_plaintext_loopback: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security { allow_plaintext_loopback: true }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// Page cache of the database, in MiB.
    pub cache_mb: usize,
    /// Entries kept per account in the change log (for NOTIFY and MAPI resync).
    pub change_log_limit: u64,
    /// Verify every page checksum when the server starts (a full read of the file).
    pub verify_on_open: bool,
    /// Free space, in MiB, that deliveries, APPENDs and copies must leave on the file system of
    /// the database; below it they are refused (LMTP 452 4.3.1, IMAP NO [UNAVAILABLE]) while
    /// flag changes, expunges and deletions go on. 0 turns the check off. Default 16.
    pub min_free_mb: u64,
    /// Threads that run the sessions' store reads (`store::reads`); 0 means two per CPU core,
    /// at least two. One of them is kept for the cheap reads (NOOP, IDLE, login). Default 0.
    pub read_threads: usize,
    /// Reads waiting for a thread at most; beyond, a read gets `NO [UNAVAILABLE]` (LMTP 451
    /// 4.3.0). A session has at most one read waiting. At least 1. Default 4096.
    pub read_queue: usize,
    /// Seconds a read may wait for a thread before `NO [UNAVAILABLE]`. At least 1. Default 20.
    pub read_wait_secs: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            cache_mb: 16,
            change_log_limit: 100_000,
            verify_on_open: false,
            min_free_mb: 16,
            read_threads: 0,
            read_queue: 4096,
            read_wait_secs: 20,
        }
    }
}

impl StoreSection {
    /// The sizes of the store's read pool.
    pub fn read_limits(&self) -> crate::store::ReadLimits {
        crate::store::ReadLimits {
            threads: self.read_threads,
            queue: self.read_queue,
            wait: std::time::Duration::from_secs(self.read_wait_secs),
        }
    }
}

impl Config {
    /// The store's options: the `[store]` tunables and the `[quota]` limits.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            cache_size: self.store.cache_mb << 20,
            change_log_limit: self.store.change_log_limit.max(1),
            verify_on_open: self.store.verify_on_open,
            quota: self.quota.policy(),
            reserve: self.store.min_free_mb.saturating_mul(1 << 20),
            // `check` refused names that are not special uses.
            subaddress_special_use: self.lmtp.subaddress_special_use().unwrap_or_default(),
            max_mailboxes: self.limits.max_mailboxes,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// error, warn, info, debug or trace.
    pub level: String,
    /// Accounts whose IMAP sessions are written to the log line by line, passwords and message
    /// text redacted (`imap::trace`). Re-read on SIGHUP; `applianced trace` switches at run time.
    pub trace: Vec<String>,
}

impl Default for Log {
    fn default() -> Self {
        Log { level: "info".into(), trace: Vec::new() }
    }
}

impl Default for Config {
    fn default() -> Self {
        let (imap, imaps) = default_listeners();
        Config {
            hostname: "localhost".into(),
            data_dir: None,
            imap: Listeners { listen: imap },
            imaps: Listeners { listen: imaps },
            lmtp: LmtpSection::default(),
            tls: Tls::default(),
            limits: Limits::default(),
            security: Security::default(),
            store: StoreSection::default(),
            quota: Quota::default(),
            mapi: Mapi::default(),
            log: Log::default(),
        }
    }
}

/// Ports 143 and 993 on every address as root; 1143 and 1993 on loopback otherwise.
pub fn default_listeners() -> (Vec<String>, Vec<String>) {
    if running_as_root() {
        (vec!["0.0.0.0:143".into()], vec!["0.0.0.0:993".into()])
    } else {
        (vec!["127.0.0.1:1143".into()], vec!["127.0.0.1:1993".into()])
    }
}

/// A config that could not be used, with the file it came from.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        config.check().map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// Checks what serde cannot: addresses parse, limits are sane.
    pub fn check(&self) -> Result<(), String> {
        for addr in self.imap.listen.iter().chain(&self.imaps.listen) {
            addr.parse::<SocketAddr>().map_err(|_| format!("listen address {addr:?} is not HOST:PORT"))?;
        }
        self.lmtp.check()?;
        if self.limits.max_line_length < 1024 {
            return Err("limits.max_line_length must be at least 1024".into());
        }
        if self.limits.literal_memory_mb.saturating_mul(1 << 20) < self.limits.max_literal_size {
            return Err("limits.literal_memory_mb must hold at least one literal of max_literal_size".into());
        }
        if self.limits.max_unauthenticated == 0 || self.limits.max_unauthenticated_per_ip == 0 {
            return Err("limits.max_unauthenticated and max_unauthenticated_per_ip must be at least 1".into());
        }
        if self.limits.login_hash_queue == 0 || self.limits.login_hash_wait_secs == 0 {
            return Err("limits.login_hash_queue and limits.login_hash_wait_secs must be at least 1".into());
        }
        if self.store.read_queue == 0 || self.store.read_wait_secs == 0 {
            return Err("store.read_queue and store.read_wait_secs must be at least 1".into());
        }
        if self.limits.max_mailboxes == 0 || self.limits.max_list_pattern_length == 0 {
            return Err("limits.max_mailboxes and limits.max_list_pattern_length must be at least 1".into());
        }
        if !(1..=4096).contains(&self.limits.max_mailbox_name_length) {
            return Err("limits.max_mailbox_name_length must be between 1 and 4096".into());
        }
        self.mapi.check()?;
        if self.hostname.is_empty() {
            return Err("hostname must not be empty".into());
        }
        for a in &self.log.trace {
            if !a.contains('@') || a.contains(char::is_whitespace) {
                return Err(format!("log.trace: {a:?} is not an account address (user@domain)"));
            }
        }
        Ok(())
    }

    /// Renders the config as a documented file (used by `--init`).
    pub fn to_documented_toml(&self) -> String {
        let list = |v: &[String]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        let data_dir = match &self.data_dir {
            Some(d) => format!("data_dir = {:?}\n", d.display().to_string()),
            None => "# data_dir = \"/var/lib/applianced\"   # unset: the directory of this file\n".into(),
        };
        let l = &self.limits;
        format!(
            r#"# applianced configuration. Every key has a default; remove a line to get it.
# Relative paths are taken from the directory of this file.

# Name of this server: IMAP greeting, TLS certificate, Message-IDs of generated mail.
hostname = {hostname:?}
{data_dir}
[imap]
# Plain IMAP with STARTTLS (port 143 style). Logins need TLS except on loopback (see [security]).
listen = [{imap}]

[imaps]
# IMAP over implicit TLS (port 993 style).
listen = [{imaps}]

[lmtp]
# Mail from the MTA (Postfix: virtual_transport = lmtp:unix:... or lmtp:inet:127.0.0.1:24).
# `unix:PATH` or `HOST:PORT`; keep TCP on loopback: LMTP has no authentication.
listen = [{lmtp}]
# A TCP listener on an address that is not loopback is refused unless this is true.
allow_remote = {lar}
# Connections at once; more get 421 4.3.2 and are closed.
max_connections = {lmc}
# Seconds of silence (between commands or within DATA) before 421 4.4.2 and close.
idle_timeout_secs = {lit}
# Recipients per transaction (at least 100); more get 452 4.5.3 and the MTA sends them later.
max_recipients = {lmr}
# Longest message line in octets with CRLF (RFC 5321: 1000, the least allowed). A message with
# a longer line is refused (500 5.5.2); raise it to take such mail as it comes.
max_line_length = {lml}
# Special-use folders a +tag address may deliver into (e.g. ["Junk"]); others get +tag mail
# in INBOX, so that bob+Sent@ cannot file mail among bob's sent messages. Also for `deliver`.
subaddress_special_use = [{lsu}]

[tls]
# PEM files; `applianced --init` made a self-signed pair. Reloaded on SIGHUP.
certificate = {cert:?}
key = {key:?}

[limits]
# Longest command line, in bytes (literals are counted separately).
max_line_length = {mll}
# Largest literal (an APPENDed message) once logged in, in bytes. Before login only the
# few KiB LOGIN needs are accepted.
max_literal_size = {mls}
# Literal bytes (APPENDed messages in transit) all connections together may hold in memory,
# in MiB (at least max_literal_size); a literal that does not fit waits up to
# literal_memory_wait_secs, then its command gets NO [UNAVAILABLE].
literal_memory_mb = {lmm}
literal_memory_wait_secs = {lmw}
# Connections at once, in all and from one IP address.
max_connections = {mc}
max_connections_per_ip = {mcip}
# Connections not logged in yet, in all and from one IP address. When full, a newcomer
# displaces the oldest of them from the address that has the most, so logged-in users and
# real logins always have room.
max_unauthenticated = {mu}
max_unauthenticated_per_ip = {muip}
# Seconds a connection has to log in, from the connect on, whatever it sends meanwhile.
login_timeout_secs = {lt}
# Seconds of silence before an authenticated connection is closed (RFC 9051 asks for 30 minutes or more).
idle_timeout_secs = {it}
# Login attempts from one address (counted as they start; a correct password forgives its
# account's) after which each further attempt from that address waits 1 s, 2 s, 4 s ... 60 s.
login_failures_before_delay = {lf}
# Password checks (argon2id, 19 MiB of memory each) at once; 0: one per CPU core.
login_hash_threads = {lht}
# Logins waiting for a check at most, and for how long; beyond either: NO [UNAVAILABLE].
login_hash_queue = {lhq}
login_hash_wait_secs = {lhw}
# Mailboxes per account (every level of a hierarchy counts), the longest mailbox name in
# bytes, and the longest LIST pattern in bytes (reference and patterns together); beyond
# them CREATE, RENAME and LIST get NO [LIMIT].
max_mailboxes = {mmb}
max_mailbox_name_length = {mmn}
max_list_pattern_length = {mlp}

[security]
# Allow passwords in plaintext (no TLS) on loopback connections, as Dovecot does.
allow_plaintext_loopback = {apl}

[store]
# redb's page cache, in MiB (the kernel's page cache is under it). 16 keeps a 512 MB box
# comfortable and costs nothing measurable on the IMAP benchmark (docs/PERFORMANCE.md).
cache_mb = {cache}
# Entries kept per account in the change log (NOTIFY and MAPI resync reach back this far).
change_log_limit = {cll}
# Verify every page checksum at start-up (reads the whole database file).
verify_on_open = {voo}
# Free space (MiB) that deliveries, APPENDs and copies must leave on the database's file system;
# below it they get LMTP 452 4.3.1 / IMAP NO [UNAVAILABLE], while flag changes, expunges and
# deletions go on, so that room can be made. 0 turns the check off.
min_free_mb = {mfm}
# Threads that run the IMAP and LMTP sessions' reads of the database; 0: two per CPU core (at
# least two). One of them is kept for cheap reads (NOOP, IDLE, LOGIN), so that they never wait
# behind other clients' SEARCHes. Reads waiting for a thread at most, and for how long; beyond
# either: NO [UNAVAILABLE] (LMTP 451 4.3.0).
read_threads = {rt}
read_queue = {rq}
read_wait_secs = {rw}

[quota]
# Per account; 0 is unlimited. Exceptions: [quota.accounts."alice@example.com"] storage_mb = 5000
storage_mb = {qs}
messages = {qm}
# Over quota: fail deliveries permanently (LMTP 552 5.2.2) instead of temporarily (452 4.2.2).
permanent = {qp}

[mapi]
# The MAPI extension (docs/mapi-extension.md): advertise XMAPI1 and accept its commands.
enabled = {me}
# Connections of one session, the backchannel included (at least 2); an XJOIN beyond gets
# NO [LIMIT]. Sessions of one account; XSESSION beyond ends the oldest one left without
# connections, else gets NO [LIMIT].
pool_max = {mpm}
sessions_per_account = {msa}
# Seconds a session's token stays valid after its last connection closes.
token_grace_secs = {mtg}
# The range heartbeat intervals are granted from, in seconds (1 <= min <= max <= 1740).
heartbeat_min_secs = {mhn}
heartbeat_max_secs = {mhx}
# The largest XSYNC window (1-10000 messages per batch).
window_max = {mwm}
# Message events of one folder per span of the backchannel before they are coalesced into one
# XCHANGED; the span, and the events queued before a heartbeat.
burst_events = {mbe}
backchannel_batch = {mbb}

[log]
# error, warn, info, debug or trace.
level = {level:?}
# Accounts whose IMAP sessions are logged line by line (target "trace", shown at any level),
# passwords and message text redacted. Re-read on SIGHUP; `applianced trace ACCOUNT on|off`
# switches an account in the running server until it stops.
trace = [{trace}]
"#,
            hostname = self.hostname,
            imap = list(&self.imap.listen),
            imaps = list(&self.imaps.listen),
            lmtp = list(&self.lmtp.listen),
            lar = self.lmtp.allow_remote,
            lmc = self.lmtp.max_connections,
            lit = self.lmtp.idle_timeout_secs,
            lmr = self.lmtp.max_recipients,
            lml = self.lmtp.max_line_length,
            lsu = list(&self.lmtp.subaddress_special_use),
            cert = self.tls.certificate.display().to_string(),
            key = self.tls.key.display().to_string(),
            mll = l.max_line_length,
            mls = l.max_literal_size,
            lmm = l.literal_memory_mb,
            lmw = l.literal_memory_wait_secs,
            mc = l.max_connections,
            mcip = l.max_connections_per_ip,
            mu = l.max_unauthenticated,
            muip = l.max_unauthenticated_per_ip,
            lt = l.login_timeout_secs,
            it = l.idle_timeout_secs,
            lf = l.login_failures_before_delay,
            lht = l.login_hash_threads,
            lhq = l.login_hash_queue,
            lhw = l.login_hash_wait_secs,
            mmb = l.max_mailboxes,
            mmn = l.max_mailbox_name_length,
            mlp = l.max_list_pattern_length,
            apl = self.security.allow_plaintext_loopback,
            cache = self.store.cache_mb,
            cll = self.store.change_log_limit,
            voo = self.store.verify_on_open,
            mfm = self.store.min_free_mb,
            rt = self.store.read_threads,
            rq = self.store.read_queue,
            rw = self.store.read_wait_secs,
            qs = self.quota.storage_mb,
            qm = self.quota.messages,
            qp = self.quota.permanent,
            me = self.mapi.enabled,
            mpm = self.mapi.pool_max,
            msa = self.mapi.sessions_per_account,
            mtg = self.mapi.token_grace_secs,
            mhn = self.mapi.heartbeat_min_secs,
            mhx = self.mapi.heartbeat_max_secs,
            mwm = self.mapi.window_max,
            mbe = self.mapi.burst_events,
            mbb = self.mapi.backchannel_batch,
            level = self.log.level,
            trace = list(&self.log.trace),
        )
    }
}

/// Where the files of one installation are, resolved from the command line and the config.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The config file.
    pub config: PathBuf,
    /// The data directory (database, control socket).
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves the config file from `--data-dir` / `--config`: an explicit `--config` wins;
    /// then `DATA_DIR/applianced.toml`; then `/etc/applianced/applianced.toml` as root; then
    /// `./applianced-data/applianced.toml`.
    pub fn config_file(data_dir: Option<&Path>, config: Option<&Path>) -> PathBuf {
        if let Some(c) = config {
            return c.to_path_buf();
        }
        if let Some(d) = data_dir {
            return d.join(CONFIG_FILE);
        }
        if running_as_root() {
            return PathBuf::from("/etc/applianced").join(CONFIG_FILE);
        }
        PathBuf::from("applianced-data").join(CONFIG_FILE)
    }

    /// The paths of an installation whose config is at `config_file`.
    pub fn resolve(config_file: &Path, data_dir: Option<&Path>, config: &Config) -> Paths {
        let base = config_file.parent().map(Path::to_path_buf).unwrap_or_default();
        let data_dir = match (data_dir, &config.data_dir) {
            (Some(d), _) => d.to_path_buf(),
            (None, Some(d)) => base.join(d),
            (None, None) => base.clone(),
        };
        Paths { config: config_file.to_path_buf(), data_dir }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.config.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    pub fn control_socket(&self) -> PathBuf {
        self.data_dir.join(CONTROL_SOCKET)
    }

    /// A path from the config, taken relative to the config file's directory.
    pub fn from_config(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.config_dir().join(p) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/mapi-extension.md §14: each bound of `[mapi]` refused with its key named.
    #[test]
    fn mapi_limits_are_checked() {
        let bad = |f: fn(&mut Mapi), key: &str| {
            let mut c = Config::default();
            f(&mut c.mapi);
            let e = c.check().expect_err(key);
            assert!(e.contains(key), "{key}: {e}");
        };
        bad(|m| m.pool_max = 1, "mapi.pool_max");
        bad(|m| m.sessions_per_account = 0, "mapi.sessions_per_account");
        bad(|m| m.heartbeat_min_secs = 0, "mapi.heartbeat_min_secs");
        bad(|m| m.heartbeat_max_secs = 1741, "mapi.heartbeat_max_secs");
        bad(|m| (m.heartbeat_min_secs, m.heartbeat_max_secs) = (100, 99), "mapi.heartbeat_min_secs");
        bad(|m| m.window_max = 0, "mapi.window_max");
        bad(|m| m.window_max = 10_001, "mapi.window_max");
        bad(|m| m.burst_events = 0, "mapi.burst_events");
        bad(|m| m.backchannel_batch = 0, "mapi.backchannel_batch");
        let mut c = Config::default();
        (c.mapi.pool_max, c.mapi.heartbeat_min_secs, c.mapi.heartbeat_max_secs) = (2, 1740, 1740);
        (c.mapi.window_max, c.mapi.sessions_per_account) = (10_000, 1);
        assert!(c.check().is_ok());
        let parsed: Config = toml::from_str("[mapi]\nenabled = false\npool_max = 3\n").expect("toml");
        assert!(!parsed.mapi.enabled);
        assert_eq!((parsed.mapi.pool_max, parsed.mapi.token_grace_secs), (3, 600));
    }

    #[test]
    fn documented_file_parses_back_to_the_same_values() {
        let c = Config {
            hostname: "mail.example.com".into(),
            data_dir: Some("/var/lib/applianced".into()),
            ..Config::default()
        };
        let text = c.to_documented_toml();
        let back: Config = toml::from_str(&text).expect("documented config parses");
        assert_eq!(back.hostname, "mail.example.com");
        assert_eq!(back.imap.listen, c.imap.listen);
        assert_eq!(back.limits.max_literal_size, c.limits.max_literal_size);
        assert_eq!(back.limits.literal_memory_mb, c.limits.literal_memory_mb);
        assert_eq!(back.limits.literal_memory_wait_secs, c.limits.literal_memory_wait_secs);
        assert_eq!(back.limits.max_unauthenticated, c.limits.max_unauthenticated);
        assert_eq!(back.limits.max_unauthenticated_per_ip, c.limits.max_unauthenticated_per_ip);
        assert_eq!(back.data_dir, c.data_dir);
        assert_eq!(
            (back.store.read_threads, back.store.read_queue, back.store.read_wait_secs),
            (c.store.read_threads, c.store.read_queue, c.store.read_wait_secs)
        );
        assert!(back.log.trace.is_empty());
        let m = (&back.mapi, &c.mapi);
        assert_eq!(
            (m.0.enabled, m.0.pool_max, m.0.sessions_per_account, m.0.token_grace_secs),
            (m.1.enabled, m.1.pool_max, m.1.sessions_per_account, m.1.token_grace_secs)
        );
        assert_eq!(
            (m.0.heartbeat_min_secs, m.0.heartbeat_max_secs, m.0.window_max, m.0.burst_events),
            (m.1.heartbeat_min_secs, m.1.heartbeat_max_secs, m.1.window_max, m.1.burst_events)
        );
        assert_eq!(m.0.backchannel_batch, m.1.backchannel_batch);
        let c = Config { log: Log { trace: vec!["a@b.c".into()], ..Log::default() }, ..c };
        let back: Config = toml::from_str(&c.to_documented_toml()).expect("parses");
        assert_eq!(back.log.trace, ["a@b.c"]);
        assert!(back.check().is_ok());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let mut c = Config::default();
        c.imap.listen = vec!["localhost".into()];
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.log.trace = vec!["alice".into()];
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.limits.literal_memory_mb = 16;
        assert!(c.check().is_err(), "one literal of max_literal_size must fit");
        let mut c = Config::default();
        c.limits.max_unauthenticated = 0;
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.limits.login_hash_queue = 0;
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.limits.login_hash_wait_secs = 0;
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.store.read_queue = 0;
        assert!(c.check().is_err());
        let mut c = Config::default();
        c.store.read_wait_secs = 0;
        assert!(c.check().is_err());
    }

    #[test]
    fn lmtp_limits_and_remote_listeners() {
        let with = |f: &dyn Fn(&mut LmtpSection)| {
            let mut c = Config::default();
            f(&mut c.lmtp);
            c.check()
        };
        assert!(
            with(&|l| l.listen = vec!["127.0.0.1:24".into(), "[::1]:24".into(), "unix:/x".into()]).is_ok()
        );
        let e = with(&|l| l.listen = vec!["0.0.0.0:24".into()]).expect_err("not loopback");
        assert!(e.contains("allow_remote"), "{e}");
        assert!(with(&|l| l.listen = vec!["192.0.2.1:24".into()]).is_err());
        assert!(
            with(&|l| {
                l.listen = vec!["0.0.0.0:24".into()];
                l.allow_remote = true;
            })
            .is_ok()
        );
        assert!(with(&|l| l.max_recipients = 99).is_err());
        assert!(with(&|l| l.max_line_length = 999).is_err());
        assert!(with(&|l| l.max_line_length = 1 << 20).is_ok());
        assert!(with(&|l| l.subaddress_special_use = vec!["Junk".into(), "\\Archive".into()]).is_ok());
        assert!(with(&|l| l.subaddress_special_use = vec!["Lists".into()]).is_err());
        // The documented file carries every key and parses back.
        let mut c = Config::default();
        c.lmtp.subaddress_special_use = vec!["Junk".into()];
        let back: Config = toml::from_str(&c.to_documented_toml()).expect("parses");
        assert_eq!(back.lmtp.subaddress_special_use, ["Junk"]);
        assert_eq!(back.lmtp.max_recipients, 1000);
        assert!(!back.lmtp.allow_remote);
    }
}
