//! The dispatcher, above the handlers: a command is parsed, its state checked in one place
//! (RFC 9051 §3, STYLE.md §5), handed to its handler in `cmd/`, and answered; the selected
//! mailbox's and NOTIFY's changes go out before the tagged response where the RFC allows them.

use smol::channel::Sender;

use super::cmd;
use super::outcome::{Code, Done, Error};
use super::session::{Next, Session, State};
use crate::mapi;
use crate::proto::command::{Command, CommandBody, Tag, XSessionOp};
use crate::proto::parse::{ParseOptions, parse_command_with};

impl Session {
    /// Runs one framed command (or the raw line an AUTHENTICATE is waiting for). Handlers may pass
    /// finished parts of a large response to `sink` ([`Session::stream`]); the rest stays in `out`.
    /// The command's bytes are handed over, so that APPEND can store its literals from the
    /// framer's buffer without a copy.
    pub async fn command(&mut self, bytes: Vec<u8>, out: &mut Vec<u8>, sink: Sender<Vec<u8>>) -> Next {
        self.sink = Some(sink);
        let next = self.run_command(bytes, out).await;
        // Dropping the sender ends the connection's draining of streamed parts.
        self.sink = None;
        next
    }

    async fn run_command(&mut self, bytes: Vec<u8>, out: &mut Vec<u8>) -> Next {
        if let Some(tag) = self.sasl.take() {
            let outcome = cmd::authenticate::response(self, &bytes).await;
            return self.finish(&tag, "AUTHENTICATE", outcome, out);
        }
        let cmd = match parse_command_with(&bytes, ParseOptions { utf8: self.enabled.utf8() }) {
            Ok(c) => c,
            Err(e) => {
                match e.tag {
                    Some(t) => out.extend_from_slice(format!("{t} BAD {}\r\n", e.message).as_bytes()),
                    None => out.extend_from_slice(format!("* BAD {}\r\n", e.message).as_bytes()),
                }
                return Next::Continue;
            }
        };
        let Command { tag, body } = cmd;
        let name = body.name();
        if let Err(e) = self.allowed(&body) {
            return self.finish(&tag, name, Err(e), out);
        }
        self.publish_activity(Some(name));
        let next = self.dispatch(tag, body, bytes, out).await;
        self.publish_activity(None);
        next
    }

