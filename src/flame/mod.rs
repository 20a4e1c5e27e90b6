//! CPU (and Go heap) profiles of a target under load, with the profiler that
//! fits it: py-spy for Python, pprof over HTTP for Go (and Rust services that
//! mount [`endpoint`]), perf for native code. Every profile is folded into
//! [`Folded`] stacks and drawn with inferno ([`render`]). Engines here never
//! print; they return a [`Capture`] or a [`FlameError`] that names the fix.

pub mod detect;
pub mod endpoint;
pub mod folded;
pub(crate) mod http;
pub mod perf;
pub mod pprof;
pub mod process;
pub mod pyspy;
pub mod render;

use std::time::Duration;

pub use folded::Folded;

use crate::sample::Target;

use crate::cancel::StopToken;

/// The profilers loadprof drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profiler {
    PySpy,
    Pprof,
    Perf,
    /// Python heap profiles.
    Memray,
    /// Native heap profiles (jemalloc's own profiler).
    Jemalloc,
}

impl Profiler {
    pub fn name(self) -> &'static str {
        match self {
            Profiler::PySpy => "py-spy",
            Profiler::Pprof => "pprof",
            Profiler::Perf => "perf",
            Profiler::Memray => "memray",
            Profiler::Jemalloc => "jemalloc",
        }
    }
}

/// What to profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A running process.
    Pid(u32),
    /// A command loadprof starts, profiles and stops.
    Command(Vec<String>),
    /// A pprof endpoint (`http://…`) or a saved profile file.
    Pprof(String),
}

/// How perf walks stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CallGraph {
    /// Copies stack memory and unwinds with DWARF: full stacks for binaries
    /// built without frame pointers (most release builds), more data.
    Dwarf,
    /// Follows frame pointers: cheap, but stacks stop at the first function
    /// built without them.
    Fp,
}

/// A profile to take.
#[derive(Debug, Clone)]
pub struct CaptureSpec {
    pub source: Source,
    /// None: pick by the target ([`choose`]).
    pub profiler: Option<Profiler>,
    pub duration: Duration,
    /// Samples per second; None: the profiler's usual rate (py-spy 100,
    /// perf 99 so it does not beat with timers, Go's fixed 100).
    pub rate_hz: Option<u32>,
    /// A Go heap (in-use bytes) profile instead of CPU; pprof only.
    pub heap: bool,
    /// py-spy: sample without pausing the target (less overhead, some torn stacks).
    pub nonblocking: bool,
    /// py-spy: add native (C/C++/Rust extension) frames.
    pub native: bool,
    /// py-spy: follow child processes (gunicorn/uvicorn workers).
    pub subprocesses: bool,
    pub call_graph: CallGraph,
}

impl CaptureSpec {
    pub fn new(source: Source, duration: Duration) -> CaptureSpec {
        CaptureSpec {
            source,
            profiler: None,
            duration,
            rate_hz: None,
            heap: false,
            nonblocking: false,
            native: false,
            subprocesses: true,
            call_graph: CallGraph::Dwarf,
        }
    }
}

/// A profile that was taken (perhaps only in part).
#[derive(Debug, Clone)]
pub struct Capture {
    pub profiler: Profiler,
    pub folded: Folded,
    /// `cpu` or `heap`.
    pub kind: &'static str,
    /// What the stack weights count: `samples`, `nanoseconds` or `bytes`.
    pub unit: String,
    /// Number of stack samples behind the profile.
    pub samples: u64,
    /// How long the profiler ran.
    pub elapsed: Duration,
    /// The pid profiled, where there is one.
    pub pid: Option<u32>,
    /// Set when the profile covers less than asked, and why.
    pub partial: Option<String>,
    /// Things the user should know (a fallback taken, a torn stack).
    pub notes: Vec<String>,
}

impl Capture {
    /// A capture with no samples, and why.
    pub fn empty(profiler: Profiler, spec: &CaptureSpec, elapsed: Duration, why: &str) -> Capture {
        Capture {
            profiler,
            folded: Folded::new(),
            kind: if spec.heap { "heap" } else { "cpu" },
            unit: "samples".into(),
            samples: 0,
            elapsed,
            pid: match spec.source {
                Source::Pid(p) => Some(p),
                _ => None,
            },
            partial: Some(why.into()),
            notes: vec![],
        }
    }
}

