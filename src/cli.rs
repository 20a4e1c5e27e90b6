//! Command-line definitions (clap derive). Each `*Args` struct turns into a
//! validated config at once, so engines never parse strings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::config::load::{
    At, BodySource, DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_IN_FLIGHT, DEFAULT_STREAM_TIMEOUT, DEFAULT_TIMEOUT, LoadSpec,
    ModelSpec, RequestSpec, parse_status_list,
};
use crate::config::profile::LoadedProfile;
use crate::config::units::parse_duration;
use crate::config::{GpuMode, LoadCommand, SampleCommand};
use crate::flame::CallGraph;
use crate::leak::Warmup;
use crate::load::plan::Stage;
use crate::load::stream::StreamKind;
use crate::sample::{SamplerConfig, TargetSpec};

#[derive(Debug, Parser)]
#[command(
    name = "loadprof",
    version,
    about = "Load a service while sampling its processes: RSS, CPU, threads, fds, GPU memory.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a profile: start or attach the target, sample it, drive the load, take a flame graph, judge leak, SLOs and a baseline, and write the output folder.
    #[command(
        after_help = "Examples:\n  loadprof run profiles/rag-smoke.toml\n  loadprof run profiles/nightly-leak.toml --baseline last/result.json --out out/nightly\n  loadprof run profiles/api-baseline-50qps.toml --set load.rate=20 --set load.duration=30s\n\nWrites result.json, samples.csv, timeline.csv, flame.folded, flame.svg, report.html, summary.md, junit.xml (and target.log for a started target).\nExit codes: 0 every gate passed, 1 a gate failed, 2 bad input, 3 the run could not be carried out (the target exited or never became ready), 130 interrupted (what was measured is written)."
    )]
    Run(RunArgs),
    /// Run the built-in demo: loadprof's own demo service under load, sampled, profiled and judged, with a full report.
    #[command(
        after_help = "Examples:\n  loadprof demo\n  loadprof demo --leak          # the service keeps 64 KiB per request: the leak verdict fails (exit 1)\n  loadprof demo --duration 60s --out out/demo"
    )]
    Demo(DemoArgs),
    /// Benchmark local LLMs (Ollama, or OpenAI-compatible servers): load time, TTFT, decode tokens/s, memory, quality, and which size to run.
    #[command(
        after_help = "Examples:\n  loadprof llm --model llama3.2:1b --model llama3.2:3b --model llama3.1:8b\n  loadprof llm --model qwen2.5:7b --use coding --concurrency 1,4 --checks my-checks.jsonl\n  loadprof llm --api openai --endpoint http://127.0.0.1:8000 --model m-200m --json\n\nExit codes: 0 a model fits the use, 1 nothing fits, 2 bad input (an unknown model: the server's models are listed), 3 the server cannot be reached, 130 interrupted."
    )]
    Llm(Box<LlmArgs>),
    /// Render a stored result.json again (HTML, Markdown, JUnit), or chart many of them as a trend.
    #[command(
        group(ArgGroup::new("what").required(true).args(["result", "trend"])),
        after_help = "Examples:\n  loadprof report out/run/result.json --html report.html\n  loadprof report out/run/result.json --markdown - >> \"$GITHUB_STEP_SUMMARY\"\n  loadprof report --trend out/*/result.json --html trend.html"
    )]
    Report(ReportArgs),
    /// Sample a process tree's RSS, VMS, threads, CPU, fds and GPU memory into samples.csv.
    #[command(
        group(ArgGroup::new("target").required(true).args(["pid", "name", "command"])),
        after_help = "Examples:\n  loadprof sample --pid 4242 --duration 5m\n  loadprof sample --name 'uvicorn app:app' -o rss.csv\n  loadprof sample --interval 10ms -- python3 train.py"
    )]
    Sample(SampleArgs),
    /// Drive HTTP load at a URL (or a profile's [load] tables) and report latency, errors and time to first chunk.
    #[command(
        group(ArgGroup::new("what").required(true).args(["url", "profile"])),
        after_help = "Examples:\n  loadprof load http://127.0.0.1:8080/ -c 50 -d 30s\n  loadprof load http://127.0.0.1:8080/ --rate 200 -d 1m\n  loadprof load http://127.0.0.1:8000/v1/chat --json-body '{\"q\":\"hi\"}' --stream sse -c 8 -d 2m\n  loadprof load --profile profiles/rag.toml -o out/rag/result.json"
    )]
    Load(Box<LoadArgs>),
    /// Find the highest arrival rate at which the service still meets its SLOs.
    #[command(
        after_help = "Examples:\n  loadprof capacity http://127.0.0.1:8080/search --slo 'all.p95=< 300ms' --slo 'all.error_rate=< 1%'\n  loadprof capacity profiles/api-breaking-point.toml --max-time 5m\n\nExit codes: 0 a capacity was found, 1 even the first probe failed (or the capacity is below --require-rate), 2 bad input, 3 the service could not be reached, 130 interrupted."
    )]
    Capacity(Box<CapacityArgs>),
    /// Judge whether memory grows without bound in a samples CSV: leak, no_leak or inconclusive.
    #[command(
        after_help = "Examples:\n  loadprof leak out/sample-20261122-101500/samples.csv\n  loadprof leak samples.csv --settle-from 600 --limit 2GB --plot leak.svg\n  loadprof leak trace.csv --metric heap_bytes --warmup 45s --json\n\nExit codes: 0 no_leak or inconclusive, 1 leak, 2 bad input."
    )]
    Leak(LeakArgs),
    /// Merge result.json files from several load workers: histograms are added exactly and every percentile recomputed.
    Merge(MergeArgs),
    /// Take a CPU (or Go heap) flame graph of a process: py-spy for Python, pprof over HTTP, perf for native code.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        group(ArgGroup::new("target").required(true).args(["pid", "pprof", "command"])),
        after_help = "Examples:\n  loadprof flame --pid 4242 --duration 20s\n  loadprof flame --pprof http://127.0.0.1:6060 -o go-cpu.svg\n  loadprof flame --pprof http://127.0.0.1:6060 --heap -o heap.svg\n  loadprof flame -- gunicorn -w 2 app:app\n  loadprof flame diff before.folded after.folded --normalize -o diff.svg\n\nExit codes: 0 profile written, 2 bad input, 3 the profile could not be taken, 130 interrupted (what was recorded is written)."
    )]
    Flame(Box<FlameArgs>),
    /// Judge a stored result.json again: its SLOs (and --slo), and against a baseline result.
    #[command(
        after_help = "Examples:\n  loadprof gate out/run/result.json --baseline last-night/result.json\n  loadprof gate result.json --slo 'all.p95=< 300ms' --slo 'all.error_rate=< 1%'\n\nExit codes: 0 every check passed, 1 one failed, 2 bad input."
    )]
    Gate(GateArgs),
    /// Check a profile without running it: every table, key and SLO, with file:line errors.
    #[command(
        after_help = "Exit codes: 0 the profile is valid, 2 it is not (the message names the file, line and key)."
    )]
    Validate(ValidateArgs),
    /// Serve the built-in demo target (what `loadprof demo` starts and loads).
    #[command(hide = true)]
    DemoTarget(DemoTargetArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The profile (TOML).
    #[arg(value_name = "PROFILE.toml")]
    pub profile: PathBuf,

    /// The output folder [default: out/<name>-<YYYYmmdd-HHMMSS>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Compare with this earlier result: each endpoint's p95, rps, peak RSS and leak slope.
    #[arg(long, value_name = "RESULT.json")]
    pub baseline: Option<PathBuf>,

    /// Override a profile key, e.g. load.users=10, 'target.command=["python3", "app.py"]'; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Append one JSON line per breached SLO to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub alerts: Option<PathBuf>,

    /// Print result.json on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub worker: WorkerArgs,

    #[command(flatten)]
    pub watch: WatchArgs,
}

