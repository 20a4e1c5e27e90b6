//! The pprof decoder (gzip or not) and the folding of what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::flame::pprof::{choose_column, decode, fold, fold_with_lines, sample_count};

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = decode(data) else { return };
    if let Some(column) = choose_column(&profile, &["inuse_space"]) {
        let _ = fold_with_lines(&profile, &column).to_text();
    }
    for wanted in [&["cpu", "samples"][..], &["inuse_space"][..]] {
        if let Some(column) = choose_column(&profile, wanted) {
            let _ = sample_count(&profile, &column);
            let folded = fold(&profile, &column);
            let _ = folded.to_text();
        }
    }
});
