//! The process sampler: finds the target (pid, name, or a command it
//! starts), follows its process tree, and reads RSS, VMS, threads, CPU, fds
//! and GPU memory on absolute deadlines. Samples go to a [`SampleSink`];
//! this module never prints and never writes files itself.

pub mod gpu;
pub mod pacer;
pub mod process;
pub mod procfs;
pub mod series;
pub mod target;
pub mod tree;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::{StopReason, StopToken};
use crate::config::GpuMode;
use gpu::{Gpu, GpuUnavailable};
use pacer::Pacer;
use series::Series;
pub use target::{ExitInfo, Target, TargetError, TargetSpec};
pub use tree::{ProcRow, TreeSample};

/// PSS/USS are read at most this often: `smaps_rollup` walks the target's
/// page tables under its mmap lock (about 20 µs per MiB resident), stalling
/// the target's own allocations while it runs.
pub const PSS_EVERY: Duration = Duration::from_secs(5);

/// GPU memory is read at most this often; an NVML process query costs far
/// more than a `/proc` read.
pub const GPU_EVERY: Duration = Duration::from_millis(100);

/// How long an owned target gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Validated sampler settings.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    pub interval: Duration,
    /// `None`: until the target exits or a stop request.
    pub duration: Option<Duration>,
    pub children: bool,
    pub per_process: bool,
    pub pss: bool,
    pub gpu: GpuMode,
    /// How long a target loadprof started gets after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
}

/// Receives each sample as it is taken.
pub trait SampleSink {
    fn sample(&mut self, sample: &TreeSample, procs: &[ProcRow]) -> anyhow::Result<()>;
}

/// How a sampling run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Ran for the requested duration.
    Completed,
    /// Stopped early by Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
    /// The target process exited.
    TargetExited,
    /// The run could not be carried out (the target never became ready, the
    /// service was unreachable).
    Failed,
}

/// GPU sampling state, decided once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuState {
    Available,
    /// Not sampled, with the reason.
    Unavailable(String),
    /// Switched off by the user.
    Off,
}

/// Everything a finished run measured, aggregated.
#[derive(Debug, Clone)]
pub struct Recording {
    pub outcome: Outcome,
    pub stop_signal: Option<i32>,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// Time from the first sample to the last.
    pub span: Duration,
    pub interval: Duration,
    pub samples: u64,
    pub late_samples: u64,
    pub missed_samples: u64,
    pub root_pid: u32,
    pub command: String,
    pub pids: Vec<u32>,
    pub target_exit: Option<ExitInfo>,
    pub gpu: GpuState,
    pub summary: ResourceSummary,
}

impl Recording {
    /// Samples per second actually achieved between the first and last sample.
    pub fn real_rate_hz(&self) -> Option<f64> {
        (self.samples > 1 && !self.span.is_zero()).then(|| (self.samples - 1) as f64 / self.span.as_secs_f64())
    }
}

/// Min/mean/max/last of each sampled series.
#[derive(Debug, Clone, Default)]
pub struct ResourceSummary {
    pub rss_bytes: Series,
    pub vms_bytes: Series,
    pub threads: Series,
    pub cpu_percent: Series,
    pub fds: Series,
    pub procs: Series,
    pub gpu_mem_bytes: Series,
    pub pss_bytes: Series,
    pub uss_bytes: Series,
}

impl ResourceSummary {
    pub fn add(&mut self, s: &TreeSample) {
        self.rss_bytes.push(s.rss_bytes as f64);
        self.vms_bytes.push(s.vms_bytes as f64);
        self.threads.push(s.threads as f64);
        self.procs.push(s.procs as f64);
        self.cpu_percent.push_opt(s.cpu_percent);
        self.fds.push_opt(s.fds.map(|v| v as f64));
        self.gpu_mem_bytes.push_opt(s.gpu_mem_bytes.map(|v| v as f64));
        self.pss_bytes.push_opt(s.pss_bytes.map(|v| v as f64));
        self.uss_bytes.push_opt(s.uss_bytes.map(|v| v as f64));
    }
}

/// Decides GPU sampling once: `On` fails when NVML is unusable.
pub fn probe_gpu(mode: GpuMode) -> Result<(Option<Gpu>, GpuState), GpuUnavailable> {
    match mode {
        GpuMode::Off => Ok((None, GpuState::Off)),
        GpuMode::Auto => Ok(match Gpu::probe() {
            Ok(g) => (Some(g), GpuState::Available),
            Err(e) => (None, GpuState::Unavailable(e.0)),
        }),
        GpuMode::On => Gpu::probe().map(|g| (Some(g), GpuState::Available)),
    }
}

