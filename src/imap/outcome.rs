//! What a command handler returns, and how it is answered: the tagged `OK [code] text`, or a
//! failure as `NO [code] text` / `BAD text` (RFC 9051 §7.1), with the store's errors mapped to
//! response codes in one place. Below the handlers and the session.

pub use crate::proto::code::Code;
use crate::proto::command::Tag;
use crate::store::StoreError;

/// A command's failure, answered as a tagged NO or BAD.
#[derive(Debug)]
pub enum Error {
    /// `NO [code] text`
    No(Option<Code>, String),
    /// `BAD text`
    Bad(String),
    /// `BAD [code] text`: a refusal the client can act on by its code (docs/mapi-extension.md
    /// §13: `BAD [XBACKCHANNEL]`).
    BadCode(Code, String),
}

impl Error {
    /// The NO for a mailbox name that is not valid modified UTF-7 (RFC 3501 §5.1.3): it names no
    /// mailbox (`NONEXISTENT`), and one cannot be made under it (`CANNOT`, when `creates`).
    pub fn not_modified_utf7(creates: bool) -> Error {
        if creates {
            let text = "the name is not valid modified UTF-7 (RFC 3501 section 5.1.3): write & as &- \
                        and non-ASCII characters as &...- base64, or ENABLE UTF8=ACCEPT";
            Error::No(Some(Code::Cannot), text.into())
        } else {
            Error::No(
                Some(Code::NonExistent),
                "no such mailbox (the name is not valid modified UTF-7)".into(),
            )
        }
    }
}

impl From<StoreError> for Error {
    /// The disk's and the file's failures get a fixed text (RFC 5530 `UNAVAILABLE`: try again
    /// later; `SERVERBUG`): the cause, in redb's or the OS's words, goes to the log only.
    fn from(e: StoreError) -> Self {
        let (code, text) = match &e {
            StoreError::NoSuchMailbox => (Some(Code::NonExistent), None),
            StoreError::MailboxExists => (Some(Code::AlreadyExists), None),
            StoreError::NotAllowed(_) => (Some(Code::Cannot), None),
            StoreError::OverQuota => (Some(Code::OverQuota), None),
            StoreError::Limit(_) => (Some(Code::Limit), None),
            e if e.is_temporary() => (Some(Code::Unavailable), Some("storage temporarily unavailable")),
            StoreError::Corrupt(_) | StoreError::Format(_) | StoreError::Inconsistent(_) => {
                (Some(Code::ServerBug), Some("internal server error"))
            }
            _ => (None, None),
        };
        match code {
            Some(Code::Unavailable) => log::warn!("store: {e}"),
            Some(Code::ServerBug) => log::error!("store: {e}"),
            _ => {}
        }
        Error::No(code, text.map_or_else(|| e.to_string(), str::to_string))
    }
}

/// Writes a failure as an untagged `NO` (RFC 9051 §7.1.2: a warning, not the end of a command).
pub fn warn(out: &mut Vec<u8>, e: Error) {
    let (code, text) = match e {
        Error::No(code, text) => (code, text),
        Error::Bad(text) => (None, text),
        Error::BadCode(code, text) => (Some(code), text),
    };
    match code {
        Some(c) => out.extend_from_slice(format!("* NO [{c}] {text}\r\n").as_bytes()),
        None => out.extend_from_slice(format!("* NO {text}\r\n").as_bytes()),
    }
}

/// A handler's success: the text (and code) of the tagged OK.
pub struct Done {
    pub code: Option<Code>,
    pub text: String,
}

impl Done {
    pub fn text(text: impl Into<String>) -> Self {
        Done { code: None, text: text.into() }
    }
    pub fn with_code(code: Code, text: impl Into<String>) -> Self {
        Done { code: Some(code), text: text.into() }
    }
}

pub type Outcome = Result<Done, Error>;

/// `tag OK [code] text` / `tag NO text`: a tagged status response.
pub(crate) fn tagged(out: &mut Vec<u8>, tag: &Tag, status: &str, code: Option<&Code>, text: &str) {
    out.extend_from_slice(format!("{tag} {status} ").as_bytes());
    if let Some(code) = code {
        out.push(b'[');
        code.write(out);
        out.extend_from_slice(b"] ");
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}
