//! Leak verdicts: did memory grow without bound under steady load? Pure
//! analysis of one time series (seconds, bytes): trim the warm-up, take a
//! lower envelope (the minimum of each GC cycle, or a low percentile of
//! short blocks), fit a Theil–Sen trend with an interval widened for
//! autocorrelation, and call it a leak only when the growth is
//! significant, large enough to matter, not slowing down like a warm-up,
//! and well above the noise. No clock, no files.

pub mod series;
pub mod stats;

use crate::config::units::format_bytes;
use stats::{TrendFit, mad, median, quantile, theil_sen};

const MIB: f64 = 1024.0 * 1024.0;

/// How much of the start is warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warmup {
    /// The first third of the loaded part of the series.
    Auto,
    /// This many seconds from the start.
    Seconds(f64),
}

impl Warmup {
    /// `auto`, or a duration (`45s`).
    pub fn parse(s: &str) -> Result<Warmup, String> {
        if s.trim() == "auto" {
            return Ok(Warmup::Auto);
        }
        crate::config::units::parse_duration(s)
            .map(|d| Warmup::Seconds(d.as_secs_f64()))
            .map_err(|e| format!("{e}; or auto"))
    }
}

/// What the verdict is judged against.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakParams {
    pub warmup: Warmup,
    /// Samples from this time on were taken after the load stopped; they can
    /// only clear a verdict, never raise one.
    pub settle_from: Option<f64>,
    /// Growth below this (bytes per second) is not a leak, whatever the level.
    pub max_growth: f64,
    /// Nor is growth below this fraction of the level per second.
    pub rel_floor: f64,
    /// Report when the trend would reach this many bytes.
    pub limit: Option<f64>,
    /// What the series is, for the reason sentence (`RSS`).
    pub label: String,
    /// The shortest span after the warm-up a verdict is given on. Shorter
    /// windows (a demo, a quick check) shrink the envelope's blocks with
    /// it, and can mistake a slow warm-up for a leak.
    pub min_window_s: f64,
}

impl Default for LeakParams {
    fn default() -> LeakParams {
        LeakParams {
            warmup: Warmup::Auto,
            settle_from: None,
            max_growth: MIB / 60.0,
            rel_floor: 0.004 / 60.0,
            limit: None,
            label: "RSS".into(),
            min_window_s: MIN_WINDOW_S,
        }
    }
}

/// Less than this much data after the warm-up cannot tell a leak from a
/// slow warm-up.
pub const MIN_WINDOW_S: f64 = 90.0;
/// The fewest envelope points a trend is fitted to.
pub const MIN_ENVELOPE: usize = 6;
/// Envelope block length when there is no GC cycle to follow (shorter
/// when the window may be shorter than `MIN_WINDOW_S`).
pub const BLOCK_S: f64 = 10.0;

/// The envelope block for a minimum window: `BLOCK_S` for the usual one,
/// proportionally shorter for a shorter window.
pub fn block_for(min_window_s: f64) -> f64 {
    (BLOCK_S * min_window_s / MIN_WINDOW_S).clamp(0.5, BLOCK_S)
}
/// The second half must grow at least this fraction as fast as the first.
pub const GAMMA: f64 = 0.6;
/// A slope this fraction of the threshold still counts, so that estimates
/// of a leak right at the threshold are not lost to noise.
pub const THRESHOLD_SLACK: f64 = 0.75;
/// Growth over the window must be this many robust noise widths.
pub const K_NOISE: f64 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Leak,
    NoLeak,
    Inconclusive,
}

/// Which of the four conditions held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checks {
    /// The interval's lower bound is above zero.
    pub significant: bool,
    /// The slope clears the threshold.
    pub large_enough: bool,
    /// The second half grows at least `GAMMA` times as fast as the first.
    pub not_slowing: bool,
    /// Total growth is `K_NOISE` times the robust noise.
    pub above_noise: bool,
}

