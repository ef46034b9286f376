//! The one road a new message takes into the store, whichever door it came by: LMTP
//! (`server/lmtp.rs`), `deliver` (`admin.rs`), APPEND (`imap/cmd/append.rs`) and every importer
//! (`migrate::append_batch`, which `import maildir`, `import mbox` and `import imap` feed). Here,
//! and nowhere else, a message gets CRLF line ends and its FETCH data (`imap::fetchdata`, the
//! parse of its whole MIME tree), and its arrival time is read.
//!
//! Parsing costs CPU in proportion to the message (a 32 MiB literal is a 32 MiB parse): async
//! callers use [`prepare_async`] and [`prepare_in_place_async`], which run it on the blocking
//! threads through [`off_executor`], never on an executor thread that other connections wait for.

use std::borrow::Cow;

use crate::imap::fetchdata;

pub use crate::imap::fetchdata::NotMail;

/// A message as the store takes it (`Tables::put_blob`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The message with CRLF line ends.
    pub raw: Vec<u8>,
    /// Its encoded [`fetchdata::FetchData`].
    pub data: Vec<u8>,
}

/// Normalises `raw` and computes its FETCH data. Blocking (CPU): async code calls
/// [`prepare_async`].
pub fn prepare(raw: Vec<u8>) -> Result<Prepared, NotMail> {
    let raw = normalize_line_ends(raw);
    let data = fetchdata::compute(&raw)?.encode();
    Ok(Prepared { raw, data })
}

/// What the store will keep of `raw` (its size with CRLF line ends), or why it is not mail: what
/// [`prepare`] decides, without the parse, for an importer that must know before it sends.
pub fn stored_size(raw: &[u8]) -> Result<u64, NotMail> {
    let normal = crlf(raw);
    fetchdata::validate(&normal)?;
    Ok(normal.len() as u64)
}

/// [`prepare`], off the executor.
pub async fn prepare_async(raw: Vec<u8>) -> Result<Prepared, NotMail> {
    off_executor(move || prepare(raw)).await
}

/// A message inside a larger buffer that the store takes as it is (APPEND's framed command, see
/// `imap/cmd/append.rs`): its FETCH data and, only when it had bare LFs, its CRLF copy, so that
/// a message already in CRLF form is never copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPlace {
    /// `Some` when the message had bare LFs: store these bytes instead of the buffer's.
    pub normalised: Option<Vec<u8>>,
    pub data: Vec<u8>,
}

/// Like [`prepare`], for a message an IMAP client APPENDs, borrowed from a buffer. Blocking
/// (CPU). A client's message is stored as given (RFC 9051 §6.3.12: `fetchdata::compute_given`),
/// where deliveries keep the MTA's rule of [`prepare`] (`fetchdata::validate`).
pub fn prepare_in_place(raw: &[u8]) -> Result<InPlace, NotMail> {
    match crlf(raw) {
        Cow::Borrowed(raw) => Ok(InPlace { normalised: None, data: fetchdata::compute_given(raw)?.encode() }),
        Cow::Owned(copy) => {
            let data = fetchdata::compute_given(&copy)?.encode();
            Ok(InPlace { normalised: Some(copy), data })
        }
    }
}

/// [`prepare_in_place`] for each of `ranges` of `buf`, off the executor; `buf` is handed back.
/// Stops at the first message that is not mail.
pub async fn prepare_in_place_async(
    buf: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
) -> (Vec<u8>, Result<Vec<InPlace>, NotMail>) {
    off_executor(move || {
        let parsed = ranges.into_iter().map(|r| prepare_in_place(buf.get(r).unwrap_or_default())).collect();
        (buf, parsed)
    })
    .await
}

/// Runs CPU or blocking work on the blocking threads and awaits it. The one place the ingest road
/// chooses those threads: a bounded pool, when there is one, is set here.
pub async fn off_executor<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    smol::unblock(f).await
}

/// The time a message arrives, for its INTERNALDATE when none is given (RFC 9051 §6.3.12).
pub fn arrival() -> i64 {
    crate::clock::unix_now()
}

/// Turns bare LF line ends into CRLF (RFC 5322 §2.3; IMAP serves CRLF), leaving every other
/// byte as it came. An MTA piping a message in its local form uses bare LFs, and so do some
/// IMAP clients' APPENDs.
pub fn normalize_line_ends(raw: Vec<u8>) -> Vec<u8> {
    match crlf(&raw) {
        Cow::Borrowed(_) => raw,
        Cow::Owned(copy) => copy,
    }
}

/// `raw` with CRLF line ends, borrowed when it has them already.
fn crlf(raw: &[u8]) -> Cow<'_, [u8]> {
    let bare = |i: usize| raw[i] == b'\n' && (i == 0 || raw[i - 1] != b'\r');
    let count = (0..raw.len()).filter(|&i| bare(i)).count();
    if count == 0 {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + count);
    for (i, &b) in raw.iter().enumerate() {
        if bare(i) {
            out.push(b'\r');
        }
        out.push(b);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends() {
        assert_eq!(normalize_line_ends(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalize_line_ends(b"x\r\n".to_vec()), b"x\r\n");
        assert_eq!(normalize_line_ends(b"\n".to_vec()), b"\r\n");
    }

    /// Both forms give the same stored bytes and FETCH data, and a CRLF message is not copied.
    #[test]
    fn in_place_and_owned_agree() {
        let lf = b"Subject: x\nContent-Type: text/plain\n\nbody\n".to_vec();
        let owned = prepare(lf.clone()).expect("mail");
        let in_place = prepare_in_place(&lf).expect("mail");
        assert_eq!(in_place.normalised.as_deref(), Some(owned.raw.as_slice()));
        assert_eq!(in_place.data, owned.data);
        let crlf = prepare_in_place(&owned.raw).expect("mail");
        assert_eq!((crlf.normalised, crlf.data), (None, owned.data));
        assert_eq!(prepare(b"no header line\n".to_vec()), Err(NotMail::NoHeader));
        assert_eq!(stored_size(&lf), Ok(owned.raw.len() as u64));
        assert_eq!(stored_size(b"\n\n"), Err(NotMail::Empty));
    }

    #[test]
    fn in_place_async_names_the_message_refused() {
        let buf = b"A: b\r\n\r\nx\r\n\r\n".to_vec();
        // APPEND stores what it is given but zero octets (`fetchdata::compute_given`).
        let (back, got) = smol::block_on(prepare_in_place_async(buf.clone(), vec![0..11, 11..11]));
        assert_eq!(back, buf);
        assert_eq!(got, Err(NotMail::Empty));
    }
}
