//! The DATA body (RFC 5321 §4.1.1.4, §4.5.2; RFC 2033 §4.2) read from the byte stream in pieces
//! of any size, without IO.
//!
//! The end of the data is `CRLF . CRLF`: a line that holds only a dot, where "line" means what
//! follows a CRLF (or the CRLF of the DATA command itself). The reader carries its place in the
//! line from one piece to the next, so a piece that happens to be `.\r\n` in the middle of a
//! longer line is text, not the end: where the network reads stop must not change what the
//! message is (the old reader took a 1 MiB read that ended just before `.\r\n` as a line end,
//! and the bytes after it as new commands, so one sender's message could carry another's mail).
//! A bare LF never starts a line here: `\n.\n` and `\n.\r\n` are text (the "SMTP smuggling"
//! family of tricks rests on receivers that accept them as the end).

use super::session::Failure;

/// Longest text line by RFC 5321 §4.5.3.1.6, counted with its CRLF and without the dot added
/// for transparency.
pub const RFC_LINE_LENGTH: usize = 1000;

/// Collects one message body: dot-unstuffed, capped in size and in line length. Past a cap it
/// keeps reading to the end of the data (so that the session stays in step with the client)
/// but keeps none of the bytes.
#[derive(Debug)]
pub struct Body {
    data: Vec<u8>,
    /// Largest message kept, in bytes (after unstuffing).
    max_size: usize,
    /// Longest line allowed, with its line end.
    max_line: usize,
    /// Where in a line the last byte left the reader.
    at: At,
    /// Bytes of the current line so far, its leading transparency dot not counted; a CR at the
    /// end is counted, since it is text unless an LF follows.
    line_len: usize,
    /// Why the message will be refused, once it is known; the first reason wins.
    refused: Option<Failure>,
}

/// The reader's place, which survives the end of a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// After a CRLF (or at the very start): a dot here is special.
    LineStart,
    /// A dot at the start of a line, dropped (RFC 5321 §4.5.2: the first dot of a line that has
    /// more characters is deleted); the line may still turn out to be the lone dot.
    Dot,
    /// `.` and CR at the start of a line: an LF now ends the data. The CR is not kept yet.
    DotCr,
    /// Inside a line; `cr` when its last byte was a CR.
    Text { cr: bool },
}

impl Body {
    /// `max_size` caps the message; `max_line` the length of a line with its line end (the
    /// config keeps it at [`RFC_LINE_LENGTH`] or more: a server must take lines of that length).
    pub fn new(max_size: usize, max_line: usize) -> Self {
        Body { data: Vec::new(), max_size, max_line, at: At::LineStart, line_len: 0, refused: None }
    }

