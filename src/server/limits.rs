//! Connection limits: in all, per address, and for connections that have not logged in yet.
//! (Login throttling, which the IMAP layer uses too, is `auth::throttle`.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
}