/// A verdict and everything it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakReport {
    pub verdict: Verdict,
    /// Bytes per second (0 when there was too little data to fit).
    pub slope: f64,
    pub slope_ci: (f64, f64),
    pub trend_p: f64,
    pub growth_pct_per_min: f64,
    pub warmup_s: f64,
    /// The threshold used, bytes per second.
    pub threshold: f64,
    pub checks: Checks,
    /// Seconds until the trend reaches `limit`, if it grows and one was given.
    pub time_to_limit_s: Option<f64>,
    /// The points the trend was fitted to, and the fitted line's intercept.
    pub envelope: Vec<(f64, f64)>,
    pub intercept: f64,
    /// The analysed span (after the warm-up, before the settle phase).
    pub window: (f64, f64),
    pub reason: String,
}

/// Judges the series `t` (seconds, increasing) / `v` (bytes).
pub fn analyze(t: &[f64], v: &[f64], p: &LeakParams) -> LeakReport {
    let n = t.len().min(v.len());
    let (t, v) = (&t[..n], &v[..n]);
    let start = t.first().copied().unwrap_or(0.0);
    let loaded_end = p.settle_from.map_or(n, |s| t.iter().position(|&x| x >= s).unwrap_or(n));
    let load_end_t = if loaded_end > 0 { t[loaded_end - 1] } else { start };
    let warmup_s = match p.warmup {
        Warmup::Auto => (load_end_t - start) / 3.0,
        Warmup::Seconds(s) => s.max(0.0),
    };
    let first = t[..loaded_end]
        .iter()
        .position(|&x| x >= start + warmup_s)
        .unwrap_or(loaded_end);
    let (wt, wv) = (&t[first..loaded_end], &v[first..loaded_end]);
    let level = median(wv);
    let threshold = p
        .max_growth
        .max(p.rel_floor * if level.is_finite() { level } else { 0.0 });
    let mut report = LeakReport {
        verdict: Verdict::Inconclusive,
        slope: 0.0,
        slope_ci: (0.0, 0.0),
        trend_p: 1.0,
        growth_pct_per_min: 0.0,
        warmup_s,
        threshold,
        checks: Checks::default(),
        time_to_limit_s: None,
        envelope: Vec::new(),
        intercept: 0.0,
        window: (
            wt.first().copied().unwrap_or(start),
            wt.last().copied().unwrap_or(start),
        ),
        reason: String::new(),
    };
    let span = report.window.1 - report.window.0;
    let block = block_for(p.min_window_s);
    if span < p.min_window_s {
        report.reason = format!(
            "only {} of data after a {} warm-up; at least {} are needed to tell a leak from a warm-up, so run longer",
            secs(span.max(0.0)),
            secs(warmup_s),
            secs(p.min_window_s)
        );
        return report;
    }
    let envelope = thin(lower_envelope(wt, wv, block));
    report.envelope = envelope.clone();
    if envelope.len() < MIN_ENVELOPE {
        report.reason = format!(
            "{} has only {} GC cycles or blocks after the warm-up ({} needed); run longer",
            p.label,
            envelope.len(),
            MIN_ENVELOPE
        );
        return report;
    }
    let (et, ev): (Vec<f64>, Vec<f64>) = envelope.iter().copied().unzip();
    let Some(fit) = theil_sen(&et, &ev, 1.96) else {
        report.reason = "too few points to fit a trend; run longer".into();
        return report;
    };
    report.slope = fit.slope;
    report.slope_ci = fit.ci;
    report.trend_p = fit.p;
    report.intercept = fit.intercept;
    report.growth_pct_per_min = if level > 0.0 {
        fit.slope * 60.0 / level * 100.0
    } else {
        0.0
    };
    report.checks = checks(&et, &ev, &fit, threshold);
    let c = report.checks;
    report.verdict = match (c.significant && c.large_enough, c.not_slowing && c.above_noise) {
        (true, true) => Verdict::Leak,
        (true, false) => Verdict::Inconclusive,
        (false, _) => Verdict::NoLeak,
    };
    if let Some(limit) = p.limit
        && fit.slope > 0.0
    {
        let now = fit.intercept + fit.slope * report.window.1;
        report.time_to_limit_s = Some(((limit - now) / fit.slope).max(0.0));
    }
    // Memory that falls back after the load stops was in flight, not leaked.
    let mut settled = false;
    if report.verdict != Verdict::NoLeak && loaded_end < n {
        let after: Vec<f64> = (loaded_end..n)
            .filter(|&i| t[i] >= t[loaded_end] + block)
            .map(|i| v[i])
            .collect();
        if !after.is_empty() {
            let baseline = fit.intercept + fit.slope * report.window.0;
            let growth = fit.slope * span;
            let retained = quantile(&after, 0.1) - baseline;
            if growth > 0.0 && retained < 0.25 * growth {
                report.verdict = Verdict::NoLeak;
                settled = true;
            }
        }
    }
    report.reason = reason(&report, p, level, settled);
    report
}