/// This process's share of a load that several run side by side.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// This process's index among --worker-count load workers, from 0 [default:
    /// $JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it, else 0].
    #[arg(long, value_name = "I")]
    pub worker_index: Option<u32>,

    /// Number of load workers sharing the rate and users; combine their results with `loadprof merge`.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub worker_count: u32,

    /// Start the schedule at this instant, the same on every worker: RFC 3339
    /// (2026-12-08T10:00:00Z) or +DURATION from now (+30s). Constant arrivals then
    /// interleave across workers; a worker that starts late joins the schedule where it
    /// is, skipping what it missed, and records how late it was.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,

    /// How late past --start-at this process may still join the schedule (at most 1h).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_start_skew)]
    pub max_start_skew: Duration,
}

/// How late a worker may start (`--max-start-skew`): at most an hour.
fn parse_start_skew(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    if d > Duration::from_secs(3600) {
        return Err(format!("'{s}': at most 1h"));
    }
    Ok(d)
}

/// The furthest ahead --start-at may be.
const MAX_START_AHEAD: Duration = Duration::from_secs(24 * 3600);

impl WorkerArgs {
    /// (index, count) and the agreed start, checked; `now` resolves `+30s`
    /// and judges whether the instant has passed for good.
    pub fn resolve(&self, now: std::time::SystemTime) -> Result<((u32, u32), Option<std::time::SystemTime>), String> {
        let index = match self.worker_index {
            Some(i) => i,
            None => match std::env::var("JOB_COMPLETION_INDEX") {
                Ok(v) if !v.trim().is_empty() => v.trim().parse::<u32>().map_err(|_| {
                    format!("$JOB_COMPLETION_INDEX '{v}' is not a worker index (0, 1, 2, ...); give --worker-index")
                })?,
                _ => 0,
            },
        };
        if self.worker_count == 0 || index >= self.worker_count {
            return Err(format!(
                "--worker-index {index} --worker-count {}: the index must be below the count (0 to count-1)",
                self.worker_count
            ));
        }
        let Some(text) = self.start_at.as_deref().map(str::trim) else {
            return Ok(((index, self.worker_count), None));
        };
        let at = if let Some(rel) = text.strip_prefix('+') {
            let d = parse_duration(rel).map_err(|e| format!("--start-at {text}: {e}"))?;
            now + d
        } else {
            let t = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                format!("--start-at {text}: not an RFC 3339 time ({e}); e.g. 2026-12-08T10:00:00Z, or +30s from now")
            })?;
            std::time::SystemTime::from(t.with_timezone(&chrono::Utc))
        };
        match at.duration_since(now) {
            Ok(ahead) if ahead > MAX_START_AHEAD => {
                Err(format!("--start-at {text}: more than 24h ahead; give a nearer time"))
            }
            Ok(_) => Ok(((index, self.worker_count), Some(at))),
            Err(past) if past.duration() > self.max_start_skew => Err(format!(
                "--start-at {text}: that was {} ago, more than --max-start-skew {}; give a later time",
                crate::config::units::format_duration(past.duration()),
                crate::config::units::format_duration(self.max_start_skew)
            )),
            Err(_) => Ok(((index, self.worker_count), Some(at))),
        }
    }
}

/// Who else hears about a run while it lasts and when it ends.
#[derive(Debug, Clone, Default, Args)]
pub struct WatchArgs {
    /// Serve /metrics (OpenMetrics) and a live page at ADDR while the run lasts and 15 s
    /// after it; a port alone (9464) listens on loopback, HOST:PORT where given.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Push the run's series to this Prometheus remote-write URL while it lasts, and the
    /// final values at its end.
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,

    /// How often to push with --remote-write (1s to 5m).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub remote_write_interval: String,

    /// At the end, POST the verdict as JSON to this URL: a one-line `text` (as Slack's and
    /// Mattermost's incoming webhooks read it) and the structured verdict.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
}