    /// Runs a command the state allows.
    async fn dispatch(&mut self, tag: Tag, body: CommandBody, bytes: Vec<u8>, out: &mut Vec<u8>) -> Next {
        let name = body.name();
        // RFC 9051 §7.5.1: no EXPUNGE while a FETCH, STORE or SEARCH by sequence number runs (the
        // numbers would shift under the client); their UID forms may see them.
        let expunge_allowed = !matches!(
            body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
        );
        // A valid astring that is not valid modified UTF-7 (RFC 3501 §5.1.3) names no mailbox:
        // NO, never BAD, and none is created under it.
        if let Some((_, creates)) = body.name_not_modified_utf7() {
            return self.finish(&tag, name, Err(Error::not_modified_utf7(creates)), out);
        }
        let outcome = match body {
            CommandBody::Capability => {
                out.extend_from_slice(format!("* CAPABILITY {}\r\n", self.capabilities()).as_bytes());
                Ok(Done::text("CAPABILITY completed"))
            }
            // Their report of changes is the one every command ends with, below.
            CommandBody::Noop | CommandBody::Check => Ok(Done::text(format!("{name} completed"))),
            CommandBody::Logout => {
                out.extend_from_slice(b"* BYE logging out\r\n");
                out.extend_from_slice(format!("{tag} OK LOGOUT completed\r\n").as_bytes());
                self.state = State::Logout;
                return Next::Logout;
            }
            CommandBody::StartTls => {
                out.extend_from_slice(format!("{tag} OK begin TLS negotiation now\r\n").as_bytes());
                return Next::StartTls;
            }
            CommandBody::Id { parameters } => {
                self.remember_client_id(parameters.as_deref());
                out.extend_from_slice(b"* ID (\"name\" \"applianced\" \"version\" \"");
                out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
                out.extend_from_slice(b"\")\r\n");
                Ok(Done::text("ID completed"))
            }
            CommandBody::Login { username, password } => {
                cmd::login::run(self, &username, password.expose()).await
            }
            CommandBody::Authenticate { mechanism, initial_response } => {
                match cmd::authenticate::start(self, &mechanism, initial_response) {
                    cmd::authenticate::Start::Continue => {
                        out.extend_from_slice(b"+ \r\n");
                        self.sasl = Some(tag);
                        return Next::RawLine;
                    }
                    cmd::authenticate::Start::Response(r) => cmd::authenticate::response_bytes(self, r).await,
                    cmd::authenticate::Start::Failed(e) => Err(e),
                }
            }
            CommandBody::Enable { capabilities } => Ok(cmd::enable::run(self, &capabilities, out)),
            CommandBody::Namespace => {
                out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                Ok(Done::text("NAMESPACE completed"))
            }
            CommandBody::Select { mailbox, params } => {
                cmd::select::run(self, &mailbox, &params, false, out).await
            }
            CommandBody::Examine { mailbox, params } => {
                cmd::select::run(self, &mailbox, &params, true, out).await
            }
            CommandBody::Create { mailbox, special_use } => {
                cmd::create::run(self, &mailbox, &special_use).await
            }
            CommandBody::Delete { mailbox } => cmd::delete::run(self, &mailbox).await,
            CommandBody::Rename { from, to } => cmd::rename::run(self, &from, &to).await,
            CommandBody::Subscribe { mailbox } => cmd::subscribe::run(self, &mailbox, true).await,
            CommandBody::Unsubscribe { mailbox } => cmd::subscribe::run(self, &mailbox, false).await,
            CommandBody::List { select, reference, patterns, returns } => {
                cmd::list::list(self, &select, &reference, &patterns, &returns, out).await
            }
            CommandBody::Lsub { reference, pattern } => {
                cmd::list::lsub(self, &reference, &pattern, out).await
            }
            CommandBody::Status { mailbox, attributes } => {
                cmd::status::run(self, &mailbox, &attributes, out).await
            }
            CommandBody::Append { mailbox, messages } => {
                cmd::append::run(self, &mailbox, &messages, bytes).await
            }
            CommandBody::Idle => {
                self.refresh(out, true).await;
                out.extend_from_slice(b"+ idling\r\n");
                self.idle_tag = Some(tag);
                return Next::Idle;
            }
            CommandBody::Compress { .. } => {
                if self.compressed {
                    Err(Error::No(Some(Code::CompressionActive), "DEFLATE is already active".into()))
                } else {
                    out.extend_from_slice(format!("{tag} OK DEFLATE active\r\n").as_bytes());
                    self.compressed = true;
                    self.link.set_compress();
                    return Next::Compress;
                }
            }
            CommandBody::GetQuota { root } => cmd::quota::get_quota(self, &root, out).await,
            CommandBody::GetQuotaRoot { mailbox } => cmd::quota::get_quota_root(self, &mailbox, out).await,
            CommandBody::SetQuota { .. } => Err(Error::No(
                Some(Code::NoPerm),
                "quotas are set in applianced.toml by the administrator".into(),
            )),
            CommandBody::Notify { set } => cmd::notify::run(self, set.as_ref(), out).await,
            CommandBody::XSync { mailbox, state, options } => {
                crate::mapi::xsync::run(self, &mailbox, state.as_deref(), &options, out).await
            }
            CommandBody::XHierarchy { state } => {
                crate::mapi::xhierarchy::run(self, state.as_deref(), out).await
            }
            CommandBody::Close => cmd::expunge::close(self).await,
            CommandBody::CancelUpdate { tags } => cmd::cancelupdate::run(self, &tags),
            CommandBody::Unselect => {
                self.selected = None;
                self.state = State::Authenticated;
                Ok(Done::text("UNSELECT completed"))
            }
            CommandBody::Expunge => cmd::expunge::expunge(self, None, out).await,
            CommandBody::UidExpunge { set } => cmd::expunge::expunge(self, Some(&set), out).await,
            CommandBody::Search { uid, returns, charset, criteria } => {
                cmd::search::run(self, uid, returns.as_deref(), charset.as_deref(), &criteria, &tag, out)
                    .await
            }
            CommandBody::Sort { uid, returns, criteria, charset, search } => {
                cmd::sort::run(self, uid, returns.as_deref(), &criteria, &charset, &search, &tag, out).await
            }
            CommandBody::Thread { uid, algorithm, charset, search } => {
                cmd::thread::run(self, uid, algorithm, &charset, &search, out).await
            }
            CommandBody::Fetch { uid, set, attributes, modifiers } => {
                cmd::fetch::run(self, uid, &set, &attributes, &modifiers, out).await
            }
            CommandBody::Store { uid, set, action, modifiers } => {
                cmd::store::run(self, uid, &set, &action, &modifiers, out).await
            }
            CommandBody::Copy { uid, set, mailbox } => {
                cmd::copy::run(self, uid, &set, &mailbox, false, out).await
            }
            CommandBody::Move { uid, set, mailbox } => {
                cmd::copy::run(self, uid, &set, &mailbox, true, out).await
            }
            CommandBody::XSession { op: XSessionOp::Create } => mapi::xsession::create(self, out).await,
            CommandBody::XSession { op: XSessionOp::Status } => mapi::xsession::status(self, out).await,
            CommandBody::XSession { op: XSessionOp::End } => mapi::xsession::end(self),
            CommandBody::XJoin { username, token, replace } => {
                mapi::xjoin::run(self, &username, &token, replace, out).await
            }
            CommandBody::XBackchannel(args) => mapi::xbackchannel::run(self, &args, out).await,
            CommandBody::XAck { heartbeat, applied } => mapi::xack::run(self, heartbeat, applied),
        };
        // Report what others changed before the tagged response, as servers do at command end.
        if outcome.is_ok() && self.state == State::Selected {
            self.refresh(out, expunge_allowed).await;
        }
        if outcome.is_ok() && self.notify.is_some() {
            super::changes::report(self, out).await;
        }
        self.finish(&tag, name, outcome, out)
    }

