//! ENABLE (RFC 5161, RFC 9051 §6.3.1): IMAP4rev2, CONDSTORE, QRESYNC, UTF8=ACCEPT.

use crate::imap::session::{Done, Session};
use crate::proto::command::{Atom, NonEmpty};

pub fn run(s: &mut Session, caps: &NonEmpty<Atom>, out: &mut Vec<u8>) -> Done {
    let mut enabled = Vec::new();
    for c in caps.iter() {
        let name = c.as_str().to_ascii_uppercase();
        let newly = match name.as_str() {
            "IMAP4REV2" => !std::mem::replace(&mut s.rev2, true) | !std::mem::replace(&mut s.utf8, true),
            "CONDSTORE" => !std::mem::replace(&mut s.condstore, true),
            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
            "QRESYNC" => {
                s.condstore = true;
                !std::mem::replace(&mut s.qresync, true)
            }
            "UTF8=ACCEPT" => !std::mem::replace(&mut s.utf8, true),
            _ => false,
        };
        if newly {
            enabled.push(c.as_str().to_string());
        }
    }
    out.extend_from_slice(b"* ENABLED");
    for e in enabled {
        out.push(b' ');
        out.extend_from_slice(e.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Done::text("ENABLE completed")
}
