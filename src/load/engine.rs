//! One worker loop for every executor: a worker takes the next due time
//! from its pacer (a closed-model user's own rhythm, or tickets from the
//! open model's arrival clock), sends one request on its own connection,
//! and records it. Records go straight into sharded aggregates; a timeline
//! row is cut from them once a second.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::client::{Connector, Limits, WorkerConn};
use super::plan::{ThinkTime, user_start};
use super::stats::{EndpointStats, ErrorKind, Hist, Percentiles, Record, add, new_hist, record};
use super::{Endpoint, Executor, LoadConfig, Model};
use crate::cancel::{StopReason, StopToken};

/// Grace after a second ends before its row is cut, so records stamped just
/// before the boundary have reached their shard.
const ROW_GRACE: Duration = Duration::from_millis(20);

/// One second of load: requests that ended in it and their latency.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// Seconds from the start of the load to the start of this row.
    pub elapsed_s: u64,
    /// Length of the row: 1 s, or less for the last one.
    pub width_s: f64,
    pub requests: u64,
    pub errors: u64,
    /// p50, p95 and p99 of the latency of the requests that got an answer.
    pub latency: Option<Percentiles>,
}

impl TimelineRow {
    pub fn rps(&self) -> f64 {
        if self.width_s > 0.0 {
            self.requests as f64 / self.width_s
        } else {
            0.0
        }
    }
}

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

struct Bucket {
    requests: u64,
    errors: u64,
    latency: Hist,
}

struct Shard {
    endpoints: Vec<EndpointStats>,
    /// Seconds not yet cut into rows, the first being `first_second`.
    seconds: VecDeque<Bucket>,
    first_second: u64,
    last_end: Option<Instant>,
}

struct Shared {
    cfg: Arc<LoadConfig>,
    connector: Connector,
    limits: Limits,
    t0: Instant,
    /// Requests that end before this are the warm-up: in the timeline only.
    counted_from: Instant,
    warmup_requests: AtomicU64,
    deadline: Option<Instant>,
    shards: Vec<Mutex<Shard>>,
    /// Requests started, checked against `max_requests`.
    issued: AtomicU64,
    /// Requests in flight, per endpoint.
    in_flight: Vec<AtomicU64>,
    dropped: AtomicU64,
    workers: AtomicU64,
    stopping: AtomicBool,
    cumulative_weights: Vec<u64>,
    /// The open model's workers, started by the arrival clock.
    open_workers: Mutex<JoinSet<()>>,
    /// The first failure of each kind, by `ErrorKind as usize`.
    examples: [OnceLock<String>; ErrorKind::ALL.len()],
}

impl Shared {
    fn pick(&self, rng: &mut SmallRng) -> &Endpoint {
        let eps = &self.cfg.endpoints;
        if eps.len() == 1 {
            return &eps[0];
        }
        let total = *self.cumulative_weights.last().unwrap_or(&1);
        let x = rng.random_range(0..total);
        let i = self.cumulative_weights.partition_point(|&c| c <= x);
        &eps[i.min(eps.len() - 1)]
    }

