//! CATENATE (RFC 4469): the parts an APPEND builds a message from, and the IMAP URLs
//! (RFC 5092) that name a message or a part of one on this server.

use super::*;

/// What one message of APPEND is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendData {
    /// `literal` / `literal8` (RFC 3516) / `"UTF8" SP "(" literal8 ")"` (RFC 6855 §4).
    Literal {
        /// Where the message is in the framed command passed to `parse_command`: no copy is
        /// made of it.
        range: Range<usize>,
        /// Sent as `literal8` (`~{n}`): may contain NUL.
        binary: bool,
        /// Sent as `UTF8 (~{n})` (RFC 6855 §4).
        utf8: bool,
    },
    /// `"CATENATE" SP "(" cat-part *(SP cat-part) ")"` (RFC 4469 §5): the parts, in order.
    Catenate(NonEmpty<CatPart>),
}

/// `cat-part = text-literal / url` (RFC 4469 §5), with RFC 6855 §4's `cat-part =/ utf8-literal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatPart {
    /// `"TEXT" SP literal` (or `UTF8 (literal8)`): its place in the framed command.
    Text { range: Range<usize>, binary: bool },
    /// `"URL" SP astring`: the URL as sent, parsed by [`ImapUrl::parse`] when it is used, since
    /// a URL that does not parse is `NO [BADURL]` (RFC 4469 §4.1), not a syntax error.
    Url(Vec<u8>),
}

/// The `iserver` of an absolute IMAP URL (RFC 5092 §11): `[enc-user [";AUTH=" ...] "@"] host
/// [":" port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlServer {
    /// The percent-decoded `enc-user`; `None` names anonymous access (RFC 5092 §3.2).
    pub user: Option<String>,
    /// The host, lower-cased (host names compare case-insensitively, RFC 3986 §3.2.2).
    pub host: String,
}

/// Which mailbox a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlMailbox {
    /// `enc-mailbox`, percent-decoded: a UTF-8 mailbox name (RFC 5092 §11: enc-mailbox).
    Named(String),
    /// No mailbox: a relative URL that starts with `;UID=` (RFC 5092 `iuid-only`), resolved
    /// against the selected mailbox (RFC 4469 §3: the base URL in the selected state ends with
    /// the selected mailbox).
    Selected,
}

/// An IMAP URL of a message or a part of one (RFC 5092 §11 `imessagepart`), as CATENATE takes
/// them: `imap://user@host/mailbox;UIDVALIDITY=n/;UID=n/;SECTION=x/;PARTIAL=o.l`, or relative
/// (`/mailbox/;UID=n`, `mailbox/;UID=n`, `;UID=n`). URLAUTH URLs (RFC 4467: `;EXPIRE=`,
/// `;URLAUTH=`) and message lists (`?search`) are refused by the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImapUrl {
    /// `Some` for an absolute (`imap://`) or network-path (`//host`) URL.
    pub server: Option<UrlServer>,
    pub mailbox: UrlMailbox,
    /// `;UIDVALIDITY=`: when given, the mailbox must have it (RFC 5092 §6).
    pub uidvalidity: Option<NonZeroU32>,
    pub uid: NonZeroU32,
    /// `/;SECTION=`: the `section-spec` of `BODY[...]`; `Full` without one.
    pub section: Section,
    /// `/;PARTIAL=offset[.length]` (RFC 5092 §6): a window of the section's bytes.
    pub partial: Option<(u64, Option<NonZeroU64>)>,
}

/// Why a URL is not one CATENATE can use. Every kind is `NO [BADURL]` (RFC 4469 §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError(pub &'static str);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UrlError {}
