//! A small IMAP client, for `import imap`, `probe` and `mirror`: the other end of what `server/`
//! and `imap/` serve.
//!
//! * [`response`] (`proto::response`, re-exported) parses server responses (RFC 9051 §7 and the
//!   grammar of §9) from bytes, with no IO: framing of lines and literals with caps, then typed
//!   responses.
//! * [`url`] reads `imap://` and `imaps://` URLs (RFC 5092 §3, userinfo percent-decoded).
//! * [`tls`] builds the rustls client configuration (system roots, `--ca`, `--insecure`).
//! * [`conn`] is the thin async layer: TCP, implicit TLS or STARTTLS, COMPRESS=DEFLATE, tagged
//!   commands, literals, IDLE. It is the only part of this module that touches sockets.
//! * [`mapi`] types the MAPI extension's responses (docs/mapi-extension.md), no IO; [`replica`]
//!   keeps a connector's local copy of an account by the extension's merge rules (§10).

pub mod conn;
pub mod mapi;
pub mod replica;
pub mod tls;
pub mod url;

use std::fmt;

pub use crate::proto::response;
pub use conn::{Connection, Reply, Timings};
pub use response::{Code, Cond, Response, Untagged, Value};
pub use url::{Security, ServerUrl};

/// Errors of the client layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed (refused, reset, ...).
    Io(std::io::Error),
    /// TLS could not be set up or the handshake failed (an unknown certificate, most often).
    Tls(String),
    /// The server sent bytes that are not an IMAP response.
    Parse(response::ParseError),
    /// The server answered, but not as the protocol says it must.
    Protocol(String),
    /// A command was refused: the command's name and the server's tagged NO or BAD text.
    Refused { command: String, status: Cond, text: String },
    /// The server said BYE or closed the connection.
    Closed(String),
    /// No answer within the time allowed.
    Timeout,
    /// A bad URL or option (before any connection).
    Usage(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
            ClientError::Parse(e) => write!(f, "unreadable response: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol: {e}"),
            ClientError::Refused { command, status, text } => {
                write!(f, "{command} refused: {} {text}", status.as_str())
            }
            ClientError::Closed(e) => write!(f, "connection closed: {e}"),
            ClientError::Timeout => write!(f, "the server did not answer in time"),
            ClientError::Usage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<response::ParseError> for ClientError {
    fn from(e: response::ParseError) -> Self {
        ClientError::Parse(e)
    }
}

/// Quotes a string as an IMAP `quoted` (RFC 9051 §9: `quoted = DQUOTE *QUOTED-CHAR DQUOTE`), or
/// `None` when it holds CR, LF or NUL and needs a literal.
pub fn quote(s: &str) -> Option<String> {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("INBOX").as_deref(), Some("\"INBOX\""));
        assert_eq!(quote(r#"a"b\c"#).as_deref(), Some(r#""a\"b\\c""#));
        assert_eq!(quote("a\r\nb"), None);
    }
}