    /// Takes the next bytes of the stream. Returns `Some(n)` when the end of the data is among
    /// them: the first `n` bytes belonged to the body (the terminating `.` CRLF included) and
    /// the rest is the client's next command. `None`: all were body, read on.
    pub fn push(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.at {
                At::LineStart if input[i] == b'.' => {
                    self.at = At::Dot;
                    i += 1;
                }
                At::Dot if input[i] == b'\r' => {
                    self.at = At::DotCr;
                    i += 1;
                }
                At::DotCr if input[i] == b'\n' => return Some(i + 1),
                At::DotCr => {
                    // `.` CR and more: the dot goes, the CR is text, and the byte is read next.
                    self.keep(b"\r");
                    self.text_cr();
                    self.at = At::Text { cr: true };
                }
                At::LineStart | At::Dot => self.at = At::Text { cr: false },
                At::Text { cr } => {
                    // A run of plain bytes at once; a CR or LF alone.
                    let run =
                        input[i..].iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(input.len() - i);
                    if run > 0 {
                        self.text(&input[i..i + run]);
                        self.at = At::Text { cr: false };
                        i += run;
                        continue;
                    }
                    let b = input[i];
                    i += 1;
                    self.keep(&[b]);
                    if b == b'\n' {
                        // A bare LF ends a line for the length count (the store turns it into
                        // CRLF) but does not start one for the end of the data.
                        self.line_len = 0;
                        self.at = if cr { At::LineStart } else { At::Text { cr: false } };
                    } else {
                        self.text_cr();
                        self.at = At::Text { cr: true };
                    }
                }
            }
        }
        None
    }

    /// Bytes that are neither CR nor LF.
    fn text(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len();
        // A CR before these bytes was text, so the whole count is text; CRLF must still fit.
        if self.line_len > self.max_line.saturating_sub(2) {
            self.refuse(Failure::LineTooLong(self.max_line));
        }
        self.keep(bytes);
    }

    /// A CR: text unless an LF follows, so it may take the line to `max_line - 1` bytes (which
    /// is `max_line` with the LF); a CR after a CR makes the first one text.
    fn text_cr(&mut self) {
        self.line_len += 1;
        if self.line_len > self.max_line.saturating_sub(1) {
            self.refuse(Failure::LineTooLong(self.max_line));
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.refused.is_some() {
            return;
        }
        if self.data.len() + bytes.len() > self.max_size {
            self.refuse(Failure::TooBig);
            return;
        }
        self.data.extend_from_slice(bytes);
    }

    fn refuse(&mut self, why: Failure) {
        if self.refused.is_none() {
            self.refused = Some(why);
            // Nothing more is kept: a refused message costs no memory while it is read to its end.
            self.data = Vec::new();
        }
    }

    /// The message, or why it is refused.
    pub fn finish(self) -> Result<Vec<u8>, Failure> {
        match self.refused {
            Some(why) => Err(why),
            None => Ok(self.data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` in order; the message (or refusal) and the offset of the end in the whole
    /// stream.
    fn feed(pieces: &[&[u8]], max_size: usize, max_line: usize) -> (Result<Vec<u8>, Failure>, Option<usize>) {
        let mut b = Body::new(max_size, max_line);
        let mut offset = 0;
        for p in pieces {
            if let Some(n) = b.push(p) {
                return (b.finish(), Some(offset + n));
            }
            offset += p.len();
        }
        (b.finish(), None)
    }

    fn whole(stream: &[u8], max_line: usize) -> (Result<Vec<u8>, Failure>, Option<usize>) {
        feed(&[stream], usize::MAX, max_line)
    }

    #[test]
    fn unstuffs_and_ends_at_the_lone_dot() {
        let s = b"Subject: x\r\n\r\n..leading dot\r\n.single dot goes\r\n.\r\nNOOP\r\n";
        let (msg, end) = whole(s, 1000);
        assert_eq!(msg.ok(), Some(b"Subject: x\r\n\r\n.leading dot\r\nsingle dot goes\r\n".to_vec()));
        assert_eq!(end, Some(s.len() - b"NOOP\r\n".len()));
        // The data may be empty: the DATA command's CRLF starts the first line.
        assert_eq!(whole(b".\r\n", 1000), (Ok(Vec::new()), Some(3)));
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_data() {
        for s in
            [&b"a\n.\nb\r\n"[..], b"a\n.\r\nb\r\n", b"a\r\n.\nb\r\n", b"a\r.\r\nb\r\n", b"a\r\n. \r\nb\r\n"]
        {
            let (msg, end) = whole(s, 1000);
            assert_eq!(end, None, "{:?} is not the end", String::from_utf8_lossy(s));
            assert!(msg.is_ok());
        }
        // `.` CR CR LF: the dot goes, the first CR is text, and the line ends normally.
        let (msg, end) = whole(b".\r\r\n.\r\n", 1000);
        assert_eq!((msg.ok(), end), (Some(b"\r\r\n".to_vec()), Some(7)));
    }

    /// The forgery of issue 10: a dot right after a read boundary is not at a line start.
    #[test]
    fn a_piece_that_is_a_lone_dot_mid_line_is_text() {
        let line = vec![b'A'; 1 << 20];
        let (msg, end) = feed(&[&line, b".\r\n", b"MAIL FROM:<s@x>\r\n", b"\r\n.\r\n"], usize::MAX, 4 << 20);
        assert_eq!(end, Some((1 << 20) + 3 + 17 + 5));
        let msg = msg.expect("long lines allowed");
        assert!(msg.ends_with(b"A.\r\nMAIL FROM:<s@x>\r\n\r\n"));
        // With the RFC's limit, the same stream is one refused message, read to the same end.
        let (msg, end) = feed(&[&line, b".\r\n", b"MAIL FROM:<s@x>\r\n", b"\r\n.\r\n"], usize::MAX, 1000);
        assert_eq!((msg, end), (Err(Failure::LineTooLong(1000)), Some((1 << 20) + 25)));
    }

    /// Every way of cutting the stream into two or three pieces, at every byte around the dots
    /// and line ends, gives the same message and the same end as reading it whole.
    #[test]
    fn every_split_gives_the_same_result() {
        let mut stream = b"Subject: s\r\n\r\n..x\r\n.y\r\n\r\n.\r\r\na\n.\nb\n.\r\n".to_vec();
        stream.extend_from_slice(&[b'A'; 40]);
        stream.extend_from_slice(b".\r\nMAIL FROM:<s@x>\r\n.\r\nNEXT\r\n");
        for max_line in [1000, 30] {
            let expected = whole(&stream, max_line);
            assert_eq!(expected.1, Some(stream.len() - b"NEXT\r\n".len()));
            for i in 0..=stream.len() {
                let (a, rest) = stream.split_at(i);
                assert_eq!(feed(&[a, rest], usize::MAX, max_line), expected, "split at {i}");
                for j in i..=stream.len() {
                    let (b, c) = rest.split_at(j - i);
                    assert_eq!(feed(&[a, b, c], usize::MAX, max_line), expected, "split at {i}, {j}");
                }
            }
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(feed(&bytes, usize::MAX, max_line), expected, "byte by byte");
        }
        assert_eq!(whole(&stream, 30).0, Err(Failure::LineTooLong(30)), "the line of 40 A is too long");
    }

    #[test]
    fn line_length_counts_the_crlf_and_not_the_stuffed_dot() {
        let line = |n: usize, lead: &[u8]| {
            let mut l = lead.to_vec();
            l.resize(lead.len() + n, b'x');
            l.extend_from_slice(b"\r\n.\r\n");
            l
        };
        // 998 octets + CRLF = 1000: allowed; 999 + CRLF: not.
        assert!(whole(&line(998, b""), 1000).0.is_ok());
        assert_eq!(whole(&line(999, b""), 1000).0, Err(Failure::LineTooLong(1000)));
        // The dot added for transparency does not count.
        assert!(whole(&line(997, b".."), 1000).0.is_ok());
        assert!(whole(&line(998, b"."), 1000).0.is_ok());
        // A CR that is not followed by LF is text.
        let mut s = vec![b'x'; 997];
        s.extend_from_slice(b"\r\r\n.\r\n");
        assert!(whole(&s, 1000).0.is_ok(), "997 + CR + CRLF = 1000");
        let mut s = vec![b'x'; 998];
        s.extend_from_slice(b"\r\r\n.\r\n");
        assert_eq!(whole(&s, 1000).0, Err(Failure::LineTooLong(1000)));
        // Bare LFs end lines for the count (they are stored as CRLF).
        let mut s = Vec::new();
        for _ in 0..10 {
            s.extend_from_slice(&[b'y'; 900]);
            s.push(b'\n');
        }
        s.extend_from_slice(b"\r\n.\r\n");
        assert!(whole(&s, 1000).0.is_ok());
        // A larger limit takes longer lines.
        assert!(whole(&line(5000, b""), 5002).0.is_ok());
        assert_eq!(whole(&line(5001, b""), 5002).0, Err(Failure::LineTooLong(5002)));
    }

    #[test]
    fn size_cap_drops_the_bytes_and_reads_on() {
        let mut s = b"0123456789abc\r\n".to_vec();
        s.extend_from_slice(b".\r\nNOOP\r\n");
        let (msg, end) = feed(&[&s], 10, 1000);
        assert_eq!((msg, end), (Err(Failure::TooBig), Some(18)));
        let (msg, _) = feed(&[b"0123456789\r\n.\r\n"], 12, 1000);
        assert_eq!(msg.ok(), Some(b"0123456789\r\n".to_vec()));
    }
}
