//! Reloading while serving, on SIGHUP or `applianced reload` (the unit's `ExecReload=`): the TLS
//! certificate and key, and the config file's `[log] trace` list (the rest of the file takes a
//! restart). A certificate that cannot be loaded leaves the old one in use. systemd is told
//! `RELOADING=1`, then `READY=1` with a `STATUS=` saying what happened (sd_notify(3)); the
//! `reload` command gets the outcome over the control socket and fails when anything failed, so
//! `systemctl reload` (and a certbot deploy hook behind it) sees the failure.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::notify::Notifier;
use super::tls::Tls;
use crate::config::Config;
use crate::imap::trace::Switch;

/// What a reload did, a line per part.
pub struct Outcome {
    pub lines: Vec<String>,
    /// A part could not be reloaded (its old state stays in use).
    pub failed: bool,
}

pub struct Reloader {
    tls: Option<Arc<Tls>>,
    cert: PathBuf,
    key: PathBuf,
    config: PathBuf,
    traces: Arc<Switch>,
    notifier: Option<Arc<Notifier>>,
    /// One reload at a time (a SIGHUP and a `reload` command together).
    running: Mutex<()>,
}

impl Reloader {
    pub fn new(
        tls: Option<Arc<Tls>>,
        (cert, key): (PathBuf, PathBuf),
        config: PathBuf,
        traces: Arc<Switch>,
        notifier: Option<Arc<Notifier>>,
    ) -> Reloader {
        Reloader { tls, cert, key, config, traces, notifier, running: Mutex::new(()) }
    }

    /// Reloads what can be reloaded; `why` names the trigger in the log. Blocking (file reads).
    pub fn reload(&self, why: &str) -> Outcome {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = &self.notifier {
            n.send("RELOADING=1");
        }
        let mut lines = Vec::new();
        let mut failed = false;
        match &self.tls {
            Some(t) => match t.reload(&self.cert, &self.key) {
                Ok(()) => lines.push(format!("TLS certificate reloaded from {}", self.cert.display())),
                Err(e) => {
                    failed = true;
                    lines.push(format!("keeping the old TLS certificate: {e}"));
                }
            },
            None => lines.push("no TLS to reload".to_string()),
        }
        match Config::load(&self.config) {
            Ok(c) => {
                let (on, off) = self.traces.configure(&c.log.trace);
                if on.is_empty() && off.is_empty() {
                    lines.push("protocol trace settings unchanged".to_string());
                } else {
                    lines.push(format!(
                        "protocol trace on for [{}], off for [{}]",
                        on.join(", "),
                        off.join(", ")
                    ));
                }
            }
            Err(e) => {
                failed = true;
                lines.push(format!("keeping the protocol trace settings: {e}"));
            }
        }
        for l in &lines {
            if failed {
                log::error!("{why}: {l}");
            } else {
                log::info!("{why}: {l}");
            }
        }
        if let Some(n) = &self.notifier {
            let status =
                if failed { format!("reload failed: {}", lines.join("; ")) } else { "reloaded".into() };
            n.ready(&status);
        }
        Outcome { lines, failed }
    }
}
