//! Migration from a real Dovecot (2.3, Debian's `dovecot-core`): Dovecot itself turns a generated
//! mbox tree of 10,000 messages into a Maildir++ (flags, keywords, folders, one nested), and
//! changes flags and keywords there with `doveadm flags`; `applianced import maildir` must then
//! show over IMAP exactly what `doveadm fetch` reports for every message (folder, flags,
//! keywords, INTERNALDATE, size). `applianced import mbox` of the same tree must match what
//! Dovecot reads from it.
//!
//! Needs `doveadm` and root (Dovecot refuses uid 0 for mail; the mail runs as nobody, and the
//! test starts a private Dovecot master, no listeners, for its userdb): skipped with a notice
//! otherwise. CI installs dovecot-core and runs as root.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Client, Server, USER};

const MESSAGES: usize = 10_000;
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// (year, month 1-12, day) of a day count since 1970.
fn civil(days: i64) -> (i64, usize, u32) {
    let (y, m, d) = applianced::proto::command::civil_from_days(days);
    (y, m as usize, d)
}

/// `Thu Nov 29 03:26:00 2026`, as a `From_` line has it.
fn asctime(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let wd = DAYS[t.div_euclid(86_400).rem_euclid(7) as usize];
    format!("{wd} {} {d:2} {:02}:{:02}:{:02} {y}", MONTHS[m - 1], s / 3600, s / 60 % 60, s % 60)
}

/// `2026-11-29 03:26:00`, as `doveadm fetch date.received` prints it (TZ is UTC here).
fn iso(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The mbox tree Dovecot and applianced both read: INBOX, Sent and Archive/2024, 10,000
/// messages with Status, X-Status and X-Keywords on some; X-IMAPbase names the keywords, as
/// Dovecot wants them declared.
fn generate(root: &Path) {
    std::fs::create_dir_all(root.join("Archive")).expect("dir");
    let mut files: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for i in 0..MESSAGES {
        let file = match i % 5 {
            3 => "Sent",
            4 => "Archive/2024",
            _ => "inbox",
        };
        let out = files.entry(file).or_default();
        let t = 1_790_000_000 + (i as i64) * 3_607;
        let mut m = format!(
            "From sender{i}@gen.test {}\nFrom: Sender {i} <sender{i}@gen.test>\nTo: {USER}\nSubject: message {i}\nDate: Mon, 7 Feb 1994 21:52:25 -0800\nMessage-ID: <{i}@gen.test>\n",
            asctime(t)
        );
        if out.is_empty() {
            m.push_str("X-IMAPbase: 1700000000 0000000000 $Forwarded project work\n");
        }
        if i % 3 == 0 {
            m.push_str("Status: RO\n");
        } else if i % 3 == 1 {
            m.push_str("Status: O\n");
        }
        let x: String = [(5, 'A'), (7, 'F'), (19, 'T'), (23, 'D')]
            .iter()
            .filter(|(n, _)| i % n == 0)
            .map(|(_, c)| *c)
            .collect();
        if !x.is_empty() {
            m.push_str(&format!("X-Status: {x}\n"));
        }
        let kw: Vec<&str> = [(11, "work"), (13, "$Forwarded"), (17, "project")]
            .iter()
            .filter(|(n, _)| i % n == 0)
            .map(|(_, k)| *k)
            .collect();
        if !kw.is_empty() {
            m.push_str(&format!("X-Keywords: {}\n", kw.join(" ")));
        }
        m.push_str(&format!("\nbody of message {i}\nsecond line\n\n"));
        out.extend_from_slice(m.as_bytes());
    }
    for (name, bytes) in files {
        std::fs::write(root.join(name), bytes).expect("mbox");
    }
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("spawn");
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A private Dovecot master (no listeners) for doveadm's userdb lookups; stopped on drop.
struct Dovecot {
    conf: PathBuf,
}

impl Dovecot {
    fn start(dir: &Path) -> Dovecot {
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dir");
        }
        chmod(&dir.join("home"), "777");
        let d = dir.display();
        let conf = dir.join("dovecot.conf");
        std::fs::write(
            &conf,
            format!(
                "ssl = no\nprotocols =\nbase_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
                 default_internal_user = root\ndefault_internal_group = root\ndefault_login_user = root\n\
                 mail_home = {d}/home/%u\nmail_location = maildir:{d}/home/%u/Maildir\n\
                 mail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 1\n\
                 passdb {{\n  driver = static\n  args = password=x\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}/home/%u\n}}\n\
                 namespace inbox {{\n  inbox = yes\n  separator = /\n}}\n"
            ),
        )
        .expect("conf");
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("dovecot");
        assert!(status.success(), "dovecot did not start: see {d}/dovecot.log");
        Dovecot { conf }
    }

    fn doveadm(&self, args: &[&str]) -> String {
        run(Command::new("doveadm").arg("-c").arg(&self.conf).args(args))
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm").arg("-c").arg(&self.conf).arg("stop").status();
    }
}

