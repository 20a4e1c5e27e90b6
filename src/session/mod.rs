//! `run`: one clock and one cancellation for a whole session. The target is
//! started (or found), the sampler runs on its own thread from the first
//! moment, the load starts once the target answers its ready URL, each
//! observer (a flame graph, a heap profile: [`observer`]) watches its
//! window of the load, sampling goes on for the settle phase, and the leak
//! verdict is judged on the same clock. A stop request or the target's exit
//! ends every phase at once, keeping what each one measured. Nothing here
//! prints; files are written only through the sinks the caller passes in.

pub mod observer;

use std::process::Stdio;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::{StopReason, StopToken};
use crate::config::plans::{LeakPlan, SamplePlan, TargetPlan};
use crate::leak::{LeakParams, LeakReport, Warmup};
use crate::load::{LoadConfig, LoadError, LoadRecording, TimelineRow};
use crate::sample::{
    self, GpuState, Outcome, ProcRow, Recording, SampleSink, SamplerConfig, Target, TargetError, TargetSpec, TreeSample,
};
use observer::{Clock, Closes, Observed, Observer, Watch};

/// Everything a session does, validated.
pub struct SessionPlan {
    pub target: Option<TargetPlan>,
    pub sample: SamplePlan,
    pub load: LoadConfig,
    /// What watches windows of the load, in the order their results come back.
    pub observers: Vec<Box<dyn Observer>>,
    pub leak: LeakPlan,
}

/// Where a started target's output goes.
pub enum TargetOutput {
    Inherit,
    File(std::fs::File),
}

/// Moments of a session the caller may want to tell a person about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The target was started (or found): its pid and command.
    Target { pid: u32, command: String, owned: bool },
    /// The ready URL answered 2xx after this long.
    Ready(Duration),
}

/// Where each phase sits on the session clock (seconds from its start,
/// which is the clock of `samples.csv`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Windows {
    pub ready_s: Option<f64>,
    pub load: Option<(f64, f64)>,
    pub end_s: f64,
}

/// Why a session could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The profile names something that does not exist (a pid, a pattern).
    #[error("{0}")]
    BadTarget(String),
    #[error("{0}")]
    CannotRun(String),
}

/// Everything a session measured, however it ended.
pub struct SessionResult<S> {
    pub outcome: Outcome,
    /// What went wrong, for `Outcome::Failed`.
    pub failure: Option<String>,
    pub stop: Option<StopReason>,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    pub windows: Windows,
    pub load: Option<LoadRecording>,
    pub resources: Option<Recording>,
    /// loadprof started the target.
    pub owned: bool,
    /// The RSS series the leak verdict was judged on.
    pub rss: (Vec<f64>, Vec<f64>),
    pub leak: Option<LeakReport>,
    /// What each observer recorded (None: its window never opened), in the
    /// order of the plan's observers.
    pub observed: Vec<Option<Observed>>,
    /// The sample sink, handed back once sampling has ended.
    pub samples: Option<S>,
    /// Things a person should know about how the session was judged.
    pub notes: Vec<String>,
}

/// Forwards samples to the caller's sink and keeps the RSS series.
pub struct Keep<S> {
    pub inner: S,
    pub t: Vec<f64>,
    pub rss: Vec<f64>,
}

impl<S: SampleSink> SampleSink for Keep<S> {
    fn sample(&mut self, s: &TreeSample, procs: &[ProcRow]) -> anyhow::Result<()> {
        self.t.push(s.elapsed.as_secs_f64());
        self.rss.push(s.rss_bytes as f64);
        self.inner.sample(s, procs)
    }
}

type SamplerOutput<S> = (anyhow::Result<Recording>, Keep<S>);

fn secs(t0: Instant, at: Instant) -> f64 {
    at.saturating_duration_since(t0).as_secs_f64()
}

