//! `applianced user add|del|passwd|list`.

use std::path::PathBuf;

use argh::FromArgs;

use super::{execute, fail, report};
use crate::admin::{Request, check_address, exit};
use crate::auth;
use crate::config::{Config, Paths};

/// Manage accounts.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "user")]
pub struct UserCmd {
    #[argh(subcommand)]
    cmd: UserSub,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum UserSub {
    Add(Add),
    Del(Del),
    Passwd(Passwd),
    List(List),
}

/// Add an account with INBOX, Drafts, Sent, Trash, Junk and Archive.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "add")]
struct Add {
    /// full address, such as alice@example.com
    #[argh(positional)]
    address: String,
    /// file holding the password (default: generate one and print it)
    #[argh(option)]
    password_file: Option<PathBuf>,
}

/// Delete an account and all its mail.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "del")]
struct Del {
    /// the account's address
    #[argh(positional)]
    address: String,
}

/// Set an account's password.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "passwd")]
struct Passwd {
    /// the account's address
    #[argh(positional)]
    address: String,
    /// file holding the new password (default: generate one and print it)
    #[argh(option)]
    password_file: Option<PathBuf>,
}

/// List accounts with their message count and size.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {}

/// The password from a file, or a generated one (and whether it was generated).
fn password(file: Option<&PathBuf>) -> Result<(String, bool), String> {
    match file {
        Some(f) => Ok((auth::read_password_file(f)?, false)),
        None => Ok((auth::generate_password()?, true)),
    }
}

pub fn run(cmd: UserCmd, config: &Config, paths: &Paths) -> u8 {
    let is_add = matches!(cmd.cmd, UserSub::Add(_));
    let (req, generated) = match cmd.cmd {
        UserSub::List(_) => (Request::UserList, None),
        UserSub::Del(d) => (Request::UserDel { address: d.address.to_ascii_lowercase() }, None),
        UserSub::Add(Add { address, password_file }) | UserSub::Passwd(Passwd { address, password_file }) => {
            if let Err(e) = check_address(&address) {
                return fail(exit::USAGE, e);
            }
            let (pw, generated) = match password(password_file.as_ref()) {
                Ok(p) => p,
                Err(e) => return fail(exit::NOINPUT, e),
            };
            let hash = match auth::hash_password(&pw) {
                Ok(h) => h,
                Err(e) => return fail(exit::SOFTWARE, e),
            };
            let address = address.to_ascii_lowercase();
            // The hash is computed here, so the server never pays for it.
            let req = if is_add {
                Request::UserAdd { address, password_hash: hash }
            } else {
                Request::UserPasswd { address, password_hash: hash }
            };
            (req, generated.then_some(pw))
        }
    };
    let resp = execute(config, paths, req);
    let code = report(&resp);
    if code == exit::OK
        && let Some(pw) = generated
    {
        println!("password: {pw}");
    }
    code
}
