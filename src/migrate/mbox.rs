//! mbox, as Thunderbird, mutt, procmail and Dovecot keep it (mboxo and mboxrd): splitting a
//! byte stream into messages, and reading the flags that mail stores write into headers. No IO:
//! `cli/mbox.rs` reads the file and feeds [`Splitter`] a chunk at a time, so a file of gigabytes
//! never sits in memory (at most one message and one partial line do).
//!
//! The rules (the `From_` line of RFC 4155 §2, Dovecot's and mutt's readers):
//! * a message starts at a line `From ` at the start of the input or after a blank line, and
//!   only if the line carries a date (`From sender Thu Nov 29 03:26:00 2026`): a `From ` line
//!   inside a body that no writer quoted (and that is not after a blank line, or has no date)
//!   stays body text;
//! * the blank line before the next `From_` line is the separator, not part of the message;
//! * `>From `, `>>From `... lose one `>` (mboxrd; for mboxo this un-quotes what was quoted);
//! * `Content-Length:` is not trusted (it is stale after any edit) and not used to split.

use std::collections::VecDeque;

use crate::proto::command::{Atom, Date};
use crate::store::flag;

/// A line longer than this is body text, never a `From_` line, and is passed on in pieces
/// rather than held whole (a base64 attachment without line breaks, a binary file).
const LONG_LINE: usize = 64 << 10;

/// One message cut out of an mbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The separator line, without `From ` and without its line end.
    pub from_line: Vec<u8>,
    /// The message, `>From ` quoting removed, line ends as in the file.
    pub data: Vec<u8>,
    /// Offset of the `From_` line in the input.
    pub start: u64,
    /// Offset just past the message and its separator: where the next message starts.
    pub end: u64,
    /// The message was larger than the splitter's cap: `data` holds only its beginning.
    pub truncated: bool,
}

/// The message being gathered.
#[derive(Debug)]
struct Partial {
    from_line: Vec<u8>,
    start: u64,
    data: Vec<u8>,
    /// Length of `data` before its last line, when that line was blank (the separator, if a
    /// `From_` line follows).
    before_blank: Option<usize>,
    /// Bytes of the message, counted even when not kept.
    size: usize,
    truncated: bool,
}

/// Splits an mbox fed in chunks into [`Message`]s.
#[derive(Debug)]
pub struct Splitter {
    /// Bytes fed but not yet split into lines (a partial last line).
    pending: Vec<u8>,
    /// Offset in the input of `pending[0]`.
    pos: u64,
    /// Offset where the input started (0, or a resume point at a `From_` line).
    origin: u64,
    current: Option<Partial>,
    /// The previous line was blank.
    after_blank: bool,
    /// The beginning of the current line was already passed on (an overlong line).
    mid_line: bool,
    ready: VecDeque<Message>,
    /// Largest message kept whole.
    cap: usize,
    /// Bytes before the first `From_` line (not mbox data), for the caller to report.
    pub junk: u64,
}

impl Splitter {
    /// A splitter for input starting at offset `origin`, keeping at most `cap` bytes of a message.
    pub fn new(origin: u64, cap: usize) -> Self {
        Splitter {
            pending: Vec::new(),
            pos: origin,
            origin,
            current: None,
            after_blank: false,
            mid_line: false,
            ready: VecDeque::new(),
            cap,
            junk: 0,
        }
    }

