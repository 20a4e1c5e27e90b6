//! Aggregates of request records: HdrHistograms (microseconds, three
//! significant digits, from 1 µs to hours) and counters, per endpoint.
//! Memory does not grow with the number of requests. Pure: no clock, no
//! I/O; `merge` adds aggregates exactly, so percentiles of a merged run are
//! those of one histogram of every value.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

pub type Hist = Histogram<u64>;

/// An empty latency histogram: microseconds, 3 significant digits, grows
/// its range as larger values arrive.
pub fn new_hist() -> Hist {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// Records a duration in microseconds (at least 1, so sub-microsecond
/// values are not lost as zero).
pub fn record(h: &mut Hist, d: Duration) {
    // `record` grows an auto-resizing histogram; `saturating_record` would
    // clamp to its current range instead.
    let v = (d.as_micros().min(u128::from(u64::MAX >> 2)) as u64).max(1);
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// Adds `b` into `a`.
pub fn add(a: &mut Hist, b: &Hist) {
    a.add(b).expect("auto-resizing histograms accept any value");
}

/// The HdrHistogram V2 serialisation, base64: what `hdr` holds in result.json.
pub fn encode(h: &Hist) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .expect("writing to a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads back what [`encode`] wrote.
pub fn decode(s: &str) -> Result<Hist, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let mut h: Hist = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HdrHistogram V2 serialisation: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// Why a request failed. A request has at most one kind: the first that
/// happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The TCP (or TLS) connection could not be made.
    Connect,
    /// No answer within `timeout`, or a stream that outlived `stream_timeout`.
    Timeout,
    /// The status code was not the expected one.
    Status,
    /// The body did not match `expect_body`.
    Check,
    /// The connection broke while sending or reading (reset, closed mid-body,
    /// protocol error).
    Io,
}

/// Request counts by error kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    pub connect: u64,
    pub timeout: u64,
    pub status: u64,
    pub check: u64,
    pub io: u64,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Check,
        ErrorKind::Io,
    ];

    /// The name used in result.json's `error_kinds`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Check => "check",
            ErrorKind::Io => "io",
        }
    }
}

impl ErrorCounts {
    pub fn add_one(&mut self, kind: ErrorKind) {
        *match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Status => &mut self.status,
            ErrorKind::Check => &mut self.check,
            ErrorKind::Io => &mut self.io,
        } += 1;
    }

    /// The count of one kind.
    pub fn of(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::Status => self.status,
            ErrorKind::Check => self.check,
            ErrorKind::Io => self.io,
        }
    }

    pub fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.timeout += o.timeout;
        self.status += o.status;
        self.check += o.check;
        self.io += o.io;
    }

    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.status + self.check + self.io
    }
}

/// The timings of one finished request, relative to its start. `latency`
/// is measured from the intended start (open model) and `service` from the
/// moment it was really sent; in the closed model they are equal.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub endpoint: usize,
    pub latency: Duration,
    pub service: Duration,
    /// Time to open the connection, when this request had to open one.
    pub connect: Option<Duration>,
    /// Time to the response headers.
    pub ttfb: Option<Duration>,
    /// Time to the first streamed chunk carrying data (same base as `latency`).
    pub first_chunk: Option<Duration>,
    pub bytes: u64,
    pub status: Option<u16>,
    pub error: Option<ErrorKind>,
    /// What went wrong, in words, when `error` is set.
    pub detail: Option<String>,
}

impl Record {
    /// The request got a whole answer (perhaps with a failed check), so its
    /// latency means something.
    pub fn answered(&self) -> bool {
        matches!(self.error, None | Some(ErrorKind::Status | ErrorKind::Check))
    }
}

/// Everything measured for one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    pub requests: u64,
    pub errors: ErrorCounts,
    pub bytes: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub latency: Hist,
    pub service: Hist,
    pub ttfb: Hist,
    pub connect: Hist,
    pub first_chunk: Hist,
    pub chunk_gap: Hist,
    pub chunks: u64,
    /// A poll step: from the start of its first request until its
    /// condition held, and how many requests that took (as a count, in
    /// the histogram's unit).
    pub poll: Option<PollStats>,
}

/// What a journey's poll step measured.
#[derive(Debug, Clone)]
pub struct PollStats {
    pub turnaround: Hist,
    pub attempts: Hist,
}

impl PollStats {
    pub fn record(&mut self, turnaround: std::time::Duration, attempts: u32) {
        record(&mut self.turnaround, turnaround);
        // Attempts go in as a plain count.
        let _ = self.attempts.record(u64::from(attempts.max(1)));
    }
}

impl Default for PollStats {
    fn default() -> PollStats {
        PollStats {
            turnaround: new_hist(),
            attempts: new_hist(),
        }
    }
}

impl Default for EndpointStats {
    fn default() -> EndpointStats {
        EndpointStats {
            requests: 0,
            errors: ErrorCounts::default(),
            bytes: 0,
            statuses: BTreeMap::new(),
            latency: new_hist(),
            service: new_hist(),
            ttfb: new_hist(),
            connect: new_hist(),
            first_chunk: new_hist(),
            chunk_gap: new_hist(),
            chunks: 0,
            poll: None,
        }
    }
}

