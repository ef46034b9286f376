//! Connection limits (in all, per address, and for connections that have not logged in yet) and
//! login throttling (per address and per account).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};

/// Counts connections; a [`Permit`] is held for a connection's life.
///
/// With [`ConnectionLimits::with_unauthenticated`], connections that have not logged in yet
/// have a lower cap of their own, in all and per address, and a connection that logs in
/// ([`Permit::authenticated`]) leaves that count. When a newcomer finds the unauthenticated
/// cap, or the total, full while connections are still waiting to log in, it displaces the
/// oldest unauthenticated connection of the address that holds the most of them (that
/// connection is told through [`Permit::evicted`] and closes). So connections that never log
/// in, however many addresses they come from, cannot keep a real user from connecting and
/// logging in, and logged-in users keep the rest of the total.
pub struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    /// Caps for connections not logged in yet, in all and per address; `None` for a service
    /// without logins (every connection is counted alike, and none is ever displaced).
    unauthenticated: Option<(usize, usize)>,
    live: Mutex<Live>,
}

/// A connection waiting to log in, as [`Live`] knows it.
struct Waiting {
    id: u64,
    /// Set (under the lock) when displaced: its counts were released then.
    evicted: Arc<AtomicBool>,
    /// Wakes the connection when displaced; dropped once it logs in.
    wake: Sender<()>,
}

#[derive(Default)]
struct Live {
    /// Live connections in all; the sum of `per_ip`.
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Connections not logged in yet, per address, oldest first, with what tells one that it
    /// is displaced.
    waiting: HashMap<IpAddr, VecDeque<Waiting>>,
    /// The sum of the lengths of `waiting`.
    waiting_total: usize,
    next_id: u64,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Total,
    /// Too many connections from this address, in all or not logged in yet.
    PerAddress,
}

/// One admitted connection; dropping it frees its place.
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
    id: u64,
    /// Still counted as waiting to log in.
    waiting: bool,
    /// Displaced by a newcomer (see [`ConnectionLimits`]), and the signal of it; `None` for a
    /// connection that cannot be displaced.
    evicted: Option<(Arc<AtomicBool>, Receiver<()>)>,
}

impl ConnectionLimits {
    /// Limits without a separate count of unauthenticated connections (for LMTP).
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits { max_total, max_per_ip, unauthenticated: None, live: Mutex::default() })
    }

    /// Limits for a service with logins: at most `max_unauthenticated` connections in all, and
    /// `max_unauthenticated_per_ip` from one address, may be waiting to log in.
    pub fn with_unauthenticated(
        max_total: usize,
        max_per_ip: usize,
        max_unauthenticated: usize,
        max_unauthenticated_per_ip: usize,
    ) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            unauthenticated: Some((max_unauthenticated.max(1), max_unauthenticated_per_ip.max(1))),
            live: Mutex::default(),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some((max_waiting, max_waiting_per_ip)) = self.unauthenticated else {
            if live.total >= self.max_total {
                return Err(Refusal::Total);
            }
            if live.per_ip.get(&ip).copied().unwrap_or(0) >= self.max_per_ip {
                return Err(Refusal::PerAddress);
            }
            live.add(ip);
            return Ok(Permit { limits: self.clone(), ip, id: 0, waiting: false, evicted: None });
        };
        let from_ip = live.per_ip.get(&ip).copied().unwrap_or(0);
        let waiting_from_ip = live.waiting.get(&ip).map_or(0, VecDeque::len);
        if from_ip >= self.max_per_ip || waiting_from_ip >= max_waiting_per_ip {
            return Err(Refusal::PerAddress);
        }
        if live.waiting_total >= max_waiting || live.total >= self.max_total {
            // Full: displace a connection that is still waiting to log in, if there is one.
            if !live.evict() {
                return Err(Refusal::Total);
            }
        }
        live.add(ip);
        let id = live.next_id;
        live.next_id += 1;
        let (wake, rx) = smol::channel::bounded(1);
        let evicted = Arc::new(AtomicBool::new(false));
        live.waiting.entry(ip).or_default().push_back(Waiting { id, evicted: evicted.clone(), wake });
        live.waiting_total += 1;
        Ok(Permit { limits: self.clone(), ip, id, waiting: true, evicted: Some((evicted, rx)) })
    }

    pub fn live(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Connections waiting to log in (for the status line and tests).
    pub fn waiting(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).waiting_total
    }
}

