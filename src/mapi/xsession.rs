//! XSESSION, XSESSION STATUS, XSESSION END (docs/mapi-extension.md §4.1, §4.4, §4.5). The
//! dispatcher has checked the state: logged in; outside a session and on a secure connection
//! for the create, in a session for STATUS and END.

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::imap::shared::wire_name;
use crate::mapi::link::ConnState;
use crate::mapi::registry::{ConnView, CreateError};
use crate::mapi::response::{self, History};
use crate::proto::string::{write_nstring, write_string};

/// §4.1: a session of the connection's account with this connection in it; the token is sent
/// here, once.
pub async fn create(s: &mut Session, out: &mut Vec<u8>) -> Outcome {
    let id = s.account_id()?;
    let name = s.account.as_ref().map(|a| a.name.clone()).unwrap_or_default();
    // Read before the session exists: CHANGE is at or before every snapshot that follows (§11.3).
    let history = s.read_cheap(move |r| History::read(r, id)).await?;
    match s.ctx.sessions.create(id, &name, s.client_id.clone(), &s.link) {
        Ok((member, admitted, token)) => {
            log::info!("{}: created MAPI session {} for {name}", s.peer, admitted.id);
            response::admitted(out, &admitted, Some(&token), &history, &s.ctx.config.mapi);
            s.mapi = Some(member);
            Ok(Done::text("XSESSION completed"))
        }
        Err(CreateError::TooManySessions) => Err(Error::No(
            Some(Code::Limit),
            format!(
                "the account has {} sessions with connections; end one with XSESSION END",
                s.ctx.config.mapi.sessions_per_account
            ),
        )),
        Err(CreateError::NoRandomness) => {
            log::error!("{}: XSESSION: the operating system gave no random bytes", s.peer);
            Err(Error::No(Some(Code::ServerBug), "internal server error".into()))
        }
    }
}

/// §4.4: the session, then one `XCONN` per connection, the asker's marked `SELF 1`.
pub async fn status(s: &mut Session, out: &mut Vec<u8>) -> Outcome {
    let account = s.account_id()?;
    let history = s.read_cheap(move |r| History::read(r, account)).await?;
    let Some(member) = &s.mapi else { return Err(Error::Bad("not in a session".into())) };
    let Some(view) = s.ctx.sessions.status(member) else {
        // Revoked a moment ago: the connection's BYE is on its way.
        return Err(Error::No(None, "the session has ended".into()));
    };
    let m = &s.ctx.config.mapi;
    out.extend_from_slice(format!("* XSESSION {} (ACCOUNT ", view.id).as_bytes());
    write_string(out, view.account.as_bytes());
    out.extend_from_slice(b" CLIENT ");
    match &view.client {
        None => out.extend_from_slice(b"NIL"),
        Some(pairs) => {
            // RFC 2971 `id-params-list`: `(` *(string SP nstring) `)`, NIL when empty.
            out.push(b'(');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_string(out, k.as_bytes());
                out.push(b' ');
                write_nstring(out, v.as_deref().map(str::as_bytes));
            }
            out.push(b')');
        }
    }
    out.extend_from_slice(format!(" AGE {} ", view.age_secs).as_bytes());
    history.write(out);
    response::limits(out, view.conns.len(), m);
    out.extend_from_slice(b")\r\n");
    let utf8 = s.enabled.utf8();
    for c in &view.conns {
        conn(s, c, utf8, out);
    }
    Ok(Done::text("XSESSION STATUS completed"))
}

/// `* XCONN id (ROLE r SELF b STATE st [COMMAND c] [MAILBOX m] ADDRESS a TLS b COMPRESS b AGE n
/// LASTACTIVE n IN n OUT n QUEUED n)`. The asker is shown as it stands between commands (the
/// command running on it is this one). `QUEUED`: the bytes of a write that waits for the
/// network; the pieces a long command has ready in its channel (at most two) and the socket's
/// send queue are not counted.
fn conn(s: &Session, c: &ConnView, utf8: bool, out: &mut Vec<u8>) {
    let activity = if c.is_self { s.activity() } else { c.link.activity.clone() };
    out.extend_from_slice(
        format!(
            "* XCONN {} (ROLE {} SELF {} STATE {}",
            c.id,
            c.role.name(),
            u8::from(c.is_self),
            activity.state.name()
        )
        .as_bytes(),
    );
    if let (ConnState::Running, Some(cmd)) = (activity.state, activity.command) {
        // An atom (§15): the first word of the command's name ("UID FETCH" shows as UID).
        out.extend_from_slice(format!(" COMMAND {}", cmd.split(' ').next().unwrap_or(cmd)).as_bytes());
    }
    if let Some(name) = &activity.mailbox {
        out.extend_from_slice(b" MAILBOX ");
        out.extend_from_slice(&wire_name(name, utf8));
    }
    let l = &c.link;
    out.extend_from_slice(b" ADDRESS ");
    write_string(out, l.address.to_string().as_bytes());
    for (name, value) in l.figures() {
        out.extend_from_slice(format!(" {name} {value}").as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// §4.5: the token revoked, the other connections closed with `BYE [XREVOKED]`; this one stays
/// logged in, outside any session.
pub fn end(s: &mut Session) -> Outcome {
    let Some(member) = s.mapi.take() else { return Err(Error::Bad("not in a session".into())) };
    // Outside the session, the backchannel is an ordinary connection again (§4.5).
    s.backchannel = None;
    log::info!("{}: ended MAPI session {}", s.peer, member.session_id());
    s.ctx.sessions.end(member);
    Ok(Done::text("XSESSION END completed"))
}
