//! One probe: the load's requests at a fixed arrival rate for a warm-up and
//! a hold, on the load engine, measured into what [`super::judge`] needs.
//! Requests that end in the warm-up are left out of every figure; the
//! engine's graceful stop drains what is in flight before the next probe.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::judge::ProbeStats;
use crate::cancel::StopToken;
use crate::gate::{Slo, observe::observe};
use crate::load::plan::RatePlan;
use crate::load::{Executor, LoadConfig, LoadError, LoadRecording, TimelineRow};

/// How one probe is run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSpec {
    pub rate: f64,
    pub warmup: Duration,
    pub hold: Duration,
    pub poisson: bool,
    pub max_in_flight: usize,
}

/// What one probe measured.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub stats: ProbeStats,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Seconds it took, drain included.
    pub took_s: f64,
    pub recording: LoadRecording,
}

/// The base config with its one scenario made an open model at `spec`.
pub fn config_for(base: &LoadConfig, spec: &ProbeSpec) -> LoadConfig {
    let mut cfg = base.clone();
    let length = spec.warmup + spec.hold;
    cfg.warmup = spec.warmup;
    cfg.live = true;
    cfg.max_requests = None;
    let share = spec.rate / cfg.scenarios.len().max(1) as f64;
    for s in &mut cfg.scenarios {
        s.executor = Executor::Open {
            plan: RatePlan::constant(share, Some(length)),
            poisson: spec.poisson,
            max_in_flight: spec.max_in_flight,
            phase: 0.0,
        };
        s.executor_name = "constant-arrival-rate".into();
        s.start = Duration::ZERO;
        s.duration = Some(length);
    }
    cfg
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Runs one probe on `runtime`, judging `slos` on its requests only.
pub fn run(
    base: &LoadConfig,
    spec: &ProbeSpec,
    slos: &[Slo],
    stop: &StopToken,
    runtime: &tokio::runtime::Runtime,
) -> Result<ProbeRun, LoadError> {
    let cfg = config_for(base, spec);
    let warm_s = spec.warmup.as_secs_f64();
    let end_s = warm_s + spec.hold.as_secs_f64();
    // Answers counted over whole seconds of the hold only: the drain after
    // the schedule ends would lower the rate of a service that kept up.
    let (mut answered, mut width) = (0u64, 0.0f64);
    let mut latency: Vec<(f64, f64)> = Vec::new();
    let mut in_flight: Vec<(f64, f64)> = Vec::new();
    let t0 = Instant::now();
    let cpu0 = cpu_seconds();
    let mut on_row = |row: &TimelineRow| {
        let t = row.elapsed_s as f64 + row.width_s / 2.0;
        // Whole seconds of the hold only: a last short second is mostly empty.
        if (row.elapsed_s as f64) < warm_s || row.width_s < 0.5 || row.elapsed_s as f64 + row.width_s > end_s + 1e-6 {
            return;
        }
        answered += row.requests;
        width += row.width_s;
        if let Some(l) = row.latency {
            latency.push((t, l.p50_ms));
        }
        if let Some(tot) = &row.totals {
            in_flight.push((t, tot.in_flight.iter().sum::<u64>() as f64));
        }
    };
    let rec = runtime.block_on(crate::load::run(cfg, stop, &mut on_row))?;
    let took = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let doc = serde_json::to_value(crate::report::schema::ResultDoc::from_load(&rec, None)).unwrap_or(Value::Null);
    let load = &doc["load"];
    let planned = spec.rate * (spec.warmup + spec.hold).as_secs_f64();
    let achieved = if width > 0.0 {
        answered as f64 / width
    } else {
        load["totals"]["rps"].as_f64().unwrap_or(0.0)
    };
    // What arrived: what was answered, plus what was still waiting at the
    // end of the hold beyond what was waiting at its start. A backlog of a
    // few requests is the sampling's noise, not a queue.
    let backlog = match (in_flight.first(), in_flight.last()) {
        (Some(a), Some(b)) if b.0 > a.0 && b.1 - a.1 > (3.0f64).max(0.01 * answered as f64) => {
            (b.1 - a.1) / (b.0 - a.0)
        }
        _ => 0.0,
    };
    let stats = ProbeStats {
        offered: spec.rate,
        arrived: achieved + backlog.max(0.0),
        achieved,
        error_rate: 1.0 - load["totals"]["success_rate"].as_f64().unwrap_or(1.0),
        slos: slos.iter().map(|s| s.judge(observe(&s.metric, &doc))).collect(),
        latency,
        in_flight,
        late_share: if planned > 0.0 {
            rec.dropped as f64 / planned
        } else {
            0.0
        },
        generator_cpu: if took > 0.0 { cpu / took } else { 0.0 },
        cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
    };
    Ok(ProbeRun {
        stats,
        p50_ms: load["latency"]["p50_ms"].as_f64(),
        p95_ms: load["latency"]["p95_ms"].as_f64(),
        p99_ms: load["latency"]["p99_ms"].as_f64(),
        took_s: took,
        recording: rec,
    })
}
