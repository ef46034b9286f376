//! The command line as an admin and an MTA use it: `--init`, `deliver`, `user`, serving, and
//! one clear line with a non-zero exit for every kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::BIN;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("applianced-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn data(&self) -> PathBuf {
        self.0.join("data")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str], data: &Path, stdin: &[u8]) -> Output {
    common::cli(data, args, stdin)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn init(data: &Path) -> Output {
    let pw = data.parent().expect("parent").join("pw");
    std::fs::write(&pw, "s3cret-pass\n").expect("password file");
    Command::new(BIN)
        .args(["--init", "--hostname", "mail.test", "--admin", "admin@mail.test", "--data-dir"])
        .arg(data)
        .arg("--password-file")
        .arg(&pw)
        .args(["--imap-listen", "127.0.0.1:0", "--imaps-listen", "127.0.0.1:0"])
        .output()
        .expect("run --init")
}

/// With an explicit --data-dir, --init is a private installation even as root (CI runs tests as
/// root): no system user, no change of owner, the plain `applianced --data-dir` serve line.
#[test]
fn init_with_a_data_dir_creates_no_user_and_changes_no_owner() {
    use std::os::unix::fs::MetadataExt;
    let t = TempDir::new("init-private");
    let me = std::fs::metadata(&t.0).expect("temp dir").uid();
    let o = init(&t.data());
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(!out.contains("user        ") && !out.contains("systemctl"), "{out}");
    assert!(out.contains(&format!("serve:          applianced --data-dir {}", t.data().display())), "{out}");
    for f in ["", "applianced.toml", "applianced.redb", "tls/key.pem"] {
        assert_eq!(std::fs::metadata(t.data().join(f)).expect("file").uid(), me, "owner of {f:?}");
    }
    // Issue 12 item 15: the deliver hint names an account that exists, so following it works.
    let hint = out.lines().find_map(|l| l.trim().strip_prefix("deliver mail:")).expect("deliver hint");
    let words: Vec<&str> = hint.split_whitespace().take_while(|w| *w != "<").collect();
    assert_eq!(words[0], "applianced", "{hint}");
    let o = Command::new(BIN)
        .args(&words[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(MAIL)?;
            c.wait_with_output()
        })
        .expect("run the hint");
    assert!(o.status.success(), "{hint}: {}", text(&o));
}

const MAIL: &[u8] =
    b"From: Alice <alice@example.com>\r\nTo: admin@mail.test\r\nSubject: hello\r\n\r\nHi!\r\n";

#[test]
fn init_twice_is_harmless() {
    let t = TempDir::new("init");
    let first = init(&t.data());
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("admin@mail.test created"));
    for f in ["applianced.toml", "applianced.redb", "tls/cert.pem", "tls/key.pem"] {
        assert!(t.data().join(f).exists(), "{f} missing");
    }
    let config = std::fs::read_to_string(t.data().join("applianced.toml")).expect("config");
    let cert = std::fs::read(t.data().join("tls/cert.pem")).expect("cert");
    assert!(config.contains("hostname = \"mail.test\"") && config.contains("# "), "documented config");

    let o = run(&["deliver", "admin@mail.test"], &t.data(), MAIL);
    assert!(o.status.success(), "{}", text(&o));

    let second = init(&t.data());
    assert!(second.status.success(), "{}", text(&second));
    let out = text(&second);
    assert_eq!(out.matches("unchanged").count(), 4, "{out}");
    assert_eq!(std::fs::read_to_string(t.data().join("applianced.toml")).expect("config"), config);
    assert_eq!(std::fs::read(t.data().join("tls/cert.pem")).expect("cert"), cert);
    let list = run(&["user", "list"], &t.data(), b"");
    assert!(text(&list).contains("admin@mail.test\t1 messages"), "mail kept: {}", text(&list));
}

#[test]
fn deliver_and_its_errors() {
    let t = TempDir::new("deliver");
    assert!(init(&t.data()).status.success());
    let ok = run(&["deliver", "Admin@Mail.Test"], &t.data(), MAIL);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));

    let unknown = run(&["deliver", "nobody@mail.test"], &t.data(), MAIL);
    assert_eq!(unknown.status.code(), Some(67), "EX_NOUSER: {}", text(&unknown));
    assert!(text(&unknown).contains("nobody@mail.test: no such user"));

    let empty = run(&["deliver", "admin@mail.test"], &t.data(), b"");
    assert_eq!(empty.status.code(), Some(65), "EX_DATAERR: {}", text(&empty));
    let garbage = run(&["deliver", "admin@mail.test"], &t.data(), b"\x00\x01\x02 not mail\n");
    assert_eq!(garbage.status.code(), Some(65), "{}", text(&garbage));
    // No Date, no From, bare LF: an MTA would take it, so do we, as it is.
    let sloppy = run(&["deliver", "admin@mail.test"], &t.data(), b"Subject: x\n\nbody\n");
    assert_eq!(sloppy.status.code(), Some(0), "{}", text(&sloppy));

    let none = run(&["deliver"], &t.data(), MAIL);
    assert_eq!(none.status.code(), Some(64), "{}", text(&none));
    let list = run(&["user", "list"], &t.data(), b"");
    assert!(text(&list).contains("admin@mail.test\t2 messages"), "{}", text(&list));
}