    /// Feeds the next bytes of the input.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            let (line, rest) = chunk.split_at(nl + 1);
            chunk = rest;
            if self.pending.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(line);
                self.line(&whole);
            }
        }
        self.pending.extend_from_slice(chunk);
        // An overlong line cannot be a `From_` line: pass it on in pieces rather than hold it.
        if self.pending.len() > LONG_LINE {
            let piece = std::mem::take(&mut self.pending);
            self.body_line(&piece, false, !self.mid_line);
            self.after_blank = false;
            self.mid_line = true;
        }
    }

    /// The input ended: the last message (which may lack a final line end) is complete.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.line(&last);
        }
        // The file's last message loses its trailing blank line as well: writers add one after
        // every message.
        self.close();
    }

    /// The next complete message, if any.
    pub fn next_message(&mut self) -> Option<Message> {
        self.ready.pop_front()
    }

    fn line(&mut self, line: &[u8]) {
        if self.mid_line {
            // The end of an overlong line: neither blank nor a separator.
            self.mid_line = false;
            self.body_line(line, false, false);
            self.after_blank = false;
            return;
        }
        let content = trim_line_end(line);
        let at_start = self.pos == self.origin;
        if (at_start || self.after_blank) && line.len() <= LONG_LINE && content.starts_with(b"From ") {
            let rest = &content[5..];
            if at_start || from_line_date(rest).is_some() {
                self.close();
                self.current = Some(Partial {
                    from_line: rest.to_vec(),
                    start: self.pos,
                    data: Vec::new(),
                    before_blank: None,
                    size: 0,
                    truncated: false,
                });
                self.pos += line.len() as u64;
                self.after_blank = false;
                return;
            }
        }
        let blank = content.is_empty();
        self.body_line(line, blank, true);
        self.after_blank = blank;
    }

    fn body_line(&mut self, line: &[u8], blank: bool, line_start: bool) {
        self.pos += line.len() as u64;
        let Some(cur) = self.current.as_mut() else {
            self.junk += line.len() as u64;
            return;
        };
        // mboxrd: `>From `, `>>From `... lose one `>`.
        let gt = line.iter().take_while(|&&b| b == b'>').count();
        let quoted = line_start && gt > 0 && line[gt..].starts_with(b"From ");
        let line = if quoted { &line[1..] } else { line };
        cur.before_blank = blank.then_some(cur.data.len());
        cur.size += line.len();
        if cur.size > self.cap {
            cur.truncated = true;
        } else {
            cur.data.extend_from_slice(line);
        }
    }

    /// Completes the current message, without its last line when blank (the separator).
    fn close(&mut self) {
        let Some(mut cur) = self.current.take() else { return };
        if let (false, Some(len)) = (cur.truncated, cur.before_blank) {
            cur.data.truncate(len);
        }
        self.ready.push_back(Message {
            from_line: cur.from_line,
            data: cur.data,
            start: cur.start,
            end: self.pos,
            truncated: cur.truncated,
        });
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn month(token: &str) -> Option<u8> {
    let t = token.get(..3)?.to_ascii_lowercase();
    if token.len() != 3 {
        return None;
    }
    MONTHS.iter().position(|m| *m == t).map(|i| i as u8 + 1)
}

/// `+0100`, `-0830`, or a zone name: minutes east of UTC.
fn zone(token: &str) -> Option<i16> {
    let b = token.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let h: i16 = token[1..3].parse().ok()?;
        let m: i16 = token[3..5].parse().ok()?;
        let v = h * 60 + m;
        return Some(if b[0] == b'-' { -v } else { v });
    }
    let v = match token.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EDT" => -240,
        "EST" | "CDT" => -300,
        "CST" | "MDT" => -360,
        "MST" | "PDT" => -420,
        "PST" => -480,
        "CET" => 60,
        "CEST" => 120,
        _ => return None,
    };
    Some(v)
}

/// The date of a `From_` line (the part after `From `): Unix seconds and the zone in minutes.
/// The asctime form (`a@b Thu Nov 29 03:26:00 2026`) and the variants writers produce: no
/// seconds, a zone before or after the year (`03:26:00 +0100 2026`), no weekday, an empty
/// sender, `remote from ...` after the date. A date without a zone is taken as UTC.
pub fn from_line_date(rest: &[u8]) -> Option<(i64, i16)> {
    let text = std::str::from_utf8(rest).ok()?;
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    // The date starts at a month name followed by a day and a time; the sender comes first.
    for i in 0..tokens.len() {
        if let Some(found) = date_at(&tokens[i..]) {
            // An optional weekday before the month, and a sender before that (which may be
            // empty, then the weekday is the first token).
            let weekday = i > 0 && WEEKDAYS.iter().any(|w| tokens[i - 1].eq_ignore_ascii_case(w));
            if i <= 1 || weekday {
                return Some(found);
            }
        }
    }
    None
}

