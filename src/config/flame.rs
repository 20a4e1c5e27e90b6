//! The `[flame]` table of a profile: which profiler, where its window sits
//! in the run, and its options, validated with file:line: key errors.

use std::time::Duration;

use crate::flame::{CallGraph, CaptureSpec, Profiler, Source};

/// The default length of a profile.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

/// A validated `[flame]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FlamePlan {
    /// None: pick by the target.
    pub profiler: Option<Profiler>,
    /// The pprof endpoint (or, from the command line, a saved profile),
    /// for `profiler = "pprof"` or auto.
    pub pprof_url: Option<String>,
    /// When the profile starts, counted from the start of the load.
    pub start_after: Duration,
    pub duration: Duration,
    pub rate_hz: Option<u32>,
    pub heap: bool,
    pub nonblocking: bool,
    pub native: bool,
    pub subprocesses: bool,
    pub call_graph: CallGraph,
}

impl FlamePlan {
    /// What to capture: the pprof URL when there is one, else `target`.
    pub fn spec(&self, target: Source) -> CaptureSpec {
        let source = match &self.pprof_url {
            Some(url) => Source::Pprof(url.clone()),
            None => target,
        };
        let mut spec = CaptureSpec::new(source, self.duration);
        spec.profiler = self.profiler;
        spec.rate_hz = self.rate_hz;
        spec.heap = self.heap;
        spec.nonblocking = self.nonblocking;
        spec.native = self.native;
        spec.subprocesses = self.subprocesses;
        spec.call_graph = self.call_graph;
        spec
    }
}

/// The profiler a `profiler = "…"` value names: Some(None) for auto, None
/// for off.
pub fn parse_profiler(s: &str) -> Result<Option<Option<Profiler>>, String> {
    match s {
        "auto" => Ok(Some(None)),
        "off" => Ok(None),
        "py-spy" => Ok(Some(Some(Profiler::PySpy))),
        "pprof" => Ok(Some(Some(Profiler::Pprof))),
        "perf" => Ok(Some(Some(Profiler::Perf))),
        other => Err(format!(
            "'{other}' is not a profiler; use auto, py-spy, pprof, perf or off"
        )),
    }
}

pub fn parse_call_graph(s: &str) -> Result<CallGraph, String> {
    match s {
        "dwarf" => Ok(CallGraph::Dwarf),
        "fp" => Ok(CallGraph::Fp),
        other => Err(format!("'{other}' is not a call graph mode; use dwarf or fp")),
    }
}
