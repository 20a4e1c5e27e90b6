//! What Prometheus would answer over a window of scraped samples:
//! `increase`, `rate` and `delta` with Prometheus's extrapolation,
//! `histogram_quantile` over classic `le` buckets, and the gauge
//! aggregations `max_over_time`, `avg_over_time` and `last_over_time`.
//! Pure maths on slices: no clock, no I/O, no printing, no panics.
//!
//! Why mirror Prometheus rather than compute something cleaner: a report
//! that says "p95 was 0.42 s" next to the team's Grafana panel must agree
//! with it, quirks included. The semantics are those of Prometheus 2.42
//! (the version Debian 12 ships), read from `promql/functions.go`
//! (`extrapolatedRate`, `funcMaxOverTime`, `funcAvgOverTime`,
//! `funcLastOverTime`), `promql/quantile.go` (`bucketQuantile`,
//! `coalesceBuckets`, `ensureMonotonic`) and `promql/engine.go`
//! (`matrixIterSlice`), and checked against a running 2.42 whose answers
//! are baked into the tests below.
//!
//! Conventions (2.42):
//!
//! - A window `[start, end]` is closed at both ends: a sample exactly on
//!   `start` counts. `rate(x[10s])` evaluated at `T` is
//!   `rate(points, T - 10, T)`.
//! - Within the window samples are taken in time order, one per
//!   timestamp (the first one given wins, as Prometheus's storage rejects a
//!   second value for a timestamp it already holds).
//! - A NaN value is data, not a gap: Prometheus skips only its internal
//!   staleness marker, which scraped text cannot carry. A NaN first or
//!   last sample makes `increase` NaN; a NaN in between hides a counter
//!   reset that follows it (its comparisons are false), so `increase` can
//!   then come out negative. `max` ignores NaN unless every sample is NaN;
//!   `mean` is NaN; `last` returns it.
//!
//! Where later versions differ (do not "fix" these without changing the
//! version this module claims):
//!
//! - Prometheus 3.0 made range windows left-open, `(start, end]`.
//! - Before 2.51 (commit 7f912db, "Fix limiting of extrapolation to
//!   negative values") the counter zero-point clamp shortens the distance
//!   to the window start *before* that distance is compared with the
//!   threshold of 1.1 average intervals. A series that starts mid-window
//!   with a small first value is therefore extrapolated to its zero point,
//!   which can be further than the half interval 2.51+ would use (7.262 here
//!   against 6.762 there, in the test on a late counter).
//! - From 2.49 `histogram_quantile` also snaps bucket counts within a
//!   relative 1e-12 of their neighbour; 2.42 only removes decreases.
//! - 3.x adds native histograms, start timestamps and the `anchored` and
//!   `smoothed` modifiers; none of these exist here.

/// One scraped value: seconds on the run's clock, and the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: f64,
    pub v: f64,
}

/// How far past the average sample interval an edge may lie and still be
/// extrapolated to (Prometheus's allowance for scrape jitter).
const EXTRAPOLATION_SLACK: f64 = 1.1;

/// `increase(x[range])` for a counter over `[start, end]`: the rise with
/// counter resets corrected, extrapolated towards the window's edges.
/// `None` with fewer than two samples in the window.
pub fn increase(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).increase(start, end)
}

/// `rate(x[range])` for a counter over `[start, end]`: [`increase`] per
/// second of the window's length. `None` with fewer than two samples.
pub fn rate(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).rate(start, end)
}

/// `delta(x[range])` for a gauge over `[start, end]`: the last sample
/// minus the first, extrapolated like [`increase`] but with no reset
/// handling and no floor at zero. `None` with fewer than two samples.
pub fn delta(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).delta(start, end)
}

/// `max_over_time`: the largest sample in `[start, end]`; NaN samples
/// count only when every sample is NaN. `None` when the window is empty.
pub fn max(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).max()
}

