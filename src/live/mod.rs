//! A run as it happens, for whoever watches it: Prometheus scraping
//! `--listen`'s `/metrics` ([`openmetrics`]), a remote-write receiver
//! ([`remote_write`]), and the live page in a browser ([`server`]). One
//! [`State`] is fed by the run (each second of load, each sample of the
//! target, the SLOs) and read as [`Family`] values, from which both the
//! text and the remote-write series are made, so they always agree.
//!
//! The series follow Prometheus's conventions: base units (seconds,
//! bytes), `_total` counters, a `run_id` label on every series, and
//! `loadprof_run_info` naming the run.

pub mod openmetrics;
pub mod page;
pub mod remote_write;
pub mod server;

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::gate::{Slo, observe::observe};
use crate::load::TimelineRow;
use crate::load::Totals;
use crate::load::stats::{ErrorKind, Hist, Percentiles};
use crate::sample::TreeSample;

/// The latency histogram's bounds, in seconds (Prometheus's defaults,
/// widened to a minute for streams).
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Seconds of history the live page gets.
const HISTORY: usize = 900;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Info,
}

/// A histogram's value: cumulative counts per bound (+Inf last), sum, count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistValue {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Number(f64),
    Histogram(HistValue),
}

/// One metric family and its samples (labels without `run_id`, which the
/// encoders add).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Without `_total` (counters) or `_info` (info), as OpenMetrics names
    /// a family.
    pub name: &'static str,
    pub help: &'static str,
    /// `seconds`, `bytes`, or empty.
    pub unit: &'static str,
    pub kind: Kind,
    pub samples: Vec<(Vec<(&'static str, String)>, Reading)>,
}

/// One second of the load, kept for the live page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct Second {
    t: u64,
    rps: f64,
    errors: u64,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

/// One sample of the target, kept for the live page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct Resource {
    t: f64,
    rss: u64,
    cpu: Option<f64>,
    threads: u64,
}

/// Everything known about the run so far.
#[derive(Debug)]
pub struct State {
    pub run_id: String,
    pub name: String,
    endpoints: Vec<String>,
    target_rate: Option<f64>,
    totals: Option<Arc<Totals>>,
    /// Seconds of load since the end of the warm-up.
    counted_s: f64,
    seconds: Vec<Second>,
    resources: Vec<Resource>,
    last_sample: Option<TreeSample>,
    cpu_seconds: f64,
    slos: Vec<Slo>,
    /// Each SLO's state: None while it cannot be judged yet.
    slo_state: Vec<(Option<bool>, Option<f64>)>,
    /// Set when the run has ended: its outcome in words.
    pub ended: Option<String>,
    /// Set once the final verdicts are in.
    final_slos: bool,
}

/// The shared state: the run writes it, the server reads it.
#[derive(Debug, Clone)]
pub struct Live(Arc<Mutex<State>>);

