//! The `result.json` schema (`loadprof.result/v1`, DESIGN.md): serde types
//! and their construction from an engine's measurements. Sections an engine
//! did not run are left out.

use serde::Serialize;

use crate::host::Host;
use crate::sample::series::SeriesStats;
use crate::sample::{ExitInfo, GpuState, Outcome, Recording, ResourceSummary};

pub const SCHEMA: &str = "loadprof.result/v1";

#[derive(Debug, Serialize)]
pub struct ResultDoc {
    pub schema: &'static str,
    pub tool: Tool,
    pub run: Run,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::LoadSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak: Option<super::leak::LeakSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flame: Option<super::flame::FlameSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap: Option<super::heap::HeapSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<super::metrics::MetricsSection>,
    /// `loadprof capacity`'s search: what capacity.json holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<super::llm::LlmSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<Vec<crate::gate::SloResult>>,
    /// `Some(None)` is written as `null`: a run that had no baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Option<Baseline>>,
    pub passed: bool,
}

/// `baseline` in result.json.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Baseline {
    pub path: String,
    pub allowed_pct: f64,
    pub comparisons: Vec<crate::gate::Comparison>,
}

/// Where each phase of a `run` sat on its clock (seconds from the start,
/// the clock of samples.csv; timeline.csv counts from `load[0]`).
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
pub struct Windows {
    /// When the target answered its ready URL.
    pub ready_s: Option<f64>,
    pub load: Option<[f64; 2]>,
    pub flame: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap: Option<[f64; 2]>,
    pub end_s: f64,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Run {
    /// The profile's name; `null` for a command run without one.
    pub profile: Option<String>,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub outcome: Outcome,
    pub host: Host,
    /// Why a run `failed` or ended early, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Windows>,
}

/// Min, mean, max and last of a byte series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ByteStats {
    pub min: u64,
    pub mean: u64,
    pub max: u64,
    pub last: u64,
}

/// Min, mean, max and last of a count (threads, fds, processes) or a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub last: f64,
}

impl From<SeriesStats> for ByteStats {
    fn from(s: SeriesStats) -> ByteStats {
        ByteStats {
            min: s.min as u64,
            mean: s.mean.round() as u64,
            max: s.max as u64,
            last: s.last as u64,
        }
    }
}

impl From<SeriesStats> for Stats {
    fn from(s: SeriesStats) -> Stats {
        let r = |v: f64| (v * 100.0).round() / 100.0;
        Stats {
            min: r(s.min),
            mean: r(s.mean),
            max: r(s.max),
            last: r(s.last),
        }
    }
}

/// The process being sampled and how it ended.
#[derive(Debug, Serialize)]
pub struct TargetInfo {
    pub pid: u32,
    pub command: String,
    /// True when loadprof started the target itself.
    pub owned: bool,
    /// Exit code or signal of an owned target; `null` if it was not started
    /// by loadprof or is still running.
    pub exit: Option<ExitInfo>,
}

/// The `resources` section. Keys beyond DESIGN.md's (`fds`, `procs`,
/// `pss_bytes`, `uss_bytes`, timing quality, `target`, `gpu_error`) extend it.
#[derive(Debug, Serialize)]
pub struct Resources {
    pub pids: Vec<u32>,
    pub interval_ms: f64,
    pub samples: u64,
    pub target_exited: bool,
    pub gpu_available: bool,
    pub rss_bytes: Option<ByteStats>,
    pub vms_bytes: Option<ByteStats>,
    pub threads: Option<Stats>,
    pub cpu_percent: Option<Stats>,
    pub gpu_mem_bytes: Option<ByteStats>,
    pub fds: Option<Stats>,
    pub procs: Option<Stats>,
    pub pss_bytes: Option<ByteStats>,
    pub uss_bytes: Option<ByteStats>,
    /// Samples taken more than a tenth of an interval after their deadline.
    pub late_samples: u64,
    /// Deadlines skipped because sampling fell a whole interval behind.
    pub missed_samples: u64,
    /// Samples per second actually achieved.
    pub sample_rate_hz: Option<f64>,
    pub target: TargetInfo,
    /// Why GPU memory was not sampled, when it was not.
    pub gpu_error: Option<String>,
}

impl Resources {
    pub fn from_recording(rec: &Recording, owned: bool) -> Resources {
        let s: &ResourceSummary = &rec.summary;
        Resources {
            pids: rec.pids.clone(),
            interval_ms: rec.interval.as_secs_f64() * 1e3,
            samples: rec.samples,
            target_exited: rec.outcome == Outcome::TargetExited,
            gpu_available: rec.gpu == GpuState::Available,
            rss_bytes: s.rss_bytes.stats().map(Into::into),
            vms_bytes: s.vms_bytes.stats().map(Into::into),
            threads: s.threads.stats().map(Into::into),
            cpu_percent: s.cpu_percent.stats().map(Into::into),
            gpu_mem_bytes: s.gpu_mem_bytes.stats().map(Into::into),
            fds: s.fds.stats().map(Into::into),
            procs: s.procs.stats().map(Into::into),
            pss_bytes: s.pss_bytes.stats().map(Into::into),
            uss_bytes: s.uss_bytes.stats().map(Into::into),
            late_samples: rec.late_samples,
            missed_samples: rec.missed_samples,
            sample_rate_hz: rec.real_rate_hz().map(|r| (r * 1000.0).round() / 1000.0),
            target: TargetInfo {
                pid: rec.root_pid,
                command: rec.command.clone(),
                owned,
                exit: rec.target_exit,
            },
            gpu_error: match &rec.gpu {
                GpuState::Unavailable(reason) => Some(reason.clone()),
                _ => None,
            },
        }
    }
}

/// RFC 3339 local time with milliseconds, as in `run.started_at`.
pub fn timestamp(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

impl ResultDoc {
    /// The result of a `sample` run: the `run` and `resources` sections.
    pub fn from_recording(rec: &Recording, owned: bool) -> ResultDoc {
        let duration = rec.ended_at.duration_since(rec.started_at).unwrap_or_default();
        ResultDoc {
            schema: SCHEMA,
            tool: Tool::this(),
            run: Run {
                profile: None,
                started_at: timestamp(rec.started_at),
                ended_at: timestamp(rec.ended_at),
                duration_s: (duration.as_secs_f64() * 1000.0).round() / 1000.0,
                outcome: rec.outcome,
                host: Host::detect(),
                reason: None,
                windows: None,
            },
            load: None,
            resources: Some(Resources::from_recording(rec, owned)),
            leak: None,
            flame: None,
            heap: None,
            metrics: None,
            capacity: None,
            llm: None,
            slo: None,
            baseline: None,
            passed: true,
        }
    }

    /// The result of a `load` run: the `run` and `load` sections.
    pub fn from_load(rec: &crate::load::LoadRecording, profile: Option<String>) -> ResultDoc {
        ResultDoc {
            schema: SCHEMA,
            tool: Tool::this(),
            run: Run {
                profile,
                started_at: timestamp(rec.started_at),
                ended_at: timestamp(rec.ended_at),
                duration_s: (rec.duration.as_secs_f64() * 1000.0).round() / 1000.0,
                outcome: if rec.stop.is_some() {
                    Outcome::Interrupted
                } else {
                    Outcome::Completed
                },
                host: Host::detect(),
                reason: None,
                windows: None,
            },
            load: Some(super::load::LoadSection::from_recording(rec)),
            resources: None,
            leak: None,
            flame: None,
            heap: None,
            metrics: None,
            capacity: None,
            llm: None,
            slo: None,
            baseline: None,
            passed: true,
        }
    }
}
