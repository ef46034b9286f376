//! Arbitrary bytes through the framer, then every complete command through the parser: neither
//! may panic, and what the parser accepts must hold together (tags valid, APPEND ranges inside
//! the command); the URLs of CATENATE parts go through the IMAP URL parser.

#![no_main]

use applianced::proto::command::{AppendData, CatPart, CommandBody};
use applianced::proto::framing::{Frame, Framer};
use applianced::proto::parse::{ParseOptions, parse_command_with, parse_done, parse_imap_url, parse_sasl_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the options and how the input is cut into pushes.
    let Some((&control, data)) = data.split_first() else { return };
    let options = ParseOptions { utf8: control & 1 == 1 };
    let chunk = usize::from(control >> 1).max(1);
    let mut framer = Framer::new(256, 4096);
    for piece in data.chunks(chunk) {
        framer.push(piece);
        while let Some(frame) = framer.next() {
            let Frame::Command(bytes) = frame else { continue };
            let _ = parse_done(&bytes);
            let _ = parse_sasl_response(&bytes);
            match parse_command_with(&bytes, options) {
                Ok(command) => {
                    assert!(!command.tag.as_str().is_empty());
                    if let CommandBody::Append { messages, .. } = &command.body {
                        for m in messages.iter() {
                            match &m.data {
                                AppendData::Literal { range, .. } => assert!(range.end <= bytes.len()),
                                AppendData::Catenate(parts) => {
                                    for p in parts.iter() {
                                        match p {
                                            CatPart::Text { range, .. } => assert!(range.end <= bytes.len()),
                                            CatPart::Url(url) => {
                                                let _ = parse_imap_url(url);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if command.body == CommandBody::Idle {
                        framer.expect_raw_line();
                    }
                }
                Err(e) => assert!(e.message.bytes().all(|b| (b' '..=b'~').contains(&b))),
            }
        }
    }
});
