//! Which account (and mailbox) a recipient address reaches: the account itself, an alias, the
//! account before a `+tag` (into the folder named by the tag when it exists and has no special
//! use, RFC 5233 style subaddressing; see `Tables::tagged_mailbox`), or the domain's catch-all. One function serves the writer and the readers.

use super::error::{Result, StoreError};

/// Where a recipient's mail goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub account: u64,
    /// The `+tag` of the address, when there was one: a folder of that name gets the message if
    /// it exists and may take `+tag` mail (special-use folders only when the config says so).
    pub folder: Option<String>,
}

/// Resolves `addr` with the given look-ups (account by address, alias target by key).
pub fn resolve(
    addr: &str,
    account: impl Fn(&str) -> Result<Option<u64>>,
    alias: impl Fn(&str) -> Result<Option<String>>,
) -> Result<Route> {
    let addr = addr.to_ascii_lowercase();
    let by_name = |a: &str| -> Result<Option<u64>> {
        if let Some(id) = account(a)? {
            return Ok(Some(id));
        }
        match alias(a)? {
            Some(target) => account(&target),
            None => Ok(None),
        }
    };
    if let Some(id) = by_name(&addr)? {
        return Ok(Route { account: id, folder: None });
    }
    let Some((local, domain)) = addr.rsplit_once('@') else { return Err(StoreError::NoSuchAccount) };
    if let Some((base, tag)) = local.split_once('+')
        && let Some(id) = by_name(&format!("{base}@{domain}"))?
    {
        return Ok(Route { account: id, folder: Some(tag.to_string()).filter(|t| !t.is_empty()) });
    }
    match alias(&format!("@{domain}"))? {
        Some(target) => {
            account(&target)?.map(|id| Route { account: id, folder: None }).ok_or(StoreError::NoSuchAccount)
        }
        None => Err(StoreError::NoSuchAccount),
    }
}