fn date_at(t: &[&str]) -> Option<(i64, i16)> {
    let month = month(t.first()?)?;
    let day: u8 = t.get(1)?.parse().ok()?;
    let mut hms = t.get(2)?.split(':');
    let hour: u8 = hms.next()?.parse().ok()?;
    let minute: u8 = hms.next()?.parse().ok()?;
    let second: u8 = match hms.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = t[3..].iter();
    let mut tz = None;
    let mut next = rest.next()?;
    if let Some(z) = zone(next) {
        tz = Some(z);
        next = rest.next()?;
    }
    let year: u16 = match next.parse::<u16>().ok()? {
        y @ 0..=69 if next.len() <= 2 => 2000 + y,
        y @ 70..=99 if next.len() <= 2 => 1900 + y,
        y => y,
    };
    if tz.is_none() {
        tz = rest.next().and_then(|z| zone(z));
    }
    let date = Date::new(year, month, day)?;
    let tz = tz.unwrap_or(0);
    let secs = date.days_since_epoch() * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - i64::from(tz) * 60;
    Some((secs, tz))
}

/// The date of the `Date:` header of a message (RFC 5322 §3.3): Unix seconds and the zone.
pub fn header_date(message: &[u8]) -> Option<(i64, i16)> {
    let (fields, _) = header_fields(message);
    let value = fields.iter().find(|f| f.name.eq_ignore_ascii_case(b"Date"))?.value(message);
    let text = String::from_utf8_lossy(&unfold(value)).into_owned();
    let d = mail_parser::DateTime::parse_rfc822(&text).filter(mail_parser::DateTime::is_valid)?;
    let tz = (i16::from(d.tz_hour) * 60 + i16::from(d.tz_minute)) * if d.tz_before_gmt { -1 } else { 1 };
    Some((d.to_timestamp(), tz))
}

/// One header field: its name and the byte range of the whole field (continuation lines
/// included, line end included).
struct Field<'a> {
    name: &'a [u8],
    start: usize,
    end: usize,
}

impl Field<'_> {
    fn value<'m>(&self, message: &'m [u8]) -> &'m [u8] {
        let raw = &message[self.start..self.end];
        let colon = raw.iter().position(|&b| b == b':').map_or(raw.len(), |c| c + 1);
        &raw[colon..]
    }
}

/// The header fields of a message and the offset where its header section ends.
fn header_fields(message: &[u8]) -> (Vec<Field<'_>>, usize) {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut p = 0;
    while p < message.len() {
        let e = message[p..].iter().position(|&b| b == b'\n').map_or(message.len(), |n| p + n + 1);
        let line = &message[p..e];
        if trim_line_end(line).is_empty() {
            return (fields, p);
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = fields.last_mut() {
                last.end = e;
            }
        } else {
            let name_end = line.iter().position(|&b| b == b':').unwrap_or(0);
            let name = trim_ws(&line[..name_end]);
            fields.push(Field { name, start: p, end: e });
        }
        p = e;
    }
    (fields, message.len())
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |e| e + 1);
    &b[s..e]
}

fn unfold(v: &[u8]) -> Vec<u8> {
    v.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect()
}

/// Header fields that belong to the mail store, not to the message (Dovecot hides the same
/// ones, and `Content-Length`, which is stale once line ends change).
const STORE_HEADERS: &[&str] = &[
    "Status",
    "X-Status",
    "X-Keywords",
    "X-UID",
    "X-IMAP",
    "X-IMAPbase",
    "X-Mozilla-Status",
    "X-Mozilla-Status2",
    "X-Mozilla-Keys",
    "Content-Length",
];

