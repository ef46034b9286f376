//! `applianced deliver ADDRESS...`: a local delivery agent an MTA can call.
//!
//! Reads one message on stdin and stores it in each recipient's INBOX, or the folder a `+tag`
//! names (see [`DeliverCmd`]); exits 0 only once it is durable. Exit codes follow sysexits: 67 (EX_NOUSER) for an unknown address, 65 (EX_DATAERR)
//! for input that is not mail at all, 75 (EX_TEMPFAIL) when storage fails, so the MTA retries.

use argh::FromArgs;

use super::{execute, fail, report};
use crate::admin::{MAX_PAYLOAD, Request, exit};
use crate::config::{Config, Paths};
use crate::server::control::read_capped;

/// Deliver one RFC 5322 message from stdin to each address: to its INBOX, or for
/// `alice+lists@example.com` to alice's folder `lists` (any case) when it exists. A folder with a
/// special use (`alice+Archive@`, +Sent, +Trash, ...) takes `+tag` mail only when
/// `[lmtp] subaddress_special_use` in applianced.toml lists that use; otherwise INBOX.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "deliver")]
pub struct DeliverCmd {
    /// recipient addresses (user@domain, user+folder@domain, or an alias)
    #[argh(positional)]
    recipients: Vec<String>,
}

pub fn run(cmd: DeliverCmd, config: &Config, paths: &Paths) -> u8 {
    if cmd.recipients.is_empty() {
        return fail(exit::USAGE, "deliver: give at least one recipient address");
    }
    let cap = MAX_PAYLOAD.min(usize::try_from(config.limits.max_literal_size).unwrap_or(MAX_PAYLOAD));
    let message = match read_capped(std::io::stdin().lock(), cap) {
        Ok(m) => m,
        Err(e) => return fail(exit::DATAERR, format!("deliver: {e}")),
    };
    let recipients = cmd.recipients.iter().map(|r| r.to_ascii_lowercase()).collect();
    report(&execute(config, paths, Request::Deliver { recipients, message }))
}
