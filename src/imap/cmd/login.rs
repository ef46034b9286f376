//! LOGIN (RFC 9051 §6.2.3). Plaintext passwords only where `Session::secure` (checked before
//! dispatch); attempts are throttled by address and hashed on a bounded pool by `imap::login`,
//! which also says when a check could not be made (`NO [UNAVAILABLE]`, RFC 5530 §3).

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;

pub async fn run(s: &mut Session, user: &str, password: &[u8]) -> Outcome {
    let password = std::str::from_utf8(password)
        .map_err(|_| Error::No(Some(Code::AuthenticationFailed), "invalid credentials".into()))?;
    match s.ctx.logins.check(s.peer.ip(), user, password).await {
        Ok(account) => {
            s.logged_in(account);
            Ok(Done::with_code(Code::Capability(s.capabilities()), "LOGIN completed"))
        }
        Err(e) => Err(Error::No(Some(e.code()), e.text().into())),
    }
}
