//! The leak CSV reader and the leak analysis on whatever it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::leak::{LeakParams, analyze, series::parse_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((t, v)) = parse_csv(text, "rss_bytes") {
        assert_eq!(t.len(), v.len());
        assert!(t.windows(2).all(|w| w[0] < w[1]), "times increase");
        assert!(t.iter().chain(&v).all(|x| x.is_finite()));
        let _ = analyze(&t, &v, &LeakParams::default());
    }
});
