//! A realistic, reproducible mail corpus built with mail-builder from a fixed seed: plain and
//! multipart messages, attachments, reply threads, sizes from 1 KB to 60 KB with a median near
//! 8 KB. Used by the benchmark program and by tests; the same seed gives the same messages.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::mime::MimePart;

/// SplitMix64: small, fast and good enough for test data (not for secrets).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

const WORDS: &[&str] = &[
    "meeting", "invoice", "project", "schedule", "the", "a", "report", "customer", "please", "review",
    "attached", "thanks", "regards", "update", "budget", "quarter", "delivery", "office", "printer",
    "server", "backup", "contract", "draft", "final", "version", "tomorrow", "today", "call", "team", "and",
    "of", "to", "in", "for", "with", "on", "is", "we", "you", "this", "that", "will", "can", "Grüße", "für",
    "naïve", "café",
];
const NAMES: &[(&str, &str)] = &[
    ("Alice Martin", "alice@example.com"),
    ("Bob Dupont", "bob@example.org"),
    ("Carol Schmidt", "carol@firma.de"),
    ("Dan O'Neil", "dan@example.net"),
    ("Eve Müller", "eve@büro.example"),
    ("Frank Li", "frank@example.com"),
    ("Grace Hopper", "grace@navy.example"),
    ("Heidi Klum", "heidi@example.de"),
];

/// Generates messages one by one.
pub struct Corpus {
    rng: Rng,
    /// Messages generated so far (also their number in Message-IDs).
    count: u64,
    /// Subjects and Message-IDs of earlier thread starters, for replies.
    threads: Vec<(String, String)>,
}

impl Corpus {
    pub fn new(seed: u64) -> Self {
        Corpus { rng: Rng::new(seed), count: 0, threads: Vec::new() }
    }

    /// A target size: log-normal around 8 KB, clamped to 1..60 KB.
    fn size(&mut self) -> usize {
        let s = (8000f64.ln() + 0.75 * self.rng.normal()).exp();
        s.clamp(1000.0, 60_000.0) as usize
    }

    fn text(&mut self, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes + 16);
        let mut col = 0;
        while out.len() < bytes {
            let w = WORDS[self.rng.below(WORDS.len() as u64) as usize];
            out.push_str(w);
            col += w.len() + 1;
            if col > 66 {
                out.push('\n');
                col = 0;
            } else {
                out.push(' ');
            }
        }
        out
    }

    /// The next message, RFC 5322 with CRLF line ends.
    pub fn next_message(&mut self) -> Vec<u8> {
        self.count += 1;
        let n = self.count;
        let size = self.size();
        let from = NAMES[self.rng.below(NAMES.len() as u64) as usize];
        let to = NAMES[self.rng.below(NAMES.len() as u64) as usize];
        let msg_id = format!("{n}.{:x}@corpus.applianced", self.rng.next_u64());
        let reply = !self.threads.is_empty() && self.rng.below(10) < 3;
        let (subject, parent) = if reply {
            let i = self.rng.below(self.threads.len() as u64) as usize;
            let (s, id) = self.threads[i].clone();
            (format!("Re: {s}"), Some(id))
        } else {
            let s = format!("{} {} #{n}", self.text(12).trim(), self.text(10).trim()).replace('\n', " ");
            self.threads.push((s.clone(), msg_id.clone()));
            if self.threads.len() > 500 {
                self.threads.remove(0);
            }
            (s, None)
        };
        let mut b = MessageBuilder::new()
            .from(Address::new_address(Some(from.0), from.1))
            .to(Address::new_address(Some(to.0), to.1))
            .subject(subject)
            .message_id(msg_id)
            .date(1_704_067_200 + (n as i64) * 300);
        if self.rng.below(4) == 0 {
            let cc = NAMES[self.rng.below(NAMES.len() as u64) as usize];
            b = b.cc(Address::new_address(Some(cc.0), cc.1));
        }
        if let Some(p) = parent {
            b = b.in_reply_to(p.clone()).references(p);
        }
        let kind = self.rng.below(20);
        let b = if kind < 11 {
            b.text_body(self.text(size.saturating_sub(600)))
        } else if kind < 16 {
            let t = self.text(size.saturating_sub(900) / 3);
            let html = format!("<html><body><p>{}</p></body></html>", t.replace('\n', "</p><p>"));
            b.text_body(t).html_body(html)
        } else {
            let body = self.text(600);
            let att_len = size.saturating_sub(1400) * 3 / 4;
            let data: Vec<u8> = (0..att_len).map(|_| self.rng.next_u64() as u8).collect();
            let name = format!("document-{n}.pdf");
            b.body(MimePart::new(
                "multipart/mixed",
                vec![
                    MimePart::new("text/plain", body),
                    MimePart::new("application/pdf", data).attachment(name),
                ],
            ))
        };
        b.write_to_vec().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_realistic() {
        let mut c = Corpus::new(7);
        let mut sizes: Vec<usize> = (0..400).map(|_| c.next_message().len()).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((5_000..12_000).contains(&median), "median {median}");
        assert!(sizes[0] >= 700 && sizes[sizes.len() - 1] <= 70_000);
        let m = Corpus::new(7).next_message();
        let text = String::from_utf8_lossy(&m);
        assert!(text.contains("Message-ID:") && text.contains("Subject:"));
    }
}
