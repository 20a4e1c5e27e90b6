//! The LLM stream readers: NDJSON and SSE framing, then Ollama's and
//! OpenAI's chunk readers on every payload. Split anywhere, the framing
//! gives the same payloads as the whole body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadprof::llm::stream::{Framer, ollama, openai};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = usize::from(cut) % (body.len() + 1);
    for sse in [false, true] {
        let new = || if sse { Framer::sse() } else { Framer::ndjson() };
        let (mut whole, mut all) = (new(), Vec::new());
        whole.push(body, &mut all);
        whole.finish(&mut all);
        let (mut split, mut parts) = (new(), Vec::new());
        split.push(&body[..cut], &mut parts);
        split.push(&body[cut..], &mut parts);
        split.finish(&mut parts);
        assert_eq!(all, parts);
        for p in &all {
            let _ = if sse { openai(p) } else { ollama(p) };
        }
    }
});