#[derive(Debug, Args)]
pub struct LlmArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:11434")]
    pub endpoint: String,

    /// The server's API.
    #[arg(long, value_enum, default_value = "ollama")]
    pub api: crate::llm::Api,

    /// A key the server needs, sent as `Authorization: Bearer KEY` and never written anywhere
    /// [default: $LOADPROF_API_KEY; with --api openai, also $OPENAI_API_KEY]. The environment
    /// is the safer place: other users can read a flag with `ps`.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// A model to benchmark (as the server names it); repeat or separate with commas.
    #[arg(long = "model", value_name = "M", required = true, value_delimiter = ',')]
    pub models: Vec<String>,

    /// The prompt of the timed runs.
    #[arg(long, conflicts_with = "prompts")]
    pub prompt: Option<String>,

    /// A file of prompts, one a line; the runs go through them in turn.
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,

    /// Tokens to generate per run (num_predict / max_tokens).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Timed runs per model (and requests per concurrency level).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,

    /// Runs before the timed ones, not counted.
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,

    /// Concurrency levels, e.g. 1,4: the throughput–latency curve.
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Vec<u32>,

    /// Search for the most concurrent streams that meet the TTFT and decode budgets (doubling,
    /// then bisection, then a longer confirming run), and the aggregate tokens per second there.
    #[arg(long, conflicts_with = "concurrency")]
    pub capacity: bool,

    /// The most streams the capacity search tries.
    #[arg(long, value_name = "N", default_value_t = crate::llm::capacity::DEFAULT_MAX_STREAMS,
          requires = "capacity", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::llm::capacity::MAX_STREAMS)))]
    pub max_concurrency: u32,

    /// Time to first token p95 budget, overriding the use's (e.g. 500ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub max_ttft: Option<Duration>,

    /// Decode rate floor for the slowest tenth of requests, tokens/s, overriding the use's.
    #[arg(long, value_name = "TOK_PER_S", value_parser = parse_positive_rate)]
    pub min_decode: Option<f64>,

    /// What the model is for: sets the decode-rate floor and the TTFT budget.
    #[arg(long = "use", value_enum, default_value = "interactive")]
    pub use_case: crate::llm::UseCase,

    /// Extra quality checks, JSON Lines: {"name", "prompt", "expect": REGEX | "json_keys": [...] | "number": N | "sentences": N}.
    #[arg(long, value_name = "FILE")]
    pub checks: Option<PathBuf>,

    /// Skip the three built-in quality checks.
    #[arg(long)]
    pub no_builtin_checks: bool,

    /// The server's process, for its memory and CPU [default: the process listening on the endpoint's port, else one named ollama].
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Longest wait for one answer.
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Print the llm section of result.json on stdout (the scorecard goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// The output folder [default: out/llm-<YYYYmmdd-HHMMSS>].
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Make the demo service keep memory on every request.
    #[arg(long)]
    pub leak: bool,

    /// How long the load runs.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,

    /// The output folder [default: out/demo-<YYYYmmdd-HHMMSS>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The result to render.
    #[arg(value_name = "RESULT.json")]
    pub result: Option<PathBuf>,

    /// Chart p95, rps, peak RSS and leak slope across these results (oldest first by start time).
    #[arg(long, value_name = "RESULT.json", num_args = 1.., conflicts_with = "result")]
    pub trend: Vec<PathBuf>,

    /// Write the HTML report here (with a result: default report.html beside it when no other output is asked for).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the Markdown summary here ('-' for stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,

    /// Write the JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The result to judge.
    #[arg(value_name = "RESULT.json")]
    pub result: PathBuf,

    /// Compare with this earlier result: each endpoint's p95, rps, peak RSS and leak slope.
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,

    /// How much worse than the baseline a metric may get, e.g. 10%.
    #[arg(long, default_value = "10%", value_parser = parse_percent)]
    pub max_regression: f64,

    /// An extra SLO, METRIC=EXPR (e.g. 'all.p95=< 300ms'); repeatable.
    #[arg(long = "slo", value_name = "METRIC=EXPR")]
    pub slos: Vec<String>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim()
        .strip_suffix('%')
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("'{s}' is not a percentage; e.g. 10%"))
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The profile (TOML).
    #[arg(value_name = "PROFILE.toml")]
    pub profile: PathBuf,

    /// Override a profile key as `run --set` would, e.g. load.users=10; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DemoTargetArgs {
    /// Address to listen on (port 0 picks a free one); the address is printed as `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,

    /// Keep 64 KiB on every request, for ever.
    #[arg(long)]
    pub leak: bool,
}

/// `--profiler`: a profiler, or auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfilerArg {
    Auto,
    #[value(name = "py-spy")]
    PySpy,
    Pprof,
    Perf,
    Memray,
    Jemalloc,
}

#[derive(Debug, Args)]
pub struct FlameArgs {
    #[command(subcommand)]
    pub sub: Option<FlameSub>,

    /// Profile this running process (and, with py-spy, its worker processes).
    #[arg(long)]
    pub pid: Option<u32>,

    /// Read a pprof endpoint (Go's net/http/pprof, or loadprof's Rust endpoint): a URL, or a saved profile file.
    #[arg(long, value_name = "URL|FILE")]
    pub pprof: Option<String>,

    /// How long to profile.
    #[arg(short = 'd', long, default_value = "30s", value_parser = parse_positive_duration)]
    pub duration: Duration,

    /// Samples per second [default: 100 for py-spy, 99 for perf; Go profiles at 100].
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub rate: Option<u32>,

    /// Which profiler: auto picks py-spy for Python processes, pprof for --pprof, perf otherwise;
    /// with --heap, memray for Python, pprof for --pprof, jemalloc otherwise.
    #[arg(long, value_enum, default_value_t = ProfilerArg::Auto)]
    pub profiler: ProfilerArg,

    /// Where the memory goes instead of where the time goes: a heap profile of --duration, weighed by bytes.
    #[arg(long)]
    pub heap: bool,

