//! The verdicts of a run for machines and for people: `junit.xml` (one test
//! case per SLO, per baseline comparison and for the leak verdict, for CI
//! test tabs) and `summary.md` (fits `$GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use crate::config::units::format_bytes;
use crate::gate::{Comparison, SloResult};
use crate::leak::Verdict;
use crate::report::leak::LeakSection;

/// Everything a run was judged on.
#[derive(Debug, Clone, Copy)]
pub struct Verdicts<'a> {
    /// The profile's name (or the command), for titles.
    pub name: &'a str,
    pub passed: bool,
    pub duration_s: f64,
    pub slo: &'a [SloResult],
    pub baseline: &'a [Comparison],
    pub leak: Option<&'a LeakSection>,
}

/// The unit of a baseline comparison's values, from the metric's name
/// (`ask.p95`, `all.rps`, `rss.max`, `rss.slope`, ...).
pub fn comparison_unit(metric: &str) -> &'static str {
    let first = metric.split('.').next().unwrap_or("");
    let last = metric.rsplit('.').next().unwrap_or("");
    let percentile = last.len() > 1 && last.starts_with('p') && last[1..].chars().all(|c| c.is_ascii_digit());
    match (first, last) {
        (_, "rps") => "per_s",
        (_, "slope") => "bytes_per_s",
        (_, "success_rate" | "check_fail_rate" | "error_rate") => "ratio",
        ("rss" | "vms" | "pss" | "uss" | "gpu" | "gpu_mem", _) => "bytes",
        ("cpu", _) => "percent",
        ("threads" | "fds" | "procs", _) => "count",
        (_, "mean" | "max" | "min") => "ms",
        _ if percentile => "ms",
        _ => "",
    }
}

/// One side of a baseline comparison, for people.
fn shown(c: &Comparison, v: f64) -> String {
    show(Some(v), comparison_unit(&c.metric))
}

/// An observed value in its unit, for people.
pub fn show(observed: Option<f64>, unit: &str) -> String {
    let Some(v) = observed else {
        return "not measured".into();
    };
    match unit {
        "ms" => format!("{v:.1} ms"),
        "ratio" => format!("{:.2}%", v * 100.0),
        "per_s" => format!("{v:.1}/s"),
        "bytes" => format_bytes(v),
        "bytes_per_s" => format!("{}/min", format_bytes(v * 60.0)),
        "percent" => format!("{v:.1}%"),
        "verdict" => if v == 0.0 { "no leak" } else { "leak" }.into(),
        _ => format!("{v}"),
    }
}

