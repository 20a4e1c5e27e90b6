//! One worker loop for every executor: a worker takes the next due time
//! from its pacer (a closed-model user's own rhythm, or tickets from the
//! open model's arrival clock) and runs one iteration: one request of the
//! mix, or a journey's steps. Every scenario runs its executor on the one
//! clock of the load. Records go straight into sharded aggregates; a
//! timeline row is cut from them once a second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;
use rand::rngs::SmallRng;
use tokio::task::JoinSet;

pub use super::aggregate::TimelineRow;
use super::aggregate::{EndpointTotals, ScenarioPoint, Shard, Totals, cut_rows, push_point};
use super::client::{Connector, Limits};
use super::journey::run::Recorder;
use super::journey::{FlowStats, Outcome};
use super::plan::user_start;
use super::stats::{EndpointStats, ErrorKind, Hist, PollStats, Record};
use super::{Endpoint, Executor, Flow, LoadConfig, Model, Scenario};
use crate::cancel::{StopReason, StopToken};

mod workers;
use workers::{Pacer, arrivals, worker};

/// Grace after a second ends before its row is cut, so records stamped just
/// before the boundary have reached their shard.
const ROW_GRACE: Duration = Duration::from_millis(20);

/// Everything a load run measured.
#[derive(Debug, Clone)]
pub struct LoadRecording {
    pub model: Model,
    /// Peak planned arrival rate (open model).
    pub target_rate: Option<f64>,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// From the end of the warm-up (the first request, without one) to the
    /// end of the last request: the span the totals and rates cover.
    pub duration: Duration,
    /// The warm-up left out of the totals.
    pub warmup: Duration,
    /// Requests that ended within the warm-up.
    pub warmup_requests: u64,
    /// Per endpoint, in the order of the configuration.
    pub endpoints: Vec<(String, EndpointStats)>,
    /// Open-model arrivals not started because `max_in_flight` were busy.
    pub dropped: u64,
    /// Requests still in flight when the run was interrupted (not counted).
    pub cancelled: u64,
    /// Requests still without an answer when the graceful stop ended:
    /// counted as timeouts of their endpoints, so a dead service fails.
    pub unanswered: u64,
    pub latency_corrected: bool,
    pub stop: Option<StopReason>,
    /// Workers (users or open-model connections) started.
    pub workers: u64,
    /// The open model's cap on requests in flight.
    pub max_in_flight: Option<u64>,
    /// The first failure of each kind, in words.
    pub error_examples: BTreeMap<&'static str, String>,
    /// Named scenarios (`[scenarios.NAME]`), in the profile's order.
    pub scenarios: Vec<ScenarioRecording>,
    /// This process's index among the workers sharing the load, and their number.
    pub worker: (u32, u32),
    /// The instant every worker agreed to start at (`--start-at`).
    pub start_at: Option<SystemTime>,
    /// How far this worker's start was from it, in ms (positive: late).
    pub start_skew_ms: Option<f64>,
}

/// What one named scenario did.
#[derive(Debug, Clone)]
pub struct ScenarioRecording {
    pub name: String,
    pub executor: String,
    pub model: Model,
    /// Peak planned arrival rate (open model).
    pub target_rate: Option<f64>,
    pub start: Duration,
    /// Users (closed model) or workers (open model) started.
    pub workers: u64,
    /// Open-model arrivals not started because `max_in_flight` were busy.
    pub dropped: u64,
    /// Step names: `on_start` steps first (the index of `flow.failed_by_step`).
    pub steps: Vec<String>,
    pub flow: FlowStats,
    /// Iterations over time.
    pub timeline: Vec<ScenarioPoint>,
}

impl LoadRecording {
    pub fn total(&self) -> EndpointStats {
        let mut all = EndpointStats::default();
        for (_, e) in &self.endpoints {
            all.merge(e);
        }
        all
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("nothing is listening at {target} ({err}); start the service or check the URL")]
    Unreachable { target: String, err: String },
    #[error("cannot resolve '{host}': {err}")]
    Resolve { host: String, err: String },
    #[error("{0}")]
    Setup(String),
}

