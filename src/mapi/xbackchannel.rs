//! XBACKCHANNEL (docs/mapi-extension.md §5.1): the connection becomes its session's
//! backchannel. The dispatcher has checked the state (in a session, logged in, no mailbox
//! selected, NOTIFY off, not already the backchannel); the replay and the live events follow
//! the tagged OK, sent by the connection loop (`Session::backchannel_step`).

use std::time::{Duration, Instant};

use super::backchannel::{Backchannel, Heartbeats, Stream};
use super::state;
use super::summary::Fields;
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::proto::command::XBackchannelArgs;

pub async fn run(s: &mut Session, args: &XBackchannelArgs, out: &mut Vec<u8>) -> Outcome {
    let account = s.account_id()?;
    let (key, current) = s.read_cheap(move |r| Ok((r.sync_key()?, r.account(account)?.last_change))).await?;
    if args.epoch != state::epoch(&key, account) {
        return Err(Error::No(
            Some(Code::XRestart),
            "the replica belongs to another history of this account: discard it and start again".into(),
        ));
    }
    let m = &s.ctx.config.mapi;
    // §5.1, §14: the proposal clamped to the configured range.
    let granted = u64::from(args.heartbeat.get()).max(m.heartbeat_min_secs).min(m.heartbeat_max_secs.max(1));
    let fields = args.fields.as_deref().map_or_else(Fields::default_set, Fields::of);
    let stream = Stream::new(
        account,
        args.from,
        fields,
        s.enabled.utf8(),
        m.backchannel_batch as usize,
        m.burst_events as usize,
    );
    let Some(member) = &s.mapi else { return Err(Error::Bad("not in a session".into())) };
    if !s.ctx.sessions.become_backchannel(member, Duration::from_secs(granted)) {
        // Revoked a moment ago: the connection's BYE is on its way.
        return Err(Error::No(None, "the session has ended".into()));
    }
    log::info!("{}: MAPI session {}: backchannel from change {}", s.peer, member.session_id(), args.from);
    out.extend_from_slice(
        format!("* XBACKCHANNEL HEARTBEAT {granted} FROM {} CURRENT {current}\r\n", args.from).as_bytes(),
    );
    // §6: t0 is the tagged OK, which the connection writes as soon as this returns.
    let beats = Heartbeats::new(Duration::from_secs(granted), Instant::now());
    let bc = Backchannel { stream, beats, pending: true };
    s.link.set_backchannel(bc.figures());
    s.backchannel = Some(bc);
    Ok(Done::text("XBACKCHANNEL completed, replay follows"))
}
