//! Mailbox pattern matching for LIST and LSUB (RFC 9051 §6.3.9): `*` matches any run of
//! characters, `%` any run without the hierarchy delimiter.
//!
//! A pattern is compiled once per command ([`Pattern::new`]): runs of wildcards collapse (`**`,
//! `*%` and `%*` are `*`, `%%` is `%`), so 60,000 `*` cost what one does. Matching a name is a
//! bit-parallel simulation of the pattern over the name (one bit per name position, 64 to a
//! word): each pattern step is a few word operations per 64 characters of the name, never a
//! backtracking search, so a name costs O(pattern × name / 64) whatever the pattern holds.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
enum Step {
    /// A literal character: an index into the pattern's distinct characters.
    Char(usize),
    /// `*`: any run of characters.
    Any,
    /// `%`: any run of characters other than the delimiter.
    Level,
}

/// A LIST pattern (reference already joined), ready to match many names.
#[derive(Debug)]
pub struct Pattern {
    steps: Vec<Step>,
    /// The pattern's distinct literal characters, each with its index.
    chars: HashMap<char, usize>,
    /// The pattern starts with the five letters of INBOX, in any case (RFC 9051 §5.1: INBOX is
    /// case-insensitive, so its first level is compared so).
    inbox: bool,
    delimiter: char,
}

impl Pattern {
    pub fn new(pattern: &str, delimiter: char) -> Pattern {
        let inbox = starts_with_inbox(pattern);
        let mut chars = HashMap::new();
        let mut steps: Vec<Step> = Vec::new();
        for (i, c) in pattern.chars().enumerate() {
            let c = if inbox && i < 5 { c.to_ascii_uppercase() } else { c };
            let step = match c {
                '*' => Step::Any,
                '%' => Step::Level,
                c => {
                    let next = chars.len();
                    Step::Char(*chars.entry(c).or_insert(next))
                }
            };
            match (steps.last_mut(), step) {
                (Some(Step::Any), Step::Any | Step::Level) | (Some(Step::Level), Step::Level) => {}
                (Some(last @ Step::Level), Step::Any) => *last = Step::Any,
                _ => steps.push(step),
            }
        }
        Pattern { steps, chars, inbox, delimiter }
    }

    /// True when `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let inbox = self.inbox && starts_with_inbox(name);
        let name: Vec<char> = name
            .chars()
            .enumerate()
            .map(|(i, c)| if inbox && i < 5 { c.to_ascii_uppercase() } else { c })
            .collect();
        let n = name.len();
        // Bit j stands for "the pattern so far matches the first j characters of the name".
        let words = n / 64 + 1;
        let top = if (n + 1).is_multiple_of(64) { u64::MAX } else { (1u64 << ((n + 1) % 64)) - 1 };
        // For each literal of the pattern, the positions j whose character n[j-1] it is.
        let mut masks = vec![0u64; self.chars.len() * words];
        // Positions that `%` may step onto: every character but the delimiter.
        let mut level = vec![0u64; words];
        for (i, c) in name.iter().enumerate() {
            let j = i + 1;
            if let Some(&k) = self.chars.get(c) {
                masks[k * words + j / 64] |= 1 << (j % 64);
            }
            if *c != self.delimiter {
                level[j / 64] |= 1 << (j % 64);
            }
        }
        let mut state = vec![0u64; words];
        state[0] = 1;
        let mut next = vec![0u64; words];
        for step in &self.steps {
            match *step {
                Step::Char(k) => {
                    shift_up(&state, &mut next);
                    for (w, m) in next.iter_mut().zip(&masks[k * words..(k + 1) * words]) {
                        *w &= m;
                    }
                }
                Step::Any => {
                    // Every position at or after the first one reached.
                    let first = state.iter().position(|w| *w != 0).unwrap_or(words);
                    for (i, w) in next.iter_mut().enumerate() {
                        *w = match i.cmp(&first) {
                            std::cmp::Ordering::Less => 0,
                            std::cmp::Ordering::Equal => {
                                !(state[i] & state[i].wrapping_neg()).wrapping_sub(1)
                            }
                            std::cmp::Ordering::Greater => u64::MAX,
                        };
                    }
                }
                Step::Level => {
                    // From each position reached, on through the run of non-delimiter characters
                    // that follows it. `stepped` is the first step up; adding it to `level`
                    // carries through each run from its lowest stepped bit to the run's end, and
                    // the XOR with `level` leaves exactly those bits (plus one beyond each run,
                    // which `& level` drops; the stepped bits themselves come back by OR).
                    shift_up(&state, &mut next);
                    let mut carry = false;
                    for i in 0..words {
                        let stepped = next[i] & level[i];
                        let (sum, c1) = level[i].overflowing_add(stepped);
                        let (sum, c2) = sum.overflowing_add(u64::from(carry));
                        carry = c1 || c2;
                        next[i] = state[i] | stepped | ((sum ^ level[i]) & level[i]);
                    }
                }
            }
            next[words - 1] &= top;
            std::mem::swap(&mut state, &mut next);
            if state.iter().all(|w| *w == 0) {
                return false;
            }
        }
        state[n / 64] & (1 << (n % 64)) != 0
    }
}

