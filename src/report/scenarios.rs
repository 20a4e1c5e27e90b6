//! The `load.scenarios` section of result.json: one entry per named
//! scenario (its executor, iterations, failures by step, flow latency), and
//! a poll step's `attempts`; both merge exactly for `loadprof merge`.

use serde::{Deserialize, Serialize};

use super::load::Latency;
use crate::load::journey::FlowStats;
use crate::load::stats::{self, Hist};
use crate::load::{Model, ScenarioPoint, ScenarioRecording};

/// Failed iterations at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFailures {
    pub step: String,
    pub count: u64,
    /// The first failure, in words.
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSection {
    pub name: String,
    pub executor: String,
    pub model: Model,
    /// Seconds from the start of the load to the scenario's first iteration.
    pub start_s: f64,
    /// Open model: the peak planned rate of iterations per second.
    pub target_rate: Option<f64>,
    /// Users (closed model) or workers (open model) started.
    pub workers: u64,
    /// Open model: arrivals not started because `max_in_flight` were busy.
    pub dropped: u64,
    /// Iterations that ran to an end, failed ones included.
    pub iterations: u64,
    pub failed_iterations: u64,
    /// Iterations cut off by the scenario's graceful stop (not in `iterations`).
    pub interrupted_iterations: u64,
    /// `failed_iterations / iterations`.
    pub iteration_fail_rate: f64,
    /// One successful iteration, from its (intended) start to its end.
    pub flow: Option<Latency>,
    /// The same less think time and poll intervals: time spent in requests.
    pub active: Option<Latency>,
    /// Where failed iterations failed, `on_start` steps first.
    pub failed_by_step: Vec<StepFailures>,
    /// Iterations over time, a point a second (wider on long runs).
    #[serde(default)]
    pub timeline: Vec<ScenarioPoint>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn rate(failed: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        round3(failed as f64 / all as f64 * 100.0) / 100.0
    }
}

impl ScenarioSection {
    pub fn of(r: &ScenarioRecording) -> ScenarioSection {
        let f = &r.flow;
        ScenarioSection {
            name: r.name.clone(),
            executor: r.executor.clone(),
            model: r.model,
            start_s: round3(r.start.as_secs_f64()),
            target_rate: r.target_rate,
            workers: r.workers,
            dropped: r.dropped,
            iterations: f.iterations,
            failed_iterations: f.failed,
            interrupted_iterations: f.interrupted,
            iteration_fail_rate: rate(f.failed, f.iterations),
            flow: Latency::of(&f.flow),
            active: Latency::of(&f.active),
            failed_by_step: r
                .steps
                .iter()
                .zip(&f.failed_by_step)
                .map(|(step, (count, example))| StepFailures {
                    step: step.clone(),
                    count: *count,
                    example: example.clone(),
                })
                .collect(),
            timeline: r.timeline.clone(),
        }
    }

    /// Adds the same scenario's sections from workers that ran side by side.
    pub fn merge(parts: &[&ScenarioSection]) -> Result<ScenarioSection, String> {
        let first = *parts.first().ok_or("nothing to merge")?;
        let steps: Vec<String> = first.failed_by_step.iter().map(|s| s.step.clone()).collect();
        let mut flow = FlowStats::new(steps.len());
        let mut workers = 0;
        let mut dropped = 0;
        for p in parts {
            let what = format!("scenario '{}'", p.name);
            let part = FlowStats {
                iterations: p.iterations,
                failed: p.failed_iterations,
                interrupted: p.interrupted_iterations,
                flow: Latency::hist(&p.flow, &format!("{what} flow"))?,
                active: Latency::hist(&p.active, &format!("{what} active"))?,
                failed_by_step: steps
                    .iter()
                    .map(|s| {
                        p.failed_by_step
                            .iter()
                            .find(|f| f.step == *s)
                            .map_or((0, None), |f| (f.count, f.example.clone()))
                    })
                    .collect(),
            };
            flow.merge(&part);
            workers += p.workers;
            dropped += p.dropped;
        }
        Ok(ScenarioSection::of(&ScenarioRecording {
            name: first.name.clone(),
            executor: first.executor.clone(),
            model: first.model,
            target_rate: parts.iter().map(|p| p.target_rate).sum(),
            start: std::time::Duration::from_secs_f64(first.start_s.max(0.0)),
            workers,
            dropped,
            steps,
            flow,
            timeline: merge_lines(parts),
        }))
    }
}

