//! The mbox splitter and the import wire form on any bytes: no panic; the messages do not depend
//! on how the input is cut into chunks; offsets run forward and cover the input; a batch that
//! decodes encodes back to the same bytes' meaning.
#![no_main]

use applianced::migrate::Batch;
use applianced::migrate::mbox::{Message, Splitter, from_line_date, header_date, take_store_headers};
use libfuzzer_sys::fuzz_target;

fn split(data: &[u8], chunk: usize) -> (Vec<Message>, u64) {
    let mut s = Splitter::new(0, 4096);
    for c in data.chunks(chunk.max(1)) {
        s.feed(c);
    }
    s.finish();
    (std::iter::from_fn(|| s.next_message()).collect(), s.junk)
}

fuzz_target!(|data: &[u8]| {
    let chunk = data.first().map_or(1, |&b| usize::from(b % 17) + 1);
    let (whole, junk) = split(data, data.len());
    let (pieces, _) = split(data, chunk);
    assert_eq!(whole, pieces);
    let mut at = junk;
    for m in &whole {
        assert_eq!(m.start, at);
        assert!(m.end > m.start && m.end as usize <= data.len());
        at = m.end;
        let _ = from_line_date(&m.from_line);
        let (rest, _) = take_store_headers(&m.data);
        assert!(rest.len() <= m.data.len());
        let _ = header_date(&rest);
    }
    if !whole.is_empty() {
        assert_eq!(at as usize, data.len());
    }
    if let Ok(b) = Batch::decode(data) {
        assert_eq!(Batch::decode(&b.encode()), Ok(b));
    }
});
