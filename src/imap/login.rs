//! Password checks for LOGIN and AUTHENTICATE PLAIN: throttled by address (`Throttle`), hashed
//! on a bounded pool of threads (`auth::pool`), with a cache of recent successes so that a client
//! opening a pool of connections pays the hash once, not once per connection.
//!
//! The cache keeps, per account, SHA-256(random key || PHC hash || password) of the last
//! successful login for a few minutes. A guess that does not match the cache still pays the full
//! argon2id evaluation and the throttle, so an attacker's cost per guess is unchanged; a matching
//! guess would have succeeded anyway.
//!
//! What a client can be told: the credentials are invalid (a wrong password and an unknown
//! account are indistinguishable and cost the same), or the check could not be made now
//! ([`LoginError`]'s other variants, `NO [UNAVAILABLE]`): the store failed, the hash pool is
//! busy, or the address has made too many attempts. Only a wrong password counts against the
//! address; the others are not guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest::{SHA256, digest};

use crate::auth::pool::{Busy, HashPool};
use crate::auth::throttle::Throttle;
use crate::config::Limits;
use crate::proto::code::Code;
use crate::store::{AccountRecord, Lane, Reads, StoreError};

/// How long a successful login is remembered.
const CACHE_FOR: Duration = Duration::from_secs(10 * 60);
/// Accounts remembered at most.
const CACHE_MAX: usize = 10_000;
/// Idle time after which a hash thread gives back its 19 MiB. Allocating them again costs a few
/// milliseconds, a small part of the check that follows; keeping them costs a 512 MB box 19 MiB
/// per core all day.
const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// A logged-in account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: u64,
    pub name: String,
}

/// Why a login did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong password or unknown account (`NO [AUTHENTICATIONFAILED]`).
    Invalid,
    /// The store could not be read; the cause is in the log.
    Storage,
    /// Every hash thread is busy and the line was full or too slow.
    Busy,
    /// The address made too many attempts; it may try again later.
    TooManyAttempts,
}

impl LoginError {
    /// The response code (RFC 5530 §3) a tagged `NO` carries.
    pub fn code(self) -> Code {
        match self {
            LoginError::Invalid => Code::AuthenticationFailed,
            LoginError::Storage | LoginError::Busy | LoginError::TooManyAttempts => Code::Unavailable,
        }
    }

    /// The human-readable text after the code.
    pub fn text(self) -> &'static str {
        match self {
            LoginError::Invalid => "invalid credentials",
            LoginError::Storage => "storage temporarily unavailable, try again later",
            LoginError::Busy => "too many logins at once, try again later",
            LoginError::TooManyAttempts => "too many login attempts from your address, try again later",
        }
    }
}

pub struct Logins {
    reads: Arc<Reads>,
    throttle: Throttle,
    /// Where every argon2 evaluation runs: bounded threads, a bounded line.
    pool: HashPool,
    /// Random per process, so cached digests are useless outside it.
    key: [u8; 32],
    cache: Mutex<HashMap<u64, ([u8; 32], Instant)>>,
}

