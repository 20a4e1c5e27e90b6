//! What a Prometheus server answers to `query_range`, and what a scrape
//! sends into the series store: reading never panics, the cap on series
//! holds, and the store's figures stay consistent whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::metrics::exposition::{Limits, parse};
use loadprof::metrics::query::{MAX_SERIES, read_range};
use loadprof::metrics::store::Store;

fuzz_target!(|data: &[u8]| {
    if let Ok((series, total)) = read_range(200, data) {
        assert!(series.len() <= MAX_SERIES);
        assert!(series.len() <= total);
    }
    let text = String::from_utf8_lossy(data);
    let limits = Limits {
        max_bytes: 4096,
        max_series: 16,
        max_labels: 4,
        max_label_bytes: 32,
    };
    let Ok(scrape) = parse(&text, None, &limits) else {
        return;
    };
    let mut store = Store::new(4, Vec::new());
    store.open(0.0);
    for t in [1.0, 2.0, 2.0, 3.0] {
        store.add(t, &scrape, "h:1");
    }
    store.close(3.0);
    assert!(store.series().len() <= 4);
    for s in store.series() {
        assert!(s.window.count() <= 3, "one sample per timestamp");
        let _ = (s.window.increase(0.0, 3.0), s.window.rate(0.0, 3.0), s.window.mean());
    }
});
