//! The network room: listeners, the control socket, signals and shutdown. Only this module
//! touches sockets.

pub mod control;
pub mod imap;
pub mod notify;
pub mod reload;

use std::sync::Arc;

use async_signal::{Signal, Signals};
use smol::stream::StreamExt;

use crate::config::{Config, Paths};
use crate::events::Hub;
use crate::store::Store;

/// Why the server could not start or stopped badly: one line for the admin.
#[derive(Debug)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A running server's shared state.
pub struct Server {
    /// The store, shared by every session.
    pub store: Arc<Store>,
    /// The config the server started with.
    pub config: Config,
    /// Where its files are.
    pub paths: Paths,
}

/// Runs the server until SIGTERM or SIGINT.
pub fn serve(config: Config, paths: Paths) -> Result<(), ServeError> {
    let db = paths.database();
    if !db.exists() {
        return Err(ServeError(format!(
            "{} is not initialised: run `applianced --init --data-dir {}` first",
            paths.data_dir.display(),
            paths.data_dir.display()
        )));
    }
    // Before any thread starts: the allocator's arenas, whatever the environment (`memory`).
    crate::memory::limit_arenas();
    let hub = Arc::new(Hub::new());
    let store = Store::open(&db, &config.store_options(), hub)
        .map_err(|e| ServeError(format!("cannot open {}: {e}", db.display())))?;
    let store = Arc::new(store);
    let control = control::bind(&paths.control_socket())
        .map_err(|e| ServeError(format!("control socket {}: {e}", paths.control_socket().display())))?;
    let cert = paths.from_config(&config.tls.certificate);
    let key = paths.from_config(&config.tls.key);
    let tls_config = match tls::load(&cert, &key) {
        Ok(c) => Some(c),
        Err(e) if config.imaps.listen.is_empty() => {
            log::warn!("no TLS ({e}): STARTTLS is off");
            None
        }
        Err(e) => return Err(ServeError(format!("TLS: {e}"))),
    };
    let mut listeners = Vec::new();
    let mut bound = Vec::new();
    for (addrs, implicit) in [(&config.imap.listen, false), (&config.imaps.listen, true)] {
        for a in addrs {
            let l = smol::block_on(smol::net::TcpListener::bind(a.as_str()))
                .map_err(|e| ServeError(format!("cannot listen on {a}: {e}")))?;
            let local = l.local_addr().map_err(|e| ServeError(e.to_string()))?;
            log::info!("IMAP{} listening on {local}", if implicit { "S" } else { "" });
            bound.push(format!("IMAP{} {local}", if implicit { "S" } else { "" }));
            listeners.push((l, implicit));
        }
    }
    let mut lmtp_listeners = Vec::new();
    for a in &config.lmtp.listen {
        let (l, local) =
            smol::block_on(lmtp::bind(a)).map_err(|e| ServeError(format!("cannot listen on {a}: {e}")))?;
        log::info!("LMTP listening on {local}");
        lmtp_listeners.push(l);
    }
    let mut signals = Signals::new([Signal::Term, Signal::Int, Signal::Hup])
        .map_err(|e| ServeError(format!("signals: {e}")))?;

    // One executor, one thread per core (smol advises an explicit executor for servers).
    let ex: Arc<smol::Executor<'static>> = Arc::new(smol::Executor::new());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (stop_tx, stop_rx) = smol::channel::unbounded::<()>();
    let mut workers = Vec::new();
    for i in 1..threads {
        let ex = ex.clone();
        let stop = stop_rx.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("executor-{i}"))
                .spawn(move || smol::block_on(ex.run(stop.recv())))
                .map_err(|e| ServeError(format!("threads: {e}")))?,
        );
    }
    let (shutdown_tx, shutdown_rx) = smol::channel::unbounded::<()>();
    let tls = tls_config.map(|c| Arc::new(tls::Tls::new(c)));
    let ctx = Arc::new(crate::imap::Context::new(store.clone(), config.clone(), tls.is_some()));
    let l = &config.limits;
    let limits = limits::ConnectionLimits::with_unauthenticated(
        l.max_connections,
        l.max_connections_per_ip,
        l.max_unauthenticated,
        l.max_unauthenticated_per_ip,
    );
    let literals = budget::Budget::new(l.literal_memory_mb.saturating_mul(1 << 20));
    let traces = ctx.traces.clone();
    let shared = Arc::new(imap::Shared { ctx, tls: tls.clone(), limits, literals, shutdown: shutdown_rx });
    for (l, implicit) in listeners {
        ex.spawn(imap::accept_loop(l, shared.clone(), implicit, ex.clone())).detach();
    }
    let lmtp_shared = Arc::new(lmtp::Lmtp::new(
        store.clone(),
        shared.ctx.reads.clone(),
        crate::lmtp::session::Settings {
            hostname: config.hostname.clone(),
            max_size: config.limits.max_literal_size,
            quota_permanent: config.quota.permanent,
            max_recipients: config.lmtp.max_recipients,
            max_line: config.lmtp.max_line_length,
        },
        config.lmtp.max_connections,
        std::time::Duration::from_secs(config.lmtp.idle_timeout_secs),
        shared.shutdown.clone(),
    ));
    for l in lmtp_listeners {
        ex.spawn(lmtp::accept_loop(l, lmtp_shared.clone(), ex.clone())).detach();
    }
    let server = Arc::new(Server { store: store.clone(), config, paths: paths.clone() });
    // systemd (Type=notify): ready once every listener is bound, then keep-alives and status.
    let notifier = notify::Notifier::from_env().map(Arc::new);
    let reloader = Arc::new(reload::Reloader::new(
        tls.clone(),
        (cert.clone(), key.clone()),
        paths.config.clone(),
        traces.clone(),
        notifier.clone(),
    ));
    ex.spawn(control::serve(
        control,
        store.clone(),
        traces.clone(),
        reloader.clone(),
        shared.ctx.sessions.clone(),
        ex.clone(),
    ))
    .detach();
    log::info!(
        "applianced serving {} (control socket {})",
        paths.data_dir.display(),
        paths.control_socket().display()
    );
    if let Some(n) = &notifier {
        n.ready(&format!("serving: {}", bound.join(", ")));
        ex.spawn(notify_loop(n.clone(), shared.limits.clone())).detach();
    }

    smol::block_on(ex.run(async {
        while let Some(sig) = signals.next().await {
            match sig {
                Ok(Signal::Hup) => {
                    let r = reloader.clone();
                    smol::unblock(move || r.reload("SIGHUP")).await;
                }
                Ok(s) => {
                    log::info!("{s:?}: shutting down");
                    break;
                }
                Err(e) => log::warn!("signal: {e}"),
            }
        }
    }));
    if let Some(n) = &notifier {
        n.stopping();
    }
    // Sessions say BYE (IMAP) or 421 (LMTP) and end; give them a moment to flush, and an LMTP
    // DATA in progress a moment to finish (cut off, it is never acknowledged).
    shutdown_tx.close();
    smol::block_on(ex.run(async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while shared.limits.live() + lmtp_shared.live() > 0 && std::time::Instant::now() < deadline {
            async_io::Timer::after(std::time::Duration::from_millis(10)).await;
        }
    }));
    let server_lmtp_sockets: Vec<String> = server
        .config
        .lmtp
        .listen
        .iter()
        .filter_map(|a| a.strip_prefix("unix:").map(str::to_string))
        .collect();
    drop(server);
    stop_tx.close();
    for w in workers {
        let _ = w.join();
    }
    let _ = std::fs::remove_file(paths.control_socket());
    for a in &server_lmtp_sockets {
        let _ = std::fs::remove_file(a);
    }
    store.close();
    log::info!("stopped");
    Ok(())
}

/// Sends `WATCHDOG=1` every half watchdog timeout (when systemd asked for it) and a `STATUS=` line
/// when the number of connections changed. It runs on the server's executor, so keep-alives stop
/// (and systemd restarts the service) when the executor stops running tasks.
async fn notify_loop(n: Arc<notify::Notifier>, limits: Arc<limits::ConnectionLimits>) {
    let tick = n.watchdog().unwrap_or(std::time::Duration::from_secs(5));
    let mut shown = None;
    loop {
        async_io::Timer::after(tick).await;
        if n.watchdog().is_some() {
            n.watchdog_ping();
        }
        let live = limits.live();
        if shown != Some(live) {
            n.status(&format!("{live} connection{}", if live == 1 { "" } else { "s" }));
            shown = Some(live);
        }
    }
}

pub mod budget;
pub mod counted;
pub mod limits;
pub mod lmtp;
pub mod tls;
