//! Mailbox commands: SELECT/EXAMINE parameters, CREATE, LIST, LSUB, STATUS, APPEND, NOTIFY and
//! the QUOTA commands.

use super::{PResult, Parser};
use crate::proto::command::{
    AppendData, AppendMessage, CommandBody, EventGroup, ListReturn, ListSelect, MailboxFilter, MailboxName,
    NonEmpty, NotifyEvent, NotifySet, NumberSet, QResync, QuotaResource, SelectParams, SpecialUse,
    StatusAttribute,
};

impl Parser<'_> {
    /// select = "SELECT" SP mailbox [select-params] ; select-params = SP "(" select-param *(SP select-param) ")"
    /// (RFC 4466) ; select-param =/ "CONDSTORE" / "QRESYNC" SP "(" ... ")" (RFC 7162)
    pub(super) fn select_args(&mut self) -> PResult<(MailboxName, SelectParams)> {
        let mailbox = self.sp_mailbox()?;
        let mut params = SelectParams::default();
        if self.peek_sp_paren() {
            self.sp()?;
            self.paren_list(false, |p| {
                let name = p.name();
                match name.as_str() {
                    "CONDSTORE" => params.condstore = true,
                    "QRESYNC" => {
                        p.sp()?;
                        if params.qresync.replace(p.qresync()?).is_some() {
                            return p.fail("QRESYNC given twice");
                        }
                    }
                    _ => {
                        return p.fail(format!("unknown SELECT parameter {}", super::shown(name.as_bytes())));
                    }
                }
                Ok(())
            })?;
        }
        Ok((mailbox, params))
    }

    /// "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" (RFC 7162 §7)
    fn qresync(&mut self) -> PResult<QResync> {
        self.expect(b'(', "(")?;
        let uid_validity = self.nz_number()?;
        self.sp()?;
        let mod_seq = self.mod_seq()?;
        let mut known_uids = None;
        let mut seq_match = None;
        if self.eat(b' ') {
            if self.peek() == Some(b'(') {
                seq_match = Some(self.seq_match_data()?);
            } else {
                known_uids = Some(self.number_set()?);
                if self.eat(b' ') {
                    seq_match = Some(self.seq_match_data()?);
                }
            }
        }
        self.expect(b')', ")")?;
        Ok(QResync { uid_validity, mod_seq, known_uids, seq_match })
    }

    /// seq-match-data = "(" known-sequence-set SP known-uid-set ")" (RFC 7162 §7)
    fn seq_match_data(&mut self) -> PResult<(NumberSet, NumberSet)> {
        self.expect(b'(', "(")?;
        let seqs = self.number_set()?;
        self.sp()?;
        let uids = self.number_set()?;
        self.expect(b')', ")")?;
        Ok((seqs, uids))
    }

    /// create = "CREATE" SP mailbox [create-params] ; create-params = SP "(" create-param *(SP create-param) ")" ;
    /// create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154)
    pub(super) fn create(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut special_use = Vec::new();
        if self.peek_sp_paren() {
            self.sp()?;
            self.paren_list(false, |p| {
                p.keyword("USE")?;
                p.sp()?;
                special_use.extend(p.paren_list(true, Self::use_attr)?);
                Ok(())
            })?;
        }
        Ok(CommandBody::Create { mailbox, special_use })
    }

    /// use-attr = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" / "\Sent" / "\Trash" / use-attr-ext ;
    /// use-attr-ext = "\" atom (RFC 6154, RFC 8457 \Important)
    fn use_attr(&mut self) -> PResult<SpecialUse> {
        self.expect(b'\\', "\\")?;
        Ok(SpecialUse(self.atom_value()?))
    }

    /// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] ;
    /// mbox-or-pat = list-mailbox / patterns ; patterns = "(" list-mailbox *(SP list-mailbox) ")" (RFC 5258)
    pub(super) fn list(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut select = Vec::new();
        if self.peek() == Some(b'(') {
            select = self.list_select_opts()?;
            self.sp()?;
        }
        let reference = self.reference()?;
        self.sp()?;
        let patterns = if self.peek() == Some(b'(') {
            self.paren_list1(Self::list_mailbox)?
        } else {
            NonEmpty::new(self.list_mailbox()?)
        };
        let mut returns = Vec::new();
        if self.peek() == Some(b' ') && self.peek_keyword_at(1, "RETURN") {
            self.sp()?;
            self.keyword("RETURN")?;
            self.sp()?;
            // list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
            returns = self.paren_list(true, Self::return_option)?;
        }
        Ok(CommandBody::List { select, reference, patterns, returns })
    }

    /// list-select-opts = "(" [(*(list-select-mod-opt SP) list-select-base-opt *(SP list-select-opt)) /
    /// (list-select-independent-opt *(SP list-select-opt))] ")" ; list-select-base-opt = "SUBSCRIBED" ;
    /// list-select-independent-opt = "REMOTE" ; list-select-mod-opt = "RECURSIVEMATCH" (RFC 5258);
    /// "SPECIAL-USE" (RFC 6154)
    ///
    /// RECURSIVEMATCH needs a base option (SUBSCRIBED or SPECIAL-USE) beside it.
    fn list_select_opts(&mut self) -> PResult<Vec<ListSelect>> {
        let opts = self.paren_list(true, |p| {
            let name = p.name();
            Ok(match name.as_str() {
                "SUBSCRIBED" => ListSelect::Subscribed,
                "REMOTE" => ListSelect::Remote,
                "RECURSIVEMATCH" => ListSelect::RecursiveMatch,
                "SPECIAL-USE" => ListSelect::SpecialUse,
                _ => {
                    return p
                        .fail(format!("unknown LIST selection option {}", super::shown(name.as_bytes())));
                }
            })
        })?;
        if opts.contains(&ListSelect::RecursiveMatch)
            && !opts.iter().any(|o| matches!(o, ListSelect::Subscribed | ListSelect::SpecialUse))
        {
            return self.fail("RECURSIVEMATCH needs another selection option");
        }
        Ok(opts)
    }

    /// return-option = "SUBSCRIBED" / "CHILDREN" / status-option / "SPECIAL-USE" ;
    /// status-option = "STATUS" SP "(" status-att *(SP status-att) ")" (RFC 5258, RFC 5819, RFC 6154)
    fn return_option(&mut self) -> PResult<ListReturn> {
        let name = self.name();
        Ok(match name.as_str() {
            "SUBSCRIBED" => ListReturn::Subscribed,
            "CHILDREN" => ListReturn::Children,
            "SPECIAL-USE" => ListReturn::SpecialUse,
            "STATUS" => {
                self.sp()?;
                ListReturn::Status(self.paren_list1(Self::status_att)?)
            }
            _ => return self.fail(format!("unknown LIST return option {}", super::shown(name.as_bytes()))),
        })
    }

    /// lsub = "LSUB" SP mailbox SP list-mailbox (RFC 3501)
    pub(super) fn lsub(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let reference = self.reference()?;
        self.sp()?;
        let pattern = self.list_mailbox()?;
        Ok(CommandBody::Lsub { reference, pattern })
    }

    /// status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
    pub(super) fn status(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        self.sp()?;
        let attributes = self.paren_list1(Self::status_att)?;
        Ok(CommandBody::Status { mailbox, attributes })
    }

    /// status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE" ;
    /// RFC 3501 "RECENT" ; RFC 7162 "HIGHESTMODSEQ" ; RFC 8474 "MAILBOXID" ; RFC 7889 "APPENDLIMIT"
    pub(super) fn status_att(&mut self) -> PResult<StatusAttribute> {
        let name = self.name();
        Ok(match name.as_str() {
            "MESSAGES" => StatusAttribute::Messages,
            "UIDNEXT" => StatusAttribute::UidNext,
            "UIDVALIDITY" => StatusAttribute::UidValidity,
            "UNSEEN" => StatusAttribute::Unseen,
            "DELETED" => StatusAttribute::Deleted,
            "SIZE" => StatusAttribute::Size,
            "RECENT" => StatusAttribute::Recent,
            "HIGHESTMODSEQ" => StatusAttribute::HighestModSeq,
            "MAILBOXID" => StatusAttribute::MailboxId,
            "APPENDLIMIT" => StatusAttribute::AppendLimit,
            _ => return self.fail(format!("unknown status item {}", super::shown(name.as_bytes()))),
        })
    }

    /// append = "APPEND" SP mailbox 1*append-message (RFC 3502) ; append-message = append-opts SP append-data ;
    /// append-opts = [SP flag-list] [SP date-time] ; append-data = literal / literal8 (RFC 3516) /
    /// "UTF8" SP "(" literal8 ")" (RFC 6855) ; append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
    /// (RFC 4469 §5)
    pub(super) fn append(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut messages: Option<NonEmpty<AppendMessage>> = None;
        loop {
            self.sp()?;
            let mut flags = Vec::new();
            if self.peek() == Some(b'(') {
                flags = self.flag_list()?;
                self.sp()?;
            }
            let mut date_time = None;
            if self.peek() == Some(b'"') {
                date_time = Some(self.date_time()?);
                self.sp()?;
            }
            let data = if self.eat_keyword("CATENATE") {
                AppendData::Catenate(self.cat_parts()?)
            } else if self.eat_keyword("UTF8") {
                AppendData::Literal { range: self.utf8_literal()?, binary: true, utf8: true }
            } else if matches!(self.peek(), Some(b'{' | b'~')) {
                let (range, binary) = self.literal(true)?;
                AppendData::Literal { range, binary, utf8: false }
            } else {
                return self.fail("expected message literal");
            };
            let m = AppendMessage { flags, date_time, data };
            match messages.as_mut() {
                Some(list) => list.push(m),
                None => messages = Some(NonEmpty::new(m)),
            }
            if self.at_end() {
                break;
            }
        }
        match messages {
            Some(messages) => Ok(CommandBody::Append { mailbox, messages }),
            None => self.fail("expected message"),
        }
    }

    /// utf8-literal = "UTF8" SP "(" literal8 ")" (RFC 6855 §4), after "UTF8": where the literal8 is.
    pub(super) fn utf8_literal(&mut self) -> PResult<std::ops::Range<usize>> {
        self.sp()?;
        self.expect(b'(', "(")?;
        if self.peek() != Some(b'~') {
            return self.fail("UTF8 data must be a literal8");
        }
        let (range, _) = self.literal(true)?;
        self.expect(b')', ")")?;
        Ok(range)
    }

    /// notify = "NOTIFY" SP (notify-set / notify-none) ; notify-set = "SET" [status-indicator] SP event-groups ;
    /// status-indicator = SP "STATUS" ; notify-none = "NONE" ; event-groups = event-group *(SP event-group)
    /// (RFC 5465 §8)
    pub(super) fn notify(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        if self.eat_keyword("NONE") {
            return Ok(CommandBody::Notify { set: None });
        }
        self.keyword("SET")?;
        self.sp()?;
        let status = self.eat_keyword("STATUS");
        if status {
            self.sp()?;
        }
        let mut groups = NonEmpty::new(self.event_group()?);
        while self.eat(b' ') {
            groups.push(self.event_group()?);
        }
        Ok(CommandBody::Notify { set: Some(NotifySet { status, groups }) })
    }

    /// event-group = "(" filter-mailboxes SP events ")" ; events = ( "(" event *(SP event) ")" ) / "NONE"
    ///
    /// The examples of RFC 5465 §5 leave out the parentheses around the events
    /// (`(selected MessageNew MessageExpunge)`); that form is accepted as well.
    fn event_group(&mut self) -> PResult<EventGroup> {
        self.expect(b'(', "(")?;
        let filter = self.filter_mailboxes()?;
        self.sp()?;
        let events = if self.eat_keyword("NONE") {
            Vec::new()
        } else if self.peek() == Some(b'(') {
            self.paren_list(false, Self::notify_event)?
        } else {
            let mut v = vec![self.notify_event()?];
            while self.eat(b' ') {
                v.push(self.notify_event()?);
            }
            v
        };
        self.expect(b')', ")")?;
        Ok(EventGroup { filter, events })
    }

    /// filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other ;
    /// filter-mailboxes-selected = "selected" / "selected-delayed" ;
    /// filter-mailboxes-other = "inboxes" / "personal" / "subscribed" / ("subtree" SP one-or-more-mailbox) /
    /// ("mailboxes" SP one-or-more-mailbox) ; one-or-more-mailbox = mailbox / many-mailboxes ;
    /// many-mailboxes = "(" mailbox *(SP mailbox) ")"
    fn filter_mailboxes(&mut self) -> PResult<MailboxFilter> {
        let name = self.name();
        let one_or_more = |p: &mut Self| -> PResult<NonEmpty<MailboxName>> {
            p.sp()?;
            if p.peek() == Some(b'(') {
                p.paren_list1(Self::mailbox)
            } else {
                Ok(NonEmpty::new(p.mailbox()?))
            }
        };
        Ok(match name.as_str() {
            "SELECTED" => MailboxFilter::Selected,
            "SELECTED-DELAYED" => MailboxFilter::SelectedDelayed,
            "INBOXES" => MailboxFilter::Inboxes,
            "PERSONAL" => MailboxFilter::Personal,
            "SUBSCRIBED" => MailboxFilter::Subscribed,
            "SUBTREE" => MailboxFilter::Subtree(one_or_more(self)?),
            "MAILBOXES" => MailboxFilter::Mailboxes(one_or_more(self)?),
            _ => {
                return self.fail(format!("unknown NOTIFY mailbox filter {}", super::shown(name.as_bytes())));
            }
        })
    }

    /// event = message-event / mailbox-event / user-event / event-ext ;
    /// message-event = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) / "MessageExpunge" / "FlagChange" /
    /// "AnnotationChange" ; mailbox-event = "MailboxName" / "SubscriptionChange" / "MailboxMetadataChange" /
    /// "ServerMetadataChange" ; user-event = "QuotaChange" ; event-ext = atom
    fn notify_event(&mut self) -> PResult<NotifyEvent> {
        let start = self.pos;
        let name = self.name();
        Ok(match name.as_str() {
            "MESSAGENEW" => {
                if self.peek_sp_paren() {
                    self.sp()?;
                    NotifyEvent::MessageNew(self.paren_list(false, |p| p.fetch_att())?)
                } else {
                    NotifyEvent::MessageNew(Vec::new())
                }
            }
            "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
            "FLAGCHANGE" => NotifyEvent::FlagChange,
            "ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
            "MAILBOXNAME" => NotifyEvent::MailboxName,
            "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
            "MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
            "SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
            "QUOTACHANGE" => NotifyEvent::QuotaChange,
            _ => {
                self.pos = start;
                NotifyEvent::Other(self.atom_value()?)
            }
        })
    }

    /// setquota = "SETQUOTA" SP quota-root-name SP setquota-list ;
    /// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")" ;
    /// setquota-resource = resource-name SP resource-limit ; resource-limit = number64 (RFC 9208 §9)
    pub(super) fn setquota(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let root = self.astring()?;
        let root = self.utf8(root)?;
        self.sp()?;
        let limits = self.paren_list(true, |p| {
            let name = p.atom_value()?;
            let resource = match name.as_str().to_ascii_uppercase().as_str() {
                "STORAGE" => QuotaResource::Storage,
                "MESSAGE" => QuotaResource::Message,
                "MAILBOX" => QuotaResource::Mailbox,
                "ANNOTATION-STORAGE" => QuotaResource::AnnotationStorage,
                _ => QuotaResource::Other(name),
            };
            p.sp()?;
            Ok((resource, p.number64()?))
        })?;
        Ok(CommandBody::SetQuota { root, limits })
    }
}
