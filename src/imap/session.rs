//! One IMAP session: its state (RFC 9051 §3: not authenticated, authenticated, selected,
//! logout), what it enabled, its selected mailbox, literals before and after login, its store
//! reads and the reporting of others' changes. Below the handlers: `imap::dispatch` checks the
//! state and calls them; nothing here names `cmd/`. `Done`, `Error` and `Code` are re-exported
//! from `imap::outcome` and `proto::code` for the connection loop (`server::imap`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::Context;
use super::enabled::{Enabled, Extension};
use super::login::Account;
use super::selected::Selected;
use smol::channel::Sender;

use super::outcome::tagged;
pub use super::outcome::{Done, Error, Outcome, warn};
use crate::events::Subscription;
use crate::mapi::link::{Activity, ConnState, Link};
use crate::mapi::registry::{ClientId, Member};
pub use crate::proto::code::Code;
use crate::proto::command::Tag;
use crate::proto::framing::{Framer, Rejection};
use crate::proto::parse::parse_done;
use crate::store::{Lane, Reader, StoreError};

/// The largest literal accepted before login: LOGIN's user name or password (or an ID value,
/// RFC 2971 §3.3: at most 1024 octets) as a literal. RFC 9051 §7.1 `TOOBIG` beyond it.
pub const PREAUTH_MAX_LITERAL: u64 = 8 * 1024;

/// What the connection loop must do after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Flush and close.
    Logout,
    /// Flush, then start TLS on the connection.
    StartTls,
    /// Flush, then wait for `DONE` while pushing changes.
    Idle,
    /// Flush; the next line is a raw line (an AUTHENTICATE response), not a command.
    RawLine,
    /// Flush, then compress both directions (RFC 4978).
    Compress,
}

/// The states of RFC 9051 §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

pub struct Session {
    pub ctx: Arc<Context>,
    pub peer: SocketAddr,
    /// The connection is encrypted (implicit TLS or after STARTTLS).
    pub tls: bool,
    pub state: State,
    pub account: Option<Account>,
    pub selected: Option<Selected>,
    /// IMAP4rev2, CONDSTORE (by ENABLE, SELECT (CONDSTORE) or a command that uses MODSEQ),
    /// QRESYNC, UTF8=ACCEPT.
    pub enabled: Enabled,
    /// An AUTHENTICATE PLAIN waiting for the client's response.
    pub sasl: Option<Tag>,
    /// The tag of the running IDLE.
    pub idle_tag: Option<Tag>,
    /// COMPRESS=DEFLATE is active.
    pub compressed: bool,
    /// Changes of this account, once logged in.
    pub subscription: Option<Subscription>,
    /// SEARCHRES (RFC 5182): UIDs saved by the last `SEARCH RETURN (SAVE)`.
    pub saved: Option<Vec<u32>>,
    /// NOTIFY (RFC 5465) is on: what to report of other mailboxes.
    pub notify: Option<super::changes::Notify>,
    /// While a command runs: where finished parts of a large response go (see `stream`).
    pub(super) sink: Option<Sender<Vec<u8>>>,
    /// What the connection shows of itself to a MAPI session and the administrator, and the
    /// signal that closes it (`server::imap` counts its bytes and waits on it).
    pub link: Arc<Link>,
    /// The MAPI session this connection is in (docs/mapi-extension.md §4); leaving it is
    /// dropping it.
    pub mapi: Option<Member>,
    /// RFC 2971: what the client said of itself with ID, for a session it creates (§4.1).
    pub client_id: Option<ClientId>,
    /// The connection is its session's backchannel (docs/mapi-extension.md §5): its event
    /// stream and heartbeats, which the connection loop drives between commands.
    pub backchannel: Option<crate::mapi::backchannel::Backchannel>,
}

/// May secrets (a password, a MAPI token) be sent on a connection from `peer`? Over TLS, or on
/// loopback when `security.allow_plaintext_loopback` allows it (RFC 9051 §11.1: LOGINDISABLED
/// otherwise). A function of its inputs alone, so that its answer for an address that is not
/// loopback can be tested from a loopback connection.
pub fn may_send_secrets(peer: IpAddr, tls: bool, allow_plaintext_loopback: bool) -> bool {
    tls || (peer.to_canonical().is_loopback() && allow_plaintext_loopback)
}

