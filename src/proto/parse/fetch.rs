//! FETCH, STORE, COPY and MOVE.

use std::num::NonZeroU32;

use super::{PResult, Parser};
use crate::proto::command::{
    CommandBody, FetchAttribute, FetchModifier, NonEmpty, Part, Partial, Section, StoreAction, StoreMode,
    StoreModifier,
};

impl Parser<'_> {
    /// fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")
    /// [fetch-modifiers] ; fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 4466)
    pub(super) fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        use FetchAttribute as F;
        let attributes = if self.peek() == Some(b'(') {
            self.paren_list1(Self::fetch_att)?
        } else if self.eat_keyword("ALL") {
            // ALL = (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)
            NonEmpty::try_from(vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope])
                .or_else(|e| self.fail(e))?
        } else if self.eat_keyword("FAST") {
            // FAST = (FLAGS INTERNALDATE RFC822.SIZE)
            NonEmpty::try_from(vec![F::Flags, F::InternalDate, F::Rfc822Size]).or_else(|e| self.fail(e))?
        } else if self.eat_keyword("FULL") {
            // FULL = (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)
            NonEmpty::try_from(vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope, F::Body])
                .or_else(|e| self.fail(e))?
        } else {
            NonEmpty::new(self.fetch_att()?)
        };
        let mut modifiers = Vec::new();
        if self.peek_sp_paren() {
            self.sp()?;
            modifiers = self.paren_list(false, Self::fetch_modifier)?.into_iter().collect();
        }
        Ok(CommandBody::Fetch { uid, set, attributes, modifiers })
    }

    /// fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
    /// "BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] / "BODY.PEEK" section [partial] /
    /// "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary ;
    /// fetch-att =/ "MODSEQ" (RFC 7162) / "EMAILID" / "THREADID" (RFC 8474) / "SAVEDATE" (RFC 8514) /
    /// "PREVIEW" [SP "(" "LAZY" ")"] (RFC 8970)
    pub(super) fn fetch_att(&mut self) -> PResult<FetchAttribute> {
        use FetchAttribute as F;
        let name = self.name();
        Ok(match name.as_str() {
            "ENVELOPE" => F::Envelope,
            "FLAGS" => F::Flags,
            "INTERNALDATE" => F::InternalDate,
            "RFC822" => F::Rfc822,
            "RFC822.HEADER" => F::Rfc822Header,
            "RFC822.SIZE" => F::Rfc822Size,
            "RFC822.TEXT" => F::Rfc822Text,
            "BODYSTRUCTURE" => F::BodyStructure,
            "UID" => F::Uid,
            "MODSEQ" => F::ModSeq,
            "EMAILID" => F::EmailId,
            "THREADID" => F::ThreadId,
            "SAVEDATE" => F::SaveDate,
            "BODY" if self.peek() != Some(b'[') => F::Body,
            "BODY" | "BODY.PEEK" => {
                let section = self.section()?;
                let partial = self.partial()?;
                F::BodySection { peek: name == "BODY.PEEK", section, partial }
            }
            "BINARY" | "BINARY.PEEK" => {
                let part = self.section_binary()?;
                let partial = self.partial()?;
                F::Binary { peek: name == "BINARY.PEEK", part, partial }
            }
            "BINARY.SIZE" => F::BinarySize { part: self.section_binary()? },
            "PREVIEW" => {
                let mut lazy = false;
                // Only `(LAZY ...)` follows PREVIEW; any other "(" starts the fetch modifiers.
                if self.peek_sp_paren() && self.peek_keyword_at(2, "LAZY") {
                    self.sp()?;
                    self.paren_list(false, |p| p.keyword("LAZY"))?;
                    lazy = true;
                }
                F::Preview { lazy }
            }
            "" => return self.fail("expected fetch item"),
            _ => return self.fail(format!("unknown fetch item {}", super::shown(name.as_bytes()))),
        })
    }

    /// section = "[" [section-spec] "]" ; section-spec = section-msgtext / (section-part ["." section-text]) ;
    /// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT" ;
    /// section-text = section-msgtext / "MIME"
    pub(super) fn section(&mut self) -> PResult<Section> {
        self.expect(b'[', "[")?;
        if self.eat(b']') {
            return Ok(Section::Full);
        }
        let part = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let p = self.section_part()?;
            if !self.eat(b'.') {
                self.expect(b']', "]")?;
                return Ok(Section::Part(p));
            }
            Some(p)
        } else {
            None
        };
        let text = self.name();
        let section = match text.as_str() {
            "HEADER" => Section::Header(part),
            "TEXT" => Section::Text(part),
            "MIME" => match part {
                Some(p) => Section::Mime(p),
                None => return self.fail("MIME needs a part number"),
            },
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                self.sp()?;
                let fields = self.header_list()?;
                if text == "HEADER.FIELDS" {
                    Section::HeaderFields(part, fields)
                } else {
                    Section::HeaderFieldsNot(part, fields)
                }
            }
            _ => return self.fail(format!("unknown section {}", super::shown(text.as_bytes()))),
        };
        self.expect(b']', "]")?;
        Ok(section)
    }

    /// section-part = nz-number *("." nz-number)
    ///
    /// Stops before a "." that is not followed by a digit (the start of section-text).
    fn section_part(&mut self) -> PResult<Part> {
        let mut parts = NonEmpty::new(self.nz_number()?);
        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            parts.push(self.nz_number()?);
        }
        Ok(Part(parts))
    }

    /// section-binary = "[" [section-part] "]"
    fn section_binary(&mut self) -> PResult<Vec<NonZeroU32>> {
        self.expect(b'[', "[")?;
        if self.eat(b']') {
            return Ok(Vec::new());
        }
        let part = self.section_part()?;
        self.expect(b']', "]")?;
        Ok(part.0.into_vec())
    }

    /// header-list = "(" header-fld-name *(SP header-fld-name) ")" ; header-fld-name = astring
    ///
    /// Field names must be RFC 5322 `ftext` (printable ASCII but ":").
    fn header_list(&mut self) -> PResult<NonEmpty<String>> {
        self.paren_list1(|p| {
            let raw = p.astring()?;
            if raw.is_empty() || !raw.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                return p.fail("invalid header field name");
            }
            p.utf8(raw)
        })
    }

    /// partial = "<" number64 "." nz-number64 ">"
    fn partial(&mut self) -> PResult<Option<Partial>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number64()?;
        self.expect(b'.', ". in partial")?;
        let length = self.nz_number64()?;
        self.expect(b'>', ">")?;
        Ok(Some(Partial { offset, length }))
    }

    /// fetch-modifier = chgsince-fetch-mod / rexpunges-fetch-mod / modifier-partial ;
    /// chgsince-fetch-mod = "CHANGEDSINCE" SP mod-sequence-value ; rexpunges-fetch-mod = "VANISHED" (RFC 7162) ;
    /// modifier-partial = "PARTIAL" SP partial-range (RFC 9394)
    fn fetch_modifier(&mut self) -> PResult<FetchModifier> {
        let name = self.name();
        Ok(match name.as_str() {
            "CHANGEDSINCE" => {
                self.sp()?;
                FetchModifier::ChangedSince(self.mod_seq()?)
            }
            "VANISHED" => FetchModifier::Vanished,
            "PARTIAL" => {
                self.sp()?;
                FetchModifier::Partial(self.partial_range()?)
            }
            _ => return self.fail(format!("unknown FETCH modifier {}", super::shown(name.as_bytes()))),
        })
    }

    /// store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags ;
    /// store-modifiers = SP "(" store-modifier *(SP store-modifier) ")" (RFC 4466) ;
    /// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    pub(super) fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mut modifiers = Vec::new();
        if self.peek_sp_paren() {
            self.sp()?;
            // store-modifier =/ "UNCHANGEDSINCE" SP mod-sequence-valzer (RFC 7162)
            modifiers = self.paren_list(false, |p| {
                let name = p.name();
                if name != "UNCHANGEDSINCE" {
                    return p.fail(format!("unknown STORE modifier {}", super::shown(name.as_bytes())));
                }
                p.sp()?;
                Ok(StoreModifier::UnchangedSince(p.mod_seq_valzer()?))
            })?;
        }
        self.sp()?;
        let mode = if self.eat(b'+') {
            StoreMode::Add
        } else if self.eat(b'-') {
            StoreMode::Remove
        } else {
            StoreMode::Replace
        };
        let silent = match self.name().as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return self.fail("expected FLAGS, +FLAGS or -FLAGS"),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut v = vec![self.flag()?];
            while self.eat(b' ') {
                v.push(self.flag()?);
            }
            v
        };
        Ok(CommandBody::Store { uid, set, action: StoreAction { mode, silent, flags }, modifiers })
    }

    /// copy = "COPY" SP sequence-set SP mailbox
    pub(super) fn copy(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mailbox = self.sp_mailbox()?;
        Ok(CommandBody::Copy { uid, set, mailbox })
    }

    /// move = "MOVE" SP sequence-set SP mailbox (RFC 6851)
    pub(super) fn move_(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mailbox = self.sp_mailbox()?;
        Ok(CommandBody::Move { uid, set, mailbox })
    }
}
