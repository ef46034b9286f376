//! The opaque values of the MAPI extension that a client hands back: folder sync states,
//! hierarchy states and epochs (docs/mapi-extension.md §7.3, §8, Appendix A). Bytes only, no
//! IO: the key comes from the store (`Reader::sync_key`), the records from the caller.
//!
//! A state is authenticated, not secret: HMAC-SHA-256 with the database's key over a label, the
//! account and the folder and the state's fields, truncated to 128 bits, so that a forged,
//! truncated, altered or foreign state is refused before anything is read (§16).

use ring::hmac;

/// Octets of a folder state: version, UIDVALIDITY, M, B, E, C, T, MAC (Appendix A).
const FOLDER_LEN: usize = 1 + 4 + 8 + 4 * 4 + MAC_LEN;
/// Octets of a hierarchy state: version, change number, MAC.
const HIERARCHY_LEN: usize = 1 + 8 + MAC_LEN;
const MAC_LEN: usize = 16;
const VERSION: u8 = 1;

/// Why a state was refused; every case is answered `NO [XRESTART]` (§7.5), the reason goes to
/// the response text and the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadState {
    /// Not base64url, or not the length of a state.
    Malformed,
    /// A version this server does not write.
    Version,
    /// The MAC does not match: forged, altered, another account's or folder's, or made with
    /// the key of another history (a restore).
    Forged,
    /// The folder's UIDVALIDITY changed since.
    UidValidity,
    /// Positions beyond the folder's HIGHESTMODSEQ or UIDNEXT, or out of order.
    FromTheFuture,
}

impl BadState {
    pub fn reason(self) -> &'static str {
        match self {
            BadState::Malformed | BadState::Version | BadState::Forged => {
                "sync state is not valid for this folder"
            }
            BadState::UidValidity => "the folder's UIDVALIDITY changed",
            BadState::FromTheFuture => "sync state is ahead of the folder (a restored database?)",
        }
    }
}

/// What a client holds of one folder (Appendix A): every live UID in `[b, e)` and in `[c, t)`
/// as of MODSEQ `modseq` or later; `[e, c)` is the gap an unfinished run left; nothing at or
/// above `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub b: u32,
    pub e: u32,
    pub c: u32,
    pub t: u32,
}

impl FolderState {
    /// The state of a client that holds nothing yet: a first sync is part 2 alone, `[1, T)`
    /// from the top.
    pub fn first(uidvalidity: u32, uidnext: u32, highest_modseq: u64) -> FolderState {
        let n = uidnext.max(1);
        FolderState { uidvalidity, modseq: highest_modseq, b: n, e: n, c: n, t: n }
    }

    /// Every message of the folder as of `modseq` is held, given the folder's UIDNEXT then.
    pub fn complete(&self, uidnext: u32) -> bool {
        self.b <= 1 && self.e == self.c && self.t >= uidnext
    }

    /// Whether `uid` is in a held range.
    pub fn holds(&self, uid: u32) -> bool {
        (self.b..self.e).contains(&uid) || (self.c..self.t).contains(&uid)
    }

    /// The state as the client sees it: 60 base64url characters.
    pub fn encode(&self, key: &[u8; 32], account: u64, mailbox: u64) -> String {
        let mut v = Vec::with_capacity(FOLDER_LEN);
        v.push(VERSION);
        v.extend_from_slice(&self.uidvalidity.to_be_bytes());
        v.extend_from_slice(&self.modseq.to_be_bytes());
        for x in [self.b, self.e, self.c, self.t] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        let mac = mac(key, b"applianced xsync 1", account, Some(mailbox), &v);
        v.extend_from_slice(&mac);
        base64url(&v)
    }