    /// With --heap: retained counts what was allocated during --duration and still held at its end;
    /// inuse everything held at its end.
    #[arg(long, value_enum, default_value_t = crate::heap::HeapMode::Retained, requires = "heap")]
    pub heap_mode: crate::heap::HeapMode,

    /// py-spy: sample without pausing the target (lower overhead, some stacks may be torn).
    #[arg(long)]
    pub nonblocking: bool,

    /// py-spy: include native frames (C extensions); falls back to Python frames where py-spy cannot merge them.
    #[arg(long)]
    pub native: bool,

    /// py-spy: profile only the process itself, not its child (worker) processes.
    #[arg(long)]
    pub no_subprocesses: bool,

    /// perf: how stacks are walked (dwarf works without frame pointers; fp is cheaper).
    #[arg(long, value_enum, default_value_t = CallGraph::Dwarf)]
    pub call_graph: CallGraph,

    /// Where to write the flame graph.
    #[arg(short = 'o', long, default_value = "flame.svg", value_name = "FILE.svg")]
    pub output: PathBuf,

    /// Write only the folded stacks, no SVG (draw them later with `flame render`).
    #[arg(long)]
    pub no_svg: bool,

    /// Where to write the folded stacks [default: beside the SVG, ending .folded].
    #[arg(long, value_name = "FILE")]
    pub folded: Option<PathBuf>,

    /// The graph's title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// Print the flame section of result.json on stdout.
    #[arg(long)]
    pub json: bool,

    /// The command to start and profile (after --); loadprof stops it afterwards.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum FlameSub {
    /// Draw a differential flame graph of two folded profiles: widths from AFTER, red where time grew.
    #[command(
        after_help = "Colour shows the change of each stack's own (leaf) time; the text output lists the functions whose inclusive share changed most."
    )]
    Diff(FlameDiffArgs),
    /// Draw a flame graph from a folded file (py-spy raw, inferno, flamegraph.pl stackcollapse output).
    Render(FlameRenderArgs),
}

#[derive(Debug, Args)]
pub struct FlameDiffArgs {
    /// The baseline profile (folded stacks).
    #[arg(value_name = "BEFORE.folded")]
    pub before: PathBuf,

    /// The new profile (folded stacks).
    #[arg(value_name = "AFTER.folded")]
    pub after: PathBuf,

    /// Scale BEFORE to AFTER's total first (windows of different length or rate).
    #[arg(short = 'n', long)]
    pub normalize: bool,

    /// Where to write the differential graph.
    #[arg(short = 'o', long, default_value = "diff.svg", value_name = "FILE.svg")]
    pub output: PathBuf,

    /// The graph's title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// How many changed functions to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// What the counts are (`bytes` for heap profiles, shown in tooltips and the subtitle).
    #[arg(long, default_value = "samples", value_name = "UNIT")]
    pub count_name: String,

    /// Print the changes as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FlameRenderArgs {
    /// Folded stacks: 'frame;frame;... COUNT' per line.
    #[arg(value_name = "FOLDED")]
    pub input: PathBuf,

    /// Where to write the flame graph.
    #[arg(short = 'o', long, default_value = "flame.svg", value_name = "FILE.svg")]
    pub output: PathBuf,

    /// The graph's title.
    #[arg(long, value_name = "TEXT", default_value = "Flame graph")]
    pub title: String,

    /// A line under the title.
    #[arg(long, value_name = "TEXT")]
    pub subtitle: Option<String>,

    /// What the counts are (shown in tooltips).
    #[arg(long, default_value = "samples", value_name = "UNIT")]
    pub count_name: String,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL to load (quick mode).
    #[arg(value_name = "URL")]
    pub url: Option<String>,

    /// Take requests, model and timing from this profile's [load] tables.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rate", "method", "headers", "body", "json_body", "stream", "expect_status", "expect_body"])]
    pub profile: Option<PathBuf>,

    /// Connections: virtual users in the closed model; the cap on requests in flight with --rate (default 50, or 1000 with --rate).
    #[arg(short = 'c', long, value_name = "N")]
    pub connections: Option<u64>,

    /// How long to send requests (e.g. 30s, 5m). Default 10s unless -n is given.
    #[arg(short = 'd', long, value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Send this many requests in all, then stop.
    #[arg(short = 'n', long = "requests", value_name = "N")]
    pub requests: Option<u64>,

    /// Open model: start this many requests per second whatever the answers do.
    #[arg(long, value_name = "RPS")]
    pub rate: Option<f64>,

    /// With --rate: Poisson arrivals (random gaps) instead of evenly spaced ones.
    #[arg(long, requires = "rate")]
    pub poisson: bool,

    /// HTTP method (default GET, or POST with a body).
    #[arg(short = 'm', long)]
    pub method: Option<String>,

    /// A request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'K: V'")]
    pub headers: Vec<String>,

    /// Request body, sent as it is.
    #[arg(long, conflicts_with = "json_body")]
    pub body: Option<String>,

    /// JSON request body (sets Content-Type: application/json).
    #[arg(long, value_name = "JSON")]
    pub json_body: Option<String>,

    /// The answer is a stream: time the first chunk and the gaps between chunks.
    #[arg(long, value_enum)]
    pub stream: Option<StreamKind>,

    /// Accepted status codes, e.g. 200 or 200,201. Default: any status below 400.
    #[arg(long, value_name = "CODES")]
    pub expect_status: Option<String>,

    /// A regular expression the body must match; a miss counts as a check failure.
    #[arg(long, value_name = "REGEX")]
    pub expect_body: Option<String>,

    /// Limit for connecting and the whole answer (for a stream: until its headers) [default: 30s].
    #[arg(long, value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// Limit for a stream's body after its headers [default: 10m].
    #[arg(long, value_parser = parse_positive_duration)]
    pub stream_timeout: Option<Duration>,

