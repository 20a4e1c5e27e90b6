//! A Go-compatible CPU profile endpoint for Rust services, built on the
//! pprof crate: mount [`handle`] in any hyper (or tokio-based) server and
//! `GET /debug/pprof/profile?seconds=N` answers with a gzip'd
//! `profile.proto`, readable by `loadprof flame --pprof` and `go tool pprof`.
//!
//! The profiler samples the whole process with SIGPROF (on-CPU time only)
//! and only one profile can run at a time: a second request gets 409.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use pprof::protos::Message;

/// Where the endpoint lives, as in Go's net/http/pprof.
pub const PROFILE_PATH: &str = "/debug/pprof/profile";
/// The default and the longest profile a request may ask for.
pub const DEFAULT_SECONDS: u64 = 30;
pub const MAX_SECONDS: u64 = 600;
/// Libraries whose code is not unwound from the signal handler (unwinding
/// inside them can deadlock).
const BLOCKLIST: &[&str] = &["libc", "libgcc", "pthread", "vdso"];

/// Answers `req` if it is for [`PROFILE_PATH`]; None for any other path, so
/// the service can route it as usual.
pub async fn handle<B>(req: &http::Request<B>) -> Option<Response<Full<Bytes>>> {
    if req.uri().path() != PROFILE_PATH {
        return None;
    }
    if req.method() != http::Method::GET {
        return Some(text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into()));
    }
    Some(profile(req.uri().query()).await)
}

/// The query's `seconds` and `hz`, or what is wrong with them.
pub fn parse_query(query: Option<&str>) -> Result<(u64, i32), String> {
    let (mut seconds, mut hz) = (DEFAULT_SECONDS, 100);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "seconds" => {
                seconds = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| format!("seconds={v}: give a whole number from 1 to {MAX_SECONDS}"))?
            }
            "hz" => {
                hz = v
                    .parse()
                    .ok()
                    .filter(|h| (1..=1000).contains(h))
                    .ok_or_else(|| format!("hz={v}: give a sampling rate from 1 to 1000"))?
            }
            _ => {}
        }
    }
    Ok((seconds, hz))
}

/// True for a frame of the profiler itself: the unwinder and the signal
/// handler that sit on top of every sampled stack.
fn is_profiler_frame(name: &str) -> bool {
    name.starts_with("backtrace::")
        || name.starts_with("pprof::")
        || name.starts_with("<pprof::")
        || name.contains("perf_signal_handler")
        || name == "__restore_rt"
}

/// Removes the profiler's own frames from the leaf end of a stack, so self
/// time lands on the function the signal interrupted.
fn drop_profiler_frames(frames: &mut pprof::Frames) {
    let ours = frames
        .frames
        .iter()
        .take_while(|f| !f.is_empty() && f.iter().all(|s| is_profiler_frame(&s.name())))
        .count();
    frames.frames.drain(..ours);
}

/// Profiles the process for the query's `seconds` at `hz` samples per
/// second and answers with the gzip'd profile.
pub async fn profile(query: Option<&str>) -> Response<Full<Bytes>> {
    let (seconds, hz) = match parse_query(query) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let guard = match pprof::ProfilerGuardBuilder::default()
        .frequency(hz)
        .blocklist(BLOCKLIST)
        .build()
    {
        Ok(g) => g,
        Err(e) => {
            return text(
                StatusCode::CONFLICT,
                format!("cannot start the CPU profiler ({e}); only one profile runs at a time\n"),
            );
        }
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    // Symbolising reads debug info: blocking work.
    let encoded = tokio::task::spawn_blocking(move || encode(&guard)).await;
    match encoded {
        Ok(Ok(body)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_DISPOSITION, "attachment; filename=\"profile\"")
            .header("x-content-type-options", "nosniff")
            .body(Full::new(Bytes::from(body)))
            .expect("static headers are valid"),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("profiler task failed: {e}\n"),
        ),
    }
}

fn encode(guard: &pprof::ProfilerGuard<'_>) -> Result<Vec<u8>, String> {
    let report = guard
        .report()
        .frames_post_processor(drop_profiler_frames)
        .build()
        .map_err(|e| format!("cannot build the report: {e}"))?;
    let profile = report.pprof().map_err(|e| format!("cannot encode the profile: {e}"))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&profile.encode_to_vec())
        .and_then(|()| gz.finish())
        .map_err(|e| format!("cannot compress the profile: {e}"))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profilers_own_frames_are_recognised() {
        for ours in [
            "backtrace::backtrace::libunwind::trace",
            "backtrace::backtrace::trace_unsynchronized",
            "<pprof::backtrace::backtrace_rs::Trace as pprof::backtrace::Trace>::trace",
            "pprof::profiler::perf_signal_handler",
            "__restore_rt",
        ] {
            assert!(is_profiler_frame(ours), "{ours}");
        }
        for theirs in ["loadprof::demo::demo_cpu_work", "core::iter::range::spec_next", "main"] {
            assert!(!is_profiler_frame(theirs), "{theirs}");
        }
    }

    #[test]
    fn query_defaults_and_limits() {
        assert_eq!(parse_query(None), Ok((DEFAULT_SECONDS, 100)));
        assert_eq!(parse_query(Some("seconds=3&hz=250&debug=1")), Ok((3, 250)));
        assert!(parse_query(Some("seconds=0")).unwrap_err().contains("seconds=0"));
        assert!(parse_query(Some("seconds=x")).is_err());
        assert!(parse_query(Some("hz=100000")).unwrap_err().contains("hz="));
    }
}