/// `out` = `state` shifted up by one position (bit j becomes bit j + 1).
fn shift_up(state: &[u64], out: &mut [u64]) {
    let mut carry = 0;
    for (o, w) in out.iter_mut().zip(state) {
        *o = (w << 1) | carry;
        carry = w >> 63;
    }
}

fn starts_with_inbox(s: &str) -> bool {
    s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
}

/// True when `name` matches `pattern`; for one name. A command matching many names compiles
/// the pattern once with [`Pattern::new`].
pub fn matches(pattern: &str, name: &str, delimiter: char) -> bool {
    Pattern::new(pattern, delimiter).matches(name)
}

/// Joins LIST's reference and pattern (RFC 9051 §6.3.9: the reference is prefixed, with the
/// delimiter between them when the reference lacks it).
pub fn join(reference: &str, pattern: &str, delimiter: char) -> String {
    if reference.is_empty() || pattern.starts_with(delimiter) {
        return pattern.to_string();
    }
    if reference.ends_with(delimiter) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{delimiter}{pattern}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, by backtracking: exponential, for checking only.
    fn reference(p: &[char], n: &[char], d: char) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|k| reference(rest, &n[k..], d)),
            Some(('%', rest)) => {
                let run = n.iter().position(|c| *c == d).unwrap_or(n.len());
                (0..=run).any(|k| reference(rest, &n[k..], d))
            }
            Some((c, rest)) => n.first() == Some(c) && reference(rest, &n[1..], d),
        }
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c", '/'));
        assert!(matches("%", "a", '/'));
        assert!(!matches("%", "a/b", '/'));
        assert!(matches("a/%", "a/b", '/'));
        assert!(!matches("a/%", "a/b/c", '/'));
        assert!(matches("a/*", "a/b/c", '/'));
        assert!(matches("inbox", "INBOX", '/'));
        assert!(matches("Inbox/%", "INBOX/x", '/'));
        assert!(!matches("inbox/X", "INBOX/x", '/'));
        assert!(!matches("work", "Work", '/'));
        assert!(matches("%/2024", "Archive/2024", '/'));
        assert!(matches("a%b", "a/ab", '/') == reference(&['a', '%', 'b'], &['a', '/', 'a', 'b'], '/'));
        assert!(!matches("", "INBOX", '/'));
        assert!(matches("", "", '/'));
        assert_eq!(join("Archive", "%", '/'), "Archive/%");
        assert_eq!(join("", "*", '/'), "*");
    }

    /// Names across word boundaries (63, 64, 65 characters and more).
    #[test]
    fn long_names() {
        for len in [62, 63, 64, 65, 127, 128, 129, 300] {
            let name = "b".repeat(len);
            assert!(matches("%", &name, '/'), "{len}");
            assert!(matches("*b", &name, '/'), "{len}");
            assert!(matches(&"b".repeat(len), &name, '/'), "{len}");
            assert!(!matches(&"b".repeat(len + 1), &name, '/'), "{len}");
            let split = format!("{}/{}", "b".repeat(len), "c".repeat(len));
            assert!(!matches("%", &split, '/'), "{len}");
            assert!(matches("%/%", &split, '/'), "{len}");
            assert!(matches("%c", &format!("{name}c"), '/'), "{len}");
        }
    }

    /// Issue 10: 60,000 wildcards, or a long alternation of literals and wildcards, against
    /// long names, cost milliseconds (this took 21.5 s of CPU for 1,000 names before).
    #[test]
    fn hostile_patterns_are_cheap() {
        let names: Vec<String> = (0..1000).map(|i| format!("{i}{}", "a".repeat(500))).collect();
        let star = Pattern::new(&"*".repeat(60_000), '/');
        let mixed = Pattern::new(&("a%".repeat(256) + "x"), '/');
        let started = std::time::Instant::now();
        assert!(names.iter().all(|n| star.matches(n)));
        assert!(!names.iter().any(|n| mixed.matches(n)));
        // Generous for a debug build on a loaded machine; a release build takes ~10 ms.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    proptest! {
        #[test]
        fn agrees_with_the_definition(p in "[ab/*%]{0,12}", n in "[ab/]{0,12}") {
            let pc: Vec<char> = p.chars().collect();
            let nc: Vec<char> = n.chars().collect();
            prop_assert_eq!(matches(&p, &n, '/'), reference(&pc, &nc, '/'), "{:?} {:?}", p, n);
        }

        #[test]
        fn agrees_on_long_names(p in "[ab/*%]{0,8}", n in "[ab/]{60,140}") {
            let pc: Vec<char> = p.chars().collect();
            let nc: Vec<char> = n.chars().collect();
            prop_assert_eq!(matches(&p, &n, '/'), reference(&pc, &nc, '/'), "{:?} {:?}", p, n);
        }
    }
}
