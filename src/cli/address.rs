//! `applianced alias add|del|list` and `applianced domain add|del|list`.

use argh::FromArgs;

use super::{execute, report};
use crate::admin::Request;
use crate::config::{Config, Paths};

/// Manage aliases and catch-alls (`@domain`).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "alias")]
pub struct AliasCmd {
    #[argh(subcommand)]
    cmd: AliasSub,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum AliasSub {
    Add(AliasAdd),
    Del(AliasDel),
    List(AliasList),
}

/// Deliver mail for ALIAS (user@domain, or @domain for a catch-all) to the account TARGET.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "add")]
struct AliasAdd {
    /// the alias: user@domain, or @domain for the domain's catch-all
    #[argh(positional)]
    alias: String,
    /// the account that receives its mail
    #[argh(positional)]
    target: String,
}

/// Remove an alias or catch-all.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "del")]
struct AliasDel {
    /// the alias
    #[argh(positional)]
    alias: String,
}

/// List aliases and catch-alls.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct AliasList {}

/// Manage the domains this server holds mail for.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "domain")]
pub struct DomainCmd {
    #[argh(subcommand)]
    cmd: DomainSub,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum DomainSub {
    Add(DomainAdd),
    Del(DomainDel),
    List(DomainList),
}

/// Add a domain.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "add")]
struct DomainAdd {
    /// the domain
    #[argh(positional)]
    domain: String,
}

/// Remove a domain.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "del")]
struct DomainDel {
    /// the domain
    #[argh(positional)]
    domain: String,
}

/// List domains.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct DomainList {}

pub fn alias(cmd: AliasCmd, config: &Config, paths: &Paths) -> u8 {
    let req = match cmd.cmd {
        AliasSub::Add(a) => {
            Request::AliasAdd { alias: a.alias.to_ascii_lowercase(), target: a.target.to_ascii_lowercase() }
        }
        AliasSub::Del(d) => Request::AliasDel { alias: d.alias.to_ascii_lowercase() },
        AliasSub::List(_) => Request::AliasList,
    };
    report(&execute(config, paths, req))
}

pub fn domain(cmd: DomainCmd, config: &Config, paths: &Paths) -> u8 {
    let req = match cmd.cmd {
        DomainSub::Add(d) => Request::DomainAdd { domain: d.domain.to_ascii_lowercase() },
        DomainSub::Del(d) => Request::DomainDel { domain: d.domain.to_ascii_lowercase() },
        DomainSub::List(_) => Request::DomainList,
    };
    report(&execute(config, paths, req))
}