/// `avg_over_time`: the mean of the samples in `[start, end]` (not
/// weighted by time), computed as Prometheus does, as a running mean with
/// compensated summation so that large values do not overflow. `None` when
/// the window is empty.
pub fn mean(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).mean()
}

/// `last_over_time`: the latest sample in `[start, end]`. `None` when the
/// window is empty.
pub fn last(points: &[Point], start: f64, end: f64) -> Option<f64> {
    Running::over(points, start, end).last()
}

/// Everything the functions above need from a window's samples, taken one
/// sample at a time, so that a long run's series need not be kept: the
/// first and last samples, their number, the values before each counter
/// drop, the largest sample and the running mean. The functions over
/// slices are this fed with the window's samples, so both agree exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Running {
    first: Option<Point>,
    last: Option<Point>,
    count: usize,
    /// The sum of the values just before each drop (counter resets).
    resets: f64,
    max: f64,
    /// The running mean, its compensation, and the samples it has taken.
    mean: (f64, f64, f64),
}

impl Default for Running {
    fn default() -> Running {
        Running {
            first: None,
            last: None,
            count: 0,
            resets: 0.0,
            max: f64::NAN,
            mean: (0.0, 0.0, 0.0),
        }
    }
}

impl Running {
    /// The window `[start, end]` of `points`, taken in time order.
    pub fn over(points: &[Point], start: f64, end: f64) -> Running {
        let mut r = Running::default();
        for p in window(points, start, end) {
            r.push(p);
        }
        r
    }

    /// Takes the next sample. One that is not later than the last one taken
    /// is refused (`false`), as Prometheus's storage refuses it.
    pub fn push(&mut self, p: Point) -> bool {
        if p.t.is_nan() || self.last.is_some_and(|l| p.t <= l.t) {
            return false;
        }
        match self.last {
            None => {
                self.first = Some(p);
                self.max = p.v;
            }
            Some(prev) => {
                if p.v < prev.v {
                    self.resets += prev.v;
                }
                if p.v > self.max || self.max.is_nan() {
                    self.max = p.v;
                }
            }
        }
        self.last = Some(p);
        self.count += 1;
        let (mut mean, mut c, mut count) = self.mean;
        count += 1.0;
        // Inf minus Inf would turn a correct infinite mean into NaN.
        let keep = mean.is_infinite()
            && ((p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0)) || (!p.v.is_infinite() && !p.v.is_nan()));
        if !keep {
            (mean, c) = kahan_add(p.v / count - mean / count, mean, c);
        }
        self.mean = (mean, c, count);
        true
    }

    /// Samples taken.
    pub fn count(&self) -> usize {
        self.count
    }

    /// As [`increase`], over the window the samples were taken from.
    pub fn increase(&self, start: f64, end: f64) -> Option<f64> {
        self.extrapolated_change(start, end, true, false)
    }

    /// As [`rate`].
    pub fn rate(&self, start: f64, end: f64) -> Option<f64> {
        self.extrapolated_change(start, end, true, true)
    }

    /// As [`delta`].
    pub fn delta(&self, start: f64, end: f64) -> Option<f64> {
        self.extrapolated_change(start, end, false, false)
    }

    /// As [`max`].
    pub fn max(&self) -> Option<f64> {
        self.last.map(|_| self.max)
    }

    /// As [`mean`].
    pub fn mean(&self) -> Option<f64> {
        let (mean, c, _) = self.mean;
        self.last.map(|_| if mean.is_infinite() { mean } else { mean + c })
    }

    /// As [`last`].
    pub fn last(&self) -> Option<f64> {
        self.last.map(|p| p.v)
    }

    /// Prometheus's `extrapolatedRate`: the change from the first sample
    /// to the last (plus, for counters, the value before each drop),
    /// stretched from the sampled span towards the window's edges. An edge
    /// is reached when the gap to it is under 1.1 average intervals,
    /// otherwise the series is taken to start or stop half an interval
    /// beyond its samples. A rising counter is never extrapolated back past
    /// its zero point; in 2.42 that clamp applies before the threshold test.
    fn extrapolated_change(&self, start: f64, end: f64, counter: bool, per_second: bool) -> Option<f64> {
        let (first, last) = match (self.first, self.last) {
            (Some(f), Some(l)) if self.count >= 2 => (f, l),
            _ => return None,
        };
        let mut change = last.v - first.v;
        if counter {
            change += self.resets;
        }
        let mut to_start = first.t - start;
        let to_end = end - last.t;
        let sampled = last.t - first.t;
        let average = sampled / (self.count - 1) as f64;
        if counter && change > 0.0 && first.v >= 0.0 {
            let to_zero = sampled * (first.v / change);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
        let threshold = average * EXTRAPOLATION_SLACK;
        let mut span = sampled;
        span += if to_start < threshold { to_start } else { average / 2.0 };
        span += if to_end < threshold { to_end } else { average / 2.0 };
        let mut factor = span / sampled;
        if per_second {
            factor /= end - start;
        }
        Some(change * factor)
    }
}

