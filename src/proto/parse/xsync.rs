//! XSYNC and XHIERARCHY (docs/mapi-extension.md §15):
//!
//! ```text
//! xsync       = "XSYNC" SP mailbox-ref SP state-arg *(SP sync-option)   ; each option at most once
//! sync-option = ("WINDOW" SP nz-number) / ("BATCHES" SP nz-number) / fields
//! xhierarchy  = "XHIERARCHY" SP state-arg
//! mailbox-ref = "(" objectid ")" / mailbox
//! state-arg   = DQUOTE DQUOTE / atom
//! fields      = "FIELDS" SP "(" [field *(SP field)] ")"
//! ```

use super::{PResult, Parser};
use crate::proto::command::{CommandBody, MailboxRef, SummaryField, SyncOptions};

impl Parser<'_> {
    pub(super) fn xsync(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mailbox = if self.eat(b'(') {
            let id = self.objectid()?;
            self.expect(b')', ")")?;
            MailboxRef::Id(id)
        } else {
            MailboxRef::Name(self.mailbox()?)
        };
        self.sp()?;
        let state = self.state_arg()?;
        let mut options = SyncOptions::default();
        while self.peek() == Some(b' ') {
            self.sp()?;
            if self.eat_keyword("WINDOW") {
                self.sp()?;
                let w = self.nz_number()?;
                if options.window.replace(w).is_some() {
                    return self.fail("WINDOW given twice");
                }
            } else if self.eat_keyword("BATCHES") {
                self.sp()?;
                let b = self.nz_number64()?;
                if options.batches.replace(b).is_some() {
                    return self.fail("BATCHES given twice");
                }
            } else if self.eat_keyword("FIELDS") {
                let f = self.summary_fields()?;
                if options.fields.replace(f).is_some() {
                    return self.fail("FIELDS given twice");
                }
            } else {
                return self.fail("expected WINDOW, BATCHES or FIELDS");
            }
        }
        Ok(CommandBody::XSync { mailbox, state, options })
    }

    pub(super) fn xhierarchy(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        Ok(CommandBody::XHierarchy { state: self.state_arg()? })
    }

    /// `fields = "FIELDS" SP "(" [field *(SP field)] ")"`, called after "FIELDS".
    pub(super) fn summary_fields(&mut self) -> PResult<Vec<SummaryField>> {
        self.sp()?;
        self.paren_list(true, |p| {
            let word = p.name();
            SummaryField::from_name(&word).map_or_else(|| p.fail(format!("unknown summary field {word}")), Ok)
        })
    }

    /// `state-arg = DQUOTE DQUOTE / atom`: `None` for `""`. Any atom is taken: whether it is
    /// a state is the handler's question (`NO [XRESTART]`, never BAD).
    fn state_arg(&mut self) -> PResult<Option<String>> {
        if self.eat(b'"') {
            self.expect(b'"', "\"\" (the empty state)")?;
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(self.atom()?).into_owned()))
    }

    /// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7).
    fn objectid(&mut self) -> PResult<String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            self.pos += 1;
        }
        let id = &self.input[start..self.pos];
        if id.is_empty() || id.len() > 255 {
            return self.fail("expected an objectid");
        }
        Ok(String::from_utf8_lossy(id).into_owned())
    }
}
