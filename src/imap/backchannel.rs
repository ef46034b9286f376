//! The backchannel between commands (docs/mapi-extension.md §5.3, §6), below the handlers: the
//! connection loop (`server::imap`) asks the session when the next heartbeat is due, tells it
//! when the account changed, and has it run the event stream a step at a time on the store's
//! read threads (the cheap lane: a step costs one batch of the log, never a mailbox), writing
//! and flushing each step before the next.

use std::time::Instant;

use crate::imap::outcome::{Code, warn};
use crate::imap::session::Session;
use crate::mapi::backchannel::Due;
use crate::mapi::link::Closing;

impl Session {
    /// The connection is its session's backchannel.
    pub fn is_backchannel(&self) -> bool {
        self.backchannel.is_some()
    }

    /// On a pool connection of a session with a backchannel, how long it may be silent between
    /// commands before it is closed with `BYE [XNOACK]` (§6: two heartbeat intervals).
    pub fn pool_silence(&self) -> Option<std::time::Duration> {
        self.mapi.as_ref().and_then(|m| self.ctx.sessions.pool_silence(m))
    }

    /// How long a write on the backchannel may wait for its client: one heartbeat interval
    /// (docs/mapi-extension.md §6; the longest granted when this is not a backchannel).
    pub fn backchannel_write_limit(&self) -> std::time::Duration {
        match &self.backchannel {
            Some(b) => b.beats.interval(),
            None => std::time::Duration::from_secs(self.ctx.config.mapi.heartbeat_max_secs),
        }
    }

    /// When the next heartbeat is due, on a backchannel.
    pub fn heartbeat_due(&self) -> Option<Instant> {
        self.backchannel.as_ref().map(|b| b.beats.next_due())
    }

    /// The log may hold changes the backchannel has not reported.
    pub fn backchannel_pending(&self) -> bool {
        self.backchannel.as_ref().is_some_and(|b| b.pending)
    }

    /// A commit of the account woke the backchannel.
    pub fn backchannel_changed(&mut self) {
        if let Some(b) = self.backchannel.as_mut() {
            b.pending = true;
        }
    }

    /// One step of the event stream (at most `mapi.backchannel_batch` changes), appended to
    /// `out`. Returns whether another step should follow at once (not caught up yet). A store
    /// failure is told as an untagged `NO`; the changes come with a later step (at the next
    /// commit or heartbeat), the cursor having stayed.
    pub async fn backchannel_step(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(bc) = &self.backchannel else { return false };
        let mut stream = bc.stream;
        let read = self
            .read_cheap(move |r| {
                let mut buf = Vec::new();
                let step = stream.step(r, &mut buf)?;
                Ok((stream, buf, step))
            })
            .await;
        let Some(bc) = self.backchannel.as_mut() else { return false };
        match read {
            Ok((stream, mut buf, step)) => {
                out.append(&mut buf);
                bc.stream = stream;
                bc.pending = !step.caught_up;
                self.link.set_backchannel(bc.figures());
                !step.caught_up
            }
            Err(e) => {
                log::info!("{}: backchannel: cannot read the change log: {e:?}", self.peer);
                warn(out, e);
                false
            }
        }
    }

    /// The next heartbeat's time has come: `* XHEARTBEAT k SENT s CURRENT c`, or the reason to
    /// close when the previous one went unanswered (§6: `BYE [XNOACK]`).
    pub async fn heartbeat(&mut self, out: &mut Vec<u8>) -> Result<(), Closing> {
        let Some(bc) = self.backchannel.as_mut() else { return Ok(()) };
        let k = match bc.beats.due(Instant::now()) {
            Due::NoAck(k) => {
                return Err(Closing {
                    code: Code::XNoAck,
                    text: format!("heartbeat {k} was not acknowledged in time"),
                });
            }
            Due::Send(k) => k,
        };
        let sent = bc.stream.cursor();
        let account = self.account.as_ref().map(|a| a.id);
        // CURRENT as read now; should the store not answer, the cursor (CURRENT >= SENT holds).
        let current = match account {
            Some(id) => self.read_cheap(move |r| Ok(r.account(id)?.last_change)).await.unwrap_or(sent),
            None => sent,
        };
        out.extend_from_slice(
            format!("* XHEARTBEAT {k} SENT {sent} CURRENT {}\r\n", current.max(sent)).as_bytes(),
        );
        if let Some(bc) = &self.backchannel {
            self.link.set_backchannel(bc.figures());
        }
        Ok(())
    }
}