    /// Checks a state given back by a client, in the order of Appendix A: length and alphabet,
    /// version, MAC (constant time), `b <= e <= c <= t`, UIDVALIDITY equal to the folder's,
    /// and nothing beyond the folder's HIGHESTMODSEQ and UIDNEXT.
    pub fn decode(
        text: &str,
        key: &[u8; 32],
        account: u64,
        mailbox: u64,
        folder: (u32, u32, u64),
    ) -> Result<FolderState, BadState> {
        let raw = unwrap(text, FOLDER_LEN)?;
        let (body, tag) = raw.split_at(FOLDER_LEN - MAC_LEN);
        verify(key, b"applianced xsync 1", account, Some(mailbox), body, tag)?;
        let u32_at = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().unwrap_or_default());
        let state = FolderState {
            uidvalidity: u32_at(1),
            modseq: u64::from_be_bytes(body[5..13].try_into().unwrap_or_default()),
            b: u32_at(13),
            e: u32_at(17),
            c: u32_at(21),
            t: u32_at(25),
        };
        let (uidvalidity, uidnext, highest_modseq) = folder;
        if !(state.b <= state.e && state.e <= state.c && state.c <= state.t) {
            return Err(BadState::FromTheFuture);
        }
        if state.uidvalidity != uidvalidity {
            return Err(BadState::UidValidity);
        }
        if state.modseq > highest_modseq || state.t > uidnext.max(1) {
            return Err(BadState::FromTheFuture);
        }
        Ok(state)
    }
}

/// A hierarchy state (§8): the account change number of the snapshot it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HierarchyState {
    pub change: u64,
}

impl HierarchyState {
    pub fn encode(&self, key: &[u8; 32], account: u64) -> String {
        let mut v = Vec::with_capacity(HIERARCHY_LEN);
        v.push(VERSION);
        v.extend_from_slice(&self.change.to_be_bytes());
        let mac = mac(key, b"applianced xhierarchy 1", account, None, &v);
        v.extend_from_slice(&mac);
        base64url(&v)
    }

    /// Checks a hierarchy state; one whose change number is above the account's current one is
    /// not refused here (§8 answers FULL for it).
    pub fn decode(text: &str, key: &[u8; 32], account: u64) -> Result<HierarchyState, BadState> {
        let raw = unwrap(text, HIERARCHY_LEN)?;
        let (body, tag) = raw.split_at(HIERARCHY_LEN - MAC_LEN);
        verify(key, b"applianced xhierarchy 1", account, None, body, tag)?;
        Ok(HierarchyState { change: u64::from_be_bytes(body[1..9].try_into().unwrap_or_default()) })
    }
}

/// The account's epoch (§4.1): it changes with the key (a restore) and with the account id (an
/// account deleted and created again). 11 base64url characters.
pub fn epoch(key: &[u8; 32], account: u64) -> String {
    let tag = mac(key, b"applianced epoch 1", account, None, &[]);
    base64url(&tag[..8])
}

/// The octets of a state of `len` octets and this server's version; the MAC is checked by the
/// caller.
fn unwrap(text: &str, len: usize) -> Result<Vec<u8>, BadState> {
    let raw = from_base64url(text).ok_or(BadState::Malformed)?;
    if raw.len() != len {
        return Err(BadState::Malformed);
    }
    if raw[0] != VERSION {
        return Err(BadState::Version);
    }
    Ok(raw)
}

fn mac(key: &[u8; 32], label: &[u8], account: u64, mailbox: Option<u64>, body: &[u8]) -> [u8; MAC_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(label);
    ctx.update(&account.to_be_bytes());
    if let Some(m) = mailbox {
        ctx.update(&m.to_be_bytes());
    }
    ctx.update(body);
    let full = ctx.sign();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full.as_ref()[..MAC_LEN]);
    out
}

fn verify(
    key: &[u8; 32],
    label: &[u8],
    account: u64,
    mailbox: Option<u64>,
    body: &[u8],
    tag: &[u8],
) -> Result<(), BadState> {
    let want = mac(key, label, account, mailbox, body);
    // Constant time: every octet is looked at whatever the first difference.
    let diff = want.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 && tag.len() == MAC_LEN { Ok(()) } else { Err(BadState::Forged) }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5): an IMAP atom; states, epochs and the registry's
