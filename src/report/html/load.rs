//! The load part of the report: throughput and latency over time, the
//! latency distribution, errors with their first examples, and the table
//! of endpoints with the slow ones called out.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::chart::{Line, Unit};
use super::page::Report;
use super::{AMBER, BLUE, GREEN, RED, SLOW_P95_MS, arr, count, esc, has, ms, num, text};

impl Report<'_> {
    pub(super) fn load(&self, h: &mut String) -> fmt::Result {
        h.push_str(r#"<section id="load"><h2>Load</h2>"#);
        if !has(self.doc, "/load") {
            h.push_str(r#"<p class="empty">No load was driven in this run.</p></section>"#);
            return Ok(());
        }
        let bands = self.bands();
        match &self.timeline {
            Some(t) if t.rows() > 0 => {
                let off = self.timeline_offset + 0.5;
                let mut c = self.time_chart("Requests per second over time", Unit::PerS, 170.0, &bands);
                c.lines.extend(
                    t.series("elapsed_s", "rps", off)
                        .map(|p| Line::new("requests/s", BLUE, p).filled()),
                );
                c.lines.extend(
                    t.series("elapsed_s", "errors", off)
                        .map(|p| Line::new("errors/s", RED, p)),
                );
                h.push_str("<h3>Throughput</h3>");
                h.push_str(&c.render());
                let mut c = self.time_chart("Latency percentiles over time", Unit::Ms, 220.0, &bands);
                for (col, name, color) in [
                    ("p50_ms", "p50", GREEN),
                    ("p95_ms", "p95", AMBER),
                    ("p99_ms", "p99", RED),
                ] {
                    c.lines
                        .extend(t.series("elapsed_s", col, off).map(|p| Line::new(name, color, p)));
                }
                if self
                    .doc
                    .pointer("/load/latency_corrected")
                    .and_then(serde_json::Value::as_bool)
                    == Some(true)
                {
                    h.push_str(
                        r#"<h3>Latency <span class="muted">(from each request's intended start: no coordinated omission)</span></h3>"#,
                    );
                } else {
                    h.push_str("<h3>Latency</h3>");
                }
                h.push_str(&c.render());
            }
            Some(_) => h.push_str(r#"<p class="empty">timeline.csv has no rows: no second of load was recorded.</p>"#),
            None => h.push_str(
                r#"<p class="empty">No timeline.csv beside this result: latency over time is not shown.</p>"#,
            ),
        }
        self.latency_table(h)?;
        self.errors(h)?;
        h.push_str("</section>");
        Ok(())
    }

    /// Overall latency percentiles in one row.
    fn latency_table(&self, h: &mut String) -> fmt::Result {
        let Some(l) = self.doc.pointer("/load/latency").filter(|l| l.is_object()) else {
            h.push_str(r#"<p class="empty">No request was answered, so there is no latency distribution.</p>"#);
            return Ok(());
        };
        h.push_str("<h3>Latency distribution (all requests)</h3><table><thead><tr>");
        let cols = [
            ("min", "/min_ms"),
            ("mean", "/mean_ms"),
            ("p50", "/p50_ms"),
            ("p90", "/p90_ms"),
            ("p95", "/p95_ms"),
            ("p99", "/p99_ms"),
            ("p99.9", "/p999_ms"),
            ("max", "/max_ms"),
        ];
        for (name, _) in cols {
            write!(h, r#"<th class="num">{name}</th>"#)?;
        }
        h.push_str(r#"<th class="num">answers</th></tr></thead><tbody><tr>"#);
        for (_, ptr) in cols {
            write!(h, r#"<td class="num">{}</td>"#, num(l, ptr).map_or("–".into(), ms))?;
        }
        write!(
            h,
            r#"<td class="num">{}</td></tr></tbody></table>"#,
            num(l, "/count").map_or("–".into(), count)
        )
    }

    fn errors(&self, h: &mut String) -> fmt::Result {
        let kinds = self.doc.pointer("/load/totals/error_kinds");
        let chips = error_chips(kinds);
        let examples = self.doc.pointer("/load/error_examples").and_then(Value::as_object);
        if chips.is_empty() && examples.is_none_or(|e| e.is_empty()) {
            h.push_str(r#"<p class="muted">No request failed.</p>"#);
            return Ok(());
        }
        write!(h, r#"<h3>Errors</h3><p>{chips}</p>"#)?;
        if let Some(ex) = examples.filter(|e| !e.is_empty()) {
            h.push_str(r#"<table><thead><tr><th>kind</th><th>first example</th></tr></thead><tbody>"#);
            for (kind, msg) in ex {
                let msg = msg.as_str().map_or_else(|| msg.to_string(), str::to_string);
                write!(
                    h,
                    r#"<tr><td>{}</td><td><code class="long">{}</code></td></tr>"#,
                    esc(kind),
                    esc(&msg)
                )?;
            }
            h.push_str("</tbody></table>");
        }
        Ok(())
    }

    pub(super) fn endpoints(&self, h: &mut String) -> fmt::Result {
        h.push_str(r#"<section id="endpoints"><h2>Endpoints</h2>"#);
        let eps = arr(self.doc, "/load/endpoints");
        if eps.is_empty() {
            h.push_str(r#"<p class="empty">No endpoint was loaded in this run.</p></section>"#);
            return Ok(());
        }
        let slow: Vec<&Value> = eps
            .iter()
            .filter(|e| num(e, "/latency/p95_ms").is_some_and(|p| p > SLOW_P95_MS))
            .collect();
        if slow.is_empty() {
            h.push_str(r#"<p class="callout good">No endpoint had a p95 latency over 1 s.</p>"#);
        } else {
            h.push_str(r#"<div class="callout warn"><strong>Slow endpoints</strong> (p95 over 1 s):<ul>"#);
            for e in slow {
                write!(
                    h,
                    "<li><code>{}</code>: p95 {}, p99 {}, over {} requests</li>",
                    esc(text(e, "/name").unwrap_or("?")),
                    num(e, "/latency/p95_ms").map_or("–".into(), ms),
                    num(e, "/latency/p99_ms").map_or("–".into(), ms),
                    count(num(e, "/requests").unwrap_or(0.0))
                )?;
            }
            h.push_str("</ul></div>");
        }
        h.push_str(
            r#"<div class="scroll"><table class="endpoints"><thead><tr><th>endpoint</th><th class="num">requests</th><th class="num">errors</th><th>errors by kind · statuses</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">first chunk p50</th><th class="num">first chunk p95</th></tr></thead><tbody>"#,
        );
        for e in eps {
            let requests = num(e, "/requests").unwrap_or(0.0);
            let errors = num(e, "/errors").unwrap_or(0.0);
            let share = if requests > 0.0 {
                format!(r#" <span class="muted">({:.1}%)</span>"#, errors / requests * 100.0)
            } else {
                String::new()
            };
            let mut detail = error_chips(e.get("error_kinds"));
            if let Some(st) = e.get("statuses").and_then(Value::as_object) {
                for (code, n) in st {
                    let class = if code.starts_with('2') || code.starts_with('3') {
                        "st"
                    } else {
                        "st bad"
                    };
                    write!(
                        detail,
                        r#"<span class="chip {class}">{} × {}</span>"#,
                        esc(code),
                        count(n.as_f64().unwrap_or(0.0))
                    )?;
                }
            }
            let cell = |ptr: &str| {
                let v = num(e, ptr);
                let slow = v.is_some_and(|p| p > SLOW_P95_MS) && !ptr.contains("p50");
                format!(
                    r#"<td class="num{}">{}</td>"#,
                    if slow { " bad" } else { "" },
                    v.map_or("–".into(), ms)
                )
            };
            write!(
                h,
                r#"<tr><td><code>{}</code></td><td class="num">{}</td><td class="num{}">{}{share}</td><td>{detail}</td>{}{}{}{}{}</tr>"#,
                esc(text(e, "/name").unwrap_or("?")),
                count(requests),
                if errors > 0.0 { " bad" } else { "" },
                count(errors),
                cell("/latency/p50_ms"),
                cell("/latency/p95_ms"),
                cell("/latency/p99_ms"),
                cell("/first_chunk/p50_ms"),
                cell("/first_chunk/p95_ms"),
            )?;
        }
        h.push_str("</tbody></table></div></section>");
        Ok(())
    }
}

/// Counts per error kind as chips; nothing when every count is zero.
fn error_chips(kinds: Option<&Value>) -> String {
    let Some(k) = kinds.and_then(Value::as_object) else {
        return String::new();
    };
    let mut s = String::new();
    for (kind, n) in k {
        let n = n.as_f64().unwrap_or(0.0);
        if n > 0.0 {
            let _ = write!(s, r#"<span class="chip bad">{} {}</span>"#, esc(kind), count(n));
        }
    }
    s
}
