//! The verdicts of a run for machines and for people: `junit.xml` (one test
//! case per SLO, per baseline comparison, for the leak verdict, per model
//! of an LLM benchmark and per quality check it ran, for CI test tabs) and
//! `summary.md` (fits `$GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use crate::config::units::format_bytes;
use crate::escape::{markdown, markdown_code_cell as code, xml};
use crate::gate::{Comparison, SloResult};
use crate::leak::Verdict;
use crate::llm::Verdict as ModelVerdict;
use crate::report::leak::LeakSection;
use crate::report::llm::{LlmSection, budget_words};

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
    /// The models of an LLM benchmark and the decision on them.
    pub llm: Option<&'a LlmSection>,
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
        "s" if v.abs() < 1.0 => format!("{:.1} ms", v * 1000.0),
        "s" => format!("{v:.3} s"),
        "verdict" => if v == 0.0 { "no leak" } else { "leak" }.into(),
        "number" => significant(v),
        _ => format!("{v}"),
    }
}

/// A number to four significant digits, without trailing zeros.
fn significant(v: f64) -> String {
    if !v.is_finite() || v == v.trunc() && v.abs() < 1e15 {
        return format!("{v}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
#[test]
fn numbers_are_shown_to_four_significant_digits() {
    assert_eq!(show(Some(102.203333261853), "number"), "102.2");
    assert_eq!(show(Some(0.0047500001), "number"), "0.00475");
    assert_eq!(show(Some(39.0), "number"), "39");
    assert_eq!(show(Some(123456.78), "number"), "123457");
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
    if let Some(l) = v.llm {
        let use_case = l.use_case.name();
        for m in &l.models {
            let verdict = m.verdict.map_or("no verdict", ModelVerdict::label);
            let headroom = m.headroom.as_deref().unwrap_or("not judged");
            cases.push(Case {
                class: "llm",
                name: format!("{} meets the {use_case} budgets", m.model),
                failure: (m.verdict == Some(ModelVerdict::NothingFits)).then(|| headroom.to_string()),
                detail: Some(format!(
                    "verdict {verdict}: {headroom}\nTTFT p95 {}, decode p10 {}, quality {}, errors {}/{}",
                    m.ttft_ms.map_or("not measured".into(), |t| show(Some(t.p95), "ms")),
                    m.decode_tokens_per_s
                        .map_or("not measured".into(), |d| format!("{:.1} tok/s", d.p10)),
                    m.quality
                        .as_ref()
                        .map_or("not checked".into(), |q| format!("{}/{}", q.passed, q.total)),
                    m.errors,
                    m.requests
                )),
            });
            for c in m.quality.iter().flat_map(|q| &q.checks) {
                cases.push(Case {
                    class: "llm.quality",
                    name: format!("{}: {}", m.model, c.name),
                    failure: (!c.passed).then(|| {
                        if c.detail.is_empty() {
                            "the answer did not pass the check".to_string()
                        } else {
                            c.detail.clone()
                        }
                    }),
                    detail: (!c.passed).then(|| format!("answer:\n{}", c.answer)),
                });
            }
        }
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

/// Writes `summary.md`.
pub fn write_markdown(out: &mut dyn Write, v: &Verdicts<'_>) -> io::Result<()> {
    let verdict = if v.passed { "✅ passed" } else { "❌ failed" };
    writeln!(out, "## loadprof: {} — {verdict}\n", markdown(v.name))?;
    if !v.slo.is_empty() {
        writeln!(out, "| SLO | target | observed | |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for s in v.slo {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                code(&s.name),
                code(&s.expr),
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
                "| {} | {} | {} | {:+.1}% | {}% | {} |",
                code(&c.metric),
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
        writeln!(
            out,
            "**Memory ({}):** {mark}. {}",
            markdown(&l.metric),
            markdown(&l.reason)
        )?;
    }
    if let Some(l) = v.llm {
        write_llm_markdown(out, l)?;
    }
    Ok(())
}

/// The models' scorecard and the recommendation, in Markdown.
fn write_llm_markdown(out: &mut dyn Write, l: &LlmSection) -> io::Result<()> {
    writeln!(
        out,
        "### LLM models for {} use ({})\n",
        l.use_case.name(),
        markdown(&budget_words(&l.budgets))
    )?;
    if l.models.is_empty() {
        writeln!(out, "No model was measured.\n")?;
    } else {
        writeln!(
            out,
            "| model | params | where | TTFT p95 | decode p10 | quality | verdict |"
        )?;
        writeln!(out, "| --- | --- | --- | ---: | ---: | ---: | --- |")?;
        for m in &l.models {
            let mark = match m.verdict {
                Some(ModelVerdict::Keep) => "✅ ",
                Some(ModelVerdict::GoBigger) => "⬆️ ",
                Some(ModelVerdict::GoSmaller) => "⬇️ ",
                Some(ModelVerdict::NothingFits) => "❌ ",
                None => "",
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {mark}{} |",
                code(&m.model),
                markdown(m.params.as_deref().unwrap_or("–")),
                markdown(m.processor.as_deref().unwrap_or("–")),
                m.ttft_ms.map_or("–".into(), |t| show(Some(t.p95), "ms")),
                m.decode_tokens_per_s
                    .map_or("–".into(), |d| format!("{:.1} tok/s", d.p10)),
                m.quality
                    .as_ref()
                    .map_or("–".into(), |q| format!("{}/{}", q.passed, q.total)),
                m.verdict.map_or("no verdict", ModelVerdict::label)
            )?;
        }
        writeln!(out)?;
        for m in &l.models {
            if let Some(c) = &m.capacity {
                writeln!(out, "- {} capacity: {}", code(&m.model), markdown(&c.described()))?;
            }
        }
        if l.models.iter().any(|m| m.capacity.is_some()) {
            writeln!(out)?;
        }
    }
    let mark = if l.pick.is_some() { "✅" } else { "❌" };
    writeln!(out, "{mark} **Recommendation:** {}", markdown(&l.recommendation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Better, Slo, compare};
    use crate::llm::summary::{CheckSummary, ModelSummary, P50P95, Quality, Rates};
    use crate::llm::{Budgets, UseCase};
    use crate::report::llm::LlmHost;

    fn slos() -> Vec<SloResult> {
        let eps = ["ask"];
        vec![
            Slo::parse("ask.p95", "< 2.5s", &eps, &[]).unwrap().judge(Some(2700.0)),
            Slo::parse("all.success_rate", ">= 98%", &eps, &[])
                .unwrap()
                .judge(Some(0.995)),
            Slo::parse("rss.max", "< 2GB", &eps, &[]).unwrap().judge(None),
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
            llm: None,
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
    fn junit_of_names_with_characters_xml_cannot_carry_is_well_formed() {
        let slo: Vec<SloResult> = serde_json::from_value(serde_json::json!([
            {"name": "ask\u{0}\u{1b}[31m\u{ffff}", "expr": "< 1s\"/><x a='", "observed": 2000.0, "unit": "ms", "pass": false}
        ]))
        .unwrap();
        let v = Verdicts {
            name: "run\u{8}]]></testsuite>",
            passed: false,
            duration_s: 1.0,
            slo: &slo,
            baseline: &[],
            leak: None,
            llm: None,
        };
        let text = junit(&v);
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let case = doc.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
        assert_eq!(
            case.attribute("name"),
            Some("ask\u{fffd}\u{fffd}[31m\u{fffd} < 1s\"/><x a='")
        );
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(suite.attribute("name"), Some("run\u{fffd}]]></testsuite>"));
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 1);
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
            llm: None,
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

    /// Pipes that split a GFM table row: those not escaped by a backslash.
    fn cell_pipes(line: &str) -> usize {
        let b = line.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count()
    }

    #[test]
    fn markdown_of_hostile_names_stays_text_in_its_cell_and_line() {
        const IMG: &str = "<img src=x onerror=alert(1)>";
        const LINK: &str = "[click](javascript:alert(1))";
        let name = format!("rag` {IMG} {LINK}\n# owned | x");
        let slo: Vec<SloResult> = serde_json::from_value(serde_json::json!([
            {"name": format!("a`b``c|d\ne {IMG}"), "expr": "< 2.5s` | **x**", "observed": 1.0, "unit": "ms", "pass": true},
            {"name": "`", "expr": format!("\r\n{LINK}"), "observed": null, "unit": "", "pass": false}
        ]))
        .unwrap();
        let base = [compare(&format!("x|y`{IMG}"), 1.0, 2.0, Better::Lower, 10.0)];
        let leak: LeakSection = serde_json::from_value(serde_json::json!({
            "verdict": "leak", "metric": format!("rss_bytes`{IMG}"), "slope_bytes_per_s": 1.0,
            "slope_ci": [0.5, 1.5], "trend_p": 0.0, "growth_pct_per_min": 1.0, "warmup_s": 0.0,
            "reason": format!("grows` {IMG} {LINK}\n| --- |\n_x_"), "threshold_bytes_per_s": 1.0,
            "time_to_limit_s": null, "window_s": [0.0, 1.0],
            "checks": {"significant": true, "large_enough": true, "not_slowing": true, "above_noise": true}
        }))
        .unwrap();
        let v = Verdicts {
            name: &name,
            passed: false,
            duration_s: 1.0,
            slo: &slo,
            baseline: &base,
            leak: Some(&leak),
            llm: None,
        };
        let mut out = Vec::new();
        write_markdown(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines.len(),
            9,
            "heading, 2 + 2 SLO rows, 2 + 1 baseline rows, memory: {text}"
        );
        // Outside code spans: no HTML, no link, no new line, no heading.
        assert_eq!(
            lines[0],
            "## loadprof: rag\\` &lt;img src=x onerror=alert\\(1\\)&gt; \\[click\\]\\(javascript:alert\\(1\\)\\) \\# owned \\| x — ❌ failed"
        );
        // In code spans everything is literal: the fence outgrows the
        // backticks inside, and pipes are escaped for the table.
        assert_eq!(
            lines[3],
            "| ```a`b``c\\|d e <img src=x onerror=alert(1)>``` | ``< 2.5s` \\| **x**`` | 1.0 ms | ✅ |"
        );
        assert_eq!(
            lines[4],
            "| `` ` `` | `  [click](javascript:alert(1))` | not measured | ❌ |"
        );
        assert_eq!(
            lines[7],
            "| ``x\\|y`<img src=x onerror=alert(1)>`` | 1 | 2 | +100.0% | 10% | ❌ |"
        );
        for (row, cells) in [(3, 4), (4, 4), (7, 6)] {
            assert_eq!(cell_pipes(lines[row]), cells + 1, "{}", lines[row]);
        }
        assert_eq!(
            lines[8],
            "**Memory (rss\\_bytes\\`&lt;img src=x onerror=alert\\(1\\)&gt;):** ❌ leak. grows\\` &lt;img src=x onerror=alert\\(1\\)&gt; \\[click\\]\\(javascript:alert\\(1\\)\\) \\| --- \\| \\_x\\_"
        );
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

    fn model(name: &str, verdict: ModelVerdict, headroom: &str, checks: &[(&str, bool, &str)]) -> ModelSummary {
        ModelSummary {
            model: name.into(),
            params: Some("3.2B".into()),
            quant: Some("Q4_K_M".into()),
            family: None,
            size_bytes: None,
            load_ms: Some(151.0),
            cold_ttft_ms: None,
            cold_e2e_ms: None,
            ttft_ms: Some(P50P95 { p50: 53.8, p95: 540.2 }),
            e2e_ms: None,
            decode_tokens_per_s: Some(Rates {
                p50: 24.0,
                p10: 23.94,
                min: 23.0,
            }),
            server_decode_tokens_per_s: None,
            prompt_tokens_per_s: None,
            itl_ms: None,
            output_tokens_mean: None,
            tokens_approximate: false,
            server_rss_bytes_max: None,
            server_cpu_percent_mean: None,
            gpu_mem_bytes_max: None,
            loaded_bytes: None,
            vram_bytes: None,
            processor: Some("100% GPU".into()),
            requests: 7,
            errors: 0,
            error_examples: vec![],
            concurrency: vec![],
            capacity: None,
            quality: (!checks.is_empty()).then(|| Quality {
                passed: checks.iter().filter(|c| c.1).count() as u32,
                total: checks.len() as u32,
                checks: checks
                    .iter()
                    .map(|(n, passed, detail)| CheckSummary {
                        name: (*n).into(),
                        passed: *passed,
                        detail: (*detail).into(),
                        answer: "You have <5> apples & \"more\"".into(),
                    })
                    .collect(),
            }),
            warnings: vec![],
            verdict: Some(verdict),
            headroom: Some(headroom.into()),
        }
    }

    fn section(models: Vec<ModelSummary>, pick: Option<&str>, recommendation: &str) -> LlmSection {
        LlmSection {
            endpoint: "http://127.0.0.1:11434".into(),
            api: crate::llm::Api::Ollama,
            server_version: Some("0.33.0".into()),
            host: LlmHost {
                cpu: None,
                cores: 8,
                mem_bytes: None,
                gpu: None,
                load_avg: None,
            },
            use_case: UseCase::Voice,
            budgets: Budgets::for_use(UseCase::Voice),
            prompts: 1,
            max_tokens: 128,
            runs: 5,
            warmup: 1,
            models,
            pick: pick.map(str::to_string),
            recommendation: recommendation.into(),
            warnings: vec![],
        }
    }

    fn junit(v: &Verdicts<'_>) -> String {
        let mut out = Vec::new();
        write_junit(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn verdicts<'a>(llm: &'a LlmSection) -> Verdicts<'a> {
        Verdicts {
            name: "models",
            passed: llm.pick.is_some(),
            duration_s: 30.5,
            slo: &[],
            baseline: &[],
            leak: None,
            llm: Some(llm),
        }
    }

    #[test]
    fn junit_fails_every_model_when_nothing_fits_with_its_first_reason() {
        let llm = section(
            vec![
                model("small:1b", ModelVerdict::NothingFits, "errors 1/4 (25 %) > 1 %", &[]),
                model(
                    "big<8b>",
                    ModelVerdict::NothingFits,
                    "TTFT p95 0.54 s > budget 0.5 s",
                    &[
                        ("arithmetic", true, ""),
                        ("json_object", false, "extra key \"priority\""),
                    ],
                ),
            ],
            None,
            "nothing fits: every model misses",
        );
        let text = junit(&verdicts(&llm));
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        let names: Vec<_> = cases
            .iter()
            .map(|c| (c.attribute("classname").unwrap(), c.attribute("name").unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("llm", "small:1b meets the voice budgets"),
                ("llm", "big<8b> meets the voice budgets"),
                ("llm.quality", "big<8b>: arithmetic"),
                ("llm.quality", "big<8b>: json_object"),
            ]
        );
        let failure = |i: usize| {
            cases[i]
                .children()
                .find(|n| n.has_tag_name("failure"))
                .and_then(|f| f.attribute("message"))
        };
        assert_eq!(failure(0), Some("errors 1/4 (25 %) > 1 %"));
        assert_eq!(failure(1), Some("TTFT p95 0.54 s > budget 0.5 s"));
        assert_eq!(failure(2), None, "a passed check passes");
        assert_eq!(failure(3), Some("extra key \"priority\""));
        let out = cases[3].children().find(|n| n.has_tag_name("system-out")).unwrap();
        assert!(
            out.text().unwrap().contains("You have <5> apples"),
            "the answer travels with the failure"
        );
        let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(suite.attribute("failures"), Some("3"));
        assert_eq!(suite.attribute("tests"), Some("4"));
    }

    #[test]
    fn junit_passes_every_model_but_nothing_fits_even_go_smaller() {
        let llm = section(
            vec![
                model("tiny:1b", ModelVerdict::GoBigger, "decode p10 is 32× the floor", &[]),
                model("mid:3b", ModelVerdict::Keep, "ample headroom", &[]),
                model("big:8b", ModelVerdict::GoSmaller, "TTFT p95 0.54 s > budget 0.5 s", &[]),
            ],
            Some("mid:3b"),
            "run mid:3b",
        );
        let text = junit(&verdicts(&llm));
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 3);
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("failure")).count(),
            0,
            "{text}"
        );
        assert!(
            text.contains("verdict GO SMALLER: TTFT p95 0.54 s &gt; budget 0.5 s"),
            "{text}"
        );
    }

    #[test]
    fn markdown_has_the_models_scorecard_and_the_recommendation() {
        let llm = section(
            vec![
                model(
                    "mid:3b",
                    ModelVerdict::Keep,
                    "ample headroom",
                    &[("a", true, ""), ("b", true, "")],
                ),
                model(
                    "big|8b",
                    ModelVerdict::GoSmaller,
                    "too slow",
                    &[("a", true, ""), ("b", false, "x")],
                ),
            ],
            Some("mid:3b"),
            "run mid:3b: the best quality (2/2 checks) of the models that meet the voice budgets",
        );
        let mut out = Vec::new();
        write_markdown(&mut out, &verdicts(&llm)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("## loadprof: models — ✅ passed"), "{text}");
        assert!(
            text.contains("### LLM models for voice use (decode p10 ≥ 15 tok/s, TTFT p95 ≤ 0.5 s)"),
            "{text}"
        );
        assert!(text.contains("| model | params | where | TTFT p95 | decode p10 | quality | verdict |"));
        assert!(
            text.contains("| `mid:3b` | 3.2B | 100% GPU | 540.2 ms | 23.9 tok/s | 2/2 | ✅ KEEP |"),
            "{text}"
        );
        assert!(
            text.contains("| `big\\|8b` |"),
            "a pipe in a name cannot split the row: {text}"
        );
        assert!(text.contains("| 1/2 | ⬇️ GO SMALLER |"), "{text}");
        assert!(
            text.contains("✅ **Recommendation:** run mid:3b: the best quality"),
            "{text}"
        );
        let nothing = section(vec![], None, "nothing to decide: no model was measured");
        let mut out = Vec::new();
        write_markdown(&mut out, &verdicts(&nothing)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("No model was measured.") && text.contains("❌ **Recommendation:** nothing to decide"));
    }
}