fn chmod(path: &Path, mode: &str) {
    run(Command::new("chmod").args(["-R", mode]).arg(path));
}

/// One message as both sides describe it: mailbox, flags and keywords (sorted, no \Recent),
/// received date, size.
type View = BTreeMap<String, (String, Vec<String>, String, u64)>;

fn flag_set(text: &str) -> Vec<String> {
    let mut f: Vec<String> =
        text.split_ascii_whitespace().filter(|f| *f != "\\Recent").map(str::to_string).collect();
    f.sort();
    f
}

/// `doveadm -f tab fetch 'mailbox hdr.message-id flags date.received size.virtual'`, by Message-ID.
fn dovecot_view(tab: &str) -> View {
    let mut out = View::new();
    for line in tab.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line}");
        let size = f[4].parse().expect("size");
        out.insert(f[1].to_string(), (f[0].to_string(), flag_set(f[2]), f[3].to_string(), size));
    }
    out
}

/// The same over IMAP from applianced.
fn applianced_view(c: &mut Client, mailboxes: &[String]) -> View {
    let mut out = View::new();
    for (n, mb) in mailboxes.iter().enumerate() {
        c.cmd(&format!("s{n}"), &format!("EXAMINE \"{mb}\""));
        for l in c.cmd(
            &format!("f{n}"),
            "FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
        ) {
            if !l.starts_with("* ") || !l.contains(" FETCH ") {
                continue;
            }
            let between = |a: &str, b: &str| -> String {
                let s = l.find(a).map(|i| i + a.len()).expect("field");
                l[s..].split(b).next().expect("end").to_string()
            };
            let flags = flag_set(&between("FLAGS (", ")"));
            // "29-Nov-2026 03:26:00 +0000" -> "2026-11-29 03:26:00"
            let d = between("INTERNALDATE \"", "\"");
            let month = MONTHS.iter().position(|m| *m == &d[3..6]).expect("month") + 1;
            let day: u32 = d[0..2].trim().parse().expect("day");
            let date = format!("{}-{month:02}-{day:02} {}", &d[7..11], &d[12..20]);
            let size = between("RFC822.SIZE ", " ").parse().expect("size");
            let id = between("Message-ID: ", "\r");
            out.insert(id, (mb.clone(), flags, date, size));
        }
    }
    out
}

