//! The `[target]`, `[sample]`, `[leak]` and `[baseline]` tables of a
//! profile, validated: what `run` starts or attaches to, how it samples,
//! how the leak verdict is judged and what a baseline comparison allows.

use std::time::Duration;

use super::GpuMode;
use crate::leak::Warmup;
use crate::sample::TargetSpec;

/// A validated `[target]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPlan {
    pub spec: TargetSpec,
    /// Wait for this URL to answer 2xx before the load starts.
    pub ready_url: Option<String>,
    pub ready_timeout: Duration,
    /// Sample the whole process tree.
    pub children: bool,
    /// How long a target loadprof started gets after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
}

pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// A validated `[sample]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePlan {
    pub interval: Duration,
    pub gpu: GpuMode,
    pub pss: bool,
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// A validated `[leak]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakPlan {
    pub warmup: Warmup,
    /// Keep sampling this long after the load stops.
    pub settle: Duration,
    /// Bytes per second below which growth is not a leak.
    pub max_growth: f64,
    /// Say when the trend would reach this many bytes.
    pub limit: Option<f64>,
    /// The shortest span after the warm-up a verdict is given on, seconds.
    pub min_window_s: f64,
}

pub const DEFAULT_SETTLE: Duration = Duration::from_secs(10);
/// 1 MiB per minute.
pub const DEFAULT_MAX_GROWTH: f64 = 1024.0 * 1024.0 / 60.0;

impl Default for LeakPlan {
    fn default() -> LeakPlan {
        LeakPlan {
            warmup: Warmup::Auto,
            settle: DEFAULT_SETTLE,
            max_growth: DEFAULT_MAX_GROWTH,
            limit: None,
            min_window_s: crate::leak::MIN_WINDOW_S,
        }
    }
}

/// The allowed regression against a baseline, in percent, by default.
pub const DEFAULT_MAX_REGRESSION_PCT: f64 = 10.0;

/// A validated `[llm]` table.
#[derive(Debug, Clone)]
pub struct LlmPlan {
    pub endpoint: String,
    pub api: crate::llm::Api,
    /// The environment variable holding the server's API key.
    pub api_key_env: Option<String>,
    pub bench: crate::llm::bench::BenchPlan,
    pub budgets: crate::llm::Budgets,
    pub server_pid: Option<u32>,
    pub timeout: Duration,
}
