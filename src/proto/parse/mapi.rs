//! The MAPI extension's commands (docs/mapi-extension.md §15): XJOIN and XSESSION.

use super::{PResult, Parser};
use crate::proto::command::{CommandBody, Token, XSessionOp};

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
}
