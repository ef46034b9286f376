//! The framer on arbitrary input: it must never panic, must keep memory within its caps, and
//! must produce the same frames however the input is cut into pushes.

#![no_main]

use applianced::proto::framing::{Frame, Framer};
use libfuzzer_sys::fuzz_target;

const MAX_LINE: usize = 64;
const MAX_LITERAL: u64 = 256;
const MAX_COMMAND: u64 = 1024;

fn run(data: &[u8], chunk: usize) -> Vec<Frame> {
    let mut framer = Framer::new(MAX_LINE, MAX_LITERAL);
    framer.set_max_command(MAX_COMMAND);
    let mut frames = Vec::new();
    for piece in data.chunks(chunk) {
        framer.push(piece);
        for frame in framer.by_ref() {
            if let Frame::Command(bytes) = &frame {
                assert!(bytes.len() as u64 <= MAX_COMMAND + 2);
            }
            frames.push(frame);
        }
        // Everything pushed has been framed: only the command being assembled is held.
        assert!(framer.buffered() as u64 <= MAX_COMMAND + 2);
    }
    frames
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let whole = run(data, data.len().max(1));
    let split = run(data, usize::from(control).max(1));
    assert_eq!(whole, split);
});
