//! Little-endian, length-prefixed fields: the one byte cursor behind the store's records
//! (`store/records.rs`), the stored FETCH data (`imap/fetchdata/format.rs`) and the mirror's
//! replica (`client/replica.rs`). Integers are
//! little-endian; a byte string is its length as a u32 followed by its bytes. Reading never
//! panics: a value that runs past the end is `None`, which each format reports as damage.

/// Reads fields from the front of a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }

    /// A length-prefixed byte string that must be UTF-8.
    pub fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    /// Bytes not read yet.
    /// An optional string as [`put_opt_string`] wrote it; the outer `None` for damage.
    pub fn opt_string(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.string()?)),
            _ => None,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A length-prefixed byte string. Every caller's values are bounded far below 4 GiB (names,
/// hashes, keyword lists, the FETCH data of a message within the literal limit); a longer one
/// would be cut to a length the reader then finds wrong, never written silently short.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(bytes);
}

/// An optional string: a presence byte (0 or 1), then the string.
pub fn put_opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_bytes(out, s.as_bytes());
        }
        None => out.push(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut out = vec![7];
        put_u32(&mut out, 0xdead_beef);
        put_u64(&mut out, u64::MAX - 1);
        put_bytes(&mut out, b"caf\xc3\xa9");
        let mut c = Cursor::new(&out);
        assert_eq!(c.u8(), Some(7));
        assert_eq!(c.u32(), Some(0xdead_beef));
        assert_eq!(c.u64(), Some(u64::MAX - 1));
        assert_eq!(c.string().as_deref(), Some("café"));
        assert_eq!(c.remaining(), 0);
        assert_eq!(c.u8(), None);
        let mut short = Cursor::new(&out[..out.len() - 1]);
        short.take(13);
        assert_eq!(short.bytes(), None, "a string that runs past the end");
    }
}