impl Logins {
    pub fn new(reads: Arc<Reads>, limits: &Limits) -> Self {
        let mut key = [0u8; 32];
        // Without OS randomness the cache still works; it is only less opaque in a core dump.
        let _ = getrandom::fill(&mut key);
        let pool = crate::auth::pool::hash_pool(
            limits.hash_threads(),
            limits.login_hash_queue,
            Duration::from_secs(limits.login_hash_wait_secs),
            RELEASE_AFTER,
        );
        Logins {
            reads,
            throttle: Throttle::new(limits.login_failures_before_delay),
            pool,
            key,
            cache: Mutex::new(HashMap::new()),
        }
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

    /// The account named `user`: `None` if there is none, an error if the store cannot say.
    async fn lookup(&self, user: &str) -> Result<Option<(u64, AccountRecord)>, StoreError> {
        let user = user.to_string();
        self.reads
            .read(Lane::Cheap, move |r| {
                let id = match r.account_id(&user) {
                    Ok(id) => id,
                    Err(StoreError::NoSuchAccount) => return Ok(None),
                    Err(e) => return Err(e),
                };
                // The name led to an id: a missing record behind it is damage, not an unknown user.
                Ok(Some((id, r.account(id)?)))
            })
            .await
    }

    /// True when `password` is the one this process last verified for the account, within
    /// [`CACHE_FOR`]; a hit extends the entry (a client that keeps reconnecting keeps it).
    fn cache_hit(&self, id: u64, phc: &str, password: &str) -> bool {
        let fp = self.fingerprint(phc, password);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get_mut(&id) {
            Some((f, at)) if *f == fp && at.elapsed() < CACHE_FOR => {
                *at = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// The login throttle, which XJOIN consults as LOGIN does (docs/mapi-extension.md §4.2).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Checks a user name and password.
    pub async fn check(&self, ip: IpAddr, user: &str, password: &str) -> Result<Account, LoginError> {
        let storage = |e: StoreError| {
            log::error!("{ip}: login for {user:?}: cannot read the account: {e}");
            LoginError::Storage
        };
        // A password verified for the account a moment ago is no guess: it goes through at once,
        // uncounted by the throttle and without a hash, so that a client opening its pool of
        // connections (or an office behind one NAT address reconnecting) is never slowed down.
        let found = self.lookup(user).await.map_err(storage)?;
        if let Some((id, acct)) = &found
            && self.cache_hit(*id, &acct.password_hash, password)
        {
            return Ok(Account { id: *id, name: acct.name.clone() });
        }
        let ticket = match self.throttle.begin(ip, user) {
            Ok(t) => t,
            Err(refused) => {
                log::info!("{ip}: login for {user:?} refused, too many attempts from the address");
                // Held for the address's step, so that a client looping on refusals gets one
                // answer per step.
                async_io::Timer::after(refused.hold).await;
                return Err(LoginError::TooManyAttempts);
            }
        };
        let delay = ticket.delay();
        let found = if delay.is_zero() {
            found
        } else {
            log::info!("{ip}: login for {user:?} delayed {}s after failures", delay.as_secs());
            async_io::Timer::after(delay).await;
            // Read again after the wait: the password may have changed meanwhile.
            match self.lookup(user).await {
                Ok(found) => found,
                Err(e) => {
                    ticket.unavailable();
                    return Err(storage(e));
                }
            }
        };
        let phc = match &found {
            Some((id, acct)) => {
                // Another connection of the same client may have logged in while this one waited.
                if self.cache_hit(*id, &acct.password_hash, password) {
                    ticket.succeeded();
                    return Ok(Account { id: *id, name: acct.name.clone() });
                }
                acct.password_hash.clone()
            }
            // Pay the same as for a real account, so timing does not reveal which exist.
            None => DUMMY_HASH.to_string(),
        };
        let verdict = self.pool.verify(ticket.earlier(), password.to_string(), phc).await;
        match (verdict, found) {
            (Ok(true), Some((id, acct))) => {
                let fp = self.fingerprint(&acct.password_hash, password);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= CACHE_MAX {
                    cache.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
                }
                cache.insert(id, (fp, Instant::now()));
                ticket.succeeded();
                Ok(Account { id, name: acct.name })
            }
            (Ok(_), _) => {
                ticket.failed();
                log::warn!("{ip}: failed login for {user:?}");
                Err(LoginError::Invalid)
            }
            (Err(busy), _) => {
                ticket.unavailable();
                let why = match busy {
                    Busy::Full => "the line for password checks is full",
                    Busy::Waited => "waited too long for a password check",
                    Busy::Closed => "shutting down",
                };
                log::warn!("{ip}: login for {user:?} not checked: {why}");
                Err(LoginError::Busy)
            }
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