/// One scenario while it runs.
struct Run {
    /// Its first iteration's time.
    start: Instant,
    /// Stop starting iterations.
    deadline: Option<Instant>,
    /// Stop iterations where they are.
    hard_end: Option<Instant>,
    /// `shared-iterations`: those not yet taken.
    shared_left: Option<AtomicU64>,
    dropped: AtomicU64,
    workers: AtomicU64,
    /// Iterations started and not ended (cut off at the end: interrupted).
    running: AtomicU64,
    /// The mix's weights, summed in order.
    cumulative_weights: Vec<u64>,
    /// The open model's workers, started by the arrival clock.
    open_workers: Mutex<JoinSet<()>>,
}

impl Run {
    fn past_deadline(&self, shared: &Shared, at: Instant) -> bool {
        shared.stopping.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| at >= d)
    }
}

struct Shared {
    cfg: Arc<LoadConfig>,
    connector: Connector,
    limits: Limits,
    t0: Instant,
    /// When this process joined the schedule: `t0`, or later where the
    /// agreed start (`--start-at`) had passed.
    joined: Instant,
    /// Requests that end before this are the warm-up: in the timeline only.
    counted_from: Instant,
    warmup_requests: AtomicU64,
    shards: Vec<Mutex<Shard>>,
    /// Requests started, checked against `max_requests`.
    issued: AtomicU64,
    /// Requests in flight, per endpoint.
    in_flight: Vec<AtomicU64>,
    stopping: AtomicBool,
    runs: Vec<Run>,
    /// The first failure of each kind, by `ErrorKind as usize`.
    examples: [OnceLock<String>; ErrorKind::ALL.len()],
}

impl Shared {
    fn pick(&self, run: &Run, eps: &[usize], rng: &mut SmallRng) -> &Endpoint {
        let i = if eps.len() == 1 {
            0
        } else {
            let total = *run.cumulative_weights.last().unwrap_or(&1);
            let x = rng.random_range(0..total);
            run.cumulative_weights.partition_point(|&c| c <= x).min(eps.len() - 1)
        };
        &self.cfg.endpoints[eps[i]]
    }

    /// Claims one request from `max_requests`; false when none are left.
    fn claim(&self) -> bool {
        match self.cfg.max_requests {
            Some(max) => self.issued.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    fn shard(&self) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[thread_shard() % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, rec: &Record, gaps: Option<&Hist>) {
        if let (Some(kind), Some(detail)) = (rec.error, &rec.detail) {
            self.examples[kind as usize].get_or_init(|| detail.clone());
        }
        let end = Instant::now();
        let second = end.saturating_duration_since(self.t0).as_secs();
        let counted = end >= self.counted_from;
        if !counted {
            self.warmup_requests.fetch_add(1, Ordering::Relaxed);
        }
        self.shard().record(rec, gaps, end, second, counted);
    }

    /// Adds how an iteration of scenario `sc` ended.
    fn record_iteration(&self, sc: usize, outcome: Outcome) {
        let now = Instant::now();
        let mut shard = self.shard();
        let second = now.saturating_duration_since(self.t0).as_secs();
        match &outcome {
            Outcome::Done { flow, .. } => shard.iteration(sc, second, Some(*flow)),
            Outcome::Failed { .. } => shard.iteration(sc, second, None),
            Outcome::Interrupted => {}
        }
        if now < self.counted_from {
            return;
        }
        let f = &mut shard.flows[sc];
        match outcome {
            Outcome::Done { flow, active } => {
                f.iterations += 1;
                super::stats::record(&mut f.flow, flow);
                super::stats::record(&mut f.active, active);
            }
            Outcome::Failed { step, why } => {
                f.iterations += 1;
                f.failed += 1;
                if let Some(s) = f.failed_by_step.get_mut(step) {
                    s.0 += 1;
                    s.1.get_or_insert(why);
                }
            }
            Outcome::Interrupted => f.interrupted += 1,
        }
    }

    fn rows(&self, from: u64, upto: u64, now: Instant) -> Vec<super::aggregate::TimelineRow> {
        let elapsed = now.saturating_duration_since(self.t0).as_secs_f64();
        let mut rows = cut_rows(
            self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner())),
            from,
            upto,
            elapsed,
        );
        if self.cfg.live
            && let Some(last) = rows.last_mut()
        {
            last.totals = Some(Arc::new(self.totals()));
        }
        rows
    }