/// Workers' lines side by side: the points that start at the same second
/// add up (the worst p95 is kept).
fn merge_lines(parts: &[&ScenarioSection]) -> Vec<ScenarioPoint> {
    let mut by_start: std::collections::BTreeMap<u64, ScenarioPoint> = std::collections::BTreeMap::new();
    for p in parts {
        for point in &p.timeline {
            by_start
                .entry(point.elapsed_s)
                .and_modify(|m| {
                    m.iterations += point.iterations;
                    m.failed += point.failed;
                    m.in_flight += point.in_flight;
                    m.width_s = m.width_s.max(point.width_s);
                    m.flow_p95_ms = match (m.flow_p95_ms, point.flow_p95_ms) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                })
                .or_insert_with(|| point.clone());
        }
    }
    by_start.into_values().collect()
}

/// How many requests a poll step took until its condition held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    /// Polls that ended with their condition met.
    pub polls: u64,
    /// Requests those polls sent.
    pub total: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// HdrHistogram V2, base64, of the counts.
    pub hdr: String,
}

impl Attempts {
    pub fn of(h: &Hist) -> Option<Attempts> {
        if h.is_empty() {
            return None;
        }
        let q = |p: f64| h.value_at_quantile(p) as f64;
        Some(Attempts {
            polls: h.len(),
            total: h
                .iter_recorded()
                .map(|v| v.value_iterated_to() * v.count_at_value())
                .sum(),
            mean: round3(h.mean()),
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            max: h.max() as f64,
            hdr: stats::encode(h),
        })
    }

    pub fn hist(a: &Option<Attempts>, what: &str) -> Result<Hist, String> {
        match a {
            Some(a) => stats::decode(&a.hdr).map_err(|e| format!("{what}.hdr: {e}")),
            None => Ok(stats::new_hist()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn recording(iterations: u64, failed: u64, flows_ms: &[u64]) -> ScenarioRecording {
        let mut flow = FlowStats::new(2);
        flow.iterations = iterations;
        flow.failed = failed;
        flow.failed_by_step[1] = (failed, Some("capture 'id' found nothing".into()));
        for &ms in flows_ms {
            stats::record(&mut flow.flow, Duration::from_millis(ms));
        }
        ScenarioRecording {
            name: "jobs".into(),
            executor: "per-user-iterations".into(),
            model: Model::Closed,
            target_rate: None,
            start: Duration::from_secs(2),
            workers: 3,
            dropped: 0,
            steps: vec!["enqueue".into(), "poll".into()],
            flow,
            timeline: Vec::new(),
        }
    }

    #[test]
    fn a_section_counts_iterations_and_failures_by_step() {
        let s = ScenarioSection::of(&recording(10, 2, &[100, 200, 300]));
        assert_eq!((s.iterations, s.failed_iterations), (10, 2));
        assert_eq!(s.iteration_fail_rate, 0.2);
        assert_eq!(s.failed_by_step[1].count, 2);
        assert_eq!(s.failed_by_step[0].count, 0);
        assert_eq!(s.flow.as_ref().unwrap().percentiles.count, 3);
        assert_eq!(s.start_s, 2.0);
    }

    #[test]
    fn sections_merge_exactly_through_json() {
        let a = ScenarioSection::of(&recording(10, 2, &[100, 200, 300]));
        let b = ScenarioSection::of(&recording(5, 0, &[400, 500]));
        let a: ScenarioSection = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        let m = ScenarioSection::merge(&[&a, &b]).unwrap();
        let whole = ScenarioSection::of(&recording(15, 2, &[100, 200, 300, 400, 500]));
        assert_eq!(m.iterations, 15);
        assert_eq!(m.workers, 6);
        assert_eq!(
            m.flow.as_ref().unwrap().percentiles,
            whole.flow.as_ref().unwrap().percentiles
        );
        assert_eq!(m.failed_by_step[1].count, 2);
        assert_eq!(m.iteration_fail_rate, rate(2, 15));
    }

    #[test]
    fn attempts_count_polls_and_requests() {
        let mut h = stats::new_hist();
        for n in [1u64, 3, 3, 5] {
            h.record(n).unwrap();
        }
        let a = Attempts::of(&h).unwrap();
        assert_eq!((a.polls, a.total, a.max), (4, 12, 5.0));
        assert_eq!(a.mean, 3.0);
        assert!(Attempts::of(&stats::new_hist()).is_none());
    }
}
