//! The server's [`Tally`]: a connection's bytes into its [`Link`] (docs/mapi-extension.md §4.4
//! `IN`, `OUT`, `QUEUED`, `LASTACTIVE`). The counted stream sits right above TLS (or TCP) and
//! below COMPRESS, so it counts bytes "after TLS, before decompression".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::counted::Counted;
use crate::counted::Tally;
use crate::mapi::link::Link;

pub struct LinkTally {
    link: Arc<Link>,
    /// Cleared when STARTTLS puts TLS over the counted stream: the new TLS stream counts then.
    on: Arc<AtomicBool>,
}

impl LinkTally {
    pub fn new(link: Arc<Link>, on: Arc<AtomicBool>) -> Self {
        LinkTally { link, on }
    }

    fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
}

impl Tally for LinkTally {
    fn received(&self, n: usize) {
        if self.on() {
            self.link.received(n);
        }
    }

    fn sent(&self, n: usize, left: usize) {
        if self.on() {
            self.link.sent(n, left);
        }
    }

    fn waiting(&self, n: usize) {
        if self.on() {
            self.link.waiting(n);
        }
    }
}
