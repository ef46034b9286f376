//! Import of a Dovecot-style Maildir++ tree: folders (with hierarchy and modified UTF-7 names),
//! flags and dates kept, and a second run after more mail arrived imports only the new files.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, USER};

fn write(dir: &Path, name: &str, subject: &str) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join(name), format!("From: a@b\nSubject: {subject}\n\nbody of {subject}\n"))
        .expect("file");
}

#[test]
fn maildir_import_keeps_folders_flags_dates_and_resumes() {
    let mut s = Server::start("import", "");
    let md = s.dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("dir");
    }
    for i in 0..2000 {
        let flags = if i % 2 == 0 { "S" } else { "" };
        write(&md.join("cur"), &format!("17000{i:05}.M{i}P1.old,S=60:2,{flags}"), &format!("inbox {i}"));
    }
    write(&md.join("new"), "1700100000.M1P1.old", "fresh");
    write(&md.join(".Sent/cur"), "1700000001.M1P1.old:2,RS", "sent one");
    write(&md.join(".Archive.2024/cur"), "1700000002.M1P1.old:2,FS", "archived");
    write(&md.join(".&AMQ-rger/cur"), "1700000003.M1P1.old:2,T", "umlaut");
    std::fs::create_dir_all(md.join(".Archive.2024/new")).expect("dir");
    let dated = md.join(".Sent/cur/1700000001.M1P1.old:2,RS");
    assert!(Command::new("touch").args(["-d", "@837596665"]).arg(&dated).status().expect("touch").success());

    // The server must be stopped for the import.
    let o = s.cli(&["import", "maildir", md.to_str().expect("path"), "--user", USER], b"");
    assert_eq!(o.status.code(), Some(75), "{}", String::from_utf8_lossy(&o.stderr));
    s.stop();
    let o = s.cli(&["import", "maildir", md.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 2004 messages (0 already"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // More mail, then a second run: only the new file comes in.
    write(&md.join("new"), "1700200000.M2P1.old", "later");
    let o = s.cli(&["import", "maildir", md.to_str().expect("path"), "--user", USER], b"");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 1 messages (2004 already"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    s.restart();
    let mut c = s.login();
    c.run(
        "C: a STATUS INBOX (MESSAGES UNSEEN)
         S: * STATUS INBOX (MESSAGES 2002 UNSEEN 1002)
         S: a OK *
         C: b STATUS Archive/2024 (MESSAGES)
         S: * STATUS Archive/2024 (MESSAGES 1)
         S: b OK *
         C: e ENABLE UTF8=ACCEPT
         S: e OK *
         C: u STATUS \"Ärger\" (MESSAGES DELETED)
         S: * STATUS \"Ärger\" (MESSAGES 1 DELETED 1)
         S: u OK *
         C: s SELECT Sent
         S: s OK *
         C: f FETCH 1 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
         S: * 1 FETCH (FLAGS (\\Seen \\Answered \\Recent) INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" BODY[HEADER.FIELDS (SUBJECT)] {21}*Subject: sent one*
         S: f OK *
         C: l LIST (SPECIAL-USE) \"\" Sent
         S: * LIST (\\Sent \\HasNoChildren) \"/\" Sent
         S: l OK *",
    );

    // Export to a new Maildir++ tree: same folders, flags and dates; and it imports back.
    drop(c);
    s.stop();
    let out = s.dir.join("Exported");
    let o = s.cli(&["export", "maildir", out.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("exported 2005 messages"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let names = |dir: &str| -> Vec<String> {
        std::fs::read_dir(out.join(dir).join("cur"))
            .expect("cur")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names("").len(), 2002);
    let sent = names(".Sent");
    assert!(sent.len() == 1 && sent[0].ends_with(":2,RS"), "{sent:?}");
    let mtime =
        std::fs::metadata(out.join(".Sent/cur").join(&sent[0])).expect("meta").modified().expect("mtime");
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs(), 837_596_665);
    assert!(names(".&AMQ-rger")[0].ends_with(":2,T"));
    assert_eq!(names(".Archive.2024").len(), 1);
    let pw = s.dir.join("pw-copy");
    std::fs::write(&pw, "x").expect("pw");
    assert!(
        s.cli(&["user", "add", "copy@mail.test", "--password-file", pw.to_str().expect("path")], b"")
            .status
            .success()
    );
    let o = s.cli(&["import", "maildir", out.to_str().expect("path"), "--user", "copy@mail.test"], b"");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("imported 2005 messages"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
