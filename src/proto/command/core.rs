//! Character classes, containers (`NonEmpty`), tags and atoms (RFC 9051 §9, RFC 5234).

use super::*;

// Character classes (RFC 9051 §9, RFC 5234 core rules)

/// `CTL = %x00-1F / %x7F`
pub(crate) fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR = <any CHAR except atom-specials>`;
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`
pub(crate) fn is_atom_char(b: u8) -> bool {
    b.is_ascii() && !is_ctl(b) && !matches!(b, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `tag = 1*<any ASTRING-CHAR except "+">`
pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
pub(crate) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

// Generic containers

/// A list the grammar requires to have at least one element (`x *(SP x)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    pub fn new(first: T) -> Self {
        NonEmpty(vec![first])
    }

    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = InvalidValue;
    fn try_from(v: Vec<T>) -> Result<Self, InvalidValue> {
        if v.is_empty() { invalid("empty list") } else { Ok(NonEmpty(v)) }
    }
}

impl<T> Deref for NonEmpty<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a NonEmpty<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for NonEmpty<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Bytes that must not show up in logs: passwords and SASL responses. `Debug` prints their
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

// Tag, Atom

/// A command tag: `tag = 1*<any ASTRING-CHAR except "+">`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&[u8]> for Tag {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty() || !b.iter().all(|&c| is_tag_char(c)) {
            return invalid("tag");
        }
        // Tag characters are ASCII, so this cannot fail.
        String::from_utf8(b.to_vec()).map(Tag).or_else(|_| invalid("tag"))
    }
}

impl TryFrom<&str> for Tag {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Tag::try_from(s.as_bytes())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `atom = 1*ATOM-CHAR`: capability names, keywords, SASL mechanisms, charsets given as atoms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl Atom {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison, as IMAP compares protocol atoms.
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl TryFrom<&[u8]> for Atom {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty() || !b.iter().all(|&c| is_atom_char(c)) {
            return invalid("atom");
        }
        String::from_utf8(b.to_vec()).map(Atom).or_else(|_| invalid("atom"))
    }
}

impl TryFrom<&str> for Atom {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        Atom::try_from(s.as_bytes())
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7): EMAILID and THREADID values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&[u8]> for ObjectId {
    type Error = InvalidValue;
    fn try_from(b: &[u8]) -> Result<Self, InvalidValue> {
        if b.is_empty()
            || b.len() > 255
            || !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return invalid("object id");
        }
        String::from_utf8(b.to_vec()).map(ObjectId).or_else(|_| invalid("object id"))
    }
}

impl TryFrom<&str> for ObjectId {
    type Error = InvalidValue;
    fn try_from(s: &str) -> Result<Self, InvalidValue> {
        ObjectId::try_from(s.as_bytes())
    }
}
