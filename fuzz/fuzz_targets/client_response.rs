//! Responses of a remote server (the client of `import imap` and `probe`): framing and parsing
//! of any bytes must never panic, a frame never claims more than it was given, and a prefix of
//! a complete response is never complete and always asks for more bytes than it has.
#![no_main]

use applianced::client::response::{Framed, frame, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Framed::Complete(n)) = frame(data) else { return };
    assert!(n <= data.len());
    let _ = parse(&data[..n]);
    for cut in [0, n / 2, n.saturating_sub(1)] {
        if let Ok(f) = frame(&data[..cut]) {
            assert!(matches!(f, Framed::Incomplete { at_least } if at_least > cut), "{cut}: {f:?}");
        }
    }
});
