//! The `load` section of result.json (DESIGN.md), built from a load
//! recording, and the exact merge of several of them (`loadprof merge`):
//! counters are added, histograms are decoded from `hdr`, added, and every
//! percentile is recomputed from the sum.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scenarios::{Attempts, ScenarioSection};
use crate::load::stats::{self, EndpointStats, ErrorCounts, Hist, Percentiles, PollStats};
use crate::load::{LoadRecording, Model};

/// A latency distribution: its percentiles and its histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    #[serde(flatten)]
    pub percentiles: Percentiles,
    /// HdrHistogram V2 serialisation, base64, of microsecond values.
    pub hdr: String,
}

impl Latency {
    pub fn of(h: &Hist) -> Option<Latency> {
        Some(Latency {
            percentiles: Percentiles::of(h)?,
            hdr: stats::encode(h),
        })
    }

    pub(crate) fn hist(l: &Option<Latency>, what: &str) -> Result<Hist, String> {
        match l {
            Some(l) => stats::decode(&l.hdr).map_err(|e| format!("{what}.hdr: {e}")),
            None => Ok(stats::new_hist()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub rps: f64,
    pub success_rate: f64,
    pub error_kinds: ErrorCounts,
    /// Open-model arrivals not started because `max_in_flight` requests were busy.
    pub dropped: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSection {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub check_failures: u64,
    pub error_kinds: ErrorCounts,
    pub statuses: BTreeMap<String, u64>,
    pub bytes: u64,
    pub latency: Option<Latency>,
    /// From the real send time (open model): what coordinated omission would show.
    pub latency_uncorrected: Option<Latency>,
    pub first_chunk: Option<Latency>,
    pub ttfb: Option<Latency>,
    pub connect: Option<Latency>,
    pub chunk_gap: Option<Latency>,
    pub chunks: u64,
    /// A poll step: from the start of its first request until its condition held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnaround: Option<Latency>,
    /// A poll step: requests until its condition held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Attempts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSection {
    pub model: Model,
    pub target_rate: Option<f64>,
    /// Open-model latency is measured from each request's intended start.
    pub latency_corrected: bool,
    pub duration_s: f64,
    /// The warm-up at the start left out of the totals (`[load] warmup`).
    #[serde(default)]
    pub warmup_s: f64,
    /// Requests that ended within the warm-up.
    #[serde(default)]
    pub warmup_requests: u64,
    /// Users (closed model) or connections (open model) started.
    pub workers: u64,
    /// Open model: the cap on requests in flight.
    pub max_in_flight: Option<u64>,
    /// Requests in flight when the run was stopped, not counted anywhere else.
    pub cancelled: u64,
    /// Requests without an answer when the graceful stop ended, counted
    /// as timeouts.
    #[serde(default)]
    pub unanswered: u64,
    pub totals: Totals,
    /// The first failure of each error kind, in words.
    #[serde(default)]
    pub error_examples: BTreeMap<String, String>,
    pub latency: Option<Latency>,
    pub latency_uncorrected: Option<Latency>,
    pub endpoints: Vec<EndpointSection>,
    /// Named scenarios (`[scenarios.NAME]`), in the profile's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioSection>,
    /// This process's place among the workers that shared the load
    /// (`--worker-index`, `--worker-count`); absent for a lone process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerPlace>,
    /// The instant every worker agreed to start at (`--start-at`), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// How far this worker's start was from it, ms (positive: late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    /// A merge: whether its workers make up the whole load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::workers::MergedWorkers>,
}

/// One worker's place: its index (from 0) among `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPlace {
    pub index: u32,
    pub count: u32,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn endpoint_section(name: &str, e: &EndpointStats, corrected: bool) -> EndpointSection {
    EndpointSection {
        name: name.to_string(),
        requests: e.requests,
        errors: e.errors.total(),
        check_failures: e.errors.check,
        error_kinds: e.errors,
        statuses: e.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        bytes: e.bytes,
        latency: Latency::of(&e.latency),
        latency_uncorrected: if corrected { Latency::of(&e.service) } else { None },
        first_chunk: Latency::of(&e.first_chunk),
        ttfb: Latency::of(&e.ttfb),
        connect: Latency::of(&e.connect),
        chunk_gap: Latency::of(&e.chunk_gap),
        chunks: e.chunks,
        turnaround: e.poll.as_ref().and_then(|p| Latency::of(&p.turnaround)),
        attempts: e.poll.as_ref().and_then(|p| Attempts::of(&p.attempts)),
    }
}

fn totals(all: &EndpointStats, duration_s: f64, dropped: u64) -> Totals {
    Totals {
        requests: all.requests,
        ok: all.ok(),
        errors: all.errors.total(),
        rps: if duration_s > 0.0 {
            round3(all.requests as f64 / duration_s)
        } else {
            0.0
        },
        success_rate: if all.requests > 0 {
            round3(all.ok() as f64 / all.requests as f64 * 100.0) / 100.0
        } else {
            0.0
        },
        error_kinds: all.errors,
        dropped,
        bytes: all.bytes,
    }
}

impl LoadSection {
    pub fn from_recording(rec: &LoadRecording) -> LoadSection {
        let corrected = rec.latency_corrected;
        let all = rec.total();
        let duration_s = rec.duration.as_secs_f64();
        LoadSection {
            model: rec.model,
            target_rate: rec.target_rate,
            latency_corrected: corrected,
            duration_s: round3(duration_s),
            warmup_s: round3(rec.warmup.as_secs_f64()),
            warmup_requests: rec.warmup_requests,
            workers: rec.workers,
            max_in_flight: rec.max_in_flight,
            cancelled: rec.cancelled,
            unanswered: rec.unanswered,
            totals: totals(&all, duration_s, rec.dropped),
            error_examples: rec
                .error_examples
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            latency: Latency::of(&all.latency),
            latency_uncorrected: if corrected { Latency::of(&all.service) } else { None },
            endpoints: rec
                .endpoints
                .iter()
                .map(|(name, e)| endpoint_section(name, e, corrected))
                .collect(),
            scenarios: rec.scenarios.iter().map(ScenarioSection::of).collect(),
            worker: (rec.worker.1 > 1).then_some(WorkerPlace {
                index: rec.worker.0,
                count: rec.worker.1,
            }),
            start_at: rec.start_at.map(crate::report::schema::timestamp),
            start_skew_ms: rec.start_skew_ms.map(|s| (s * 1000.0).round() / 1000.0),
            merged: None,
        }
    }

    /// Combines the results of load workers that ran side by side: counts
    /// and rates add, histograms add exactly, percentiles are recomputed.
    /// Endpoints are matched by name.
    pub fn merge(parts: &[LoadSection]) -> Result<LoadSection, String> {
        let first = parts.first().ok_or("nothing to merge")?;
        if let Some(p) = parts.iter().find(|p| p.model != first.model) {
            return Err(format!(
                "cannot merge a {:?} model run with a {:?} model run",
                first.model, p.model
            ));
        }
        let mut names: Vec<String> = Vec::new();
        let mut merged: BTreeMap<String, EndpointStats> = BTreeMap::new();
        for (i, part) in parts.iter().enumerate() {
            for e in &part.endpoints {
                if !names.contains(&e.name) {
                    names.push(e.name.clone());
                }
                let what = format!("input {} endpoint '{}'", i + 1, e.name);
                let stats = endpoint_stats(e, &what)?;
                merged.entry(e.name.clone()).or_default().merge(&stats);
            }
        }
        let mut scenario_names: Vec<&str> = Vec::new();
        for p in parts {
            for s in &p.scenarios {
                if !scenario_names.contains(&s.name.as_str()) {
                    scenario_names.push(&s.name);
                }
            }
        }
        let scenarios = scenario_names
            .iter()
            .map(|n| {
                let same: Vec<&ScenarioSection> = parts
                    .iter()
                    .flat_map(|p| &p.scenarios)
                    .filter(|s| s.name == *n)
                    .collect();
                ScenarioSection::merge(&same)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let corrected = parts.iter().all(|p| p.latency_corrected);
        let mut all = EndpointStats::default();
        for e in merged.values() {
            all.merge(e);
        }
        let duration_s = parts.iter().map(|p| p.duration_s).fold(0.0, f64::max);
        let dropped = parts.iter().map(|p| p.totals.dropped).sum();
        let mut t = totals(&all, duration_s, dropped);
        // Workers ran side by side, so their rates add.
        t.rps = round3(parts.iter().map(|p| p.totals.rps).sum());
        Ok(LoadSection {
            model: first.model,
            target_rate: parts.iter().map(|p| p.target_rate).sum(),
            latency_corrected: corrected,
            duration_s,
            warmup_s: parts.iter().map(|p| p.warmup_s).fold(0.0, f64::max),
            warmup_requests: parts.iter().map(|p| p.warmup_requests).sum(),
            workers: parts.iter().map(|p| p.workers).sum(),
            max_in_flight: parts.iter().map(|p| p.max_in_flight).sum(),
            cancelled: parts.iter().map(|p| p.cancelled).sum(),
            unanswered: parts.iter().map(|p| p.unanswered).sum(),
            totals: t,
            error_examples: parts.iter().rev().flat_map(|p| p.error_examples.clone()).collect(),
            latency: Latency::of(&all.latency),
            latency_uncorrected: if corrected { Latency::of(&all.service) } else { None },
            endpoints: names
                .iter()
                .map(|n| endpoint_section(n, &merged[n], corrected))
                .collect(),
            scenarios,
            worker: None,
            // Workers that agreed on one start: it, and the worst skew among them.
            start_at: first
                .start_at
                .clone()
                .filter(|at| parts.iter().all(|p| p.start_at.as_ref() == Some(at))),
            start_skew_ms: parts
                .iter()
                .filter_map(|p| p.start_skew_ms)
                .max_by(|a, b| a.abs().total_cmp(&b.abs())),
            merged: None,
        })
    }
}

/// Rebuilds an endpoint's aggregates from its section.
fn endpoint_stats(e: &EndpointSection, what: &str) -> Result<EndpointStats, String> {
    let mut statuses = BTreeMap::new();
    for (k, v) in &e.statuses {
        let code = k
            .parse::<u16>()
            .map_err(|_| format!("{what}: status '{k}' is not a number"))?;
        statuses.insert(code, *v);
    }
    let latency = Latency::hist(&e.latency, &format!("{what} latency"))?;
    Ok(EndpointStats {
        requests: e.requests,
        errors: e.error_kinds,
        bytes: e.bytes,
        statuses,
        service: match &e.latency_uncorrected {
            Some(_) => Latency::hist(&e.latency_uncorrected, &format!("{what} latency_uncorrected"))?,
            None => latency.clone(),
        },
        latency,
        ttfb: Latency::hist(&e.ttfb, &format!("{what} ttfb"))?,
        connect: Latency::hist(&e.connect, &format!("{what} connect"))?,
        first_chunk: Latency::hist(&e.first_chunk, &format!("{what} first_chunk"))?,
        chunk_gap: Latency::hist(&e.chunk_gap, &format!("{what} chunk_gap"))?,
        chunks: e.chunks,
        poll: match (&e.turnaround, &e.attempts) {
            (None, None) => None,
            _ => Some(PollStats {
                turnaround: Latency::hist(&e.turnaround, &format!("{what} turnaround"))?,
                attempts: Attempts::hist(&e.attempts, &format!("{what} attempts"))?,
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::{ErrorKind, Record};
    use std::time::Duration;

    fn section(latencies_ms: &[u64], errors: usize) -> LoadSection {
        let mut e = EndpointStats::default();
        for &ms in latencies_ms {
            e.record(&Record {
                latency: Duration::from_millis(ms),
                service: Duration::from_millis(ms),
                ttfb: Some(Duration::from_millis(ms)),
                status: Some(200),
                ..Default::default()
            });
        }
        for _ in 0..errors {
            e.record(&Record {
                error: Some(ErrorKind::Timeout),
                ..Default::default()
            });
        }
        let rec = LoadRecording {
            model: Model::Closed,
            target_rate: None,
            started_at: std::time::SystemTime::UNIX_EPOCH,
            ended_at: std::time::SystemTime::UNIX_EPOCH,
            duration: Duration::from_secs(10),
            warmup: Duration::ZERO,
            warmup_requests: 0,
            endpoints: vec![("ask".into(), e)],
            dropped: 0,
            cancelled: 0,
            unanswered: 0,
            latency_corrected: false,
            stop: None,
            workers: 2,
            max_in_flight: None,
            error_examples: Default::default(),
            scenarios: Vec::new(),
            worker: (0, 1),
            start_at: None,
            start_skew_ms: None,
        };
        LoadSection::from_recording(&rec)
    }

    #[test]
    fn totals_and_rates_from_a_recording() {
        let s = section(&[1, 2, 3, 4], 1);
        assert_eq!((s.totals.requests, s.totals.ok, s.totals.errors), (5, 4, 1));
        assert_eq!(s.totals.rps, 0.5);
        assert_eq!(s.totals.success_rate, 0.8);
        assert_eq!(s.totals.error_kinds.timeout, 1);
        assert_eq!(s.endpoints[0].statuses["200"], 4);
        assert_eq!(s.latency.as_ref().unwrap().percentiles.count, 4);
    }

    #[test]
    fn merge_adds_histograms_exactly() {
        let a = section(&[1, 2, 3, 100], 0);
        let b = section(&[5, 6, 7, 8, 9, 10], 2);
        let whole = section(&[1, 2, 3, 100, 5, 6, 7, 8, 9, 10], 2);
        // Through JSON, as `loadprof merge` reads them.
        let a: LoadSection = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        let m = LoadSection::merge(&[a, b]).unwrap();
        // The encodings may differ in the histogram's tracked range, never in its counts.
        let p = |l: &Option<Latency>| l.as_ref().unwrap().percentiles;
        assert_eq!(p(&m.latency), p(&whole.latency));
        assert_eq!(p(&m.endpoints[0].latency), p(&whole.endpoints[0].latency));
        assert_eq!(p(&m.endpoints[0].ttfb), p(&whole.endpoints[0].ttfb));
        assert_eq!(m.totals.requests, 12);
        assert_eq!(m.totals.errors, 2);
        assert_eq!(m.totals.rps, 1.2);
        assert_eq!(m.workers, 4);
    }

    #[test]
    fn merge_rejects_a_damaged_histogram() {
        let mut a = section(&[1], 0);
        a.endpoints[0].latency.as_mut().unwrap().hdr = "AAAA".into();
        let e = LoadSection::merge(&[a]).unwrap_err();
        assert!(e.contains("endpoint 'ask' latency.hdr"), "{e}");
    }
}