impl Live {
    fn add(&mut self, ip: IpAddr) {
        *self.per_ip.entry(ip).or_insert(0) += 1;
        self.total += 1;
    }

    fn remove(&mut self, ip: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// Takes the waiting connection `id` of `ip` out of the waiting count; false if it is not
    /// there (it was displaced).
    fn stop_waiting(&mut self, ip: IpAddr, id: u64) -> bool {
        let Some(queue) = self.waiting.get_mut(&ip) else { return false };
        let Some(i) = queue.iter().position(|w| w.id == id) else { return false };
        queue.remove(i);
        if queue.is_empty() {
            self.waiting.remove(&ip);
        }
        self.waiting_total -= 1;
        true
    }

    /// Displaces the oldest waiting connection of the address with the most waiting ones: it
    /// stops counting at once and is told to close. False when none is waiting.
    fn evict(&mut self) -> bool {
        let Some(ip) = self.waiting.iter().max_by_key(|(_, q)| q.len()).map(|(ip, _)| *ip) else {
            return false;
        };
        let Some(queue) = self.waiting.get_mut(&ip) else { return false };
        let Some(victim) = queue.pop_front() else { return false };
        if queue.is_empty() {
            self.waiting.remove(&ip);
        }
        self.waiting_total -= 1;
        self.remove(ip);
        victim.evicted.store(true, Ordering::Release);
        let _ = victim.wake.try_send(());
        true
    }
}

impl Permit {
    /// The connection logged in: it leaves the count of those waiting to. False if it had
    /// been displaced already (it is not counted any more and must close).
    pub fn authenticated(&mut self) -> bool {
        let mut live = self.limits.live.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_evicted() {
            return false;
        }
        if self.waiting {
            self.waiting = false;
            live.stop_waiting(self.ip, self.id);
        }
        true
    }

    /// The connection was displaced by a newcomer (see [`ConnectionLimits`]).
    pub fn is_evicted(&self) -> bool {
        self.evicted.as_ref().is_some_and(|(flag, _)| flag.load(Ordering::Acquire))
    }