/// What the store's headers said about a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreState {
    /// Bits of [`flag`].
    pub flags: u8,
    /// Keywords, valid IMAP atoms, in the order found, without repeats.
    pub keywords: Vec<String>,
    /// Thunderbird marked it expunged (0x0008) but had not compacted the folder yet.
    pub expunged: bool,
}

fn add_keywords(out: &mut Vec<String>, value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    for k in text.split(|c: char| c.is_ascii_whitespace() || c == ',') {
        if k.is_empty() || k.starts_with('\\') || Atom::try_from(k).is_err() {
            continue;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            out.push(k.to_string());
        }
    }
}

/// Reads the flags from `Status:` (R: \Seen; O, "not recent", has no meaning here: applianced
/// keeps no per-message \Recent), `X-Status:` (A \Answered, F \Flagged, T \Draft, D \Deleted),
/// `X-Keywords:` (Dovecot, mutt) and `X-Mozilla-Keys:`, and Thunderbird's `X-Mozilla-Status`
/// bits (0x0001 read, 0x0002 replied, 0x0004 flagged, 0x0008 expunged); returns the message
/// without those fields (see [`STORE_HEADERS`]).
pub fn take_store_headers(message: &[u8]) -> (Vec<u8>, StoreState) {
    let (fields, _) = header_fields(message);
    let mut state = StoreState::default();
    let mut out = Vec::with_capacity(message.len());
    let mut copied = 0;
    for f in &fields {
        let Some(which) = STORE_HEADERS.iter().find(|h| f.name.eq_ignore_ascii_case(h.as_bytes())) else {
            continue;
        };
        let value = unfold(f.value(message));
        let value = trim_ws(&value);
        match *which {
            "Status" if value.contains(&b'R') => state.flags |= flag::SEEN,
            "X-Status" => {
                for &c in value {
                    state.flags |= match c {
                        b'A' => flag::ANSWERED,
                        b'F' => flag::FLAGGED,
                        b'T' => flag::DRAFT,
                        b'D' => flag::DELETED,
                        _ => 0,
                    };
                }
            }
            "X-Keywords" | "X-Mozilla-Keys" => add_keywords(&mut state.keywords, value),
            "X-Mozilla-Status" => {
                let bits = std::str::from_utf8(value).ok().and_then(|v| u32::from_str_radix(v, 16).ok());
                let bits = bits.unwrap_or(0);
                for (bit, f) in [(1, flag::SEEN), (2, flag::ANSWERED), (4, flag::FLAGGED)] {
                    if bits & bit != 0 {
                        state.flags |= f;
                    }
                }
                state.expunged |= bits & 8 != 0;
            }
            _ => {}
        }
        out.extend_from_slice(&message[copied..f.start]);
        copied = f.end;
    }
    out.extend_from_slice(&message[copied..]);
    (out, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], chunk: usize) -> Vec<Message> {
        let mut s = Splitter::new(0, 1 << 20);
        for c in input.chunks(chunk.max(1)) {
            s.feed(c);
        }
        s.finish();
        std::iter::from_fn(|| s.next_message()).collect()
    }

    const TWO: &[u8] = b"From a@b Thu Nov 29 03:26:00 2026\nSubject: one\n\nbody\nFrom here, not a separator\n\n>From quoted\n>>From twice\n\nFrom b@c Fri Nov 30 04:00:00 2026\nSubject: two\n\nlast";

    #[test]
    fn splits_at_from_lines_after_blank_lines() {
        for chunk in [1, 2, 7, 1000] {
            let m = split(TWO, chunk);
            assert_eq!(m.len(), 2, "chunk {chunk}");
            assert_eq!(m[0].from_line, b"a@b Thu Nov 29 03:26:00 2026");
            assert_eq!(
                m[0].data,
                b"Subject: one\n\nbody\nFrom here, not a separator\n\nFrom quoted\n>From twice\n".to_vec()
            );
            assert_eq!(m[0].start, 0);
            assert_eq!(m[0].end, m[1].start);
            assert_eq!(&TWO[m[1].start as usize..m[1].start as usize + 5], b"From ");
            // No final line end: the message ends as the file does.
            assert_eq!(m[1].data, b"Subject: two\n\nlast".to_vec());
            assert_eq!(m[1].end, TWO.len() as u64);
        }
    }

    /// The fuzz target's properties (fuzz/fuzz_targets/mbox.rs) on generated inputs, for builds
    /// without nightly: chunking changes nothing, offsets run forward and cover the input.
    #[test]
    fn chunking_changes_nothing() {
        let parts: [&[u8]; 10] = [
            b"From a@b Thu Nov 29 03:26:00 2026\n",
            b"\n",
            b"\r\n",
            b">From x\n",
            b"From y\n",
            b"A: b\n",
            b"Status: RO\nX-Keywords: k\n",
            b"x",
            b"\r",
            b"From ",
        ];
        let mut seed: u64 = 7;
        for _ in 0..2000 {
            let mut input = Vec::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            for k in 0..(seed >> 59) {
                input.extend_from_slice(parts[((seed >> (k * 3 % 50)) % 10) as usize]);
            }
            let whole = split(&input, input.len());
            for chunk in [1, 3, 7] {
                assert_eq!(split(&input, chunk), whole, "{:?}", String::from_utf8_lossy(&input));
            }
            let mut s = Splitter::new(0, 1 << 20);
            s.feed(&input);
            s.finish();
            let mut at = s.junk;
            while let Some(m) = s.next_message() {
                assert_eq!(m.start, at);
                at = m.end;
                let _ = take_store_headers(&m.data);
            }
            assert_eq!(at as usize, input.len());
        }
    }

    #[test]
    fn crlf_and_trailing_blank_line() {
        let input = b"From a@b Thu Nov 29 03:26:00 2026\r\nA: 1\r\n\r\nx\r\n\r\nFrom a@b Thu Nov 29 03:26:01 2026\r\nB: 2\r\n\r\ny\r\n\r\n";
        let m = split(input, 5);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].data, b"A: 1\r\n\r\nx\r\n".to_vec());
        assert_eq!(m[1].data, b"B: 2\r\n\r\ny\r\n".to_vec());
    }

    #[test]
    fn a_from_line_without_date_after_a_blank_line_is_body() {
        let input = b"From a@b Thu Nov 29 03:26:00 2026\nA: 1\n\nFrom the desk of the CEO\nhi\n";
        let m = split(input, 3);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].data, b"A: 1\n\nFrom the desk of the CEO\nhi\n".to_vec());
    }

    #[test]
    fn resumes_at_an_offset_and_skips_junk() {
        let mut s = Splitter::new(100, 1 << 20);
        s.feed(b"From x Thu Nov 29 03:26:00 2026\nA: 1\n\nb\n");
        s.finish();
        let m = s.next_message().expect("one");
        assert_eq!((m.start, m.end), (100, 100 + 40));
        assert_eq!(m.data, b"A: 1\n\nb\n".to_vec());
        let mut s = Splitter::new(0, 1 << 20);
        s.feed(b"junk\n\nFrom x Thu Nov 29 03:26:00 2026\nA: 1\n");
        s.finish();
        assert_eq!(s.junk, 6);
        assert_eq!(s.next_message().map(|m| m.data), Some(b"A: 1\n".to_vec()));
    }

    #[test]
    fn an_overlong_line_is_body_however_it_is_fed() {
        let mut input = b"From x Thu Nov 29 03:26:00 2026\nA: 1\n\n>From ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend_from_slice(b"\n\nFrom y Thu Nov 29 03:26:00 2026\nB: 2\n");
        let whole = split(&input, input.len());
        assert_eq!(whole, split(&input, 4096));
        assert_eq!(whole.len(), 2);
        assert!(whole[0].data.starts_with(b"A: 1\n\nFrom xxx"));
        assert_eq!(whole[0].data.len(), 5 + 1 + 5 + 100_000 + 1);
    }

    #[test]
    fn a_message_over_the_cap_is_truncated_not_held() {
        let mut s = Splitter::new(0, 10);
        s.feed(b"From x Thu Nov 29 03:26:00 2026\nA: 0123456789\nmore\n\nFrom y Thu Nov 29 03:26:00 2026\nB: 1\n");
        s.finish();
        let big = s.next_message().expect("first");
        assert!(big.truncated && big.data.len() <= 10);
        let small = s.next_message().expect("second");
        assert!(!small.truncated);
        assert_eq!(small.data, b"B: 1\n".to_vec());
    }

    #[test]
    fn from_line_dates() {
        let at = |s: &str| from_line_date(s.as_bytes());
        // 2026-11-29 03:26:00 UTC
        let t = 1_795_922_760;
        assert_eq!(at("a@b Thu Nov 29 03:26:00 2026"), Some((t, 0)));
        assert_eq!(at("a@b  Thu Nov 29 03:26:00 2026"), Some((t, 0)));
        assert_eq!(at(" Thu Nov 29 03:26:00 2026"), Some((t, 0)));
        assert_eq!(at("a@b Nov 29 03:26 2026"), Some((t, 0)));
        assert_eq!(at("a@b Thu Nov 29 04:26:00 +0100 2026"), Some((t, 60)));
        assert_eq!(at("a@b Thu Nov 29 04:26:00 2026 +0100"), Some((t, 60)));
        assert_eq!(at("MAILER-DAEMON Wed Nov 28 19:26:00 PST 2026"), Some((t, -480)));
        assert_eq!(at("a@b Thu Nov 29 03:26:00 2026 remote from x"), Some((t, 0)));
        assert_eq!(at("the desk of the CEO"), None);
        assert_eq!(at("a@b Thu Feb 30 03:26:00 2026"), None);
        assert_eq!(at("a@b Thu Nov 29 25:26:00 2026"), None);
    }

    #[test]
    fn header_dates() {
        let m = b"Subject: x\nDate: Thu, 29 Nov 2026\n 04:26:00 +0100\n\nbody";
        assert_eq!(header_date(m), Some((1_795_922_760, 60)));
        assert_eq!(header_date(b"Subject: x\n\nDate: Thu, 29 Nov 2026 04:26:00 +0100\n"), None);
    }

    #[test]
    fn store_headers_become_flags_and_go() {
        let m = b"Subject: s\nStatus: RO\nX-Status: AFT\nX-Keywords: $Forwarded work,\n  home bad\"kw\nX-UID: 7\ncontent-length: 99\nTo: x\n\nStatus: body stays\n";
        let (out, st) = take_store_headers(m);
        assert_eq!(out, b"Subject: s\nTo: x\n\nStatus: body stays\n".to_vec());
        assert_eq!(st.flags, flag::SEEN | flag::ANSWERED | flag::FLAGGED | flag::DRAFT);
        assert_eq!(st.keywords, vec!["$Forwarded", "work", "home"]);
        assert!(!st.expunged);
        let (out, st) = take_store_headers(b"X-Mozilla-Status: 000d\nX-Mozilla-Status2: 00000000\nA: b\n\nx");
        assert_eq!(out, b"A: b\n\nx".to_vec());
        assert_eq!(st.flags, flag::SEEN | flag::FLAGGED);
        assert!(st.expunged);
        let (_, st) = take_store_headers(b"X-Status: D\nX-Mozilla-Status: 0002\n\n");
        assert_eq!(st.flags, flag::DELETED | flag::ANSWERED);
    }
}
