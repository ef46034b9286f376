//! The network room: listeners, the control socket, signals and shutdown. Only this module
//! touches sockets.

pub mod control;

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
    let hub = Arc::new(Hub::new());
    let store = Store::open(&db, &config.store.options(), hub)
        .map_err(|e| ServeError(format!("cannot open {}: {e}", db.display())))?;
    let store = Arc::new(store);
    let control = control::bind(&paths.control_socket())
        .map_err(|e| ServeError(format!("control socket {}: {e}", paths.control_socket().display())))?;
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
    let server = Arc::new(Server { store: store.clone(), config, paths: paths.clone() });
    ex.spawn(control::serve(control, store.clone(), ex.clone())).detach();
    log::info!(
        "applianced serving {} (control socket {})",
        paths.data_dir.display(),
        paths.control_socket().display()
    );

    smol::block_on(ex.run(async {
        while let Some(sig) = signals.next().await {
            match sig {
                Ok(Signal::Hup) => log::info!("SIGHUP: nothing to reload yet"),
                Ok(s) => {
                    log::info!("{s:?}: shutting down");
                    break;
                }
                Err(e) => log::warn!("signal: {e}"),
            }
        }
    }));
    drop(server);
    stop_tx.close();
    for w in workers {
        let _ = w.join();
    }
    let _ = std::fs::remove_file(paths.control_socket());
    store.close();
    log::info!("stopped");
    Ok(())
}
pub mod limits;
pub mod tls;
