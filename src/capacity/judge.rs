//! One probe's verdict: did the service hold this rate? Pure.
//!
//! A probe fails on its SLOs (judged on its own requests only), on more
//! than 1 % errors, or when the service did not keep up: it answered less
//! than 97 % of the offered rate, or its latency or its requests in flight
//! were still rising at the end of the hold. Above capacity a queue grows
//! by about (r/C − 1)·t, so a short hold can end before the percentile
//! shows it; the rise itself is the tell. A rise counts when it is both
//! significant (the least-squares slope's t statistic past the 99 % point
//! of Student's t: a search judges a dozen probes, and a per-second median
//! of a few dozen exponential service times wanders by a third) and large
//! enough to matter (over the hold, latency at least doubles and rises by
//! 2 ms; requests in flight rise by a quarter and by more than the share
//! of arrivals the achieved rate may miss).
//!
//! A probe where loadprof itself could not keep the schedule (arrivals
//! started late, or dropped for want of room in flight, or its own CPU
//! saturated) is `generator`-limited: it says nothing about the service
//! and never counts as the service's limit.

use crate::gate::SloResult;

/// What limited a probe, in the order DESIGN.md names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// An error-rate SLO failed, or more than 1 % of requests failed.
    Errors,
    /// Another SLO failed.
    Slo,
    /// The service did not keep up with the offered rate.
    Throughput,
    /// loadprof could not keep the schedule.
    Generator,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Errors => "errors",
            Limit::Slo => "slo",
            Limit::Throughput => "throughput",
            Limit::Generator => "generator",
        }
    }
}

/// What a probe measured, after its warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeStats {
    /// Requests per second offered (the plan's rate), arrived (the
    /// answered ones plus the growth of those in flight: with Poisson
    /// arrivals this differs from the plan by chance) and answered (ended)
    /// during the hold.
    pub offered: f64,
    pub arrived: f64,
    pub achieved: f64,
    pub error_rate: f64,
    /// The run's SLOs judged on this probe's requests.
    pub slos: Vec<SloResult>,
    /// Per second of the hold: (seconds, mean latency in ms).
    pub latency: Vec<(f64, f64)>,
    /// Per second of the hold: (seconds, requests in flight).
    pub in_flight: Vec<(f64, f64)>,
    /// Share of arrivals that started more than the lag bound after their
    /// scheduled time, or were dropped.
    pub late_share: f64,
    /// loadprof's own CPU over the hold, in cores, and the cores it has.
    pub generator_cpu: f64,
    pub cores: f64,
}

/// A probe's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub pass: bool,
    /// What failed, most important first (empty when it passed).
    pub limits: Vec<Limit>,
    /// Why, in words.
    pub reason: String,
}

/// Most errors a probe may have without an error-rate SLO.
pub const MAX_ERROR_RATE: f64 = 0.01;
/// Least share of the offered rate the service must answer.
pub const MIN_ACHIEVED: f64 = 0.97;
/// Most late or dropped arrivals before the probe is loadprof's, not the service's.
pub const MAX_LATE_SHARE: f64 = 0.05;
/// loadprof's CPU past this share of its cores: it is the bottleneck.
pub const MAX_GENERATOR_CPU: f64 = 0.9;

/// Student's t at 99 %, one-sided, by degrees of freedom (1..=30; beyond, 2.326).
#[allow(clippy::approx_constant)] // 2.718 is t at 11 degrees of freedom, not e
fn t99(df: usize) -> f64 {
    const T: [f64; 30] = [
        31.821, 6.965, 4.541, 3.747, 3.365, 3.143, 2.998, 2.896, 2.821, 2.764, 2.718, 2.681, 2.650, 2.624, 2.602,
        2.583, 2.567, 2.552, 2.539, 2.528, 2.518, 2.508, 2.500, 2.492, 2.485, 2.479, 2.473, 2.467, 2.462, 2.457,
    ];
    match df {
        0 => f64::INFINITY,
        d if d <= 30 => T[d - 1],
        _ => 2.326,
    }
}

/// The least-squares slope of `points` and its t statistic (infinite for
/// a perfect rise, 0 for a flat line). None with fewer than 3 points.
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse: f64 = pts.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (sse / (nf - 2.0) / sxx).sqrt();
    let t = if se > 0.0 {
        b / se
    } else if b > 0.0 {
        f64::INFINITY
    } else if b < 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    Some((b, t))
}

