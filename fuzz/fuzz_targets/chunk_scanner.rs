//! The SSE and NDJSON chunk scanners of the load engine: any bytes, split
//! anywhere, count the same chunks as the whole body fed at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::load::stream::{ChunkScanner, StreamKind};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = usize::from(cut) % (body.len() + 1);
    for kind in [StreamKind::Sse, StreamKind::Ndjson] {
        let mut whole = ChunkScanner::new(kind);
        let all = whole.feed(body) + whole.finish();
        let mut split = ChunkScanner::new(kind);
        let parts = split.feed(&body[..cut]) + split.feed(&body[cut..]) + split.finish();
        assert_eq!(all, parts, "{kind:?} split at {cut}");
    }
});