fn start_target(plan: &TargetPlan, output: TargetOutput, env: &[(String, String)]) -> Result<Target, SessionError> {
    let bad = |e: TargetError| {
        if e.is_bad_input() {
            SessionError::BadTarget(e.to_string())
        } else {
            SessionError::CannotRun(e.to_string())
        }
    };
    match &plan.spec {
        TargetSpec::Command(argv) => {
            let (out, err) = match output {
                TargetOutput::Inherit => (Stdio::inherit(), Stdio::inherit()),
                TargetOutput::File(f) => {
                    let copy = f
                        .try_clone()
                        .map_err(|e| SessionError::CannotRun(format!("cannot share the target's log: {e}")))?;
                    (Stdio::from(f), Stdio::from(copy))
                }
            };
            Target::spawn_with_env(argv, out, err, env).map_err(bad)
        }
        spec => Target::find(spec)
            .map_err(bad)?
            .ok_or_else(|| SessionError::CannotRun("the target was not found".into())),
    }
}

/// A target started (or found) and sampled on a thread of its own from
/// that moment, on the session's clock: what `run` and `capacity` share.
pub struct Sampling<S> {
    pub pid: u32,
    pub command: String,
    /// loadprof started it.
    pub owned: bool,
    handle: JoinHandle<SamplerOutput<S>>,
}

impl<S: SampleSink + Send + 'static> Sampling<S> {
    /// Starts (or finds) the target with `env` and starts sampling it into
    /// `samples`. The sampling ends when `own` fires; the target's exit
    /// fires `session`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        tp: &TargetPlan,
        sample_plan: &SamplePlan,
        t0: Instant,
        output: TargetOutput,
        env: &[(String, String)],
        session: &StopToken,
        own: &StopToken,
        samples: S,
    ) -> Result<Sampling<S>, SessionError> {
        let (gpu, gpu_state) = sample::probe_gpu(sample_plan.gpu).map_err(|e| {
            SessionError::CannotRun(format!("[sample] gpu = \"on\": GPU memory cannot be sampled: {e}"))
        })?;
        let t = start_target(tp, output, env)?;
        let (pid, command, owned) = (t.pid, t.command.clone(), t.is_owned());
        let cfg = SamplerConfig {
            interval: sample_plan.interval,
            duration: None,
            children: tp.children,
            per_process: false,
            pss: sample_plan.pss,
            gpu: sample_plan.gpu,
            stop_grace: tp.stop_grace,
        };
        let (session, own) = (session.clone(), own.clone());
        let mut sink = Keep {
            inner: samples,
            t: Vec::new(),
            rss: Vec::new(),
        };
        let gpu_state: GpuState = gpu_state;
        let handle = std::thread::Builder::new()
            .name("loadprof-sampler".into())
            .spawn(move || {
                let rec = sample::record_from(t0, t, &cfg, gpu, gpu_state, &own, &mut sink);
                if rec.as_ref().is_ok_and(|r| r.outcome == Outcome::TargetExited) {
                    session.stop(StopReason::TargetExited);
                }
                (rec, sink)
            })
            .map_err(|e| SessionError::CannotRun(format!("cannot start the sampler: {e}")))?;
        Ok(Sampling {
            pid,
            command,
            owned,
            handle,
        })
    }

    /// Waits for the sampling to end (its `own` token must have fired) and
    /// hands back the recording and the sink; a stop by `own` alone is a
    /// completed recording, not an interrupted one.
    pub fn finish(self, session: &StopToken) -> Result<(Recording, Keep<S>), SessionError> {
        match self.handle.join() {
            Ok((rec, sink)) => {
                let mut rec = rec.map_err(|e| SessionError::CannotRun(format!("sampling failed: {e:#}")))?;
                if rec.outcome == Outcome::Interrupted && session.reason().is_none() {
                    rec.outcome = Outcome::Completed;
                }
                Ok((rec, sink))
            }
            Err(_) => Err(SessionError::CannotRun("the sampler thread panicked".into())),
        }
    }
}

/// Waits for the target's ready URL, if it has one: `Ok(Some(after))`
/// once it answers 2xx, `Ok(None)` without one or when `stop` fired.
pub fn wait_ready(tp: &TargetPlan, stop: &StopToken) -> Result<Option<Duration>, String> {
    let Some(url) = &tp.ready_url else {
        return Ok(None);
    };
    crate::http::wait_ready(url, tp.ready_timeout, stop).map_err(|e| {
        format!(
            "the target did not become ready: {e} (target.ready_url, ready_timeout = {})",
            crate::config::units::format_duration(tp.ready_timeout)
        )
    })
}