    /// HTTP/2: over TLS for https URLs, cleartext with prior knowledge (h2c) for http.
    #[arg(long)]
    pub http2: bool,

    /// With --http2: how many users (or requests in flight) share one HTTP/2 connection, each on its own stream (default 1).
    #[arg(long, value_name = "N", requires = "http2")]
    pub h2_streams: Option<u64>,

    /// Accept any TLS certificate (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,

    /// Measure open-model latency from the real send time instead of the intended one (hides coordinated omission).
    #[arg(long)]
    pub no_latency_correction: bool,

    #[command(flatten)]
    pub worker: WorkerArgs,

    /// Where to write result.json (timeline.csv goes beside it). Default: out/load-<YYYYmmdd-HHMMSS>/result.json.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the result (the run and load sections of result.json) on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The URL to probe with GETs, or a profile whose [load] requests, [target] and [slo] are used.
    #[arg(value_name = "URL | PROFILE.toml")]
    pub what: String,

    /// An SLO every probe must meet, METRIC=EXPR (e.g. 'all.p95=< 300ms'); repeatable.
    #[arg(long = "slo", value_name = "METRIC=EXPR")]
    pub slos: Vec<String>,

    /// Override a profile key; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// The first rate probed [default: half the rate one connection gets in a 2 s calibration].
    #[arg(long, value_name = "RPS")]
    pub start_rate: Option<f64>,

    /// The highest rate probed.
    #[arg(long, value_name = "RPS", default_value_t = 100_000.0)]
    pub max_rate: f64,

    /// Stop bisecting when the last pass and the first failure are this close.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_percent)]
    pub precision: f64,

    /// The whole search's time budget.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub max_time: String,

    /// How long each probe holds its rate after its warm-up.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub hold: String,

    /// The start of each probe left out of its figures.
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    pub warmup: String,

    /// Fail (exit 1) when the capacity found is below this rate.
    #[arg(long, value_name = "RPS")]
    pub require_rate: Option<f64>,

    /// Requests in flight at most; arrivals beyond are dropped, and a probe that drops them is loadprof's limit.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_in_flight: usize,

    /// Poisson arrivals instead of evenly spaced ones.
    #[arg(long)]
    pub poisson: bool,

    /// The output folder [default: out/capacity-<YYYYmmdd-HHMMSS>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print capacity.json on stdout (the progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LeakArgs {
    /// A CSV with an elapsed_s column and the metric column (what `loadprof sample` writes).
    #[arg(value_name = "SAMPLES.csv")]
    pub samples: PathBuf,

    /// The column to judge.
    #[arg(long, default_value = "rss_bytes")]
    pub metric: String,

    /// How much of the start is warm-up: auto (the first third of the loaded part) or a duration.
    #[arg(long, default_value = "auto", value_parser = parse_warmup)]
    pub warmup: Warmup,

    /// Samples from this many seconds on were taken after the load stopped (they can only clear a verdict).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub settle_from: Option<f64>,

    /// Growth below this is not a leak (nor below 0.4 %/min of the level).
    #[arg(long, default_value = "1MB/min", value_parser = parse_rate_arg)]
    pub max_growth: f64,

    /// Also say when the trend reaches this size (e.g. 2GB).
    #[arg(long, value_parser = parse_size_arg)]
    pub limit: Option<f64>,

    /// Draw the series, the envelope and the trend into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print the leak section of result.json on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_warmup(s: &str) -> Result<Warmup, String> {
    Warmup::parse(s)
}

fn parse_rate_arg(s: &str) -> Result<f64, String> {
    crate::config::units::parse_byte_rate(s)
}

fn parse_positive_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(v),
        _ => Err(format!("'{s}': give tokens per second above 0, e.g. 10")),
    }
}

fn parse_size_arg(s: &str) -> Result<f64, String> {
    match crate::config::units::parse_size(s)? {
        0.0 => Err(format!("'{s}': the limit must be greater than zero, e.g. 2GB")),
        bytes => Ok(bytes),
    }
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// result.json files written by `loadprof load` workers.
    #[arg(required = true, num_args = 1.., value_name = "RESULT.json")]
    pub inputs: Vec<PathBuf>,

    /// Where to write the merged result.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,

    /// A worker that started later than this after the agreed instant (--start-at) missed
    /// part of the load: the merge says so and fails (at most 1h).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_start_skew)]
    pub max_start_skew: Duration,

    /// Accept a merge whose workers are not the whole load (one missing, late, or unable to
    /// keep its schedule): it still says so, but passes.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Sample this running process and its children.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// Sample the one process tree whose root's name or command line matches this regular expression.
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,

    /// Time between samples (e.g. 10ms, 100ms, 1s).
    #[arg(long, default_value = "100ms", value_parser = parse_interval)]
    pub interval: Duration,

    /// Stop after this long (e.g. 30s, 5m). Default: until the target exits or Ctrl-C.
    #[arg(short = 'd', long, value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Sample only the target process, not its children.
    #[arg(long)]
    pub no_children: bool,

    /// Where to write samples.csv. Default: out/sample-<YYYYmmdd-HHMMSS>/samples.csv.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write samples-procs.csv beside the output: one row per process per sample.
    #[arg(long)]
    pub per_process: bool,

    /// Also read PSS and USS from smaps_rollup, at most every 5 s (the read stalls the target briefly).
    #[arg(long)]
    pub pss: bool,

    /// GPU memory per process through NVML.
    #[arg(long, value_enum, default_value_t = GpuMode::Auto)]
    pub gpu: GpuMode,

    /// Print the result (run and resources sections of result.json) as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// At the end, judge whether RSS grew without bound (as `loadprof leak` does); exit 1 on a leak.
    #[arg(long)]
    pub leak: bool,

    /// Start this command and sample it (after `--`); sampling stops when it exits.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl FlameArgs {
    /// The capture these arguments ask for (the target group makes one of
    /// --pid, --pprof and the command present).
    pub fn to_spec(&self) -> crate::flame::CaptureSpec {
        use crate::flame::{Profiler, Source};
        let plan = crate::config::flame::FlamePlan {
            profiler: match self.profiler {
                ProfilerArg::Auto => None,
                ProfilerArg::PySpy => Some(Profiler::PySpy),
                ProfilerArg::Pprof => Some(Profiler::Pprof),
                ProfilerArg::Perf => Some(Profiler::Perf),
                ProfilerArg::Memray => Some(Profiler::Memray),
                ProfilerArg::Jemalloc => Some(Profiler::Jemalloc),
            },
            pprof_url: self.pprof.clone(),
            start_after: Duration::ZERO,
            duration: self.duration,
            rate_hz: self.rate,
            heap: false,
            nonblocking: self.nonblocking,
            native: self.native,
            subprocesses: !self.no_subprocesses,
            call_graph: self.call_graph,
        };
        plan.spec(match self.pid {
            Some(pid) => Source::Pid(pid),
            None => Source::Command(self.command.clone()),
        })
    }

    /// The heap profile `--heap` asks for.
    pub fn to_heap_spec(&self) -> crate::heap::HeapSpec {
        let spec = self.to_spec();
        crate::heap::HeapSpec {
            source: spec.source,
            profiler: spec.profiler,
            mode: self.heap_mode,
        }
    }
}

