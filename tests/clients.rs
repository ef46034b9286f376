//! Real clients from Debian against a real server: Python's imaplib (every command, plain,
//! STARTTLS and implicit TLS).

mod common;

use common::{PASSWORD, Server, USER, fill, mail};

/// Runs a Python client script from tests/clients/ against the server: IMAP port, IMAPS port,
/// user, password.
fn run_script(s: &Server, name: &str) {
    let script = format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("python3")
        .arg(&script)
        .args([s.imap.to_string(), s.imaps.to_string(), USER.to_string(), PASSWORD.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn python_imaplib_session() {
    let s = Server::start("imaplib", "");
    for i in 1..=5 {
        s.deliver(USER, &mail(&format!("msg{i}"), &format!("text of message {i}")));
    }
    run_script(&s, "imaplib_session.py");
}

fn status(s: &Server, mailbox: &str) -> String {
    let mut c = s.login();
    c.cmd("st", &format!("STATUS {mailbox} (MESSAGES UIDNEXT UNSEEN)")).join("\n")
}

fn files_in(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for sub in ["cur", "new"] {
        n += std::fs::read_dir(dir.join(sub)).map(|d| d.count()).unwrap_or(0);
    }
    n
}

#[test]
fn mbsync_syncs_a_thousand_messages_both_ways_then_changes_nothing() {
    if std::process::Command::new("mbsync").arg("--version").output().is_err() {
        panic!("mbsync (Debian's isync) is not installed: .ci/run installs it");
    }
    let s = Server::start("mbsync", "");
    fill(&s, "INBOX", 1000);
    // A response of megabytes streams out in pieces while the command runs, whole and in order.
    let mut c = s.login();
    c.run("C: s EXAMINE INBOX\nS: s OK *");
    let lines = c.cmd("f", "UID FETCH 1:* (UID BODY.PEEK[])");
    let fetched: Vec<&String> =
        lines.iter().filter(|l| l.starts_with("* ") && l.contains(" FETCH (UID ")).collect();
    assert_eq!(fetched.len(), 1000, "{:?}", lines.last());
    assert!(fetched[999].starts_with("* 1000 FETCH (UID 1000 BODY[] {"));
    assert!(lines.iter().map(String::len).sum::<usize>() > 4_000_000);
    let local = s.dir.join("maildir");
    std::fs::create_dir_all(&local).expect("maildir");
    let rc = s.dir.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount remote\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass {PASSWORD}\nSSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount remote\n\n\
             MaildirStore local\nPath {path}/\nInbox {path}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            port = s.imap,
            path = local.display()
        ),
    )
    .expect("rc");
    let run = || {
        let o = std::process::Command::new("mbsync").arg("-c").arg(&rc).arg("-a").output().expect("mbsync");
        assert!(
            o.status.success(),
            "mbsync: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run();
    assert_eq!(files_in(&local.join("INBOX")), 1000, "all messages pulled");
    // Local changes: a new message and a flag, pushed up by the next run.
    let new = local.join("INBOX/new/1700000000.local.1");
    std::fs::write(&new, b"From: me@here\r\nSubject: written locally\r\n\r\nlocal\r\n").expect("local mail");
    let cur = local.join("INBOX/cur");
    let first = std::fs::read_dir(local.join("INBOX/new"))
        .expect("new")
        .map(|e| e.expect("entry").path())
        .find(|p| p != &new)
        .expect("a pulled message");
    let name = first.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let flagged = if name.contains(":2,") { format!("{name}F") } else { format!("{name}:2,F") };
    std::fs::rename(&first, cur.join(flagged)).expect("flag locally");
    run();
    let after_push = status(&s, "INBOX");
    assert!(after_push.contains("MESSAGES 1001"), "{after_push}");
    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    let found = c.cmd("f", "SEARCH FLAGGED").join("\n");
    assert!(found.contains("* SEARCH "), "{found}");
    // A third run with nothing changed on either side changes nothing.
    let files = files_in(&local.join("INBOX"));
    run();
    assert_eq!(status(&s, "INBOX"), after_push);
    assert_eq!(files_in(&local.join("INBOX")), files);
}

#[test]
fn fetchmail_retrieves_over_tls() {
    if std::process::Command::new("fetchmail").arg("--version").output().is_err() {
        panic!("fetchmail is not installed: .ci/run installs it");
    }
    let s = Server::start("fetchmail", "");
    for i in 1..=3 {
        s.deliver(USER, &mail(&format!("fm{i}"), "fetch me"));
    }
    let out = s.dir.join("fetched.mbox");
    let rc = s.dir.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\npoll 127.0.0.1 protocol IMAP port {} user \"{USER}\" password \"{PASSWORD}\" ssl no sslcertck keep mda \"/bin/sh -c 'cat >> {}'\"\n",
            s.imaps,
            out.display()
        ),
    )
    .expect("rc");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let o = std::process::Command::new("fetchmail")
        .args(["-f"])
        .arg(&rc)
        .args(["--nodetach", "--all"])
        .env("HOME", &s.dir)
        .output()
        .expect("fetchmail");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        text.matches("Subject: fm").count() == 3,
        "fetchmail got {} messages; it said: {}{}",
        text.matches("Subject: fm").count(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The certificate the server presents now, as PEM, fetched with Python's ssl module.
fn presented_cert(port: u16) -> String {
    let o = std::process::Command::new("python3")
        .args(["-c", &format!("import ssl; print(ssl.get_server_certificate(('127.0.0.1', {port})))")])
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).split_whitespace().collect()
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_sessions() {
    let s = Server::start("sighup", "");
    let tls = s.data().join("tls");
    let old: String =
        std::fs::read_to_string(tls.join("cert.pem")).expect("cert").split_whitespace().collect();
    assert_eq!(presented_cert(s.imaps), old);
    let mut session = s.login();
    // A new pair, made by --init in another directory, replaces the files.
    let other = s.dir.join("other");
    let o = std::process::Command::new(common::BIN)
        .args(["--init", "--hostname", "new.test", "--data-dir"])
        .arg(&other)
        .output()
        .expect("init");
    assert!(o.status.success());
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(other.join("tls").join(f), tls.join(f)).expect("copy");
    }
    let new: String =
        std::fs::read_to_string(tls.join("cert.pem")).expect("cert").split_whitespace().collect();
    assert_ne!(new, old);
    s.signal("HUP");
    let mut presented = presented_cert(s.imaps);
    for _ in 0..50 {
        if presented == new {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        presented = presented_cert(s.imaps);
    }
    assert_eq!(presented, new, "the new certificate is served after SIGHUP");
    session.run("C: n1 NOOP\nS: n1 OK NOOP completed");
}

#[test]
fn compress_deflate_from_python_over_plain_and_tls() {
    let s = Server::start("compress", "");
    for i in 1..=3 {
        s.deliver(USER, &mail(&format!("z{i}"), &"compressible text ".repeat(200)));
    }
    run_script(&s, "compress.py");
}