/// `histogram_quantile(q, buckets)` over classic buckets given as
/// (upper bound `le`, cumulative count), in any order.
///
/// As Prometheus 2.42's `bucketQuantile`: q below 0 gives -Inf, above 1
/// +Inf, NaN gives NaN. Then NaN without a +Inf bucket, with fewer than
/// two distinct bounds, or with no observations. Buckets with the same
/// bound are summed, and counts that fall as the bound rises are raised to
/// the running maximum. The answer is interpolated linearly inside the
/// bucket holding rank `q × total`; the lowest bucket starts at 0 when its
/// bound is positive (else its bound is the answer), and a rank in the
/// +Inf bucket answers the highest finite bound. One quirk kept: q = 0
/// with an empty lowest bucket is NaN (0/0), as Prometheus answers.
/// A NaN bound, which Prometheus would sort unpredictably, gives NaN.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.is_empty() || buckets.iter().any(|b| b.0.is_nan()) {
        return f64::NAN;
    }
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    if sorted.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut b = coalesce(&sorted);
    ensure_monotonic(&mut b);
    let n = b.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = b[n - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let i = go_search(n - 1, |i| b[i].1 >= rank);
    if i == n - 1 {
        return b[n - 2].0;
    }
    if i == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (mut lower, upper, mut count) = (0.0, b[i].0, b[i].1);
    if i > 0 {
        lower = b[i - 1].0;
        count -= b[i - 1].1;
        rank -= b[i - 1].1;
    }
    lower + (upper - lower) * (rank / count)
}

/// The samples in `[start, end]` in time order, one per timestamp (the
/// first given wins). A NaN time or edge selects nothing.
fn window(points: &[Point], start: f64, end: f64) -> Vec<Point> {
    let mut w: Vec<Point> = points.iter().filter(|p| start <= p.t && p.t <= end).copied().collect();
    if !w.is_sorted_by(|a, b| a.t < b.t) {
        // A stable sort keeps the first of equal timestamps first.
        w.sort_by(|a, b| a.t.total_cmp(&b.t));
        w.dedup_by(|later, earlier| later.t == earlier.t);
    }
    w
}

/// Merges buckets with the same bound (input sorted by bound).
fn coalesce(sorted: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
    for &(bound, count) in sorted {
        match out.last_mut() {
            Some(prev) if prev.0 == bound => prev.1 += count,
            _ => out.push((bound, count)),
        }
    }
    out
}

/// Raises each count to the largest count below it. Counts can fall when
/// buckets were scraped or rated out of step; the binary search for the
/// rank needs them cumulative.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) {
    let Some(&(_, mut top)) = buckets.first() else {
        return;
    };
    for b in buckets.iter_mut().skip(1) {
        if b.1 > top {
            top = b.1;
        } else if b.1 < top {
            b.1 = top;
        }
    }
}