    /// Resolves when the connection is displaced; never for one that cannot be (any more).
    pub async fn evicted(&self) {
        match &self.evicted {
            Some((flag, _)) if flag.load(Ordering::Acquire) => {}
            // The sender goes away without a message once the connection logs in.
            Some((_, rx)) if rx.recv().await.is_ok() => {}
            _ => std::future::pending().await,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut live = self.limits.live.lock().unwrap_or_else(|e| e.into_inner());
        // A displaced connection stopped counting when it was displaced.
        if self.is_evicted() {
            return;
        }
        if self.waiting {
            live.stop_waiting(self.ip, self.id);
        }
        live.remove(self.ip);
    }
}

/// Slows down password guessing, by address, without locking the real user out.
///
/// The anchors are Dovecot's `auth_penalty` (a penalty per client address that doubles with each
/// failure) and Postfix's `anvil` (counts per client, including attempts in progress):
///
/// * An attempt counts when it starts ([`Throttle::begin`]), not when it fails: fifty parallel
///   guesses see counts 0 to 49, not fifty zeros. It stays counted unless it turns out not to be
///   a guess: a correct password ([`Ticket::succeeded`]) or a check that could not run
///   ([`Ticket::unavailable`]).
/// * The penalty belongs to the address (an IPv6 address by its /64: one host holds at least
///   that). After `free` attempts, each further one waits for its own slot: 1 s after the last
///   one's slot, then 2 s, 4 s ... up to 60 s apart, so parallel connections from the address get
///   no more guesses than one connection would. An attempt whose slot would be more than 60 s
///   away is refused without a check ([`Refused`]).
/// * The account is never penalised as such: an address that has not failed gets its password
///   checked at once, however many guesses another address made against the same account.
/// * The (address, account) count records which of the address's attempts a correct password
///   explains: when that account then logs in from the address (a user who mistyped behind a
///   shared NAT address), those attempts are forgiven, and only those.
///
/// Entries are forgotten 15 minutes after the address's or the pair's last attempt; the table is
/// bounded (the oldest half goes when it is full).
pub struct Throttle {
    free: u32,
    entries: Mutex<HashMap<ThrottleKey, ThrottleEntry>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ThrottleKey {
    Address(IpAddr),
    Pair(IpAddr, String),
}

#[derive(Clone, Copy, Debug)]
struct ThrottleEntry {
    /// Attempts counted (recent, not forgiven), those in progress included.
    count: u32,
    /// When the last attempt started.
    last: Instant,
    /// The slot of the last delayed attempt: the next one starts one step after it.
    next_slot: Option<Instant>,
}

const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const MAX_ENTRIES: usize = 100_000;
/// The longest step between two penalised attempts from an address, and the longest wait.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// An attempt that gets no check now: the address's next slot is too far away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// How long the caller should hold the refusal: the address's current step, so that a client
    /// looping on refusals gets one answer per step, not thousands.
    pub hold: Duration,
}

/// One counted attempt. Dropped without a verdict (the client went away), it stays counted.
#[must_use = "an attempt is resolved with succeeded, failed or unavailable"]
pub struct Ticket<'a> {
    throttle: &'a Throttle,
    address: ThrottleKey,
    pair: ThrottleKey,
    delay: Duration,
    earlier: u32,
}

/// The address a penalty belongs to: IPv4 (and IPv4-mapped IPv6) as is, IPv6 by its /64.
fn penalty_address(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

impl Throttle {
    pub fn new(free: u32) -> Self {
        Throttle { free, entries: Mutex::new(HashMap::new()) }
    }

    /// The step after `count` counted attempts: zero while free, then 1 s, 2 s, 4 s ... 60 s.
    fn step(&self, count: u32) -> Duration {
        if count < self.free {
            return Duration::ZERO;
        }
        Duration::from_secs(1u64 << (count - self.free).min(6)).min(MAX_DELAY)
    }

    /// Counts an attempt from `ip` for `account`, and says how long it must wait before its
    /// password is checked ([`Ticket::delay`]), or that it gets no check now.
    pub fn begin(&self, ip: IpAddr, account: &str) -> Result<Ticket<'_>, Refused> {
        let addr = penalty_address(ip);
        let address = ThrottleKey::Address(addr);
        let pair = ThrottleKey::Pair(addr, account.to_ascii_lowercase());
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            prune(&mut map, now);
        }
        let fresh = ThrottleEntry { count: 0, last: now, next_slot: None };
        let current = |map: &HashMap<ThrottleKey, ThrottleEntry>, k: &ThrottleKey| {
            map.get(k).filter(|e| now.duration_since(e.last) < FORGET_AFTER).copied().unwrap_or(fresh)
        };
        let mut a = current(&map, &address);
        let earlier = a.count;
        let step = self.step(earlier);
        let mut delay = Duration::ZERO;
        if !step.is_zero() {
            let slot = a.next_slot.filter(|s| *s > now).unwrap_or(now) + step;
            delay = slot - now;
            if delay > MAX_DELAY {
                return Err(Refused { hold: step });
            }
            a.next_slot = Some(slot);
        }
        a.count = a.count.saturating_add(1);
        a.last = now;
        let mut p = current(&map, &pair);
        p.count = p.count.saturating_add(1);
        p.last = now;
        map.insert(address.clone(), a);
        map.insert(pair.clone(), p);
        Ok(Ticket { throttle: self, address, pair, delay, earlier })
    }
}

/// Drops forgotten entries, then, if the table is still full, the older half.
fn prune(map: &mut HashMap<ThrottleKey, ThrottleEntry>, now: Instant) {
    map.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
    if map.len() >= MAX_ENTRIES / 2 {
        let mut ages: Vec<Instant> = map.values().map(|e| e.last).collect();
        let mid = ages.len() / 2;
        let (_, median, _) = ages.select_nth_unstable(mid);
        let median = *median;
        map.retain(|_, e| e.last > median);
    }
}

