//! Observers of a session: each watches a window of the load on the
//! session's one clock (a flame graph, a heap profile), on a thread of its
//! own. The session opens every window at its time and closes those that
//! last until the load ends; it knows nothing of what each one records.

use std::time::{Duration, Instant};

use crate::cancel::StopToken;
use crate::config::flame::FlamePlan;
use crate::config::heap::HeapPlan;
use crate::flame::{Capture, FlameError, Source};
use crate::heap::{HeapProfile, HeapSpec};

/// What an observer recorded.
pub enum Observation {
    Flame(Result<Capture, FlameError>),
    Heap(Result<HeapProfile, FlameError>),
}

/// One observer's window and what it recorded; the window is on the
/// session clock (seconds from its start).
pub struct Observed {
    pub window: (f64, f64),
    pub what: Observation,
}

/// A watcher of a window of the load.
pub trait Observer: Send {
    /// When the window opens, counted from the start of the load.
    fn start_after(&self) -> Duration;
    /// The window closes when the load ends (else the observer ends it).
    fn until_load_end(&self) -> bool;
    /// The observer runs inside the target (an in-process profiler whose
    /// buffers the target's memory holds while it runs).
    fn in_process(&self) -> bool {
        false
    }
    /// How long after its window opens the observer's own start-up still
    /// moves the target's memory (a profiler that attaches and allocates
    /// its tables inside the target): the leak verdict leaves it out.
    fn settles_after(&self) -> Option<Duration> {
        None
    }
    /// Variables the target must be started with (a preloaded profiler).
    fn target_env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Watches from the window's start until `end` fires (the load ended,
    /// or the session is stopping) or the observer is done.
    fn observe(self: Box<Self>, target: Option<u32>, end: &StopToken) -> Observation;
}

/// The flame graph of `[flame]`: its own length from its start.
pub struct FlameWindow(pub FlamePlan);

impl Observer for FlameWindow {
    fn start_after(&self) -> Duration {
        self.0.start_after
    }

    fn until_load_end(&self) -> bool {
        false
    }

    fn in_process(&self) -> bool {
        self.0.pprof_url.is_some()
    }

    fn observe(self: Box<Self>, target: Option<u32>, end: &StopToken) -> Observation {
        let spec = self.0.spec(Source::Pid(target.unwrap_or(0)));
        Observation::Flame(crate::flame::capture(&spec, end))
    }
}

/// The heap profile of `[heap]`: from its start to the end of the load
/// (or for its duration).
pub struct HeapWindow {
    pub plan: HeapPlan,
    /// When the window opens when the plan does not say.
    pub default_start: Duration,
    /// Where a started target's jemalloc writes its profiles, kept for the
    /// target's life.
    pub scratch: Option<tempfile::TempDir>,
    /// Why the profiler asked for cannot run here (found before the target
    /// starts, so the message names the cause rather than its effect).
    unavailable: Option<String>,
}

impl HeapWindow {
    /// The window for `plan`; `default_start` is the end of the leak warm-up.
    pub fn new(plan: HeapPlan, default_start: Duration) -> Result<HeapWindow, FlameError> {
        let jemalloc = plan.profiler == Some(crate::flame::Profiler::Jemalloc);
        let unavailable = jemalloc
            .then(crate::heap::jemalloc::unavailable)
            .flatten()
            .map(|e| e.to_string());
        let scratch = if jemalloc && unavailable.is_none() {
            Some(tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?)
        } else {
            None
        };
        Ok(HeapWindow {
            plan,
            default_start,
            scratch,
            unavailable,
        })
    }
}

/// How long memray's start inside a Python target moves its memory: it
/// allocates its tables when it attaches (several MiB, within a second).
const MEMRAY_SETTLE: Duration = Duration::from_secs(3);

impl Observer for HeapWindow {
    fn start_after(&self) -> Duration {
        self.plan.start_after.unwrap_or(self.default_start)
    }

    fn until_load_end(&self) -> bool {
        self.plan.duration.is_none()
    }

    fn settles_after(&self) -> Option<Duration> {
        // pprof and a preloaded jemalloc are in the target from its start.
        match self.plan.profiler {
            Some(crate::flame::Profiler::Pprof | crate::flame::Profiler::Jemalloc) => None,
            _ => Some(MEMRAY_SETTLE),
        }
    }

    fn target_env(&self) -> Vec<(String, String)> {
        match &self.scratch {
            Some(dir) => crate::heap::jemalloc::environment(dir.path(), std::env::var("LD_PRELOAD").ok().as_deref())
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn observe(self: Box<Self>, target: Option<u32>, end: &StopToken) -> Observation {
        if let Some(why) = self.unavailable {
            return Observation::Heap(Err(FlameError::CannotProfile(why)));
        }
        let source = match (&self.plan.pprof_url, target) {
            (Some(url), _) => Source::Pprof(url.clone()),
            (None, Some(pid)) => Source::Pid(pid),
            (None, None) => {
                return Observation::Heap(Err(FlameError::BadInput(
                    "[heap] needs a [target] to profile, or pprof_url".into(),
                )));
            }
        };
        let spec = HeapSpec {
            source,
            profiler: self.plan.profiler,
            mode: self.plan.mode,
        };
        let running = match crate::heap::start(&spec, false, end) {
            Ok(r) => r,
            Err(e) => return Observation::Heap(Err(e)),
        };
        let deadline = self.plan.duration.map(|d| Instant::now() + d);
        loop {
            let next = Instant::now() + Duration::from_millis(250);
            end.wait_until(deadline.map_or(next, |d| d.min(next)));
            if end.reason().is_some() || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        // Finishing must run after a stop too: it detaches the profiler.
        Observation::Heap(running.finish(&StopToken::new()))
    }
}
