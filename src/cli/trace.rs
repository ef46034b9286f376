//! `applianced trace [ACCOUNT on|off]`: the protocol trace of an account in the running server
//! (`imap::trace`), switched at once, also for sessions already logged in. Not written to the
//! config: after a restart `[log] trace` alone decides.

use argh::FromArgs;

use super::{fail, report};
use crate::admin::{Request, check_address, exit};
use crate::config::{Config, Paths};
use crate::server::control;

/// Switch the protocol trace of an account on or off in the running server; alone, list the
/// traced accounts. Lines go to the server's log, passwords and message text redacted.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "trace")]
pub struct TraceCmd {
    /// the account (user@domain), then on or off
    #[argh(positional, arg_name = "ACCOUNT on|off")]
    args: Vec<String>,
}

pub fn run(cmd: TraceCmd, _config: &Config, paths: &Paths) -> u8 {
    let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
    let req = match args.as_slice() {
        [] => Request::TraceList,
        [address, state @ ("on" | "off")] => {
            if let Err(e) = check_address(address) {
                return fail(exit::USAGE, e);
            }
            Request::TraceSet { address: address.to_string(), on: *state == "on" }
        }
        _ => return fail(exit::USAGE, "usage: applianced trace [ACCOUNT on|off]"),
    };
    // Only a running server has sessions to trace: no fallback to the database.
    match control::send(&paths.control_socket(), &req) {
        Ok(Some(resp)) => report(&resp),
        Ok(None) => fail(
            exit::UNAVAILABLE,
            format!(
                "no server is running on {}; to trace from the start, list the account in [log] trace of {}",
                paths.data_dir.display(),
                paths.config.display()
            ),
        ),
        Err(e) => fail(exit::TEMPFAIL, format!("control socket: {e}")),
    }
}