/// One line per SLO and per baseline comparison: `pass`/`FAIL`, what was
/// asked and what was observed.
pub fn write_gate(out: &mut dyn Write, slo: &[SloResult], baseline: &[Comparison]) -> io::Result<()> {
    for r in slo {
        writeln!(
            out,
            "{} {} {}: observed {}",
            if r.pass { "pass" } else { "FAIL" },
            r.name,
            r.expr,
            show(r.observed, &r.unit)
        )?;
    }
    for c in baseline {
        writeln!(
            out,
            "{} {}: {} -> {} ({:+.1}%, allowed {}%)",
            if c.pass { "pass" } else { "FAIL" },
            c.metric,
            shown(c, c.baseline),
            shown(c, c.current),
            c.change_pct,
            c.allowed_pct
        )?;
    }
    Ok(())
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Writes `junit.xml`.
pub fn write_junit(out: &mut dyn Write, v: &Verdicts<'_>) -> io::Result<()> {
    struct Case {
        class: &'static str,
        name: String,
        failure: Option<String>,
        detail: Option<String>,
    }
    let mut cases: Vec<Case> = Vec::new();
    for s in v.slo {
        cases.push(Case {
            class: "slo",
            name: format!("{} {}", s.name, s.expr),
            failure: (!s.pass).then(|| format!("observed {}, expected {}", show(s.observed, &s.unit), s.expr)),
            detail: None,
        });
    }
    for c in v.baseline {
        cases.push(Case {
            class: "baseline",
            name: format!("{} within {}% of the baseline", c.metric, c.allowed_pct),
            failure: (!c.pass).then(|| {
                format!(
                    "{} went from {} to {} ({:+.1}%)",
                    c.metric,
                    shown(c, c.baseline),
                    shown(c, c.current),
                    c.change_pct
                )
            }),
            detail: None,
        });
    }
    if let Some(l) = v.leak {
        cases.push(Case {
            class: "leak",
            name: format!("{} does not leak", l.metric),
            failure: (l.verdict == Verdict::Leak).then(|| l.reason.clone()),
            detail: Some(format!(
                "verdict {:?}: {}\nslope {:.1} B/s (95% CI {:.1} .. {:.1}), threshold {:.1} B/s",
                l.verdict, l.reason, l.slope_bytes_per_s, l.slope_ci[0], l.slope_ci[1], l.threshold_bytes_per_s
            )),
        });
    }
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="loadprof" tests="{}" failures="{failures}" time="{:.3}">"#,
        cases.len(),
        v.duration_s
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" time="{:.3}">"#,
        xml(v.name),
        cases.len(),
        v.duration_s
    )?;
    for c in &cases {
        write!(out, r#"    <testcase classname="{}" name="{}""#, c.class, xml(&c.name))?;
        if c.failure.is_none() && c.detail.is_none() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        if let Some(f) = &c.failure {
            writeln!(out, r#"      <failure message="{}"/>"#, xml(f))?;
        }
        if let Some(d) = &c.detail {
            writeln!(out, "      <system-out>{}</system-out>", xml(d))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

/// One JSON line per breached SLO, for `--alerts FILE.jsonl`: what broke
/// (`component`, the run's name), which metric, what was observed and the
/// threshold it broke, and a severity (`critical`, or `warning` when the
/// metric was not measured at all).
pub fn alert_lines(component: &str, at: &str, slo: &[SloResult]) -> Vec<String> {
    slo.iter()
        .filter(|s| !s.pass)
        .map(|s| {
            serde_json::json!({
                "at": at,
                "component": component,
                "metric": s.name,
                "observed": s.observed,
                "unit": s.unit,
                "threshold": s.expr,
                "severity": if s.observed.is_some() { "critical" } else { "warning" },
            })
            .to_string()
        })
        .collect()
}

/// Appends `lines` to the JSON Lines file at `path` (created if missing),
/// in one write so lines of concurrent runs do not interleave.
pub fn append_alerts(path: &std::path::Path, lines: &[String]) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Writes `summary.md`.
pub fn write_markdown(out: &mut dyn Write, v: &Verdicts<'_>) -> io::Result<()> {
    let verdict = if v.passed { "✅ passed" } else { "❌ failed" };
    writeln!(out, "## loadprof: {} — {verdict}\n", cell(v.name))?;
    if !v.slo.is_empty() {
        writeln!(out, "| SLO | target | observed | |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for s in v.slo {
            writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                cell(&s.name),
                cell(&s.expr),
                show(s.observed, &s.unit),
                if s.pass { "✅" } else { "❌" }
            )?;
        }
        writeln!(out)?;
    }
    if !v.baseline.is_empty() {
        writeln!(out, "| against the baseline | before | now | change | allowed | |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
        for c in v.baseline {
            writeln!(
                out,
                "| `{}` | {} | {} | {:+.1}% | {}% | {} |",
                cell(&c.metric),
                shown(c, c.baseline),
                shown(c, c.current),
                c.change_pct,
                c.allowed_pct,
                if c.pass { "✅" } else { "❌" }
            )?;
        }
        writeln!(out)?;
    }
    if let Some(l) = v.leak {
        let mark = match l.verdict {
            Verdict::Leak => "❌ leak",
            Verdict::NoLeak => "✅ no leak",
            Verdict::Inconclusive => "⚠️ inconclusive",
        };
        writeln!(out, "**Memory ({}):** {mark}. {}", cell(&l.metric), cell(&l.reason))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Better, Slo, compare};

    fn slos() -> Vec<SloResult> {
        let eps = ["ask"];
        vec![
            Slo::parse("ask.p95", "< 2.5s", &eps).unwrap().judge(Some(2700.0)),
            Slo::parse("all.success_rate", ">= 98%", &eps)
                .unwrap()
                .judge(Some(0.995)),
            Slo::parse("rss.max", "< 2GB", &eps).unwrap().judge(None),
        ]
    }

    #[test]
    fn junit_has_a_case_per_slo_and_comparison_with_failures_escaped() {
        let slo = slos();
        let base = [compare("all.rps", 100.0, 80.0, Better::Higher, 10.0)];
        let v = Verdicts {
            name: "rag <smoke> & co",
            passed: false,
            duration_s: 61.5,
            slo: &slo,
            baseline: &base,
            leak: None,
        };
        let mut out = Vec::new();
        write_junit(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 4);
        let failures: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("failure")).collect();
        assert_eq!(
            failures.len(),
            3,
            "p95, the unmeasured rss.max and the rps regression: {text}"
        );
        assert!(failures[0].attribute("message").unwrap().contains("2700.0 ms"));
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(suite.attribute("name"), Some("rag <smoke> & co"));
        assert_eq!(suite.attribute("failures"), Some("3"));
    }

    #[test]
    fn markdown_tables_show_values_in_their_units() {
        let slo = slos();
        let v = Verdicts {
            name: "nightly",
            passed: false,
            duration_s: 10.0,
            slo: &slo,
            baseline: &[],
            leak: None,
        };
        let mut out = Vec::new();
        write_markdown(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("## loadprof: nightly — ❌ failed"), "{text}");
        assert!(text.contains("| `ask.p95` | `< 2.5s` | 2700.0 ms | ❌ |"), "{text}");
        assert!(
            text.contains("| `all.success_rate` | `>= 98%` | 99.50% | ✅ |"),
            "{text}"
        );
        assert!(text.contains("not measured"), "{text}");
    }

    #[test]
    fn alerts_are_one_json_line_per_breach_appended() {
        let slo = slos();
        let lines = alert_lines("rag-smoke", "2026-12-01T10:00:00Z", &slo);
        assert_eq!(lines.len(), 2, "p95 breached, rss.max not measured");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["metric"], "ask.p95");
        assert_eq!(first["observed"], 2700.0);
        assert_eq!(first["threshold"], "< 2.5s");
        assert_eq!(first["severity"], "critical");
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["severity"], "warning");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        append_alerts(&path, &lines).unwrap();
        append_alerts(&path, &lines[..1]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        );
    }

    #[test]
    fn control_characters_cannot_break_the_xml() {
        assert_eq!(xml("a\u{1}b<c>&\"'"), "a\u{fffd}b&lt;c&gt;&amp;&quot;&apos;");
    }
}
