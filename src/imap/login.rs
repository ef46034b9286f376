//! Password checks for LOGIN and AUTHENTICATE PLAIN: argon2id off the executor, throttled per
//! address and account, and a cache of recent successes so that a client opening a pool of
//! connections pays the hash once, not once per connection.
//!
//! The cache keeps, per account, SHA-256(random key || PHC hash || password) of the last
//! successful login for a few minutes. A guess that does not match the cache still pays the full
//! argon2id evaluation and the throttle, so an attacker's cost per guess is unchanged; a matching
//! guess would have succeeded anyway.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest::{SHA256, digest};

use crate::server::limits::Throttle;
use crate::store::Store;

/// How long a successful login is remembered.
const CACHE_FOR: Duration = Duration::from_secs(10 * 60);
/// Accounts remembered at most.
const CACHE_MAX: usize = 10_000;

/// A logged-in account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: u64,
    pub name: String,
}

pub struct Logins {
    store: Arc<Store>,
    throttle: Throttle,
    /// Random per process, so cached digests are useless outside it.
    key: [u8; 32],
    cache: Mutex<HashMap<u64, ([u8; 32], Instant)>>,
}

impl Logins {
    pub fn new(store: Arc<Store>, free_failures: u32) -> Self {
        let mut key = [0u8; 32];
        // Without OS randomness the cache still works; it is only less opaque in a core dump.
        let _ = getrandom::fill(&mut key);
        Logins { store, throttle: Throttle::new(free_failures), key, cache: Mutex::new(HashMap::new()) }
    }

    fn fingerprint(&self, phc: &str, password: &str) -> [u8; 32] {
        let mut input = Vec::with_capacity(32 + phc.len() + password.len() + 1);
        input.extend_from_slice(&self.key);
        input.extend_from_slice(phc.as_bytes());
        input.push(0);
        input.extend_from_slice(password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, &input).as_ref());
        out
    }

    /// Checks a user name and password. `None` for a wrong password or unknown user (the two are
    /// indistinguishable to the client, and cost the same).
    pub async fn check(&self, ip: IpAddr, user: &str, password: &str) -> Option<Account> {
        let delay = self.throttle.delay(ip, user);
        if !delay.is_zero() {
            log::info!("{ip}: login for {user} delayed {}s after failures", delay.as_secs());
            async_io::Timer::after(delay).await;
        }
        let found = {
            let store = self.store.clone();
            let user = user.to_string();
            smol::unblock(move || {
                let r = store.read().ok()?;
                let id = r.account_id(&user).ok()?;
                Some((id, r.account(id).ok()?))
            })
            .await
        };
        let ok = match &found {
            Some((id, acct)) => {
                let fp = self.fingerprint(&acct.password_hash, password);
                let cached = {
                    let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                    cache.get(id).is_some_and(|(f, at)| *f == fp && at.elapsed() < CACHE_FOR)
                };
                if cached {
                    true
                } else {
                    let (phc, pw) = (acct.password_hash.clone(), password.to_string());
                    let ok = smol::unblock(move || crate::auth::verify_password(&pw, &phc)).await;
                    if ok {
                        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                        if cache.len() >= CACHE_MAX {
                            cache.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
                        }
                        cache.insert(*id, (fp, Instant::now()));
                    }
                    ok
                }
            }
            None => {
                // Pay the same as for a real account, so timing does not reveal which exist.
                let pw = password.to_string();
                smol::unblock(move || crate::auth::verify_password(&pw, DUMMY_HASH)).await;
                false
            }
        };
        if ok {
            self.throttle.succeeded(ip, user);
            found.map(|(id, acct)| Account { id, name: acct.name })
        } else {
            self.throttle.failed(ip, user);
            log::warn!("{ip}: failed login for {user:?}");
            None
        }
    }
}

/// An argon2id hash of a random password, verified against when the user does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0XhQ+7m6MKJ4b5VfQKoXyBSgFZk1n6kCq6pJwEJbKxg";

#[cfg(test)]
mod tests {
    use argon2::password_hash::phc::PasswordHash;

    #[test]
    fn dummy_hash_is_a_real_argon2id_hash() {
        let parsed = PasswordHash::new(super::DUMMY_HASH).expect("parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(!crate::auth::verify_password("anything", super::DUMMY_HASH));
    }
}
