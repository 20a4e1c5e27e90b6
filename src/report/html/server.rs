//! The server-metrics part of the report: what the target's own metrics
//! said over the run (each server SLO's figure over time, with its limit),
//! the slowest endpoints by the target's latency histograms, the
//! Prometheus queries, and how the scraping went.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::chart::{Line, Unit};
use super::page::Report;
use super::{AMBER, BLUE, GREEN, RED, SLOW_P95_MS, arr, count, esc, ms, num, text, trim_num};

/// A figure's chart unit and the factor that brings it there.
fn chart_unit(slo_unit: &str, metric: &str) -> (Unit, f64) {
    match slo_unit {
        "s" => (Unit::Ms, 1000.0),
        "bytes" => (Unit::Bytes, 1.0),
        _ if metric.ends_with(".rate") => (Unit::PerS, 1.0),
        _ => (Unit::Count, 1.0),
    }
}

/// A latency in a histogram's own unit, in milliseconds when it has one.
fn latency(v: Option<f64>, unit: &str) -> String {
    match (v, unit) {
        (None, _) => "–".into(),
        (Some(v), "s") => ms(v * 1000.0),
        (Some(v), "ms") => ms(v),
        (Some(v), _) => trim_num(v),
    }
}

impl Report<'_> {
    pub(super) fn has_server_metrics(&self) -> bool {
        self.doc.pointer("/metrics").is_some_and(Value::is_object)
    }

    pub(super) fn server_metrics(&self, h: &mut String) -> fmt::Result {
        if !self.has_server_metrics() {
            return Ok(());
        }
        let m = &self.doc["metrics"];
        h.push_str(r#"<section id="server"><h2>Server metrics</h2>"#);
        if let (Some(a), Some(b)) = (num(m, "/window/start_s"), num(m, "/window/end_s")) {
            write!(
                h,
                r#"<p class="muted">Scraped every {}s; figures are over {}s to {}s of the run (the load after its warm-up), computed as Prometheus 2.42 computes rate, increase and histogram_quantile.</p>"#,
                trim_num(num(m, "/interval_s").unwrap_or(0.0)),
                trim_num((a * 10.0).round() / 10.0),
                trim_num((b * 10.0).round() / 10.0)
            )?;
        }
        self.server_charts(h, m);
        self.server_endpoints(h, m)?;
        self.server_queries(h, m)?;
        h.push_str(r#"<div class="scroll"><table><thead><tr><th>scraped URL</th><th class="num">scrapes</th><th class="num">samples</th><th class="num">failed</th><th class="num">past the cap</th><th class="num">slowest</th><th>last error</th></tr></thead><tbody>"#);
        for s in arr(m, "/scrapes") {
            write!(
                h,
                r#"<tr><td><code>{}</code></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                esc(text(s, "/url").unwrap_or("?")),
                count(num(s, "/scrapes").unwrap_or(0.0)),
                count(num(s, "/samples").unwrap_or(0.0)),
                count(num(s, "/errors").unwrap_or(0.0)),
                count(num(s, "/dropped").unwrap_or(0.0)),
                ms(num(s, "/max_duration_s").unwrap_or(0.0) * 1000.0),
                esc(text(s, "/error").unwrap_or(""))
            )?;
        }
        h.push_str("</tbody></table></div></section>");
        Ok(())
    }

    fn server_charts(&self, h: &mut String, m: &Value) {
        let slos = arr(self.doc, "/slo");
        let bands = self.bands();
        for c in arr(m, "/charts") {
            let metric = text(c, "/metric").unwrap_or("?");
            let slo = slos.iter().find(|s| text(s, "/name") == Some(metric));
            let (unit, k) = chart_unit(slo.and_then(|s| text(s, "/unit")).unwrap_or(""), metric);
            let points: Vec<(f64, f64)> = arr(c, "/points")
                .iter()
                .map(|p| {
                    (
                        num(p, "/0").unwrap_or(f64::NAN),
                        num(p, "/1").map_or(f64::NAN, |v| v * k),
                    )
                })
                .collect();
            if !points.iter().any(|(_, y)| y.is_finite()) {
                continue;
            }
            let mut chart = self.time_chart(metric, unit, 140.0, &bands);
            let pass = slo.and_then(|s| s.get("pass")).and_then(Value::as_bool);
            chart.lines.push(Line::new(
                metric,
                if pass == Some(false) { RED } else { BLUE },
                points.clone(),
            ));
            if let Some(limit) = slo
                .and_then(|s| text(s, "/expr"))
                .and_then(|e| crate::gate::Slo::parse(metric, e, &[], &[]).ok())
                .and_then(|s| match s.expr {
                    crate::gate::Expr::Compare { limit, .. } => Some(limit * k),
                    crate::gate::Expr::NoLeak => None,
                })
            {
                let (x0, x1) = (points[0].0, points[points.len() - 1].0);
                chart
                    .lines
                    .push(Line::new("SLO", AMBER, vec![(x0, limit), (x1, limit)]).dashed().guide());
            }
            h.push_str(&chart.render());
        }
    }

    fn server_endpoints(&self, h: &mut String, m: &Value) -> fmt::Result {
        let eps = arr(m, "/endpoints");
        if eps.is_empty() {
            return Ok(());
        }
        let slow_ms = |e: &Value| {
            let p95 = num(e, "/p95")?;
            match text(e, "/unit")? {
                "s" => Some(p95 * 1000.0),
                "ms" => Some(p95),
                _ => None,
            }
        };
        let slow: Vec<&Value> = eps
            .iter()
            .filter(|e| slow_ms(e).is_some_and(|p| p > SLOW_P95_MS))
            .collect();
        if slow.is_empty() {
            h.push_str(
                r#"<p class="callout good">By the server's own histograms, no endpoint had a p95 over 1 s.</p>"#,
            );
        } else {
            h.push_str(r#"<div class="callout warn"><strong>Slow endpoints by the server's histograms</strong> (p95 over 1 s):<ul>"#);
            for e in slow {
                write!(
                    h,
                    "<li><code>{}</code> {}: p95 {}</li>",
                    esc(text(e, "/value").unwrap_or("?")),
                    esc(text(e, "/metric").unwrap_or("")),
                    ms(slow_ms(e).unwrap_or(0.0))
                )?;
            }
            h.push_str("</ul></div>");
        }
        h.push_str(r#"<div class="scroll"><table class="endpoints"><thead><tr><th>histogram</th><th>endpoint</th><th class="num">observations</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th></tr></thead><tbody>"#);
        for e in eps {
            let unit = text(e, "/unit").unwrap_or("");
            let warn = slow_ms(e).is_some_and(|p| p > SLOW_P95_MS);
            write!(
                h,
                r#"<tr><td><code>{}</code></td><td><code>{}={}</code></td><td class="num">{}</td><td class="num">{}</td><td class="num{}">{}</td><td class="num">{}</td></tr>"#,
                esc(text(e, "/metric").unwrap_or("?")),
                esc(text(e, "/label").unwrap_or("")),
                esc(text(e, "/value").unwrap_or("")),
                count(num(e, "/count").unwrap_or(0.0).round()),
                latency(num(e, "/p50"), unit),
                if warn { " bad" } else { "" },
                latency(num(e, "/p95"), unit),
                latency(num(e, "/p99"), unit)
            )?;
        }
        h.push_str("</tbody></table></div>");
        Ok(())
    }

    fn server_queries(&self, h: &mut String, m: &Value) -> fmt::Result {
        let bands = self.bands();
        for q in arr(m, "/queries") {
            let name = text(q, "/name").unwrap_or("?");
            write!(
                h,
                r#"<h3>Query <code>{}</code></h3><p class="muted"><code>{}</code></p>"#,
                esc(name),
                esc(text(q, "/expr").unwrap_or(""))
            )?;
            if let Some(e) = text(q, "/error") {
                write!(h, r#"<p class="callout bad">{}</p>"#, esc(e))?;
                continue;
            }
            let points: Vec<(f64, f64)> = arr(q, "/points")
                .iter()
                .map(|p| (num(p, "/0").unwrap_or(f64::NAN), num(p, "/1").unwrap_or(f64::NAN)))
                .collect();
            if !points.iter().any(|(_, y)| y.is_finite()) {
                h.push_str(r#"<p class="empty">Prometheus had no data for this query over the run.</p>"#);
                continue;
            }
            let mut chart = self.time_chart(&format!("metrics.{name}"), Unit::Count, 140.0, &bands);
            chart.lines.push(Line::new(name, GREEN, points));
            h.push_str(&chart.render());
            let series = num(q, "/series").unwrap_or(0.0);
            if series > 1.0 {
                write!(
                    h,
                    r#"<p class="muted">The answer had {} series; the chart shows the first, the figures take all of them.</p>"#,
                    count(series)
                )?;
            }
        }
        Ok(())
    }
}