#[test]
fn bad_places_and_files_get_one_clear_line() {
    let t = TempDir::new("bad");
    // Not initialised.
    let o = run(&[], &t.data(), b"");
    assert_eq!(o.status.code(), Some(78));
    assert!(text(&o).contains("--init"), "{}", text(&o));
    assert_eq!(text(&o).lines().count(), 1, "{}", text(&o));

    // A data directory that cannot be written (below a regular file: refused even to root).
    let file = t.0.join("plain-file");
    std::fs::write(&file, "x").expect("file");
    let o = Command::new(BIN).arg("--init").arg("--data-dir").arg(file.join("data")).output().expect("run");
    assert_eq!(o.status.code(), Some(73), "{}", text(&o));
    assert!(text(&o).contains("cannot create"), "{}", text(&o));
    assert_eq!(text(&o).lines().count(), 1);

    // A corrupted database file.
    assert!(init(&t.data()).status.success());
    let db = t.data().join("applianced.redb");
    let mut bytes = std::fs::read(&db).expect("db");
    for b in bytes.iter_mut().take(512) {
        *b ^= 0x5a;
    }
    std::fs::write(&db, &bytes).expect("corrupt");
    let o = run(&["deliver", "admin@mail.test"], &t.data(), MAIL);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("cannot open"), "{}", text(&o));
    assert_eq!(text(&o).lines().count(), 1, "{}", text(&o));
    let o = run(&["check"], &t.data(), b"");
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));

    // A broken config.
    std::fs::write(t.data().join("applianced.toml"), "hostname = 5\n").expect("config");
    let o = run(&["user", "list"], &t.data(), b"");
    assert_eq!(o.status.code(), Some(78), "{}", text(&o));
}

#[test]
fn deliver_and_user_go_through_a_running_server() {
    let t = TempDir::new("served");
    assert!(init(&t.data()).status.success());
    let mut server =
        Command::new(BIN).arg("--data-dir").arg(t.data()).stderr(Stdio::piped()).spawn().expect("serve");
    let stderr = server.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    // Wait for the server to say it is up.
    loop {
        let line = lines.next().expect("server said something").expect("line");
        if line.contains("serving") {
            break;
        }
    }
    let o = run(&["deliver", "admin@mail.test"], &t.data(), MAIL);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["user", "add", "carol@mail.test"], &t.data(), b"");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("password: "));
    let o = run(&["deliver", "carol@mail.test", "admin@mail.test"], &t.data(), MAIL);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["user", "list"], &t.data(), b"");
    let out = text(&o);
    assert!(
        out.contains("admin@mail.test\t2 messages") && out.contains("carol@mail.test\t1 messages"),
        "{out}"
    );
    let o = run(&["user", "del", "carol@mail.test"], &t.data(), b"");
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["user", "del", "carol@mail.test"], &t.data(), b"");
    assert_eq!(o.status.code(), Some(67));

    // SIGTERM: the server stops cleanly and removes its socket.
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let status = server.wait().expect("wait");
    assert!(status.success(), "clean exit on SIGTERM");
    assert!(!t.data().join("control.sock").exists());
    let o = run(&["user", "list"], &t.data(), b"");
    assert!(text(&o).contains("admin@mail.test\t2 messages"), "{}", text(&o));
}

/// Issue 12 item 16: a WARN in the journal means something. A loopback client that sends
/// `127.0.0.1` as its TLS server name (Thunderbird and mbsync do) and an `export` through the
/// control socket are ordinary; neither may log a warning.
#[test]
fn ordinary_clients_and_exports_log_no_warning() {
    let s = common::Server::start("quiet-log", "");
    s.deliver(common::USER, &common::mail("quiet", "hello"));
    let out = s.dir.join("export");
    let o = s.cli(&["export", "maildir", out.to_str().expect("path"), "--user", common::USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // openssl's s_client puts what -servername says into the SNI extension, IP address or not.
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-servername", "127.0.0.1", "-connect"])
        .arg(format!("127.0.0.1:{}", s.imaps))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    use std::io::Write;
    let login = format!("a LOGIN {} {}\r\nb LOGOUT\r\n", common::USER, common::PASSWORD);
    child.stdin.take().expect("stdin").write_all(login.as_bytes()).expect("write");
    let o = child.wait_with_output().expect("openssl");
    assert!(String::from_utf8_lossy(&o.stdout).contains("a OK"), "{}", String::from_utf8_lossy(&o.stdout));
    let log = s.wait_log("logged in as");
    let warnings: Vec<&String> = log.iter().filter(|l| l.contains("WARN")).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

/// Issue 12 item 17: `deliver --help` says where `+tag` mail goes (a folder of that name, a
/// special-use one only when `subaddress_special_use` lists it), not "the INBOX" alone.
#[test]
fn deliver_help_names_plus_addressing_into_folders() {
    let out = Command::new(BIN).args(["deliver", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("alice+lists@example.com") && help.contains("subaddress_special_use"), "{help}");
}