    /// The running totals, merged over the shards.
    fn totals(&self) -> Totals {
        let mut endpoints: Vec<EndpointTotals> = self
            .cfg
            .endpoints
            .iter()
            .map(|_| EndpointTotals {
                requests: 0,
                errors: Default::default(),
                bytes: 0,
                latency: super::stats::new_hist(),
            })
            .collect();
        for shard in &self.shards {
            let s = shard.lock().unwrap_or_else(|e| e.into_inner());
            for (mine, theirs) in endpoints.iter_mut().zip(&s.endpoints) {
                mine.requests += theirs.requests;
                mine.errors.add(&theirs.errors);
                mine.bytes += theirs.bytes;
                super::stats::add(&mut mine.latency, &theirs.latency);
            }
        }
        Totals {
            endpoints,
            in_flight: self.in_flight.iter().map(|n| n.load(Ordering::Relaxed)).collect(),
            dropped: self.runs.iter().map(|r| r.dropped.load(Ordering::Relaxed)).sum(),
            warmup_requests: self.warmup_requests.load(Ordering::Relaxed),
        }
    }
}

impl Recorder for Shared {
    fn request(&self, rec: &Record, gaps: Option<&Hist>) {
        self.record(rec, gaps);
    }

    fn poll(&self, endpoint: usize, turnaround: Duration, attempts: u32) {
        if Instant::now() < self.counted_from {
            return;
        }
        let mut shard = self.shard();
        shard.endpoints[endpoint]
            .poll
            .get_or_insert_with(PollStats::default)
            .record(turnaround, attempts);
    }

