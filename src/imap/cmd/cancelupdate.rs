//! CANCELUPDATE (RFC 5267 §4.3.5): ends updating searches, named by the tags of their commands.

use crate::imap::outcome::{Done, Error, Outcome};
use crate::imap::session::Session;

pub fn run(s: &mut Session, tags: &[String]) -> Outcome {
    let Some(sel) = s.selected.as_mut() else { return Err(Error::Bad("no mailbox selected".into())) };
    if let Some(unknown) = tags.iter().find(|t| !sel.contexts.iter().any(|c| &c.tag == *t)) {
        return Err(Error::No(None, format!("{unknown} is not the tag of an updating search")));
    }
    sel.contexts.retain(|c| !tags.contains(&c.tag));
    Ok(Done::text("CANCELUPDATE completed, no more updates"))
}
