//! Flags and keywords (RFC 9051 §2.3.2, §9 `flag`).

use super::*;

// Flags

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension`
/// (system flags matched case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    Answered,
    Flagged,
    Deleted,
    Seen,
    Draft,
    /// `flag-keyword`: `$Forwarded`, `$Junk`, `NonJunk`, ... (an atom, case kept).
    Keyword(Atom),
    /// `flag-extension = "\" atom`, without the backslash (e.g. `Recent`).
    Extension(Atom),
}

impl TryFrom<&[u8]> for Flag {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        match b.strip_prefix(b"\\") {
            Some(name) => Ok(match name.to_ascii_uppercase().as_slice() {
                b"ANSWERED" => Flag::Answered,
                b"FLAGGED" => Flag::Flagged,
                b"DELETED" => Flag::Deleted,
                b"SEEN" => Flag::Seen,
                b"DRAFT" => Flag::Draft,
                _ => Flag::Extension(Atom::try_from(name).map_err(|_| InvalidValue { what: "flag" })?),
            }),
            None => Atom::try_from(b).map(Flag::Keyword).map_err(|_| InvalidValue { what: "flag" }),
        }
    }
}

impl TryFrom<&str> for Flag {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Flag::try_from(s.as_bytes())
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Keyword(a) => f.write_str(a.as_str()),
            Flag::Extension(a) => write!(f, "\\{a}"),
        }
    }
}