/// Samples `target`'s tree until the duration passes, the target exits, or
/// `stop` is tripped. Each sample goes to `sink` as it is taken; a sink
/// error ends the run with that error.
pub fn record(
    target: Target,
    cfg: &SamplerConfig,
    gpu: Option<Gpu>,
    gpu_state: GpuState,
    stop: &StopToken,
    sink: &mut dyn SampleSink,
) -> anyhow::Result<Recording> {
    record_from(Instant::now(), target, cfg, gpu, gpu_state, stop, sink)
}

/// [`record`] on a clock that started at `start`: each sample's `elapsed`
/// counts from it, so other engines of a run can share the timeline.
pub fn record_from(
    start: Instant,
    mut target: Target,
    cfg: &SamplerConfig,
    gpu: Option<Gpu>,
    gpu_state: GpuState,
    stop: &StopToken,
    sink: &mut dyn SampleSink,
) -> anyhow::Result<Recording> {
    let started_at = SystemTime::now() - start.elapsed();
    let mut tree = match tree::Tree::new(target.pid, cfg.children, target.is_owned()) {
        Ok(t) => t,
        Err(_) => {
            // The target exited before the first sample (a command that
            // finished at once, or a pid that just went away).
            let exit = target.stop(&[], cfg.stop_grace);
            return Ok(empty_recording(&target, cfg, started_at, exit, gpu_state));
        }
    };
    let mut pacer = Pacer::new(start, cfg.interval);
    let mut summary = ResourceSummary::default();
    let mut rows = Vec::new();
    let mut gpu_map: HashMap<u32, u64> = HashMap::new();
    let (mut last_gpu, mut last_pss): (Option<Instant>, Option<Instant>) = (None, None);
    let (mut samples, mut first_at, mut last_at) = (0u64, None, start);
    let mut gpu_state = gpu_state;
    let mut gpu = gpu;

    let outcome = loop {
        let deadline = pacer.deadline();
        if cfg.duration.is_some_and(|d| deadline.duration_since(start) > d) {
            break Outcome::Completed;
        }
        if stop.wait_until(deadline).is_some() {
            break Outcome::Interrupted;
        }
        let now = Instant::now();
        pacer.tick(now);

        let gpu_due = gpu.is_some() && last_gpu.is_none_or(|t| now.duration_since(t) >= GPU_EVERY);
        let mut gpu_read = false;
        if gpu_due {
            last_gpu = Some(now);
            match gpu.as_ref().map(|g| g.memory_by_pid(&mut gpu_map)) {
                Some(Ok(())) => gpu_read = true,
                Some(Err(e)) => {
                    // NVML failed mid-run (driver reset, GPU lost): stop
                    // asking and say why, instead of failing the run.
                    gpu = None;
                    gpu_state = GpuState::Unavailable(e.0);
                }
                None => {}
            }
        }
        let pss_due = cfg.pss && last_pss.is_none_or(|t| now.duration_since(t) >= PSS_EVERY);
        if pss_due {
            last_pss = Some(now);
        }
        let req = tree::TickRequest {
            per_process: cfg.per_process,
            pss: pss_due,
            gpu: gpu_read.then_some(&gpu_map),
        };
        let mut sample = tree.sample(now, req, &mut rows);
        if sample.procs > 0 {
            sample.elapsed = now.duration_since(start);
            summary.add(&sample);
            sink.sample(&sample, &rows)?;
            samples += 1;
            first_at.get_or_insert(now);
            last_at = now;
        }
        if !tree.root_alive() || target.try_exit().is_some() {
            break Outcome::TargetExited;
        }
    };

    let target_exit = match outcome {
        Outcome::TargetExited => target.try_exit().or_else(|| target.stop(&[], cfg.stop_grace)),
        _ => target.stop(&tree.live_pids(), cfg.stop_grace),
    };
    let stop_signal = match stop.reason() {
        Some(StopReason::Signal(s)) if outcome == Outcome::Interrupted => Some(s),
        _ => None,
    };
    Ok(Recording {
        outcome,
        stop_signal,
        started_at,
        ended_at: SystemTime::now(),
        span: first_at.map_or(Duration::ZERO, |f| last_at.duration_since(f)),
        interval: cfg.interval,
        samples,
        late_samples: pacer.late(),
        missed_samples: pacer.missed(),
        root_pid: target.pid,
        command: target.command.clone(),
        pids: tree.pids_seen(),
        target_exit,
        gpu: gpu_state,
        summary,
    })
}

fn empty_recording(
    target: &Target,
    cfg: &SamplerConfig,
    started_at: SystemTime,
    target_exit: Option<ExitInfo>,
    gpu: GpuState,
) -> Recording {
    Recording {
        outcome: Outcome::TargetExited,
        stop_signal: None,
        started_at,
        ended_at: SystemTime::now(),
        span: Duration::ZERO,
        interval: cfg.interval,
        samples: 0,
        late_samples: 0,
        missed_samples: 0,
        root_pid: target.pid,
        command: target.command.clone(),
        pids: Vec::new(),
        target_exit,
        gpu,
        summary: ResourceSummary::default(),
    }
}
