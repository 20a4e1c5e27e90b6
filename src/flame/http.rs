//! The pprof GET: what its failures mean for a profile, in words that name
//! the fix.

use std::time::Duration;

use super::FlameError;
use crate::cancel::StopToken;
use crate::http::{FetchError, get as fetch};

/// Fetches a profile from `url`. `Ok(None)`: the stop token fired first.
pub fn get(url: &str, timeout: Duration, stop: &StopToken) -> Result<Option<Vec<u8>>, FlameError> {
    let answer = fetch(url, super::pprof::COMPRESSED_LIMIT, timeout, stop).map_err(|e| match e {
        FetchError::BadUrl(m) => FlameError::BadInput(format!("--pprof {m}")),
        FetchError::Timeout { .. } => FlameError::CannotProfile(format!(
            "{e}; is the server overloaded, or is the endpoint not a pprof profile?"
        )),
        FetchError::Broken { url, reason } => FlameError::CannotProfile(format!(
            "{url}: the connection broke during the capture ({reason}); did the server exit?"
        )),
        e => FlameError::CannotProfile(e.to_string()),
    })?;
    let Some(answer) = answer else {
        return Ok(None);
    };
    let code = answer.status;
    let body = answer.body;
    if (200..300).contains(&code) {
        return Ok(Some(body));
    }
    let status = http::StatusCode::from_u16(code).map_or(code.to_string(), |s| s.to_string());
    let url = crate::redact::url(url);
    let url = url.as_ref();
    let path = url.split_once("://").map_or(url, |(_, r)| r);
    let text: String = String::from_utf8_lossy(&body).trim().chars().take(200).collect();
    // Go answers a second CPU profile with 500 "cpu profiling already in use".
    let busy = text.contains("already in use");
    Err(FlameError::CannotProfile(match code {
        404 if path.contains("/heap") => format!(
            "{url}: 404 Not Found; the server has no heap profile (Go serves one with net/http/pprof; \
             loadprof's Rust endpoint serves CPU profiles only)"
        ),
        404 => format!(
            "{url}: 404 Not Found; does the server import net/http/pprof (Go: `import _ \"net/http/pprof\"`) \
             or mount loadprof's pprof endpoint, and is this its address?"
        ),
        code if matches!(code, 409 | 429 | 503) || (code == 500 && busy) => format!(
            "{url}: {status}: another CPU profile is being taken on that server (only one runs at a time); \
             try again when it ends: {text}"
        ),
        _ => format!("{url}: {status}: {text}"),
    }))
}
