//! The `XSESSION` response of a create and a join (docs/mapi-extension.md §4.1, §4.2, §15
//! `x-session-data`).

use super::registry::Admitted;
use super::state::epoch;
use crate::config::Mapi;
use crate::store::{Reader, StoreError};

/// The account's history as a session reports it: its epoch (§4.1, from the database's sync
/// key) and its current change number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub epoch: String,
    pub change: u64,
}

impl History {
    pub fn read(r: &Reader, account: u64) -> Result<History, StoreError> {
        Ok(History { epoch: epoch(&r.sync_key()?, account), change: r.account(account)?.last_change })
    }

    /// `EPOCH e CHANGE c `.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("EPOCH {} CHANGE {} ", self.epoch, self.change).as_bytes());
    }
}

/// `* XSESSION id (TOKEN t EPOCH e CHANGE c CONNECTION n POOL used max GRACE g WINDOW w
/// HEARTBEAT min max)`; `token` only for the create (§4.1: sent once).
pub fn admitted(out: &mut Vec<u8>, a: &Admitted, token: Option<&str>, history: &History, m: &Mapi) {
    out.extend_from_slice(format!("* XSESSION {} (", a.id).as_bytes());
    if let Some(t) = token {
        out.extend_from_slice(format!("TOKEN {t} ").as_bytes());
    }
    history.write(out);
    out.extend_from_slice(format!("CONNECTION {} ", a.conn).as_bytes());
    limits(out, a.pool_used, m);
    out.extend_from_slice(b")\r\n");
}

/// `POOL used max GRACE g WINDOW w HEARTBEAT min max`: the items every `XSESSION` response ends
/// with.
pub fn limits(out: &mut Vec<u8>, pool_used: usize, m: &Mapi) {
    out.extend_from_slice(
        format!(
            "POOL {pool_used} {} GRACE {} WINDOW {} HEARTBEAT {} {}",
            m.pool_max, m.token_grace_secs, m.window_max, m.heartbeat_min_secs, m.heartbeat_max_secs
        )
        .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_response_of_section_4_1() {
        let a = Admitted {
            id: "S7QqmmQ1".into(),
            account_id: 1,
            account_name: "a".into(),
            conn: 1,
            pool_used: 1,
        };
        let mut out = Vec::new();
        let history = History { epoch: "mW6QOYsW5Y4".into(), change: 4530 };
        admitted(&mut out, &a, Some("S7QqmmQ1sj2C"), &history, &Mapi::default());
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* XSESSION S7QqmmQ1 (TOKEN S7QqmmQ1sj2C EPOCH mW6QOYsW5Y4 CHANGE 4530 CONNECTION 1 POOL 1 8 \
             GRACE 600 WINDOW 1000 HEARTBEAT 30 1740)\r\n"
        );
    }
}
