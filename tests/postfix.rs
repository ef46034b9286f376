//! Postfix hands mail for the project's domain to applianced over LMTP: messages sent through
//! Postfix's SMTP port with Python's smtplib are found by IMAP (plain, multipart, 8-bit, to an
//! alias, to a catch-all); an unknown user is bounced with 5.1.1; a user over quota is deferred
//! with 4.2.2. Needs Debian's `postfix` (installed by .ci/run) and root, since Postfix must authorise
//! the test's configuration directory in /etc/postfix/main.cf (alternate_config_directories).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, USER};

/// A private Postfix instance in a temporary directory, run in the foreground.
struct Postfix {
    dir: std::path::PathBuf,
    child: Child,
    smtp: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Postfix {
    fn start(lmtp_port: u16) -> Postfix {
        let dir = std::env::temp_dir().join(format!("applianced-postfix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let etc = dir.join("etc");
        for d in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.join(d)).expect("dir");
        }
        let ok =
            Command::new("chown").args(["postfix:postfix"]).arg(dir.join("data")).status().expect("chown");
        assert!(ok.success());
        // Authorise the directory (Postfix refuses unknown configuration directories otherwise).
        let ok = Command::new("postconf")
            .args(["-e", &format!("alternate_config_directories = {}", etc.display())])
            .status()
            .expect("postconf (install Debian's postfix)");
        assert!(ok.success());
        let smtp = free_port();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("master.cf");
        let mut out = String::new();
        for line in master.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let service = fields.len() >= 8
                && !line.starts_with(['#', ' ', '\t'])
                && ["unix", "inet", "fifo", "pass", "unix-dgram"].contains(&fields[1]);
            if service && fields[0] == "smtp" && fields[1] == "inet" {
                out.push_str(&format!("{smtp} inet n - n - - smtpd\n"));
            } else if service {
                // No chroot: the queue is in a temporary directory.
                let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f[4] = "n".into();
                out.push_str(&f.join(" "));
                out.push('\n');
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        std::fs::write(etc.join("master.cf"), out).expect("master.cf");
        std::fs::write(
            etc.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {d}\nmail_owner = postfix\n\
                 setgid_group = postdrop\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmyhostname = mx.test\n\
                 mydestination =\nmynetworks = 127.0.0.0/8\nvirtual_mailbox_domains = mail.test, other.test\n\
                 virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}\n\
                 smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
                 maillog_file = /dev/stdout\nalias_maps =\nalias_database =\nsmtputf8_enable = no\n",
                q = dir.join("queue").display(),
                d = dir.join("data").display(),
            ),
        )
        .expect("main.cf");
        let log = std::fs::File::create(dir.join("maillog")).expect("log");
        let child = Command::new("postfix")
            .arg("-c")
            .arg(&etc)
            .arg("start-fg")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("postfix start-fg");
        let p = Postfix { dir, child, smtp };
        p.wait_for(|| std::net::TcpStream::connect(("127.0.0.1", smtp)).is_ok(), "Postfix's SMTP port");
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Polls `cond` (a condition of another process's making) for at most 30 seconds.
    fn wait_for(&self, mut cond: impl FnMut() -> bool, what: &str) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix").arg("-c").arg(self.dir.join("etc")).arg("stop").status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn postfix_delivers_over_lmtp() {
    if Command::new("postconf").arg("-h").arg("mail_version").output().is_err() {
        panic!("postfix is not installed: .ci/run installs Debian's postfix");
    }
    let s = Server::start(
        "postfix",
        "lmtp.listen = [\"127.0.0.1:0\"]\n+[quota.accounts.\"full@mail.test\"]\n+messages = 1",
    );
    let pw = s.dir.join("pw-full");
    std::fs::write(&pw, "x").expect("pw");
    for args in [
        vec!["user", "add", "full@mail.test", "--password-file", pw.to_str().expect("path")],
        vec!["alias", "add", "sales@mail.test", USER],
        vec!["alias", "add", "@other.test", USER],
    ] {
        let o = s.cli(&args, b"");
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    // The over-quota account is full after one message.
    s.deliver("full@mail.test", b"Subject: fills it\r\n\r\nx\r\n");
    let pf = Postfix::start(s.lmtp);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/smtp_send.py");
    let o = Command::new("python3")
        .arg(script)
        .args([pf.smtp.to_string(), USER.to_string(), "nobody@mail.test".to_string()])
        .args(["sales@mail.test", "whoever@other.test", "full@mail.test"])
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "smtplib: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    pf.wait_for(
        || {
            let out = s.cli(&["user", "list"], b"");
            String::from_utf8_lossy(&out.stdout).contains(&format!("{USER}\t5 messages"))
        },
        "five deliveries (three direct, one by alias, one by catch-all)",
    );
    // Over quota: LMTP says 452 4.2.2 and Postfix keeps the message queued to retry.
    pf.wait_for(
        || pf.log().contains("to=<full@mail.test>") && pf.log().contains("dsn=4.2.2"),
        "the deferral over quota",
    );
    pf.wait_for(|| pf.log().contains("status=bounced"), "the bounce of the unknown user");
    let log = pf.log();
    assert!(log.contains("to=<nobody@mail.test>") && log.contains("dsn=5.1.1"), "{log}");
    assert!(log.contains("relay=127.0.0.1[127.0.0.1]") && log.contains("status=sent"), "{log}");

    let mut c = s.login();
    c.run("C: s SELECT INBOX\nS: s OK *");
    // Postfix delivers in parallel: find each message by its subject.
    let mut number = |subject: &str| -> u32 {
        let lines = c.cmd("x", &format!("SEARCH SUBJECT \"{subject}\""));
        let hit = lines
            .iter()
            .find_map(|l| l.strip_prefix("* SEARCH "))
            .unwrap_or_else(|| panic!("{subject}: {lines:?}"));
        hit.trim().parse().unwrap_or_else(|_| panic!("one message for {subject}: {hit}"))
    };
    let (_plain, multi, eight) =
        (number("plain via postfix"), number("multipart via postfix"), number("8-bit via postfix"));
    let bs = c.cmd("b", &format!("FETCH {multi} (BODYSTRUCTURE BINARY.SIZE[2])")).join("\n");
    assert!(bs.contains("\"application\" \"octet-stream\"") && bs.contains("BINARY.SIZE[2] 10240"), "{bs}");
    let text = c.cmd("e", &format!("FETCH {eight} (BODY.PEEK[TEXT])")).join("\n");
    assert!(text.contains("Grüße aus Köln"), "{text}");
}
