//! Connection limits (in all and per address) and login throttling (per address and per account).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts connections; a [`Permit`] is held for a connection's life.
pub struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    /// Live connections per address; the sum is the total.
    live: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerAddress,
}

/// One admitted connection; dropping it frees its place.
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits { max_total, max_per_ip, live: Mutex::new((0, HashMap::new())) })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.0 >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = live.1.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::PerAddress);
        }
        *n += 1;
        live.0 += 1;
        Ok(Permit { limits: self.clone(), ip })
    }

    pub fn live(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut live = self.limits.live.lock().unwrap_or_else(|e| e.into_inner());
        live.0 = live.0.saturating_sub(1);
        if let Some(n) = live.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                live.1.remove(&self.ip);
            }
        }
    }
}

/// Slows down password guessing: after `free` failures from an address or against an account,
/// each further attempt waits twice as long as the last (1 s, 2 s, 4 s ... up to 60 s). Entries
/// expire after 15 minutes without failures; the table is bounded.
pub struct Throttle {
    free: u32,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const MAX_ENTRIES: usize = 100_000;

impl Throttle {
    pub fn new(free: u32) -> Self {
        Throttle { free, failures: Mutex::new(HashMap::new()) }
    }

    fn keys(ip: IpAddr, account: &str) -> [String; 2] {
        [format!("ip:{ip}"), format!("user:{}", account.to_ascii_lowercase())]
    }

    /// How long to wait before checking this attempt's password.
    pub fn delay(&self, ip: IpAddr, account: &str) -> Duration {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let worst = Self::keys(ip, account)
            .iter()
            .filter_map(|k| map.get(k))
            .filter(|(_, at)| at.elapsed() < FORGET_AFTER)
            .map(|(n, _)| *n)
            .max()
            .unwrap_or(0);
        if worst < self.free {
            return Duration::ZERO;
        }
        Duration::from_secs(1u64 << (worst - self.free).min(6)).min(Duration::from_secs(60))
    }

    pub fn failed(&self, ip: IpAddr, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
        }
        for k in Self::keys(ip, account) {
            let e = map.entry(k).or_insert((0, Instant::now()));
            if e.1.elapsed() >= FORGET_AFTER {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    pub fn succeeded(&self, ip: IpAddr, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Only the account's own counter is cleared: the address may still be guessing others.
        map.remove(&Self::keys(ip, account)[1]);
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

    #[test]
    fn throttle_grows_then_forgives_the_account() {
        let t = Throttle::new(2);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(t.delay(ip, "a@x"), Duration::ZERO);
        t.failed(ip, "a@x");
        t.failed(ip, "a@x");
        assert_eq!(t.delay(ip, "a@x"), Duration::from_secs(1));
        t.failed(ip, "a@x");
        assert_eq!(t.delay(ip, "b@x"), Duration::from_secs(2), "per address too");
        let other: IpAddr = "10.0.0.9".parse().expect("ip");
        assert_eq!(t.delay(other, "a@x"), Duration::from_secs(2), "per account too");
        t.succeeded(ip, "a@x");
        assert_eq!(t.delay(other, "a@x"), Duration::ZERO);
    }
}