/// Why a profile could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum FlameError {
    /// The user's input was wrong (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// The profiler is missing, not permitted, or failed (exit 3).
    #[error("{0}")]
    CannotProfile(String),
}

/// The profiler for a source when the user did not name one: pprof for a
/// pprof URL or file, py-spy for a Python process or command (or a process
/// with Python below it, such as a wrapper script), else perf.
pub fn choose(source: &Source) -> Profiler {
    match source {
        Source::Pprof(_) => Profiler::Pprof,
        Source::Pid(pid)
            if detect::pid_is_python(*pid) || process::descendants(*pid).into_iter().any(detect::pid_is_python) =>
        {
            Profiler::PySpy
        }
        Source::Command(argv) if detect::command_is_python(argv) => Profiler::PySpy,
        _ => Profiler::Perf,
    }
}

/// Takes the profile `spec` asks for. Returns early, keeping what was
/// recorded, when `stop` is triggered (Ctrl-C, SIGTERM, the session ending).
pub fn capture(spec: &CaptureSpec, stop: &StopToken) -> Result<Capture, FlameError> {
    let profiler = spec.profiler.unwrap_or_else(|| choose(&spec.source));
    if spec.heap && profiler != Profiler::Pprof {
        return Err(FlameError::BadInput(format!(
            "--heap reads a Go heap profile and needs --pprof URL; {} takes CPU profiles only",
            profiler.name()
        )));
    }
    match (profiler, &spec.source) {
        (Profiler::Pprof, Source::Pprof(url)) => pprof_capture(url, spec, stop),
        (Profiler::Pprof, _) => Err(FlameError::BadInput(
            "--profiler pprof reads a pprof endpoint: pass --pprof http://HOST:PORT/debug/pprof/profile".into(),
        )),
        (p, Source::Pprof(_)) => Err(FlameError::BadInput(format!(
            "--pprof gives a pprof endpoint or file; --profiler {} needs --pid PID or -- CMD",
            p.name()
        ))),
        (p, Source::Command(argv)) => capture_command(p, argv, spec, stop),
        (Profiler::PySpy, Source::Pid(_)) => pyspy::capture(spec, stop, false),
        (Profiler::Perf, Source::Pid(_)) => perf::capture(spec, stop),
        (Profiler::Memray | Profiler::Jemalloc, _) => Err(FlameError::BadInput(format!(
            "--profiler {} takes heap profiles: add --heap",
            profiler.name()
        ))),
    }
}

/// Starts `argv` in a process group of its own (its output on loadprof's
/// stderr, as stdout may carry JSON), profiles it by pid, and stops the
/// whole group afterwards. A command that fails on its own is said so, with
/// its exit status.
fn capture_command(
    profiler: Profiler,
    argv: &[String],
    spec: &CaptureSpec,
    stop: &StopToken,
) -> Result<Capture, FlameError> {
    let (result, ended) = if profiler == Profiler::Perf {
        // perf starts the command itself, so it follows every process the
        // command starts from the first instruction.
        perf::capture_command(argv, spec, stop)?
    } else {
        let mut target = Target::spawn_with(argv, std::io::stderr().into(), true)
            .map_err(|e| FlameError::CannotProfile(e.to_string()))?;
        let by_pid = CaptureSpec {
            source: Source::Pid(target.pid),
            ..spec.clone()
        };
        let result = pyspy::capture(&by_pid, stop, true);
        // Did it end on its own before loadprof stops it?
        let ended = target.try_exit();
        target.stop(&[], crate::sample::STOP_GRACE);
        (result, ended)
    };
    let Some(exit) = ended.filter(|e| e.code != Some(0)) else {
        return result;
    };
    let how = match (exit.code, exit.signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".into(),
    };
    let cmd = argv.join(" ");
    match result {
        Ok(c) if c.samples > 0 => Ok(Capture {
            partial: Some(format!(
                "'{cmd}' ended with {how} after {:.1}s; the profile covers only that time",
                c.elapsed.as_secs_f64()
            )),
            ..c
        }),
        Ok(_) => Err(FlameError::CannotProfile(format!(
            "'{cmd}' ended with {how} before it could be profiled (its output is above)"
        ))),
        Err(e) => Err(FlameError::CannotProfile(format!(
            "'{cmd}' ended with {how} (its output is above); {e}"
        ))),
    }
}

