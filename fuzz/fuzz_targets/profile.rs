//! The profile reader: any TOML text with any `--set` overrides is read
//! and checked (every table, every plan); errors are fine, panics are not.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use loadprof::config::profile::LoadedProfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Lines after a `\0` line are `--set` overrides.
    let (profile, sets) = text.split_once("\n\0\n").unwrap_or((text, ""));
    let sets: Vec<String> = sets.lines().map(str::to_string).collect();
    if let Ok(p) = LoadedProfile::from_text(Path::new("fuzz.toml"), profile.to_string(), &sets) {
        let _ = p.load_spec((0, 1)).map(loadprof::config::load::build);
        let _ = p.endpoint_names();
    }
});
