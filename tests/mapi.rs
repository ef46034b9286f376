//! The MAPI extension's session layer (docs/mapi-extension.md §4) against a real server: scripted
//! sessions for XSESSION, XJOIN, XSESSION STATUS and END, every error of §4.2 in its order,
//! grace, revocation by `user passwd` / `user del`, the pool's cap and REPLACE, the throttle,
//! `applianced sessions` and the protocol trace.

mod common;

use std::time::{Duration, Instant};

use common::{Client, PASSWORD, Server, USER};

const CAROL: &str = "carol@mail.test";
const CAROL_PASSWORD: &str = "carols-own-secret";
const BAD_TOKEN: &str = "NO [AUTHENTICATIONFAILED] invalid credentials";

/// `* XSESSION id (TOKEN t ...)`: the session id and the token.
fn create(c: &mut Client, tag: &str) -> (String, String) {
    let lines = c.cmd(tag, "XSESSION");
    assert_eq!(lines.last().map(String::as_str), Some(format!("{tag} OK XSESSION completed").as_str()));
    let line = lines.iter().find(|l| l.starts_with("* XSESSION ")).expect("XSESSION response");
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words[3], "(TOKEN", "{line}");
    (words[2].to_string(), words[4].to_string())
}

fn login_as(s: &Server, user: &str, password: &str) -> Client {
    let mut c = s.connect();
    c.run(&format!("C: L1 LOGIN {user} {password}\nS: L1 OK *"));
    c
}

fn join(s: &Server, user: &str, token: &str, extra: &str) -> (Client, Vec<String>) {
    let mut c = s.connect();
    let lines = c.cmd("j1", &format!("XJOIN {user} {token}{extra}"));
    (c, lines)
}

