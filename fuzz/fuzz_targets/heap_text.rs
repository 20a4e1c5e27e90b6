//! What heap profiles are read from: jeprof's collapsed stacks and text
//! report, and the sites and growth worked out of folded stacks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::flame::Folded;
use loadprof::heap::jemalloc::{parse_collapsed, parse_lines};
use loadprof::heap::sites::{Runtime, growth, top_sites};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_lines(&text);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = text.split_at(mid);
    let before = parse_collapsed(a).unwrap_or_default();
    let Ok(after) = parse_collapsed(b).or_else(|_| Folded::parse(&text)) else { return };
    let grown = growth(&before, &after);
    assert!(grown.total() <= after.total());
    for runtime in [Runtime::Python, Runtime::Go, Runtime::Native] {
        let sites = top_sites(&grown, runtime, 10);
        assert!(sites.len() <= 10);
        let sum: u64 = sites.iter().map(|s| s.bytes).sum();
        assert!(sum <= grown.total());
        for s in &sites {
            assert!((0.0..=1.0).contains(&s.share));
        }
    }
});