impl SampleArgs {
    pub fn into_command(self, now: chrono::DateTime<chrono::Local>) -> SampleCommand {
        let target = match (self.pid, self.name) {
            (Some(pid), _) => TargetSpec::Pid(pid),
            (None, Some(name)) => TargetSpec::Name(name),
            (None, None) => TargetSpec::Command(self.command),
        };
        let output = self.output.unwrap_or_else(|| {
            PathBuf::from("out")
                .join(format!("sample-{}", now.format("%Y%m%d-%H%M%S")))
                .join("samples.csv")
        });
        SampleCommand {
            target,
            sampler: SamplerConfig {
                interval: self.interval,
                duration: self.duration,
                children: !self.no_children,
                per_process: self.per_process,
                pss: self.pss,
                gpu: self.gpu,
                stop_grace: crate::sample::STOP_GRACE,
            },
            output,
            json: self.json,
            leak: self.leak,
        }
    }
}

impl LoadArgs {
    /// The validated-to-be spec of this command: from the profile, or from
    /// the quick-mode flags.
    pub fn into_command(self, now: chrono::DateTime<chrono::Local>) -> Result<LoadCommand, String> {
        let (worker, start_at) = self.worker.resolve(now.into())?;
        let output = self.output.clone().unwrap_or_else(|| {
            PathBuf::from("out")
                .join(format!("load-{}", now.format("%Y%m%d-%H%M%S")))
                .join("result.json")
        });
        let (spec, target, profile) = match &self.profile {
            Some(path) => {
                let p = LoadedProfile::read(path)?;
                let mut spec = p.load_spec(worker)?;
                self.apply_overrides(&mut spec)?;
                let name = p.profile.name.clone();
                (spec, path.display().to_string(), name)
            }
            None => {
                let url = self.url.as_deref().unwrap_or_default();
                (self.quick_spec(worker)?, crate::redact::url(url).into_owned(), None)
            }
        };
        Ok(LoadCommand {
            spec,
            target,
            profile,
            output,
            json: self.json,
            start_at,
        })
    }

    /// Flags that also make sense with --profile override its values.
    fn apply_overrides(&self, spec: &mut LoadSpec) -> Result<(), String> {
        if spec.scenarios.is_empty() {
            self.apply_to_mix(spec);
        } else {
            self.apply_to_scenarios(spec)?;
        }
        if let Some(t) = self.timeout {
            spec.timeout = t;
        }
        if let Some(t) = self.stream_timeout {
            spec.stream_timeout = Some(t);
        }
        spec.http2 |= self.http2;
        if let Some(n) = self.h2_streams {
            spec.h2_streams = At::new(n, "--h2-streams");
        }
        spec.insecure |= self.insecure;
        spec.latency_correction &= !self.no_latency_correction;
        Ok(())
    }

    /// `-d`, `-c` and `-n` for a `[[load.request]]` mix.
    fn apply_to_mix(&self, spec: &mut LoadSpec) {
        if let Some(d) = self.duration {
            spec.duration = Some(d);
            if let ModelSpec::Open { stages, .. } = &mut spec.model
                && let [only] = stages.as_mut_slice()
            {
                only.value.duration = Some(d);
            }
        }
        if let Some(c) = self.connections {
            match &mut spec.model {
                ModelSpec::Closed { users, .. } => *users = At::new(c, "-c"),
                ModelSpec::Open { max_in_flight, .. } => *max_in_flight = At::new(c, "-c"),
            }
        }
        if let Some(n) = self.requests {
            spec.max_requests = Some(At::new(n, "-n"));
        }
    }

    /// The flags that make sense for a profile with `[scenarios]`: `-d`
    /// is the length of every scenario that runs for a time; users, rates
    /// and iteration counts are each scenario's own.
    fn apply_to_scenarios(&self, spec: &mut LoadSpec) -> Result<(), String> {
        if self.connections.is_some() || self.requests.is_some() || self.rate.is_some() {
            let flag = if self.connections.is_some() {
                "-c"
            } else if self.requests.is_some() {
                "-n"
            } else {
                "--rate"
            };
            return Err(format!(
                "{flag}: the profile's [scenarios] each give their own users, rate or iterations; change them with loadprof run PROFILE --set scenarios.NAME.users=10 (or .rate, .iterations)"
            ));
        }
        if let Some(d) = self.duration {
            for sc in &mut spec.scenarios {
                if sc.duration.is_some() {
                    sc.duration = Some(d);
                }
                if let ModelSpec::Open { stages, .. } = &mut sc.model
                    && let [only] = stages.as_mut_slice()
                    && sc.ramp.is_none()
                    && sc.executor.value == "constant-arrival-rate"
                {
                    only.value.duration = Some(d);
                }
            }
        }
        Ok(())
    }