fn checks(et: &[f64], ev: &[f64], fit: &TrendFit, threshold: f64) -> Checks {
    let half = et.len() / 2;
    let slope_of = |a: usize, b: usize| theil_sen(&et[a..b], &ev[a..b], 1.96).map_or(0.0, |f| f.slope);
    let (first, second) = (slope_of(0, half.max(3)), slope_of(half.min(et.len() - 3), et.len()));
    let resid: Vec<f64> = et.iter().zip(ev).map(|(t, v)| v - fit.slope * t).collect();
    let noise = 1.4826 * mad(&resid);
    let span = et[et.len() - 1] - et[0];
    Checks {
        significant: fit.ci.0 > 0.0,
        large_enough: fit.slope >= THRESHOLD_SLACK * threshold,
        not_slowing: second > 0.0 && second >= GAMMA * first,
        above_noise: fit.slope * span >= K_NOISE * noise,
    }
}

/// The most envelope points the trend is fitted to: Theil–Sen compares
/// every pair, so a day of 10 Hz samples with frequent drops is thinned.
pub const MAX_ENVELOPE: usize = 1000;

/// Keeps at most `MAX_ENVELOPE` points: the lowest of each run of neighbours.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_ENVELOPE {
        return points;
    }
    let per = points.len().div_ceil(MAX_ENVELOPE);
    points
        .chunks(per)
        .filter_map(|c| c.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)))
        .collect()
}

/// The lower envelope: when sharp drops repeat (a garbage collector), the
/// minimum of each cycle between them; otherwise the 10th percentile of
/// each `block` seconds (10 s usually). Either way spikes, sawtooth tops and in-flight buffers
/// are left out and what remains is what the process keeps.
pub fn lower_envelope(t: &[f64], v: &[f64], block: f64) -> Vec<(f64, f64)> {
    if t.len() < 2 {
        return t.iter().copied().zip(v.iter().copied()).collect();
    }
    let diffs: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    let sharp = (6.0 * mad(&diffs)).max(0.005 * median(v));
    let drops: Vec<usize> = (0..diffs.len()).filter(|&i| diffs[i] < -sharp).map(|i| i + 1).collect();
    if drops.len() >= MIN_ENVELOPE {
        let mut bounds = drops.clone();
        bounds.push(t.len());
        return bounds
            .windows(2)
            .filter_map(|w| {
                (w[0]..w[1])
                    .min_by(|&a, &b| v[a].total_cmp(&v[b]))
                    .map(|i| (t[i], v[i]))
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let end = t[i] + block;
        let j = i + t[i..].iter().take_while(|&&x| x < end).count();
        // A last block shorter than half a block is too thin to stand alone.
        if t[j - 1] - t[i] >= block / 2.0 || out.is_empty() {
            out.push(((t[i] + t[j - 1]) / 2.0, quantile(&v[i..j], 0.1)));
        }
        i = j;
    }
    out
}

fn rate(bytes_per_s: f64) -> String {
    let per_min = bytes_per_s * 60.0 / MIB;
    if per_min.abs() >= 10.0 {
        format!("{per_min:.0} MiB/min")
    } else {
        format!("{per_min:.2} MiB/min")
    }
}

fn secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{s:.0} s")
    }
}

