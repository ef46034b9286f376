//! AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4616), with SASL-IR (RFC 4959).

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::proto::command::{Atom, Secret};
use crate::proto::parse::{SaslResponse, parse_sasl_response};

pub enum Start {
    /// Send an empty continuation and wait for the response line.
    Continue,
    /// The initial response came with the command.
    Response(Vec<u8>),
    Failed(Error),
}

pub fn start(_s: &Session, mechanism: &Atom, initial: Option<Secret>) -> Start {
    if !mechanism.is("PLAIN") {
        return Start::Failed(Error::No(None, format!("mechanism {} is not supported", mechanism.as_str())));
    }
    match initial {
        Some(r) => Start::Response(r.into_bytes()),
        None => Start::Continue,
    }
}

/// The client's response line to the continuation.
pub async fn response(s: &mut Session, line: &[u8]) -> Outcome {
    match parse_sasl_response(line) {
        Ok(SaslResponse::Data(d)) => response_bytes(s, d.into_bytes()).await,
        Ok(SaslResponse::Cancel) => Err(Error::Bad("AUTHENTICATE cancelled".into())),
        Err(e) => Err(Error::Bad(e.message)),
    }
}

/// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616 §2).
pub async fn response_bytes(s: &mut Session, data: Vec<u8>) -> Outcome {
    let fail = || Error::No(Some(Code::AuthenticationFailed), "invalid credentials".into());
    let mut parts = data.split(|b| *b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Bad("malformed PLAIN response".into()));
    };
    let user = std::str::from_utf8(user).map_err(|_| fail())?;
    let pass = std::str::from_utf8(pass).map_err(|_| fail())?;
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(user.as_bytes()) {
        return Err(Error::No(Some(Code::AuthorizationFailed), "cannot act as another user".into()));
    }
    match s.ctx.logins.check(s.peer.ip(), user, pass).await {
        Ok(account) => {
            s.logged_in(account);
            Ok(Done::with_code(Code::Capability(s.capabilities()), "AUTHENTICATE completed"))
        }
        Err(e) => Err(Error::No(Some(e.code()), e.text().into())),
    }
}
