//! XACK (docs/mapi-extension.md §6): the client answers heartbeat `k` (or reports progress with
//! `k` = 0) and says the highest change number it has applied durably. Valid on the backchannel
//! only (the dispatcher's check).

use std::time::Instant;

use super::backchannel::AckError;
use crate::imap::outcome::{Done, Error, Outcome};
use crate::imap::session::Session;

pub fn run(s: &mut Session, heartbeat: u64, applied: u64) -> Outcome {
    let Some(bc) = s.backchannel.as_mut() else { return Err(Error::Bad("not the backchannel".into())) };
    let cursor = bc.stream.cursor();
    bc.beats.ack(heartbeat, applied, cursor, Instant::now()).map_err(|e| {
        Error::Bad(match e {
            AckError::NotSent => format!("heartbeat {heartbeat} has not been sent"),
            AckError::Beyond => {
                format!("change {applied} has not been sent (the backchannel is at {cursor})")
            }
        })
    })?;
    s.link.set_backchannel(bc.figures());
    Ok(Done::text("XACK completed"))
}
