//! The MAPI session registry (docs/mapi-extension.md §4, Appendix A "Token"): every live
//! session of the server, in memory, by its selector. Sessions end with the process (§4.3).
//!
//! A token is 6 random octets of selector (the public session id) and 32 of verifier, from the
//! operating system's generator, in base64url without padding (51 characters). The registry
//! keeps the selector and SHA-256 of the verifier, and compares hashes in constant time (§16).
//!
//! Memory is bounded: a session lives while it has a connection (each counted by the server's
//! connection limits) and for `mapi.token_grace_secs` after, and an account has at most
//! `mapi.sessions_per_account` sessions, those in their grace period included; a session has at
//! most `mapi.pool_max` connections. Expired sessions are dropped when looked up and by a sweep
//! at most once a minute, run by whoever creates or joins a session: no timer per session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest::{SHA256, digest};

use super::link::{Closing, Link, LinkView};
use super::state::{base64url, from_base64url};
use crate::config::Mapi;
use crate::proto::code::Code;

/// Octets of a token's selector and verifier (Appendix A).
const SELECTOR_LEN: usize = 6;
const VERIFIER_LEN: usize = 32;
/// Their base64url lengths: 8 and 43 characters.
const SELECTOR_CHARS: usize = 8;
const VERIFIER_CHARS: usize = 43;
/// How often at most the whole registry is swept for expired sessions.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The role of a connection in its session (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Pool,
    Backchannel,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Pool => "POOL",
            Role::Backchannel => "BACKCHANNEL",
        }
    }
}

/// RFC 2971 ID parameters of the connection that created the session.
pub type ClientId = Vec<(String, Option<String>)>;

/// The limits a session is created and joined under (`[mapi]`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub pool_max: usize,
    pub sessions_per_account: usize,
    pub grace: Duration,
}

impl Limits {
    pub fn from_config(m: &Mapi) -> Self {
        Limits {
            pool_max: m.pool_max,
            sessions_per_account: m.sessions_per_account,
            grace: Duration::from_secs(m.token_grace_secs),
        }
    }
}

struct Conn {
    id: u32,
    role: Role,
    link: Arc<Link>,
    /// A backchannel's granted heartbeat interval: the session's pool connections may be
    /// silent for two of them (§6).
    heartbeat: Option<Duration>,
}

struct Entry {
    account_id: u64,
    account_name: String,
    verifier_hash: [u8; 32],
    client: Option<ClientId>,
    created: Instant,
    conns: Vec<Conn>,
    next_conn: u32,
    /// Set when the last connection left: the session ends then.
    grace_until: Option<Instant>,
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        self.grace_until.is_some_and(|t| t <= now)
    }
}

#[derive(Default)]
struct Inner {
    /// By selector (the session id, 8 base64url characters).
    sessions: HashMap<String, Entry>,
    /// Each account's selectors, oldest first.
    accounts: HashMap<u64, Vec<String>>,
    last_sweep: Option<Instant>,
}

impl Inner {
    fn remove(&mut self, selector: &str) -> Option<Entry> {
        let e = self.sessions.remove(selector)?;
        if let Some(list) = self.accounts.get_mut(&e.account_id) {
            list.retain(|s| s != selector);
            if list.is_empty() {
                self.accounts.remove(&e.account_id);
            }
        }
        Some(e)
    }

    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|t| now.duration_since(t) < SWEEP_EVERY) {
            return;
        }
        self.last_sweep = Some(now);
        let dead: Vec<String> =
            self.sessions.iter().filter(|(_, e)| e.expired(now)).map(|(s, _)| s.clone()).collect();
        for s in dead {
            self.remove(&s);
        }
    }
}

/// Every live session of the server.
pub struct Registry {
    limits: Limits,
    inner: Mutex<Inner>,
}

/// Why XSESSION could not create a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The account has `sessions_per_account` sessions with connections (`NO [LIMIT]`).
    TooManySessions,
    /// The operating system gave no random bytes (`NO [SERVERBUG]`).
    NoRandomness,
}

/// Why XJOIN was refused, once the state, the connection and the throttle allowed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// Unknown, expired, revoked or foreign token, or a user name that is not the token's
    /// account: all alike (`NO [AUTHENTICATIONFAILED]`, counted by the throttle).
    Invalid,
    /// The session has `pool_max` connections after REPLACE (`NO [LIMIT]`).
    PoolFull,
}

