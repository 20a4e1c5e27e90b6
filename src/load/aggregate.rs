//! Where the engine's records go: per-thread shards of per-endpoint and
//! per-scenario aggregates, and the seconds not yet cut into timeline rows.

use std::collections::VecDeque;
use std::time::Instant;

use super::journey::FlowStats;
use super::stats::{EndpointStats, Hist, Percentiles, Record, add, new_hist, record};

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
    /// Per scenario of a journey profile: the iterations that ended in it.
    pub scenarios: Vec<ScenarioSecond>,
    /// The load's running totals as this row was cut, when a live view
    /// asked for them (`LoadConfig::live`).
    pub totals: Option<std::sync::Arc<Totals>>,
}

/// The load so far, for a live view: per endpoint (in the order of
/// `LoadConfig::endpoints`) what the final result will count, past the
/// warm-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub endpoints: Vec<EndpointTotals>,
    /// Requests waiting for an answer, per endpoint.
    pub in_flight: Vec<u64>,
    /// Open-model arrivals not started because `max_in_flight` were busy.
    pub dropped: u64,
    /// Requests that ended in the warm-up (in no total).
    pub warmup_requests: u64,
}

/// One endpoint's running totals.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointTotals {
    pub requests: u64,
    pub errors: super::stats::ErrorCounts,
    pub bytes: u64,
    /// Latency of the requests that got an answer.
    pub latency: Hist,
}

/// One second of one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScenarioSecond {
    pub iterations: u64,
    pub failed: u64,
    /// Of the flows that ended in the second, successful ones.
    pub flow: Option<Percentiles>,
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

pub(super) struct Bucket {
    requests: u64,
    errors: u64,
    latency: Hist,
    /// Per scenario (none without journeys): iterations, failures, flow latency.
    flows: Vec<(u64, u64, Option<Hist>)>,
}

/// One thread's aggregates.
pub(super) struct Shard {
    pub endpoints: Vec<EndpointStats>,
    /// Per scenario (empty stats for the `[[load.request]]` mix).
    pub flows: Vec<FlowStats>,
    /// Seconds not yet cut into rows, the first being `first_second`.
    seconds: VecDeque<Bucket>,
    first_second: u64,
    pub last_end: Option<Instant>,
    /// Scenarios with a second-by-second line of their own.
    timed_flows: usize,
}

impl Shard {
    /// `timed_flows`: how many scenarios get a second-by-second line.
    pub fn new(endpoints: usize, flows: Vec<FlowStats>, timed_flows: usize) -> Shard {
        Shard {
            timed_flows,
            endpoints: vec![EndpointStats::default(); endpoints],
            flows,
            seconds: VecDeque::new(),
            first_second: 0,
            last_end: None,
        }
    }

    /// Adds a request that ended at `end`, `second` seconds into the load;
    /// `counted`: past the warm-up.
    pub fn record(&mut self, rec: &Record, gaps: Option<&Hist>, end: Instant, second: u64, counted: bool) {
        if counted {
            let ep = &mut self.endpoints[rec.endpoint];
            ep.record(rec);
            let gaps = gaps.filter(|g| !g.is_empty());
            if let Some(gaps) = gaps {
                add(&mut ep.chunk_gap, gaps);
            }
            ep.chunks += u64::from(rec.first_chunk.is_some()) + gaps.map_or(0, |g| g.len());
        }
        let b = self.bucket(second);
        b.requests += 1;
        b.errors += u64::from(rec.error.is_some());
        if rec.answered() {
            record(&mut b.latency, rec.latency);
        }
        self.last_end = Some(self.last_end.map_or(end, |l| l.max(end)));
    }

    /// Adds an iteration of scenario `sc` that ended `second` seconds into
    /// the load: `flow` for a successful one, `None` for a failure.
    pub fn iteration(&mut self, sc: usize, second: u64, flow: Option<std::time::Duration>) {
        let b = self.bucket(second);
        let Some((iterations, failed, hist)) = b.flows.get_mut(sc) else {
            return;
        };
        *iterations += 1;
        match flow {
            Some(d) => record(hist.get_or_insert_with(new_hist), d),
            None => *failed += 1,
        }
    }

    fn bucket(&mut self, second: u64) -> &mut Bucket {
        let idx = second.saturating_sub(self.first_second) as usize;
        while self.seconds.len() <= idx {
            self.seconds.push_back(Bucket {
                requests: 0,
                errors: 0,
                latency: new_hist(),
                flows: vec![(0, 0, None); self.timed_flows],
            });
        }
        &mut self.seconds[idx]
    }
}

