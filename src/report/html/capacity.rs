//! The page of a capacity search (`report.html` beside capacity.json):
//! the rate found and what limited it, latency percentiles against the
//! offered rate with each latency SLO's line, what was answered against
//! what was offered, the target's CPU and RSS per probe, and every probe
//! in the order it ran. Every text from the run is escaped.

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use super::chart::{Chart, Dot, Line, Unit, XAxis};
use super::{AMBER, BLUE, CSS, GREEN, RED, SLATE, TEAL, VIOLET, arr, count, esc, ms, num, pct, text, trim_num};

fn rate_chart(label: &str, unit: Unit) -> Chart {
    let mut c = Chart::new(label, unit);
    c.x = XAxis::PerSecond;
    c.height = 220.0;
    c
}

/// (rate, value) of every probe that has the value, by rate.
fn by_rate(probes: &[Value], ptr: &str) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = probes
        .iter()
        .filter_map(|p| Some((num(p, "/rate")?, num(p, ptr)?)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Writes the page.
pub fn write_capacity(out: &mut dyn io::Write, doc: &Value) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    let name = text(doc, "/name").unwrap_or("capacity");
    let found = num(doc, "/max_rate");
    let limited = text(doc, "/limited_by");
    let (class, word) = match (found, limited) {
        (Some(_), Some("generator")) => ("unknown", "Lower bound"),
        (Some(_), _) => ("pass", "Found"),
        (None, _) => ("fail", "Nothing held"),
    };
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="loadprof"><title>{} — capacity · loadprof</title><style>{CSS}</style></head><body><header class="banner {class}"><div class="wrap"><div class="status"><span class="icon">●</span>{word}</div><h1>{} — capacity</h1><div class="sub">{}</div></div></header><main class="wrap">"#,
        esc(name),
        esc(name),
        esc(text(doc, "/stopped").unwrap_or(""))
    );
    let probes = arr(doc, "/probes");
    let bracket = |i: usize| doc.pointer(&format!("/bracket/{i}")).and_then(Value::as_f64);
    let _ = write!(
        h,
        r#"<section><h2>Result</h2><div class="kpis"><div class="kpi {}"><div class="label">highest rate held</div><div class="value">{}</div></div><div class="kpi"><div class="label">bracket</div><div class="value">{} to {}</div></div><div class="kpi"><div class="label">limited by</div><div class="value">{}</div></div><div class="kpi"><div class="label">converged</div><div class="value">{}</div></div><div class="kpi"><div class="label">latency starts to rise past</div><div class="value">{}</div></div><div class="kpi"><div class="label">probes</div><div class="value">{}</div></div></div>"#,
        if found.is_some() { "good" } else { "bad" },
        found.map_or("–".into(), |r| format!("{}/s", trim_num((r * 10.0).round() / 10.0))),
        bracket(0).map_or("–".into(), |r| format!("{}/s", trim_num((r * 10.0).round() / 10.0))),
        bracket(1).map_or("–".into(), |r| format!("{}/s", trim_num((r * 10.0).round() / 10.0))),
        esc(limited.unwrap_or("nothing up to the max rate")),
        if doc["converged"] == true { "yes" } else { "no" },
        num(doc, "/knee_rate").map_or("–".into(), |r| format!("{}/s", trim_num((r * 10.0).round() / 10.0))),
        probes.len()
    );
    if limited == Some("generator") {
        h.push_str(r#"<p class="callout warn">loadprof could not offer more than this: the service's own limit was not reached. Raise <code>--max-in-flight</code> or run loadprof on a machine with more CPU.</p>"#);
    }
    h.push_str("</section>");

    h.push_str(r#"<section><h2>Latency against offered rate</h2>"#);
    let mut c = rate_chart("latency percentiles against the offered rate", Unit::Ms);
    for (label, ptr, color) in [
        ("p50", "/p50_ms", GREEN),
        ("p95", "/p95_ms", AMBER),
        ("p99", "/p99_ms", RED),
    ] {
        c.lines.push(Line::new(label, color, by_rate(probes, ptr)));
    }
    let rates = by_rate(probes, "/rate");
    let (x0, x1) = (rates.first().map_or(0.0, |p| p.0), rates.last().map_or(1.0, |p| p.0));
    for slo in arr(doc, "/slo") {
        let (Some(n), Some(e)) = (text(slo, "/name"), text(slo, "/expr")) else {
            continue;
        };
        if let Ok(parsed) = crate::gate::Slo::parse(n, e, &[n.split('.').next().unwrap_or("")], &[])
            && parsed.metric.unit() == crate::gate::Unit::Ms
            && let crate::gate::Expr::Compare { limit, .. } = parsed.expr
        {
            c.lines.push(
                Line::new(format!("SLO {n} {e}"), SLATE, vec![(x0, limit), (x1, limit)])
                    .dashed()
                    .guide(),
            );
        }
    }
    for p in probes {
        if let (Some(x), Some(y), false) = (num(p, "/rate"), num(p, "/p95_ms"), p["pass"] == true) {
            c.dots.push(Dot {
                x,
                y,
                color: RED,
                title: format!("failed at {}/s: {}", trim_num(x), text(p, "/reason").unwrap_or("")),
            });
        }
    }
    h.push_str(&c.render());
    let mut c = rate_chart("answered against offered", Unit::PerS);
    c.lines
        .push(Line::new("offered", SLATE, vec![(x0, x0), (x1, x1)]).dashed());
    c.lines
        .push(Line::new("answered", BLUE, by_rate(probes, "/achieved_rate")));
    h.push_str(&c.render());
    let cpu = by_rate(probes, "/cpu_percent_mean");
    if !cpu.is_empty() {
        let mut c = rate_chart("the target's CPU (mean over each probe's hold)", Unit::Percent);
        c.lines.push(Line::new("CPU", TEAL, cpu));
        h.push_str(&c.render());
    }
    let rss = by_rate(probes, "/rss_bytes_max");
    if !rss.is_empty() {
        let mut c = rate_chart("the target's RSS (peak in each probe's hold)", Unit::Bytes);
        c.lines.push(Line::new("RSS", VIOLET, rss));
        h.push_str(&c.render());
    }
    h.push_str("</section>");

    h.push_str(r#"<section><h2>Probes</h2><div class="scroll"><table><thead><tr><th class="num">#</th><th class="num">offered</th><th class="num">hold</th><th class="num">answered</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">errors</th><th>verdict</th><th>why</th></tr></thead><tbody>"#);
    for (i, p) in probes.iter().enumerate() {
        let pass = p["pass"] == true;
        let _ = write!(
            h,
            r#"<tr><td class="num">{}</td><td class="num">{}/s{}</td><td class="num">{}s</td><td class="num">{}/s</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            i + 1,
            trim_num((num(p, "/rate").unwrap_or(0.0) * 10.0).round() / 10.0),
            if p["confirming"] == true { " (confirming)" } else { "" },
            trim_num(num(p, "/hold_s").unwrap_or(0.0)),
            trim_num((num(p, "/achieved_rate").unwrap_or(0.0) * 10.0).round() / 10.0),
            num(p, "/p50_ms").map_or("–".into(), ms),
            num(p, "/p95_ms").map_or("–".into(), ms),
            num(p, "/p99_ms").map_or("–".into(), ms),
            pct(num(p, "/error_rate").unwrap_or(0.0)),
            if pass { "" } else { "bad" },
            if pass { "held" } else { "failed" },
            esc(text(p, "/reason").unwrap_or(""))
        );
    }
    let _ = write!(
        h,
        r#"</tbody></table></div><p class="muted">{} probes; each leaves its warm-up out and drains its requests before the next.</p></section></main><footer class="wrap">Written by loadprof {}</footer></body></html>"#,
        count(probes.len() as f64),
        esc(env!("CARGO_PKG_VERSION"))
    );
    out.write_all(h.as_bytes())
}
