//! Validated settings: what the command line (and later the profile) asks
//! for, turned into typed values before any engine sees them.

pub mod flame;
pub mod heap;
mod journeys;
pub mod load;
pub mod load_table;
pub mod metrics;
pub mod overrides;
pub mod plans;
pub mod profile;
pub mod scenarios;
pub mod units;

use std::path::PathBuf;

use crate::sample::{SamplerConfig, TargetSpec};

/// Whether to sample GPU memory (`--gpu`, `[sample] gpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuMode {
    /// Sample GPU memory if an NVIDIA driver is present; otherwise say why not and go on.
    #[default]
    Auto,
    /// Require GPU sampling; exit 3 at start if it is not available.
    On,
    /// Do not load NVML at all.
    Off,
}

/// Everything `loadprof sample` needs, validated.
#[derive(Debug, Clone)]
pub struct SampleCommand {
    pub target: TargetSpec,
    pub sampler: SamplerConfig,
    /// Where `samples.csv` goes; `samples-procs.csv` is written beside it.
    pub output: PathBuf,
    pub json: bool,
    /// Judge RSS for a leak at the end.
    pub leak: bool,
}

/// Everything `loadprof load` needs before its templates are compiled.
#[derive(Debug, Clone)]
pub struct LoadCommand {
    pub spec: load::LoadSpec,
    /// The URL or profile, for the summary.
    pub target: String,
    /// The profile's `name`, for `run.profile`.
    pub profile: Option<String>,
    /// Where result.json goes; timeline.csv is written beside it.
    pub output: PathBuf,
    pub json: bool,
    /// The instant every worker starts its schedule at (`--start-at`).
    pub start_at: Option<std::time::SystemTime>,
}
