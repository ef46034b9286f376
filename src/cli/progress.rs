//! Progress of a long CLI job (import, export): a bar redrawn in place on a terminal, plain
//! lines when stderr is a log (systemd, a pipe, a file), so a log never fills with redraws.
//!
//! The formatting is pure (`render`, `plain_line`) and tested; `Progress` only decides when to
//! print and where.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Shortest time between two redraws of the bar.
const REDRAW: Duration = Duration::from_millis(100);
/// Shortest time between two plain lines in a log.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Width of the bar, in cells.
const BAR: usize = 30;

/// Where progress goes: a terminal redrawn in place, or a log written a line at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Terminal,
    Log,
}

/// A counter of work done, towards a total when one is known.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: u64,
    mode: Mode,
    started: Instant,
    last_print: Option<Instant>,
    /// Width of the last bar drawn, to blank it out when a shorter one follows.
    drawn: usize,
}

impl Progress {
    /// Progress on stderr, a bar when stderr is a terminal.
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Self {
        let mode = if std::io::stderr().is_terminal() { Mode::Terminal } else { Mode::Log };
        Progress::with_mode(label, total, mode)
    }

    pub fn with_mode(label: impl Into<String>, total: Option<u64>, mode: Mode) -> Self {
        Progress {
            label: label.into(),
            total,
            done: 0,
            mode,
            started: Instant::now(),
            last_print: None,
            drawn: 0,
        }
    }

    /// A new phase (another folder): label and total change, the clock goes on.
    pub fn relabel(&mut self, label: impl Into<String>, total: Option<u64>) {
        self.clear();
        self.label = label.into();
        self.total = total;
        self.done = 0;
        self.last_print = None;
    }

    /// Counts `n` more items done, printing when it is time to.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        let now = Instant::now();
        let every = match self.mode {
            Mode::Terminal => REDRAW,
            Mode::Log => LOG_EVERY,
        };
        if self.last_print.is_none_or(|t| now.duration_since(t) >= every) {
            self.print(now);
        }
    }

    /// A line that must not be overdrawn (a skipped file, a warning).
    pub fn message(&mut self, line: &str) {
        self.clear();
        eprintln!("applianced: {line}");
    }

    /// The final state of this phase, always printed, ending the bar's line.
    pub fn finish(&mut self) {
        self.print(Instant::now());
        if self.mode == Mode::Terminal {
            eprintln!();
            self.drawn = 0;
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.duration_since(self.started)
    }

    fn print(&mut self, now: Instant) {
        self.last_print = Some(now);
        let mut err = std::io::stderr().lock();
        match self.mode {
            Mode::Terminal => {
                let line = render(&self.label, self.done, self.total, self.elapsed(now));
                let pad = self.drawn.saturating_sub(line.chars().count());
                let _ = write!(err, "\r{line}{}", " ".repeat(pad));
                self.drawn = line.chars().count();
            }
            Mode::Log => {
                let _ =
                    writeln!(err, "{}", plain_line(&self.label, self.done, self.total, self.elapsed(now)));
            }
        }
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.mode == Mode::Terminal && self.drawn > 0 {
            eprint!("\r{}\r", " ".repeat(self.drawn));
            self.drawn = 0;
        }
    }
}

fn rate(done: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { done as f64 / secs } else { 0.0 }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The bar: `INBOX [#########.....] 4500/10000 45% 1200/s ETA 0:04`, or a count and a rate when
/// the total is unknown.
pub fn render(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let r = rate(done, elapsed);
    match total {
        Some(total) if total > 0 => {
            let frac = (done as f64 / total as f64).min(1.0);
            let filled = (frac * BAR as f64).round() as usize;
            let eta = if r > 0.0 && done < total {
                format!(" ETA {}", clock(Duration::from_secs_f64((total - done) as f64 / r)))
            } else {
                String::new()
            };
            format!(
                "{label} [{}{}] {done}/{total} {:.0}% {r:.0}/s{eta}",
                "#".repeat(filled),
                ".".repeat(BAR - filled),
                frac * 100.0
            )
        }
        _ => format!("{label} {done} {r:.0}/s {}", clock(elapsed)),
    }
}

/// A log line: `import: INBOX 4500/10000 (45%), 1200/s, 0:03 elapsed`.
pub fn plain_line(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let r = rate(done, elapsed);
    match total {
        Some(total) if total > 0 => format!(
            "progress: {label} {done}/{total} ({:.0}%), {r:.0}/s, {} elapsed",
            (done as f64 / total as f64).min(1.0) * 100.0,
            clock(elapsed)
        ),
        _ => format!("progress: {label} {done}, {r:.0}/s, {} elapsed", clock(elapsed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_with_total() {
        let line = render("INBOX", 4500, Some(10000), Duration::from_secs(3));
        assert_eq!(line, "INBOX [##############................] 4500/10000 45% 1500/s ETA 0:03");
        let full = render("INBOX", 10, Some(10), Duration::from_secs(1));
        assert_eq!(full, format!("INBOX [{}] 10/10 100% 10/s", "#".repeat(BAR)));
    }

    #[test]
    fn count_without_total() {
        assert_eq!(render("mbox", 300, None, Duration::from_secs(61)), "mbox 300 5/s 1:01");
        assert_eq!(
            plain_line("mbox", 300, None, Duration::from_secs(61)),
            "progress: mbox 300, 5/s, 1:01 elapsed"
        );
    }

    #[test]
    fn log_line_with_total() {
        assert_eq!(
            plain_line("Sent", 1, Some(4), Duration::from_secs(3700)),
            "progress: Sent 1/4 (25%), 0/s, 1:01:40 elapsed"
        );
    }
}
