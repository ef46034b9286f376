//! Passwords: argon2id hashes in PHC form, and generated passwords for `--init`.
//!
//! [`Verifier`] checks a password with memory it keeps between checks, so that a thread that
//! checks passwords all day holds one argon2 memory block (19 MiB with the default parameters)
//! instead of allocating and freeing one per attempt; `pool` runs a bounded number of them for
//! the IMAP logins.

pub mod pool;
pub mod throttle;

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes a password with argon2id and the crate's default (OWASP) parameters and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a stored PHC string. Costs one argon2 evaluation (about 0.2 s on
/// x86_64, over 1 s on a small ARM board) and its memory for the duration of the call: callers
/// that check many passwords use a [`Verifier`] per thread (see `pool`), and must limit and slow
/// down failed attempts.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Verifier::new().verify(password, phc)
}

/// Blocks (1 KiB each) a verifier keeps between checks: the memory of the default parameters
/// (`m=19456`), which is what `hash_password` writes and what every stored hash uses.
const KEPT_BLOCKS: usize = Params::DEFAULT_M_COST as usize;

/// Address space reserved for the kept blocks, of which only the 19 MiB used are ever touched
/// (resident). Above glibc's largest dynamic mmap threshold (32 MiB on 64-bit, mallopt(3)
/// `M_MMAP_THRESHOLD`), so the block is always a mapping of its own and [`Verifier::release`]
/// gives its pages back to the kernel, however often it was freed before; musl maps large
/// allocations anyway. Without the margin, glibc serves the second 19 MiB block from an arena
/// and keeps it resident after it is freed.
const RESERVED_BLOCKS: usize = (33 << 20) / Block::SIZE;

/// Checks passwords against PHC strings, reusing one argon2 memory block.
///
/// The same check as the crate's `PasswordVerifier` (algorithm, version and parameters from the
/// PHC string, no secret, output compared in constant time), through
/// `Argon2::hash_password_into_with_memory` so that the memory is the verifier's own. A hash
/// whose parameters need more than [`KEPT_BLOCKS`] gets a block for that one check, freed after
/// it: a verifier never keeps more than the default's 19 MiB.
#[derive(Default)]
pub struct Verifier {
    memory: Vec<Block>,
}

impl Verifier {
    /// A verifier with no memory yet: the first check allocates it.
    pub fn new() -> Self {
        Verifier { memory: Vec::new() }
    }

    /// Memory held between checks, in bytes.
    pub fn kept_bytes(&self) -> usize {
        self.memory.len() * Block::SIZE
    }

    /// Gives the memory back; the next check allocates it again.
    pub fn release(&mut self) {
        self.memory = Vec::new();
    }

    /// True when `password` matches the PHC string `phc`; false when it does not, or when `phc`
    /// is not an argon2 hash this crate can evaluate.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return false };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
        let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else { return false };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        // The output length is the stored hash's (as the crate's own verifier sets it).
        let Ok(params) = Params::try_from(&parsed) else { return false };
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let hashed = if blocks <= KEPT_BLOCKS {
            if self.memory.len() < KEPT_BLOCKS {
                let mut memory = Vec::with_capacity(RESERVED_BLOCKS);
                memory.resize(KEPT_BLOCKS, Block::new());
                self.memory = memory;
            }
            argon2.hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut self.memory[..blocks],
            )
        } else {
            argon2.hash_password_into(password.as_bytes(), salt, &mut out)
        };
        // `Output`'s equality is constant-time (the `phc` crate compares with `ct_eq`).
        hashed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected)
    }
}

/// A random password of 20 characters from an unambiguous alphabet (about 110 bits).
pub fn generate_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect())
}

/// Reads a password from a file: its first line, without the line end. Empty is an error.
pub fn read_password_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(format!("{} holds no password", path.display()));
    }
    Ok(pw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    /// The verifier agrees with the crate's own `PasswordVerifier` on every argon2 variant and on
    /// parameters above the kept memory, and keeps no more than the default's memory.
    #[test]
    fn verifier_agrees_with_the_crate() {
        use argon2::password_hash::PasswordVerifier;
        let mut v = Verifier::new();
        let small = Params::new(64, 1, 2, Some(24)).expect("params");
        let big = Params::new(KEPT_BLOCKS as u32 + 1024, 1, 1, None).expect("params");
        for (algorithm, version, params) in [
            (Algorithm::Argon2id, Version::V0x13, Params::default()),
            (Algorithm::Argon2i, Version::V0x13, small.clone()),
            (Algorithm::Argon2d, Version::V0x10, small),
            (Algorithm::Argon2id, Version::V0x13, big),
        ] {
            let phc = Argon2::new(algorithm, version, params)
                .hash_password(b"pass word")
                .expect("hash")
                .to_string();
            let parsed = PasswordHash::new(&phc).expect("parse");
            assert!(Argon2::default().verify_password(b"pass word", &parsed).is_ok(), "{phc}");
            assert!(v.verify("pass word", &phc), "{phc}");
            assert!(!v.verify("pass wore", &phc), "{phc}");
            assert!(v.kept_bytes() <= KEPT_BLOCKS * Block::SIZE);
        }
        assert_eq!(v.kept_bytes(), KEPT_BLOCKS * Block::SIZE);
        let h = hash_password("x").expect("hash");
        assert!(!v.verify("x", &h.replace("$argon2id$", "$argon2x$")));
        assert!(!v.verify("x", &h.replace("v=19", "v=20")));
        assert!(!v.verify("x", h.rsplit_once('$').map(|(head, _)| head).expect("hash part")));
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate_password().expect("random");
        let b = generate_password().expect("random");
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
