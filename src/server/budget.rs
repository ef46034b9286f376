//! The memory of literals in transit: one budget of bytes for every connection together.
//!
//! A literal (an APPENDed message, mostly) is held whole in memory from the moment the client
//! starts sending it until its command is done and stored. Per connection that is bounded by the
//! literal and command caps, but not across connections: five 60 MB APPENDs at once would hold
//! 300 MB. So before a logged-in client may send a literal (before the `+` of a synchronising
//! one, before reading on after a non-synchronising one) the connection reserves its size here,
//! and gives it back when the command ends. A reservation that does not fit waits its turn
//! (first come, first served), which slows large APPENDs down instead of failing them; the
//! connection loop bounds the wait and then answers `NO [UNAVAILABLE]`.
//!
//! Small literals (mailbox names, search strings, the first [`FREE_PER_COMMAND`] bytes of a
//! command's literals) are not counted: they are bounded per connection by the framer and would
//! only make every command take the lock.

use std::sync::{Arc, Mutex};

use smol::channel::{Receiver, Sender};

/// Literal bytes a command may hold without a reservation.
pub const FREE_PER_COMMAND: u64 = 64 * 1024;

/// The shared budget.
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    /// Held by the one reservation waiting at the head of the line; the others queue here in
    /// order of arrival (async-lock's mutex is fair).
    turn: smol::lock::Mutex<()>,
    /// A token whenever bytes are given back, for the head of the line to look again.
    freed: (Sender<()>, Receiver<()>),
}

/// Why a reservation was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// The command's literals together exceed the whole budget: it can never fit.
    TooBig,
}

/// Bytes reserved; given back when dropped.
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Budget {
            limit,
            used: Mutex::new(0),
            turn: smol::lock::Mutex::new(()),
            freed: smol::channel::bounded(1),
        })
    }

    /// Bytes reserved now, by all connections.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_take(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.saturating_add(bytes) > self.limit {
            return None;
        }
        *used += bytes;
        Some(Reservation { budget: self.clone(), bytes })
    }

    /// Reserves `bytes`, waiting until others give back enough. Cancel it by dropping the
    /// future (a timeout): nothing is then reserved.
    async fn take(self: &Arc<Self>, bytes: u64) -> Reservation {
        // Nobody waiting: the fast path; otherwise behind those who came first.
        if let Some(turn) = self.turn.try_lock() {
            if let Some(r) = self.try_take(bytes) {
                return r;
            }
            drop(turn);
        }
        let _turn = self.turn.lock().await;
        loop {
            if let Some(r) = self.try_take(bytes) {
                return r;
            }
            // Only closes with the budget itself, which `self` keeps alive.
            let _ = self.freed.1.recv().await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        drop(used);
        // Full means a token is already there for the waiter to find.
        let _ = self.budget.freed.0.try_send(());
    }
}

/// What one command holds of the budget: its reservations and its free allowance.
#[derive(Default)]
pub struct CommandMemory {
    reserved: Option<Reservation>,
    /// Literal bytes of this command not reserved (at most [`FREE_PER_COMMAND`]).
    free: u64,
}

impl CommandMemory {
    /// Accounts for a literal of `size` bytes about to be sent: within the free allowance, or
    /// reserved from `budget` (waiting as long as it takes: the caller bounds the wait). The
    /// reservation covers the free bytes taken so far too, so that what a command holds is
    /// counted whole once it is large.
    pub async fn literal(&mut self, budget: &Arc<Budget>, size: u64) -> Result<(), Shortfall> {
        let unreserved = self.free.saturating_add(size);
        if self.reserved.is_none() && unreserved <= FREE_PER_COMMAND {
            self.free = unreserved;
            return Ok(());
        }
        let held = self.reserved.as_ref().map_or(0, |r| r.bytes);
        if held.saturating_add(unreserved) > budget.limit {
            return Err(Shortfall::TooBig);
        }
        let mut more = budget.take(unreserved).await;
        self.free = 0;
        match &mut self.reserved {
            // Merged: the bytes move over, and `more` gives nothing back on its own.
            Some(r) => r.bytes += std::mem::take(&mut more.bytes),
            None => self.reserved = Some(more),
        }
        Ok(())
    }

    /// The command ended (done, refused or abandoned): everything goes back.
    pub fn release(&mut self) {
        self.reserved = None;
        self.free = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reservations_wait_their_turn_and_come_back() {
        smol::block_on(async {
            let b = Budget::new(1000 * 1024);
            let mut small = CommandMemory::default();
            small.literal(&b, 1000).await.expect("free");
            small.literal(&b, 1000).await.expect("free");
            assert_eq!(b.used(), 0, "within the free allowance");
            let mut a = CommandMemory::default();
            a.literal(&b, 600 * 1024).await.expect("fits");
            assert_eq!(b.used(), 600 * 1024);
            // Too big for the whole budget together with what the command holds: at once.
            assert_eq!(a.literal(&b, 500 * 1024).await, Err(Shortfall::TooBig));
            // Does not fit now: waits until `a` is released.
            let mut c = CommandMemory::default();
            let b2 = b.clone();
            let waiter = smol::spawn(async move {
                c.literal(&b2, 500 * 1024).await.expect("fits later");
                c
            });
            async_io::Timer::after(Duration::from_millis(50)).await;
            assert_eq!(b.used(), 600 * 1024, "still waiting");
            // A later small-but-counted request queues behind it rather than overtaking.
            let mut d = CommandMemory::default();
            let b3 = b.clone();
            let second = smol::spawn(async move {
                d.literal(&b3, 100 * 1024).await.expect("fits");
                d
            });
            async_io::Timer::after(Duration::from_millis(50)).await;
            assert_eq!(b.used(), 600 * 1024, "second waits behind the first");
            a.release();
            let mut c = waiter.await;
            let mut d = second.await;
            assert_eq!(b.used(), 600 * 1024);
            // Literals of one command add up, the free bytes with them.
            c.literal(&b, 10).await.expect("fits");
            assert_eq!(b.used(), 600 * 1024 + 10);
            c.release();
            d.release();
            assert_eq!(b.used(), 0);
            // A cancelled wait reserves nothing.
            let mut e = CommandMemory::default();
            e.literal(&b, 900 * 1024).await.expect("fits");
            let mut f = CommandMemory::default();
            let timed_out = smol::future::or(
                async {
                    f.literal(&b, 200 * 1024).await.expect("no");
                    false
                },
                async {
                    async_io::Timer::after(Duration::from_millis(20)).await;
                    true
                },
            )
            .await;
            assert!(timed_out);
            drop(e);
            assert_eq!(b.used(), 0);
        });
    }
}
