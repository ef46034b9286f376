//! Splits the client byte stream into complete commands before anything parses them (STYLE.md §2).
//!
//! A command is one or more lines; every line but the last ends with a literal announcement
//! (`{n}`, `{n+}`, `~{n}`, `~{n+}`; RFC 9051 §4.3, RFC 7888 LITERAL+, RFC 3516 literal8) and is
//! followed by `n` bytes of literal data. The [`Framer`] collects such a command byte for byte as
//! received and hands it over whole ([`Frame::Command`]), so `proto::parse` never sees half a
//! command and never waits for the network.
//!
//! Caps, all checked as bytes arrive so memory stays bounded:
//! * `max_line`: bytes in one line, literal data and the line ending not counted. A longer line
//!   is dropped as it streams in, never buffered whole.
//! * `max_literal`: the announced size of one literal.
//! * `max_command`: the whole command, lines and literals (default: `max_literal` plus 64 lines),
//!   so many small literals cannot grow one command without bound either.
//!
//! A refused command ([`Frame::Rejected`]) is answered by the session; the framer drops whatever
//! the client still sends for it and goes on with the next command.
//!
//! Line endings: CRLF, or a bare LF (tolerated from hand-typed sessions). This is safe because a
//! line is only ever ended by LF and literal data is counted, never scanned, so a lone CR or LF
//! inside a literal cannot end or start anything. A CR not followed by LF stays in the line (the
//! parser rejects it).
//!
//! Raw lines: while IDLE waits for `DONE` (RFC 9051 §6.3.13) and while AUTHENTICATE waits for a
//! client response (§6.2.2), the next line is not a command. The session calls
//! [`Framer::expect_raw_line`]; the next line then comes back as a [`Frame::Command`] holding that
//! one line with its line ending, with no literal announcement honoured (so `DONE {5}` cannot
//! make the framer wait for data), for `parse::parse_done` or `parse::parse_sasl_response`.

use super::literal::{Announce, Announced};

/// What the framer hands to the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete command: its lines with CRLF and literal bytes, exactly as received (or, after
    /// [`Framer::expect_raw_line`], one raw line).
    Command(Vec<u8>),
    /// The client announced a synchronising literal `{n}` (RFC 9051 §4.3, §7.5): the server must
    /// now send a continuation request (`+ ...`) for the client to go on, or refuse the command
    /// (a tagged NO or BAD) and call [`Framer::refuse_literal`]. `tag` is the first word of the
    /// command (empty if there is none), `command` the second (the command name, as sent), so
    /// that the session can refuse a literal of a command its state does not allow before the
    /// client sends it.
    ContinuationNeeded { tag: Vec<u8>, command: Vec<u8>, size: u64 },
    /// Only after [`Framer::report_non_sync_literals`]: the client announced a
    /// non-synchronising literal `{n+}` (RFC 7888 §4), whose data follows without waiting.
    /// The framer goes on collecting it at the next call; the session may instead refuse the
    /// command (answer it, then call [`Framer::refuse_literal`]: the data is then dropped as it
    /// arrives, with the rest of the command). `tag` and `command` as for `ContinuationNeeded`.
    LiteralFollows { tag: Vec<u8>, command: Vec<u8>, size: u64 },
    /// Refused at a known boundary; the session answers (tagged BAD, or `NO [TOOBIG]`) and the
    /// framer has already skipped the rest of that command. For a refused synchronising literal
    /// nothing more is expected from the client; for a non-synchronising `{n+}` literal that is
    /// too big the framer discards the n bytes (and the rest of the command) as they arrive,
    /// RFC 7888 §4, and the session should answer BAD and may close. `tag` is the command's
    /// first word when it is a valid tag.
    Rejected { tag: Option<Vec<u8>>, reason: Rejection },
}

/// Why a command was refused by the framer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A line was longer than `max_line`. Reported when the line ends.
    LineTooLong,
    /// A literal announced more than `max_literal` bytes, or more than the command has room for.
    /// Reported as soon as it is announced.
    LiteralTooBig { size: u64, synchronising: bool },
    /// A literal announcement whose size is empty (`{}`) or over 63 bits (`number64`). For a
    /// non-synchronising one the framer cannot know where the command ends; it resumes at the
    /// next line, and the session should close the connection.
    BadLiteral,
    /// The lines and literals of one command together passed `max_command`.
    CommandTooBig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a line of the current command (or the first line of the next one).
    Line,
    /// Copying (or, when the command is refused, dropping) literal data.
    Literal { remaining: u64 },
}

