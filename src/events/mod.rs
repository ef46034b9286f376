//! The in-process event hub: the one thing shared between sessions. The store's writer publishes
//! each committed change here; IDLE, NOTIFY and the MAPI backchannel subscribe per account.
//!
//! A notification carries only "account A reached change number N in mailbox M": subscribers read
//! what changed from the store (changes since their last MODSEQ or change number), so a slow
//! subscriber costs one pending signal, never a growing queue.

use std::collections::HashMap;
use std::sync::Mutex;

use smol::channel::{Receiver, Sender, TrySendError};

/// One committed change, as published after the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub account: u64,
    /// The account-wide change number (see the store's change log).
    pub change_number: u64,
    /// The mailbox the change is in.
    pub mailbox: u64,
}

/// Wakes subscribers of an account when its mail changes.
#[derive(Default)]
pub struct Hub {
    /// Per account, the senders of live subscriptions; closed ones are dropped on the next publish.
    subscribers: Mutex<HashMap<u64, Vec<Sender<Change>>>>,
}

/// A subscription to one account's changes. Signals coalesce: after a wake-up, read the store.
#[derive(Clone)]
pub struct Subscription {
    rx: Receiver<Change>,
}

impl Subscription {
    /// Waits for the next change; `None` when the hub is gone.
    pub async fn changed(&self) -> Option<Change> {
        self.rx.recv().await.ok()
    }

    /// A pending change, if any, without waiting.
    pub fn try_changed(&self) -> Option<Change> {
        self.rx.try_recv().ok()
    }

    /// Waits at most `timeout` for a change (for blocking callers and tests).
    pub fn wait_blocking(&self, timeout: std::time::Duration) -> Option<Change> {
        smol::block_on(async {
            smol::future::or(self.changed(), async {
                async_io::Timer::after(timeout).await;
                None
            })
            .await
        })
    }
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    /// Subscribes to an account's changes.
    pub fn subscribe(&self, account: u64) -> Subscription {
        // Capacity 1: a pending signal already tells the subscriber to look at the store.
        let (tx, rx) = smol::channel::bounded(1);
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.entry(account).or_default().push(tx);
        Subscription { rx }
    }

    /// Publishes committed changes; called by the store's writer after each durable commit.
    pub fn publish(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            if let Some(list) = subs.get_mut(&change.account) {
                list.retain(|tx| !matches!(tx.try_send(*change), Err(TrySendError::Closed(_))));
                if list.is_empty() {
                    subs.remove(&change.account);
                }
            }
        }
    }

    /// Number of live subscriptions (for diagnostics).
    pub fn subscribers(&self) -> usize {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.values().map(|l| l.iter().filter(|t| !t.is_closed()).count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_coalesce_and_closed_subscribers_go() {
        let hub = Hub::new();
        let a = hub.subscribe(1);
        let b = hub.subscribe(2);
        let c = Change { account: 1, change_number: 5, mailbox: 9 };
        hub.publish(&[c, Change { change_number: 6, ..c }]);
        assert_eq!(a.try_changed(), Some(c));
        assert_eq!(a.try_changed(), None);
        assert_eq!(b.try_changed(), None);
        drop(a);
        hub.publish(&[c]);
        assert_eq!(hub.subscribers(), 1);
    }
}
