//! The `leak` section of result.json, the verdict as text, and the SVG
//! plot of the series, the envelope the verdict used and the fitted trend.

use std::io::{self, Write};

use serde::Serialize;

use crate::escape::xml;
use crate::leak::{Checks, LeakReport, Verdict};

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LeakSection {
    pub verdict: Verdict,
    pub metric: String,
    pub slope_bytes_per_s: f64,
    pub slope_ci: [f64; 2],
    /// The fitted trend is `trend_intercept_bytes + slope_bytes_per_s * t`
    /// (t in seconds on the samples' clock).
    #[serde(default)]
    pub trend_intercept_bytes: f64,
    pub trend_p: f64,
    pub growth_pct_per_min: f64,
    pub warmup_s: f64,
    pub reason: String,
    /// The threshold the slope was held to, bytes per second.
    pub threshold_bytes_per_s: f64,
    /// Seconds until the trend reaches `--limit`, when one was given and memory grows.
    pub time_to_limit_s: Option<f64>,
    /// The analysed span, seconds.
    pub window_s: [f64; 2],
    pub checks: Checks,
}

fn r(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

impl LeakSection {
    pub fn from_report(rep: &LeakReport, metric: &str) -> LeakSection {
        LeakSection {
            verdict: rep.verdict,
            metric: metric.to_string(),
            slope_bytes_per_s: r(rep.slope, 3),
            slope_ci: [r(rep.slope_ci.0, 3), r(rep.slope_ci.1, 3)],
            trend_intercept_bytes: r(rep.intercept, 1),
            trend_p: r(rep.trend_p, 6),
            growth_pct_per_min: r(rep.growth_pct_per_min, 4),
            warmup_s: r(rep.warmup_s, 3),
            reason: rep.reason.clone(),
            threshold_bytes_per_s: r(rep.threshold, 3),
            time_to_limit_s: rep.time_to_limit_s.map(|s| r(s, 1)),
            window_s: [r(rep.window.0, 3), r(rep.window.1, 3)],
            checks: rep.checks,
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The verdict for a person: one line with the verdict, the reason, and the checks.
pub fn write_verdict(out: &mut dyn Write, rep: &LeakReport) -> io::Result<()> {
    let word = match rep.verdict {
        Verdict::Leak => "LEAK",
        Verdict::NoLeak => "no leak",
        Verdict::Inconclusive => "inconclusive",
    };
    writeln!(out, "leak verdict: {word}")?;
    writeln!(out, "  {}", rep.reason)?;
    if !rep.envelope.is_empty() {
        let c = rep.checks;
        writeln!(
            out,
            "  trend p = {:.2e}; significant {}, above threshold {}, not slowing {}, above noise {}",
            rep.trend_p,
            yes(c.significant),
            yes(c.large_enough),
            yes(c.not_slowing),
            yes(c.above_noise)
        )?;
    }
    Ok(())
}

/// Draws the series, the warm-up, the envelope and the trend as an SVG.
pub fn write_svg(out: &mut dyn Write, t: &[f64], v: &[f64], rep: &LeakReport, title: &str) -> io::Result<()> {
    const W: f64 = 900.0;
    const H: f64 = 420.0;
    const L: f64 = 70.0;
    const R: f64 = 20.0;
    const T: f64 = 62.0;
    const B: f64 = 45.0;
    let mib = 1024.0 * 1024.0;
    let (t0, t1) = (
        t.first().copied().unwrap_or(0.0),
        t.last().copied().unwrap_or(1.0).max(1e-9),
    );
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min) / mib;
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max) / mib;
    let pad = ((hi - lo) * 0.05).max(0.5);
    let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
    let x = |s: f64| L + (s - t0) / (t1 - t0).max(1e-9) * (W - L - R);
    let y = |b: f64| T + (hi - b / mib) / (hi - lo) * (H - T - B);
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        out,
        r#"<text x="{L}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        xml(title)
    )?;
    // The reason, on two lines when it is long.
    let cut = if rep.reason.len() > 120 {
        rep.reason[..120].rfind(' ').unwrap_or(rep.reason.len())
    } else {
        rep.reason.len()
    };
    let (first, rest) = rep.reason.split_at(cut);
    writeln!(out, r##"<text x="{L}" y="36" fill="#444">{}</text>"##, xml(first))?;
    if !rest.is_empty() {
        writeln!(out, r##"<text x="{L}" y="50" fill="#444">{}</text>"##, xml(rest.trim()))?;
    }
    // The warm-up that was left out, and the settle phase after the window.
    writeln!(
        out,
        r##"<rect x="{L}" y="{T}" width="{:.1}" height="{:.1}" fill="#eee"><title>warm-up (not judged)</title></rect>"##,
        (x(rep.window.0) - L).max(0.0),
        H - T - B
    )?;
    if x(rep.window.0) - L > 80.0 {
        writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#777">warm-up (not judged)</text>"##,
            L + 6.0,
            H - B - 8.0
        )?;
    }
    // Axes and ticks.
    writeln!(
        out,
        r##"<path d="M{L} {T} V{} H{}" stroke="#000" fill="none"/>"##,
        H - B,
        W - R
    )?;
    for k in 0..=5 {
        let val = lo + (hi - lo) * f64::from(k) / 5.0;
        let py = y(val * mib);
        writeln!(
            out,
            r##"<text x="{}" y="{:.1}" text-anchor="end">{val:.1}</text>"##,
            L - 6.0,
            py + 4.0
        )?;
        let s = t0 + (t1 - t0) * f64::from(k) / 5.0;
        writeln!(
            out,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{s:.0}</text>"##,
            x(s),
            H - B + 16.0
        )?;
    }
    writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle">seconds</text>"##,
        (L + W - R) / 2.0,
        H - 8.0
    )?;
    writeln!(
        out,
        r##"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">MiB</text>"##,
        (T + H - B) / 2.0,
        (T + H - B) / 2.0
    )?;
    // The series, thinned to about 2000 points.
    let step = (t.len() / 2000).max(1);
    let pts: Vec<String> = (0..t.len())
        .step_by(step)
        .map(|i| format!("{:.1},{:.1}", x(t[i]), y(v[i])))
        .collect();
    writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#4a7ab5" stroke-width="1"/>"##,
        pts.join(" ")
    )?;
    for (et, ev) in &rep.envelope {
        writeln!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#e08a00"/>"##,
            x(*et),
            y(*ev)
        )?;
    }
    if !rep.envelope.is_empty() {
        let line = |s: f64| rep.intercept + rep.slope * s;
        let color = if rep.verdict == Verdict::Leak {
            "#c0392b"
        } else {
            "#27ae60"
        };
        writeln!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/>"##,
            x(rep.window.0),
            y(line(rep.window.0)),
            x(rep.window.1),
            y(line(rep.window.1))
        )?;
    }
    let trend = if rep.verdict == Verdict::Leak {
        "#c0392b"
    } else {
        "#27ae60"
    };
    writeln!(
        out,
        r##"<g transform="translate({} {})"><line x2="18" stroke="#4a7ab5"/><text x="24" y="4">series</text><circle cx="90" r="3" fill="#e08a00"/><text x="98" y="4">envelope</text><line x1="170" x2="188" stroke="{trend}" stroke-width="2"/><text x="194" y="4">trend</text></g>"##,
        W - R - 240.0,
        H - 12.0
    )?;
    writeln!(out, "</svg>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::{LeakParams, analyze};

    #[test]
    fn svg_is_well_formed_and_shows_the_trend() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let v: Vec<f64> = t
            .iter()
            .map(|x| 200.0 * 1048576.0 + x / 60.0 * 2.0 * 1048576.0)
            .collect();
        let rep = analyze(&t, &v, &LeakParams::default());
        let mut out = Vec::new();
        write_svg(&mut out, &t, &v, &rep, "RSS <test>").unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("RSS &lt;test&gt;"));
        assert!(svg.contains("stroke=\"#c0392b\""), "a leak's trend is drawn in red");
        assert_eq!(svg.matches("<circle").count(), rep.envelope.len() + 1);
    }
}