/// Splits a client byte stream into [`Frame`]s. Pure: the network layer pushes what it reads and
/// acts on what `next` returns.
#[derive(Debug)]
pub struct Framer {
    /// Longest line accepted, without its line ending; literal data is not counted.
    max_line: usize,
    /// Largest literal accepted.
    max_literal: u64,
    /// Largest non-synchronising literal accepted (4096 under LITERAL-, RFC 7888 §5), on top of
    /// `max_literal`.
    max_non_sync_literal: u64,
    /// Largest command accepted, lines and literals together.
    max_command: u64,
    /// Bytes pushed and not yet framed: `input[start..]`. Consumed bytes are dropped lazily so
    /// that many small pipelined commands do not cost a copy each.
    input: Vec<u8>,
    start: usize,
    /// The command being assembled, exactly as received (empty while a refused one is skipped).
    cmd: Vec<u8>,
    state: State,
    /// Bytes of the current line so far, including any dropped ones and a trailing CR.
    line_len: usize,
    /// The last byte of the current line was CR (so it is not counted against `max_line` if LF follows).
    last_cr: bool,
    /// Watches the current line for a literal announcement at its end.
    announce: Announce,
    /// The current line passed a cap and is being dropped; the refusal is reported at its end.
    line_refused: Option<Rejection>,
    /// The tag of a command refused mid-line, kept because its first line may have been dropped.
    refused_tag: Option<Vec<u8>>,
    /// The current command was refused and answered: its remaining bytes are dropped silently.
    skipping: bool,
    /// The current line is the first of a command (not one following a literal).
    first_line: bool,
    /// The session wants the next line raw (IDLE's DONE, AUTHENTICATE responses).
    raw_line: bool,
    /// The literal being collected was announced non-synchronising (its data comes unasked).
    non_sync: bool,
    /// Hand out [`Frame::LiteralFollows`] for non-synchronising literals.
    report_non_sync: bool,
}

impl Framer {
    /// A framer with the given caps and a whole-command cap of `max_literal + 64 * max_line`.
    pub fn new(max_line: usize, max_literal: u64) -> Self {
        Framer {
            max_line,
            max_literal,
            max_non_sync_literal: u64::MAX,
            max_command: Self::default_max_command(max_line, max_literal),
            input: Vec::new(),
            start: 0,
            cmd: Vec::new(),
            state: State::Line,
            line_len: 0,
            last_cr: false,
            announce: Announce::default(),
            line_refused: None,
            refused_tag: None,
            skipping: false,
            first_line: true,
            raw_line: false,
            non_sync: false,
            report_non_sync: false,
        }
    }

    /// The whole-command cap [`Framer::new`] sets: `max_literal` plus 64 lines.
    pub fn default_max_command(max_line: usize, max_literal: u64) -> u64 {
        let lines = u64::try_from(max_line).unwrap_or(u64::MAX).saturating_mul(64);
        max_literal.saturating_add(lines)
    }

    /// Changes the literal and whole-command caps, e.g. when a session logs in (before that,
    /// only the few KiB LOGIN needs are accepted). Takes effect from the next announcement or
    /// line on; call it between commands.
    pub fn set_limits(&mut self, max_literal: u64, max_command: u64) {
        self.max_literal = max_literal;
        self.max_command = max_command;
    }

    /// From now on, non-synchronising literals are announced with [`Frame::LiteralFollows`],
    /// so that the session can account for (or refuse) their data before it is collected.
    pub fn report_non_sync_literals(&mut self) {
        self.report_non_sync = true;
    }

    /// Sets the whole-command cap (lines and literals together), e.g. to allow MULTIAPPEND of
    /// several large messages.
    pub fn set_max_command(&mut self, max_command: u64) {
        self.max_command = max_command;
    }