/// What the `XSESSION` response of a create or a join says (§4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The session id (the token's selector).
    pub id: String,
    pub account_id: u64,
    pub account_name: String,
    pub conn: u32,
    pub pool_used: usize,
}

/// A connection's place in a session: it leaves the session when dropped (the connection
/// closed), which starts the grace period if it was the last.
pub struct Member {
    registry: Arc<Registry>,
    selector: String,
    conn: u32,
    link: Arc<Link>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Member({} #{})", self.selector, self.conn)
    }
}

impl Member {
    /// The public session id.
    pub fn session_id(&self) -> &str {
        &self.selector
    }

    pub fn conn(&self) -> u32 {
        self.conn
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.registry.leave(&self.selector, self.conn, &self.link);
    }
}

/// A session as `XSESSION STATUS` and `applianced sessions` show it (no token, ever).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub account_id: u64,
    pub account: String,
    pub client: Option<ClientId>,
    pub age_secs: u64,
    /// Seconds left of the grace period, when the session has no connection.
    pub grace_left_secs: Option<u64>,
    pub conns: Vec<ConnView>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnView {
    pub id: u32,
    pub role: Role,
    pub link: LinkView,
    /// The connection's `Link` is the asker's (`SELF 1`).
    pub is_self: bool,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Compares two hashes in time independent of where they differ (§16). `ring`'s own
/// `constant_time` module is deprecated; on fixed-length digests a fold of XORs is the whole of
/// it, and `black_box` keeps the optimiser from ending the loop early.
fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Splits a token into its selector (as text, the map's key) and the SHA-256 of its verifier;
/// `None` when it cannot be one of ours.
fn split_token(token: &str) -> Option<(&str, [u8; 32])> {
    if token.len() != SELECTOR_CHARS + VERIFIER_CHARS || !token.is_ascii() {
        return None;
    }
    let (selector, verifier) = token.split_at(SELECTOR_CHARS);
    let verifier = from_base64url(verifier)?;
    if verifier.len() != VERIFIER_LEN || from_base64url(selector)?.len() != SELECTOR_LEN {
        return None;
    }
    Some((selector, sha256(&verifier)))
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Registry { limits, inner: Mutex::new(Inner::default()) }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// XSESSION (§4.1): a new session of the account with `link` as its connection 1. Returns
    /// the member, what the response says, and the token (sent once, kept nowhere).
    pub fn create(
        self: &Arc<Self>,
        account_id: u64,
        account_name: &str,
        client: Option<ClientId>,
        link: &Arc<Link>,
    ) -> Result<(Member, Admitted, String), CreateError> {
        let mut secret = [0u8; SELECTOR_LEN + VERIFIER_LEN];
        getrandom::fill(&mut secret).map_err(|_| CreateError::NoRandomness)?;
        let (selector, verifier) = secret.split_at(SELECTOR_LEN);
        let selector = base64url(selector);
        let token = format!("{selector}{}", base64url(verifier));
        let now = Instant::now();
        let mut inner = self.lock();
        inner.sweep(now);
        let mine = inner.accounts.get(&account_id).cloned().unwrap_or_default();
        let mut live = 0;
        let mut oldest_in_grace: Option<(Instant, String)> = None;
        for s in mine {
            let Some(e) = inner.sessions.get(&s) else { continue };
            if e.expired(now) {
                inner.remove(&s);
            } else if let Some(until) = e.grace_until {
                // The oldest in its grace period: the one left without connections longest.
                if oldest_in_grace.as_ref().is_none_or(|(t, _)| until < *t) {
                    oldest_in_grace = Some((until, s));
                }
                live += 1;
            } else {
                live += 1;
            }
        }
        if live >= self.limits.sessions_per_account {
            match oldest_in_grace {
                Some((_, s)) => {
                    inner.remove(&s);
                }
                None => return Err(CreateError::TooManySessions),
            }
        }
        if inner.sessions.contains_key(&selector) {
            // 2^-48 per live session: treat as the generator failing rather than share one.
            return Err(CreateError::NoRandomness);
        }
        inner.sessions.insert(
            selector.clone(),
            Entry {
                account_id,
                account_name: account_name.to_string(),
                verifier_hash: sha256(verifier),
                client,
                created: now,
                conns: vec![Conn { id: 1, role: Role::Pool, link: link.clone(), heartbeat: None }],
                next_conn: 2,
                grace_until: None,
            },
        );
        inner.accounts.entry(account_id).or_default().push(selector.clone());
        let admitted = Admitted {
            id: selector.clone(),
            account_id,
            account_name: account_name.to_string(),
            conn: 1,
            pool_used: 1,
        };
        let member = Member { registry: self.clone(), selector, conn: 1, link: link.clone() };
        Ok((member, admitted, token))
    }

    /// XJOIN (§4.2) once the state, the connection's security and the throttle allowed it:
    /// checks the token and the user name, closes connection `replace` of the session if it is
    /// open, and admits `link` as a pool connection.
    pub fn join(
        self: &Arc<Self>,
        user: &str,
        token: &str,
        replace: Option<u32>,
        link: &Arc<Link>,
    ) -> Result<(Member, Admitted), JoinError> {
        let now = Instant::now();
        let (selector, hash) = split_token(token).ok_or(JoinError::Invalid)?;
        let mut inner = self.lock();
        inner.sweep(now);
        let Some(e) = inner.sessions.get(selector) else { return Err(JoinError::Invalid) };
        if e.expired(now) {
            inner.remove(selector);
            return Err(JoinError::Invalid);
        }
        // The hash first, always: the user name's check costs nothing an attacker could time.
        let right = same_hash(&e.verifier_hash, &hash);
        // `user` as LOGIN takes it: account names are ASCII-case-insensitive (`Reader::account_id`).
        if !right || !e.account_name.eq_ignore_ascii_case(user) {
            return Err(JoinError::Invalid);
        }
        let Some(e) = inner.sessions.get_mut(selector) else { return Err(JoinError::Invalid) };
        if let Some(n) = replace
            && let Some(i) = e.conns.iter().position(|c| c.id == n)
        {
            let gone = e.conns.remove(i);
            gone.link.close(Closing {
                code: Code::XReplaced,
                text: "replaced by a new connection of the session".into(),
            });
        }
        if e.conns.len() >= self.limits.pool_max {
            return Err(JoinError::PoolFull);
        }
        let conn = e.next_conn;
        e.next_conn = e.next_conn.saturating_add(1);
        e.conns.push(Conn { id: conn, role: Role::Pool, link: link.clone(), heartbeat: None });
        e.grace_until = None;
        let admitted = Admitted {
            id: selector.to_string(),
            account_id: e.account_id,
            account_name: e.account_name.clone(),
            conn,
            pool_used: e.conns.len(),
        };
        let member =
            Member { registry: self.clone(), selector: selector.to_string(), conn, link: link.clone() };
        Ok((member, admitted))
    }

    /// XBACKCHANNEL (§5.1): `member`'s connection becomes its session's backchannel; a former
    /// one leaves the session and is closed with `BYE [XREPLACED]`. False when the session has
    /// ended meanwhile.
    pub fn become_backchannel(&self, member: &Member, heartbeat: Duration) -> bool {
        let mut inner = self.lock();
        let Some(e) = inner.sessions.get_mut(&member.selector) else { return false };
        if !e.conns.iter().any(|c| c.id == member.conn) {
            return false;
        }
        e.conns.retain(|c| {
            let old = c.role == Role::Backchannel && c.id != member.conn;
            if old {
                c.link.close(Closing {
                    code: Code::XReplaced,
                    text: "another connection of the session is the backchannel now".into(),
                });
            }
            !old
        });
        for c in e.conns.iter_mut().filter(|c| c.id == member.conn) {
            c.role = Role::Backchannel;
            c.heartbeat = Some(heartbeat);
        }
        true
    }

    /// How long `member`'s connection, a pool connection, may be silent between commands: two
    /// heartbeat intervals of its session's backchannel (§6); `None` when the session has no
    /// backchannel or `member` is it.
    pub fn pool_silence(&self, member: &Member) -> Option<Duration> {
        let inner = self.lock();
        let e = inner.sessions.get(&member.selector)?;
        let bc = e.conns.iter().find(|c| c.role == Role::Backchannel)?;
        (bc.id != member.conn).then(|| bc.heartbeat.map(|h| h.saturating_mul(2))).flatten()
    }

    /// A connection closed (its [`Member`] dropped): the grace period starts with the last.
    fn leave(&self, selector: &str, conn: u32, link: &Arc<Link>) {
        let mut inner = self.lock();
        let Some(e) = inner.sessions.get_mut(selector) else { return };
        let before = e.conns.len();
        e.conns.retain(|c| !(c.id == conn && Arc::ptr_eq(&c.link, link)));
        if e.conns.is_empty() && before > 0 {
            e.grace_until = Some(Instant::now() + self.limits.grace);
        }
    }

    /// The RFC 2971 ID of the creating connection, sent before or after XSESSION (§4.1).
    pub fn set_client(&self, member: &Member, client: ClientId) {
        let mut inner = self.lock();
        if let Some(e) = inner.sessions.get_mut(&member.selector)
            && member.conn == 1
        {
            e.client = Some(client);
        }
    }

    /// XSESSION END (§4.5): ends `member`'s session, closing its other connections with
    /// `BYE [XREVOKED]`. `member` is consumed: the connection is outside every session after.
    pub fn end(&self, member: Member) {
        let gone = self.lock().remove(&member.selector);
        for c in gone.into_iter().flat_map(|e| e.conns) {
            if !Arc::ptr_eq(&c.link, &member.link) {
                c.link.close(Closing { code: Code::XRevoked, text: "session ended by the client".into() });
            }
        }
    }

    /// Revokes every session of an account (§4.3: its password changed, or it was deleted),
    /// closing their connections with `BYE [XREVOKED] text`. Returns the sessions ended.
    pub fn revoke_account(&self, account_id: u64, text: &str) -> usize {
        let mut inner = self.lock();
        let selectors = inner.accounts.get(&account_id).cloned().unwrap_or_default();
        let mut ended = 0;
        for s in selectors {
            if let Some(e) = inner.remove(&s) {
                ended += 1;
                for c in e.conns {
                    c.link.close(Closing { code: Code::XRevoked, text: text.to_string() });
                }
            }
        }
        ended
    }

    fn view(selector: &str, e: &Entry, now: Instant, asker: Option<&Arc<Link>>) -> SessionView {
        SessionView {
            id: selector.to_string(),
            account_id: e.account_id,
            account: e.account_name.clone(),
            client: e.client.clone(),
            age_secs: now.duration_since(e.created).as_secs(),
            grace_left_secs: e.grace_until.map(|t| t.saturating_duration_since(now).as_secs()),
            conns: e
                .conns
                .iter()
                .map(|c| ConnView {
                    id: c.id,
                    role: c.role,
                    link: c.link.view(),
                    is_self: asker.is_some_and(|a| Arc::ptr_eq(a, &c.link)),
                })
                .collect(),
        }
    }

    /// XSESSION STATUS (§4.4): `member`'s session now.
    pub fn status(&self, member: &Member) -> Option<SessionView> {
        let inner = self.lock();
        let e = inner.sessions.get(&member.selector)?;
        Some(Self::view(&member.selector, e, Instant::now(), Some(&member.link)))
    }

    /// Every live session, oldest first (`applianced sessions`); expired ones are dropped.
    pub fn list(&self) -> Vec<SessionView> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.last_sweep = None;
        inner.sweep(now);
        let mut all: Vec<(Instant, SessionView)> =
            inner.sessions.iter().map(|(s, e)| (e.created, Self::view(s, e, now, None))).collect();
        all.sort_by_key(|(t, _)| *t);
        all.into_iter().map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(pool_max: usize, per_account: usize, grace: Duration) -> Arc<Registry> {
        Arc::new(Registry::new(Limits { pool_max, sessions_per_account: per_account, grace }))
    }

    fn link() -> Arc<Link> {
        Arc::new(Link::new("127.0.0.1:1".parse().expect("addr"), true))
    }

    #[test]
    fn tokens_have_the_appendix_a_shape_and_join_their_session_only() {
        let r = registry(8, 16, Duration::from_secs(60));
        let (m1, a, token) = r.create(7, "alice@example.com", None, &link()).expect("create");
        assert_eq!(token.len(), 51);
        assert!(token.starts_with(&a.id) && a.id.len() == 8);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let (_m2, b) = r.join("ALICE@example.com", &token, None, &link()).expect("join");
        assert_eq!((b.conn, b.pool_used, b.account_id), (2, 2, 7));
        assert_eq!(r.join("bob@example.com", &token, None, &link()).err(), Some(JoinError::Invalid));
        let mut wrong = token.clone().into_bytes();
        wrong[50] = if wrong[50] == b'A' { b'B' } else { b'A' };
        let wrong = String::from_utf8(wrong).expect("ascii");
        assert_eq!(r.join("alice@example.com", &wrong, None, &link()).err(), Some(JoinError::Invalid));
        assert_eq!(r.join("alice@example.com", "short", None, &link()).err(), Some(JoinError::Invalid));
        drop(m1);
        assert_eq!(r.status(&_m2).map(|s| s.conns.len()), Some(1));
    }

    #[test]
    fn the_pool_is_capped_and_replace_makes_room() {
        let r = registry(2, 16, Duration::from_secs(60));
        let first = link();
        let (_m1, _, token) = r.create(1, "a@b.c", None, &first).expect("create");
        let (_m2, _) = r.join("a@b.c", &token, None, &link()).expect("join");
        assert_eq!(r.join("a@b.c", &token, None, &link()).err(), Some(JoinError::PoolFull));
        // An id not in the session is no error, and makes no room.
        assert_eq!(r.join("a@b.c", &token, Some(9), &link()).err(), Some(JoinError::PoolFull));
        let (_m3, c) = r.join("a@b.c", &token, Some(1), &link()).expect("replace");
        assert_eq!((c.conn, c.pool_used), (3, 2));
        let closing = smol::block_on(first.closing());
        assert_eq!(closing.code, Code::XReplaced);
    }

    #[test]
    fn grace_then_expiry_and_the_oldest_in_grace_makes_room() {
        let r = registry(8, 2, Duration::ZERO);
        let (m1, _, t1) = r.create(1, "a@b.c", None, &link()).expect("create");
        drop(m1);
        // Grace of zero: expired as soon as its last connection left.
        assert_eq!(r.join("a@b.c", &t1, None, &link()).err(), Some(JoinError::Invalid));
        let r = registry(8, 2, Duration::from_secs(600));
        let (m1, _, t1) = r.create(1, "a@b.c", None, &link()).expect("1");
        let (_m2, _, _) = r.create(1, "a@b.c", None, &link()).expect("2");
        let (m3, _, _) = r.create(2, "x@b.c", None, &link()).expect("other account");
        assert!(matches!(r.create(1, "a@b.c", None, &link()), Err(CreateError::TooManySessions)));
        drop(m1);
        // In its grace period it still joins ...
        let (m1b, _) = r.join("a@b.c", &t1, None, &link()).expect("rejoin in grace");
        drop(m1b);
        // ... and is the one ended to make room.
        let (_m4, _, _) = r.create(1, "a@b.c", None, &link()).expect("room made");
        assert_eq!(r.join("a@b.c", &t1, None, &link()).err(), Some(JoinError::Invalid));
        assert_eq!(r.list().len(), 3);
        drop(m3);
        assert_eq!(r.list().iter().filter(|s| s.grace_left_secs.is_some()).count(), 1);
    }

    #[test]
    fn revocation_and_end_close_the_right_connections() {
        let r = registry(8, 16, Duration::from_secs(600));
        let (l1, l2) = (link(), link());
        let (m1, _, token) = r.create(1, "a@b.c", None, &l1).expect("create");
        let (m2, _) = r.join("a@b.c", &token, None, &l2).expect("join");
        r.end(m1);
        assert_eq!(smol::block_on(l2.closing()).text, "session ended by the client");
        assert!(!l1.close_requested(), "the ending connection stays");
        assert_eq!(r.join("a@b.c", &token, None, &link()).err(), Some(JoinError::Invalid));
        drop(m2);
        let l3 = link();
        let (_m3, _, token) = r.create(1, "a@b.c", None, &l3).expect("create");
        assert_eq!(r.revoke_account(2, "other"), 0);
        assert_eq!(r.revoke_account(1, "the account's password was changed"), 1);
        let c = smol::block_on(l3.closing());
        assert_eq!(c.bye(), b"* BYE [XREVOKED] the account's password was changed\r\n");
        assert_eq!(r.join("a@b.c", &token, None, &link()).err(), Some(JoinError::Invalid));
        assert!(r.list().is_empty());
    }
}