/// RFC 2971 §3.3: at most 30 field-value pairs, fields of at most 30 octets, values of at most
/// 1024; what a client sends beyond is not kept.
fn bounded_client_id(params: &[(String, Option<String>)]) -> ClientId {
    fn cut(s: &str, max: usize) -> String {
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    }
    params.iter().take(30).map(|(k, v)| (cut(k, 30), v.as_deref().map(|v| cut(v, 1024)))).collect()
}

impl Session {
    pub fn new(ctx: Arc<Context>, peer: SocketAddr, tls: bool) -> Self {
        Session {
            ctx,
            peer,
            tls,
            state: State::NotAuthenticated,
            account: None,
            selected: None,
            enabled: Enabled::default(),
            sasl: None,
            idle_tag: None,
            compressed: false,
            subscription: None,
            saved: None,
            notify: None,
            sink: None,
            link: Arc::new(Link::new(peer, tls)),
            mapi: None,
            client_id: None,
            backchannel: None,
        }
    }

    /// ID (RFC 2971) gave the client's parameters: kept for a session this connection creates,
    /// and handed to the session it created already (docs/mapi-extension.md §4.1).
    pub fn remember_client_id(&mut self, params: Option<&[(String, Option<String>)]>) {
        let id = params.map(bounded_client_id);
        if let (Some(member), Some(id)) = (&self.mapi, &id) {
            self.ctx.sessions.set_client(member, id.clone());
        }
        self.client_id = id;
    }

    /// The connection's state as `XSESSION STATUS` shows it, when no command runs.
    pub fn activity(&self) -> Activity {
        let state = match self.state {
            State::NotAuthenticated | State::Logout => ConnState::NotAuthenticated,
            State::Authenticated => ConnState::Authenticated,
            State::Selected => ConnState::Selected,
        };
        let state = if self.idle_tag.is_some() { ConnState::Idle } else { state };
        Activity { state, command: None, mailbox: self.selected.as_ref().map(|s| s.name.clone()) }
    }

    /// A command starts (`running`: its name) or ended: what other connections of the session
    /// see of this one. Only a connection in a session is shown anywhere, so the others skip it.
    pub fn publish_activity(&self, running: Option<&'static str>) {
        if self.mapi.is_none() {
            return;
        }
        let mut a = self.activity();
        if let Some(name) = running
            && self.state != State::NotAuthenticated
        {
            a.state = ConnState::Running;
            a.command = Some(name);
        }
        self.link.set_activity(a);
    }

    /// [`Enabled::enable_reporting`] with the selected mailbox's mod-sequence, if one is selected.
    pub fn enable(&mut self, e: Extension, out: &mut Vec<u8>) -> bool {
        let modseq = self.selected.as_ref().map(|sel| sel.modseq);
        self.enabled.enable_reporting(e, modseq, out)
    }

    /// Passwords may be sent: over TLS, or on loopback when the config allows it.
    pub fn secure(&self) -> bool {
        may_send_secrets(self.peer.ip(), self.tls, self.ctx.config.security.allow_plaintext_loopback)
    }

    /// `NO [PRIVACYREQUIRED]` where secrets may not be sent (LOGIN, AUTHENTICATE, XJOIN,
    /// XSESSION: docs/mapi-extension.md §4.1, §4.2).
    pub fn require_secure(&self) -> Result<(), Error> {
        if self.secure() {
            Ok(())
        } else {
            Err(Error::No(Some(Code::PrivacyRequired), "use STARTTLS or port 993 first".into()))
        }
    }