/// Runs the session. `samples` receives every sample (it runs on the
/// sampler's thread); `on_row` each second of load; `on_event` the moments
/// worth telling. Returns once every phase has ended and a target loadprof
/// started has been stopped.
pub fn run<S: SampleSink + Send + 'static>(
    plan: SessionPlan,
    stop: &StopToken,
    samples: S,
    target_output: TargetOutput,
    on_row: &mut (dyn FnMut(&TimelineRow) + Send),
    on_event: &mut dyn FnMut(Event),
) -> Result<SessionResult<S>, SessionError> {
    let SessionPlan {
        target,
        sample: sample_plan,
        load,
        observers,
        leak,
    } = plan;
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let mut windows = Windows::default();
    let mut failure = None;

    // The sampler starts with the target, so its start-up is on record too.
    let mut sampler: Option<Sampling<S>> = None;
    let sampler_stop = stop.linked();
    let mut target_pid = None;
    let mut owned = false;
    if let Some(tp) = &target {
        let env: Vec<(String, String)> = observers.iter().flat_map(|o| o.target_env()).collect();
        let sampling = Sampling::start(tp, &sample_plan, t0, target_output, &env, stop, &sampler_stop, samples)?;
        on_event(Event::Target {
            pid: sampling.pid,
            command: sampling.command.clone(),
            owned: sampling.owned,
        });
        target_pid = Some(sampling.pid);
        owned = sampling.owned;
        sampler = Some(sampling);
        match wait_ready(tp, stop) {
            Ok(Some(after)) => {
                windows.ready_s = Some(secs(t0, Instant::now()));
                on_event(Event::Ready(after));
            }
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }

    // Each observer's window: when it opened and closed, and what it saw.
    type Watched = JoinHandle<Option<Observed>>;
    let mut watches: Vec<Watched> = Vec::new();
    let in_process: Vec<bool> = observers.iter().map(|o| o.in_process()).collect();
    let settles: Vec<Option<Duration>> = observers.iter().map(|o| o.settles_after()).collect();
    let lingers = observers.iter().any(|o| o.closes() == Closes::SessionEnd);
    let clock = Arc::new(Clock::new(t0, started_at));
    // Closes the windows that last until the load ends.
    let load_over = stop.linked();
    // Closes the windows that last until the session ends.
    let settled = stop.linked();
    // Closes every window: the session failed before the load ended.
    let abandon = stop.linked();
    let mut load_rec = None;
    let mut unstarted = Some(observers);
    if failure.is_none() && stop.reason().is_none() {
        // Windows open from the start of the load, or before it.
        let load_t0 = Instant::now();
        for o in unstarted.take().unwrap_or_default() {
            let end = match o.closes() {
                Closes::Itself => abandon.linked(),
                Closes::LoadEnd => load_over.linked(),
                Closes::SessionEnd => settled.linked(),
            };
            let (opens, wait, clock) = (o.start_after().map(|d| load_t0 + d), abandon.clone(), clock.clone());
            let handle = std::thread::Builder::new()
                .name("loadprof-observer".into())
                .spawn(move || {
                    if let Some(at) = opens
                        && wait.wait_until(at).is_some()
                    {
                        return None;
                    }
                    if end.reason().is_some() {
                        return None;
                    }
                    let from = Instant::now();
                    let what = o.observe(&Watch {
                        target: target_pid,
                        end: &end,
                        clock: &clock,
                    });
                    Some(Observed {
                        window: (secs(t0, from), secs(t0, Instant::now())),
                        what,
                    })
                })
                .map_err(|e| SessionError::CannotRun(format!("cannot start an observer thread: {e}")))?;
            watches.push(handle);
        }
        clock.mark_load_start(load_t0);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| SessionError::CannotRun(format!("cannot start the async runtime: {e}")))?;
        let recorded = runtime.block_on(crate::load::run(load, stop, on_row));
        drop(runtime);
        let load_end = Instant::now();
        clock.mark_load_end(load_end);
        // Windows that last until the load ends close now; the others (a
        // flame graph of fixed length, the metrics) run on into the settle
        // phase.
        load_over.stop(StopReason::Finished);
        match recorded {
            Ok(r) => {
                // The engine's clock starts at its first request.
                let first = r
                    .started_at
                    .duration_since(started_at)
                    .map_or(secs(t0, load_t0), |d| d.as_secs_f64());
                windows.load = Some((first, secs(t0, load_end)));
                load_rec = Some(r);
            }
            Err(e @ (LoadError::Unreachable { .. } | LoadError::Resolve { .. })) => failure = Some(e.to_string()),
            Err(LoadError::Setup(e)) => failure = Some(e),
        }
        if failure.is_none() && stop.reason().is_none() && (sampler.is_some() || lingers) {
            stop.wait_until(Instant::now() + leak.settle);
        }
    }
    if failure.is_some() || load_rec.is_none() {
        abandon.stop(StopReason::Finished);
    }
    settled.stop(StopReason::Finished);
    let observed: Vec<Option<Observed>> = watches
        .into_iter()
        .map(|h| h.join().unwrap_or(None))
        .chain(unstarted.into_iter().flatten().map(|_| None))
        .collect();
    sampler_stop.stop(StopReason::Finished);
    let mut kept = None;
    let (resources, rss) = match sampler.map(|s| s.finish(stop)) {
        Some(Ok((rec, sink))) => {
            kept = Some(sink.inner);
            (Some(rec), (sink.t, sink.rss))
        }
        Some(Err(e)) => return Err(e),
        None => (None, (Vec::new(), Vec::new())),
    };
    windows.end_s = secs(t0, Instant::now());

    let mut notes = Vec::new();
    let leak_report = match (&resources, windows.load) {
        (Some(_), Some((_, load_end))) if !rss.0.is_empty() => {
            let mut warmup = leak.warmup;
            // An in-process profiler (pprof, memray, jemalloc) holds its
            // buffers in the target: a window that starts in the warm-up
            // would show them as growth, so the warm-up lasts until it is over.
            let w = match warmup {
                Warmup::Seconds(s) => s,
                Warmup::Auto => (load_end - rss.0[0]) / 3.0,
            };
            let overlapping = observed
                .iter()
                .zip(&in_process)
                .filter_map(|(o, &inside)| o.as_ref().filter(|_| inside).map(|o| o.window))
                .filter(|&(from, to)| from < w && to + 1.0 > w)
                .map(|(_, to)| to)
                .fold(None, |m: Option<f64>, to| Some(m.map_or(to, |m| m.max(to))));
            if let Some(to) = overlapping {
                warmup = Warmup::Seconds(to + 1.0);
                notes.push(format!(
                    "leak: the warm-up was extended to {:.1}s, past the window of an in-process profiler, to leave out its buffers",
                    to + 1.0
                ));
            }
            // A profiler that starts inside the target moves its memory
            // once, as it opens its window: the verdict starts after that.
            let settled = observed
                .iter()
                .zip(&settles)
                .filter_map(|(o, s)| Some(o.as_ref()?.window.0 + s.as_ref()?.as_secs_f64()))
                .filter(|&at| at > w && at < load_end)
                .fold(None, |m: Option<f64>, at| Some(m.map_or(at, |m| m.max(at))));
            if let (Some(at), None) = (settled, overlapping) {
                warmup = Warmup::Seconds(at);
                notes.push(format!(
                    "leak: the warm-up was extended to {at:.1}s, {}s after the heap profiler attached, to leave out its own tables",
                    settles.iter().flatten().map(Duration::as_secs).max().unwrap_or(0)
                ));
            }
            let params = LeakParams {
                warmup,
                settle_from: Some(load_end),
                max_growth: leak.max_growth,
                limit: leak.limit,
                min_window_s: leak.min_window_s,
                ..LeakParams::default()
            };
            Some(crate::leak::analyze(&rss.0, &rss.1, &params))
        }
        _ => None,
    };
    let stopped = stop.reason();
    let outcome = match (stopped, &failure) {
        (Some(StopReason::Signal(_)), _) => Outcome::Interrupted,
        (Some(StopReason::TargetExited), _) => Outcome::TargetExited,
        (_, Some(_)) => Outcome::Failed,
        _ => Outcome::Completed,
    };
    Ok(SessionResult {
        outcome,
        failure,
        stop: stopped,
        started_at,
        ended_at: SystemTime::now(),
        windows,
        load: load_rec,
        resources,
        owned,
        rss,
        leak: leak_report,
        observed,
        samples: kept,
        notes,
    })
}
