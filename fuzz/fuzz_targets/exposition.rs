//! What a target's `/metrics` endpoint sends: parsing never panics and the
//! limits hold whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::metrics::exposition::{Limits, bound, family_of, parse};

const LIMITS: Limits = Limits {
    max_bytes: 2048,
    max_series: 8,
    max_labels: 3,
    max_label_bytes: 16,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for content_type in [None, Some("application/openmetrics-text; version=1.0.0")] {
        let scrape = match parse(&text, content_type, &LIMITS) {
            Ok(scrape) => scrape,
            Err(e) => {
                assert!(e.line <= text.split('\n').count());
                assert_eq!(e.line == 0, text.len() > LIMITS.max_bytes);
                continue;
            }
        };
        assert!(text.len() <= LIMITS.max_bytes);
        assert!(scrape.samples.len() <= LIMITS.max_series);
        assert!(scrape.families.windows(2).all(|w| w[0].name < w[1].name));
        for sample in &scrape.samples {
            assert!(sample.name.len() <= LIMITS.max_label_bytes);
            assert!(sample.labels.len() <= LIMITS.max_labels);
            assert!(sample.labels.windows(2).all(|w| w[0].0 < w[1].0));
            for (name, value) in &sample.labels {
                assert!(name.len() <= LIMITS.max_label_bytes);
                assert!(value.len() <= LIMITS.max_label_bytes);
                let _ = bound(value);
            }
            let _ = family_of(&scrape, sample);
        }
    }
});
