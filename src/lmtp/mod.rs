//! LMTP (RFC 2033) as bytes and grammar only, no IO: command lines, the DATA body with its end,
//! dot unstuffing and caps (`body.rs`), and the session's state and replies (`session.rs`).
//! `server::lmtp` runs the sockets and the store.

mod body;
pub mod session;

pub use body::{Body, RFC_LINE_LENGTH};

use std::fmt;

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 says 512; addresses with parameters
/// rarely need more, and some MTAs send longer).
pub const MAX_COMMAND_LINE: usize = 4096;

/// One LMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Lhlo(String),
    /// `MAIL FROM:<path> [SIZE=n] [BODY=8BITMIME]`; the null path `<>` is an empty string.
    Mail {
        from: String,
        size: Option<u64>,
    },
    Rcpt(String),
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
}

/// A command line that could not be understood, with the reply to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Reverse-path` / `Forward-path` = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321 §4.1.2); the source
/// route, if any, is dropped. Lower-cased (addresses are accounts here).
fn path(arg: &str) -> Result<(String, &str), Refusal> {
    let arg = arg.trim_start();
    let Some(rest) = arg.strip_prefix('<') else {
        return Err(Refusal("501 5.5.4 Syntax: address must be in <>".into()));
    };
    let Some(end) = rest.find('>') else {
        return Err(Refusal("501 5.5.4 Syntax: missing >".into()));
    };
    let mut addr = &rest[..end];
    if addr.starts_with('@')
        && let Some((_, mailbox)) = addr.split_once(':')
    {
        addr = mailbox;
    }
    if addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Refusal("501 5.1.3 Bad address syntax".into()));
    }
    Ok((addr.to_ascii_lowercase(), &rest[end + 1..]))
}

/// Parses one command line (without its CRLF).
pub fn parse(line: &str) -> Result<Command, Refusal> {
    let (verb, arg) = match line.split_once(' ') {
        Some((v, a)) => (v, a),
        None => (line, ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "LHLO" if !arg.trim().is_empty() => Ok(Command::Lhlo(arg.trim().to_string())),
        "LHLO" => Err(Refusal("501 5.5.4 Syntax: LHLO hostname".into())),
        "HELO" | "EHLO" => Err(Refusal("500 5.5.1 This is LMTP: use LHLO".into())),
        "MAIL" => {
            let Some(rest) = strip_prefix_ci(arg, "FROM:") else {
                return Err(Refusal("501 5.5.4 Syntax: MAIL FROM:<address>".into()));
            };
            let (from, params) = path(rest)?;
            let mut size = None;
            for p in params.split_whitespace() {
                if let Some(v) = strip_prefix_ci(p, "SIZE=") {
                    size = Some(v.parse().map_err(|_| Refusal("501 5.5.4 Bad SIZE".into()))?);
                } else if let Some(v) = strip_prefix_ci(p, "BODY=") {
                    // RFC 6152 §2: 7BIT and 8BITMIME, both stored as they come; BINARYMIME
                    // (RFC 3030) is not offered.
                    if !v.eq_ignore_ascii_case("7BIT") && !v.eq_ignore_ascii_case("8BITMIME") {
                        return Err(Refusal(format!("555 5.5.4 Unsupported BODY={v}")));
                    }
                } else {
                    return Err(Refusal(format!("555 5.5.4 Unsupported parameter {p}")));
                }
            }
            Ok(Command::Mail { from, size })
        }
        "RCPT" => {
            let Some(rest) = strip_prefix_ci(arg, "TO:") else {
                return Err(Refusal("501 5.5.4 Syntax: RCPT TO:<address>".into()));
            };
            let (to, params) = path(rest)?;
            if to.is_empty() {
                return Err(Refusal("501 5.1.3 Empty recipient".into()));
            }
            // RFC 5321 §4.1.1.11: a parameter of an extension the server did not announce is
            // refused, not ignored. None of the announced ones (PIPELINING, ENHANCEDSTATUSCODES,
            // 8BITMIME, SIZE) has RCPT parameters; DSN's NOTIFY= and ORCPT= are not offered.
            if let Some(p) = params.split_whitespace().next() {
                return Err(Refusal(format!("555 5.5.4 Unsupported parameter {p}")));
            }
            Ok(Command::Rcpt(to))
        }
        "DATA" => Ok(Command::Data),
        "RSET" => Ok(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        _ => Err(Refusal("500 5.5.2 Command not recognised".into())),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse("LHLO mx.example"), Ok(Command::Lhlo("mx.example".into())));
        assert_eq!(
            parse("MAIL FROM:<Bob@Example.COM> SIZE=1234 BODY=8BITMIME"),
            Ok(Command::Mail { from: "bob@example.com".into(), size: Some(1234) })
        );
        assert_eq!(parse("mail from:<>"), Ok(Command::Mail { from: String::new(), size: None }));
        assert_eq!(parse("RCPT TO:<@relay:alice@x.test>"), Ok(Command::Rcpt("alice@x.test".into())));
        assert!(parse("RCPT TO:alice@x.test").is_err());
        assert!(parse("RCPT TO:<>").is_err());
        assert!(parse("EHLO x").is_err_and(|e| e.0.starts_with("500")));
        assert!(parse("MAIL FROM:<a@b> FOO=1").is_err_and(|e| e.0.starts_with("555 5.5.4")));
        assert!(parse("MAIL FROM:<a@b> BODY=BINARYMIME").is_err_and(|e| e.0.starts_with("555 5.5.4")));
        assert!(parse("MAIL FROM:<a@b> body=7bit").is_ok());
        assert!(
            parse("RCPT TO:<a@b> NOTIFY=NEVER")
                .is_err_and(|e| e.0 == "555 5.5.4 Unsupported parameter NOTIFY=NEVER")
        );
        assert!(parse("RCPT TO:<a@b> ").is_ok());
        assert_eq!(parse("quit"), Ok(Command::Quit));
    }
}