    /// The one place where session state is checked (STYLE.md §5).
    fn allowed(&self, body: &CommandBody) -> Result<(), Error> {
        use CommandBody as C;
        // docs/mapi-extension.md §5.7, §12.1: the backchannel answers these only, so that no
        // long command delays its pushes and heartbeats; the rest changes nothing.
        if self.backchannel.is_some()
            && !matches!(
                body,
                C::XAck { .. }
                    | C::Noop
                    | C::Capability
                    | C::Id { .. }
                    | C::Logout
                    | C::XSession { op: XSessionOp::Status | XSessionOp::End }
            )
        {
            return Err(Error::BadCode(
                Code::XBackchannel,
                format!("{} is not allowed on the backchannel: use a pool connection", body.name()),
            ));
        }
        let needs = match body {
            C::Capability | C::Noop | C::Logout | C::Id { .. } => return Ok(()),
            C::StartTls => {
                if self.tls {
                    return Err(Error::Bad("TLS is already active".into()));
                }
                if !self.ctx.tls_available {
                    return Err(Error::No(None, "TLS is not configured".into()));
                }
                State::NotAuthenticated
            }
            C::Login { .. } | C::Authenticate { .. } => {
                if self.state == State::NotAuthenticated {
                    self.require_secure()?;
                }
                State::NotAuthenticated
            }
            // docs/mapi-extension.md §12.1; the extension's commands are unknown when it is off.
            C::XJoin { .. }
            | C::XSession { .. }
            | C::XSync { .. }
            | C::XHierarchy { .. }
            | C::XBackchannel(_)
            | C::XAck { .. }
                if !self.ctx.config.mapi.enabled =>
            {
                return Err(Error::Bad(format!("unknown command {}", body.name())));
            }
            // §4.2: the state first (BAD), then the connection (the token is not looked at).
            C::XJoin { .. } => {
                if self.state != State::NotAuthenticated {
                    return Err(Error::Bad("XJOIN not allowed now: already authenticated".into()));
                }
                self.require_secure()?;
                State::NotAuthenticated
            }
            // §4.1: outside a session, on a connection where a password could have been sent.
            C::XSession { op: XSessionOp::Create } => {
                if matches!(self.state, State::Authenticated | State::Selected) {
                    if self.mapi.is_some() {
                        return Err(Error::Bad("XSESSION not allowed now: already in a session".into()));
                    }
                    self.require_secure()?;
                }
                State::Authenticated
            }
            // §4.4, §4.5: in a session.
            C::XSession { .. } => {
                if matches!(self.state, State::Authenticated | State::Selected) && self.mapi.is_none() {
                    return Err(Error::Bad(format!("{} not allowed now: not in a session", body.name())));
                }
                State::Authenticated
            }
            // §5.1, §12.1: logged in, in a session, no mailbox selected, NOTIFY off.
            C::XBackchannel(_) => {
                if self.state == State::Selected {
                    return Err(Error::Bad(
                        "XBACKCHANNEL not allowed now: a mailbox is selected (UNSELECT first)".into(),
                    ));
                }
                if self.state == State::Authenticated {
                    if self.mapi.is_none() {
                        return Err(Error::Bad("XBACKCHANNEL not allowed now: not in a session".into()));
                    }
                    if self.notify.is_some() {
                        return Err(Error::Bad("XBACKCHANNEL not allowed now: NOTIFY is active".into()));
                    }
                }
                State::Authenticated
            }
            // §6, §12.1: on the backchannel only (which the check above has let through).
            C::XAck { .. } => {
                if self.backchannel.is_none() && matches!(self.state, State::Authenticated | State::Selected)
                {
                    return Err(Error::Bad("XACK not allowed now: not the backchannel".into()));
                }
                State::Authenticated
            }
            C::Check
            | C::Close
            | C::Unselect
            | C::CancelUpdate { .. }
            | C::Expunge
            | C::UidExpunge { .. }
            | C::Search { .. }
            | C::Fetch { .. }
            | C::Store { .. }
            | C::Copy { .. }
            | C::Move { .. }
            | C::Sort { .. }
            | C::Thread { .. } => State::Selected,
            _ => State::Authenticated,
        };
        let ok = match needs {
            State::NotAuthenticated => self.state == State::NotAuthenticated,
            State::Authenticated => matches!(self.state, State::Authenticated | State::Selected),
            State::Selected => self.state == State::Selected,
            State::Logout => false,
        };
        if ok {
            Ok(())
        } else {
            let why = match needs {
                State::NotAuthenticated => "already authenticated",
                State::Selected => "no mailbox selected",
                _ => "log in first",
            };
            Err(Error::Bad(format!("{} not allowed now: {why}", body.name())))
        }
    }
}
