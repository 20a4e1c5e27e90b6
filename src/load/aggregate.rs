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
}

impl Shard {
    pub fn new(endpoints: usize, flows: Vec<FlowStats>) -> Shard {
        Shard {
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
        let idx = second.saturating_sub(self.first_second) as usize;
        while self.seconds.len() <= idx {
            self.seconds.push_back(Bucket {
                requests: 0,
                errors: 0,
                latency: new_hist(),
            });
        }
        let b = &mut self.seconds[idx];
        b.requests += 1;
        b.errors += u64::from(rec.error.is_some());
        if rec.answered() {
            record(&mut b.latency, rec.latency);
        }
        self.last_end = Some(self.last_end.map_or(end, |l| l.max(end)));
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
            }
        })
        .collect()
}
