//! The journeys part of the report: per scenario, its executor and load
//! shape, its iterations and where the failed ones failed, its flow latency
//! (and the part of it spent in requests), and its steps with a poll's
//! turnaround and attempts.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::chart::{Line, Unit};
use super::page::Report;
use super::{AMBER, BLUE, GREEN, RED, arr, count, esc, ms, num, pct, text, trim_num};

impl Report<'_> {
    pub(super) fn has_journeys(&self) -> bool {
        !arr(self.doc, "/load/scenarios").is_empty()
    }

    /// Iterations per second, iterations running and the flow's p95 over
    /// the load's time.
    fn scenario_chart(&self, h: &mut String, sc: &Value, name: &str) {
        let points = arr(sc, "/timeline");
        if points.is_empty() {
            return;
        }
        // The line's seconds count from the start of the load.
        let off = self.timeline_offset;
        let at = |p: &Value| num(p, "/elapsed_s").unwrap_or(0.0) + num(p, "/width_s").unwrap_or(1.0) / 2.0 + off;
        let per_s = |p: &Value, key: &str| num(p, key).unwrap_or(0.0) / num(p, "/width_s").unwrap_or(1.0).max(1.0);
        let series = |f: &dyn Fn(&Value) -> Option<f64>| -> Vec<(f64, f64)> {
            points.iter().map(|p| (at(p), f(p).unwrap_or(f64::NAN))).collect()
        };
        let bands = self.bands();
        let mut c = self.time_chart(&format!("{name}: iterations over time"), Unit::Count, 150.0, &bands);
        c.lines
            .push(Line::new("iterations/s", BLUE, series(&|p| Some(per_s(p, "/iterations")))).filled());
        c.lines
            .push(Line::new("failed/s", RED, series(&|p| Some(per_s(p, "/failed")))));
        c.lines
            .push(Line::new("running", AMBER, series(&|p| num(p, "/in_flight"))));
        h.push_str(&c.render());
        let flow = series(&|p| num(p, "/flow_p95_ms"));
        if flow.iter().any(|(_, y)| y.is_finite()) {
            let mut c = self.time_chart(&format!("{name}: flow p95 over time"), Unit::Ms, 130.0, &bands);
            c.lines.push(Line::new("flow p95", GREEN, flow));
            h.push_str(&c.render());
        }
    }

    pub(super) fn journeys(&self, h: &mut String) -> fmt::Result {
        let scenarios = arr(self.doc, "/load/scenarios");
        if scenarios.is_empty() {
            return Ok(());
        }
        h.push_str(r#"<section id="journeys"><h2>Journeys</h2>"#);
        h.push_str(
            r#"<p class="muted">A flow is one iteration of a scenario's steps, from its start (its scheduled start for an arrival rate) to its end; "in requests" leaves out think time and poll intervals.</p>"#,
        );
        let endpoints = arr(self.doc, "/load/endpoints");
        for sc in scenarios {
            let name = text(sc, "/name").unwrap_or("?");
            let shape = match num(sc, "/target_rate") {
                Some(r) => format!(
                    "up to {} iterations/s, {} workers",
                    trim_num(r),
                    count(num(sc, "/workers").unwrap_or(0.0))
                ),
                None => format!("{} users", count(num(sc, "/workers").unwrap_or(0.0))),
            };
            let start = num(sc, "/start_s")
                .filter(|s| *s > 0.0)
                .map_or(String::new(), |s| format!(", from {} s", trim_num(s)));
            write!(
                h,
                r#"<h3><code>{}</code> <span class="muted">{} · {}{}</span></h3>"#,
                esc(name),
                esc(text(sc, "/executor").unwrap_or("?")),
                esc(&shape),
                esc(&start)
            )?;
            let iterations = num(sc, "/iterations").unwrap_or(0.0);
            let failed = num(sc, "/failed_iterations").unwrap_or(0.0);
            let mut line = format!(
                "{} iterations, {} failed ({})",
                count(iterations),
                count(failed),
                pct(num(sc, "/iteration_fail_rate").unwrap_or(0.0))
            );
            for (key, what) in [
                ("/interrupted_iterations", "cut off at the end"),
                ("/dropped", "arrivals dropped (max_in_flight busy)"),
            ] {
                if let Some(n) = num(sc, key).filter(|n| *n > 0.0) {
                    write!(line, ", {} {what}", count(n))?;
                }
            }
            let class = if failed > 0.0 { "callout warn" } else { "callout good" };
            write!(h, r#"<p class="{class}">{}</p>"#, esc(&line))?;
            self.scenario_chart(h, sc, name);
            let fails: Vec<&Value> = arr(sc, "/failed_by_step")
                .iter()
                .filter(|f| num(f, "/count").is_some_and(|n| n > 0.0))
                .collect();
            if !fails.is_empty() {
                h.push_str(r#"<table><thead><tr><th>failed at step</th><th class="num">iterations</th><th>first failure</th></tr></thead><tbody>"#);
                for f in fails {
                    write!(
                        h,
                        r#"<tr><td><code>{}</code></td><td class="num">{}</td><td><code class="long">{}</code></td></tr>"#,
                        esc(text(f, "/step").unwrap_or("?")),
                        count(num(f, "/count").unwrap_or(0.0)),
                        esc(text(f, "/example").unwrap_or(""))
                    )?;
                }
                h.push_str("</tbody></table>");
            }
            h.push_str(r#"<table><thead><tr><th></th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">max</th><th class="num">count</th></tr></thead><tbody>"#);
            let row = |h: &mut String, label: &str, block: Option<&Value>| -> fmt::Result {
                write!(h, "<tr><td>{label}</td>")?;
                for key in ["/p50_ms", "/p90_ms", "/p95_ms", "/p99_ms", "/max_ms"] {
                    write!(
                        h,
                        r#"<td class="num">{}</td>"#,
                        block.and_then(|b| num(b, key)).map_or("–".into(), ms)
                    )?;
                }
                write!(
                    h,
                    r#"<td class="num">{}</td></tr>"#,
                    block.and_then(|b| num(b, "/count")).map_or("–".into(), count)
                )
            };
            row(h, "flow", sc.get("flow").filter(|v| v.is_object()))?;
            row(h, "flow, in requests", sc.get("active").filter(|v| v.is_object()))?;
            let prefix = format!("{name}.");
            for e in endpoints
                .iter()
                .filter(|e| text(e, "/name").is_some_and(|n| n.starts_with(&prefix)))
            {
                let step = esc(text(e, "/name").unwrap_or("?"));
                row(
                    h,
                    &format!("<code>{step}</code>"),
                    e.get("latency").filter(|v| v.is_object()),
                )?;
                if let Some(t) = e.get("turnaround").filter(|v| v.is_object()) {
                    let attempts = e
                        .get("attempts")
                        .and_then(|a| num(a, "/mean"))
                        .map_or(String::new(), |m| format!(" (mean {} attempts)", trim_num(m)));
                    row(h, &format!("<code>{step}</code> turnaround{}", esc(&attempts)), Some(t))?;
                }
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</section>");
        Ok(())
    }
}
