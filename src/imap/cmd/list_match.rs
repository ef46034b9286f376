//! Mailbox pattern matching for LIST and LSUB (RFC 9051 §6.3.9): `*` matches any run of
//! characters, `%` any run without the hierarchy delimiter. Iterative, so hostile patterns with
//! many wildcards cost O(pattern × name), not exponential time.

/// True when `name` matches `pattern` (both UTF-8, already joined with the reference).
pub fn matches(pattern: &str, name: &str, delimiter: char) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // states[j]: pattern prefix p[..i] can match name prefix n[..j].
    let mut states = vec![false; n.len() + 1];
    states[0] = true;
    for (i, &pc) in p.iter().enumerate() {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= states[j];
                    next[j] = any;
                }
            }
            '%' => {
                let mut any = false;
                for j in 0..=n.len() {
                    if j > 0 && n[j - 1] == delimiter {
                        any = false;
                    }
                    any |= states[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=n.len() {
                    // INBOX is case-insensitive (RFC 9051 §5.1): compare the first level so.
                    let same = if i < 5 && j <= 5 && is_inbox_prefix(&p, &n) {
                        c.eq_ignore_ascii_case(&n[j - 1])
                    } else {
                        c == n[j - 1]
                    };
                    next[j] = states[j - 1] && same;
                }
            }
        }
        states = next;
        if !states.iter().any(|s| *s) {
            return false;
        }
    }
    states[n.len()]
}

fn is_inbox_prefix(p: &[char], n: &[char]) -> bool {
    let word = |v: &[char]| v.iter().take(5).collect::<String>().eq_ignore_ascii_case("INBOX");
    word(p) && word(n)
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

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c", '/'));
        assert!(matches("%", "a", '/'));
        assert!(!matches("%", "a/b", '/'));
        assert!(matches("a/%", "a/b", '/'));
        assert!(!matches("a/%", "a/b/c", '/'));
        assert!(matches("a/*", "a/b/c", '/'));
        assert!(matches("inbox", "INBOX", '/'));
        assert!(!matches("work", "Work", '/'));
        assert!(matches("%/2024", "Archive/2024", '/'));
        assert!(!matches("", "INBOX", '/'));
        let hostile = "*%".repeat(200) + "x";
        assert!(!matches(&hostile, &"a".repeat(500), '/'));
        assert_eq!(join("Archive", "%", '/'), "Archive/%");
        assert_eq!(join("", "*", '/'), "*");
    }
}