fn add_carol(s: &Server) {
    let pw = s.dir.join("carol-pw");
    std::fs::write(&pw, CAROL_PASSWORD).expect("pw");
    let o = s.cli(&["user", "add", CAROL, "--password-file", pw.to_str().expect("path")], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `applianced stats`' count of password checks handed to the hash pool.
fn password_checks(s: &Server) -> u64 {
    let o = s.cli(&["stats"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password_checks\t")?.parse().ok())
        .expect("password_checks in stats")
}

fn sessions_json(s: &Server) -> String {
    let o = s.cli(&["sessions", "--json"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A BYE with this start must be the next line on `c`.
fn expect_bye(c: &mut Client, start: &str) {
    let line = c.line();
    assert!(line.starts_with(start), "expected {start:?}, got {line:?}");
}

#[test]
fn the_capability_is_advertised_before_and_after_login_and_can_be_turned_off() {
    let s = Server::start("mapi-cap", "");
    let mut c = s.connect();
    c.run("C: a CAPABILITY\nS: * CAPABILITY * XMAPI1*\nS: a OK *");
    c.run(&format!("C: b LOGIN {USER} {PASSWORD}\nS: b OK [CAPABILITY * XMAPI1*] *"));
    c.run("C: c CAPABILITY\nS: * CAPABILITY * XMAPI1*\nS: c OK *");
    drop(s);
    let s = Server::start("mapi-off", "mapi.enabled = false");
    let mut c = s.connect();
    let caps = c.cmd("a", "CAPABILITY");
    assert!(!caps[0].contains("XMAPI1"), "{caps:?}");
    c.run("C: b XJOIN bob x\nS: b BAD *");
    c.run(&format!("C: c LOGIN {USER} {PASSWORD}\nS: c OK *\nC: d XSESSION\nS: d BAD *"));
}

/// §4.1, §4.2: the create's response, and a join in one round trip that costs no password hash.
#[test]
fn a_session_is_created_and_joined_without_a_password_check() {
    let s = Server::start("mapi-join", "");
    let mut c1 = s.login();
    c1.run("C: i ID (\"name\" \"mirror\" \"version\" \"0.1\")\nS: i OK *");
    let lines = c1.cmd("a4", "XSESSION");
    let (id, token) = {
        let line = &lines[0];
        assert!(
            common::matches(
                "* XSESSION * (TOKEN * EPOCH * CHANGE * CONNECTION 1 POOL 1 8 GRACE 600 WINDOW 1000 HEARTBEAT 30 1740)",
                line
            ),
            "{line}"
        );
        let w: Vec<&str> = line.split(' ').collect();
        (w[2].to_string(), w[4].to_string())
    };
    // §4.1: the epoch (11 base64url characters, Appendix A) and the account's change number.
    let w: Vec<&str> = lines[0].split(' ').collect();
    let (epoch, change) = (w[6].to_string(), w[8].parse::<u64>().expect("CHANGE"));
    assert_eq!(epoch.len(), 11, "{epoch}");
    c1.run("C: cr CREATE Made-since\nS: cr OK *");
    // Appendix A: 8 characters of selector, 51 in all, base64url.
    assert_eq!((id.len(), token.len()), (8, 51), "{id} {token}");
    assert!(token.starts_with(&id));
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let checks = password_checks(&s);
    let (mut c2, lines) = join(&s, USER, &token, "");
    assert_eq!(
        lines[0],
        format!(
            "* XSESSION {id} (EPOCH {epoch} CHANGE {} CONNECTION 2 POOL 2 8 GRACE 600 WINDOW 1000 HEARTBEAT 30 1740)",
            change + 1
        ),
        "no TOKEN in a join's answer; the same epoch, the change number since the CREATE"
    );
    assert!(common::matches("j1 OK [CAPABILITY * XMAPI1*] XJOIN completed", &lines[1]), "{lines:?}");
    // Logged in as the session's account.
    c2.run("C: s SELECT INBOX\nS: s OK [READ-WRITE] *");
    let (_c3, lines) = join(&s, &USER.to_uppercase(), &token, "");
    assert!(lines[0].contains("CONNECTION 3 POOL 3 8"), "user names as LOGIN takes them: {lines:?}");
    assert_eq!(password_checks(&s), checks, "a join goes through the hash pool");
    // The counter does count: a wrong password is one check.
    let mut w = s.connect();
    w.run("C: w LOGIN bob@mail.test wrong-password\nS: w NO [AUTHENTICATIONFAILED] *");
    assert_eq!(password_checks(&s), checks + 1);
}

/// §12.1: XJOIN only before login, XSESSION only after and outside a session; STATUS and END
/// only in one.
#[test]
fn commands_in_the_wrong_state_are_bad() {
    let s = Server::start("mapi-state", "");
    let mut c = s.connect();
    c.run("C: a XSESSION\nS: a BAD *\nC: b XSESSION STATUS\nS: b BAD *\nC: c XSESSION END\nS: c BAD *");
    c.run(&format!("C: d LOGIN {USER} {PASSWORD}\nS: d OK *"));
    c.run("C: e XSESSION STATUS\nS: e BAD *not in a session\nC: f XSESSION END\nS: f BAD *not in a session");
    let (_, token) = create(&mut c, "g");
    c.run(&format!("C: h XJOIN {USER} {token}\nS: h BAD *already authenticated"));
    c.run("C: i XSESSION\nS: i BAD *already in a session");
    c.run("C: j XSESSION FROB\nS: j BAD *");
    // The refused commands made no session.
    let json = sessions_json(&s);
    assert_eq!(json.matches("\"account\"").count(), 1, "{json}");
}

/// §4.2: unknown, altered, foreign tokens and wrong user names get one answer.
#[test]
fn every_bad_token_gets_the_same_answer() {
    let s = Server::start("mapi-badtoken", "limits.login_failures_before_delay = 100");
    add_carol(&s);
    let mut bob = s.login();
    let (_, token) = create(&mut bob, "a");
    let mut carol = login_as(&s, CAROL, CAROL_PASSWORD);
    let (_, carols) = create(&mut carol, "a");
    let mut altered = token.clone().into_bytes();
    altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    let cases = [
        (USER, "not-a-token".to_string()),
        (USER, altered),
        (USER, carols.clone()),
        (CAROL, token.clone()),
        ("nobody@mail.test", token.clone()),
        (USER, format!("{token}A")),
    ];
    for (user, tok) in &cases {
        let (_, lines) = join(&s, user, tok, "");
        assert_eq!(lines, [format!("j1 {BAD_TOKEN}")], "{user} {tok}");
    }
    // §12.2: COMPRESS pipelined after a failed XJOIN gets BAD (the connection is not logged in).
    let mut c = s.connect();
    c.send(format!("b1 XJOIN {USER} wrong\r\nb2 COMPRESS DEFLATE\r\n").as_bytes());
    c.run(&format!("S: b1 {BAD_TOKEN}\nS: b2 BAD *log in first"));
    // The right ones still work.
    assert!(join(&s, CAROL, &carols, "").1[1].starts_with("j1 OK"));
    assert!(join(&s, USER, &token, "").1[1].starts_with("j1 OK"));
}

/// §4.3: the token lives `token_grace_secs` after the session's last connection closed.
#[test]
fn a_token_expires_after_the_grace_period() {
    let s = Server::start("mapi-grace", "mapi.token_grace_secs = 1");
    let mut c = s.login();
    let (id, token) = create(&mut c, "a");
    let (mut c2, lines) = join(&s, USER, &token, "");
    assert!(lines[1].starts_with("j1 OK"), "{lines:?}");
    c.run("C: z LOGOUT\nS: z OK *");
    c2.run("C: z LOGOUT\nS: z OK *");
    // Listed while in its grace period or until it ends; polled, not slept on.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let json = sessions_json(&s);
        if !json.contains(&id) {
            assert_eq!(json, "{\"sessions\":[]}");
            break;
        }
        assert!(Instant::now() < deadline, "session never expired: {json}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(join(&s, USER, &token, "").1, [format!("j1 {BAD_TOKEN}")]);
}

/// §4.3: `user passwd` and `user del` in the running server revoke the account's sessions.
#[test]
fn a_password_change_or_a_deletion_revokes_the_sessions() {
    let s = Server::start("mapi-revoke", "");
    add_carol(&s);
    let mut c1 = s.login();
    let (_, token) = create(&mut c1, "a");
    let (mut c2, _) = join(&s, USER, &token, "");
    let mut carol = login_as(&s, CAROL, CAROL_PASSWORD);
    let (_, carols) = create(&mut carol, "a");
    let pw = s.dir.join("new-pw");
    std::fs::write(&pw, "a-new-password").expect("pw");
    let o = s.cli(&["user", "passwd", USER, "--password-file", pw.to_str().expect("path")], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    expect_bye(&mut c1, "* BYE [XREVOKED] the account's password was changed");
    expect_bye(&mut c2, "* BYE [XREVOKED] the account's password was changed");
    assert_eq!(join(&s, USER, &token, "").1, [format!("j1 {BAD_TOKEN}")]);
    // Another account's session is untouched.
    carol.run("C: n NOOP\nS: n OK *");
    let o = s.cli(&["user", "del", CAROL], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    expect_bye(&mut carol, "* BYE [XREVOKED] the account was deleted");
    assert_eq!(join(&s, CAROL, &carols, "").1, [format!("j1 {BAD_TOKEN}")]);
}

/// §4.2: a full pool refuses with LIMIT; REPLACE closes the named connection and takes its place.
#[test]
fn the_pool_is_capped_and_replace_makes_room() {
    let s = Server::start("mapi-pool", "mapi.pool_max = 2");
    let mut c1 = s.login();
    let (id, token) = create(&mut c1, "a");
    let (mut c2, lines) = join(&s, USER, &token, "");
    assert!(lines[0].contains("CONNECTION 2 POOL 2 2"), "{lines:?}");
    let (_, lines) = join(&s, USER, &token, "");
    assert_eq!(lines, ["j1 NO [LIMIT] the session has 2 connections; REPLACE one"]);
    // An id that is not in the session is no error, and makes no room.
    let (_, lines) = join(&s, USER, &token, " REPLACE 9");
    assert!(lines[0].starts_with("j1 NO [LIMIT]"), "{lines:?}");
    let (mut c3, lines) = join(&s, USER, &token, " REPLACE 2");
    assert!(
        common::matches(
            &format!(
                "* XSESSION {id} (EPOCH * CHANGE * CONNECTION 3 POOL 2 2 GRACE 600 WINDOW 1000 HEARTBEAT 30 1740)"
            ),
            &lines[0]
        ),
        "{lines:?}"
    );
    expect_bye(&mut c2, "* BYE [XREPLACED]");
    c3.run("C: n NOOP\nS: n OK *");
    c1.run("C: n NOOP\nS: n OK *");
}

/// §4.2: the connection is checked before the token (and not counted); wrong tokens count
/// against the login throttle as wrong passwords, a right one forgives them.
#[test]
fn wrong_tokens_count_against_the_login_throttle() {
    let s = Server::start("mapi-throttle", "limits.login_failures_before_delay = 2");
    let mut c = s.login();
    let (_, token) = create(&mut c, "a");
    for _ in 0..2 {
        assert_eq!(join(&s, USER, "wrong", "").1, [format!("j1 {BAD_TOKEN}")]);
    }
    assert!(!s.log().iter().any(|l| l.contains("delayed")), "the first two are free");
    // The third attempt from the address waits for its slot, as a third LOGIN would ...
    let (_, lines) = join(&s, USER, &token, "");
    assert!(lines[1].starts_with("j1 OK"), "{lines:?}");
    s.wait_log(&format!("XJOIN for {USER:?} delayed 1s after failures"));
    // ... and, being right, forgives the two: two more wrong ones are free again (unforgiven,
    // the first of them would wait 2 s).
    for _ in 0..2 {
        assert_eq!(join(&s, USER, "wrong", "").1, [format!("j1 {BAD_TOKEN}")]);
    }
    let delayed = s.log().iter().filter(|l| l.contains("delayed")).count();
    assert_eq!(delayed, 1, "{:#?}", s.log());
}

#[test]
fn without_tls_off_loopback_the_token_is_not_looked_at() {
    // Loopback without its exception stands for an address that is not loopback (the rule itself
    // is `imap::session::may_send_secrets`, unit-tested with such addresses).
    let s = Server::start("mapi-privacy", "security.allow_plaintext_loopback = false");
    let mut c = s.connect();
    for _ in 0..5 {
        c.run("C: j XJOIN bob@mail.test whatever\nS: j NO [PRIVACYREQUIRED] use STARTTLS or port 993 first");
    }
    assert!(!s.log().iter().any(|l| l.contains("failed XJOIN")), "not a guess: {:#?}", s.log());
}

/// §4.5: the others get BYE [XREVOKED]; this connection stays logged in, outside any session.
#[test]
fn xsession_end_closes_the_others_and_keeps_this_one() {
    let s = Server::start("mapi-end", "");
    let mut c1 = s.login();
    let (_, token) = create(&mut c1, "a");
    let (mut c2, _) = join(&s, USER, &token, "");
    c1.run("C: e XSESSION END\nS: e OK XSESSION END completed");
    expect_bye(&mut c2, "* BYE [XREVOKED] session ended by the client");
    c1.run("C: s SELECT INBOX\nS: s OK *\nC: t XSESSION STATUS\nS: t BAD *not in a session");
    assert_eq!(join(&s, USER, &token, "").1, [format!("j1 {BAD_TOKEN}")]);
    let (_, fresh) = create(&mut c1, "n");
    assert_ne!(fresh, token);
}

/// §4.4: the session, then one XCONN per connection with its items.
#[test]
fn xsession_status_shows_every_connection() {
    let s = Server::start("mapi-status", "");
    let mut c1 = s.login();
    c1.run("C: i ID (\"name\" \"mirror\" \"version\" \"0.1\")\nS: i OK *");
    let (id, token) = create(&mut c1, "a");
    let (mut c2, _) = join(&s, USER, &token, "");
    c2.run("C: s SELECT INBOX\nS: s OK *");
    let lines = c1.cmd("d1", "XSESSION STATUS");
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        common::matches(
            &format!(
                "* XSESSION {id} (ACCOUNT \"{USER}\" CLIENT (\"name\" \"mirror\" \"version\" \"0.1\") AGE * \
                 POOL 2 8 GRACE 600 WINDOW 1000 HEARTBEAT 30 1740)"
            ),
            &lines[0]
        ),
        "{}",
        lines[0]
    );
    let item = |line: &str, name: &str| -> u64 {
        let w: Vec<&str> = line.trim_end_matches(')').split(' ').collect();
        let i = w.iter().position(|x| *x == name).unwrap_or_else(|| panic!("{name} in {line}"));
        w[i + 1].parse().unwrap_or_else(|_| panic!("{name} in {line}"))
    };
    assert!(
        common::matches(
            "* XCONN 1 (ROLE POOL SELF 1 STATE AUTHENTICATED ADDRESS \"127.0.0.1:*\" TLS 0 COMPRESS 0 AGE * \
             LASTACTIVE * IN * OUT * QUEUED 0)",
            &lines[1]
        ),
        "{}",
        lines[1]
    );
    assert!(
        common::matches(
            "* XCONN 2 (ROLE POOL SELF 0 STATE SELECTED MAILBOX INBOX ADDRESS \"127.0.0.1:*\" TLS 0 COMPRESS 0 *",
            &lines[2]
        ),
        "{}",
        lines[2]
    );
    // IN and OUT count the bytes each way: c2 sent its XJOIN and SELECT, and got their answers.
    let (in2, out2) = (item(&lines[2], "IN"), item(&lines[2], "OUT"));
    let sent = format!("j1 XJOIN {USER} {token}\r\ns SELECT INBOX\r\n").len() as u64;
    assert_eq!(in2, sent, "{}", lines[2]);
    assert!(out2 > 100, "{}", lines[2]);
    assert!(item(&lines[1], "IN") > 0);
    assert_eq!(lines[3], "d1 OK XSESSION STATUS completed");
    // A connection in IDLE shows so.
    c2.run("C: i IDLE\nS: + idling");
    let lines = c1.cmd("d2", "XSESSION STATUS");
    assert!(lines[2].starts_with("* XCONN 2 (ROLE POOL SELF 0 STATE IDLE"), "{}", lines[2]);
    c2.run("C: DONE\nS: i OK *");
}

/// `applianced sessions [--json]`: every live session, its client and connections; no token.
#[test]
fn applianced_sessions_lists_them_without_the_token() {
    let s = Server::start("mapi-sessions", "");
    assert_eq!(sessions_json(&s), "{\"sessions\":[]}");
    let mut c1 = s.login();
    c1.run("C: i ID (\"name\" \"mirror\")\nS: i OK *");
    let (id, token) = create(&mut c1, "a");
    let (_c2, _) = join(&s, USER, &token, "");
    let json = sessions_json(&s);
    assert!(!json.contains(&token[8..]), "the token's verifier is in the listing: {json}");
    for want in [
        format!("\"id\":\"{id}\""),
        format!("\"account\":\"{USER}\""),
        "\"client\":{\"name\":\"mirror\"}".to_string(),
        "{\"id\":1,\"role\":\"POOL\",\"state\":\"AUTHENTICATED\"".to_string(),
        "{\"id\":2,\"role\":\"POOL\",\"state\":\"AUTHENTICATED\"".to_string(),
        "\"tls\":false".to_string(),
        "\"grace_left\":null".to_string(),
    ] {
        assert!(json.contains(&want), "{want} not in {json}");
    }
    let o = s.cli(&["sessions"], b"");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(text.starts_with(&format!("{id}\t{USER}\tclient name=mirror\t")), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("  ")).count(), 2, "{text}");
    assert!(!text.contains(&token[8..]), "{text}");
}

/// §16: the trace shows `XJOIN user ***` and `TOKEN ***`; the token is never in the log.
#[test]
fn the_trace_hides_tokens() {
    let s = Server::start("mapi-trace", &format!("log.trace = [\"{USER}\"]"));
    let mut c1 = s.login();
    let (_, token) = create(&mut c1, "a");
    let (mut c2, _) = join(&s, USER, &token, " REPLACE 7");
    c2.run("C: n NOOP\nS: n OK *");
    let log = s.wait_log(&format!("C: j1 XJOIN {USER} ***"));
    assert!(log.iter().any(|l| l.contains("S: * XSESSION ") && l.contains("(TOKEN *** EPOCH ")), "{log:#?}");
    let hits: Vec<&String> = log.iter().filter(|l| l.contains(&token[8..])).collect();
    assert!(hits.is_empty(), "the token in the log: {hits:#?}");
}
