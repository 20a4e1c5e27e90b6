//! What a journey reads from an answer: `Set-Cookie` values into a user's
//! jar and the `Cookie` header out of it, captures and poll conditions
//! from any body and headers. Errors and misses are fine; panics, and a
//! jar or a value past its bound, are not.
#![no_main]

use std::time::{Duration, SystemTime};

use http::HeaderName;
use libfuzzer_sys::fuzz_target;
use loadprof::load::journey::cookies::{CookieJar, MAX_COOKIE_BYTES, MAX_COOKIES};
use loadprof::load::journey::{Answer, Condition, MAX_CAPTURE_BYTES, Source, Test, holds, read};

fuzz_target!(|data: &[u8]| {
    // The first line: Set-Cookie values separated by `\x00`; the rest: the body.
    let (cookies, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut jar = CookieJar::default();
    for (i, c) in cookies.split(|&b| b == 0).enumerate() {
        jar.store(c, if i % 2 == 0 { "/" } else { "/api/v1/x?y" }, now);
    }
    let mut header = String::new();
    if jar.header("/api/v1/x", now, &mut header) {
        assert!(header.split("; ").count() <= MAX_COOKIES);
        assert!(header.len() <= MAX_COOKIES * (MAX_COOKIE_BYTES + 2));
    }
    let headers = vec![(HeaderName::from_static("x-token"), cookies.to_vec())];
    let sources = [
        Source::Json("/access_token".into()),
        Source::Json("/a/0/b~1c".into()),
        Source::Json(String::new()),
        Source::Regex(regex::Regex::new(r#"value="([^"]*)""#).unwrap(), 1),
        Source::Header(HeaderName::from_static("x-token")),
    ];
    let answer = Answer::new(body, &headers);
    for s in &sources {
        if let Ok(Some(v)) = read(s, &answer) {
            assert!(v.len() <= MAX_CAPTURE_BYTES);
        }
        for test in [Test::Exists, Test::Equals("done".into()), Test::In(vec![3.into(), "x".into()])] {
            let _ = holds(&Condition { source: s.clone(), test }, &answer);
        }
    }
});