/// The endpoint to fetch for a pprof URL: a bare origin or `/debug/pprof/`
/// gets the profile (or heap) path, `--heap` turns `…/profile` into
/// `…/heap`, and a CPU profile gets `seconds=N` (and `hz=F` for `--rate`,
/// which loadprof's Rust endpoint honours) unless the URL sets them.
pub fn pprof_url(url: &str, heap: bool, seconds: u64, rate_hz: Option<u32>) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b.to_string(), Some(q.to_string())),
        None => (url.to_string(), None),
    };
    let after_scheme = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let leaf = if heap { "heap" } else { "profile" };
    let trimmed = base.trim_end_matches('/');
    let mut out = if path.is_empty() || path == "/" {
        format!("{trimmed}/debug/pprof/{leaf}")
    } else if path.trim_end_matches('/').ends_with("/debug/pprof") {
        format!("{trimmed}/{leaf}")
    } else if heap && trimmed.ends_with("/profile") {
        format!("{}heap", trimmed.strip_suffix("profile").unwrap_or(trimmed))
    } else {
        base.clone()
    };
    let mut params: Vec<String> = query
        .iter()
        .flat_map(|q| q.split('&'))
        .filter(|kv| !kv.is_empty())
        // `seconds` on a heap profile asks Go for the change over that
        // time, not what is in use.
        .filter(|kv| !(heap && kv.starts_with("seconds=")))
        .map(str::to_string)
        .collect();
    let has = |params: &[String], key: &str| params.iter().any(|kv| kv.split('=').next() == Some(key));
    if !heap && !has(&params, "seconds") {
        params.push(format!("seconds={seconds}"));
    }
    if !heap
        && let Some(hz) = rate_hz
        && !has(&params, "hz")
    {
        params.push(format!("hz={hz}"));
    }
    // Go's heap profile describes the heap as of the last collection;
    // gc=1 collects first, so recent allocations are counted.
    if heap && !has(&params, "gc") {
        params.push("gc=1".into());
    }
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// A pprof profile, decoded, and its name for messages: from `url` as
/// completed into `full` (fetched within `timeout`), or a saved file.
/// `Ok(None)`: the stop token fired before the server answered. A broken
/// file is bad input; a broken answer is a profile that cannot be taken.
pub fn read_pprof(
    url: &str,
    full: &str,
    timeout: Duration,
    stop: &StopToken,
) -> Result<Option<(::pprof::protos::Profile, String)>, FlameError> {
    let is_url = crate::http::is_url(url);
    let (bytes, shown) = if is_url {
        match http::get(full, timeout, stop)? {
            Some(bytes) => (bytes, crate::redact::url(full).into_owned()),
            None => return Ok(None),
        }
    } else {
        let bytes = crate::files::read_bounded(std::path::Path::new(url), crate::files::PPROF_LIMIT, "pprof profile")
            .map_err(|e| {
            FlameError::BadInput(format!("--pprof {e}; pass an http:// URL or a saved profile (.pb.gz)"))
        })?;
        (bytes, url.to_string())
    };
    let profile = pprof::decode(&bytes).map_err(|e| {
        let msg = format!("{shown}: {e}");
        if is_url {
            FlameError::CannotProfile(msg)
        } else {
            FlameError::BadInput(msg)
        }
    })?;
    Ok(Some((profile, shown)))
}

/// The `inuse_space` column of a heap profile, or the one pprof would
/// show, with a note saying so.
pub fn heap_column(
    profile: &::pprof::protos::Profile,
    shown: &str,
) -> Result<(pprof::ValueColumn, Vec<String>), FlameError> {
    let column = pprof::choose_column(profile, &["inuse_space"])
        .ok_or_else(|| FlameError::CannotProfile(format!("{shown}: the profile has no sample types")))?;
    let mut notes = Vec::new();
    if column.kind != "inuse_space" {
        notes.push(format!(
            "the profile has no inuse_space values (it has {}); weighed by {}",
            pprof::value_types(profile).join(", "),
            column.kind
        ));
    }
    Ok((column, notes))
}