    /// Claims one request from `max_requests`; false when none are left.
    fn claim(&self) -> bool {
        match self.cfg.max_requests {
            Some(max) => self.issued.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    fn past_deadline(&self, at: Instant) -> bool {
        self.stopping.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| at >= d)
    }

    fn record(&self, rec: &Record, gaps: Option<&Hist>) {
        if let (Some(kind), Some(detail)) = (rec.error, &rec.detail) {
            self.examples[kind as usize].get_or_init(|| detail.clone());
        }
        let end = Instant::now();
        let second = end.saturating_duration_since(self.t0).as_secs();
        let mut s = self.shards[thread_shard() % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if end >= self.counted_from {
            let ep = &mut s.endpoints[rec.endpoint];
            ep.record(rec);
            let gaps = gaps.filter(|g| !g.is_empty());
            if let Some(gaps) = gaps {
                add(&mut ep.chunk_gap, gaps);
            }
            ep.chunks += u64::from(rec.first_chunk.is_some()) + gaps.map_or(0, |g| g.len());
        } else {
            self.warmup_requests.fetch_add(1, Ordering::Relaxed);
        }
        let idx = second.saturating_sub(s.first_second) as usize;
        while s.seconds.len() <= idx {
            s.seconds.push_back(Bucket {
                requests: 0,
                errors: 0,
                latency: new_hist(),
            });
        }
        let b = &mut s.seconds[idx];
        b.requests += 1;
        b.errors += u64::from(rec.error.is_some());
        if rec.answered() {
            record(&mut b.latency, rec.latency);
        }
        s.last_end = Some(s.last_end.map_or(end, |l| l.max(end)));
    }

    /// Cuts the rows of seconds `from..upto`; a second without requests
    /// still gets its row.
    fn cut_rows(&self, from: u64, upto: u64, now: Instant) -> Vec<TimelineRow> {
        let mut rows: Vec<(u64, Bucket)> = Vec::new();
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(|e| e.into_inner());
            while s.first_second < upto {
                let b = s.seconds.pop_front();
                let sec = s.first_second;
                s.first_second += 1;
                let Some(b) = b else { continue };
                match rows.iter_mut().find(|(k, _)| *k == sec) {
                    Some((_, r)) => {
                        r.requests += b.requests;
                        r.errors += b.errors;
                        add(&mut r.latency, &b.latency);
                    }
                    None => rows.push((sec, b)),
                }
            }
        }
        let elapsed = now.saturating_duration_since(self.t0).as_secs_f64();
        (from..upto)
            .map(|sec| {
                let b = rows.iter().find(|(k, _)| *k == sec).map(|(_, b)| b);
                TimelineRow {
                    elapsed_s: sec,
                    width_s: (elapsed - sec as f64).clamp(0.0, 1.0),
                    requests: b.map_or(0, |b| b.requests),
                    errors: b.map_or(0, |b| b.errors),
                    latency: b.and_then(|b| Percentiles::of(&b.latency)),
                }
            })
            .collect()
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

/// What a worker waits on for its next request.
enum Pacer {
    Closed {
        start_at: Instant,
        think: ThinkTime,
        iterations_left: Option<u64>,
        started: bool,
    },
    Open {
        first: Option<Instant>,
        tickets: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Instant>>>,
        idle: Arc<AtomicUsize>,
    },
}

impl Pacer {
    /// The intended start of the next request, or `None` when this worker is done.
    async fn next(&mut self, shared: &Shared, rng: &mut SmallRng) -> Option<Instant> {
        match self {
            Pacer::Closed {
                start_at,
                think,
                iterations_left,
                started,
            } => {
                let first = !*started;
                let wake = if first {
                    *started = true;
                    Some(*start_at)
                } else {
                    let pause = think.pick(rng.random());
                    (!pause.is_zero()).then(|| Instant::now() + pause)
                };
                if let Some(wake) = wake {
                    let wake = shared.deadline.map_or(wake, |d| wake.min(d));
                    tokio::time::sleep_until(wake.into()).await;
                }
                let now = Instant::now();
                if shared.past_deadline(now) || *iterations_left == Some(0) || !shared.claim() {
                    return None;
                }
                if let Some(n) = iterations_left {
                    *n -= 1;
                }
                if first {
                    // Counted once started: a user due after the end never runs.
                    shared.workers.fetch_add(1, Ordering::Relaxed);
                }
                Some(now)
            }
            Pacer::Open { first, tickets, idle } => {
                if let Some(t) = first.take() {
                    return Some(t);
                }
                idle.fetch_add(1, Ordering::AcqRel);
                tickets.lock().await.recv().await
            }
        }
    }
}

async fn worker(shared: Arc<Shared>, mut pacer: Pacer, index: u64) {
    let mut rng = SmallRng::seed_from_u64(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ rand::rng().random::<u64>());
    let mut conn = WorkerConn::new();
    let correct = shared.cfg.latency_correction;
    while let Some(intended) = pacer.next(&shared, &mut rng).await {
        let ep = shared.pick(&mut rng);
        let intended = if correct { intended } else { Instant::now() };
        shared.in_flight[ep.index].fetch_add(1, Ordering::Relaxed);
        let rec = conn
            .exchange(&shared.connector, ep, &mut rng, shared.limits, intended)
            .await;
        shared.in_flight[ep.index].fetch_sub(1, Ordering::Relaxed);
        shared.record(&rec, conn.gaps.as_ref());
    }
}

/// Longest single sleep of the arrival clock, so it notices a stop soon.
const CLOCK_SLICE: Duration = Duration::from_millis(50);

/// The open model: runs the arrival clock on a thread of its own, then
/// waits for the workers it started.
async fn arrivals(shared: Arc<Shared>) {
    let handle = tokio::runtime::Handle::current();
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || arrival_clock(&s, &handle)).await;
    let mut workers = std::mem::take(&mut *shared.open_workers.lock().unwrap_or_else(|e| e.into_inner()));
    while workers.join_next().await.is_some() {}
}

/// The open model's arrival clock. At each planned arrival it hands a
/// ticket to an idle worker, starts a new worker if fewer than
/// `max_in_flight` exist, or counts the arrival as dropped. It sleeps with
/// the kernel's precise timers on its own thread, so arrivals are not
/// rounded to the runtime's millisecond timer wheel nor delayed by busy
/// workers; whatever lateness remains is still measured, since latency
/// counts from the intended time.
fn arrival_clock(shared: &Arc<Shared>, handle: &tokio::runtime::Handle) {
    let Executor::Open {
        plan,
        poisson,
        max_in_flight,
    } = shared.cfg.executor.clone()
    else {
        return;
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let tickets = Arc::new(tokio::sync::Mutex::new(rx));
    let idle = Arc::new(AtomicUsize::new(0));
    let mut started = 0usize;
    let mut rng = SmallRng::seed_from_u64(rand::rng().random());
    let mut u = 0.0f64;
    while let Some(at) = plan.time_of(u) {
        let intended = shared.t0 + at;
        // The wall clock too: a schedule that has fallen behind (arrivals
        // due faster than they can be handed out) still ends on time.
        if shared.past_deadline(intended) || shared.past_deadline(Instant::now()) {
            return;
        }
        loop {
            let now = Instant::now();
            if now >= intended || shared.stopping.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep((intended - now).min(CLOCK_SLICE));
        }
        if shared.stopping.load(Ordering::Relaxed) || !shared.claim() {
            return;
        }
        let claimed_idle = idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if claimed_idle {
            let _ = tx.send(intended);
        } else if started < max_in_flight {
            let mut workers = shared.open_workers.lock().unwrap_or_else(|e| e.into_inner());
            // The run may have ended while this arrival was due.
            if shared.stopping.load(Ordering::Relaxed) {
                return;
            }
            started += 1;
            let n = shared.workers.fetch_add(1, Ordering::Relaxed);
            let pacer = Pacer::Open {
                first: Some(intended),
                tickets: tickets.clone(),
                idle: idle.clone(),
            };
            workers.spawn_on(worker(shared.clone(), pacer, n), handle);
        } else {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        u += if poisson {
            // A unit exponential draw: the gap to the next Poisson arrival.
            -(1.0 - rng.random::<f64>()).ln()
        } else {
            1.0
        };
    }
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
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let n_shards = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = Arc::new(Shared {
        connector,
        limits: Limits {
            timeout: cfg.timeout,
            stream_timeout: cfg.stream_timeout,
        },
        t0,
        counted_from: t0 + cfg.warmup,
        warmup_requests: AtomicU64::new(0),
        deadline: cfg.duration.map(|d| t0 + d),
        shards: (0..n_shards)
            .map(|_| {
                Mutex::new(Shard {
                    endpoints: vec![EndpointStats::default(); cfg.endpoints.len()],
                    seconds: VecDeque::new(),
                    first_second: 0,
                    last_end: None,
                })
            })
            .collect(),
        issued: AtomicU64::new(0),
        in_flight: cfg.endpoints.iter().map(|_| AtomicU64::new(0)).collect(),
        dropped: AtomicU64::new(0),
        workers: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
        cumulative_weights: cfg
            .endpoints
            .iter()
            .scan(0u64, |acc, e| {
                *acc += u64::from(e.weight);
                Some(*acc)
            })
            .collect(),
        cfg: cfg.clone(),
        open_workers: Mutex::new(JoinSet::new()),
        examples: Default::default(),
    });

    let mut tasks = JoinSet::new();
    match &cfg.executor {
        Executor::Closed {
            users,
            spawn_rate,
            think,
            iterations,
        } => {
            for i in 0..*users {
                let pacer = Pacer::Closed {
                    start_at: t0 + user_start(i, *spawn_rate),
                    think: *think,
                    iterations_left: *iterations,
                    started: false,
                };
                tasks.spawn(worker(shared.clone(), pacer, i as u64));
            }
        }
        Executor::Open { .. } => {
            tasks.spawn(arrivals(shared.clone()));
        }
    }

    let hard_end = shared.deadline.map(|d| d + cfg.graceful_stop);
    let mut second = 0u64;
    let mut stopped = None;
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
            for row in shared.cut_rows(second, second + 1, now) {
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
    // Set under the lock by the arrival clock, so no worker starts after this.
    let mut open = std::mem::take(&mut *shared.open_workers.lock().unwrap_or_else(|e| e.into_inner()));
    open.abort_all();
    while open.join_next().await.is_some() {}
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
            crate::config::units::format_duration(cfg.graceful_stop)
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
    for row in shared.cut_rows(second, last_second.max(second), end) {
        on_row(&row);
    }
    let mut endpoints: Vec<(String, EndpointStats)> = cfg
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), EndpointStats::default()))
        .collect();
    for shard in &shared.shards {
        let s = shard.lock().unwrap_or_else(|e| e.into_inner());
        for (i, e) in s.endpoints.iter().enumerate() {
            endpoints[i].1.merge(e);
        }
    }
    let duration = end.saturating_duration_since(t0);
    let counted = end.saturating_duration_since(shared.counted_from);
    Ok(LoadRecording {
        model: cfg.executor.model(),
        target_rate: match &cfg.executor {
            Executor::Open { plan, .. } => Some(plan.peak()),
            Executor::Closed { .. } => None,
        },
        started_at,
        ended_at: started_at + duration,
        duration: counted,
        warmup: cfg.warmup.min(duration),
        warmup_requests: shared.warmup_requests.load(Ordering::Relaxed),
        endpoints,
        dropped: shared.dropped.load(Ordering::Relaxed),
        cancelled,
        unanswered,
        latency_corrected: cfg.latency_correction && cfg.executor.model() == Model::Open,
        stop: stopped,
        workers: shared.workers.load(Ordering::Relaxed),
        error_examples: ErrorKind::ALL
            .iter()
            .filter_map(|k| Some((k.name(), shared.examples[*k as usize].get()?.clone())))
            .collect(),
        max_in_flight: match &cfg.executor {
            Executor::Open { max_in_flight, .. } => Some(*max_in_flight as u64),
            Executor::Closed { .. } => None,
        },
    })
}