/// tokens are written in it.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The inverse of [`base64url`]; `None` for a character outside the alphabet, a length no
/// encoding has, or non-zero trailing bits (so each value has exactly one encoding).
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32);
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let octets = chunk.len() - 1;
        let kept = n >> (24 - 8 * octets as u32);
        if kept << (24 - 8 * octets as u32) != n {
            return None;
        }
        for i in 0..octets {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn base64url_round_trips_and_refuses_what_it_did_not_write() {
        for n in 0..70 {
            let v: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let s = base64url(&v);
            assert!(s.bytes().all(|c| ALPHABET.contains(&c)), "{s}");
            assert_eq!(from_base64url(&s), Some(v), "{s}");
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(from_base64url("-_8"), Some(b"\xfb\xff".to_vec()));
        assert_eq!(from_base64url("-_9"), None, "trailing bits set");
        assert_eq!(from_base64url("abcde"), None, "no encoding is 5 characters");
        assert_eq!(from_base64url("ab=c"), None);
        assert_eq!(from_base64url("ab+/"), None, "the standard alphabet is not this one");
    }

    #[test]
    fn base64url_known_answers() {
        // RFC 4648 §10, in the URL alphabet and without padding.
        for (raw, enc) in [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64url(raw.as_bytes()), enc);
            assert_eq!(from_base64url(enc).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(from_base64url("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(from_base64url("+/8"), None);
        assert_eq!(from_base64url("Z"), None);
    }

    #[test]
    fn a_folder_state_is_60_characters_and_checked_in_order() {
        let s = FolderState { uidvalidity: 9, modseq: 250_112, b: 3, e: 10, c: 20, t: 100 };
        let text = s.encode(&KEY, 1, 12);
        assert_eq!(text.len(), 60);
        let folder = (9, 100, 250_112);
        assert_eq!(FolderState::decode(&text, &KEY, 1, 12, folder), Ok(s));
        assert_eq!(FolderState::decode(&text, &KEY, 2, 12, folder), Err(BadState::Forged), "another account");
        assert_eq!(FolderState::decode(&text, &KEY, 1, 13, folder), Err(BadState::Forged), "another folder");
        assert_eq!(FolderState::decode(&text, &[8; 32], 1, 12, folder), Err(BadState::Forged), "another key");
        assert_eq!(FolderState::decode(&text[..59], &KEY, 1, 12, folder), Err(BadState::Malformed));
        assert_eq!(FolderState::decode("", &KEY, 1, 12, folder), Err(BadState::Malformed));
        assert_eq!(FolderState::decode(&text, &KEY, 1, 12, (10, 100, 250_112)), Err(BadState::UidValidity));
        assert_eq!(FolderState::decode(&text, &KEY, 1, 12, (9, 99, 250_112)), Err(BadState::FromTheFuture));
        assert_eq!(FolderState::decode(&text, &KEY, 1, 12, (9, 100, 250_111)), Err(BadState::FromTheFuture));
        // Every single-character change is refused.
        for i in 0..text.len() {
            let mut b = text.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(b).expect("ascii");
            assert!(FolderState::decode(&altered, &KEY, 1, 12, folder).is_err(), "{i}");
        }
        let mut raw = from_base64url(&text).expect("raw");
        raw[0] = 2;
        assert_eq!(FolderState::decode(&base64url(&raw), &KEY, 1, 12, folder), Err(BadState::Version));
    }

    #[test]
    fn ranges_out_of_order_are_refused_even_with_a_good_mac() {
        let s = FolderState { uidvalidity: 9, modseq: 5, b: 10, e: 3, c: 20, t: 100 };
        let text = s.encode(&KEY, 1, 12);
        assert_eq!(FolderState::decode(&text, &KEY, 1, 12, (9, 100, 5)), Err(BadState::FromTheFuture));
    }

    #[test]
    fn first_state_holds_nothing_and_is_complete_only_for_an_empty_folder() {
        let s = FolderState::first(1, 1, 1);
        assert!(s.complete(1));
        let s = FolderState::first(1, 50, 7);
        assert!(!s.holds(49) && !s.holds(50));
        assert!(!s.complete(50));
        let done = FolderState { b: 1, e: 50, c: 50, t: 50, ..s };
        assert!(done.complete(50) && done.holds(1) && done.holds(49));
        assert!(!done.complete(51), "a message arrived since");
    }

    #[test]
    fn hierarchy_states_and_epochs() {
        let h = HierarchyState { change: 4530 };
        let text = h.encode(&KEY, 1);
        assert_eq!(text.len(), 34);
        assert_eq!(HierarchyState::decode(&text, &KEY, 1), Ok(h));
        assert_eq!(HierarchyState::decode(&text, &KEY, 2), Err(BadState::Forged));
        let folder = FolderState::first(1, 1, 1).encode(&KEY, 1, 1);
        assert_eq!(HierarchyState::decode(&folder, &KEY, 1), Err(BadState::Malformed), "a folder's state");
        let e = epoch(&KEY, 1);
        assert_eq!(e.len(), 11);
        assert_ne!(e, epoch(&KEY, 2));
        assert_ne!(e, epoch(&[1; 32], 1));
        assert_eq!(e, epoch(&KEY, 1));
    }
}
