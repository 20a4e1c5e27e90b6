//! Heap profiles: which code holds the memory. A window opens
//! ([`start`]) and closes ([`Running::finish`]); what was allocated in it
//! and is still held at its end (retained), or everything held at its end
//! (in use), is folded into stacks weighed by bytes, and the sites holding
//! the most are named ([`sites`]). Python through memray, Go through
//! pprof's heap endpoint, native code through jemalloc's profiler. Nothing
//! here prints.

pub mod jemalloc;
pub mod memray;
pub mod sites;

use std::time::{Duration, Instant};

use crate::cancel::StopToken;
use crate::flame::{Capture, FlameError, Folded, Profiler, Source, detect};
use crate::sample::Target;
pub use sites::{Runtime, Site};

/// What a heap profile counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum HeapMode {
    /// Bytes allocated during the window and still held at its end.
    #[default]
    Retained,
    /// Everything held at the end of the window.
    Inuse,
}

impl HeapMode {
    pub fn name(self) -> &'static str {
        match self {
            HeapMode::Retained => "retained",
            HeapMode::Inuse => "inuse",
        }
    }
}

/// How many sites a profile names.
pub const SITES: usize = 10;

/// A heap profile to take.
#[derive(Debug, Clone)]
pub struct HeapSpec {
    pub source: Source,
    /// None: by the target ([`choose`]).
    pub profiler: Option<Profiler>,
    pub mode: HeapMode,
}

/// A heap profile that was taken (perhaps only in part).
#[derive(Debug, Clone)]
pub struct HeapProfile {
    /// Stacks weighed by bytes (`kind = "heap"`, `unit = "bytes"`).
    pub capture: Capture,
    pub mode: HeapMode,
    /// The places holding the most bytes, largest first.
    pub sites: Vec<Site>,
}

/// The heap profiler for a source: pprof for a pprof URL or file, memray
/// for Python, jemalloc for anything else.
pub fn choose(source: &Source) -> Profiler {
    match source {
        Source::Pprof(_) => Profiler::Pprof,
        Source::Pid(pid) if !memray::python_processes(*pid).is_empty() => Profiler::Memray,
        Source::Command(argv) if detect::command_is_python(argv) => Profiler::Memray,
        _ => Profiler::Jemalloc,
    }
}

/// Checks a profiler against a source and mode before anything starts.
pub fn check(spec: &HeapSpec) -> Result<Profiler, FlameError> {
    let profiler = spec.profiler.unwrap_or_else(|| choose(&spec.source));
    match (profiler, &spec.source) {
        (Profiler::PySpy | Profiler::Perf, _) => Err(FlameError::BadInput(format!(
            "--profiler {} takes CPU profiles; heap profiles use memray (Python), pprof (Go) or jemalloc (native)",
            profiler.name()
        ))),
        (Profiler::Pprof, Source::Pprof(_)) => Ok(profiler),
        (Profiler::Pprof, _) => Err(FlameError::BadInput(
            "--profiler pprof reads a heap endpoint: pass --pprof http://HOST:PORT/debug/pprof/heap".into(),
        )),
        (p, Source::Pprof(_)) => Err(FlameError::BadInput(format!(
            "--pprof gives a pprof endpoint or file; --profiler {} needs --pid PID or -- CMD",
            p.name()
        ))),
        (Profiler::Memray, _) if spec.mode == HeapMode::Inuse => Err(FlameError::BadInput(
            "--heap-mode inuse: memray sees only what is allocated after it attaches, so it gives retained \
             profiles only; drop --heap-mode, or use pprof (Go) or jemalloc (native) for in-use bytes"
                .into(),
        )),
        (p, _) => Ok(p),
    }
}

/// A heap window in progress.
pub struct Running {
    engine: Engine,
    profiler: Profiler,
    mode: HeapMode,
    pid: Option<u32>,
    started: Instant,
}