impl EndpointStats {
    /// Adds one request. Latency is recorded for every request that got an
    /// answer, failed checks and statuses included; requests that never got
    /// one (connect, timeout, io) are counted but have no latency.
    pub fn record(&mut self, r: &Record) {
        self.requests += 1;
        self.bytes += r.bytes;
        if let Some(s) = r.status {
            *self.statuses.entry(s).or_insert(0) += 1;
        }
        if let Some(kind) = r.error {
            self.errors.add_one(kind);
        }
        if r.answered() {
            record(&mut self.latency, r.latency);
            record(&mut self.service, r.service);
        }
        if let Some(d) = r.ttfb {
            record(&mut self.ttfb, d);
        }
        if let Some(d) = r.connect {
            record(&mut self.connect, d);
        }
        if let Some(d) = r.first_chunk {
            record(&mut self.first_chunk, d);
        }
    }

    pub fn merge(&mut self, o: &EndpointStats) {
        self.requests += o.requests;
        self.errors.add(&o.errors);
        self.bytes += o.bytes;
        for (s, n) in &o.statuses {
            *self.statuses.entry(*s).or_insert(0) += n;
        }
        add(&mut self.latency, &o.latency);
        add(&mut self.service, &o.service);
        add(&mut self.ttfb, &o.ttfb);
        add(&mut self.connect, &o.connect);
        add(&mut self.first_chunk, &o.first_chunk);
        add(&mut self.chunk_gap, &o.chunk_gap);
        self.chunks += o.chunks;
        if let Some(p) = &o.poll {
            let mine = self.poll.get_or_insert_with(PollStats::default);
            add(&mut mine.turnaround, &p.turnaround);
            add(&mut mine.attempts, &p.attempts);
        }
    }

    pub fn ok(&self) -> u64 {
        // Saturating: a hand-edited result.json given to `merge` may not add up.
        self.requests.saturating_sub(self.errors.total())
    }
}

/// Count, min, mean, percentiles and max of a histogram, in milliseconds
/// rounded to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn us_to_ms(v: f64) -> f64 {
    (v).round() / 1000.0
}

impl Percentiles {
    /// `None` for an empty histogram.
    pub fn of(h: &Hist) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        // The highest value equivalent to the bucket, as HdrHistogram reports
        // percentiles; max is exact to the bucket too.
        let q = |p: f64| us_to_ms(h.value_at_quantile(p) as f64);
        Some(Percentiles {
            count: h.len(),
            min_ms: us_to_ms(h.min() as f64),
            mean_ms: us_to_ms(h.mean()),
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: us_to_ms(h.max() as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist_of(values: &[u64]) -> Hist {
        let mut h = new_hist();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn error_kinds_index_their_own_slot() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{}", k.name());
        }
    }

    #[test]
    fn percentiles_of_empty_histogram_is_none() {
        assert_eq!(Percentiles::of(&new_hist()), None);
    }

    #[test]
    fn percentiles_of_1_to_1000_ms() {
        let values: Vec<u64> = (1..=1000).map(|ms| ms * 1000).collect();
        let p = Percentiles::of(&hist_of(&values)).unwrap();
        assert_eq!(p.count, 1000);
        assert_eq!(p.min_ms, 1.0);
        assert!((p.p50_ms - 500.0).abs() <= 0.5, "{p:?}");
        assert!((p.p99_ms - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.max_ms - 1000.0).abs() <= 1.0, "{p:?}");
        assert!((p.mean_ms - 500.5).abs() <= 0.5, "{p:?}");
    }

    #[test]
    fn sub_microsecond_durations_count_as_one_microsecond() {
        let mut h = new_hist();
        record(&mut h, Duration::from_nanos(300));
        assert_eq!(h.min(), 1);
    }

    #[test]
    fn encode_decode_round_trip_keeps_every_count() {
        let h = hist_of(&[1, 5, 900, 1_000_000, 3_600_000_000]);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(Percentiles::of(&back), Percentiles::of(&h));
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode("not base64 !!").is_err());
        assert!(decode("aGVsbG8=").is_err());
    }

    #[test]
    fn failed_connections_are_counted_without_latency() {
        let mut e = EndpointStats::default();
        e.record(&Record {
            error: Some(ErrorKind::Connect),
            ..Default::default()
        });
        e.record(&Record {
            latency: Duration::from_millis(3),
            error: Some(ErrorKind::Check),
            status: Some(200),
            ..Default::default()
        });
        assert_eq!((e.requests, e.errors.total(), e.ok()), (2, 2, 0));
        assert_eq!(e.latency.len(), 1);
        assert_eq!(e.statuses.get(&200), Some(&1));
    }

    proptest! {
        #[test]
        fn merging_split_histograms_equals_one_histogram(
            values in proptest::collection::vec(1u64..10_000_000_000, 1..400),
            cut in 0usize..400,
        ) {
            let cut = cut.min(values.len());
            let whole = hist_of(&values);
            let mut a = decode(&encode(&hist_of(&values[..cut]))).unwrap();
            let b = decode(&encode(&hist_of(&values[cut..]))).unwrap();
            add(&mut a, &b);
            prop_assert_eq!(Percentiles::of(&a), Percentiles::of(&whole));
        }
    }
}
