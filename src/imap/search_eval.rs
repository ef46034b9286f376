//! Search evaluation, below the handlers: what SEARCH, SORT, THREAD and the updating searches
//! (RFC 5267, `context.rs`) match messages with. Flags, sizes and dates come from the message
//! records; header keys read only the header bytes; BODY and TEXT decode the message (RFC 2047
//! words, transfer encodings, charsets) with mail-parser and match case-insensitively.

use mail_parser::MimeHeaders;

use crate::imap::fetchdata::{FetchData, ThreadKeys};
use crate::imap::outcome::{Code, Error};
use crate::imap::session::Session;
use crate::proto::command::{SearchKey, SequenceSet};
use crate::store::{MessageRecord, Reader, StoreError, flag};

/// What a search needs to know beyond the message itself.
#[derive(Clone, Debug)]
pub struct Env {
    /// The highest sequence number and UID, for sequence-set keys and `*`.
    pub max_seq: u32,
    pub max_uid: u32,
    pub recent: crate::imap::recent::Recent,
    /// The SEARCHRES result (`$`), UIDs ascending.
    pub saved: Option<Vec<u32>>,
    pub now: i64,
}

impl Env {
    /// The environment of a search in the selected mailbox, now.
    pub fn of(sel: &crate::imap::selected::Selected, saved: Option<Vec<u32>>) -> Env {
        Env {
            max_seq: sel.exists(),
            max_uid: sel.max_uid(),
            recent: sel.recent.clone(),
            saved,
            now: crate::clock::unix_now(),
        }
    }
}

/// Whether one message matches `key` (an updating search re-checks the messages that changed).
pub fn matches(
    r: &Reader,
    key: &SearchKey,
    seq: u32,
    uid: u32,
    m: MessageRecord,
    env: &Env,
) -> Result<bool, StoreError> {
    eval(key, &mut Candidate { r, seq, uid, m, data: None, raw: None }, env)
}

/// One message under evaluation, with what was loaded for it so far.
struct Candidate<'a> {
    r: &'a Reader,
    seq: u32,
    uid: u32,
    m: MessageRecord,
    data: Option<FetchData>,
    raw: Option<Vec<u8>>,
}

impl Candidate<'_> {
    fn data(&mut self) -> Result<&FetchData, StoreError> {
        if self.data.is_none() {
            let b = self.r.blob(self.m.blob)?;
            self.data = Some(
                FetchData::decode(&b.fetch_data).ok_or_else(|| StoreError::Corrupt("FETCH data".into()))?,
            );
        }
        self.data.as_ref().ok_or(StoreError::Closed)
    }
    fn raw(&mut self) -> Result<&[u8], StoreError> {
        if self.raw.is_none() {
            self.raw = Some(self.r.raw(self.m.blob)?);
        }
        Ok(self.raw.as_deref().unwrap_or_default())
    }
    fn header(&mut self) -> Result<Vec<u8>, StoreError> {
        let n = self.data()?.header_len as usize;
        let raw = self.raw()?;
        Ok(raw[..n.min(raw.len())].to_vec())
    }
}

fn contains_ci(hay: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    hay.to_lowercase().contains(&needle)
}