enum Engine {
    Memray(memray::Running),
    Pprof { url: String, before: Option<Folded> },
    Jemalloc(jemalloc::Running),
}

/// The window's start for a source already running (a pid or a pprof
/// endpoint). `fresh`: loadprof has just started the target.
pub fn start(spec: &HeapSpec, fresh: bool, stop: &StopToken) -> Result<Running, FlameError> {
    let profiler = check(spec)?;
    let (engine, pid) = match (&spec.source, profiler) {
        (Source::Pprof(url), _) => {
            // Read at the start in both modes, so an endpoint that serves
            // no heap profile fails before the window, not after it.
            let first = pprof_heap(url, stop)?.0;
            let before = (spec.mode == HeapMode::Retained).then_some(first);
            (
                Engine::Pprof {
                    url: url.clone(),
                    before,
                },
                None,
            )
        }
        (Source::Pid(pid), Profiler::Memray) => (Engine::Memray(memray::start(*pid, fresh, stop)?), Some(*pid)),
        (Source::Pid(pid), _) => {
            let dir = jemalloc::profile_dir(*pid)?;
            (Engine::Jemalloc(jemalloc::start(*pid, &dir)?), Some(*pid))
        }
        (Source::Command(_), _) => {
            return Err(FlameError::BadInput(
                "a command is started by `capture`, not `start`".into(),
            ));
        }
    };
    Ok(Running {
        engine,
        profiler,
        mode: spec.mode,
        pid,
        started: Instant::now(),
    })
}

/// A heap profile of a pprof endpoint or file, folded with source lines.
fn pprof_heap(url: &str, stop: &StopToken) -> Result<(Folded, Vec<String>), FlameError> {
    let full = crate::flame::pprof_url(url, true, 1, None);
    let Some((profile, shown)) = crate::flame::read_pprof(url, &full, Duration::from_secs(60), stop)? else {
        return Err(FlameError::CannotProfile(
            "interrupted while reading the heap profile".into(),
        ));
    };
    let (column, notes) = crate::flame::heap_column(&profile, &shown)?;
    Ok((crate::flame::pprof::fold_with_lines(&profile, &column), notes))
}

impl Running {
    /// Closes the window and folds what it held.
    pub fn finish(self, stop: &StopToken) -> Result<HeapProfile, FlameError> {
        let elapsed = self.started.elapsed();
        let (folded, runtime, mut notes, partial, samples) = match self.engine {
            Engine::Memray(m) => {
                let f = m.finish(stop)?;
                (f.folded, Runtime::Python, f.notes, f.partial, f.allocations)
            }
            Engine::Pprof { url, before } => {
                let (after, notes) = pprof_heap(&url, stop)?;
                let folded = match &before {
                    Some(b) => sites::growth(b, &after),
                    None => after,
                };
                let n = folded.len() as u64;
                (folded, Runtime::Go, notes, None, n)
            }
            Engine::Jemalloc(j) => {
                let w = j.finish(self.mode == HeapMode::Retained, stop)?;
                let folded = with_lines(&w.folded, &w.lines);
                let n = folded.len() as u64;
                (folded, Runtime::Native, w.notes, w.partial, n)
            }
        };
        if folded.is_empty() && partial.is_none() {
            notes.push(match self.mode {
                HeapMode::Retained => "nothing allocated in the window was still held at its end".into(),
                HeapMode::Inuse => "the profile holds no bytes in use".into(),
            });
        }
        let sites = sites::top_sites(&folded, runtime, SITES);
        Ok(HeapProfile {
            capture: Capture {
                profiler: self.profiler,
                folded,
                kind: "heap",
                unit: "bytes".into(),
                samples,
                elapsed,
                pid: self.pid,
                partial,
                notes,
            },
            mode: self.mode,
            sites,
        })
    }
}