/// Whether `points` still rise at the end: a significant slope whose rise
/// over their span is more than `share` of their mean and than `floor`.
pub fn rising(points: &[(f64, f64)], floor: f64, share: f64) -> bool {
    let Some((b, t)) = slope(points) else {
        return false;
    };
    let n = points.len();
    let span = points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0);
    let mean = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let rise = b * span;
    t > t99(n - 2) && rise > floor && rise > share * mean.abs()
}

fn is_error_slo(r: &SloResult) -> bool {
    r.name.ends_with("error_rate") || r.name.ends_with("success_rate") || r.name.ends_with("iteration_fail_rate")
}

/// Judges one probe. The service's own failures (errors, SLOs, a rise
/// that does not stop) come first; a probe without them where loadprof was
/// late, dropped arrivals or ran out of CPU is the generator's; only then
/// does a shortfall of answers count against the service.
pub fn judge(p: &ProbeStats) -> Verdict {
    let mut limits = Vec::new();
    let mut why: Vec<String> = Vec::new();
    let failed: Vec<&SloResult> = p.slos.iter().filter(|s| !s.pass).collect();
    let error_slo = failed.iter().any(|s| is_error_slo(s));
    if error_slo || p.error_rate > MAX_ERROR_RATE {
        limits.push(Limit::Errors);
        why.push(format!("{:.2}% errors", p.error_rate * 100.0));
    }
    let other: Vec<String> = failed
        .iter()
        .filter(|s| !is_error_slo(s))
        .map(|s| s.described())
        .collect();
    if !other.is_empty() {
        limits.push(Limit::Slo);
        why.push(other.join(", "));
    }
    // Queues near capacity wander: a rise counts when latency doubles by
    // half over the hold, or the backlog grows by more than the share of
    // the arrivals the achieved rate may miss.
    let span = p.in_flight.last().map_or(0.0, |l| l.0) - p.in_flight.first().map_or(0.0, |f| f.0);
    let backlog_floor = (2.0f64).max((1.0 - MIN_ACHIEVED) * p.offered * span);
    if rising(&p.latency, 2.0, 1.0) {
        limits.push(Limit::Throughput);
        why.push("latency still rising at the end of the hold".into());
    } else if rising(&p.in_flight, backlog_floor, 0.25) {
        limits.push(Limit::Throughput);
        why.push("requests in flight still rising at the end of the hold".into());
    }
    let generator = p.late_share > MAX_LATE_SHARE || (p.cores > 0.0 && p.generator_cpu > MAX_GENERATOR_CPU * p.cores);
    if limits.is_empty() && generator {
        return Verdict {
            pass: false,
            limits: vec![Limit::Generator],
            reason: format!(
                "loadprof could not keep the schedule ({:.1}% of arrivals late or dropped, its CPU {:.2} of {} cores)",
                p.late_share * 100.0,
                p.generator_cpu,
                p.cores
            ),
        };
    }
    let arrived = if p.arrived > 0.0 { p.arrived } else { p.offered };
    if arrived > 0.0 && p.achieved < MIN_ACHIEVED * arrived && !limits.contains(&Limit::Throughput) {
        limits.push(Limit::Throughput);
        why.push(format!(
            "answered {:.1}/s of {:.1}/s arrived ({:.0}%)",
            p.achieved,
            arrived,
            p.achieved / arrived * 100.0
        ));
    }
    limits.sort();
    Verdict {
        pass: limits.is_empty(),
        limits,
        reason: if why.is_empty() { "held".into() } else { why.join("; ") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> ProbeStats {
        ProbeStats {
            offered: 100.0,
            arrived: 100.0,
            achieved: 99.5,
            error_rate: 0.0,
            slos: Vec::new(),
            latency: (0..20).map(|i| (i as f64, 10.0 + (i % 3) as f64)).collect(),
            in_flight: (0..20).map(|i| (i as f64, 1.0 + (i % 2) as f64)).collect(),
            late_share: 0.0,
            generator_cpu: 0.2,
            cores: 2.0,
        }
    }

    fn slo(name: &str, pass: bool) -> SloResult {
        SloResult {
            name: name.into(),
            expr: "< 1".into(),
            observed: Some(2.0),
            unit: "ms".into(),
            pass,
        }
    }

    #[test]
    fn a_steady_probe_holds() {
        let v = judge(&stats());
        assert!(v.pass, "{v:?}");
        assert_eq!(v.reason, "held");
    }

    #[test]
    fn a_queue_that_grows_fails_on_throughput_before_the_percentile_shows_it() {
        // Offered 10 % over capacity: the queue, and the latency, grow.
        let mut s = stats();
        s.latency = (0..20).map(|i| (i as f64, 10.0 + 3.0 * i as f64)).collect();
        let v = judge(&s);
        assert_eq!(v.limits, vec![Limit::Throughput], "{v:?}");
        assert!(v.reason.contains("latency still rising"));
        let mut s = stats();
        // 10 % over capacity at 100/s: the backlog grows by 10 a second.
        s.in_flight = (0..20).map(|i| (i as f64, 5.0 + 10.0 * i as f64)).collect();
        assert_eq!(judge(&s).limits, vec![Limit::Throughput]);
        // A backlog of a few requests wandering up is no overload at 100/s.
        s.in_flight = (0..20).map(|i| (i as f64, 2.0 + 0.2 * i as f64)).collect();
        assert!(judge(&s).pass);
        let mut s = stats();
        s.achieved = 90.0;
        assert!(judge(&s).reason.contains("answered 90.0/s of 100.0/s arrived"));
        // Poisson arrivals that came short of the plan by chance are no shortfall.
        s.arrived = 91.0;
        assert!(judge(&s).pass);
    }

    #[test]
    fn per_second_medians_of_exponential_service_at_low_load_are_not_a_rise() {
        // 20 requests a second, service exponential with a 50 ms mean and
        // no queue: each second's median wanders by about a third. Over a
        // search's dozen probes of 6 s, a rise must almost never be seen.
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let trials = 4000;
        let mut seen = 0;
        for _ in 0..trials {
            let latency: Vec<(f64, f64)> = (0..6)
                .map(|sec| {
                    let mut v: Vec<f64> = (0..20).map(|_| -50.0 * (1.0f64 - rng.random::<f64>()).ln()).collect();
                    v.sort_by(f64::total_cmp);
                    (sec as f64, (v[9] + v[10]) / 2.0)
                })
                .collect();
            let mut s = stats();
            s.latency = latency;
            if judge(&s).reason.contains("latency still rising") {
                seen += 1;
            }
        }
        assert!(
            seen * 1000 < trials * 3,
            "{seen} of {trials} steady probes read as rising"
        );
    }

    #[test]
    fn noise_and_small_drifts_are_not_a_rise() {
        // A significant but tiny drift (0.05 ms a second on 10 ms).
        let drift: Vec<(f64, f64)> = (0..30).map(|i| (i as f64, 10.0 + 0.05 * i as f64)).collect();
        assert!(!rising(&drift, 2.0, 0.25));
        // Large but random swings: no significant slope.
        let noisy: Vec<(f64, f64)> = (0..30)
            .map(|i| (i as f64, if i % 2 == 0 { 5.0 } else { 40.0 }))
            .collect();
        assert!(!rising(&noisy, 2.0, 0.25));
        assert!(
            !rising(&[(0.0, 1.0), (1.0, 100.0)], 2.0, 0.25),
            "two points prove nothing"
        );
    }

    #[test]
    fn failures_are_ordered_errors_slo_throughput() {
        let mut s = stats();
        s.slos = vec![slo("all.p95", false), slo("all.error_rate", false)];
        s.error_rate = 0.2;
        s.achieved = 50.0;
        let v = judge(&s);
        assert_eq!(v.limits, vec![Limit::Errors, Limit::Slo, Limit::Throughput]);
        let mut s = stats();
        s.error_rate = 0.02;
        assert_eq!(judge(&s).limits, vec![Limit::Errors], "over 1 % errors without an SLO");
    }

    #[test]
    fn a_late_generator_is_its_own_verdict_unless_the_service_failed_too() {
        let mut s = stats();
        s.late_share = 0.3;
        s.achieved = 20.0;
        let v = judge(&s);
        assert_eq!(v.limits, vec![Limit::Generator]);
        assert!(!v.pass);
        // Arrivals dropped because the service's queue filled: the service's.
        s.latency = (0..20).map(|i| (i as f64, 10.0 + 3.0 * i as f64)).collect();
        assert_eq!(judge(&s).limits, vec![Limit::Throughput]);
        let mut s = stats();
        s.generator_cpu = 1.95;
        assert_eq!(judge(&s).limits, vec![Limit::Generator]);
    }

    #[test]
    fn the_slope_is_least_squares_with_its_t_statistic() {
        let (b, t) = slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert_eq!((b, t), (2.0, f64::INFINITY));
        let (b, t) = slope(&[(0.0, 1.0), (1.0, 2.0), (2.0, 2.0), (3.0, 3.0)]).unwrap();
        assert!((b - 0.6).abs() < 1e-12);
        // se = sqrt(SSE / (n-2) / Sxx) = sqrt(0.2 / 2 / 5)
        assert!((t - 0.6 / (0.02f64).sqrt()).abs() < 1e-9, "{t}");
    }
}
