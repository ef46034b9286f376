//! The `XSESSION` response of a create and a join (docs/mapi-extension.md §4.1, §4.2, §15
//! `x-session-data`).

use super::registry::Admitted;
use crate::config::Mapi;

/// `* XSESSION id (TOKEN t CONNECTION n POOL used max GRACE g WINDOW w HEARTBEAT min max)`;
/// `token` only for the create (§4.1: sent once).
pub fn admitted(out: &mut Vec<u8>, a: &Admitted, token: Option<&str>, m: &Mapi) {
    out.extend_from_slice(format!("* XSESSION {} (", a.id).as_bytes());
    if let Some(t) = token {
        out.extend_from_slice(format!("TOKEN {t} ").as_bytes());
    }
    // EPOCH and CHANGE: added with the store's sync key (format 3)
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
    fn the_create_response_of_section_4_1_without_epoch_and_change() {
        let a = Admitted {
            id: "S7QqmmQ1".into(),
            account_id: 1,
            account_name: "a".into(),
            conn: 1,
            pool_used: 1,
        };
        let mut out = Vec::new();
        admitted(&mut out, &a, Some("S7QqmmQ1sj2C"), &Mapi::default());
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* XSESSION S7QqmmQ1 (TOKEN S7QqmmQ1sj2C CONNECTION 1 POOL 1 8 GRACE 600 WINDOW 1000 \
             HEARTBEAT 30 1740)\r\n"
        );
    }
}
