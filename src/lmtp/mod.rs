//! LMTP (RFC 2033) as bytes and grammar only, no IO: command lines, the DATA body with its dot
//! unstuffing and size cap, and the session's state and replies (`session.rs`). `server::lmtp`
//! runs the sockets and the store.

pub mod session;

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
                } else if strip_prefix_ci(p, "BODY=").is_some() {
                    // 7BIT and 8BITMIME are both stored as they come.
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
            let (to, _) = path(rest)?;
            if to.is_empty() {
                return Err(Refusal("501 5.1.3 Empty recipient".into()));
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

/// Collects the DATA body: lines up to the lone `.`, dot-unstuffed (RFC 5321 §4.5.2), with a cap.
/// Past the cap it keeps reading (to find the end) but drops the bytes.
#[derive(Debug)]
pub struct Body {
    data: Vec<u8>,
    max: usize,
    too_big: bool,
}

/// What a body line did.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyLine {
    More,
    /// The terminating `.` arrived.
    End,
}

impl Body {
    pub fn new(max: usize) -> Self {
        Body { data: Vec::new(), max, too_big: false }
    }

    /// Takes one line including its line end.
    pub fn line(&mut self, line: &[u8]) -> BodyLine {
        let content = line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l)).unwrap_or(line);
        if content == b"." {
            return BodyLine::End;
        }
        let line = if line.starts_with(b"..") { &line[1..] } else { line };
        if self.data.len() + line.len() > self.max {
            self.too_big = true;
            self.data = Vec::new();
        }
        if !self.too_big {
            self.data.extend_from_slice(line);
        }
        BodyLine::More
    }

    /// The message, or `None` if it passed the cap.
    pub fn finish(self) -> Option<Vec<u8>> {
        if self.too_big { None } else { Some(self.data) }
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
        assert!(parse("MAIL FROM:<a@b> FOO=1").is_err_and(|e| e.0.starts_with("555")));
        assert_eq!(parse("quit"), Ok(Command::Quit));
    }

    #[test]
    fn body_unstuffs_and_caps() {
        let mut b = Body::new(100);
        assert_eq!(b.line(b"Subject: x\r\n"), BodyLine::More);
        assert_eq!(b.line(b"\r\n"), BodyLine::More);
        assert_eq!(b.line(b"..leading dot\r\n"), BodyLine::More);
        assert_eq!(b.line(b".\r\n"), BodyLine::End);
        assert_eq!(b.finish(), Some(b"Subject: x\r\n\r\n.leading dot\r\n".to_vec()));
        let mut b = Body::new(10);
        b.line(b"0123456789abc\r\n");
        assert_eq!(b.line(b".\n"), BodyLine::End);
        assert_eq!(b.finish(), None);
    }
}
