//! XJOIN (docs/mapi-extension.md §4.2): a new connection joins a session with its token, in one
//! round trip and without a password hash.
//!
//! The dispatcher has checked, in this order, the state (not authenticated, else `BAD`) and the
//! connection (`NO [PRIVACYREQUIRED]`: the token is not looked at). Then, here: the login
//! throttle, exactly as for LOGIN (the answer waits; beyond the longest wait `NO [UNAVAILABLE]`);
//! the token and the user name (`NO [AUTHENTICATIONFAILED]`, one text for every case, counted as
//! a wrong password; a right token forgives as a right password does); the pool's room after
//! REPLACE (`NO [LIMIT]`).

use crate::imap::login::Account;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::mapi::registry::JoinError;
use crate::mapi::response::{self, History};
use crate::proto::command::{ConnId, Token};

pub async fn run(
    s: &mut Session,
    user: &str,
    token: &Token,
    replace: Option<ConnId>,
    out: &mut Vec<u8>,
) -> Outcome {
    let ctx = s.ctx.clone();
    let ip = s.peer.ip();
    let ticket = match ctx.logins.throttle().begin(ip, user) {
        Ok(t) => t,
        Err(refused) => {
            log::info!("{ip}: XJOIN for {user:?} refused, too many attempts from the address");
            async_io::Timer::after(refused.hold).await;
            return Err(Error::No(
                Some(Code::Unavailable),
                "too many login attempts from your address, try again later".into(),
            ));
        }
    };
    if !ticket.delay().is_zero() {
        log::info!("{ip}: XJOIN for {user:?} delayed {}s after failures", ticket.delay().as_secs());
        async_io::Timer::after(ticket.delay()).await;
    }
    match ctx.sessions.join(user, token.expose(), replace.map(ConnId::get), &s.link) {
        Err(JoinError::Invalid) => {
            ticket.failed();
            log::warn!("{ip}: failed XJOIN for {user:?}");
            Err(Error::No(Some(Code::AuthenticationFailed), "invalid credentials".into()))
        }
        Err(JoinError::PoolFull) => {
            ticket.succeeded();
            let max = ctx.sessions.limits().pool_max;
            Err(Error::No(Some(Code::Limit), format!("the session has {max} connections; REPLACE one")))
        }
        Ok((member, admitted)) => {
            ticket.succeeded();
            log::info!("{}: joined MAPI session {} as connection {}", s.peer, admitted.id, admitted.conn);
            s.logged_in(Account { id: admitted.account_id, name: admitted.account_name.clone() });
            s.mapi = Some(member);
            // A store that cannot be read now is reported as such (the connection stays in the
            // session, logged in; the client may retry on it or drop it).
            let account = admitted.account_id;
            let history = s.read_cheap(move |r| History::read(r, account)).await?;
            response::admitted(out, &admitted, None, &history, &ctx.config.mapi);
            Ok(Done::with_code(Code::Capability(s.capabilities()), "XJOIN completed"))
        }
    }
}