fn reason(r: &LeakReport, p: &LeakParams, level: f64, settled: bool) -> String {
    let ci = format!(
        "95 % CI {}–{}",
        rate(r.slope_ci.0).trim_end_matches(" MiB/min"),
        rate(r.slope_ci.1)
    );
    let warm = format!("after a {} warm-up", secs(r.warmup_s));
    match r.verdict {
        Verdict::Leak => {
            let outlook = match (p.limit, r.time_to_limit_s) {
                (Some(limit), Some(tt)) => format!("at this rate it reaches {} in {}", format_bytes(limit), secs(tt)),
                _ => format!("that is {} per hour", format_bytes(r.slope * 3600.0)),
            };
            format!("{} grows {} ({ci}) {warm}; {outlook}", p.label, rate(r.slope))
        }
        Verdict::NoLeak if settled => format!(
            "{} grew {} under load but fell back to its baseline after the load stopped: in-flight work, not a leak",
            p.label,
            rate(r.slope)
        ),
        Verdict::NoLeak if r.slope < 0.0 && r.slope_ci.1 < 0.0 => {
            format!("{} shrinks {} ({ci}) {warm}", p.label, rate(-r.slope))
        }
        Verdict::NoLeak => format!(
            "{} holds at about {} {warm}: {} ({ci}), below the {} threshold for a leak",
            p.label,
            format_bytes(level),
            rate(r.slope),
            rate(r.threshold)
        ),
        Verdict::Inconclusive => format!(
            "{} grows {} ({ci}) {warm}, but the growth is slowing like a warm-up or is buried in noise; run longer to tell",
            p.label,
            rate(r.slope)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 Hz samples of `f(t)` for `secs` seconds.
    fn series(secs: usize, f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..secs).map(|i| i as f64).collect();
        let v = t.iter().map(|&x| f(x)).collect();
        (t, v)
    }

    /// Deterministic noise in [-1, 1).
    fn noise(x: f64) -> f64 {
        ((x * 12.9898).sin() * 43758.5453).fract()
    }

    const BASE: f64 = 200.0 * MIB;

    #[test]
    fn linear_leak_of_1_mib_per_min_is_found_in_3_minutes() {
        let (t, v) = series(180, |x| BASE + x / 60.0 * MIB + noise(x) * 0.3 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::Leak, "{}", r.reason);
        assert!((r.slope * 60.0 / MIB - 1.0).abs() < 0.15, "{}", r.reason);
        assert!(r.reason.starts_with("RSS grows 1."), "{}", r.reason);
        assert_eq!(r.warmup_s, 59.666666666666664);
    }

    #[test]
    fn flat_series_is_no_leak() {
        let (t, v) = series(600, |x| BASE + noise(x) * 0.3 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        assert!(r.reason.contains("below the 1.00 MiB/min threshold"), "{}", r.reason);
    }

    #[test]
    fn gc_sawtooth_is_no_leak_and_leak_under_sawtooth_is_a_leak() {
        let saw = |x: f64| (x % 20.0) / 20.0 * 30.0 * MIB;
        let (t, v) = series(600, |x| BASE + saw(x) + noise(x) * 0.3 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        let (t, v) = series(600, |x| BASE + saw(x) + x / 60.0 * 1.2 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::Leak, "{}", r.reason);
        // The envelope followed the GC cycles: one point per cycle.
        assert!((18..=22).contains(&r.envelope.len()), "{}", r.envelope.len());
    }

    #[test]
    fn warmup_that_plateaus_is_not_a_leak() {
        let (t, v) = series(600, |x| {
            BASE + 60.0 * MIB * (1.0 - (-x / 40.0).exp()) + noise(x) * 0.3 * MIB
        });
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
    }

    #[test]
    fn slowing_growth_is_inconclusive() {
        // Still rising fast at the end of the window, but slowing.
        let (t, v) = series(600, |x| BASE + 200.0 * MIB * (1.0 - (-x / 250.0).exp()));
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.reason);
        assert!(!r.checks.not_slowing);
        assert!(r.reason.contains("run longer"), "{}", r.reason);
    }

    #[test]
    fn too_short_is_inconclusive() {
        let (t, v) = series(100, |x| BASE + x * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.starts_with("only 66 s of data"), "{}", r.reason);
        assert!(r.reason.contains("at least 90 s"), "{}", r.reason);
    }

    #[test]
    fn falling_back_after_load_clears_the_verdict() {
        // Grows 3 MiB/min for 10 min under load, then drops to the start.
        let (t, v) = series(
            720,
            |x| if x < 600.0 { BASE + x / 20.0 * MIB } else { BASE } + noise(x) * 0.2 * MIB,
        );
        let mut p = LeakParams::default();
        let r = analyze(&t[..600], &v[..600], &p);
        assert_eq!(r.verdict, Verdict::Leak, "{}", r.reason);
        p.settle_from = Some(600.0);
        let r = analyze(&t, &v, &p);
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        assert!(r.reason.contains("fell back"), "{}", r.reason);
    }

    #[test]
    fn limit_gives_the_time_to_reach_it() {
        let (t, v) = series(600, |x| BASE + x / 60.0 * 2.0 * MIB);
        let p = LeakParams {
            limit: Some(2.0 * 1024.0 * MIB),
            ..LeakParams::default()
        };
        let r = analyze(&t, &v, &p);
        assert_eq!(r.verdict, Verdict::Leak);
        // From 220 MiB at the end, 1828 MiB more at 2 MiB/min: about 15 h.
        let h = r.time_to_limit_s.unwrap() / 3600.0;
        assert!((h - 15.2).abs() < 0.2, "{h}");
        assert!(r.reason.ends_with("reaches 2.00 GiB in 15.2 h"), "{}", r.reason);
    }

    #[test]
    fn threshold_scales_with_a_large_process() {
        // 4 GiB growing 2 MiB/min is under 0.4 %/min of its level (16 MiB/min).
        let (t, v) = series(600, |x| 4096.0 * MIB + x / 30.0 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        assert!((r.threshold * 60.0 / MIB - 16.4).abs() < 0.2);
    }

    #[test]
    fn shrinking_memory_is_no_leak() {
        let (t, v) = series(600, |x| BASE - x / 60.0 * 2.0 * MIB + noise(x) * 0.2 * MIB);
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        assert!(r.reason.starts_with("RSS shrinks 2."), "{}", r.reason);
    }

    #[test]
    fn a_long_fast_sawtooth_is_thinned_and_judged_quickly() {
        // A day at 10 Hz with a GC every 2 s: 43200 cycles.
        let t: Vec<f64> = (0..864_000).map(|i| f64::from(i) / 10.0).collect();
        let v: Vec<f64> = t.iter().map(|x| BASE + (x % 2.0) * MIB).collect();
        let start = std::time::Instant::now();
        let r = analyze(&t, &v, &LeakParams::default());
        assert_eq!(r.verdict, Verdict::NoLeak, "{}", r.reason);
        assert!(r.envelope.len() <= MAX_ENVELOPE);
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn envelope_uses_blocks_without_gc_cycles() {
        let (t, v) = series(100, |x| x);
        let e = lower_envelope(&t, &v, BLOCK_S);
        assert_eq!(e.len(), 10);
        assert!((e[0].1 - 0.9).abs() < 1e-9);
    }
}
