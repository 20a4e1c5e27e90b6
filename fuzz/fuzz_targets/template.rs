//! Request templates: compile any text in each escape mode and render it.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use loadprof::load::template::{Escape, TemplateContext};
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut vars = BTreeMap::new();
    vars.insert("users".to_string(), vec!["a\"b".to_string(), "c/d e".to_string()]);
    vars.insert("empty".to_string(), Vec::new());
    // Line files are looked up here; nothing is in it.
    let dir = std::env::temp_dir().join("loadprof-fuzz-template-empty");
    let mut ctx = TemplateContext::new(vars, &dir);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    // A journey's step: two captures in scope.
    let captured = ["token".to_string(), "id\"x".to_string()];
    for journey in [false, true] {
        if journey {
            ctx.set_captured(&captured[..1]);
        }
        for escape in [Escape::None, Escape::JsonString, Escape::Url] {
            if let Ok(t) = ctx.compile(text, escape) {
                let mut out = String::new();
                t.render(&mut rng, &captured, &mut out);
            }
        }
    }
});
