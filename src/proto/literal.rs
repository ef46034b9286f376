//! The one recogniser of literal announcements at the end of a line (RFC 9051 §4.3 `literal`,
//! RFC 7888 `{n+}`, RFC 3516 `literal8`): the framer uses it on commands, the protocol trace's
//! redactor on both directions, the client on responses.

/// What the end of a line announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announced {
    None,
    Bad,
    Literal { size: u64, sync: bool },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum AnnounceState {
    #[default]
    Other,
    Open,
    Digits,
    Plus,
    Close,
    CloseCr,
}

/// Recognises `literal = "{" number64 ["+"] "}" CRLF` and `literal8 = "~{" number64 ["+"] "}" CRLF`
/// at the end of a line, one byte at a time, so that it works on a line that is being dropped.
/// Both frame alike (the `~` is just a byte of the line); the parser tells them apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct Announce {
    state: AnnounceState,
    digits: u32,
    value: u64,
    overflow: bool,
    plus: bool,
}

impl Announce {
    /// One more byte of the line (its LF excluded).
    pub fn feed(&mut self, b: u8) {
        use AnnounceState::*;
        self.state = match (self.state, b) {
            (_, b'{') => {
                self.digits = 0;
                self.value = 0;
                self.overflow = false;
                self.plus = false;
                Open
            }
            (Open | Digits, b'0'..=b'9') => {
                self.digits += 1;
                match self.value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                    Some(v) => self.value = v,
                    None => self.overflow = true,
                }
                Digits
            }
            (Open | Digits, b'+') => {
                self.plus = true;
                Plus
            }
            (Open | Digits | Plus, b'}') => Close,
            (Close, b'\r') => CloseCr,
            _ => Other,
        };
    }

    /// What the bytes fed so far announce, if the line ends here.
    pub fn at_line_end(&self) -> Announced {
        if !matches!(self.state, AnnounceState::Close | AnnounceState::CloseCr) {
            return Announced::None;
        }
        // number64 = 1*DIGIT, unsigned 63-bit.
        if self.digits == 0 || self.overflow || self.value > i64::MAX as u64 {
            return Announced::Bad;
        }
        Announced::Literal { size: self.value, sync: !self.plus }
    }

    /// What a whole line (without its LF) announces.
    pub fn of_line(line: &[u8]) -> Announced {
        let mut a = Announce::default();
        for &b in line {
            a.feed(b);
        }
        a.at_line_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements() {
        assert_eq!(Announce::of_line(b"a APPEND INBOX {5}"), Announced::Literal { size: 5, sync: true });
        assert_eq!(Announce::of_line(b"a APPEND INBOX {5+}\r"), Announced::Literal { size: 5, sync: false });
        assert_eq!(
            Announce::of_line(b"* 1 FETCH (BINARY[] ~{7}"),
            Announced::Literal { size: 7, sync: true }
        );
        assert_eq!(Announce::of_line(b"a LOGIN {}"), Announced::Bad);
        assert_eq!(Announce::of_line(b"a X {99999999999999999999}"), Announced::Bad);
        assert_eq!(Announce::of_line(b"* OK {5} then text"), Announced::None);
        assert_eq!(Announce::of_line(b"* OK done"), Announced::None);
    }
}