/// Go's `sort.Search`: the first index in `0..n` where `pred` holds,
/// searched the same way so that odd input (NaN counts) lands where
/// Prometheus's does.
fn go_search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Neumaier's compensated addition: `inc` added to `sum` with running
/// compensation `c`.
fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Raw samples scraped by Prometheus 2.42.0+ds (Debian 12) at 1 s from a
    // test exporter, read back with `x[2m]`, times rebased to the run
    // (seconds since 1796672200). The expected values in the tests are
    // what that Prometheus answered to `/api/v1/query` at the given time.

    /// Scrape times of every series but `J`: 5.738 to 37.738, 1 s apart.
    const T: [f64; 33] = [
        5.738, 6.738, 7.738, 8.738, 9.738, 10.738, 11.738, 12.738, 13.738, 14.738, 15.738, 16.738, 17.738, 18.738,
        19.738, 20.738, 21.738, 22.738, 23.738, 24.738, 25.738, 26.738, 27.738, 28.738, 29.738, 30.738, 31.738, 32.738,
        33.738, 34.738, 35.738, 36.738, 37.738,
    ];

    /// Counter: 5 rising by 3, reset to 0 at 15.738, then rising by 2.
    const C: [f64; 33] = [
        5.0, 8.0, 11.0, 14.0, 17.0, 20.0, 23.0, 26.0, 29.0, 32.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0,
        18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0, 36.0, 38.0, 40.0, 42.0, 44.0,
    ];

    /// Counter that appears at 13.738 (`T[8]`) with 1 and vanishes after
    /// 24.738.
    const LATE: [f64; 12] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];

    const NAN: f64 = f64::NAN;

    /// Counter with a scraped NaN at 11.738, followed by a reset to 2
    /// (first 14 samples).
    const CN: [f64; 14] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, NAN, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];

    /// Gauge: a zig-zag (first 26 samples).
    const G: [f64; 26] = [
        -2.5, 4.5, 0.5, 7.5, 3.5, -0.5, 6.5, 2.5, -1.5, 5.5, 1.5, -2.5, 4.5, 0.5, 7.5, 3.5, -0.5, 6.5, 2.5, -1.5, 5.5,
        1.5, -2.5, 4.5, 0.5, 7.5,
    ];

    /// Counter exposed with its own, irregular timestamps; reset at 90.445.
    const J_T: [f64; 26] = [
        78.74, 79.603, 80.466, 81.329, 82.641, 83.505, 84.367, 85.68, 86.544, 87.407, 88.72, 89.582, 90.445, 91.308,
        92.622, 93.485, 94.347, 95.661, 96.523, 97.387, 98.7, 99.562, 100.426, 101.738, 102.602, 103.465,
    ];
    const J_V: [f64; 26] = [
        3.0, 4.0, 8.0, 9.0, 14.0, 23.0, 25.0, 31.0, 36.0, 39.0, 44.0, 52.0, 1.0, 8.0, 17.0, 20.0, 22.0, 25.0, 33.0,
        37.0, 40.0, 41.0, 45.0, 46.0, 51.0, 60.0,
    ];

    /// Histogram `h` (buckets 0.1, 0.5, 1.0, +Inf), samples 10.738..=19.738:
    /// all that `rate(h_bucket[10s])` at 20.2 reads.
    const H_LE: [f64; 4] = [0.1, 0.5, 1.0, f64::INFINITY];
    const H: [[f64; 10]; 4] = [
        [6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 16.0, 20.0, 24.0],
        [18.0, 21.0, 24.0, 27.0, 30.0, 33.0, 36.0, 41.0, 46.0, 51.0],
        [36.0, 42.0, 48.0, 54.0, 60.0, 66.0, 72.0, 78.0, 84.0, 90.0],
        [42.0, 49.0, 56.0, 63.0, 70.0, 77.0, 84.0, 90.0, 96.0, 102.0],
    ];

    /// Points from times and values (as many as the shorter has).
    fn series(t: &[f64], v: &[f64]) -> Vec<Point> {
        t.iter().zip(v).map(|(&t, &v)| Point { t, v }).collect()
    }

    fn pts(raw: &[(f64, f64)]) -> Vec<Point> {
        raw.iter().map(|&(t, v)| Point { t, v }).collect()
    }

    fn c() -> Vec<Point> {
        series(&T, &C)
    }

    fn late() -> Vec<Point> {
        series(&T[8..], &LATE)
    }

    fn cn() -> Vec<Point> {
        series(&T, &CN)
    }

    fn g() -> Vec<Point> {
        series(&T, &G)
    }

    fn j() -> Vec<Point> {
        series(&J_T, &J_V)
    }

    /// Equal within 1e-9 relative, NaN equal to NaN, infinities exact.
    fn close(got: f64, want: f64) -> bool {
        if want.is_nan() {
            return got.is_nan();
        }
        if want.is_infinite() {
            return got == want;
        }
        (got - want).abs() <= 1e-9 * want.abs().max(1.0)
    }

    #[track_caller]
    fn check(got: Option<f64>, want: f64) {
        assert!(got.is_some_and(|g| close(g, want)), "got {got:?}, want {want}");
    }

    /// `histogram_quantile(q, rate(h_bucket[..]))` over per-bucket series.
    fn quantile_of_rates(q: f64, series: &[(f64, Vec<Point>)], start: f64, end: f64) -> f64 {
        let buckets: Vec<(f64, f64)> = series
            .iter()
            .filter_map(|(le, s)| Some((*le, rate(s, start, end)?)))
            .collect();
        histogram_quantile(q, &buckets)
    }

    #[test]
    fn increase_across_a_counter_reset_matches_prometheus() {
        check(increase(&c(), 10.2, 20.2), 22.22222222222222);
        check(rate(&c(), 10.2, 20.2), 2.2222222222222223);
        check(increase(&j(), 87.0, 93.0), 34.51581975071908);
        check(rate(&j(), 88.0, 92.0), 6.182380216383307);
        check(rate(&j(), 84.0, 104.0), 4.555450832547911);
    }

    #[test]
    fn a_first_sample_far_from_the_start_extrapolates_half_an_interval() {
        check(increase(&c(), 2.0, 12.0), 20.286);
        check(rate(&c(), 2.0, 12.0), 2.0286);
    }

    #[test]
    fn a_last_sample_far_from_the_end_extrapolates_half_an_interval() {
        check(increase(&late(), 20.0, 30.0), 5.2379999999999995);
        check(rate(&late(), 20.0, 30.0), 0.5237999999999999);
        check(increase(&j(), 79.5, 82.5), 6.548377752027809);
    }

    #[test]
    fn gaps_under_the_threshold_extrapolate_to_both_edges() {
        check(increase(&j(), 79.0, 84.0), 24.34648898001025);
        check(delta(&j(), 87.0, 92.0), -39.73340169187388);
    }

    #[test]
    fn the_zero_point_clamp_applies_before_the_threshold_as_in_2_42() {
        // The first sample is 3.738 s in; the zero point, 1.0 s before it,
        // is under 1.1 intervals, so 2.42 extrapolates all of it (2.51+
        // would take half an interval: 6.762).
        check(increase(&late(), 10.0, 20.0), 7.2620000000000005);
        check(rate(&late(), 10.0, 20.0), 0.7262000000000002);
        // Here the zero point (0.123 s before the first sample) is nearer
        // than the window start (0.445 s).
        check(increase(&j(), 90.0, 92.0), 13.612977983777519);
    }

    #[test]
    fn a_sample_on_the_window_start_counts_as_in_2_42() {
        check(delta(&g(), 15.738, 25.738), 4.0);
        check(increase(&c(), 15.738, 25.738), 20.0);
        check(increase(&j(), 79.603, 83.603), 19.477191184008202);
        check(increase(&j(), 89.309, 91.308), 9.265353418308228);
        // 7.5 sits on the start; 3.x would answer 6.5.
        check(max(&g(), 19.738, 29.738), 7.5);
        check(mean(&g(), 19.738, 29.738), 2.5);
        check(last(&g(), 19.738, 29.738), 0.5);
    }

    #[test]
    fn gauge_aggregations_match_prometheus() {
        check(max(&g(), 10.2, 20.2), 7.5);
        check(mean(&g(), 10.2, 20.2), 2.4);
        check(last(&g(), 10.2, 20.2), 7.5);
        check(delta(&g(), 10.2, 20.2), 8.88888888888889);
        check(delta(&g(), 6.1, 13.1), -2.3333333333333335);
    }

    #[test]
    fn rate_with_exactly_two_points_matches_prometheus() {
        check(increase(&c(), 6.0, 8.0), 6.0);
        check(rate(&c(), 6.0, 8.0), 3.0);
    }

    #[test]
    fn a_window_after_the_last_scrape_matches_prometheus() {
        check(increase(&c(), 28.0, 38.0), 20.0);
        check(rate(&c(), 28.0, 38.0), 2.0);
    }

    #[test]
    fn fewer_than_two_points_give_none() {
        assert_eq!(increase(&c(), 19.2, 20.2), None);
        assert_eq!(rate(&late(), 29.0, 30.0), None);
        assert_eq!(delta(&[], 0.0, 1.0), None);
        assert_eq!(max(&late(), 29.0, 30.0), None);
        assert_eq!(mean(&late(), 29.0, 30.0), None);
        assert_eq!(last(&late(), 29.0, 30.0), None);
    }

    #[test]
    fn a_nan_sample_is_data_and_hides_the_reset_after_it() {
        // Without the NaN the reset would add 5 and give 14.44.
        check(increase(&cn(), 6.0, 16.0), 4.444444444444445);
        // Last sample NaN.
        check(increase(&cn(), 7.0, 12.0), f64::NAN);
        // 5, NaN, 2: the drop is never seen, so the increase is negative.
        check(increase(&cn(), 10.0, 13.0), -4.5);
        check(max(&cn(), 7.0, 12.0), 5.0);
        check(mean(&cn(), 7.0, 12.0), f64::NAN);
        check(last(&cn(), 7.0, 12.0), f64::NAN);
    }

    #[test]
    fn quantiles_of_bucket_rates_match_prometheus() {
        let t: Vec<f64> = (0..10).map(|i| 10.738 + f64::from(i)).collect();
        let h: Vec<(f64, Vec<Point>)> = H_LE
            .iter()
            .zip(&H)
            .map(|(&le, counts)| (le, series(&t, counts)))
            .collect();
        assert!(close(quantile_of_rates(0.95, &h, 10.2, 20.2), 1.0));
        assert!(close(quantile_of_rates(0.99, &h, 10.2, 20.2), 1.0));
        assert!(close(quantile_of_rates(0.5, &h, 10.2, 20.2), 0.42000000000000004));
        // h2: 1 observation per scrape under 0.1 and 9 above 1.0.
        let h2: Vec<(f64, Vec<Point>)> = H_LE
            .iter()
            .map(|&le| {
                let per = if le.is_infinite() { 10.0 } else { 1.0 };
                let counts: Vec<f64> = (6..16).map(|i| per * f64::from(i)).collect();
                (le, series(&t, &counts))
            })
            .collect();
        assert!(close(quantile_of_rates(0.95, &h2, 10.2, 20.2), 1.0));
        assert!(close(quantile_of_rates(0.05, &h2, 10.2, 20.2), 0.05));
    }

    #[test]
    fn quantiles_of_odd_bucket_sets_match_prometheus() {
        let inf = f64::INFINITY;
        let sets: [&[(f64, f64)]; 10] = [
            &[(0.1, 5.0), (0.5, 3.0), (1.0, 8.0), (inf, 10.0)],  // falling count
            &[(0.1, 0.0), (0.5, 4.0), (1.0, 8.0), (inf, 10.0)],  // empty lowest bucket
            &[(0.1, 1.0), (0.5, 2.0), (1.0, 3.0)],               // no +Inf
            &[(0.1, 0.0), (0.5, 0.0), (1.0, 0.0), (inf, 0.0)],   // all zero
            &[(inf, 5.0)],                                       // single bucket
            &[(-1.0, 2.0), (0.0, 4.0), (1.0, 6.0), (inf, 8.0)],  // negative bounds
            &[(0.1, 1.0), (0.5, 2.0), (1.0, 3.0), (inf, 10.0)],  // mostly +Inf
            &[(0.1, 1.0), (1.0, 3.0), (1.0, 2.0), (inf, 10.0)],  // le="1" and le="1.0"
            &[(0.1, 1.0), (0.5, 4.0), (1.0, 10.0), (inf, 10.0)], // nothing in +Inf
            &[(0.1, 3.0), (0.5, 1.0), (1.0, 2.0), (inf, 1.0)],   // everything falls
        ];
        // Rows: q = 0, 0.25, 0.5, 0.95, 1; columns: the sets above. Prometheus
        // printed 0.30000000000000004, 0.5833333333333334, 0.9583333333333333
        // and 0.09499999999999999: the same values to the last bit or two.
        let want: [(f64, [f64; 10]); 5] = [
            (0.0, [0.0, NAN, NAN, NAN, NAN, -1.0, 0.0, 0.0, 0.0, 0.0]),
            (0.25, [0.05, 0.35, NAN, NAN, NAN, -1.0, 0.75, 0.4375, 0.3, 0.025]),
            (0.5, [0.1, 0.625, NAN, NAN, NAN, 0.0, 1.0, 1.0, 7.0 / 12.0, 0.05]),
            (0.95, [1.0, 1.0, NAN, NAN, NAN, 1.0, 1.0, 1.0, 23.0 / 24.0, 0.095]),
            (1.0, [1.0, 1.0, NAN, NAN, NAN, 1.0, 1.0, 1.0, 1.0, 0.1]),
        ];
        for (q, row) in want {
            for (set, expected) in sets.iter().zip(row) {
                let got = histogram_quantile(q, set);
                assert!(close(got, expected), "q={q} {set:?}: got {got}, want {expected}");
            }
        }
        for set in sets {
            assert_eq!(histogram_quantile(-0.5, set), f64::NEG_INFINITY);
            assert_eq!(histogram_quantile(1.5, set), f64::INFINITY);
            assert!(histogram_quantile(f64::NAN, set).is_nan());
        }
    }

    #[test]
    fn histogram_quantile_sorts_its_buckets() {
        let sorted = [(0.1, 1.0), (0.5, 4.0), (1.0, 10.0), (f64::INFINITY, 12.0)];
        let shuffled = [sorted[2], sorted[3], sorted[0], sorted[1]];
        for q in [0.0, 0.1, 0.3, 0.5, 0.8, 0.9, 1.0] {
            assert_eq!(histogram_quantile(q, &sorted), histogram_quantile(q, &shuffled));
        }
    }

    #[test]
    fn histogram_quantile_interpolates_inside_a_bucket() {
        // Rank 6 of 12 lies 2/6 of the way through (0.5, 1.0].
        let b = [(0.1, 1.0), (0.5, 4.0), (1.0, 10.0), (f64::INFINITY, 12.0)];
        assert!(close(histogram_quantile(0.5, &b), 0.5 + 0.5 * (2.0 / 6.0)));
        // The lowest bucket interpolates from 0: rank 0.6 of its 1.
        assert!(close(histogram_quantile(0.05, &b), 0.06));
        // Rank 11.4 is past 10, in +Inf: the highest finite bound.
        assert_eq!(histogram_quantile(0.95, &b), 1.0);
    }

    #[test]
    fn histogram_quantile_without_usable_buckets_is_nan() {
        assert!(histogram_quantile(0.5, &[]).is_nan());
        assert!(histogram_quantile(0.5, &[(f64::NAN, 1.0), (f64::INFINITY, 2.0)]).is_nan());
        assert!(histogram_quantile(0.5, &[(f64::INFINITY, 3.0), (f64::INFINITY, 4.0)]).is_nan());
        // A range check still answers before the buckets are looked at.
        assert_eq!(histogram_quantile(2.0, &[]), f64::INFINITY);
    }

    #[test]
    fn points_outside_the_window_are_ignored() {
        let all = c();
        let inside: Vec<Point> = all.iter().copied().filter(|p| (10.2..=20.2).contains(&p.t)).collect();
        assert_eq!(increase(&all, 10.2, 20.2), increase(&inside, 10.2, 20.2));
        assert_eq!(max(&all, 10.2, 20.2), max(&inside, 10.2, 20.2));
        assert_eq!(increase(&all, 20.2, 10.2), None);
        assert_eq!(increase(&all, f64::NAN, 20.2), None);
    }

    #[test]
    fn unsorted_points_and_repeated_timestamps_are_put_in_order() {
        let ordered = series(&J_T[..8], &J_V[..8]);
        let mut messy = ordered.clone();
        messy.reverse();
        // A second value for a timestamp already held is dropped.
        messy.extend(pts(&[(ordered[3].t, 1e9)]));
        assert_eq!(increase(&messy, 79.0, 84.0), increase(&ordered, 79.0, 84.0));
        assert_eq!(last(&messy, 79.0, 84.0), Some(23.0));
    }

    #[test]
    fn delta_does_not_correct_a_falling_gauge() {
        let p = pts(&[(0.0, 10.0), (1.0, 4.0), (2.0, 7.0)]);
        assert_eq!(delta(&p, 0.0, 2.0), Some(-3.0));
        // Read as a counter, the drop is a reset to zero: 4 + 3.
        assert_eq!(increase(&p, 0.0, 2.0), Some(7.0));
    }

    #[test]
    fn a_counter_is_not_extrapolated_below_zero() {
        // 1 per second from 0.5 at t=10: the zero point is at t=9.5.
        let p = pts(&[(10.0, 0.5), (11.0, 1.5), (12.0, 2.5)]);
        // Start gap 1 s (under 1.1 intervals), cut to the 0.5 s to zero.
        assert_eq!(increase(&p, 9.0, 12.0), Some(2.5));
        // The same points as a gauge go all the way: 2 × 3 / 2.
        assert_eq!(delta(&p, 9.0, 12.0), Some(3.0));
        // Start gap 10 s: half an interval, which is also the zero point.
        assert_eq!(increase(&p, 0.0, 12.0), Some(2.5));
    }

    #[test]
    fn mean_of_infinities_stays_infinite() {
        let p = pts(&[(0.0, 1.0), (1.0, f64::INFINITY), (2.0, 5.0), (3.0, f64::INFINITY)]);
        assert_eq!(mean(&p, 0.0, 3.0), Some(f64::INFINITY));
        let q = pts(&[(0.0, f64::INFINITY), (1.0, f64::NEG_INFINITY)]);
        assert!(mean(&q, 0.0, 1.0).is_some_and(f64::is_nan));
        assert_eq!(mean(&pts(&[(0.0, 1e308), (1.0, 1e308)]), 0.0, 1.0), Some(1e308));
    }

    proptest! {
        #[test]
        fn rate_of_a_steady_counter_is_its_slope(
            slope in 0.01f64..1000.0,
            interval in 0.1f64..10.0,
            n in 2usize..60,
            lead in 0.0f64..1.0,
            lag in 0.0f64..1.0,
        ) {
            // Edges within one interval of the samples, and a counter high
            // enough that its zero point is never nearer than the start.
            let p: Vec<Point> = (0..n)
                .map(|i| {
                    let t = 100.0 + i as f64 * interval;
                    Point { t, v: slope * (t + 20.0) }
                })
                .collect();
            let (start, end) = (p[0].t - lead * interval, p[n - 1].t + lag * interval);
            let r = rate(&p, start, end).unwrap();
            prop_assert!((r - slope).abs() <= 1e-9 * slope, "{r} vs {slope}");
        }
    }
}