/// The decoded values of the header fields named `name` (RFC 2047 words decoded).
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(raw) else { return Vec::new() };
    msg.headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| {
            let v = &h.value;
            match v {
                mail_parser::HeaderValue::Text(t) => t.to_string(),
                mail_parser::HeaderValue::TextList(l) => l.join(" "),
                // A group keeps its name (RFC 5322 §3.4: `team: a@x, b@y;`), so that TO, CC,
                // FROM and BCC match it as they match an address's display name.
                mail_parser::HeaderValue::Address(mail_parser::Address::Group(groups)) => groups
                    .iter()
                    .map(|g| {
                        let members = g.addresses.iter().map(address_text).collect::<Vec<_>>().join(", ");
                        match &g.name {
                            Some(name) => format!("{name}: {members};"),
                            None => members,
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                mail_parser::HeaderValue::Address(a) => {
                    a.iter().map(address_text).collect::<Vec<_>>().join(", ")
                }
                _ => String::from_utf8_lossy(
                    raw.get(h.offset_start() as usize..h.offset_end() as usize).unwrap_or_default(),
                )
                .trim()
                .to_string(),
            }
        })
        .collect()
}

/// One address as SEARCH matches it: its display name and its address.
fn address_text(x: &mail_parser::Addr<'_>) -> String {
    format!("{} <{}>", x.name().unwrap_or(""), x.address().unwrap_or(""))
}

/// The decoded text of the message's bodies (text parts, HTML as text, attachment names).
fn body_text(raw: &[u8]) -> String {
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else { return String::new() };
    let mut text = String::new();
    for i in 0..msg.text_body.len().max(msg.html_body.len()) {
        if let Some(t) = msg.body_text(i) {
            text.push_str(&t);
            text.push('\n');
        }
    }
    for a in msg.attachments() {
        if let Some(n) = a.attachment_name() {
            text.push_str(n);
            text.push('\n');
        }
    }
    text
}

fn in_set(set: &SequenceSet, n: u32, max: u32, saved: Option<&[u32]>, uid_of_saved: u32) -> bool {
    match set.contains(n, max) {
        Some(b) => b,
        None => saved.is_some_and(|s| s.binary_search(&uid_of_saved).is_ok()),
    }
}

fn day(unix: i64, tz_minutes: i16) -> i64 {
    (unix + i64::from(tz_minutes) * 60).div_euclid(86_400)
}

fn eval(k: &SearchKey, c: &mut Candidate<'_>, env: &Env) -> Result<bool, StoreError> {
    use SearchKey as K;
    let f = c.m.flags;
    Ok(match k {
        K::All => true,
        K::Answered => f & flag::ANSWERED != 0,
        K::Deleted => f & flag::DELETED != 0,
        K::Draft => f & flag::DRAFT != 0,
        K::Flagged => f & flag::FLAGGED != 0,
        K::Seen => f & flag::SEEN != 0,
        K::Unanswered => f & flag::ANSWERED == 0,
        K::Undeleted => f & flag::DELETED == 0,
        K::Undraft => f & flag::DRAFT == 0,
        K::Unflagged => f & flag::FLAGGED == 0,
        K::Unseen => f & flag::SEEN == 0,
        K::Keyword(a) => c.m.keywords.iter().any(|k| k.eq_ignore_ascii_case(a.as_str())),
        K::Unkeyword(a) => !c.m.keywords.iter().any(|k| k.eq_ignore_ascii_case(a.as_str())),
        K::Recent => env.recent.contains(c.uid),
        K::Old => !env.recent.contains(c.uid),
        K::New => env.recent.contains(c.uid) && f & flag::SEEN == 0,
        K::Larger(n) => u64::from(c.m.size) > *n,
        K::Smaller(n) => u64::from(c.m.size) < *n,
        K::Before(d) => day(c.m.internal_date, c.m.tz_minutes) < d.days_since_epoch(),
        K::On(d) => day(c.m.internal_date, c.m.tz_minutes) == d.days_since_epoch(),
        K::Since(d) => day(c.m.internal_date, c.m.tz_minutes) >= d.days_since_epoch(),
        // RFC 3501 §6.4.4: the Date header's day in its own zone. The stored instant puts that
        // day within a band of days (zones reach ±99:59); only a message whose band holds the
        // day asked for has its header read to find which day it is.
        K::SentBefore(d) | K::SentOn(d) | K::SentSince(d) => {
            let want = d.days_since_epoch();
            let Some(utc) = c.data()?.date else { return Ok(false) };
            let earliest = (utc - crate::imap::fetchdata::MAX_ZONE_OFFSET).div_euclid(86_400);
            let latest = (utc + crate::imap::fetchdata::MAX_ZONE_OFFSET).div_euclid(86_400);
            let sent = if want < earliest || want > latest {
                earliest
            } else {
                crate::imap::fetchdata::sent_day(&c.header()?).unwrap_or(utc.div_euclid(86_400))
            };
            match k {
                K::SentBefore(_) => sent < want,
                K::SentOn(_) => sent == want,
                _ => sent >= want,
            }
        }
        K::Older(secs) => env.now - c.m.internal_date >= i64::from(secs.get()),
        K::Younger(secs) => env.now - c.m.internal_date <= i64::from(secs.get()),
        K::From(v) => header_values(&c.header()?, "From").iter().any(|h| contains_ci(h, v)),
        K::To(v) => header_values(&c.header()?, "To").iter().any(|h| contains_ci(h, v)),
        K::Cc(v) => header_values(&c.header()?, "Cc").iter().any(|h| contains_ci(h, v)),
        K::Bcc(v) => header_values(&c.header()?, "Bcc").iter().any(|h| contains_ci(h, v)),
        K::Subject(v) => header_values(&c.header()?, "Subject").iter().any(|h| contains_ci(h, v)),
        // RFC 3501 §6.4.4, RFC 9051 §6.4.4.1: a substring of the field's text as it stands
        // (unfolded), so `<id@host>` matches a Message-ID; the decoded text of RFC 2047 words
        // matches too. An empty string matches every message that has the field.
        K::Header(name, v) => {
            let header = c.header()?;
            let raw = crate::imap::fetchdata::field_values(&header, name);
            (!raw.is_empty() && v.is_empty())
                || raw.iter().any(|h| contains_ci(&String::from_utf8_lossy(h), v))
                || header_values(&header, name).iter().any(|h| contains_ci(h, v))
        }
        K::Body(v) => contains_ci(&body_text(c.raw()?), v),
        K::Text(v) => {
            let header = String::from_utf8_lossy(&c.header()?).to_string();
            contains_ci(&header, v) || contains_ci(&body_text(c.raw()?), v)
        }
        K::Uid(set) => in_set(set, c.uid, env.max_uid, env.saved.as_deref(), c.uid),
        K::SequenceSet(set) => in_set(set, c.seq, env.max_seq, env.saved.as_deref(), c.uid),
        K::Not(k) => !eval(k, c, env)?,
        K::Or(a, b) => eval(a, c, env)? || eval(b, c, env)?,
        K::And(keys) => {
            for k in keys.iter() {
                if !eval(k, c, env)? {
                    return Ok(false);
                }
            }
            true
        }
        K::ModSeq { mod_seq, .. } => c.m.modseq >= *mod_seq,
        K::EmailId(id) => id.as_str() == format!("M{}", c.m.blob),
        // RFC 8474 §5.2: the THREADID that FETCH THREADID gives (thread keys kept at delivery;
        // read from the header for messages stored before they were).
        K::ThreadId(id) => {
            let kept = c.data()?.thread.clone();
            let keys = match kept {
                Some(k) => k,
                None => ThreadKeys::from_header(&c.header()?),
            };
            id.as_str() == keys.thread_id(c.m.blob)
        }
    })
}

/// Whether a key needs the message's record (flags, size, dates, headers) or only its numbers.
fn needs_message(k: &SearchKey) -> bool {
    match k {
        SearchKey::All
        | SearchKey::Uid(_)
        | SearchKey::SequenceSet(_)
        | SearchKey::Recent
        | SearchKey::Old => false,
        SearchKey::Not(k) => needs_message(k),
        SearchKey::Or(a, b) => needs_message(a) || needs_message(b),
        SearchKey::And(keys) => keys.iter().any(needs_message),
        _ => true,
    }
}

pub fn uses_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        _ => false,
    }
}

