//! The resources part of the report: RSS, CPU and threads over the run
//! with the load and flame windows shaded, their summary, and the leak
//! verdict drawn as the series with its fitted trend.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::chart::{self, Band, Chart, Line, Unit};
use super::page::Report;
use super::{
    AMBER, BLUE, GREEN, INDIGO, ORANGE, RED, SLATE, TEAL, VIOLET, count, duration, esc, format_bytes, has, ms, num,
    show, text, verdict_word, window,
};

/// The left margin of every chart over the run's time, so that charts
/// stacked on the page share their x positions.
const TIME_CHART_LEFT: f64 = 72.0;

impl Report<'_> {
    /// The load and flame windows as shaded bands.
    pub(super) fn bands(&self) -> Vec<Band> {
        let mut b = Vec::new();
        if let Some((from, to)) = self.load_window {
            b.push(Band {
                from,
                to,
                label: "load".into(),
                color: BLUE,
            });
        }
        if let Some((from, to)) = self.flame_window {
            b.push(Band {
                from,
                to,
                label: "flame graph".into(),
                color: ORANGE,
            });
        }
        if let Some((from, to)) = self.heap_window {
            b.push(Band {
                from,
                to,
                label: "heap profile".into(),
                color: VIOLET,
            });
        }
        b
    }

    pub(super) fn time_chart(&self, label: &str, unit: Unit, height: f64, bands: &[Band]) -> Chart {
        let mut c = Chart::new(label, unit);
        c.height = height;
        c.left = TIME_CHART_LEFT;
        c.x_range = self.span;
        c.bands = bands.to_vec();
        c
    }

    pub(super) fn resources(&self, h: &mut String) -> fmt::Result {
        if self.llm_only() {
            h.push_str(r#"<section id="resources"><h2>Server resources</h2>"#);
        } else {
            h.push_str(r#"<section id="resources"><h2>Resources</h2>"#);
        }
        let d = self.doc;
        if !has(d, "/resources") && self.samples.is_none() {
            h.push_str(r#"<p class="empty">The target's processes were not sampled in this run.</p></section>"#);
            return Ok(());
        }
        self.target_line(h)?;
        let bands = self.bands();
        match &self.samples {
            Some(s) if s.rows() > 0 => {
                let mut c = self.time_chart("Memory (RSS) over time", Unit::Bytes, 230.0, &bands);
                c.lines.extend(
                    s.series("elapsed_s", "rss_bytes", 0.0)
                        .map(|p| Line::new("RSS", INDIGO, p).filled()),
                );
                c.lines.extend(
                    s.series("elapsed_s", "gpu_mem_bytes", 0.0)
                        .map(|p| Line::new("GPU memory", TEAL, p)),
                );
                h.push_str("<h3>Memory</h3>");
                h.push_str(&c.render());
                let mut c = self.time_chart("CPU over time", Unit::Percent, 170.0, &bands);
                c.y_at_least = Some(100.0);
                c.lines.extend(
                    s.series("elapsed_s", "cpu_percent", 0.0)
                        .map(|p| Line::new("CPU %", BLUE, p).filled()),
                );
                h.push_str(r#"<h3>CPU <span class="muted">(100% = one core)</span></h3>"#);
                h.push_str(&c.render());
                let mut c = self.time_chart("Threads over time", Unit::Count, 150.0, &bands);
                c.lines.extend(
                    s.series("elapsed_s", "threads", 0.0)
                        .map(|p| Line::new("threads", VIOLET, p)),
                );
                h.push_str("<h3>Threads</h3>");
                h.push_str(&c.render());
            }
            Some(_) => h.push_str(r#"<p class="empty">samples.csv has no rows to draw.</p>"#),
            None => h.push_str(
                r#"<p class="empty">No samples.csv beside this result: resources over time are not shown.</p>"#,
            ),
        }
        self.resource_table(h)?;
        h.push_str("</section>");
        Ok(())
    }

    fn target_line(&self, h: &mut String) -> fmt::Result {
        let d = self.doc;
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = d.pointer("/resources/target").filter(|t| t.is_object()) {
            let mut s = String::from(if self.llm_only() { "Server" } else { "Target" });
            if let Some(pid) = num(t, "/pid") {
                write!(s, " pid {pid:.0}")?;
            }
            if let Some(cmd) = text(t, "/command") {
                write!(s, r#" <code class="long">{}</code>"#, esc(cmd))?;
            }
            if t.get("owned").and_then(Value::as_bool) == Some(true) {
                s.push_str(", started by loadprof");
            }
            if let Some(code) = num(t, "/exit/code") {
                write!(s, ", exited with code {code:.0}")?;
            } else if let Some(sig) = num(t, "/exit/signal") {
                let name = match sig as i64 {
                    1 => " (SIGHUP)",
                    2 => " (SIGINT)",
                    6 => " (SIGABRT)",
                    9 => " (SIGKILL)",
                    11 => " (SIGSEGV)",
                    15 => " (SIGTERM)",
                    _ => "",
                };
                write!(s, ", ended by signal {sig:.0}{name}")?;
            }
            parts.push(s);
        }
        if let Some(n) = num(d, "/resources/samples") {
            let every = num(d, "/resources/interval_ms").map_or(String::new(), |i| format!(" every {}", ms(i)));
            parts.push(format!("{} samples{every}", count(n)));
        }
        if let Some(p) = d.pointer("/resources/pids").and_then(Value::as_array) {
            parts.push(match p.len() {
                1 => "1 process seen".to_string(),
                n => format!("{n} processes seen"),
            });
        }
        if d.pointer("/resources/gpu_available").and_then(Value::as_bool) == Some(false) {
            let why = text(d, "/resources/gpu_error").map_or(String::new(), |e| format!(" ({})", esc(e)));
            parts.push(format!("GPU: not available{why}"));
        }
        if !parts.is_empty() {
            write!(h, r#"<p class="muted">{}.</p>"#, parts.join(" · "))?;
        }
        Ok(())
    }

    fn resource_table(&self, h: &mut String) -> fmt::Result {
        let d = self.doc;
        type Show = fn(f64) -> String;
        let rows: [(&str, &str, Show); 8] = [
            ("RSS", "/resources/rss_bytes", format_bytes),
            ("PSS", "/resources/pss_bytes", format_bytes),
            ("USS", "/resources/uss_bytes", format_bytes),
            ("VMS", "/resources/vms_bytes", format_bytes),
            ("GPU memory", "/resources/gpu_mem_bytes", format_bytes),
            ("CPU %", "/resources/cpu_percent", |v| format!("{v:.1}%")),
            ("threads", "/resources/threads", |v| format!("{v:.0}")),
            ("open files", "/resources/fds", |v| format!("{v:.0}")),
        ];
        let present: Vec<_> = rows.iter().filter(|r| has(d, r.1)).collect();
        if present.is_empty() {
            return Ok(());
        }
        h.push_str(r#"<h3>Over the whole run</h3><table class="compact"><thead><tr><th></th><th class="num">min</th><th class="num">mean</th><th class="num">max</th><th class="num">last</th></tr></thead><tbody>"#);
        for (name, ptr, f) in present {
            write!(h, "<tr><td>{name}</td>")?;
            for k in ["min", "mean", "max", "last"] {
                let v = num(d, &format!("{ptr}/{k}"));
                write!(h, r#"<td class="num">{}</td>"#, v.map_or("–".into(), f))?;
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
        Ok(())
    }

    pub(super) fn memory(&self, h: &mut String) -> fmt::Result {
        h.push_str(r#"<section id="memory"><h2>Memory leak check</h2>"#);
        let Some(leak) = self.doc.get("leak").filter(|l| l.is_object()) else {
            h.push_str(r#"<p class="empty">No leak analysis in this run.</p>"#);
            self.heap(h)?;
            h.push_str("</section>");
            return Ok(());
        };
        let verdict = text(leak, "/verdict").unwrap_or("inconclusive");
        let (word, class) = verdict_word(verdict);
        let metric = text(leak, "/metric").unwrap_or("rss_bytes");
        write!(
            h,
            r#"<div class="verdict {class}"><span class="big">{word}</span><span>{}</span></div>"#,
            esc(text(leak, "/reason").unwrap_or(""))
        )?;
        let slope = num(leak, "/slope_bytes_per_s");
        let mut facts: Vec<(String, String)> = vec![("metric".into(), format!("<code>{}</code>", esc(metric)))];
        if let Some(s) = slope {
            let ci = window(leak, "/slope_ci")
                .map(|(a, b)| {
                    format!(
                        r#" <span class="muted">(95% CI {} … {})</span>"#,
                        show(Some(a), "bytes_per_s"),
                        show(Some(b), "bytes_per_s")
                    )
                })
                .unwrap_or_default();
            facts.push(("trend".into(), format!("{}{ci}", show(Some(s), "bytes_per_s"))));
        }
        if let Some(g) = num(leak, "/growth_pct_per_min") {
            let g = if g != 0.0 && g.abs() < 0.001 {
                "less than 0.001%".to_string()
            } else {
                format!("{g:+.3}%")
            };
            facts.push(("growth".into(), format!("{g} per minute")));
        }
        if let Some(t) = num(leak, "/threshold_bytes_per_s") {
            facts.push(("allowed".into(), show(Some(t), "bytes_per_s")));
        }
        if let Some(p) = num(leak, "/trend_p") {
            let p = if p >= 0.001 {
                format!("{p:.3}")
            } else {
                format!("{p:.1e}")
            };
            facts.push(("trend p".into(), p));
        }
        if let Some((a, b)) = window(leak, "/window_s") {
            facts.push((
                "analysed".into(),
                format!("{} to {}", chart::clock(a, 1.0), chart::clock(b, 1.0)),
            ));
        }
        if let Some(w) = num(leak, "/warmup_s") {
            facts.push(("warm-up".into(), duration(w)));
        }
        if let Some(t) = num(leak, "/time_to_limit_s") {
            facts.push(("limit reached in".into(), duration(t)));
        }
        h.push_str(r#"<dl class="facts">"#);
        for (k, v) in facts {
            write!(h, "<div><dt>{k}</dt><dd>{v}</dd></div>")?;
        }
        h.push_str("</dl>");
        if let Some(checks) = leak.get("checks").and_then(Value::as_object) {
            h.push_str(r#"<p class="checks">"#);
            for (k, v) in checks {
                let ok = v.as_bool().unwrap_or(false);
                write!(
                    h,
                    r#"<span class="chip {}">{} {}</span>"#,
                    if ok { "yes" } else { "no" },
                    if ok { "✓" } else { "✗" },
                    esc(&k.replace('_', " "))
                )?;
            }
            h.push_str(r#" <span class="muted">— a leak needs all four</span></p>"#);
        }
        self.leak_chart(h, leak, metric, verdict)?;
        self.heap(h)?;
        h.push_str("</section>");
        Ok(())
    }

    fn leak_chart(&self, h: &mut String, leak: &Value, metric: &str, verdict: &str) -> fmt::Result {
        let Some(samples) = &self.samples else {
            return h.write_str(r#"<p class="empty">No samples.csv beside this result: the series is not drawn.</p>"#);
        };
        let Some(series) = samples.series("elapsed_s", metric, 0.0) else {
            return write!(
                h,
                r#"<p class="empty">samples.csv has no values in column <code>{}</code>.</p>"#,
                esc(metric)
            );
        };
        let mut c = Chart::new(format!("{metric} with the fitted trend"), Unit::Bytes);
        c.height = 260.0;
        c.left = TIME_CHART_LEFT;
        c.y_zero = false;
        c.x_range = self.span;
        let first = series.iter().map(|p| p.0).filter(|x| x.is_finite()).reduce(f64::min);
        let last = series.iter().map(|p| p.0).filter(|x| x.is_finite()).reduce(f64::max);
        let win = window(leak, "/window_s");
        if let (Some(first), Some((from, _))) = (first, win)
            && from > first
        {
            c.bands.push(Band {
                from: first,
                to: from,
                label: "warm-up (not judged)".into(),
                color: SLATE,
            });
        }
        if let (Some(last), Some((_, to))) = (last, win)
            && last > to + 0.5
        {
            c.bands.push(Band {
                from: to,
                to: last,
                label: "after the analysed window".into(),
                color: SLATE,
            });
        }
        if let Some((from, to)) = self.heap_window {
            c.bands.push(Band {
                from,
                to,
                label: "heap profile".into(),
                color: VIOLET,
            });
        }
        c.lines.push(Line::new(metric, INDIGO, series.clone()).width(1.3));
        if let (Some(slope), Some((from, to))) = (num(leak, "/slope_bytes_per_s"), win) {
            let intercept = num(leak, "/trend_intercept_bytes").or_else(|| fit_intercept(&series, slope, from, to));
            if let Some(b) = intercept {
                let color = match verdict {
                    "leak" => RED,
                    "no_leak" => GREEN,
                    _ => AMBER,
                };
                let at = |t: f64| b + slope * t;
                c.y_focus = focus(&series, from, to, [at(from), at(to)]);
                c.lines
                    .push(Line::new("fitted trend", color, vec![(from, at(from)), (to, at(to))]).width(2.6));
                if let Some(th) = num(leak, "/threshold_bytes_per_s").filter(|t| *t > 0.0) {
                    let start = at(from);
                    c.lines.push(
                        Line::new(
                            "largest growth allowed",
                            SLATE,
                            vec![(from, start), (to, start + th * (to - from))],
                        )
                        .dashed()
                        .width(1.4)
                        .guide(),
                    );
                }
            }
        }
        h.push_str(&c.render());
        Ok(())
    }
}

/// The least-squares intercept of a line with a known slope through the
/// values between `from` and `to`.
fn fit_intercept(series: &[(f64, f64)], slope: f64, from: f64, to: f64) -> Option<f64> {
    let inside: Vec<f64> = series
        .iter()
        .filter(|(t, v)| *t >= from && *t <= to && v.is_finite())
        .map(|(t, v)| v - slope * t)
        .collect();
    (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
}

/// The values the leak chart is fitted to: the series over the analysed
/// window and the trend's ends, spanning at least 5% of their level so
/// that noise on a flat series does not look like growth. The warm-up may
/// reach outside; it is context, not what was judged.
fn focus(series: &[(f64, f64)], from: f64, to: f64, trend: [f64; 2]) -> Option<(f64, f64)> {
    let (lo, hi) = series
        .iter()
        .filter(|(t, v)| *t >= from && *t <= to && v.is_finite())
        .map(|p| p.1)
        .chain(trend.into_iter().filter(|v| v.is_finite()))
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })?;
    let least = hi.abs().max(lo.abs()) * 0.05;
    let pad = ((least - (hi - lo)) / 2.0).max(0.0);
    let low = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
    Some((low, hi + pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leak_chart_fits_the_analysed_window_but_not_its_noise() {
        let series: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i), if i < 10 { 0.0 } else { 1000.0 }))
            .collect();
        let (lo, hi) = focus(&series, 10.0, 99.0, [1000.0, 1000.0]).unwrap();
        assert!(lo > 900.0 && hi < 1100.0 && hi - lo >= 50.0, "{lo} {hi}");
        assert_eq!(focus(&series, 200.0, 300.0, [f64::NAN, f64::NAN]), None);
        assert_eq!(
            fit_intercept(&[(0.0, 5.0), (1.0, 7.0), (2.0, 9.0)], 2.0, 0.0, 2.0),
            Some(5.0)
        );
    }
}
