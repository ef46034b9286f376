//! ENABLE (RFC 5161, RFC 9051 §6.3.1): IMAP4rev2, CONDSTORE, QRESYNC, UTF8=ACCEPT.

use crate::imap::enabled::Extension;
use crate::imap::outcome::Done;
use crate::imap::session::Session;
use crate::proto::command::{Atom, NonEmpty};

pub fn run(s: &mut Session, caps: &NonEmpty<Atom>, out: &mut Vec<u8>) -> Done {
    let mut enabled = Vec::new();
    let mut notes = Vec::new();
    for c in caps.iter() {
        // Unknown names are ignored (RFC 5161 §3.1); only the newly enabled are listed.
        if let Some(e) = Extension::from_name(c.as_str())
            && s.enable(e, &mut notes)
        {
            enabled.push(c.as_str().to_string());
        }
    }
    out.extend_from_slice(b"* ENABLED");
    for e in enabled {
        out.push(b' ');
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&notes);
    Done::text("ENABLE completed")
}
