//! The trend page (`loadprof report --trend`): stored runs ordered by
//! their start, with p95 latency, throughput, peak RSS and leak slope
//! drawn across them (each point marked passed or failed), and a table of
//! the runs.

use std::fmt::{self, Write as _};
use std::io;

use serde_json::Value;

use super::chart::{Chart, Dot, Line, Unit, XAxis};
use super::{CSS, GREEN, RED, SLATE, count, esc, ms, num, text, when};
use crate::config::units::format_bytes;
use crate::report::verdicts::show;

/// One entry per stored run: (where it was read from, its result.json).
pub fn write_trend(out: &mut dyn io::Write, runs: &[(String, Value)]) -> io::Result<()> {
    let mut page = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail.
    let _ = trend_page(&mut page, &ordered(runs));
    out.write_all(page.as_bytes())
}

/// The runs by `run.started_at` (as instants, so time zones compare
/// right); runs without a readable start come last, in the order given.
fn ordered(runs: &[(String, Value)]) -> Vec<&(String, Value)> {
    let mut v: Vec<_> = runs.iter().collect();
    v.sort_by_key(|(_, doc)| {
        let at = text(doc, "/run/started_at").and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        (at.is_none(), at)
    });
    v
}

struct Metric {
    title: &'static str,
    ptr: &'static str,
    unit: Unit,
    show: fn(f64) -> String,
}

const METRICS: [Metric; 4] = [
    Metric {
        title: "p95 latency",
        ptr: "/load/latency/p95_ms",
        unit: Unit::Ms,
        show: ms,
    },
    Metric {
        title: "Throughput",
        ptr: "/load/totals/rps",
        unit: Unit::PerS,
        show: |v| format!("{v:.1}/s"),
    },
    Metric {
        title: "Peak RSS",
        ptr: "/resources/rss_bytes/max",
        unit: Unit::Bytes,
        show: format_bytes,
    },
    Metric {
        title: "Leak slope",
        ptr: "/leak/slope_bytes_per_s",
        unit: Unit::BytesPerS,
        show: |v| show(Some(v), "bytes_per_s"),
    },
];

fn passed(doc: &Value) -> Option<bool> {
    doc.get("passed").and_then(Value::as_bool)
}

fn mark(p: Option<bool>) -> (&'static str, &'static str) {
    match p {
        Some(true) => (GREEN, "passed"),
        Some(false) => (RED, "failed"),
        None => (SLATE, "no verdict"),
    }
}

/// A short label for a run on the x axis: `12-01 19:22`, or its number.
fn short(doc: &Value, i: usize) -> String {
    match text(doc, "/run/started_at").map(when) {
        Some(t) if t.len() >= 16 && t.is_char_boundary(5) && t.is_char_boundary(16) => t[5..16].to_string(),
        _ => format!("#{}", i + 1),
    }
}