    fn quick_spec(&self, worker: (u32, u32)) -> Result<LoadSpec, String> {
        let url = self.url.clone().unwrap_or_default();
        let body = match (&self.body, &self.json_body) {
            (Some(b), _) => Some(At::new(BodySource::Text(b.clone()), "--body")),
            (None, Some(j)) => {
                let v: serde_json::Value = serde_json::from_str(j)
                    .map_err(|e| format!("--json-body: not valid JSON ({e}); e.g. --json-body '{{\"q\": \"hi\"}}'"))?;
                Some(At::new(BodySource::Json(v), "--json-body"))
            }
            (None, None) => None,
        };
        let method = self
            .method
            .clone()
            .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
        let mut headers = Vec::new();
        for h in &self.headers {
            let (k, v) = h.split_once(':').ok_or_else(|| {
                "-H: a header has no ':'; expected 'Name: value', e.g. -H 'Authorization: Bearer x'".to_string()
            })?;
            headers.push(At::new(
                (k.trim().to_string(), v.trim().to_string()),
                format!("-H '{}: {}'", k.trim(), crate::redact::header_value(k.trim(), v.trim())),
            ));
        }
        let path = crate::load::Origin::parse(&url)
            .map(|(_, p)| p)
            .unwrap_or_else(|_| "/".into());
        let duration = match (self.duration, self.requests) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        let model = match self.rate {
            Some(rate) => ModelSpec::Open {
                stages: vec![At::new(
                    Stage {
                        from: rate,
                        to: rate,
                        duration,
                    },
                    "--rate",
                )],
                poisson: self.poisson,
                max_in_flight: At::new(self.connections.unwrap_or(DEFAULT_MAX_IN_FLIGHT), "-c"),
            },
            None => ModelSpec::Closed {
                users: At::new(self.connections.unwrap_or(50), "-c"),
                spawn_rate: None,
                think: Default::default(),
                iterations: None,
            },
        };
        Ok(LoadSpec {
            scenarios: Vec::new(),
            table_at: "URL".into(),
            base_url: At::new(url.clone(), "URL"),
            requests: vec![RequestSpec {
                name: At::new(
                    format!(
                        "{} {}",
                        method.to_ascii_uppercase(),
                        path.split('?').next().unwrap_or("/")
                    ),
                    "URL",
                ),
                weight: At::new(1, "URL"),
                method: At::new(method, "-m"),
                // The base URL already holds the path.
                path: At::new("/".into(), "URL"),
                headers,
                body,
                stream: self.stream.unwrap_or_default(),
                expect_status: match &self.expect_status {
                    Some(s) => Some(At::new(
                        parse_status_list(s).map_err(|e| format!("--expect-status: {e}"))?,
                        "--expect-status",
                    )),
                    None => None,
                },
                expect_body: self.expect_body.clone().map(|r| At::new(r, "--expect-body")),
            }],
            model,
            duration,
            warmup: At::new(Duration::ZERO, "--warmup"),
            max_requests: self.requests.map(|n| At::new(n, "-n")),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            stream_timeout: Some(self.stream_timeout.unwrap_or(DEFAULT_STREAM_TIMEOUT)),
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            http2: self.http2,
            h2_streams: At::new(self.h2_streams.unwrap_or(1), "--h2-streams"),
            insecure: self.insecure,
            latency_correction: !self.no_latency_correction,
            vars: Default::default(),
            base_dir: PathBuf::from("."),
            worker,
        })
    }
}

pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be greater than zero, e.g. 100ms, 30s, 5m".into());
    }
    Ok(d)
}