    /// The capability list for the current state (RFC 9051 §7.2.2).
    pub fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"];
        // docs/mapi-extension.md §3: before and after authentication.
        if self.ctx.config.mapi.enabled {
            caps.push("XMAPI1");
        }
        if self.state == State::NotAuthenticated {
            if !self.tls && self.ctx.tls_available {
                caps.push("STARTTLS");
            }
            if self.secure() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "NAMESPACE",
                "UNSELECT",
                "UIDPLUS",
                "MOVE",
                "CHILDREN",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "SPECIAL-USE",
                "STATUS=SIZE",
                "MULTIAPPEND",
                "CATENATE",
                "BINARY",
                "ESEARCH",
                "SEARCHRES",
                "CONDSTORE",
                "QRESYNC",
                "PARTIAL",
                "NOTIFY",
                "COMPRESS=DEFLATE",
                "SORT",
                "SORT=DISPLAY",
                "ESORT",
                "CONTEXT=SEARCH",
                "CONTEXT=SORT",
                "OBJECTID",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "QUOTA=RES-MESSAGE",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "UTF8=ACCEPT",
            ]);
        }
        caps.join(" ")
    }

    pub fn greeting(&self, out: &mut Vec<u8>) {
        let text = format!("{} applianced ready", self.ctx.config.hostname);
        Code::Capability(self.capabilities()).untagged_ok(out, &text);
    }

    /// How long the client may stay silent.
    pub fn timeout(&self) -> Duration {
        let l = &self.ctx.config.limits;
        Duration::from_secs(if self.state == State::NotAuthenticated {
            l.login_timeout_secs
        } else {
            l.idle_timeout_secs
        })
    }

    /// The framer's caps in this state: the largest literal and the largest whole command.
    /// Before login only what LOGIN (or ID) can need is accepted, so that a client that has not
    /// proven anything cannot make the server hold megabytes (a refused synchronising literal
    /// is answered at once; a non-synchronising one over the cap closes the connection).
    pub fn literal_limits(&self) -> (u64, u64) {
        let l = &self.ctx.config.limits;
        if self.state == State::NotAuthenticated {
            let line = u64::try_from(l.max_line_length).unwrap_or(u64::MAX);
            (PREAUTH_MAX_LITERAL, line.saturating_add(4 * PREAUTH_MAX_LITERAL))
        } else {
            (l.max_literal_size, Framer::default_max_command(l.max_line_length, l.max_literal_size))
        }
    }

    /// May the client send the literal it announced for `command` (the command's name as sent,
    /// its size already within [`Session::literal_limits`])? A command that the state does not
    /// allow is refused before its literal is sent (RFC 9051 §7.5: a tagged NO or BAD instead
    /// of the continuation request; the client then sends nothing more of the command), with
    /// the response its parsed form would get from `allowed`.
    pub fn accept_literal(&self, command: &[u8]) -> Result<(), Error> {
        let name = command.to_ascii_uppercase();
        let shown = if !name.is_empty() && name.len() <= 32 && name.iter().all(u8::is_ascii_alphanumeric) {
            String::from_utf8_lossy(&name).into_owned()
        } else {
            "command".to_string()
        };
        let refuse = |why: &str| Err(Error::Bad(format!("{shown} not allowed now: {why}")));
        match (self.state, name.as_slice()) {
            (State::NotAuthenticated, b"LOGIN" | b"AUTHENTICATE" | b"XJOIN") if !self.secure() => {
                self.require_secure()
            }
            (State::NotAuthenticated, b"LOGIN" | b"AUTHENTICATE" | b"ID" | b"XJOIN") => Ok(()),
            (State::NotAuthenticated, _) => refuse("log in first"),
            (_, b"LOGIN" | b"AUTHENTICATE" | b"STARTTLS") => refuse("already authenticated"),
            (
                State::Authenticated,
                b"CHECK" | b"CLOSE" | b"UNSELECT" | b"CANCELUPDATE" | b"EXPUNGE" | b"SEARCH" | b"FETCH"
                | b"STORE" | b"COPY" | b"MOVE" | b"SORT" | b"THREAD" | b"UID",
            ) => refuse("no mailbox selected"),
            (State::Logout, _) => refuse("logging out"),
            _ => Ok(()),
        }
    }

    /// Answers a command whose literal was refused before it was sent (or while it is being
    /// dropped): `tag` is the command's first word as sent.
    pub fn literal_refused(&mut self, tag: &[u8], e: Error, out: &mut Vec<u8>) {
        log::info!("{}: literal refused: {e:?}", self.peer);
        match Tag::try_from(tag) {
            Ok(tag) => {
                self.finish(&tag, "literal", Err(e), out);
            }
            Err(_) => out.extend_from_slice(b"* BAD literal refused\r\n"),
        }
    }

    /// Answers a command the framer refused at a known boundary.
    pub fn rejected(&mut self, tag: Option<&[u8]>, reason: &Rejection, out: &mut Vec<u8>) -> Next {
        let tag = tag.and_then(|t| Tag::try_from(t).ok());
        let too_big = format!("NO [{}]", Code::TooBig);
        let (resp, text) = match reason {
            Rejection::LineTooLong => ("BAD", "command line too long".to_string()),
            Rejection::LiteralTooBig { size, .. } => {
                (too_big.as_str(), format!("literal of {size} bytes is over the limit"))
            }
            Rejection::CommandTooBig => (too_big.as_str(), "command too big".into()),
            _ => ("BAD", "malformed literal".into()),
        };
        log::info!("{}: refused: {text}", self.peer);
        match tag {
            Some(t) => out.extend_from_slice(format!("{t} {resp} {text}\r\n").as_bytes()),
            None => out.extend_from_slice(format!("* BAD {text}\r\n").as_bytes()),
        }
        if matches!(reason, Rejection::BadLiteral | Rejection::LiteralTooBig { synchronising: false, .. }) {
            out.extend_from_slice(b"* BYE cannot find the end of that command\r\n");
            return Next::Logout;
        }
        Next::Continue
    }

    /// Sends what `out` holds to the client now, when it has grown past a threshold.
    pub async fn stream(&mut self, out: &mut Vec<u8>) {
        const PIECE: usize = 256 * 1024;
        if out.len() >= PIECE {
            self.stream_now(out).await;
        }
    }

    /// Sends what `out` holds to the client now (a long command's first results, so that the
    /// client can show them while the rest is read).
    pub async fn stream_now(&mut self, out: &mut Vec<u8>) {
        if !out.is_empty()
            && let Some(sink) = &self.sink
        {
            // Only fails when the connection is gone; the command then ends with nobody listening.
            let _ = sink.send(std::mem::take(out)).await;
        }
    }

    /// Writes the tagged response, after the changes others made (where the RFC allows them).
    pub(super) fn finish(&mut self, tag: &Tag, name: &str, outcome: Outcome, out: &mut Vec<u8>) -> Next {
        match outcome {
            Ok(done) => tagged(out, tag, "OK", done.code.as_ref(), &done.text),
            Err(Error::No(code, text)) => {
                log::debug!("{}: {name}: NO {text}", self.peer);
                tagged(out, tag, "NO", code.as_ref(), &text);
            }
            Err(Error::Bad(text)) => out.extend_from_slice(format!("{tag} BAD {text}\r\n").as_bytes()),
            Err(Error::BadCode(code, text)) => tagged(out, tag, "BAD", Some(&code), &text),
        }
        Next::Continue
    }

    /// Logs the session in.
    pub fn logged_in(&mut self, account: Account) {
        log::info!("{}: logged in as {}", self.peer, account.name);
        self.subscription = Some(self.ctx.store.hub().subscribe(account.id));
        self.account = Some(account);
        self.state = State::Authenticated;
    }

    /// The account id. Handlers run only after the state check, so there is one; asking without
    /// one is a bug in the server, answered `NO [SERVERBUG]` rather than acting on another
    /// account.
    pub fn account_id(&self) -> Result<u64, Error> {
        self.account.as_ref().map(|a| a.id).ok_or_else(|| {
            log::error!("{}: a command asked for the account before login", self.peer);
            Error::No(Some(Code::ServerBug), "internal server error".into())
        })
    }

    /// Runs `f` on a store snapshot, off the executor, on the store's read threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(self.ctx.reads.read(Lane::Any, f).await?)
    }

    /// [`Session::read`] for a read whose cost grows with a change, not with a mailbox: it goes
    /// ahead of the others (`store::reads`).
    pub async fn read_cheap<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(self.ctx.reads.read(Lane::Cheap, f).await?)
    }

    /// Reports others' changes to the selected mailbox (EXISTS, EXPUNGE, FETCH FLAGS). When
    /// the store cannot say, the client is told with an untagged `NO` (RFC 9051 §7.1.2: a
    /// warning; the command it ends still completes), and the changes come with a later command.
    pub async fn refresh(&mut self, out: &mut Vec<u8>, expunge_allowed: bool) {
        let Some(sel) = self.selected.take() else { return };
        let qresync = self.enabled.qresync();
        let condstore = self.enabled.condstore();
        let done = self
            .ctx
            .reads
            .with(Lane::Cheap, sel, move |mut sel, store| {
                let mut buf = Vec::new();
                let r =
                    store.read().and_then(|r| sel.refresh(&r, &mut buf, expunge_allowed, qresync, condstore));
                (sel, buf, r)
            })
            .await;
        let failed = match done {
            Ok((sel, bytes, r)) => {
                // What was written before a failure is sent: the sequence map already moved.
                out.extend_from_slice(&bytes);
                self.selected = Some(sel);
                r.err()
            }
            Err(refused) => {
                self.selected = refused.input;
                Some(crate::store::reads::busy(refused.busy))
            }
        };
        if let Some(e) = failed {
            log::info!("{}: cannot report changes: {e}", self.peer);
            warn(
                out,
                match e {
                    StoreError::NoSuchMailbox => {
                        Error::No(Some(Code::NonExistent), "the selected mailbox no longer exists".into())
                    }
                    e => Error::from(e),
                },
            );
        }
        if self.selected.is_none() {
            // The pool stopped with the mailbox in its line: only when the server shuts down.
            self.state = State::Authenticated;
        }
    }

    pub fn tls_started(&mut self) {
        self.tls = true;
        self.link.set_tls();
    }

    /// The account's change subscription, for IDLE.
    pub fn subscription(&self) -> Option<Subscription> {
        self.subscription.clone()
    }

    /// During IDLE: something changed in the account.
    pub async fn idle_update(&mut self, out: &mut Vec<u8>) {
        self.refresh(out, true).await;
        super::changes::report(self, out).await;
    }

    /// NOTIFY is on: the connection should push changes while it waits for a command.
    pub fn notify_active(&self) -> bool {
        self.notify.is_some()
    }

    /// Between commands, with NOTIFY on: something changed in the account (RFC 5465 §4 lets the
    /// server send these at any time).
    pub async fn notify_update(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Selected {
            self.refresh(out, true).await;
        }
        super::changes::report(self, out).await;
    }

    /// The line that ends IDLE.
    pub fn idle_end(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let tag = self.idle_tag.take();
        self.publish_activity(None);
        let tag = tag.as_ref().map(|t| t.as_str()).unwrap_or("*");
        if parse_done(line).is_ok() {
            out.extend_from_slice(format!("{tag} OK IDLE terminated\r\n").as_bytes());
        } else {
            out.extend_from_slice(format!("{tag} BAD expected DONE\r\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::events::Hub;
    use crate::proto::command::MailboxName;
    use crate::store::Store;

    /// LOGINDISABLED's rule, which XJOIN and XSESSION share (docs/mapi-extension.md §4.2):
    /// tests run on loopback, so the addresses that are not loopback are tried here.
    #[test]
    fn secrets_need_tls_except_on_loopback_when_allowed() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        for remote in ["198.51.100.7", "10.0.0.1", "2001:db8::1", "::ffff:198.51.100.7"] {
            assert!(!may_send_secrets(ip(remote), false, true), "{remote}");
            assert!(may_send_secrets(ip(remote), true, false), "{remote} over TLS");
        }
        for local in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(may_send_secrets(ip(local), false, true), "{local}");
            assert!(!may_send_secrets(ip(local), false, false), "{local}, plaintext loopback off");
        }
    }

    /// Issue 11 part 4: a handler reached without an account acted on account 0 (whoever that
    /// is). Now it gets `NO [SERVERBUG]` and nothing happens in the store.
    #[test]
    fn a_handler_without_an_account_does_not_act_on_account_zero() {
        let dir = std::env::temp_dir().join(format!("applianced-session-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store =
            Arc::new(Store::open(&dir.join("db"), &Default::default(), Arc::new(Hub::new())).expect("store"));
        let first = store.write_blocking(|t| t.create_account("a@b.c", "x", &[])).expect("account");
        let ctx = Arc::new(Context::new(store.clone(), Config::default(), false));
        let mut s = Session::new(ctx, "127.0.0.1:1".parse().expect("addr"), false);
        assert!(matches!(s.account_id(), Err(Error::No(Some(Code::ServerBug), _))));
        let name = MailboxName::try_from("Stray").expect("name");
        let done = smol::block_on(crate::imap::cmd::create::run(&mut s, &name, &[]));
        assert!(matches!(done, Err(Error::No(Some(Code::ServerBug), _))), "{:?}", done.err());
        for account in [0, first] {
            let r = store.read().expect("read");
            assert!(r.mailbox_id(account, "Stray").is_err(), "created in account {account}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
