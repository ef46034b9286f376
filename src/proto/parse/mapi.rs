//! The MAPI extension's commands (docs/mapi-extension.md §15): XJOIN, XSESSION, XBACKCHANNEL
//! and XACK.

use super::{PResult, Parser};
use crate::proto::command::{CommandBody, Token, XBackchannelArgs, XSessionOp};

impl Parser<'_> {
    /// `xjoin = "XJOIN" SP userid SP token-arg [SP "REPLACE" SP conn-id]` ;
    /// `userid = astring` ; `token-arg = atom` ; `conn-id = nz-number`
    pub(super) fn xjoin(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let user = self.astring()?;
        let username = self.utf8(user)?;
        self.sp()?;
        // Any atom: one that is not a valid token is refused by the session, never here (§15).
        let token = Token::new(String::from_utf8_lossy(self.atom()?).into_owned());
        let replace = if self.eat(b' ') {
            self.keyword("REPLACE")?;
            self.sp()?;
            Some(self.nz_number()?)
        } else {
            None
        };
        Ok(CommandBody::XJoin { username, token, replace })
    }

    /// `xsession = "XSESSION" [SP ("STATUS" / "END")]`
    pub(super) fn xsession(&mut self) -> PResult<CommandBody> {
        if !self.eat(b' ') {
            return Ok(CommandBody::XSession { op: XSessionOp::Create });
        }
        let op = match self.name().as_str() {
            "STATUS" => XSessionOp::Status,
            "END" => XSessionOp::End,
            other => {
                return self.fail(format!("unknown XSESSION argument {}", super::shown(other.as_bytes())));
            }
        };
        Ok(CommandBody::XSession { op })
    }

    /// `xbackchannel = "XBACKCHANNEL" SP "FROM" SP change-number SP "EPOCH" SP epoch
    /// SP "HEARTBEAT" SP nz-number [SP fields]` ; `change-number = number64`
    pub(super) fn xbackchannel(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        self.keyword("FROM")?;
        self.sp()?;
        let from = self.number64()?;
        self.sp()?;
        self.keyword("EPOCH")?;
        self.sp()?;
        // Any atom: one that is not the account's epoch is refused by the handler (NO [XRESTART]).
        let epoch = String::from_utf8_lossy(self.atom()?).into_owned();
        self.sp()?;
        self.keyword("HEARTBEAT")?;
        self.sp()?;
        let heartbeat = self.nz_number()?;
        let fields = if self.eat(b' ') {
            self.keyword("FIELDS")?;
            Some(self.summary_fields()?)
        } else {
            None
        };
        Ok(CommandBody::XBackchannel(XBackchannelArgs { from, epoch, heartbeat, fields }))
    }

    /// `xack = "XACK" SP hb-id SP change-number` ; `hb-id = number64`
    pub(super) fn xack(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let heartbeat = self.number64()?;
        self.sp()?;
        let applied = self.number64()?;
        Ok(CommandBody::XAck { heartbeat, applied })
    }
}
