//! `applianced-bench cpu`: the worst LIST, SEARCH and SORT one user can send, and what another
//! session's NOOP takes meanwhile; applianced and Dovecot side by side, in the same run (issue
//! 10, item 1).
//!
//! Each server gets the same account: an INBOX of `--messages` corpus messages and `--mailboxes`
//! mailboxes with long names (200 bytes: Dovecot's Maildir++ keeps a folder in one directory
//! entry, so 255-byte names do not fit it). Then `--attackers` connections each pipeline
//! `--lists` LISTs of a 1,024-byte pattern with the most steps a pattern can hold (`a%` 511
//! times, then `x`: wildcard runs collapse), and the first of them also a SEARCH TEXT, a SEARCH
//! over bodies and headers and a SORT of the INBOX; meanwhile a second connection of the same
//! account, with INBOX selected, sends a NOOP every 5 ms. Reported: how long the attack took, and
//! the NOOPs' median, 99th percentile and maximum.

use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::imap::{Conn, R, Server, on_both_servers};

/// The worst LIST / SEARCH / SORT against another session's NOOP, applianced and Dovecot.
#[derive(FromArgs)]
#[argh(subcommand, name = "cpu")]
pub struct CpuBench {
    /// messages in the INBOX (default 20000)
    #[argh(option, default = "20_000")]
    messages: usize,
    /// mailboxes with 200-byte names (default 1000)
    #[argh(option, default = "1000")]
    mailboxes: usize,
    /// attacking connections (default 4)
    #[argh(option, default = "4")]
    attackers: usize,
    /// LISTs pipelined per attacking connection (default 2)
    #[argh(option, default = "2")]
    lists: usize,
    /// measure applianced only
    #[argh(switch)]
    skip_dovecot: bool,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn measure(server: &Server, b: &CpuBench) -> R<()> {
    let port = server.port;
    let mut c = Conn::login(port)?;
    let t = Instant::now();
    for chunk in (0..b.mailboxes).collect::<Vec<_>>().chunks(100) {
        let tags: Vec<String> = chunk
            .iter()
            .map(|i| c.start(&format!("CREATE \"{i:04}{}\"", "a".repeat(196))))
            .collect::<R<_>>()?;
        for tag in tags {
            c.until(&tag)?;
        }
    }
    println!("{}: {} mailboxes created in {:.1} s", server.name, b.mailboxes, t.elapsed().as_secs_f64());
    let mut victim = Conn::login(port)?;
    victim.cmd("SELECT INBOX")?;

    let pattern = "a%".repeat(511) + "x";
    let mut attackers: Vec<Conn> = (0..b.attackers).map(|_| Conn::login(port)).collect::<R<_>>()?;
    for (i, a) in attackers.iter_mut().enumerate() {
        let mut batch = String::new();
        if i == 0 {
            batch.push_str("s0 SELECT INBOX\r\ns1 SEARCH TEXT zzzz-nowhere\r\n");
            batch.push_str("s2 SEARCH OR BODY qqqq-nowhere HEADER X-Nothing yyyy\r\n");
            batch.push_str("s3 SORT (SUBJECT FROM) UTF-8 ALL\r\n");
        }
        for k in 0..b.lists {
            batch.push_str(&format!("l{k} LIST \"\" \"{pattern}\"\r\n"));
        }
        batch.push_str("end NOOP\r\n");
        a.send(batch.as_bytes())?;
    }
    let started = Instant::now();
    let attack = std::thread::spawn(move || -> R<Duration> {
        for a in &mut attackers {
            a.until("end")?;
        }
        Ok(started.elapsed())
    });
    let mut times = Vec::new();
    while !attack.is_finished() {
        let t = Instant::now();
        victim.cmd("NOOP")?;
        times.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = attack.join().map_err(|_| "attack thread panicked")??;
    times.sort_unstable();
    println!(
        "{}: attack {:.2} s; {} NOOPs meanwhile: median {}, p99 {}, max {}",
        server.name,
        took.as_secs_f64(),
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    );
    // One LIST alone, for its own cost.
    let t = Instant::now();
    c.cmd(&format!("LIST \"\" \"{pattern}\""))?;
    println!("{}: one such LIST alone {}", server.name, ms(t.elapsed()));
    Ok(())
}

pub fn run(b: CpuBench) -> R<()> {
    on_both_servers("cpu", b.messages, b.attackers + 10, b.skip_dovecot, None, |server| measure(server, &b))
}
