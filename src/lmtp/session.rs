//! One LMTP session's state (RFC 2033, RFC 5321 §4.1.4 command order) as a machine without IO:
//! it takes command lines and results, writes replies into a buffer, and says what the network
//! layer must do next (look up a recipient, read the DATA body, store the message, close).

use std::sync::Arc;

use super::{Body, Command, parse};
use crate::store::{Delivered, StoreError};

/// What the caller must do after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Read the next command line.
    Line,
    /// Resolve this recipient, then call [`Session::recipient`].
    CheckRecipient(String),
    /// Flush the replies (the 354 is among them) and read the DATA body, then call
    /// [`Session::delivered`] with the store's results for [`Session::take_recipients`].
    ReadBody,
    /// Flush the replies and close.
    Close,
}

/// What every session of a server shares: its name and limits, from the config.
#[derive(Debug)]
pub struct Settings {
    pub hostname: String,
    /// Largest message accepted (SIZE, RFC 1870).
    pub max_size: u64,
    /// Over quota fails permanently (552 5.2.2) rather than temporarily (452 4.2.2).
    pub quota_permanent: bool,
    /// Recipients accepted per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Longest body line with its CRLF (RFC 5321 §4.5.3.1.6: at least 1000).
    pub max_line: usize,
}

/// The session: greeting, envelope, and the limits it announces.
#[derive(Debug)]
pub struct Session {
    settings: Arc<Settings>,
    greeted: bool,
    from: Option<String>,
    /// Accepted recipients in RCPT order, duplicates included: each RCPT gets its own reply
    /// after DATA (RFC 2033 §4.2); the store files one copy per distinct mailbox.
    rcpts: Vec<String>,
}

impl Session {
    pub fn new(settings: Arc<Settings>) -> Self {
        Session { settings, greeted: false, from: None, rcpts: Vec::new() }
    }

