//! The MAPI extension (`XMAPI1`, docs/mapi-extension.md): the session layer's commands (§4)
//! and the backchannel's (§5, §6).

use std::fmt;
use std::num::NonZeroU32;

use super::SummaryField;

/// A session's token as the client sent it: any atom (`token-arg`, §15), checked by the session
/// registry, never by the parser (a malformed one gets `NO [AUTHENTICATIONFAILED]`, not `BAD`).
/// It is a secret for the session's lifetime (§16): `Debug` prints its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// `token-arg = atom`: the parser has checked the atom's characters.
    pub fn new(atom: String) -> Self {
        Token(atom)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} bytes>)", self.0.len())
    }
}

/// `xsession = "XSESSION" [SP ("STATUS" / "END")]` (§4.1, §4.4, §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XSessionOp {
    /// No argument: create a session with this connection in it.
    Create,
    Status,
    End,
}

/// `conn-id = nz-number`: a connection of a session (§4).
pub type ConnId = NonZeroU32;

/// `xbackchannel = "XBACKCHANNEL" SP "FROM" SP change-number SP "EPOCH" SP epoch SP "HEARTBEAT"
/// SP nz-number [SP fields]` (§5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XBackchannelArgs {
    pub from: u64,
    /// Any atom: one that is not the account's epoch gets `NO [XRESTART]`, never `BAD`.
    pub epoch: String,
    /// The interval the client proposes, in seconds (clamped by the server).
    pub heartbeat: NonZeroU32,
    /// `None`: the default set (§9).
    pub fields: Option<Vec<SummaryField>>,
}
