//! Quota limits per account (storage and message count), enforced by the store's write
//! operations so that every path (LMTP, `deliver`, APPEND, COPY) is held to them.

use std::collections::HashMap;

/// Limits of one account; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of all messages (RFC 9208 STORAGE counts them in KiB).
    pub storage: Option<u64>,
    pub messages: Option<u64>,
}

/// The default limits and per-account exceptions, from the config's `[quota]`.
#[derive(Clone, Debug, Default)]
pub struct QuotaPolicy {
    pub default: Limits,
    /// Lower-cased address → its limits.
    pub accounts: HashMap<String, Limits>,
}

impl QuotaPolicy {
    pub fn limits(&self, account: &str) -> Limits {
        self.accounts.get(&account.to_ascii_lowercase()).copied().unwrap_or(self.default)
    }

    /// Whether adding one message of `size` bytes to an account holding `messages` messages and
    /// `bytes` bytes stays within its limits.
    pub fn allows(&self, account: &str, messages: u64, bytes: u64, size: u64) -> bool {
        let l = self.limits(account);
        l.storage.is_none_or(|max| bytes + size <= max) && l.messages.is_none_or(|max| messages < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_exceptions() {
        let mut p =
            QuotaPolicy { default: Limits { storage: Some(1000), messages: Some(2) }, ..Default::default() };
        p.accounts.insert("big@x".into(), Limits { storage: None, messages: None });
        assert!(p.allows("a@x", 0, 0, 1000));
        assert!(!p.allows("a@x", 0, 1, 1000));
        assert!(!p.allows("a@x", 2, 0, 1));
        assert!(p.allows("BIG@x", 100, 1 << 40, 1 << 30));
    }
}
