//! Observers of a session: each watches a window of the run on the
//! session's one clock (a flame graph, a heap profile, the target's
//! metrics), on a thread of its own. The session opens every window at its
//! time and closes it when the load or the session ends, as the observer
//! asks; it knows nothing of what each one records.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::StopToken;
use crate::config::flame::FlamePlan;
use crate::config::heap::HeapPlan;
use crate::flame::{Capture, FlameError, Source};
use crate::heap::{HeapProfile, HeapSpec};

/// What an observer recorded.
pub enum Observation {
    Flame(Result<Capture, FlameError>),
    Heap(Result<HeapProfile, FlameError>),
    Metrics(Box<crate::metrics::scraper::Recording>),
}

/// The session's clock: its start, and when the load started and ended
/// (set once each, as they happen).
#[derive(Debug)]
pub struct Clock {
    pub t0: Instant,
    pub started_at: SystemTime,
    load_start: OnceLock<Instant>,
    load_end: OnceLock<Instant>,
}

impl Clock {
    pub fn new(t0: Instant, started_at: SystemTime) -> Clock {
        Clock {
            t0,
            started_at,
            load_start: OnceLock::new(),
            load_end: OnceLock::new(),
        }
    }

    /// Seconds from the session's start.
    pub fn secs(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.t0).as_secs_f64()
    }

    pub fn load_started(&self) -> Option<Instant> {
        self.load_start.get().copied()
    }

    pub fn load_ended(&self) -> Option<Instant> {
        self.load_end.get().copied()
    }

    pub(crate) fn mark_load_start(&self, at: Instant) {
        let _ = self.load_start.set(at);
    }

    pub(crate) fn mark_load_end(&self, at: Instant) {
        let _ = self.load_end.set(at);
    }
}

/// When a window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closes {
    /// When the observer is done (a window of fixed length).
    Itself,
    /// When the load ends.
    LoadEnd,
    /// When the session ends, after the settle phase.
    SessionEnd,
}

/// What an observer watches with.
pub struct Watch<'a> {
    /// The target's pid, when there is a target.
    pub target: Option<u32>,
    /// Fires when the window closes (or the session is stopping).
    pub end: &'a StopToken,
    pub clock: &'a Clock,
}

/// One observer's window and what it recorded; the window is on the
/// session clock (seconds from its start).
pub struct Observed {
    pub window: (f64, f64),
    pub what: Observation,
}

/// A watcher of a window of the load.
pub trait Observer: Send {
    /// When the window opens, counted from the start of the load; None:
    /// before the load starts (once the target is ready).
    fn start_after(&self) -> Option<Duration>;
    /// When the window closes.
    fn closes(&self) -> Closes;
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
    /// Watches from the window's start until `watch.end` fires (the window
    /// closed, or the session is stopping) or the observer is done.
    fn observe(self: Box<Self>, watch: &Watch) -> Observation;
}

/// The flame graph of `[flame]`: its own length from its start.
pub struct FlameWindow(pub FlamePlan);

impl Observer for FlameWindow {
    fn start_after(&self) -> Option<Duration> {
        Some(self.0.start_after)
    }

    fn closes(&self) -> Closes {
        Closes::Itself
    }

    fn in_process(&self) -> bool {
        self.0.pprof_url.is_some()
    }

    fn observe(self: Box<Self>, watch: &Watch) -> Observation {
        let spec = self.0.spec(Source::Pid(watch.target.unwrap_or(0)));
        Observation::Flame(crate::flame::capture(&spec, watch.end))
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
    fn start_after(&self) -> Option<Duration> {
        Some(self.plan.start_after.unwrap_or(self.default_start))
    }

    fn closes(&self) -> Closes {
        match self.plan.duration {
            None => Closes::LoadEnd,
            Some(_) => Closes::Itself,
        }
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

    fn observe(self: Box<Self>, watch: &Watch) -> Observation {
        let (target, end) = (watch.target, watch.end);
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

/// The target's metrics of `[metrics]`: scraped from before the load until
/// the session ends, judged over the load after its warm-up.
pub struct MetricsWindow {
    pub plan: crate::config::metrics::MetricsPlan,
    /// The series the SLOs name, kept whole for their charts.
    pub watch: Vec<crate::metrics::selector::Selector>,
    pub warmup: Duration,
    pub sink: Box<dyn crate::metrics::scraper::Sink>,
}

impl Observer for MetricsWindow {
    fn start_after(&self) -> Option<Duration> {
        None
    }

    fn closes(&self) -> Closes {
        Closes::SessionEnd
    }

    fn observe(mut self: Box<Self>, watch: &Watch) -> Observation {
        let watched = std::mem::take(&mut self.watch);
        let rec = crate::metrics::scraper::run(
            &self.plan,
            watched,
            self.warmup,
            watch.clock,
            watch.end,
            self.sink.as_mut(),
        );
        Observation::Metrics(Box::new(rec))
    }
}
