//! The modes of what applianced writes (issue 10 item 9): files 0600 and directories 0700,
//! whatever the umask of whoever runs the command. Every command here runs under `umask 000`,
//! where anything created with the default mode would be world-readable (0666 / 0777).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{BIN, Server, USER};

/// Runs the binary under `umask 000`, with `stdin` as its input.
fn run_open_with(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run under umask 000");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("wait")
}

fn run_open(args: &[&str]) -> Output {
    run_open_with(args, b"")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// Every file under `root` is 0600 and every directory 0700 (the socket too is 0600).
fn all_private(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut wrong = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        let m = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            if m != 0o700 {
                wrong.push((p.clone(), m));
            }
            for e in std::fs::read_dir(&p).expect("read_dir") {
                todo.push(e.expect("entry").path());
            }
        } else if m != 0o600 {
            wrong.push((p, m));
        }
    }
    wrong
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn init_backup_restore_and_export_are_private_under_umask_000() {
    let root = std::env::temp_dir().join(format!("applianced-modes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("dir");
    let pw = root.join("pw");
    std::fs::write(&pw, "s3cret-pass").expect("pw");
    // A parent that does not exist yet: `--init` creates both levels.
    let data = root.join("srv").join("data");
    let d = data.to_str().expect("path");
    ok(&run_open(&[
        "--init",
        "--hostname",
        "mail.test",
        "--admin",
        USER,
        "--data-dir",
        d,
        "--password-file",
        pw.to_str().expect("path"),
        "--imap-listen",
        "127.0.0.1:0",
        "--imaps-listen",
        "127.0.0.1:0",
    ]));
    assert_eq!(mode(&root.join("srv")), 0o700, "the parent --init created");
    for p in ["applianced.toml", "applianced.redb", "tls/cert.pem", "tls/key.pem"] {
        assert_eq!(mode(&data.join(p)), 0o600, "{p}");
    }
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("tls")), 0o700, "tls/");
    ok(&run_open_with(&["--data-dir", d, "deliver", USER], &common::mail("modes", "private mail")));

    // A backup by the CLI itself (no server runs), and a restore of it after it was made
    // world-readable: the database it puts in place is 0600 all the same.
    let offline = root.join("offline.redb");
    ok(&run_open(&["--data-dir", d, "backup", offline.to_str().expect("path")]));
    assert_eq!(mode(&offline), 0o600, "backup written by the CLI");
    std::fs::set_permissions(&offline, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    ok(&run_open(&["--data-dir", d, "restore", offline.to_str().expect("path")]));
    assert_eq!(mode(&data.join("applianced.redb")), 0o600, "restored database");

    // An export of the mail.
    let export = root.join("export");
    ok(&run_open(&["--data-dir", d, "export", "maildir", export.to_str().expect("path"), "--user", USER]));
    assert_eq!(all_private(&export), vec![], "export tree");
    assert!(all_private(&data).is_empty(), "data directory: {:?}", all_private(&data));
    let _ = std::fs::remove_dir_all(&root);
}

/// A backup written by the running server (through the control socket) is private too, whatever
/// the umask of the admin's shell and of the server.
#[test]
fn backup_by_the_server_is_private() {
    let s = Server::start("modes-backup", "");
    let file = s.dir.join("online.redb");
    let o = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(BIN)
        .arg("--data-dir")
        .arg(s.data())
        .args(["backup", file.to_str().expect("path")])
        .output()
        .expect("backup");
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("backup written"), "through the server");
    assert_eq!(mode(&file), 0o600);
}
