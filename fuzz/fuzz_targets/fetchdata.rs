//! Delivery-time parsing of any bytes: `fetchdata::compute` must never panic, every range it
//! reports must lie inside the message, and its encoding must round-trip.
#![no_main]

use applianced::imap::fetchdata::{FetchData, compute};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    if let Ok(d) = compute(raw) {
        for p in &d.parts {
            assert!(p.header.0 <= p.header.1 && p.header.1 as usize <= raw.len());
            assert!(p.body.0 <= p.body.1 && p.body.1 as usize <= raw.len());
        }
        let back = FetchData::decode(&d.encode()).expect("round trip");
        assert_eq!(back.envelope, d.envelope);
        assert_eq!(back.bodystructure, d.bodystructure);
    }
});