/// The MODSEQs of a search's matches, for the MODSEQ of its result (RFC 7162 §3.1.5, RFC 4731
/// §3.2): the highest of them all, and those of the first and the last match (the MIN and MAX
/// of ESEARCH). Zero when no record was read (a search by numbers only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchModseqs {
    pub highest: u64,
    pub first: u64,
    pub last: u64,
}

/// The (sequence number, UID) of the selected mailbox's messages that match, ascending, and
/// their MODSEQs.
pub async fn find(s: &Session, criteria: &SearchKey) -> Result<(Vec<(u32, u32)>, MatchModseqs), Error> {
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    let env = Env::of(sel, s.saved.clone());
    let mailbox = sel.mailbox;
    let all: Vec<(u32, u32)> = sel.uids.iter().collect();
    let criteria = criteria.clone();
    s.read(move |r| {
        let mut hits = Vec::new();
        let mut modseqs = MatchModseqs::default();
        if !needs_message(&criteria) {
            // ALL, UID and sequence sets, \Recent: answered from the session's UID map,
            // without reading a record (the first screen of a huge mailbox).
            let dummy = MessageRecord {
                blob: 0,
                modseq: 0,
                internal_date: 0,
                tz_minutes: 0,
                size: 0,
                flags: 0,
                keywords: Vec::new(),
            };
            for (seq, u) in all {
                let mut c = Candidate { r, seq, uid: u, m: dummy.clone(), data: None, raw: None };
                if eval(&criteria, &mut c, &env)? {
                    hits.push((seq, u));
                }
            }
            return Ok((hits, modseqs));
        }
        for (seq, u) in all {
            let Some(m) = r.message(mailbox, u)? else { continue };
            let mut c = Candidate { r, seq, uid: u, m, data: None, raw: None };
            if eval(&criteria, &mut c, &env)? {
                if hits.is_empty() {
                    modseqs.first = c.m.modseq;
                }
                modseqs.last = c.m.modseq;
                modseqs.highest = modseqs.highest.max(c.m.modseq);
                hits.push((seq, u));
            }
        }
        Ok((hits, modseqs))
    })
    .await
}

/// Refuses charsets other than UTF-8 and US-ASCII (RFC 9051 §6.4.4: `NO [BADCHARSET]`).
pub fn check_charset(charset: Option<&str>) -> Result<(), Error> {
    match charset {
        Some(cs) if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") => {
            Err(Error::No(
                Some(Code::BadCharset(vec!["UTF-8", "US-ASCII"])),
                format!("charset {cs} is not supported"),
            ))
        }
        _ => Ok(()),
    }
}
