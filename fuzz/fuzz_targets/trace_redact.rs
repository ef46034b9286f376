//! The trace redactor on arbitrary input, both sides: it must never panic, must give the same
//! lines however the input is cut, and must keep every line near its cap.

#![no_main]

use applianced::imap::trace::{LINE_CAP, Redactor, Side};
use libfuzzer_sys::fuzz_target;

fn run(side: Side, data: &[u8], chunk: usize) -> Vec<String> {
    let mut r = Redactor::new(side);
    let mut lines = Vec::new();
    for piece in data.chunks(chunk) {
        r.feed(piece, &mut |l: &str| lines.push(l.to_string()));
    }
    lines
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let side = if control & 1 == 0 { Side::Client } else { Side::Server };
    let whole = run(side, data, data.len().max(1));
    assert_eq!(whole, run(side, data, usize::from(control >> 1).max(1)));
    assert!(whole.iter().all(|l| l.len() <= LINE_CAP + 80));
});