/// A time in seconds on a samples file's clock: a finite number, 0 or more.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a time in seconds; give a number of seconds from 0 on, e.g. 600"
        )),
    }
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err("must be at least 1ms (e.g. 10ms, 100ms, 1s)".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<SampleCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("loadprof").chain(args.iter().copied()))?;
        let Command::Sample(a) = cli.command else {
            panic!("not a sample command")
        };
        Ok(a.into_command(chrono::Local::now()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_out_of_range_name_their_flag() {
        let refused = |args: &[&str], flag: &str| {
            let e = Cli::try_parse_from(std::iter::once("loadprof").chain(args.iter().copied())).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            let text = e.to_string();
            assert!(text.contains(flag), "{args:?}: {text}");
        };
        for v in ["NaN", "-1", "-inf", "inf", "1e999", "soon"] {
            refused(&["leak", "s.csv", &format!("--settle-from={v}")], "--settle-from");
        }
        refused(&["leak", "s.csv", "--limit", &"9".repeat(400)], "--limit");
        refused(&["leak", "s.csv", "--limit", "0GB"], "--limit");
        refused(&["llm", "--model", "m", "--timeout", "0"], "--timeout");
        let cli = Cli::try_parse_from(["loadprof", "leak", "s.csv", "--settle-from", "12.5"]).unwrap();
        let Command::Leak(a) = cli.command else { panic!() };
        assert_eq!(a.settle_from, Some(12.5));
    }

    #[test]
    fn pid_target_with_defaults() {
        let c = parse(&["sample", "--pid", "42"]).unwrap();
        assert_eq!(c.target, TargetSpec::Pid(42));
        assert_eq!(c.sampler.interval, Duration::from_millis(100));
        assert_eq!(c.sampler.duration, None);
        assert!(c.sampler.children);
        assert_eq!(c.sampler.gpu, GpuMode::Auto);
        assert!(c.output.starts_with("out"));
        assert!(c.output.ends_with("samples.csv"));
    }

    #[test]
    fn command_target_after_double_dash_keeps_its_flags() {
        let c = parse(&[
            "sample",
            "--interval",
            "10ms",
            "-d",
            "5s",
            "--",
            "python3",
            "-c",
            "--pid",
        ])
        .unwrap();
        assert_eq!(
            c.target,
            TargetSpec::Command(vec!["python3".into(), "-c".into(), "--pid".into()])
        );
        assert_eq!(c.sampler.interval, Duration::from_millis(10));
        assert_eq!(c.sampler.duration, Some(Duration::from_secs(5)));
    }

    #[test]
    fn all_flags() {
        let c = parse(&[
            "sample",
            "--name",
            "uvicorn",
            "--no-children",
            "-o",
            "x.csv",
            "--per-process",
            "--pss",
            "--gpu",
            "off",
            "--json",
        ])
        .unwrap();
        assert_eq!(c.target, TargetSpec::Name("uvicorn".into()));
        assert!(!c.sampler.children && c.sampler.per_process && c.sampler.pss && c.json);
        assert_eq!(c.sampler.gpu, GpuMode::Off);
        assert_eq!(c.output, PathBuf::from("x.csv"));
    }

    #[test]
    fn rejects_missing_or_double_target() {
        assert!(parse(&["sample"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "--name", "x"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "--", "sleep", "1"]).is_err());
    }

    fn parse_load(args: &[&str]) -> Result<LoadCommand, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("loadprof").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        let Command::Load(a) = cli.command else {
            panic!("not a load command")
        };
        a.into_command(chrono::Local::now())
    }

    #[test]
    fn load_quick_mode_defaults_to_50_users_for_10s() {
        let c = parse_load(&["load", "http://127.0.0.1:8080/x?q=1"]).unwrap();
        assert!(matches!(c.spec.model, ModelSpec::Closed { ref users, .. } if users.value == 50));
        assert_eq!(c.spec.duration, Some(Duration::from_secs(10)));
        assert_eq!(c.spec.requests[0].name.value, "GET /x");
        assert_eq!(c.spec.timeout, DEFAULT_TIMEOUT);
        assert!(c.output.ends_with("result.json"));
    }

    #[test]
    fn load_rate_makes_an_open_model_capped_by_c() {
        let c = parse_load(&[
            "load",
            "http://h/",
            "--rate",
            "50",
            "-c",
            "7",
            "-n",
            "100",
            "--json-body",
            "{\"a\":1}",
        ])
        .unwrap();
        let ModelSpec::Open {
            stages, max_in_flight, ..
        } = &c.spec.model
        else {
            panic!()
        };
        assert_eq!((stages[0].value.from, stages[0].value.duration), (50.0, None));
        assert_eq!(max_in_flight.value, 7);
        assert_eq!(c.spec.max_requests.as_ref().unwrap().value, 100);
        assert_eq!(c.spec.requests[0].method.value, "POST");
    }

    #[test]
    fn load_flags_override_a_profile() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            "[load]\nbase_url = \"http://h/\"\nusers = 3\nduration = \"1m\"\n[[load.request]]\n",
        )
        .unwrap();
        let path = p.to_str().unwrap();
        let c = parse_load(&["load", "--profile", path, "-c", "9", "-d", "5s", "--timeout", "2s"]).unwrap();
        assert!(matches!(c.spec.model, ModelSpec::Closed { ref users, .. } if users.value == 9));
        assert_eq!(c.spec.duration, Some(Duration::from_secs(5)));
        assert_eq!(c.spec.timeout, Duration::from_secs(2));
        assert!(parse_load(&["load", "--profile", path, "--rate", "5"]).is_err());
        // A profile without an end is completed by -d or -n.
        std::fs::write(&p, "[load]\nbase_url = \"http://h/\"\n[[load.request]]\n").unwrap();
        let endless = parse_load(&["load", "--profile", path]).unwrap();
        assert!(
            crate::config::load::build(endless.spec)
                .unwrap_err()
                .contains("p.toml:1: load: the load never ends")
        );
        let c = parse_load(&["load", "--profile", path, "-n", "5"]).unwrap();
        assert!(crate::config::load::build(c.spec).is_ok());
        let e = parse_load(&["load", "http://h/", "--worker-index", "2", "--worker-count", "2"]).unwrap_err();
        assert!(e.contains("--worker-index"), "{e}");
    }

    #[test]
    fn start_at_is_rfc_3339_or_ahead_of_now_and_may_be_a_little_late() {
        use std::time::{Duration, UNIX_EPOCH};
        let args = |at: &str| WorkerArgs {
            worker_index: Some(1),
            worker_count: 4,
            start_at: Some(at.into()),
            max_start_skew: Duration::from_secs(5),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (share, at) = args("+30s").resolve(now).unwrap();
        assert_eq!(share, (1, 4));
        assert_eq!(at, Some(now + Duration::from_secs(30)));
        // 2027-01-15T08:00:00Z is 1,800,000,000 s after the epoch.
        let (_, at) = args("2027-01-15T10:00:02+02:00").resolve(now).unwrap();
        assert_eq!(at, Some(now + Duration::from_secs(2)));
        let (_, at) = args("2027-01-15T07:59:57Z").resolve(now).unwrap();
        assert_eq!(at, Some(now - Duration::from_secs(3)), "late within the skew allowed");
        let e = args("2027-01-15T07:59:50Z").resolve(now).unwrap_err();
        assert!(e.contains("10s ago") && e.contains("--max-start-skew 5s"), "{e}");
        assert!(args("+25h").resolve(now).unwrap_err().contains("24h"));
        assert!(args("soon").resolve(now).unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn rejects_zero_and_unitless_interval() {
        let e = parse(&["sample", "--pid", "1", "--interval", "0"]).unwrap_err();
        assert!(e.to_string().contains("greater than zero"), "{e}");
        let e = parse(&["sample", "--pid", "1", "--interval", "100"]).unwrap_err();
        assert!(e.to_string().contains("100ms"), "{e}");
        assert!(parse(&["sample", "--pid", "1", "--interval", "100us"]).is_err());
        assert!(parse(&["sample", "--pid", "1", "-d", "0s"]).is_err());
    }
}