/// Cuts the rows of seconds `from..upto` out of every shard; a second
/// without requests still gets its row. `elapsed`: seconds from the start
/// of the load to now (the last row's width).
pub(super) fn cut_rows<'a>(
    shards: impl Iterator<Item = std::sync::MutexGuard<'a, Shard>>,
    from: u64,
    upto: u64,
    elapsed: f64,
) -> Vec<TimelineRow> {
    let mut rows: Vec<(u64, Bucket)> = Vec::new();
    for mut s in shards {
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
                    for (mine, theirs) in r.flows.iter_mut().zip(&b.flows) {
                        mine.0 += theirs.0;
                        mine.1 += theirs.1;
                        if let Some(h) = &theirs.2 {
                            add(mine.2.get_or_insert_with(new_hist), h);
                        }
                    }
                }
                None => rows.push((sec, b)),
            }
        }
    }
    (from..upto)
        .map(|sec| {
            let b = rows.iter().find(|(k, _)| *k == sec).map(|(_, b)| b);
            TimelineRow {
                elapsed_s: sec,
                width_s: (elapsed - sec as f64).clamp(0.0, 1.0),
                requests: b.map_or(0, |b| b.requests),
                errors: b.map_or(0, |b| b.errors),
                latency: b.and_then(|b| Percentiles::of(&b.latency)),
                totals: None,
                scenarios: b.map_or_else(Vec::new, |b| {
                    b.flows
                        .iter()
                        .map(|(iterations, failed, h)| ScenarioSecond {
                            iterations: *iterations,
                            failed: *failed,
                            flow: h.as_ref().and_then(Percentiles::of),
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// One point of a scenario's line over time: the seconds it covers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScenarioPoint {
    /// From the start of the load to the start of the point.
    pub elapsed_s: u64,
    /// Seconds the point covers (1, or more on a long run).
    pub width_s: u64,
    /// Iterations that ended in it, and of them the failed ones.
    pub iterations: u64,
    pub failed: u64,
    /// Iterations running when its last second ended (users busy, for the
    /// closed model; workers busy, for an arrival rate).
    pub in_flight: u64,
    /// The highest p95 of successful flows of the seconds it covers.
    pub flow_p95_ms: Option<f64>,
}

/// Most points a scenario's line keeps: past it, neighbours merge, so a
/// day-long run's line costs what a 12-minute one's does.
pub const MAX_POINTS: usize = 720;

/// Adds one second to a scenario's line, keeping it within [`MAX_POINTS`].
pub fn push_point(line: &mut Vec<ScenarioPoint>, p: ScenarioPoint) {
    match line.last_mut() {
        // The last point still has room for this second.
        Some(last) if last.elapsed_s + last.width_s > p.elapsed_s => merge_into(last, &p),
        _ => {
            let width = line.first().map_or(1, |f| f.width_s);
            let start = p.elapsed_s - p.elapsed_s % width;
            line.push(ScenarioPoint {
                elapsed_s: start,
                width_s: width,
                ..p
            });
        }
    }
    if line.len() > MAX_POINTS {
        let merged: Vec<ScenarioPoint> = line
            .chunks(2)
            .map(|pair| {
                let mut a = pair[0].clone();
                a.width_s *= 2;
                if let Some(b) = pair.get(1) {
                    merge_into(&mut a, b);
                }
                a
            })
            .collect();
        *line = merged;
    }
}

fn merge_into(a: &mut ScenarioPoint, b: &ScenarioPoint) {
    a.iterations += b.iterations;
    a.failed += b.failed;
    a.in_flight = b.in_flight;
    a.flow_p95_ms = match (a.flow_p95_ms, b.flow_p95_ms) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: u64, iterations: u64, p95: Option<f64>) -> ScenarioPoint {
        ScenarioPoint {
            elapsed_s: t,
            width_s: 1,
            iterations,
            failed: 0,
            in_flight: t,
            flow_p95_ms: p95,
        }
    }

    #[test]
    fn a_long_line_halves_its_resolution_and_keeps_every_iteration() {
        let mut line = Vec::new();
        for t in 0..3000 {
            push_point(&mut line, second(t, 2, Some(t as f64)));
        }
        assert!(line.len() <= MAX_POINTS, "{}", line.len());
        assert_eq!(line.iter().map(|p| p.iterations).sum::<u64>(), 6000);
        let w = line[0].width_s;
        assert!(w >= 4 && line.iter().all(|p| p.width_s == w && p.elapsed_s % w == 0));
        // Each point keeps the worst p95 and the last in-flight count of its seconds.
        let last = line.last().unwrap();
        assert_eq!(last.flow_p95_ms, Some(2999.0));
        assert_eq!(last.in_flight, 2999);
        // Points are contiguous.
        for pair in line.windows(2) {
            assert_eq!(pair[0].elapsed_s + pair[0].width_s, pair[1].elapsed_s);
        }
    }

    #[test]
    fn a_short_line_has_a_point_a_second() {
        let mut line = Vec::new();
        for t in 0..10 {
            push_point(&mut line, second(t, 1, None));
        }
        assert_eq!(line.len(), 10);
        assert_eq!(line[9], second(9, 1, None));
    }
}