/// Adds `(file:line)` to native frames jeprof could place.
fn with_lines(folded: &Folded, lines: &std::collections::HashMap<String, (String, u32, i64)>) -> Folded {
    if lines.is_empty() {
        return folded.clone();
    }
    Folded::from_pairs(folded.iter().map(|(stack, n)| {
        let frames: Vec<String> = stack
            .split(';')
            .map(|f| match lines.get(f) {
                Some((file, line, _)) => format!("{f} ({file}:{line})"),
                None => f.to_string(),
            })
            .collect();
        (frames.join(";"), n)
    }))
}

/// Takes a heap profile over `duration` (cut short by `stop`, or by the
/// target's exit). A command is started here, with jemalloc preloaded when
/// that is the profiler, and stopped afterwards.
pub fn capture(spec: &HeapSpec, duration: Duration, stop: &StopToken) -> Result<HeapProfile, FlameError> {
    let profiler = check(spec)?;
    let Source::Command(argv) = &spec.source else {
        let running = start(spec, false, stop)?;
        // A saved profile is one moment: there is no window to wait out.
        let saved = matches!(&spec.source, Source::Pprof(u) if !crate::http::is_url(u));
        let duration = if saved { Duration::ZERO } else { duration };
        return wait_and_finish(running, duration, None, stop);
    };
    let scratch = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let env = if profiler == Profiler::Jemalloc {
        jemalloc::environment(scratch.path(), std::env::var("LD_PRELOAD").ok().as_deref())?
    } else {
        Vec::new()
    };
    let mut target = Target::spawn_with_env(argv, std::io::stderr().into(), std::io::stderr().into(), &env)
        .map_err(|e| FlameError::CannotProfile(e.to_string()))?;
    let by_pid = HeapSpec {
        source: Source::Pid(target.pid),
        profiler: Some(profiler),
        mode: spec.mode,
    };
    let result = match profiler {
        Profiler::Jemalloc => jemalloc::start(target.pid, scratch.path()).map(|j| Running {
            engine: Engine::Jemalloc(j),
            profiler,
            mode: spec.mode,
            pid: Some(target.pid),
            started: Instant::now(),
        }),
        _ => start(&by_pid, true, stop),
    }
    .and_then(|running| wait_and_finish(running, duration, Some(&mut target), stop));
    target.stop(&[], crate::sample::STOP_GRACE);
    let cmd = argv.join(" ");
    result.map_err(|e| match e {
        FlameError::CannotProfile(m) => FlameError::CannotProfile(format!("'{cmd}': {m}")),
        e => e,
    })
}

/// Waits out the window (ending early on a stop or the target's exit),
/// then finishes it.
fn wait_and_finish(
    running: Running,
    duration: Duration,
    mut target: Option<&mut Target>,
    stop: &StopToken,
) -> Result<HeapProfile, FlameError> {
    let end = running.started + duration;
    while Instant::now() < end && stop.reason().is_none() {
        stop.wait_until((Instant::now() + Duration::from_millis(250)).min(end));
        let exited = match target.as_deref_mut() {
            Some(t) => t.try_exit().is_some(),
            None => running
                .pid
                .is_some_and(|p| !crate::sample::process::stat_once(p, |st| !st.is_dead()).unwrap_or(false)),
        };
        if exited {
            break;
        }
    }
    let interrupted = stop
        .reason()
        .map(|_| format!("interrupted after {:.1}s", running.started.elapsed().as_secs_f64()));
    let mut running = running;
    if let (Engine::Jemalloc(j), Some(t)) = (&mut running.engine, target)
        && t.try_exit().is_none()
    {
        // A program loadprof started is stopped at the window's end, so
        // that one that exits cleanly writes its final profile.
        t.stop(&[], crate::sample::STOP_GRACE);
        j.stopped = true;
    }
    // Finishing must run after a stop too: it detaches the profiler.
    let mut profile = running.finish(&StopToken::new())?;
    let partial = [profile.capture.partial.take(), interrupted]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    profile.capture.partial = (!partial.is_empty()).then(|| partial.join("; "));
    Ok(profile)
}