impl Live {
    pub fn new(name: &str, endpoints: Vec<String>, target_rate: Option<f64>, slos: Vec<Slo>) -> Live {
        let n = slos.len();
        Live(Arc::new(Mutex::new(State {
            run_id: format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff),
            name: name.to_string(),
            endpoints,
            target_rate,
            totals: None,
            counted_s: 0.0,
            seconds: Vec::new(),
            resources: Vec::new(),
            last_sample: None,
            cpu_seconds: 0.0,
            slos,
            slo_state: vec![(None, None); n],
            ended: None,
            final_slos: false,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one second of load (with its running totals, when the engine
    /// was asked for them).
    pub fn row(&self, row: &TimelineRow) {
        let mut s = self.lock();
        s.seconds.push(Second {
            t: row.elapsed_s,
            rps: round(row.rps()),
            errors: row.errors,
            p50: row.latency.map(|l| l.p50_ms),
            p95: row.latency.map(|l| l.p95_ms),
            p99: row.latency.map(|l| l.p99_ms),
        });
        if s.seconds.len() > HISTORY {
            let drop = s.seconds.len() - HISTORY;
            s.seconds.drain(..drop);
        }
        if let Some(t) = &row.totals {
            s.totals = Some(t.clone());
        }
        s.counted_s = row.elapsed_s as f64 + row.width_s;
        s.judge();
    }

    /// Takes one sample of the target.
    pub fn sample(&self, t: &TreeSample) {
        let mut s = self.lock();
        if let (Some(prev), Some(cpu)) = (&s.last_sample, t.cpu_percent) {
            let dt = t.elapsed.saturating_sub(prev.elapsed).as_secs_f64();
            s.cpu_seconds += cpu / 100.0 * dt;
        }
        s.resources.push(Resource {
            t: round(t.elapsed.as_secs_f64()),
            rss: t.rss_bytes,
            cpu: t.cpu_percent.map(round),
            threads: t.threads,
        });
        if s.resources.len() > HISTORY * 10 {
            // Sampled every 100 ms: keep every other one of the older half.
            let half = s.resources.len() / 2;
            let older: Vec<Resource> = s.resources.drain(..half).step_by(2).collect();
            s.resources.splice(0..0, older);
        }
        s.last_sample = Some(*t);
    }

    /// The final verdicts, as the result has them.
    pub fn verdicts(&self, results: &[crate::gate::SloResult]) {
        let mut s = self.lock();
        s.slo_state = s
            .slos
            .iter()
            .map(|slo| {
                results
                    .iter()
                    .find(|r| r.name == slo.name)
                    .map_or((None, None), |r| (Some(r.pass), r.observed))
            })
            .collect();
        s.final_slos = true;
    }

    /// The run has ended (`outcome` in words).
    pub fn end(&self, outcome: &str) {
        self.lock().ended = Some(outcome.to_string());
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The cumulative count of `h` (in microseconds) at each bound, +Inf last.
fn buckets(h: &Hist) -> HistValue {
    let mut buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
        .iter()
        .map(|&b| (b, h.count_between(0, (b * 1e6) as u64)))
        .collect();
    buckets.push((f64::INFINITY, h.len()));
    HistValue {
        buckets,
        sum: h.mean() * h.len() as f64 / 1e6,
        count: h.len(),
    }
}

impl State {
    /// What the SLOs that the load and the samples can answer say now.
    fn judge(&mut self) {
        if self.final_slos {
            return;
        }
        let doc = self.partial_doc();
        self.slo_state = self
            .slos
            .iter()
            .map(|slo| match observe(&slo.metric, &doc) {
                Some(v) => (Some(slo.judge(Some(v)).pass), Some(v)),
                None => (None, None),
            })
            .collect();
    }

    /// The load and resources so far, in result.json's shape, for the gate.
    fn partial_doc(&self) -> Value {
        let Some(t) = &self.totals else {
            return Value::Null;
        };
        let mut all = crate::load::stats::new_hist();
        let endpoints: Vec<Value> = self
            .endpoints
            .iter()
            .zip(&t.endpoints)
            .map(|(name, e)| {
                crate::load::stats::add(&mut all, &e.latency);
                json!({
                    "name": name,
                    "requests": e.requests,
                    "errors": e.errors.total(),
                    "check_failures": e.errors.check,
                    "latency": Percentiles::of(&e.latency),
                })
            })
            .collect();
        let requests: u64 = t.endpoints.iter().map(|e| e.requests).sum();
        let rss_max = self.resources.iter().map(|r| r.rss).max();
        let cpu: Vec<f64> = self.resources.iter().filter_map(|r| r.cpu).collect();
        json!({
            "load": {
                "endpoints": endpoints,
                "latency": Percentiles::of(&all),
                "duration_s": self.counted_s,
                "totals": {"rps": if self.counted_s > 0.0 { requests as f64 / self.counted_s } else { 0.0 }},
            },
            "resources": {
                "rss_bytes": {"max": rss_max},
                "threads": {"max": self.resources.iter().map(|r| r.threads).max()},
                "cpu_percent": {"mean": (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64)},
            },
        })
    }

    /// Every series, as both encoders write them.
    pub fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        out.push(Family {
            name: "loadprof_run",
            help: "The run: its profile's name and loadprof's version.",
            unit: "",
            kind: Kind::Info,
            samples: vec![(
                vec![
                    ("profile", self.name.clone()),
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                    (
                        "state",
                        if self.ended.is_some() { "ended" } else { "running" }.to_string(),
                    ),
                ],
                Reading::Number(1.0),
            )],
        });
        if let Some(t) = &self.totals {
            let per = |f: &dyn Fn(usize) -> Reading| -> Vec<(Vec<(&'static str, String)>, Reading)> {
                self.endpoints
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (vec![("endpoint", n.clone())], f(i)))
                    .collect()
            };
            let mut requests = Vec::new();
            let mut errors = Vec::new();
            for (name, e) in self.endpoints.iter().zip(&t.endpoints) {
                let failed = e.errors.total();
                requests.push((
                    vec![("endpoint", name.clone()), ("outcome", "ok".to_string())],
                    Reading::Number(e.requests.saturating_sub(failed) as f64),
                ));
                requests.push((
                    vec![("endpoint", name.clone()), ("outcome", "error".to_string())],
                    Reading::Number(failed as f64),
                ));
                for kind in ErrorKind::ALL {
                    errors.push((
                        vec![("endpoint", name.clone()), ("kind", kind.name().to_string())],
                        Reading::Number(e.errors.of(kind) as f64),
                    ));
                }
            }
            out.push(Family {
                name: "loadprof_requests",
                help: "Requests finished after the warm-up, by endpoint and outcome.",
                unit: "",
                kind: Kind::Counter,
                samples: requests,
            });
            out.push(Family {
                name: "loadprof_errors",
                help: "Failed requests by endpoint and kind of error.",
                unit: "",
                kind: Kind::Counter,
                samples: errors,
            });
            out.push(Family {
                name: "loadprof_request_duration_seconds",
                help: "Latency of the requests that got an answer (from the intended start in the open model).",
                unit: "seconds",
                kind: Kind::Histogram,
                samples: per(&|i| Reading::Histogram(buckets(&t.endpoints[i].latency))),
            });
            out.push(Family {
                name: "loadprof_response_bytes",
                help: "Bytes of answers received, by endpoint.",
                unit: "bytes",
                kind: Kind::Counter,
                samples: per(&|i| Reading::Number(t.endpoints[i].bytes as f64)),
            });
            out.push(Family {
                name: "loadprof_requests_in_flight",
                help: "Requests waiting for an answer, by endpoint.",
                unit: "",
                kind: Kind::Gauge,
                samples: per(&|i| Reading::Number(t.in_flight.get(i).copied().unwrap_or(0) as f64)),
            });
            out.push(Family {
                name: "loadprof_dropped_arrivals",
                help: "Open-model arrivals not started because max_in_flight requests were waiting.",
                unit: "",
                kind: Kind::Counter,
                samples: vec![(vec![], Reading::Number(t.dropped as f64))],
            });
            out.push(Family {
                name: "loadprof_warmup_requests",
                help: "Requests that ended in the warm-up, counted in no other series.",
                unit: "",
                kind: Kind::Counter,
                samples: vec![(vec![], Reading::Number(t.warmup_requests as f64))],
            });
        }
        if let Some(r) = self.target_rate {
            out.push(Family {
                name: "loadprof_target_rate",
                help: "The planned arrival rate, requests per second.",
                unit: "",
                kind: Kind::Gauge,
                samples: vec![(vec![], Reading::Number(r))],
            });
        }
        if let Some(s) = &self.last_sample {
            let gauge = |name, help, unit, v: f64| Family {
                name,
                help,
                unit,
                kind: Kind::Gauge,
                samples: vec![(vec![], Reading::Number(v))],
            };
            out.push(gauge(
                "loadprof_target_resident_memory_bytes",
                "The target's process tree: resident memory.",
                "bytes",
                s.rss_bytes as f64,
            ));
            out.push(gauge(
                "loadprof_target_threads",
                "The target's process tree: threads.",
                "",
                s.threads as f64,
            ));
            out.push(Family {
                name: "loadprof_target_cpu_seconds",
                help: "The target's process tree: CPU time used since sampling began.",
                unit: "seconds",
                kind: Kind::Counter,
                samples: vec![(vec![], Reading::Number(round(self.cpu_seconds)))],
            });
            if let Some(g) = s.gpu_mem_bytes {
                out.push(gauge(
                    "loadprof_target_gpu_memory_bytes",
                    "The target's process tree: GPU memory.",
                    "bytes",
                    g as f64,
                ));
            }
        }
        if !self.slos.is_empty() {
            out.push(Family {
                name: "loadprof_slo_passing",
                help: "1 while an SLO holds, 0 when it does not; absent until it can be judged.",
                unit: "",
                kind: Kind::Gauge,
                samples: self
                    .slos
                    .iter()
                    .zip(&self.slo_state)
                    .filter_map(|(slo, (pass, _))| {
                        Some((
                            vec![("slo", slo.name.clone())],
                            Reading::Number(f64::from(u8::from((*pass)?))),
                        ))
                    })
                    .collect(),
            });
        }
        out
    }

    /// What the live page shows, as JSON.
    pub fn page_json(&self) -> Value {
        let totals = self.totals.as_ref().map(|t| {
            let requests: u64 = t.endpoints.iter().map(|e| e.requests).sum();
            let errors: u64 = t.endpoints.iter().map(|e| e.errors.total()).sum();
            let in_flight: u64 = t.in_flight.iter().sum();
            json!({"requests": requests, "errors": errors, "in_flight": in_flight, "dropped": t.dropped})
        });
        json!({
            "run_id": self.run_id,
            "name": self.name,
            "ended": self.ended,
            "target_rate": self.target_rate,
            "totals": totals,
            "seconds": self.seconds,
            "resources": self.resources,
            "slos": self.slos.iter().zip(&self.slo_state).map(|(s, (pass, observed))| json!({
                "name": s.name,
                "expr": s.text,
                "pass": pass,
                "observed": observed,
                "shown": crate::report::verdicts::show(*observed, s.metric.unit().name()),
            })).collect::<Vec<_>>(),
        })
    }
}