    pub fn greeting(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("220 {} LMTP applianced ready\r\n", self.settings.hostname).as_bytes());
    }

    /// Instead of the greeting when the server has as many connections as it takes
    /// (RFC 5321 §3.1: 421 opening a connection the server will not serve).
    pub fn busy(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("421 4.3.2 {} too many connections, try again later\r\n", self.settings.hostname)
                .as_bytes(),
        );
    }

    /// The client was silent for longer than the server waits (RFC 5321 §4.5.3.2.7; X.4.2
    /// of RFC 3463 is a bad connection); the caller closes after it.
    pub fn timed_out(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("421 4.4.2 {} timeout, closing connection\r\n", self.settings.hostname).as_bytes(),
        );
    }

    /// The server is stopping while the client could send a command (RFC 5321 §3.8: 421 to any
    /// command, then close; X.3.2 of RFC 3463: not accepting messages). An open transaction is
    /// not acknowledged, so the MTA sends it again later.
    pub fn shutting_down(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("421 4.3.2 {} shutting down, try again later\r\n", self.settings.hostname).as_bytes(),
        );
    }

    /// A reader for the body that [`Next::ReadBody`] asks for, with this server's caps.
    pub fn body(&self) -> Body {
        Body::new(usize::try_from(self.settings.max_size).unwrap_or(usize::MAX), self.settings.max_line)
    }

    /// One command line, its line end included; `too_long` when the reader cut it at the cap.
    pub fn line(&mut self, line: &[u8], too_long: bool, out: &mut Vec<u8>) -> Next {
        if too_long {
            out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
            return Next::Line;
        }
        let text = String::from_utf8_lossy(line);
        let cmd = match parse(text.trim_end_matches(['\r', '\n'])) {
            Ok(c) => c,
            Err(e) => {
                out.extend_from_slice(format!("{e}\r\n").as_bytes());
                return Next::Line;
            }
        };
        match cmd {
            Command::Lhlo(_) => {
                self.greeted = true;
                self.reset();
                out.extend_from_slice(
                    format!(
                        "250-{}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE {}\r\n",
                        self.settings.hostname, self.settings.max_size
                    )
                    .as_bytes(),
                );
            }
            // RFC 2033 §4.1: LHLO opens the session.
            _ if !self.greeted => out.extend_from_slice(b"503 5.5.1 Send LHLO first\r\n"),
            Command::Mail { from, size } => {
                if self.from.is_some() {
                    out.extend_from_slice(b"503 5.5.1 Nested MAIL command\r\n");
                } else if size.is_some_and(|s| s > self.settings.max_size) {
                    // RFC 1870 §6.
                    out.extend_from_slice(b"552 5.3.4 Message too big\r\n");
                } else {
                    self.from = Some(from);
                    out.extend_from_slice(b"250 2.1.0 OK\r\n");
                }
            }
            Command::Rcpt(to) => {
                if self.from.is_none() {
                    out.extend_from_slice(b"503 5.5.1 Need MAIL first\r\n");
                } else if self.rcpts.len() >= self.settings.max_recipients {
                    // RFC 5321 §4.5.3.1.10: the client sends the rest in a later transaction.
                    out.extend_from_slice(b"452 4.5.3 Too many recipients\r\n");
                } else {
                    return Next::CheckRecipient(to);
                }
            }
            Command::Data => {
                if self.rcpts.is_empty() {
                    out.extend_from_slice(b"503 5.5.1 No valid recipients\r\n");
                } else {
                    out.extend_from_slice(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                    return Next::ReadBody;
                }
            }
            Command::Rset => {
                self.reset();
                out.extend_from_slice(b"250 2.0.0 OK\r\n");
            }
            Command::Noop => out.extend_from_slice(b"250 2.0.0 OK\r\n"),
            Command::Vrfy => out.extend_from_slice(b"252 2.5.0 Cannot VRFY; send the message\r\n"),
            Command::Quit => {
                out.extend_from_slice(format!("221 2.0.0 {} closing\r\n", self.settings.hostname).as_bytes());
                return Next::Close;
            }
        }
        Next::Line
    }

    fn reset(&mut self) {
        self.from = None;
        self.rcpts.clear();
    }

    /// The answer to [`Next::CheckRecipient`]: `Ok` when the address has a mailbox.
    pub fn recipient(&mut self, to: String, found: Result<(), StoreError>, out: &mut Vec<u8>) {
        match found {
            Ok(()) => {
                self.rcpts.push(to);
                out.extend_from_slice(b"250 2.1.5 OK\r\n");
            }
            Err(StoreError::NoSuchAccount) => {
                out.extend_from_slice(format!("550 5.1.1 <{to}>: no such user\r\n").as_bytes());
            }
            Err(e) => {
                log::error!("LMTP recipient check: {e}");
                out.extend_from_slice(b"451 4.3.0 Temporary failure\r\n");
            }
        }
    }

    /// After the body was read: the accepted recipients, and the envelope ends (RFC 5321 §4.1.4).
    pub fn take_recipients(&mut self) -> Vec<String> {
        self.from = None;
        std::mem::take(&mut self.rcpts)
    }

    /// One reply per recipient, in RCPT order (RFC 2033 §4.2), for the outcome of the delivery:
    /// the whole transaction's failure, or each recipient's result.
    pub fn delivered(
        &self,
        recipients: &[String],
        outcome: Result<Vec<Result<Delivered, StoreError>>, Failure>,
        out: &mut Vec<u8>,
    ) {
        let results = match outcome {
            Ok(results) => results,
            Err(failure) => {
                let text = match failure {
                    Failure::TooBig => "552 5.3.4 Message too big".to_string(),
                    // RFC 5321 §4.5.3.1.10: "500 Line too long", after the whole body was read.
                    Failure::LineTooLong(max) => {
                        format!("500 5.5.2 Line too long (more than {max} octets with CRLF)")
                    }
                    Failure::NotMail(why) => format!("554 5.6.0 Not a message: {why}"),
                    // RFC 5321 §4.2.3 452 (insufficient system storage), RFC 3463 X.3.1 (mail
                    // system full): the MTA keeps the message and tries again.
                    Failure::Store(e) if e.is_disk_full() => {
                        "452 4.3.1 Insufficient system storage".to_string()
                    }
                    Failure::Store(_) => "451 4.3.0 Temporary storage failure".to_string(),
                };
                for _ in recipients {
                    out.extend_from_slice(format!("{text}\r\n").as_bytes());
                }
                return;
            }
        };
        for (rcpt, r) in recipients.iter().zip(results) {
            let line = match r {
                Ok(d) => format!("250 2.0.0 <{rcpt}> delivered, UID {}", d.uid),
                Err(StoreError::NoSuchAccount) => format!("550 5.1.1 <{rcpt}>: no such user"),
                // RFC 3463: X.2.2 mailbox full.
                Err(StoreError::OverQuota) if self.settings.quota_permanent => {
                    format!("552 5.2.2 <{rcpt}>: over quota")
                }
                Err(StoreError::OverQuota) => format!("452 4.2.2 <{rcpt}>: over quota"),
                Err(e) if e.is_disk_full() => format!("452 4.3.1 <{rcpt}>: insufficient system storage"),
                Err(e) if e.is_temporary() => format!("451 4.3.0 <{rcpt}>: temporary failure"),
                Err(e) => format!("554 5.3.0 <{rcpt}>: {e}"),
            };
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Why a message read in full was not stored for anyone.
#[derive(Debug)]
pub enum Failure {
    /// Larger than SIZE allows.
    TooBig,
    /// A line longer than the limit (given, with CRLF) allows.
    LineTooLong(usize),
    /// Refused by the FETCH data computation (see `fetchdata::validate`).
    NotMail(String),
    /// The store failed; the MTA should try again (452 when the disk is full, else 451).
    Store(StoreError),
}

/// Store errors carry no equality of their own; two are the same failure when they say the same.
impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Failure::TooBig, Failure::TooBig) => true,
            (Failure::LineTooLong(a), Failure::LineTooLong(b)) => a == b,
            (Failure::NotMail(a), Failure::NotMail(b)) => a == b,
            (Failure::Store(a), Failure::Store(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_recipients: usize, quota_permanent: bool) -> Arc<Settings> {
        Arc::new(Settings {
            hostname: "mx.test".into(),
            max_size: 1000,
            quota_permanent,
            max_recipients,
            max_line: 1000,
        })
    }

    fn run(s: &mut Session, line: &str) -> (Next, String) {
        let mut out = Vec::new();
        let next = s.line(format!("{line}\r\n").as_bytes(), false, &mut out);
        (next, String::from_utf8(out).unwrap_or_default())
    }

    #[test]
    fn command_order_is_enforced() {
        let mut s = Session::new(settings(100, false));
        assert_eq!(run(&mut s, "MAIL FROM:<a@b>").1, "503 5.5.1 Send LHLO first\r\n");
        assert!(run(&mut s, "LHLO mta").1.ends_with("250 SIZE 1000\r\n"));
        assert_eq!(run(&mut s, "RCPT TO:<x@y>").1, "503 5.5.1 Need MAIL first\r\n");
        assert_eq!(run(&mut s, "DATA").1, "503 5.5.1 No valid recipients\r\n");
        assert_eq!(run(&mut s, "MAIL FROM:<a@b> SIZE=2000").1, "552 5.3.4 Message too big\r\n");
        assert_eq!(run(&mut s, "MAIL FROM:<a@b>").1, "250 2.1.0 OK\r\n");
        assert_eq!(run(&mut s, "MAIL FROM:<a@b>").1, "503 5.5.1 Nested MAIL command\r\n");
        assert_eq!(run(&mut s, "RCPT TO:<X@Y>").0, Next::CheckRecipient("x@y".into()));
        let mut out = Vec::new();
        s.recipient("x@y".into(), Ok(()), &mut out);
        s.recipient("nobody@y".into(), Err(StoreError::NoSuchAccount), &mut out);
        assert_eq!(out, b"250 2.1.5 OK\r\n550 5.1.1 <nobody@y>: no such user\r\n");
        assert_eq!(
            run(&mut s, "DATA"),
            (Next::ReadBody, "354 Start mail input; end with <CRLF>.<CRLF>\r\n".into())
        );
        assert_eq!(s.take_recipients(), vec!["x@y".to_string()]);
        // The envelope is spent: a new transaction needs MAIL again.
        assert_eq!(run(&mut s, "RCPT TO:<x@y>").1, "503 5.5.1 Need MAIL first\r\n");
        assert_eq!(run(&mut s, "QUIT"), (Next::Close, "221 2.0.0 mx.test closing\r\n".into()));
    }

    #[test]
    fn one_reply_per_recipient() {
        let s = Session::new(settings(100, true));
        let rcpts = vec!["a@x".to_string(), "b@x".to_string(), "c@x".to_string()];
        let mut out = Vec::new();
        let results = vec![
            Ok(Delivered { account: 1, mailbox: 1, uid: 7 }),
            Err(StoreError::OverQuota),
            Err(StoreError::NoSuchAccount),
        ];
        s.delivered(&rcpts, Ok(results), &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "250 2.0.0 <a@x> delivered, UID 7\r\n552 5.2.2 <b@x>: over quota\r\n550 5.1.1 <c@x>: no such user\r\n"
        );
        let mut out = Vec::new();
        s.delivered(&rcpts[..2], Err(Failure::TooBig), &mut out);
        assert_eq!(out, b"552 5.3.4 Message too big\r\n552 5.3.4 Message too big\r\n");
        let mut out = Vec::new();
        s.delivered(&rcpts[..1], Err(Failure::LineTooLong(1000)), &mut out);
        assert_eq!(out, b"500 5.5.2 Line too long (more than 1000 octets with CRLF)\r\n");
    }

    #[test]
    fn recipients_are_limited_per_transaction() {
        let mut s = Session::new(settings(2, false));
        run(&mut s, "LHLO mta");
        run(&mut s, "MAIL FROM:<a@b>");
        for _ in 0..2 {
            let Next::CheckRecipient(to) = run(&mut s, "RCPT TO:<x@y>").0 else { panic!("check") };
            s.recipient(to, Ok(()), &mut Vec::new());
        }
        // The same address again counts too: every RCPT is answered after DATA.
        assert_eq!(run(&mut s, "RCPT TO:<x@y>"), (Next::Line, "452 4.5.3 Too many recipients\r\n".into()));
        assert_eq!(run(&mut s, "DATA").0, Next::ReadBody);
        assert_eq!(s.take_recipients().len(), 2);
        // A new transaction starts from zero.
        run(&mut s, "MAIL FROM:<a@b>");
        assert!(matches!(run(&mut s, "RCPT TO:<x@y>").0, Next::CheckRecipient(_)));
    }

    #[test]
    fn a_full_disk_is_452_4_3_1_and_other_storage_failures_451() {
        let s = Session::new(settings(100, false));
        let rcpts = vec!["a@x".to_string(), "b@x".to_string()];
        let mut out = Vec::new();
        s.delivered(&rcpts, Err(Failure::Store(StoreError::DiskFull("ENOSPC".into()))), &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "452 4.3.1 Insufficient system storage\r\n452 4.3.1 Insufficient system storage\r\n"
        );
        let mut out = Vec::new();
        s.delivered(&rcpts[..1], Err(Failure::Store(StoreError::Unavailable("EROFS".into()))), &mut out);
        assert_eq!(out, b"451 4.3.0 Temporary storage failure\r\n");
        let mut out = Vec::new();
        let results =
            vec![Err(StoreError::DiskFull("reserve".into())), Err(StoreError::Storage("EIO".into()))];
        s.delivered(&rcpts, Ok(results), &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "452 4.3.1 <a@x>: insufficient system storage\r\n451 4.3.0 <b@x>: temporary failure\r\n"
        );
    }
}
