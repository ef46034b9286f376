//! Commands that cost CPU (issue 10, item 1): LIST's wildcards match in linear time, patterns,
//! mailbox names and mailboxes per account are capped with `NO [LIMIT]`, and the worst LIST,
//! SEARCH and SORT a client can send run off the executor, so that another user's NOOP stays
//! quick meanwhile (the parse of an APPENDed message: `tests/ingest.rs`).

mod common;

use std::time::{Duration, Instant};

use common::{Client, Server};

/// Creates `names` with pipelined CREATEs on one connection; every one must succeed.
fn create_all(c: &mut Client, names: &[String]) {
    for chunk in names.chunks(100) {
        let mut batch = String::new();
        for (i, n) in chunk.iter().enumerate() {
            batch.push_str(&format!("c{i} CREATE \"{n}\"\r\n"));
        }
        c.send(batch.as_bytes());
        for i in 0..chunk.len() {
            let done = c.until(&format!("c{i}")).pop().unwrap_or_default();
            assert!(done.starts_with(&format!("c{i} OK")), "{done}");
        }
    }
}

#[test]
fn names_patterns_and_mailbox_counts_are_limited() {
    let s = Server::start("cpu-limits", "limits.max_mailboxes = 12");
    let mut c = s.login();
    // 255 bytes of UTF-8 is the default; 256 is one too many, counted in bytes, not characters.
    let ok = "é".repeat(127);
    let long = "é".repeat(128);
    c.run(&format!(
        "C: a CREATE \"{ok}\"\nS: a OK *\nC: b CREATE \"{long}\"\nS: b NO [LIMIT] *\n\
         C: c RENAME \"{ok}\" \"{long}\"\nS: c NO [LIMIT] *\nC: d LIST \"\" \"{long}\"\nS: d OK *"
    ));
    // The reference and the patterns together: 1024 bytes at most.
    let pattern = "*%".repeat(512);
    c.run(&format!("C: e LIST \"\" \"{pattern}\"\nS: * LIST *\nS: e OK LIST completed"));
    c.run(&format!("C: f LIST \"x\" \"{pattern}\"\nS: f NO [LIMIT] *"));
    c.run(&format!("C: g LIST \"\" (\"{pattern}\" \"x\")\nS: g NO [LIMIT] *"));
    c.run(&format!("C: h LSUB \"\" \"{pattern}x\"\nS: h NO [LIMIT] *"));
    // INBOX, the five --init mailboxes, the one above: 7. Five more fit, every level counts.
    c.run("C: i CREATE a/b/c/d\nS: i OK *\nC: j CREATE e\nS: j OK *\nC: k CREATE f\nS: k NO [LIMIT] *");
    c.run("C: l DELETE e\nS: l OK *\nC: m CREATE f\nS: m OK *\nC: n RENAME f g\nS: n OK *");
    c.run("C: o LIST \"\" g\nS: * LIST (\\HasNoChildren) \"/\" g\nS: o OK *");
}

#[test]
fn another_users_noop_stays_quick_while_the_worst_commands_run() {
    let s = Server::start("cpu-noop", "");
    // The victim: a second account with a mailbox open, as a mail client keeps it.
    let pw = s.dir.join("pw-carol");
    std::fs::write(&pw, "carols-secret").expect("pw");
    let added =
        s.cli(&["user", "add", "carol@mail.test", "--password-file", pw.to_str().expect("path")], b"");
    assert!(added.status.success(), "{added:?}");
    let mut victim = s.connect();
    victim.run("C: v1 LOGIN carol@mail.test carols-secret\nS: v1 OK *\nC: v2 SELECT INBOX\nS: v2 OK *");

    // The attacker: 1,000 mailboxes with the longest names allowed, 2,000 messages.
    let mut c = s.login();
    let names: Vec<String> = (0..1000).map(|i| format!("{i:04}{}", "a".repeat(251))).collect();
    create_all(&mut c, &names);
    common::fill(&s, "INBOX", 2000);
    // The longest pattern allowed, made of as many steps as it can hold (wildcard runs collapse).
    let pattern = "a%".repeat(511) + "x";
    let mut attackers: Vec<Client> = (0..4).map(|_| s.login()).collect();
    for (i, a) in attackers.iter_mut().enumerate() {
        let mut batch = String::new();
        if i == 0 {
            batch.push_str(
                "s0 SELECT INBOX\r\ns1 SEARCH TEXT zzzz-nowhere\r\ns2 SORT (SUBJECT FROM) UTF-8 ALL\r\n",
            );
            batch.push_str("s3 SEARCH OR BODY qqqq-nowhere HEADER X-Nothing yyyy\r\n");
        }
        for k in 0..6 {
            batch.push_str(&format!("l{k} LIST \"\" \"{pattern}\"\r\n"));
        }
        batch.push_str("end NOOP\r\n");
        a.send(batch.as_bytes());
    }
    // Another user's NOOPs, for as long as the attack runs.
    let attack = std::thread::spawn(move || {
        let started = Instant::now();
        for a in &mut attackers {
            for l in a.until("end") {
                assert!(!l.contains(" NO ") && !l.contains(" BAD "), "{l}");
            }
        }
        started.elapsed()
    });
    common::noops_stay_quick(&mut victim, attack, "the attack", Duration::from_millis(50));
}
