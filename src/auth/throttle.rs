//! Login throttling, per address and per (address, account): what the IMAP login path and the
//! MAPI token check consult before a password or token is checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
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