impl Ticket<'_> {
    /// How long to wait before checking the password.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Attempts from the address counted before this one: the lower, the sooner a check should
    /// run (the hash pool's priority).
    pub fn earlier(&self) -> u32 {
        self.earlier
    }

    /// The password was wrong (or the account unknown): the attempt stays counted.
    pub fn failed(self) {}

    /// The password was right: the attempts the address made for this account are forgiven.
    /// The address's other attempts stay: it may be guessing other accounts too.
    pub fn succeeded(self) {
        let mut map = self.throttle.entries.lock().unwrap_or_else(|e| e.into_inner());
        let explained = map.remove(&self.pair).map_or(1, |p| p.count);
        self.throttle.forgive(&mut map, &self.address, explained);
    }

    /// No password was checked (the store or the hash pool could not serve): not a guess.
    pub fn unavailable(self) {
        let mut map = self.throttle.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = map.get_mut(&self.pair) {
            p.count = p.count.saturating_sub(1);
            if p.count == 0 {
                map.remove(&self.pair);
            }
        }
        self.throttle.forgive(&mut map, &self.address, 1);
    }
}

impl Throttle {
    fn forgive(&self, map: &mut HashMap<ThrottleKey, ThrottleEntry>, address: &ThrottleKey, n: u32) {
        if let Some(a) = map.get_mut(address) {
            a.count = a.count.saturating_sub(n);
            if a.count < self.free {
                // Back within the free attempts: the next penalty starts from now, not from an
                // old slot.
                a.next_slot = None;
            }
            if a.count == 0 {
                map.remove(address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits() {
        let l = ConnectionLimits::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let p1 = l.admit(a).expect("first");
        let _p2 = l.admit(a).expect("second");
        assert_eq!(l.admit(a).err(), Some(Refusal::PerAddress));
        let _p3 = l.admit(b).expect("other address");
        assert_eq!(l.admit(b).err(), Some(Refusal::Total));
        drop(p1);
        assert!(l.admit(a).is_ok());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn unauthenticated_cap_displaces_the_oldest_waiting_connection() {
        // 6 in all, 3 waiting to log in in all, 2 per address.
        let l = ConnectionLimits::with_unauthenticated(6, 5, 3, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let c: IpAddr = "10.0.0.3".parse().expect("ip");
        let a1 = l.admit(a).expect("a1");
        let a2 = l.admit(a).expect("a2");
        assert_eq!(l.admit(a).err(), Some(Refusal::PerAddress), "2 waiting per address");
        let mut b1 = l.admit(b).expect("b1");
        assert_eq!((l.live(), l.waiting()), (3, 3));
        // Full: c displaces the oldest of the address with the most waiting, a1.
        let c1 = l.admit(c).expect("c1");
        assert!(a1.is_evicted() && !a2.is_evicted() && !b1.is_evicted());
        assert_eq!((l.live(), l.waiting()), (3, 3));
        smol::block_on(a1.evicted());
        drop(a1);
        assert_eq!(l.live(), 3, "a displaced permit was released when displaced");
        // Logging in leaves the waiting count; a logged-in connection is never displaced.
        assert!(b1.authenticated());
        assert_eq!((l.live(), l.waiting()), (3, 2));
        let a3 = l.admit(a).expect("a3");
        let _c2 = l.admit(c).expect("c2: displaces a2 (a has 2 waiting)");
        assert!(a2.is_evicted() && !a3.is_evicted() && !c1.is_evicted());
        let mut a2 = a2;
        assert!(!a2.authenticated(), "displaced before it logged in");
        drop(a2);
        assert_eq!((l.live(), l.waiting()), (4, 3));
        // Log in c1 and a3, then fill the total with logged-in connections.
        let (mut c1, mut a3) = (c1, a3);
        assert!(c1.authenticated() && a3.authenticated());
        let mut logged = vec![b1, c1, a3];
        for _ in 0..2 {
            let mut p = l.admit(b).expect("b");
            assert!(p.authenticated());
            logged.push(p);
        }
        assert_eq!((l.live(), l.waiting()), (6, 1));
        // The total is full: a newcomer displaces the one still waiting, c2.
        let mut b4 = l.admit(b).expect("b4");
        assert!(_c2.is_evicted());
        assert_eq!((l.live(), l.waiting()), (6, 1));
        assert!(b4.authenticated());
        // Only logged-in connections left: the total refuses.
        assert_eq!(l.admit(c).err(), Some(Refusal::Total));
        drop(logged);
        assert_eq!((l.live(), l.waiting()), (1, 0));
        drop((b4, _c2));
        assert_eq!(l.live(), 0);
    }

    #[test]
    fn parallel_attempts_count_when_they_start() {
        let t = Throttle::new(2);
        let a = ip("10.0.0.1");
        // Five attempts in flight at once: the first two are free, the rest take slots 1 s,
        // then 2 s, then 4 s apart, as five attempts one after the other would.
        let tickets: Vec<Ticket<'_>> = (0..5).map(|_| t.begin(a, "bob@x").expect("admitted")).collect();
        let delays: Vec<u64> = tickets.iter().map(|t| t.delay().as_millis() as u64).collect();
        let near = |got: u64, want: u64| got <= want && got + 50 >= want;
        assert_eq!(&delays[..2], &[0, 0]);
        assert!(near(delays[2], 1000) && near(delays[3], 3000) && near(delays[4], 7000), "{delays:?}");
        assert_eq!(tickets.iter().map(Ticket::earlier).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        for ticket in tickets {
            ticket.failed();
        }
        // Slots further than 60 s away are refused, and a refusal is not counted.
        let mut refused = 0;
        for _ in 0..6 {
            match t.begin(a, "bob@x") {
                Ok(ticket) => ticket.failed(),
                Err(r) => {
                    assert!(r.hold >= Duration::from_secs(1));
                    refused += 1;
                }
            }
        }
        assert!(refused >= 3, "{refused} refused");
    }

    #[test]
    fn another_address_is_not_slowed_and_the_attacker_stays_slowed() {
        let t = Throttle::new(2);
        let (attacker, user) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for _ in 0..4 {
            t.begin(attacker, "bob@x").expect("admitted").failed();
        }
        let bob = t.begin(user, "Bob@X").expect("admitted");
        assert_eq!((bob.delay(), bob.earlier()), (Duration::ZERO, 0));
        bob.succeeded();
        // The attacker's own count is untouched by bob's success elsewhere.
        let next = t.begin(attacker, "alice@x").expect("admitted");
        assert!(next.delay() >= Duration::from_secs(4), "{:?}", next.delay());
        assert_eq!(next.earlier(), 4);
    }

    #[test]
    fn a_correct_password_forgives_its_own_failures_only() {
        let t = Throttle::new(3);
        let office = ip("192.0.2.7");
        t.begin(office, "bob@x").expect("admitted").failed();
        t.begin(office, "bob@x").expect("admitted").failed();
        t.begin(office, "eve@x").expect("admitted").failed();
        // Bob types it right: his two failures and this attempt are explained; eve's stays.
        t.begin(office, "BOB@x").expect("admitted").succeeded();
        let probe = t.begin(office, "carol@x").expect("admitted");
        assert_eq!((probe.earlier(), probe.delay()), (1, Duration::ZERO));
        probe.unavailable();
        // A check that could not run is not counted either.
        assert_eq!(t.begin(office, "carol@x").expect("admitted").earlier(), 1);
    }

    #[test]
    fn ipv6_by_its_slash_64() {
        let t = Throttle::new(1);
        t.begin(ip("2001:db8:1:2::1"), "bob@x").expect("admitted").failed();
        let same = t.begin(ip("2001:db8:1:2:ffff::9"), "bob@x").expect("admitted");
        assert_eq!(same.earlier(), 1);
        same.failed();
        assert_eq!(t.begin(ip("2001:db8:1:3::1"), "bob@x").expect("admitted").earlier(), 0);
        assert_eq!(t.begin(ip("::ffff:10.1.1.1"), "x").expect("admitted").earlier(), 0);
        t.begin(ip("10.1.1.1"), "x").expect("admitted").failed();
        assert_eq!(t.begin(ip("::ffff:10.1.1.1"), "x").expect("admitted").earlier(), 2);
    }
}