fn trend_page(h: &mut String, runs: &[&(String, Value)]) -> fmt::Result {
    let total = runs.len();
    let ok = runs.iter().filter(|r| passed(&r.1) == Some(true)).count();
    let failed = runs.iter().filter(|r| passed(&r.1) == Some(false)).count();
    let latest = runs.last().map(|r| passed(&r.1));
    let mut profiles: Vec<&str> = runs.iter().filter_map(|r| text(&r.1, "/run/profile")).collect();
    profiles.sort_unstable();
    profiles.dedup();
    let title = match profiles.as_slice() {
        [one] => format!("{one} — trend"),
        _ => "loadprof trend".to_string(),
    };
    let (class, word, icon) = match latest {
        Some(Some(true)) => ("pass", "Latest run passed", "✓"),
        Some(Some(false)) => ("fail", "Latest run failed", "✗"),
        _ => ("unknown", "No verdict", "?"),
    };
    write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="loadprof"><title>{}</title><style>{CSS}</style></head><body><header class="banner {class}"><div class="wrap"><div class="status"><span class="icon">{icon}</span>{word}</div><h1>{}</h1><div class="sub">"#,
        esc(&title),
        esc(&title)
    )?;
    let first = runs.first().and_then(|r| text(&r.1, "/run/started_at")).map(when);
    let last = runs.last().and_then(|r| text(&r.1, "/run/started_at")).map(when);
    write!(h, "{total} run{}", if total == 1 { "" } else { "s" })?;
    if let (Some(a), Some(b)) = (first, last) {
        write!(h, " from {} to {}", esc(&a), esc(&b))?;
    }
    write!(h, " · {ok} passed · {failed} failed")?;
    if profiles.len() > 1 {
        let names: Vec<String> = profiles.iter().map(|p| esc(p)).collect();
        write!(h, " · profiles {}", names.join(", "))?;
    }
    h.push_str(r#"</div></div></header><main class="wrap">"#);
    if runs.is_empty() {
        h.push_str(r#"<section><p class="empty">No runs to show.</p></section></main></body></html>"#);
        return Ok(());
    }
    let labels: Vec<String> = runs.iter().enumerate().map(|(i, r)| short(&r.1, i)).collect();
    write!(
        h,
        r#"<section id="trend"><h2>Across runs</h2><div class="legend left"><span><i class="dot" style="background:{GREEN}"></i>passed</span><span><i class="dot" style="background:{RED}"></i>failed</span><span><i class="dot" style="background:{SLATE}"></i>no verdict</span></div><div class="grid2">"#
    )?;
    for m in &METRICS {
        let mut c = Chart::new(format!("{} across runs", m.title), m.unit);
        c.x = XAxis::Labels(labels.clone());
        c.width = 560.0;
        c.height = 230.0;
        let mut pts = Vec::new();
        for (i, (path, doc)) in runs.iter().map(|r| (&r.0, &r.1)).enumerate() {
            let Some(v) = num(doc, m.ptr) else { continue };
            let (color, word) = mark(passed(doc));
            pts.push((i as f64, v));
            c.dots.push(Dot {
                x: i as f64,
                y: v,
                color,
                title: format!("{} · {} · {word} · {path}", labels[i], (m.show)(v)),
            });
        }
        let measured = pts.len();
        c.lines.push(Line::new("", "#94a3b8", pts).width(1.5));
        write!(h, "<div><h3>{}</h3>", m.title)?;
        if measured == 0 {
            h.push_str(r#"<p class="empty">Not measured in any of these runs.</p>"#);
        } else {
            h.push_str(&c.render());
        }
        h.push_str("</div>");
    }
    h.push_str("</div></section>");
    runs_table(h, runs, &labels)?;
    h.push_str(r#"</main><footer class="wrap">Written by loadprof · one point per result.json, ordered by run.started_at</footer></body></html>"#);
    Ok(())
}

fn runs_table(h: &mut String, runs: &[&(String, Value)], labels: &[String]) -> fmt::Result {
    h.push_str(r#"<section id="runs"><h2>Runs</h2><div class="scroll"><table><thead><tr><th class="num">#</th><th>started</th><th>profile</th><th>outcome</th><th>result</th>"#);
    for m in &METRICS {
        write!(h, r#"<th class="num">{}</th>"#, m.title)?;
    }
    h.push_str("<th>result.json</th></tr></thead><tbody>");
    let mut previous: [Option<f64>; 4] = [None; 4];
    for (i, (path, doc)) in runs.iter().map(|r| (&r.0, &r.1)).enumerate() {
        let p = passed(doc);
        let outcome = text(doc, "/run/outcome").unwrap_or("–");
        write!(
            h,
            r#"<tr class="{}"><td class="num muted">{}</td><td class="nowrap" title="{}">{}</td><td class="nowrap">{}</td><td>{}</td><td>{}</td>"#,
            if p == Some(false) { "failrow" } else { "" },
            i + 1,
            esc(text(doc, "/run/started_at").unwrap_or("")),
            esc(text(doc, "/run/started_at").map(when).as_deref().unwrap_or(&labels[i])),
            esc(text(doc, "/run/profile").unwrap_or("–")),
            if outcome == "completed" {
                esc(outcome)
            } else {
                format!(r#"<span class="chip bad">{}</span>"#, esc(&outcome.replace('_', " ")))
            },
            match p {
                Some(pass) => super::badge(pass).to_string(),
                None => r#"<span class="muted">–</span>"#.to_string(),
            }
        )?;
        for (m, prev) in METRICS.iter().zip(previous.iter_mut()) {
            let v = num(doc, m.ptr);
            let change = match (v, *prev) {
                // A slope hovers around zero, where a change in percent says nothing.
                (Some(v), Some(b)) if b > 0.0 && m.unit != Unit::BytesPerS => {
                    let pct = (v - b) / b * 100.0;
                    let pct = if pct.abs() < 0.5 {
                        "±0%".to_string()
                    } else {
                        format!("{pct:+.0}%")
                    };
                    format!(r#" <span class="delta">{pct}</span>"#)
                }
                _ => String::new(),
            };
            write!(
                h,
                r#"<td class="num">{}{change}</td>"#,
                v.map_or_else(|| "–".to_string(), |v| (m.show)(v))
            )?;
            if v.is_some() {
                *prev = v;
            }
        }
        // A long path may break after each folder, nowhere else.
        write!(h, r#"<td><code>{}</code></td></tr>"#, esc(path).replace('/', "/<wbr>"))?;
    }
    write!(
        h,
        r#"</tbody></table></div><p class="muted">{} runs; the change is against the previous run that measured the value.</p></section>"#,
        count(runs.len() as f64)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(at: &str, p95: f64, passed: bool) -> Value {
        json!({
            "run": {"profile": "nightly", "started_at": at, "outcome": "completed"},
            "load": {"latency": {"p95_ms": p95}, "totals": {"rps": 50.0}},
            "resources": {"rss_bytes": {"max": 100_000_000}},
            "leak": {"slope_bytes_per_s": -20.0},
            "passed": passed
        })
    }

    fn page(runs: &[(String, Value)]) -> String {
        let mut out = Vec::new();
        write_trend(&mut out, runs).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn runs_are_ordered_by_their_start_across_time_zones() {
        let runs = vec![
            ("c.json".to_string(), run("2026-12-03T01:00:00+02:00", 300.0, true)),
            ("none.json".to_string(), json!({"passed": true})),
            ("a.json".to_string(), run("2026-12-01T10:00:00Z", 100.0, true)),
            ("b.json".to_string(), run("2026-12-02T23:30:00Z", 200.0, false)),
        ];
        let order: Vec<&str> = ordered(&runs).iter().map(|r| r.0.as_str()).collect();
        assert_eq!(order, ["a.json", "c.json", "b.json", "none.json"]);
        let html = page(&runs);
        let at = |s: &str| html.find(s).unwrap();
        assert!(at("<code>a.json") < at("<code>c.json"));
        assert!(at("<code>c.json") < at("<code>b.json"));
        assert!(
            html.contains("Latest run passed"),
            "the run without a start is the latest"
        );
        assert_eq!(
            html.matches("<circle").count(),
            4 * 3,
            "a dot per run and metric measured"
        );
        assert!(html.contains(&format!("fill=\"{RED}\"")), "the failed run is marked");
        assert!(html.contains("+200%"), "the change from the previous run");
    }

    #[test]
    fn trend_escapes_paths_and_names_and_survives_nothing() {
        let mut doc = run("2026-12-01T10:00:00Z", f64::NAN, false);
        doc["run"]["profile"] = json!("<script>alert(1)</script>");
        let html = page(&[("out/<b>\"&'/result.json".into(), doc)]);
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("out/<wbr>&lt;b&gt;&quot;&amp;&#39;/<wbr>result.json"));
        let html = page(&[]);
        assert!(html.contains("No runs to show.") && html.ends_with("</html>"));
    }
}
