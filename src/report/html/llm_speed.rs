//! The charts of the model comparison: each model's decode rate against
//! the floor and its time to first token against the budget, and the
//! throughput–latency curve over the concurrency levels measured.

use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::llm::summary::CapacitySummary;

use super::chart::{Bars, Chart, Dot, Line, Unit, XAxis};
use super::llm::{name, or_dash, rate};
use super::{AMBER, BLUE, GREEN, INDIGO, ORANGE, RED, SLATE, TEAL, VIOLET, arr, count, esc, ms, num, trim_num};

/// One colour per model in the curves, in the order the models ran.
const PALETTE: [&str; 8] = [BLUE, TEAL, VIOLET, ORANGE, INDIGO, AMBER, SLATE, GREEN];
/// The slow tenth of decode rates, beside the median's blue.
const LIGHT_BLUE: &str = "#93c5fd";

fn labels(models: &[Value]) -> XAxis {
    XAxis::Labels(models.iter().map(|m| name(m).to_string()).collect())
}

/// A dashed red line across every slot of a bar chart.
fn limit(name: String, y: f64, slots: usize) -> Line {
    Line::new(name, RED, vec![(-0.5, y), (slots as f64 - 0.5, y)])
        .dashed()
        .width(1.4)
}

/// Decode rates against the floor and TTFT against its budget, per model.
pub(super) fn speed(h: &mut String, llm: &Value, models: &[Value]) -> fmt::Result {
    h.push_str(r#"<section id="llm-speed"><h2>Speed against the budgets</h2><div class="grid2"><div>"#);
    let n = models.len();
    let values = |ptr: &str| -> Vec<f64> { models.iter().map(|m| num(m, ptr).unwrap_or(f64::NAN)).collect() };
    let shown = |v: &[f64], f: fn(f64) -> String| -> Vec<String> {
        v.iter()
            .map(|x| if x.is_finite() { f(*x) } else { String::new() })
            .collect()
    };
    let mut c = Chart::new("Decode rate per model, measured here", Unit::TokensPerS);
    c.width = 560.0;
    c.height = 250.0;
    c.x = labels(models);
    for (ptr, label, color) in [
        ("/decode_tokens_per_s/p50", "decode p50", BLUE),
        ("/decode_tokens_per_s/p10", "decode p10", LIGHT_BLUE),
    ] {
        let v = values(ptr);
        c.bars.push(Bars {
            name: label.into(),
            color,
            labels: shown(&v, rate),
            values: v,
        });
    }
    if let Some(f) = num(llm, "/budgets/min_decode_p10") {
        c.lines.push(limit(format!("floor {} tok/s (p10)", trim_num(f)), f, n));
    }
    h.push_str(r#"<h3>Decode rate <span class="muted">(tokens/s, higher is better)</span></h3>"#);
    h.push_str(&c.render());
    h.push_str("</div><div>");
    let mut c = Chart::new("Time to first token p95 per model", Unit::Ms);
    c.width = 560.0;
    c.height = 250.0;
    c.x = labels(models);
    let v = values("/ttft_ms/p95");
    c.bars.push(Bars {
        name: "TTFT p95".into(),
        color: TEAL,
        labels: shown(&v, ms),
        values: v,
    });
    if let Some(b) = num(llm, "/budgets/max_ttft_p95_s") {
        c.lines.push(limit(format!("budget {} s", trim_num(b)), b * 1000.0, n));
    }
    h.push_str(r#"<h3>Time to first token p95 <span class="muted">(lower is better)</span></h3>"#);
    h.push_str(&c.render());
    h.push_str("</div></div></section>");
    Ok(())
}

/// Output tokens per second and TTFT p95 at each concurrency, per model.
pub(super) fn concurrency(h: &mut String, llm: &Value, models: &[Value]) -> fmt::Result {
    let mut levels: Vec<u64> = models
        .iter()
        .flat_map(|m| {
            arr(m, "/concurrency")
                .iter()
                .filter_map(|l| l.get("concurrency")?.as_u64())
        })
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let budget_ms = num(llm, "/budgets/max_ttft_p95_s").map(|s| s * 1000.0);
    let slot = |c: u64| levels.iter().position(|l| *l == c).unwrap_or(0) as f64;
    let axis = XAxis::Labels(levels.iter().map(|l| format!("×{l}")).collect());
    let mut tput = Chart::new("Output tokens per second at each concurrency", Unit::TokensPerS);
    let mut ttft = Chart::new("Time to first token p95 at each concurrency", Unit::Ms);
    for c in [&mut tput, &mut ttft] {
        c.width = 560.0;
        c.height = 240.0;
        c.x = axis.clone();
    }
    for (i, m) in models.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let at = |ptr: &str| -> Vec<(f64, f64, u64)> {
            arr(m, "/concurrency")
                .iter()
                .filter_map(|l| {
                    let c = l.get("concurrency")?.as_u64()?;
                    Some((slot(c), num(l, ptr)?, c))
                })
                .collect()
        };
        for (chart, pts, show) in [
            (
                &mut tput,
                at("/output_tokens_per_s"),
                (|v| format!("{} tok/s", rate(v))) as fn(f64) -> String,
            ),
            (&mut ttft, at("/ttft_ms/p95"), |v| format!("TTFT p95 {}", ms(v))),
        ] {
            chart.dots.extend(pts.iter().map(|&(x, y, c)| Dot {
                x,
                y,
                color,
                title: format!("{} ×{c}: {}", name(m), show(y)),
            }));
            chart
                .lines
                .push(Line::new(name(m), color, pts.iter().map(|&(x, y, _)| (x, y)).collect()).width(2.0));
        }
    }
    if let Some(b) = num(llm, "/budgets/max_ttft_p95_s") {
        ttft.lines
            .push(limit(format!("budget {} s", trim_num(b)), b * 1000.0, levels.len()));
    }
    h.push_str(r#"<section id="llm-concurrency"><h2>Throughput and latency under concurrency</h2><p class="muted">Each level sends that many requests at once; the curve flattens where the server stops gaining throughput, and time to first token rises as requests queue.</p><div class="grid2"><div><h3>Throughput <span class="muted">(output tokens/s, all requests)</span></h3>"#);
    h.push_str(&tput.render());
    h.push_str(r#"</div><div><h3>Time to first token p95</h3>"#);
    h.push_str(&ttft.render());
    h.push_str("</div></div>");
    h.push_str(r#"<div class="scroll"><table class="compact"><thead><tr><th>model</th>"#);
    for l in &levels {
        write!(h, r#"<th class="num">×{l}</th>"#)?;
    }
    h.push_str("</tr></thead><tbody>");
    for m in models {
        write!(h, r#"<tr><td class="nowrap"><strong>{}</strong></td>"#, esc(name(m)))?;
        for l in &levels {
            let level = arr(m, "/concurrency")
                .iter()
                .find(|x| x.get("concurrency").and_then(Value::as_u64) == Some(*l));
            match level {
                Some(x) => {
                    let errors = num(x, "/errors").filter(|e| *e > 0.0).map_or(String::new(), |e| {
                        format!(r#"<br><span class="bad">{} errors</span>"#, count(e))
                    });
                    let p95 = num(x, "/ttft_ms/p95");
                    let over = matches!((p95, budget_ms), (Some(t), Some(b)) if t > b);
                    write!(
                        h,
                        r#"<td class="num">{} tok/s<br><span class="{}">TTFT p95 {}</span>{errors}</td>"#,
                        or_dash(num(x, "/output_tokens_per_s"), rate),
                        if over { "bad" } else { "muted" },
                        or_dash(p95, ms)
                    )?;
                }
                None => h.push_str(r#"<td class="num">–</td>"#),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    for m in models {
        capacity(h, m)?;
    }
    h.push_str("</section>");
    Ok(())
}

/// A model's capacity search: the answer in words and every level it ran.
fn capacity(h: &mut String, m: &Value) -> fmt::Result {
    let Some(c) = m
        .get("capacity")
        .and_then(|v| serde_json::from_value::<CapacitySummary>(v.clone()).ok())
    else {
        return Ok(());
    };
    write!(
        h,
        r#"<h3>Capacity of {}</h3><p class="callout {}">{}</p><div class="scroll"><table class="compact"><thead><tr><th class="num">streams</th><th class="num">requests</th><th class="num">TTFT p50 / p95</th><th class="num">decode p10</th><th class="num">tokens/s</th><th class="num">within budget</th><th>verdict</th></tr></thead><tbody>"#,
        esc(name(m)),
        if c.max_concurrency.is_some() { "good" } else { "bad" },
        esc(&c.described())
    )?;
    for p in &c.probes {
        write!(
            h,
            r#"<tr><td class="num">×{}{}</td><td class="num">{}{}</td><td class="num">{} / {}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            p.concurrency,
            if p.confirming { " (confirm)" } else { "" },
            p.requests,
            if p.errors > 0 {
                format!(r#" <span class="bad">({} errors)</span>"#, p.errors)
            } else {
                String::new()
            },
            or_dash(p.ttft_ms.map(|t| t.p50), ms),
            or_dash(p.ttft_ms.map(|t| t.p95), ms),
            or_dash(p.decode_tokens_per_s.map(|d| d.p10), |v| format!("{} tok/s", rate(v))),
            rate(p.output_tokens_per_s),
            or_dash(p.within_budget_pct, |v| format!("{v:.0}%")),
            if p.pass {
                r#"<span class="badge pass">pass</span>"#.to_string()
            } else {
                format!(r#"<span class="badge fail">fail</span> {}"#, esc(&p.reason))
            }
        )?;
    }
    h.push_str("</tbody></table></div>");
    Ok(())
}
