//! Storage failures under a running server (issue 10 item 6), on real file systems the test
//! mounts: a tmpfs that fills up (with the free-space reserve, and without it, so that redb itself
//! meets ENOSPC and latches the error), and an ext4 on a loop device that turns read-only under
//! the server. Each checks the replies (LMTP 452 4.3.1 / 451 4.3.0, IMAP `NO [UNAVAILABLE]`
//! with no database text, `deliver` exit 75), that SELECT and FETCH keep working, that writes
//! come back without a restart once space returns, and that every acknowledged message is in
//! the database after a restart, byte for byte, and nothing that was refused.
//!
//! Mounting needs root (CI runs as root); without it each test prints why it skipped.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, USER};

/// File systems mounted by a test, unmounted (and the loop device detached) on drop.
struct Mounts {
    root: PathBuf,
    /// Mount points, innermost last.
    points: Vec<PathBuf>,
    loop_dev: Option<String>,
}

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(format!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()))
    }
}

impl Mounts {
    fn new(tag: &str) -> Mounts {
        let root = std::env::temp_dir().join(format!("applianced-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("dir");
        Mounts { root, points: Vec::new(), loop_dev: None }
    }

    fn tmpfs(&mut self, name: &str, size: &str) -> Result<PathBuf, String> {
        let p = self.root.join(name);
        std::fs::create_dir_all(&p).map_err(|e| e.to_string())?;
        sh("mount", &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", path(&p)])?;
        self.points.push(p.clone());
        Ok(p)
    }

    /// An ext4 (errors=remount-ro) on a loop device backed by `image`.
    fn ext4(&mut self, name: &str, image: &Path) -> Result<PathBuf, String> {
        sh("truncate", &["-s", "64M", path(image)])?;
        let dev = sh("losetup", &["-f", "--show", path(image)])?;
        self.loop_dev = Some(dev.clone());
        sh("mkfs.ext4", &["-q", "-F", &dev])?;
        let p = self.root.join(name);
        std::fs::create_dir_all(&p).map_err(|e| e.to_string())?;
        sh("mount", &["-o", "errors=remount-ro", &dev, path(&p)])?;
        self.points.push(p.clone());
        Ok(p)
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for p in self.points.iter().rev() {
            let _ = sh("umount", &["-l", path(p)]);
        }
        if let Some(dev) = &self.loop_dev {
            let _ = sh("losetup", &["-d", dev]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Says why the test does not run here, on stderr where `cargo test` shows it.
fn skipped(test: &str, why: &str) {
    common::skip(test, &format!("{why} (mounting a file system needs root; CI runs this as root)"));
}

struct Lmtp {
    w: std::net::TcpStream,
    r: BufReader<std::net::TcpStream>,
}

impl Lmtp {
    fn connect(port: u16) -> Lmtp {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut c = Lmtp { r: BufReader::new(s.try_clone().expect("clone")), w: s };
        assert!(c.reply().starts_with("220 "));
        c.w.write_all(b"LHLO mx.test\r\n").expect("write");
        while c.reply().starts_with("250-") {}
        c
    }

    fn reply(&mut self) -> String {
        let mut l = String::new();
        assert!(self.r.read_line(&mut l).expect("read") > 0, "LMTP connection closed");
        l.trim_end().to_string()
    }

    /// One message to [`USER`]: the reply to the RCPT if it was refused, else the one after DATA.
    fn deliver(&mut self, message: &[u8]) -> String {
        self.w.write_all(b"MAIL FROM:<sender@example.com>\r\n").expect("write");
        assert!(self.reply().starts_with("250"));
        self.w.write_all(format!("RCPT TO:<{USER}>\r\n").as_bytes()).expect("write");
        let rcpt = self.reply();
        if !rcpt.starts_with("250") {
            self.w.write_all(b"RSET\r\n").expect("write");
            assert!(self.reply().starts_with("250"));
            return rcpt;
        }
        self.w.write_all(b"DATA\r\n").expect("write");
        assert!(self.reply().starts_with("354"));
        self.w.write_all(message).expect("write");
        self.w.write_all(b".\r\n").expect("write");
        self.reply()
    }
}

/// Message `i`: about 20 KB, its subject naming it.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: sender@example.com\r\nTo: {USER}\r\nSubject: fill-{i}\r\nMessage-ID: <fill-{i}@example.com>\r\n\r\n"
    );
    for n in 0..250 {
        m.push_str(&format!("message {i} line {n:03} {}\r\n", "x".repeat(60)));
    }
    m.into_bytes()
}

const WRITE_REFUSED: &str = "NO [UNAVAILABLE] storage temporarily unavailable";

/// Delivers until the server refuses; returns the messages it acknowledged (by number) and the
/// refusal.
fn fill(l: &mut Lmtp) -> (Vec<usize>, String) {
    let mut acked = Vec::new();
    for i in 0..3000 {
        let r = l.deliver(&message(i));
        if !r.starts_with("250 ") {
            return (acked, r);
        }
        acked.push(i);
    }
    panic!("3000 deliveries and the file system is not full");
}

/// While writes fail: SELECT and FETCH (BODY[] without PEEK, which would set \Seen) work, an
/// APPEND gets the fixed UNAVAILABLE text, and no line says anything of the database's.
fn reads_work_writes_refused(s: &Server, acked: &[usize]) {
    let mut c = s.login();
    let mut seen = c.cmd("s", "SELECT INBOX");
    assert!(seen.iter().any(|l| l == &format!("* {} EXISTS", acked.len())), "{seen:?}");
    assert!(seen.last().is_some_and(|l| l.starts_with("s OK")), "{seen:?}");
    let last = acked.len();
    let fetched = c.cmd("f", &format!("FETCH {last} (BODY[])"));
    let want = String::from_utf8(message(acked[last - 1])).expect("ascii");
    assert!(fetched.iter().any(|l| l.contains(&want)), "FETCH while writes fail: {fetched:?}");
    assert!(fetched.last().is_some_and(|l| l.starts_with("f OK")), "{fetched:?}");
    // Larger than any room the reserve has left (it refused a smaller delivery already).
    let m = format!("Subject: refused\r\n\r\n{}", "not stored\r\n".repeat(20_000));
    c.send(format!("a APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    let appended = c.until("a");
    assert_eq!(appended.last().map(String::as_str), Some(format!("a {WRITE_REFUSED}").as_str()));
    seen.extend(fetched);
    seen.extend(appended);
    for l in &seen {
        assert!(
            !l.contains("I/O") && !l.contains("redb") && !l.contains("re-open"),
            "database text sent: {l}"
        );
    }
}

/// `applianced deliver` while writes fail: EX_TEMPFAIL, so that the MTA keeps the message.
fn deliver_cli_tempfails(s: &Server) {
    let o = s.cli(&["deliver", USER], &message(99_999));
    assert_eq!(o.status.code(), Some(75), "deliver: {}", String::from_utf8_lossy(&o.stderr));
}

/// Retries a delivery until it is accepted; returns how long that took.
fn until_accepted(l: &mut Lmtp, i: usize) -> Duration {
    let started = Instant::now();
    loop {
        let r = l.deliver(&message(i));
        if r.starts_with("250 ") {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "still refused after a minute: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// After a restart: INBOX holds exactly the acknowledged messages, each byte for byte.
fn exactly_these(s: &Server, acked: &[usize]) {
    let mut c = s.login();
    c.run("C: e EXAMINE INBOX\nS: e OK *");
    let lines = c.cmd("f", "FETCH 1:* (BODY.PEEK[])");
    let mut found = Vec::new();
    for l in lines.iter().filter(|l| l.starts_with("* ")) {
        let i: usize = l
            .split("Subject: fill-")
            .nth(1)
            .and_then(|r| r.split('\r').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not one of ours: {l:.200}"));
        let want = String::from_utf8(message(i)).expect("ascii");
        assert!(l.contains(&want), "message {i} differs from what was delivered");
        found.push(i);
    }
    found.sort_unstable();
    let mut want = acked.to_vec();
    want.sort_unstable();
    assert_eq!(found, want, "the acknowledged messages, and only they");
}

fn full_disk(test: &str, reserve_mb: u64) {
    let mut mounts = Mounts::new(test);
    let dir = match mounts.tmpfs("fs", "8m") {
        Ok(d) => d,
        Err(e) => return skipped(test, &e),
    };
    let config = format!("lmtp.listen = [\"127.0.0.1:0\"]\nstore.min_free_mb = {reserve_mb}");
    let mut s = Server::start_at(dir.clone(), &config, &[]);
    // Room that can be given back.
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![0u8; 2 << 20]).expect("filler");

    let mut l = Lmtp::connect(s.lmtp);
    let (mut acked, refusal) = fill(&mut l);
    assert!(acked.len() > 10, "only {} messages fit", acked.len());
    assert!(refusal.starts_with("452 4.3.1 "), "a full disk: {refusal}");
    for i in 0..3 {
        let r = l.deliver(&message(10_000 + i));
        assert!(r.starts_with("452 4.3.1 "), "still full: {r}");
    }
    reads_work_writes_refused(&s, &acked);
    deliver_cli_tempfails(&s);

    std::fs::remove_file(&filler).expect("free space");
    let took = until_accepted(&mut l, 20_000);
    acked.push(20_000);
    eprintln!(
        "{test}: {} messages, accepted again {} ms after space returned",
        acked.len(),
        took.as_millis()
    );
    let mut c = s.login();
    let m = "Subject: after\r\n\r\nstored\r\n";
    c.send(format!("a APPEND Drafts {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    let last = c.until("a").pop().unwrap_or_default();
    assert!(last.starts_with("a OK [APPENDUID"), "APPEND after space returned: {last}");

    let log = s.log().join("\n");
    if reserve_mb == 0 {
        // redb met ENOSPC itself: the writer reopened the database.
        assert!(log.contains("reopened"), "{log}");
    } else {
        // The reserve met the full disk first: redb never failed a write.
        assert!(!log.contains("writes fail"), "{log}");
    }
    s.restart();
    exactly_these(&s, &acked);
    drop(s);
    drop(mounts);
}

#[test]
fn full_disk_met_by_the_reserve() {
    full_disk("reserve", 1);
}

#[test]
fn full_disk_met_by_redb_reopens_the_database() {
    full_disk("enospc", 0);
}

/// ext4 turns itself read-only (as after an I/O error, through its `trigger_fs_error` knob)
/// while the server has the database open: writes are refused with 451 4.3.0, reads go on from
/// the file opened read-only, and after the admin remounts the file system every acknowledged
/// message is there.
#[test]
fn read_only_file_system_keeps_reads() {
    let test = "read_only_file_system_keeps_reads";
    let mut mounts = Mounts::new("ro");
    let outer = match mounts.tmpfs("outer", "80m") {
        Ok(d) => d,
        Err(e) => return skipped(test, &e),
    };
    let dir = match mounts.ext4("fs", &outer.join("image")) {
        Ok(d) => d,
        Err(e) => return skipped(test, &format!("no loop device or ext4: {e}")),
    };
    let dev = mounts.loop_dev.clone().unwrap_or_default();
    let knob = PathBuf::from("/sys/fs/ext4").join(dev.trim_start_matches("/dev/")).join("trigger_fs_error");
    if !knob.exists() {
        return skipped(test, &format!("{} is missing", knob.display()));
    }
    let mut s = Server::start_at(dir.clone(), "lmtp.listen = [\"127.0.0.1:0\"]\nstore.min_free_mb = 1", &[]);
    let mut l = Lmtp::connect(s.lmtp);
    let acked: Vec<usize> = (0..5).collect();
    for &i in &acked {
        let r = l.deliver(&message(i));
        assert!(r.starts_with("250 "), "{r}");
    }
    std::fs::write(&knob, "1").expect("trigger an ext4 error");
    for i in 0..3 {
        let r = l.deliver(&message(100 + i));
        assert!(r.starts_with("451 4.3.0 "), "a read-only file system: {r}");
    }
    reads_work_writes_refused(&s, &acked);
    deliver_cli_tempfails(&s);
    assert!(s.log().iter().any(|l| l.contains("reopened read-only")), "{:#?}", s.log());

    // The admin's part: stop the server, check and remount the file system, start again.
    s.stop();
    let p = path(&dir).to_string();
    sh("umount", &[&p]).expect("umount");
    let _ = sh("e2fsck", &["-fy", &dev]);
    sh("mount", &["-o", "errors=remount-ro", &dev, &p]).expect("mount again");
    s.restart();
    exactly_these(&s, &acked);
    let mut l = Lmtp::connect(s.lmtp);
    let r = l.deliver(&message(200));
    assert!(r.starts_with("250 "), "writable again: {r}");
    drop(s);
    drop(mounts);
}