    /// Caps non-synchronising literals lower than `max_literal`: 4096 for a server that
    /// advertises LITERAL- rather than LITERAL+ (RFC 7888 §5). A larger `{n+}` is
    /// [`Rejection::LiteralTooBig`] with `synchronising: false`.
    pub fn set_max_non_sync_literal(&mut self, max: u64) {
        self.max_non_sync_literal = max;
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Bytes received and not yet handed out in a frame (unframed input plus the command being
    /// assembled). STARTTLS must find no unframed input after its command (RFC 9051 §6.2.1): see
    /// [`Framer::take_unframed`].
    pub fn buffered(&self) -> usize {
        self.input.len() - self.start + self.cmd.len()
    }

    /// Removes and returns the bytes pushed but not framed yet, and forgets any command in
    /// progress. For the moment the stream changes under the framer: after STARTTLS (the
    /// plaintext that followed must be discarded, not run after the handshake) and after
    /// COMPRESS DEFLATE (what follows is compressed and must go through the inflater first).
    pub fn take_unframed(&mut self) -> Vec<u8> {
        let rest = self.input.split_off(self.start);
        self.input = Vec::new();
        self.start = 0;
        self.end_command();
        self.raw_line = false;
        rest
    }

    /// The next line is to be returned raw, as one [`Frame::Command`] (see the module docs).
    /// Call it between commands: after `next` returned the IDLE or AUTHENTICATE command.
    pub fn expect_raw_line(&mut self) {
        self.raw_line = true;
    }

    /// After [`Frame::ContinuationNeeded`], the session refuses the literal instead of sending a
    /// continuation request: the command is dropped. The client, having received no `+`,
    /// sends nothing more of it. After [`Frame::LiteralFollows`] the data is on its way: it is
    /// dropped as it arrives, and the rest of the command with it (RFC 7888 §4).
    pub fn refuse_literal(&mut self) {
        if let State::Literal { remaining } = self.state
            && !self.skipping
        {
            if self.non_sync {
                self.skip_literal(remaining);
            } else {
                self.end_command();
            }
        }
    }

    /// Takes `input[from..to]` (no LF) into the current line, checking the caps.
    fn line_bytes(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        for &b in &self.input[from..to] {
            self.announce.feed(b);
        }
        self.last_cr = self.input[to - 1] == b'\r';
        let before = self.line_len;
        self.line_len += to - from;
        if self.skipping || self.line_refused.is_some() {
            return;
        }
        // One byte more than the cap is kept while it may be the CR of a CRLF; of a longer line
        // only that much is kept, enough to find its tag.
        let cap = self.max_line.saturating_add(1);
        let keep = cap.saturating_sub(before).min(to - from);
        self.cmd.extend_from_slice(&self.input[from..from + keep]);
        if self.line_len > cap {
            self.refuse_line(Rejection::LineTooLong);
        } else if self.cmd.len() as u64 > self.max_command {
            self.refuse_line(Rejection::CommandTooBig);
        }
    }

    /// The current line passed a cap: keep the tag, drop what is buffered of the line.
    fn refuse_line(&mut self, reason: Rejection) {
        self.refused_tag = tag_of(&self.cmd);
        self.cmd = Vec::new();
        self.line_refused = Some(reason);
    }

    /// A line ended (its LF consumed). Returns a frame, or `None` to go on reading.
    fn end_line(&mut self) -> Option<Frame> {
        let announced = self.announce.at_line_end();
        let content_len = self.line_len - usize::from(self.last_cr);
        if self.line_refused.is_none() && !self.skipping {
            if content_len > self.max_line {
                self.refuse_line(Rejection::LineTooLong);
            } else if self.cmd.len() as u64 > self.max_command {
                self.refuse_line(Rejection::CommandTooBig);
            }
        }

        if self.raw_line && self.first_line && !self.skipping {
            self.raw_line = false;
            let frame = match self.line_refused {
                Some(_) => Frame::Rejected { tag: None, reason: Rejection::LineTooLong },
                None => Frame::Command(std::mem::take(&mut self.cmd)),
            };
            self.end_command();
            return Some(frame);
        }

        if self.skipping {
            // Already refused and answered: follow the command to its end without keeping it.
            match announced {
                Announced::Literal { size, sync: false, .. } => self.skip_literal(size),
                _ => self.end_command(),
            }
            return None;
        }

        if let Some(reason) = self.line_refused {
            let tag = self.refused_tag.take();
            match announced {
                Announced::Literal { size, sync: false, .. } => self.skip_literal(size),
                _ => self.end_command(),
            }
            return Some(Frame::Rejected { tag, reason });
        }

        match announced {
            Announced::None => {
                let cmd = std::mem::take(&mut self.cmd);
                self.end_command();
                Some(Frame::Command(cmd))
            }
            Announced::Bad => {
                let tag = tag_of(&self.cmd);
                self.end_command();
                Some(Frame::Rejected { tag, reason: Rejection::BadLiteral })
            }
            Announced::Literal { size, sync } => {
                let room = self.max_command.saturating_sub(self.cmd.len() as u64);
                let cap =
                    if sync { self.max_literal } else { self.max_literal.min(self.max_non_sync_literal) };
                if size > cap || size > room {
                    let tag = tag_of(&self.cmd);
                    if sync {
                        self.end_command();
                    } else {
                        self.skip_literal(size);
                    }
                    return Some(Frame::Rejected {
                        tag,
                        reason: Rejection::LiteralTooBig { size, synchronising: sync },
                    });
                }
                self.state = State::Literal { remaining: size };
                self.first_line = false;
                self.non_sync = !sync;
                // The size is known and within the caps: one allocation (with room for the usual
                // tail of the line after it) instead of doublings, each of which may briefly hold
                // the old and the new buffer. Best effort only.
                let _ = self.cmd.try_reserve_exact(usize::try_from(size.saturating_add(256)).unwrap_or(0));
                if sync {
                    let (tag, command) = words_of(&self.cmd);
                    return Some(Frame::ContinuationNeeded { tag, command, size });
                }
                if self.report_non_sync {
                    let (tag, command) = words_of(&self.cmd);
                    return Some(Frame::LiteralFollows { tag, command, size });
                }
                None
            }
        }
    }

    fn skip_literal(&mut self, size: u64) {
        self.cmd = Vec::new();
        self.skipping = true;
        self.first_line = false;
        self.state = State::Literal { remaining: size };
    }

    /// Starts a new line of the same command (after a literal).
    fn begin_line(&mut self) {
        self.state = State::Line;
        self.line_len = 0;
        self.last_cr = false;
        self.announce = Announce::default();
        self.line_refused = None;
    }

    /// Forgets the current command; the next byte starts a new one.
    fn end_command(&mut self) {
        if !self.cmd.is_empty() {
            self.cmd = Vec::new();
        }
        self.skipping = false;
        self.refused_tag = None;
        self.first_line = true;
        self.begin_line();
    }

    /// Drops consumed input once it is worth a copy.
    fn compact(&mut self) {
        if self.start == self.input.len() {
            if self.input.capacity() > 64 * 1024 {
                self.input = Vec::new();
            } else {
                self.input.clear();
            }
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.input.len() {
            self.input.drain(..self.start);
            self.start = 0;
        }
    }
}

/// `Framer::next` is the iterator's `next`, so `while let Some(frame) = framer.next()` and
/// `for frame in &mut framer` both drain what has been pushed.
impl Iterator for Framer {
    type Item = Frame;

    /// The next event; `None` means more bytes are needed (push them and call again: unlike most
    /// iterators this one goes on after a `None`).
    fn next(&mut self) -> Option<Frame> {
        loop {
            let avail = self.input.len() - self.start;
            match self.state {
                State::Literal { remaining } => {
                    if remaining == 0 {
                        self.begin_line();
                        continue;
                    }
                    if avail == 0 {
                        self.compact();
                        return None;
                    }
                    let take = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
                    if !self.skipping {
                        self.cmd.extend_from_slice(&self.input[self.start..self.start + take]);
                    }
                    self.start += take;
                    self.state = State::Literal { remaining: remaining - take as u64 };
                }
                State::Line => {
                    if avail == 0 {
                        self.compact();
                        return None;
                    }
                    let lf = self.input[self.start..].iter().position(|&b| b == b'\n');
                    let end = lf.map_or(self.input.len(), |i| self.start + i);
                    self.line_bytes(self.start, end);
                    self.start = end;
                    if lf.is_some() {
                        self.start += 1;
                        if !self.skipping && self.line_refused.is_none() {
                            self.cmd.push(b'\n');
                        }
                        if let Some(frame) = self.end_line() {
                            return Some(frame);
                        }
                    }
                }
            }
        }
    }
}

/// The command's first word if it is a valid tag (`tag = 1*<any ASTRING-CHAR except "+">`).
fn tag_of(cmd: &[u8]) -> Option<Vec<u8>> {
    let end = cmd.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'))?;
    let word = &cmd[..end];
    let tag = crate::proto::command::Tag::try_from(word).ok()?;
    Some(tag.as_str().as_bytes().to_vec())
}

/// The command's first and second words, whatever they hold (the tag and the command name, for
/// [`Frame::ContinuationNeeded`] and [`Frame::LiteralFollows`]).
fn words_of(cmd: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let word = |s: &[u8]| s.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n')).unwrap_or(s.len());
    let t = word(cmd);
    let rest = cmd.get(t + 1..).filter(|_| cmd.get(t) == Some(&b' ')).unwrap_or_default();
    let c = word(rest);
    (cmd[..t].to_vec(), rest[..c].to_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frames(f: &mut Framer) -> Vec<Frame> {
        f.by_ref().collect()
    }

    fn cmd(b: &[u8]) -> Frame {
        Frame::Command(b.to_vec())
    }

    fn cont(tag: &[u8], command: &[u8], size: u64) -> Frame {
        Frame::ContinuationNeeded { tag: tag.to_vec(), command: command.to_vec(), size }
    }

    #[test]
    fn announcements_name_the_command() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a1 APPEND INBOX {3}\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"a1", b"APPEND", 3)]);
        f.refuse_literal();
        // The second literal of a command names the command of its first line; no command
        // name at all is an empty one.
        f.push(b"a2 login {1}\r\nx {2}\r\nyy\r\n{4}\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                cont(b"a2", b"login", 1),
                cont(b"a2", b"login", 2),
                cmd(b"a2 login {1}\r\nx {2}\r\nyy\r\n"),
                cont(b"{4}", b"", 4)
            ]
        );
    }

    #[test]
    fn non_sync_literals_reported_on_request() {
        let mut f = Framer::new(100, 1000);
        f.report_non_sync_literals();
        f.push(b"a APPEND x {3+}\r\nabc\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::LiteralFollows { tag: b"a".to_vec(), command: b"APPEND".to_vec(), size: 3 },
                cmd(b"a APPEND x {3+}\r\nabc\r\n")
            ]
        );
        // Refused: the data (pushed before or after the refusal) and the rest of the command,
        // with its further literals, are dropped; nothing of it is buffered.
        f.push(b"b APPEND x {10+}\r\n0123");
        assert_eq!(
            f.next(),
            Some(Frame::LiteralFollows { tag: b"b".to_vec(), command: b"APPEND".to_vec(), size: 10 })
        );
        f.refuse_literal();
        assert_eq!(f.next(), None);
        assert_eq!(f.buffered(), 0);
        f.push(b"456789 {2+}\r\nzz\r\nc NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"c NOOP\r\n")]);
    }

    #[test]
    fn limits_change_between_commands() {
        // Before login: small caps; after: the configured ones.
        let mut f = Framer::new(100, 10_000);
        f.set_limits(16, 200);
        f.push(b"a LOGIN {17}\r\n");
        assert_eq!(
            frames(&mut f),
            vec![Frame::Rejected {
                tag: Some(b"a".to_vec()),
                reason: Rejection::LiteralTooBig { size: 17, synchronising: true }
            }]
        );
        f.push(b"b LOGIN {16}\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"b", b"LOGIN", 16)]);
        f.refuse_literal();
        f.set_limits(10_000, Framer::default_max_command(100, 10_000));
        f.push(b"c APPEND x {5000}\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"c", b"APPEND", 5000)]);
    }

    #[test]
    fn simple_and_pipelined_commands() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOG");
        assert_eq!(frames(&mut f), vec![cmd(b"a1 NOOP\r\n"), cmd(b"a2 CAPABILITY\r\n")]);
        assert_eq!(f.buffered(), 6);
        f.push(b"OUT\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"a3 LOGOUT\r\n")]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bare_lf_is_a_line_end() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a NOOP\nb LOGIN {3}\nabc x\n");
        assert_eq!(
            frames(&mut f),
            vec![cmd(b"a NOOP\n"), cont(b"b", b"LOGIN", 3), cmd(b"b LOGIN {3}\nabc x\n")]
        );
    }

    #[test]
    fn synchronising_literal_split_across_pushes() {
        // RFC 9051 §7.5 LOGIN example with literals.
        let mut f = Framer::new(100, 1000);
        let whole = b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n";
        for chunk in whole.chunks(3) {
            f.push(chunk);
        }
        assert_eq!(
            frames(&mut f),
            vec![cont(b"A001", b"LOGIN", 11), cont(b"A001", b"LOGIN", 7), cmd(whole),]
        );
        // Byte by byte, asking after every byte.
        let mut f = Framer::new(100, 1000);
        let mut got = Vec::new();
        for &b in whole.iter() {
            f.push(&[b]);
            got.extend(frames(&mut f));
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], cmd(whole));
    }

    #[test]
    fn literal_data_is_counted_not_scanned() {
        let mut f = Framer::new(100, 1000);
        // The literal holds CRLFs and a fake announcement.
        f.push(b"a APPEND x {12+}\r\n{3}\r\nab\r\n\nc\r\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"a APPEND x {12+}\r\n{3}\r\nab\r\n\nc\r\r\n")]);
    }

    #[test]
    fn all_literal_forms() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a APPEND x ~{2}\r\n\0\x01 (\\Seen) {1+}\r\nz ~{3+}\r\nabc\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                cont(b"a", b"APPEND", 2),
                cmd(b"a APPEND x ~{2}\r\n\0\x01 (\\Seen) {1+}\r\nz ~{3+}\r\nabc\r\n"),
            ]
        );
        // {0} still needs a continuation; {0+} does not.
        let mut f = Framer::new(100, 1000);
        f.push(b"a LOGIN {0}\r\n {0+}\r\n\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"a", b"LOGIN", 0), cmd(b"a LOGIN {0}\r\n {0+}\r\n\r\n")]);
    }

    #[test]
    fn line_cap_streams_and_resumes() {
        let mut f = Framer::new(10, 1000);
        f.push(b"a12345678\r\n"); // 9 bytes: fine
        f.push(b"tag 0123456789");
        assert_eq!(frames(&mut f), vec![cmd(b"a12345678\r\n")]);
        // Streaming a huge line keeps memory bounded.
        for _ in 0..1000 {
            f.push(&[b'x'; 1000]);
            assert!(frames(&mut f).is_empty());
            assert!(f.buffered() < 64, "buffered {}", f.buffered());
        }
        f.push(b"\r\nb NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected { tag: Some(b"tag".to_vec()), reason: Rejection::LineTooLong },
                cmd(b"b NOOP\r\n")
            ]
        );
    }

    #[test]
    fn line_cap_is_exact_and_excludes_crlf() {
        let mut f = Framer::new(10, 1000);
        f.push(b"a 34567890\r\na 345678901\r\na 34567890\n");
        assert_eq!(
            frames(&mut f),
            vec![
                cmd(b"a 34567890\r\n"),
                Frame::Rejected { tag: Some(b"a".to_vec()), reason: Rejection::LineTooLong },
                cmd(b"a 34567890\n"),
            ]
        );
    }

    #[test]
    fn line_cap_counts_each_line_not_literals() {
        let mut f = Framer::new(16, 1000);
        let c = b"a LOGIN {30+}\r\n012345678901234567890123456789 {3+}\r\nabc\r\n";
        f.push(c);
        assert_eq!(frames(&mut f), vec![cmd(c)]);
        // Second line too long: rejected, and its non-synchronising literal is skipped.
        f.push(b"b LOGIN {1+}\r\nx 0123456789012345678 {4+}\r\nw\r\nx\r\nc NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected { tag: Some(b"b".to_vec()), reason: Rejection::LineTooLong },
                cmd(b"c NOOP\r\n")
            ]
        );
    }

    #[test]
    fn overlong_line_ending_in_literal_announcement() {
        let mut f = Framer::new(8, 1000);
        // Synchronising: the client waits for a continuation that never comes.
        f.push(b"a SELECT mailbox-with-long-name {5}\r\nb NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected { tag: Some(b"a".to_vec()), reason: Rejection::LineTooLong },
                cmd(b"b NOOP\r\n")
            ]
        );
        // Non-synchronising: its data and the rest of the command are skipped.
        f.push(b"a SELECT mailbox-with-long-name {5+}\r\nb NOO");
        assert_eq!(
            frames(&mut f),
            vec![Frame::Rejected { tag: Some(b"a".to_vec()), reason: Rejection::LineTooLong }]
        );
        f.push(b"P\r\nc NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"c NOOP\r\n")]);
    }

    #[test]
    fn literal_cap_synchronising() {
        let mut f = Framer::new(100, 10);
        f.push(b"a APPEND INBOX {11}\r\nb NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected {
                    tag: Some(b"a".to_vec()),
                    reason: Rejection::LiteralTooBig { size: 11, synchronising: true }
                },
                cmd(b"b NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn literal_cap_non_synchronising_discards_data() {
        let mut f = Framer::new(100, 10);
        f.push(b"a APPEND INBOX {20+}\r\n0123456");
        assert_eq!(
            frames(&mut f),
            vec![Frame::Rejected {
                tag: Some(b"a".to_vec()),
                reason: Rejection::LiteralTooBig { size: 20, synchronising: false }
            }]
        );
        assert_eq!(f.buffered(), 0);
        // The rest of the literal, and the rest of the command with a second literal.
        f.push(b"7890123456789 (\\Seen) {3+}\r\nabc\r\nb NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"b NOOP\r\n")]);
    }

    #[test]
    fn literal_minus_cap() {
        let mut f = Framer::new(100, 10_000);
        f.set_max_non_sync_literal(4096);
        f.push(b"a APPEND x {4097}\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"a", b"APPEND", 4097)]);
        f.refuse_literal();
        f.push(b"b APPEND x {4096+}\r\n");
        f.push(&[b'x'; 4096]);
        f.push(b"\r\nc APPEND x {4097+}\r\n");
        f.push(&[b'x'; 4097]);
        f.push(b"\r\nd NOOP\r\n");
        let got = frames(&mut f);
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[0], Frame::Command(c) if c.len() == 4096 + 22));
        assert_eq!(
            got[1],
            Frame::Rejected {
                tag: Some(b"c".to_vec()),
                reason: Rejection::LiteralTooBig { size: 4097, synchronising: false }
            }
        );
        assert_eq!(got[2], cmd(b"d NOOP\r\n"));
    }

    #[test]
    fn take_unframed_mid_command_forgets_it() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a APPEND x {5+}\r\nab");
        assert_eq!(f.next(), None);
        assert_eq!(f.buffered(), 19);
        assert!(f.take_unframed().is_empty());
        f.push(b"b NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"b NOOP\r\n")]);
    }

    #[test]
    fn command_cap() {
        let mut f = Framer::new(100, 10);
        f.set_max_command(35);
        f.push(b"a X {10+}\r\n0123456789 {10+}\r\n0123456789 {10+}\r\n0123456789\r\nb NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected {
                    tag: Some(b"a".to_vec()),
                    reason: Rejection::LiteralTooBig { size: 10, synchronising: false }
                },
                cmd(b"b NOOP\r\n"),
            ]
        );
        // Many empty literals and lines within the line cap still hit the command cap.
        let mut f = Framer::new(100, 10);
        f.set_max_command(40);
        f.push(b"a X {0+}\r\n{0+}\r\n{0+}\r\n{0+}\r\n{0+}\r\n{0+}\r\n{0+}\r\n{0+}\r\n\r\nb NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![
                Frame::Rejected { tag: Some(b"a".to_vec()), reason: Rejection::CommandTooBig },
                cmd(b"b NOOP\r\n")
            ]
        );
    }

    #[test]
    fn bad_literals() {
        let mut f = Framer::new(100, 1000);
        f.push(
            b"a LOGIN {}\r\nb LOGIN {99999999999999999999}\r\nc LOGIN {9223372036854775808+}\r\nd NOOP\r\n",
        );
        let bad = |t: &[u8]| Frame::Rejected { tag: Some(t.to_vec()), reason: Rejection::BadLiteral };
        assert_eq!(frames(&mut f), vec![bad(b"a"), bad(b"b"), bad(b"c"), cmd(b"d NOOP\r\n")]);
        // Not announcements: passed on for the parser to reject.
        let mut f = Framer::new(100, 1000);
        f.push(b"a LOGIN {5} \r\nb X {5}x\r\nc X {a}\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"a LOGIN {5} \r\n"), cmd(b"b X {5}x\r\n"), cmd(b"c X {a}\r\n")]);
    }

    #[test]
    fn invalid_tags_are_not_echoed() {
        let mut f = Framer::new(4, 1000);
        f.push(b"a+b 123456\r\n\x01x 123456\r\n123456789\r\n");
        let r =
            |t: Option<&[u8]>| Frame::Rejected { tag: t.map(<[u8]>::to_vec), reason: Rejection::LineTooLong };
        assert_eq!(frames(&mut f), vec![r(None), r(None), r(None)]);
    }

    #[test]
    fn refused_continuation() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a LOGIN {5}\r\n");
        assert_eq!(frames(&mut f), vec![cont(b"a", b"LOGIN", 5)]);
        f.refuse_literal();
        f.push(b"b NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"b NOOP\r\n")]);
        // Refusing while a rejected literal is being skipped changes nothing.
        let mut f = Framer::new(100, 4);
        f.push(b"a APPEND x {8+}\r\nabcd");
        assert!(matches!(f.next(), Some(Frame::Rejected { .. })));
        f.refuse_literal();
        f.push(b"efgh\r\nb NOOP\r\n");
        assert_eq!(frames(&mut f), vec![cmd(b"b NOOP\r\n")]);
    }

    #[test]
    fn raw_lines_for_idle_and_authenticate() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a IDLE\r\nDONE {5}\r\nb NOOP\r\n");
        assert_eq!(f.next(), Some(cmd(b"a IDLE\r\n")));
        f.expect_raw_line();
        assert_eq!(f.next(), Some(cmd(b"DONE {5}\r\n")));
        assert_eq!(f.next(), Some(cmd(b"b NOOP\r\n")));
        // A raw line over the cap.
        let mut f = Framer::new(4, 1000);
        f.expect_raw_line();
        f.push(b"dGVzdA==\r\nDONE\r\n");
        assert_eq!(f.next(), Some(Frame::Rejected { tag: None, reason: Rejection::LineTooLong }));
        assert_eq!(f.next(), Some(cmd(b"DONE\r\n")));
    }

    #[test]
    fn take_unframed_after_starttls() {
        let mut f = Framer::new(100, 1000);
        f.push(b"a STARTTLS\r\nb LOGIN injected x\r\n");
        assert_eq!(f.next(), Some(cmd(b"a STARTTLS\r\n")));
        assert!(f.buffered() > 0);
        assert_eq!(f.take_unframed(), b"b LOGIN injected x\r\n");
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.next(), None);
    }

    #[test]
    fn many_pipelined_commands_in_one_push() {
        let mut f = Framer::new(100, 1000);
        let mut all = Vec::new();
        for i in 0..5000 {
            all.extend_from_slice(format!("t{i} NOOP\r\n").as_bytes());
        }
        f.push(&all);
        assert_eq!(frames(&mut f).len(), 5000);
        assert_eq!(f.buffered(), 0);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn run(f: &mut Framer, chunks: &[&[u8]]) -> Vec<Frame> {
            let mut out = Vec::new();
            for c in chunks {
                f.push(c);
                out.extend(frames(f));
            }
            out
        }

        fn stream() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                Just(b"a NOOP\r\n".to_vec()),
                Just(b"b LOGIN {3}\r\nabc x\r\n".to_vec()),
                Just(b"c APPEND x {4+}\r\n\r\n\r\n ~{2}\r\nzz\r\n".to_vec()),
                Just(b"{".to_vec()),
                Just(b"}".to_vec()),
                Just(b"+".to_vec()),
                Just(b"~".to_vec()),
                Just(b"\r".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"{999}\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ];
            proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat())
        }

        proptest! {
            /// However the stream is cut into pushes, the same frames come out.
            #[test]
            fn split_invariance(data in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
                let mut whole = Framer::new(24, 64);
                let expected = run(&mut whole, &[&data]);
                let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
                points.sort_unstable();
                let mut chunks = Vec::new();
                let mut prev = 0;
                for p in points {
                    chunks.push(&data[prev..p]);
                    prev = p;
                }
                chunks.push(&data[prev..]);
                let mut split = Framer::new(24, 64);
                prop_assert_eq!(run(&mut split, &chunks), expected);
                prop_assert!(split.buffered() <= data.len());
            }

            /// Memory stays bounded by the caps, whatever arrives.
            #[test]
            fn bounded(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
                let mut f = Framer::new(16, 32);
                f.set_max_command(100);
                for c in data.chunks(7) {
                    f.push(c);
                    for fr in f.by_ref() {
                        if let Frame::Command(c) = fr {
                            prop_assert!(c.len() <= 100 + 18);
                        }
                    }
                    prop_assert!(f.buffered() <= 100 + 18 + 7);
                }
            }
        }
    }
}
