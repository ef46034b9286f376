//! SEARCH (with ESEARCH, SEARCHRES and PARTIAL return options), SORT and THREAD.

use super::{MAX_DEPTH, PResult, Parser};
use crate::proto::command::{
    CommandBody, EntryType, Flag, NonEmpty, ObjectId, SearchKey, SearchReturn, SortCriterion, SortKey,
    ThreadAlgorithm,
};

impl Parser<'_> {
    /// search = "SEARCH" [search-return-opts] SP search-program ;
    /// search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
    pub(super) fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        let returns = self.search_return_opts()?;
        self.sp()?;
        let charset = if self.eat_keyword("CHARSET") {
            self.sp()?;
            let c = self.charset()?;
            self.sp()?;
            Some(c)
        } else {
            None
        };
        let criteria = self.search_keys()?;
        Ok(CommandBody::Search { uid, returns, charset, criteria })
    }

    /// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" (RFC 4466, RFC 4731)
    ///
    /// `RETURN ()` is the same as `RETURN (ALL)` (RFC 4731 §3.1).
    fn search_return_opts(&mut self) -> PResult<Option<Vec<SearchReturn>>> {
        if !(self.peek() == Some(b' ') && self.peek_keyword_at(1, "RETURN")) {
            return Ok(None);
        }
        self.sp()?;
        self.keyword("RETURN")?;
        self.sp()?;
        let mut opts = self.paren_list(true, Self::search_return_opt)?;
        if opts.is_empty() {
            opts.push(SearchReturn::All);
        }
        // RFC 9394 §3.1: PARTIAL and ALL exclude each other.
        if opts.contains(&SearchReturn::All) && opts.iter().any(|o| matches!(o, SearchReturn::Partial(_))) {
            return self.fail("PARTIAL and ALL cannot be combined");
        }
        Ok(Some(opts))
    }

    /// search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE" (RFC 4731, RFC 5182) /
    /// "PARTIAL" SP partial-range (RFC 9394) / "CONTEXT" / "UPDATE" (RFC 5267)
    fn search_return_opt(&mut self) -> PResult<SearchReturn> {
        let name = self.name();
        Ok(match name.as_str() {
            "MIN" => SearchReturn::Min,
            "MAX" => SearchReturn::Max,
            "ALL" => SearchReturn::All,
            "COUNT" => SearchReturn::Count,
            "SAVE" => SearchReturn::Save,
            // RFC 5267 §5: modifier-context / modifier-update.
            "CONTEXT" => SearchReturn::Context,
            "UPDATE" => SearchReturn::Update,
            "PARTIAL" => {
                self.sp()?;
                SearchReturn::Partial(self.partial_range()?)
            }
            _ => return self.fail(format!("unknown search return option {}", super::shown(name.as_bytes()))),
        })
    }

    /// charset = atom / quoted
    fn charset(&mut self) -> PResult<String> {
        let raw = if self.peek() == Some(b'"') { self.quoted()? } else { self.atom()?.into() };
        if !raw.iter().all(|&b| (b' '..=b'~').contains(&b)) {
            return self.fail("invalid charset name");
        }
        self.utf8(raw)
    }

    /// search-key *(SP search-key): several keys side by side are ANDed.
    fn search_keys(&mut self) -> PResult<SearchKey> {
        let first = self.search_key()?;
        if self.peek() != Some(b' ') {
            return Ok(first);
        }
        let mut all = NonEmpty::new(first);
        while self.eat(b' ') {
            all.push(self.search_key()?);
        }
        Ok(SearchKey::And(all))
    }

    /// search-key, with nesting limited to [`MAX_DEPTH`].
    fn search_key(&mut self) -> PResult<SearchKey> {
        if self.depth >= MAX_DEPTH {
            return self.fail("search keys nested too deeply");
        }
        self.depth += 1;
        let key = self.search_key_inner();
        self.depth -= 1;
        key
    }

    fn sp_astring(&mut self) -> PResult<Vec<u8>> {
        self.sp()?;
        Ok(self.astring()?.into_owned())
    }

    fn sp_date(&mut self) -> PResult<crate::proto::command::Date> {
        self.sp()?;
        self.date()
    }

    fn sp_key(&mut self) -> PResult<Box<SearchKey>> {
        self.sp()?;
        self.search_key().map(Box::new)
    }

    fn sp_keyword(&mut self) -> PResult<crate::proto::command::Atom> {
        self.sp()?;
        self.atom_value()
    }

    fn sp_object_id(&mut self) -> PResult<ObjectId> {
        self.sp()?;
        let a = self.atom()?;
        ObjectId::try_from(a).or_else(|e| self.fail(e))
    }

    /// search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date / "BODY" SP astring /
    /// "CC" SP astring / "DELETED" / "FLAGGED" / "FROM" SP astring / "KEYWORD" SP flag-keyword /
    /// "ON" SP date / "SEEN" / "SINCE" SP date / "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring /
    /// "UNANSWERED" / "UNDELETED" / "UNFLAGGED" / "UNKEYWORD" SP flag-keyword / "UNSEEN" / "DRAFT" /
    /// "HEADER" SP header-fld-name SP astring / "LARGER" SP number64 / "NOT" SP search-key /
    /// "OR" SP search-key SP search-key / "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
    /// "SMALLER" SP number64 / "UID" SP sequence-set / "UNDRAFT" / sequence-set / "(" search-key *(SP search-key) ")" ;
    /// RFC 3501: "NEW" / "OLD" / "RECENT" ; RFC 7162: search-modsequence ; RFC 8474: "EMAILID" SP objectid /
    /// "THREADID" SP objectid ; RFC 5032: "OLDER" / "YOUNGER" SP nz-number. Not RFC 8514's SAVEDBEFORE,
    /// SAVEDON, SAVEDSINCE, SAVEDATESUPPORTED: SAVEDATE is not advertised, so they are unknown keys (BAD)
    /// rather than keys that silently match nothing.
    fn search_key_inner(&mut self) -> PResult<SearchKey> {
        use SearchKey as K;
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut keys = NonEmpty::new(self.search_key()?);
                while self.eat(b' ') {
                    keys.push(self.search_key()?);
                }
                self.expect(b')', ")")?;
                return Ok(K::And(keys));
            }
            Some(b'0'..=b'9' | b'*' | b'$') => return Ok(K::SequenceSet(self.sequence_set()?)),
            _ => {}
        }
        let name = self.name();
        Ok(match name.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Answered,
            "BCC" => K::Bcc(self.sp_astring()?),
            "BEFORE" => K::Before(self.sp_date()?),
            "BODY" => K::Body(self.sp_astring()?),
            "CC" => K::Cc(self.sp_astring()?),
            "DELETED" => K::Deleted,
            "DRAFT" => K::Draft,
            "FLAGGED" => K::Flagged,
            "FROM" => K::From(self.sp_astring()?),
            "HEADER" => {
                self.sp()?;
                let field = self.astring()?;
                if field.is_empty() || !field.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                    return self.fail("invalid header field name");
                }
                let field = self.utf8(field)?;
                K::Header(field, self.sp_astring()?)
            }
            "KEYWORD" => K::Keyword(self.sp_keyword()?),
            "LARGER" => {
                self.sp()?;
                K::Larger(self.number64()?)
            }
            "NEW" => K::New,
            "NOT" => K::Not(self.sp_key()?),
            "OLD" => K::Old,
            "ON" => K::On(self.sp_date()?),
            "OR" => {
                let a = self.sp_key()?;
                let b = self.sp_key()?;
                K::Or(a, b)
            }
            "RECENT" => K::Recent,
            "SEEN" => K::Seen,
            "SENTBEFORE" => K::SentBefore(self.sp_date()?),
            "SENTON" => K::SentOn(self.sp_date()?),
            "SENTSINCE" => K::SentSince(self.sp_date()?),
            "SINCE" => K::Since(self.sp_date()?),
            "SMALLER" => {
                self.sp()?;
                K::Smaller(self.number64()?)
            }
            "SUBJECT" => K::Subject(self.sp_astring()?),
            "TEXT" => K::Text(self.sp_astring()?),
            "TO" => K::To(self.sp_astring()?),
            "UID" => {
                self.sp()?;
                K::Uid(self.sequence_set()?)
            }
            "UNANSWERED" => K::Unanswered,
            "UNDELETED" => K::Undeleted,
            "UNDRAFT" => K::Undraft,
            "UNFLAGGED" => K::Unflagged,
            "UNKEYWORD" => K::Unkeyword(self.sp_keyword()?),
            "UNSEEN" => K::Unseen,
            "MODSEQ" => self.search_modsequence()?,
            "EMAILID" => K::EmailId(self.sp_object_id()?),
            "THREADID" => K::ThreadId(self.sp_object_id()?),
            "OLDER" => {
                self.sp()?;
                K::Older(self.nz_number()?)
            }
            "YOUNGER" => {
                self.sp()?;
                K::Younger(self.nz_number()?)
            }
            "" => return self.fail("expected search key"),
            _ => return self.fail(format!("unknown search key {}", super::shown(name.as_bytes()))),
        })
    }

    /// search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer ;
    /// search-modseq-ext = SP entry-name SP entry-type-req ; entry-name = entry-flag-name ;
    /// entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE ; entry-type-req = entry-type-resp / "all" ;
    /// entry-type-resp = "priv" / "shared" (RFC 7162 §7)
    fn search_modsequence(&mut self) -> PResult<SearchKey> {
        self.sp()?;
        let mut entry = None;
        if self.peek() == Some(b'"') {
            let name = self.quoted()?;
            let flag = match name.get(..7) {
                Some(prefix) if prefix.eq_ignore_ascii_case(b"/flags/") => {
                    Flag::try_from(&name[7..]).or_else(|e| self.fail(e))?
                }
                _ => return self.fail("MODSEQ entry name must start with /flags/"),
            };
            self.sp()?;
            let kind = match self.name().as_str() {
                "PRIV" => EntryType::Private,
                "SHARED" => EntryType::Shared,
                "ALL" => EntryType::All,
                _ => return self.fail("expected priv, shared or all"),
            };
            self.sp()?;
            entry = Some((flag, kind));
        }
        Ok(SearchKey::ModSeq { entry, mod_seq: self.mod_seq_valzer()? })
    }

    /// sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP search-criteria (RFC 5256, RFC 5267) ;
    /// sort-criteria = "(" sort-criterion *(SP sort-criterion) ")" ; search-criteria = charset 1*(SP search-key)
    pub(super) fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        let returns = self.search_return_opts()?;
        self.sp()?;
        let criteria = self.paren_list1(Self::sort_criterion)?;
        self.sp()?;
        let charset = self.charset()?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Sort { uid, returns, criteria, charset, search })
    }

    /// sort-criterion = ["REVERSE" SP] sort-key ;
    /// sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO" ;
    /// sort-key =/ "DISPLAYFROM" / "DISPLAYTO" (RFC 5957)
    fn sort_criterion(&mut self) -> PResult<SortCriterion> {
        let reverse = self.eat_keyword("REVERSE");
        if reverse {
            self.sp()?;
        }
        let name = self.name();
        let key = match name.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return self.fail(format!("unknown sort key {}", super::shown(name.as_bytes()))),
        };
        Ok(SortCriterion { reverse, key })
    }

    /// thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria ;
    /// thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext (RFC 5256)
    pub(super) fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let name = self.name();
        let algorithm = match name.as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            _ => return self.fail(format!("unsupported thread algorithm {}", super::shown(name.as_bytes()))),
        };
        self.sp()?;
        let charset = self.charset()?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Thread { uid, algorithm, charset, search })
    }
}