fn pprof_capture(url: &str, spec: &CaptureSpec, stop: &StopToken) -> Result<Capture, FlameError> {
    let t0 = std::time::Instant::now();
    let seconds = spec.duration.as_secs_f64().ceil().max(1.0) as u64;
    let full = pprof_url(url, spec.heap, seconds, spec.rate_hz);
    // The server profiles for `seconds`, then symbolises.
    let Some((profile, shown)) = read_pprof(url, &full, Duration::from_secs(seconds + 60), stop)? else {
        return Ok(Capture::empty(
            Profiler::Pprof,
            spec,
            t0.elapsed(),
            "interrupted before the server sent the profile",
        ));
    };
    let (column, notes) = if spec.heap {
        heap_column(&profile, &shown)?
    } else {
        let column = pprof::choose_column(&profile, &["cpu", "samples"])
            .ok_or_else(|| FlameError::CannotProfile(format!("{shown}: the profile has no sample types")))?;
        (column, Vec::new())
    };
    let folded = pprof::fold(&profile, &column);
    let elapsed = if profile.duration_nanos > 0 {
        Duration::from_nanos(profile.duration_nanos as u64)
    } else {
        t0.elapsed()
    };
    Ok(Capture {
        profiler: Profiler::Pprof,
        samples: pprof::sample_count(&profile, &column),
        folded,
        kind: if spec.heap { "heap" } else { "cpu" },
        unit: column.unit,
        elapsed,
        pid: None,
        partial: None,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pprof_urls_are_completed() {
        let u = |url, heap| pprof_url(url, heap, 5, None);
        assert_eq!(
            u("http://127.0.0.1:6060", false),
            "http://127.0.0.1:6060/debug/pprof/profile?seconds=5"
        );
        assert_eq!(u("http://h:1/", true), "http://h:1/debug/pprof/heap?gc=1");
        assert_eq!(
            u("http://h:1/debug/pprof/", false),
            "http://h:1/debug/pprof/profile?seconds=5"
        );
        assert_eq!(
            u("http://h:1/debug/pprof/profile", true),
            "http://h:1/debug/pprof/heap?gc=1"
        );
        assert_eq!(
            u("http://h:1/debug/pprof/profile?seconds=2&hz=200", false),
            "http://h:1/debug/pprof/profile?seconds=2&hz=200"
        );
        assert_eq!(
            u("http://h:1/custom/cpu?x=1", false),
            "http://h:1/custom/cpu?x=1&seconds=5"
        );
        // A heap profile with seconds would be a delta over that time.
        assert_eq!(
            u("http://h:1/debug/pprof/profile?seconds=3", true),
            "http://h:1/debug/pprof/heap?gc=1"
        );
        assert_eq!(
            pprof_url("http://h:1", false, 2, Some(250)),
            "http://h:1/debug/pprof/profile?seconds=2&hz=250"
        );
    }

    #[test]
    fn heap_needs_pprof() {
        let mut spec = CaptureSpec::new(Source::Pid(std::process::id()), Duration::from_secs(1));
        spec.heap = true;
        spec.profiler = Some(Profiler::Perf);
        let e = capture(&spec, &StopToken::new()).unwrap_err();
        assert!(matches!(e, FlameError::BadInput(_)), "{e}");
    }

    #[test]
    fn a_pid_is_no_pprof_source() {
        let mut spec = CaptureSpec::new(Source::Pid(1), Duration::from_secs(1));
        spec.profiler = Some(Profiler::Pprof);
        assert!(matches!(
            capture(&spec, &StopToken::new()),
            Err(FlameError::BadInput(_))
        ));
        assert_eq!(choose(&Source::Pprof("x".into())), Profiler::Pprof);
        assert_eq!(choose(&Source::Command(vec!["sleep".into()])), Profiler::Perf);
    }
}