fn compare(dovecot: &View, ours: &View) {
    assert_eq!(dovecot.len(), MESSAGES);
    let mut differ = Vec::new();
    for (id, d) in dovecot {
        if ours.get(id) != Some(d) {
            differ.push(format!("{id}: dovecot {d:?}, applianced {:?}", ours.get(id)));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} differ, e.g. {:#?}",
        differ.len(),
        MESSAGES,
        &differ[..differ.len().min(5)]
    );
    assert_eq!(ours.len(), dovecot.len());
}

#[test]
fn a_real_dovecot_maildir_and_mbox_import_as_dovecot_reads_them() {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if Command::new("doveadm").arg("help").output().is_err() || !root {
        common::skip("the Dovecot migration test", "it needs doveadm (dovecot-core) and root");
        return;
    }
    let started = std::time::Instant::now();
    let mut s = Server::start("dovecot", "");
    let dir = s.dir.join("dovecot");
    let src = s.dir.join("mbox");
    generate(&src);
    // Dovecot may rewrite an mbox it reads: it gets copies, writable by the mail user.
    let copy = |to: &str| {
        let dest = s.dir.join(to);
        run(Command::new("cp").arg("-r").arg(&src).arg(&dest));
        chmod(&dest, "777");
        dest
    };
    let dv_src = copy("mbox-dovecot");
    let dv = Dovecot::start(&dir);
    let mbox_location = |d: &Path| format!("mbox:{}:INBOX={}/inbox:INDEX=MEMORY", d.display(), d.display());
    dv.doveadm(&["import", "-u", "bob", "-s", &mbox_location(&dv_src), "", "all"]);
    // Flags and keywords changed in the Maildir by Dovecot itself.
    dv.doveadm(&["flags", "add", "-u", "bob", "\\Flagged $Important", "mailbox", "Sent", "1:50"]);
    dv.doveadm(&["flags", "remove", "-u", "bob", "\\Seen work", "mailbox", "INBOX", "100:400"]);
    dv.doveadm(&[
        "flags",
        "add",
        "-u",
        "bob",
        "\\Deleted $Important",
        "mailbox",
        "Archive/2024",
        "uid",
        "1:10",
    ]);
    let fields = "mailbox hdr.message-id flags date.received size.virtual";
    let maildir_view =
        dovecot_view(&dv.doveadm(&["-f", "tab", "fetch", "-u", "bob", fields, "mailbox", "*", "all"]));
    let dv_src2 = copy("mbox-dovecot-read");
    let mbox_view = dovecot_view(&dv.doveadm(&[
        "-o",
        &format!("mail_location={}", mbox_location(&dv_src2)),
        "-f",
        "tab",
        "fetch",
        "-u",
        "bob",
        fields,
        "mailbox",
        "*",
        "all",
    ]));
    let maildir = dir.join("home/bob/Maildir");
    assert!(maildir.join(".Archive.2024/cur").is_dir() && maildir.join(".Sent/dovecot-keywords").is_file());
    // Dovecot read the generated flags and keywords as meant (so the comparisons below test them).
    let count = |v: &View, f: &str| v.values().filter(|m| m.1.iter().any(|x| x == f)).count();
    let every = |n: usize| (0..MESSAGES).filter(|i| i % n == 0).count();
    assert_eq!(count(&mbox_view, "$Forwarded"), every(13));
    assert_eq!(count(&mbox_view, "project"), every(17));
    assert_eq!(count(&mbox_view, "\\Draft"), every(19));
    assert_eq!(count(&mbox_view, "\\Seen"), every(3));
    assert_eq!(
        count(&maildir_view, "\\Deleted"),
        every(23) + 10 - (0..10).filter(|k| (k * 5 + 4) % 23 == 0).count()
    );
    let mailboxes = vec!["INBOX".to_string(), "Sent".to_string(), "Archive/2024".to_string()];
    eprintln!("dovecot side ready after {:?}", started.elapsed());

    // The Maildir, imported while the server runs.
    let o = s.cli(&["import", "maildir", maildir.to_str().expect("path"), "--user", USER], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("imported {MESSAGES} messages")), "{o:?}");
    let mut c = s.login();
    compare(&maildir_view, &applianced_view(&mut c, &mailboxes));
    let important = maildir_view.values().filter(|v| v.1.contains(&"$Important".to_string())).count();
    assert_eq!(important, 60);
    eprintln!("maildir compared after {:?}", started.elapsed());

    // The mbox tree, straight, into a second account.
    let pw = s.dir.join("pw-mbox");
    std::fs::write(&pw, "mbox-secret").expect("pw");
    assert!(
        s.cli(&["user", "add", "mbox@mail.test", "--password-file", pw.to_str().expect("p")], b"")
            .status
            .success()
    );
    let o = s.cli(&["import", "mbox", src.to_str().expect("path"), "--user", "mbox@mail.test"], b"");
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains(&format!("imported {MESSAGES} messages from 3 mbox files")),
        "{o:?}"
    );
    let mut c = s.connect();
    c.run("C: l LOGIN mbox@mail.test mbox-secret\nS: l OK *");
    compare(&mbox_view, &applianced_view(&mut c, &mailboxes));
    // A sample of INTERNALDATEs against the From_ lines written.
    for i in [0usize, 1, 4, 9999] {
        let want = iso(1_790_000_000 + (i as i64) * 3_607);
        assert_eq!(mbox_view[&format!("<{i}@gen.test>")].2, want);
    }
    drop(c);
    s.stop();
    eprintln!("done after {:?}", started.elapsed());
}