    fn in_flight(&self, endpoint: usize, starts: bool) {
        if starts {
            self.in_flight[endpoint].fetch_add(1, Ordering::Relaxed);
        } else {
            self.in_flight[endpoint].fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// How often (in seconds of load) freed memory is handed back.
const TRIM_EVERY_S: u64 = 30;

/// Hands the pages the allocator holds free back to the kernel. glibc's
/// malloc keeps what a burst of slow answers made it allocate (more
/// workers, buffers, histograms) in the middle of its heaps once freed, so
/// without this a long run's resident memory would stay at its busiest
/// moment's. A trim takes well under a millisecond at this size.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

thread_local! {
    /// The shard this thread records into, given out on its first record.
    static SHARD: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

/// The shard of the calling thread. Shards are per thread, not per worker:
/// contention is between the runtime's threads, and a burst of slow
/// answers that starts many workers then fills no more shards (each with
/// its histograms) than there are threads, so memory does not grow with it.
fn thread_shard() -> usize {
    SHARD.with(|s| {
        s.get().unwrap_or_else(|| {
            let n = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
            s.set(Some(n));
            n
        })
    })
}

async fn preflight(cfg: &LoadConfig) -> Result<SocketAddr, LoadError> {
    let o = &cfg.origin;
    let addrs = o.resolve().map_err(|e| LoadError::Resolve {
        host: o.host.clone(),
        err: e.to_string(),
    })?;
    let mut last = String::from("no addresses");
    let wait = cfg.timeout.min(Duration::from_secs(5));
    for addr in &addrs {
        match tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(*addr),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer in {}", crate::config::units::format_duration(wait)),
        }
    }
    Err(LoadError::Unreachable {
        target: format!(
            "{} ({})",
            o.prefix(),
            addrs.first().map_or(o.authority(), |a| a.to_string())
        ),
        err: last,
    })
}

fn new_run(t0: Instant, sc: &Scenario, endpoints: &[Endpoint]) -> Run {
    let start = t0 + sc.start;
    let deadline = sc.duration.or_else(|| sc.executor.planned()).map(|d| start + d);
    Run {
        start,
        deadline,
        hard_end: deadline.map(|d| d + sc.graceful_stop),
        shared_left: match &sc.executor {
            Executor::Closed {
                shared_iterations: Some(n),
                ..
            } => Some(AtomicU64::new(*n)),
            _ => None,
        },
        dropped: AtomicU64::new(0),
        workers: AtomicU64::new(0),
        running: AtomicU64::new(0),
        cumulative_weights: match &sc.flow {
            Flow::Mix(eps) => eps
                .iter()
                .scan(0u64, |acc, &e| {
                    *acc += u64::from(endpoints[e].weight);
                    Some(*acc)
                })
                .collect(),
            Flow::Steps(_) => Vec::new(),
        },
        open_workers: Mutex::new(JoinSet::new()),
    }
}

/// The flow statistics each shard keeps: one per scenario, sized to its steps.
fn empty_flows(cfg: &LoadConfig) -> Vec<FlowStats> {
    cfg.scenarios
        .iter()
        .map(|s| match &s.flow {
            Flow::Steps(j) => FlowStats::new(j.on_start.len() + j.steps.len()),
            Flow::Mix(_) => FlowStats::new(0),
        })
        .collect()
}

/// Where the schedule starts. Without an agreed start, now. Otherwise it
/// waits for that instant (or for `stop`); where the instant has passed it
/// places the schedule's start that far back, so this process joins the
/// schedule where it is instead of catching up with a burst. Returns the
/// schedule's start, the moment this process joined it, and how far that
/// was from the agreed instant in ms (positive: late).
async fn schedule_start(at: Option<SystemTime>, stop: &StopToken) -> (Instant, Instant, Option<f64>) {
    let Some(at) = at else {
        let now = Instant::now();
        return (now, now, None);
    };
    while let Ok(left) = at.duration_since(SystemTime::now()) {
        if left.is_zero() || stop.reason().is_some() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
    let (wall, now) = (SystemTime::now(), Instant::now());
    let (late, skew_ms) = match wall.duration_since(at) {
        Ok(late) => (late, late.as_secs_f64() * 1e3),
        Err(early) => (Duration::ZERO, -early.duration().as_secs_f64() * 1e3),
    };
    (now.checked_sub(late).unwrap_or(now), now, Some(skew_ms))
}

/// Runs the load described by `cfg` until it ends or `stop` trips, calling
/// `on_row` with each second of the timeline as it completes.
pub async fn run(
    cfg: LoadConfig,
    stop: &StopToken,
    on_row: &mut (dyn FnMut(&TimelineRow) + Send),
) -> Result<LoadRecording, LoadError> {
    let addr = preflight(&cfg).await?;
    let connector = Connector::new(&cfg.origin, addr, cfg.http2.then_some(cfg.h2_streams), cfg.insecure)
        .map_err(LoadError::Setup)?;
    let cfg = Arc::new(cfg);
    let (t0, joined, start_skew_ms) = schedule_start(cfg.start_at, stop).await;
    // The schedule's start on the wall clock: the agreed instant, or when
    // this process began (or was stopped while waiting).
    let started_at = SystemTime::now()
        .checked_sub(t0.elapsed())
        .unwrap_or_else(SystemTime::now);
    let n_shards = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = Arc::new(Shared {
        connector,
        limits: Limits {
            timeout: cfg.timeout,
            stream_timeout: cfg.stream_timeout,
        },
        t0,
        joined,
        // A worker that joined late counts from when it joined.
        counted_from: (t0 + cfg.warmup).max(joined),
        warmup_requests: AtomicU64::new(0),
        shards: (0..n_shards)
            .map(|_| {
                let timed = if cfg.has_journeys() { cfg.scenarios.len() } else { 0 };
                Mutex::new(Shard::new(cfg.endpoints.len(), empty_flows(&cfg), timed))
            })
            .collect(),
        issued: AtomicU64::new(0),
        in_flight: cfg.endpoints.iter().map(|_| AtomicU64::new(0)).collect(),
        stopping: AtomicBool::new(false),
        runs: cfg.scenarios.iter().map(|s| new_run(t0, s, &cfg.endpoints)).collect(),
        cfg: cfg.clone(),
        examples: Default::default(),
    });

    let mut tasks = JoinSet::new();
    for (sc, scenario) in cfg.scenarios.iter().enumerate() {
        match &scenario.executor {
            Executor::Closed {
                users,
                spawn_rate,
                think,
                iterations,
                ramp,
                ..
            } => {
                let start = shared.runs[sc].start;
                for i in 0..*users {
                    let pacer = Pacer::Closed {
                        index: i,
                        start_at: start + user_start(i, *spawn_rate),
                        think: *think,
                        iterations_left: *iterations,
                        ramp: ramp.clone(),
                        started: false,
                    };
                    tasks.spawn(worker(shared.clone(), sc, pacer, i as u64));
                }
            }
            Executor::Open { .. } => {
                tasks.spawn(arrivals(shared.clone(), sc));
            }
        }
    }

    // The load ends when every scenario's graceful stop has; a scenario
    // without a deadline (iterations) ends when its users are done.
    let hard_end = shared.runs.iter().try_fold(t0, |m, r| Some(m.max(r.hard_end?)));
    let mut second = 0u64;
    let mut stopped = None;
    let mut lines: Vec<Vec<ScenarioPoint>> = vec![Vec::new(); cfg.scenarios.len()];
    let mut on_row = |row: &TimelineRow| {
        for (sc, s) in row.scenarios.iter().enumerate() {
            push_point(
                &mut lines[sc],
                ScenarioPoint {
                    elapsed_s: row.elapsed_s,
                    width_s: 1,
                    iterations: s.iterations,
                    failed: s.failed,
                    in_flight: shared.runs[sc].running.load(Ordering::Relaxed),
                    flow_p95_ms: s.flow.map(|p| p.p95_ms),
                },
            );
        }
        on_row(row);
    };
    loop {
        let tick = t0 + Duration::from_secs(second + 1) + ROW_GRACE;
        let wake = hard_end
            .map_or(tick, |h| tick.min(h))
            .min(Instant::now() + Duration::from_millis(50));
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            done = tasks.join_next() => if done.is_none() { break },
        }
        let now = Instant::now();
        if let Some(r) = stop.reason() {
            stopped = Some(r);
            break;
        }
        if hard_end.is_some_and(|h| now >= h) {
            break;
        }
        if now >= tick {
            for row in shared.rows(second, second + 1, now) {
                on_row(&row);
            }
            second += 1;
            if second.is_multiple_of(TRIM_EVERY_S) {
                give_back_free_memory();
            }
        }
    }
    shared.stopping.store(true, Ordering::Relaxed);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    for run in &shared.runs {
        // Set under the lock by the arrival clock, so no worker starts after this.
        let mut open = std::mem::take(&mut *run.open_workers.lock().unwrap_or_else(|e| e.into_inner()));
        open.abort_all();
        while open.join_next().await.is_some() {}
    }
    // Aborted workers never lowered the count for the request they were in.
    let in_flight: Vec<u64> = shared.in_flight.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    let still_waiting: u64 = in_flight.iter().sum();
    let (cancelled, unanswered) = if stopped.is_some() {
        // Interrupted: what they would have got is unknown.
        (still_waiting, 0)
    } else {
        // The load ran out with requests unanswered after the graceful
        // stop: a server that never answers has failed them.
        let why = format!(
            "no answer when the load ended ({} after the last request was due)",
            crate::config::units::format_duration(cfg.graceful_stop())
        );
        for (endpoint, &n) in in_flight.iter().enumerate() {
            let rec = Record {
                endpoint,
                error: Some(ErrorKind::Timeout),
                detail: Some(why.clone()),
                ..Record::default()
            };
            for _ in 0..n {
                shared.record(&rec, None);
            }
        }
        (0, still_waiting)
    };
    if stopped.is_none() {
        // Iterations the end cut off where they were.
        for (sc, run) in shared.runs.iter().enumerate() {
            for _ in 0..run.running.load(Ordering::Relaxed) {
                shared.record_iteration(sc, Outcome::Interrupted);
            }
        }
    }

    let now = Instant::now();
    let last_end = shared
        .shards
        .iter()
        .filter_map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).last_end)
        .max();
    let end = match (stopped, last_end) {
        (None, Some(l)) => l,
        _ => now,
    };
    let last_second = end.saturating_duration_since(t0).as_secs_f64().ceil() as u64;
    for row in shared.rows(second, last_second.max(second), end) {
        on_row(&row);
    }
    let mut endpoints: Vec<(String, EndpointStats)> = cfg
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), EndpointStats::default()))
        .collect();
    let mut flows = empty_flows(&cfg);
    for shard in &shared.shards {
        let s = shard.lock().unwrap_or_else(|e| e.into_inner());
        for (i, e) in s.endpoints.iter().enumerate() {
            endpoints[i].1.merge(e);
        }
        for (mine, theirs) in flows.iter_mut().zip(&s.flows) {
            mine.merge(theirs);
        }
    }
    let duration = end.saturating_duration_since(t0);
    let counted = end.saturating_duration_since(shared.counted_from);
    let scenarios = cfg
        .scenarios
        .iter()
        .zip(&shared.runs)
        .zip(flows)
        .zip(lines)
        .filter(|(((s, _), _), _)| !s.name.is_empty())
        .map(|(((s, run), flow), timeline)| ScenarioRecording {
            timeline,
            name: s.name.clone(),
            executor: s.executor_name.clone(),
            model: s.executor.model(),
            target_rate: match &s.executor {
                Executor::Open { plan, .. } => Some(plan.peak()),
                Executor::Closed { .. } => None,
            },
            start: s.start,
            workers: run.workers.load(Ordering::Relaxed),
            dropped: run.dropped.load(Ordering::Relaxed),
            steps: match &s.flow {
                Flow::Steps(j) => j.on_start.iter().chain(&j.steps).map(|st| st.name.clone()).collect(),
                Flow::Mix(_) => Vec::new(),
            },
            flow,
        })
        .collect();
    let caps: Vec<u64> = cfg
        .scenarios
        .iter()
        .filter_map(|s| match &s.executor {
            Executor::Open { max_in_flight, .. } => Some(*max_in_flight as u64),
            Executor::Closed { .. } => None,
        })
        .collect();
    let model = cfg.model();
    Ok(LoadRecording {
        model,
        target_rate: cfg.peak_rate(),
        started_at,
        ended_at: started_at + duration,
        duration: counted,
        warmup: cfg.warmup.min(duration),
        warmup_requests: shared.warmup_requests.load(Ordering::Relaxed),
        endpoints,
        dropped: shared.runs.iter().map(|r| r.dropped.load(Ordering::Relaxed)).sum(),
        cancelled,
        unanswered,
        latency_corrected: cfg.latency_correction && model != Model::Closed,
        stop: stopped,
        workers: shared.runs.iter().map(|r| r.workers.load(Ordering::Relaxed)).sum(),
        error_examples: ErrorKind::ALL
            .iter()
            .filter_map(|k| Some((k.name(), shared.examples[*k as usize].get()?.clone())))
            .collect(),
        max_in_flight: (!caps.is_empty()).then(|| caps.iter().sum()),
        scenarios,
        worker: cfg.worker,
        start_at: cfg.start_at,
        start_skew_ms,
    })
}
