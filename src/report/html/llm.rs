//! The model-comparison part of the report, drawn from the `llm` section of
//! result.json: the host, server and budgets, the pick, the scorecard, the
//! quality checks with each answer, and what went wrong (the charts of
//! speed and concurrency are in `llm_speed`). Model names
//! and answers come from the server and are escaped like any other text.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::llm_speed::{concurrency, speed};
use super::page::Report;
use super::{arr, count, esc, format_bytes, has, ms, num, text, trim_num};

/// A rate for people: `322`, `24.0`, `0.52`.
pub(super) fn rate(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Two latencies in one unit: `18.1 / 24.4 ms`, `0.32 / 2.59 s`.
fn ms_pair(a: Option<f64>, b: Option<f64>) -> String {
    let seconds = a.into_iter().chain(b).any(|v| v >= 1000.0);
    let one = |v: Option<f64>| match v {
        None => "–".to_string(),
        Some(v) if seconds => format!("{:.2}", v / 1000.0),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    };
    if a.is_none() && b.is_none() {
        return "–".into();
    }
    format!("{} / {} {}", one(a), one(b), if seconds { "s" } else { "ms" })
}

pub(super) fn or_dash(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".into(), f)
}

/// The verdict's words and the badge class that colours them.
fn verdict(m: &Value) -> (&'static str, &'static str) {
    match text(m, "/verdict") {
        Some("keep") => ("KEEP", "pass"),
        Some("go_bigger") => ("GO BIGGER", "warn"),
        Some("go_smaller") => ("GO SMALLER", "warn"),
        Some("nothing_fits") => ("NOTHING FITS", "fail"),
        _ => ("no verdict", "none"),
    }
}

pub(super) fn name(m: &Value) -> &str {
    text(m, "/model").unwrap_or("?")
}

/// `interactive: decode p10 ≥ 10 tok/s, TTFT p95 ≤ 2 s, errors ≤ 1 %`
fn budgets(llm: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(d) = num(llm, "/budgets/min_decode_p10") {
        parts.push(format!("decode p10 ≥ {} tok/s", trim_num(d)));
    }
    if let Some(t) = num(llm, "/budgets/max_ttft_p95_s") {
        parts.push(format!("TTFT p95 ≤ {} s", trim_num(t)));
    }
    if parts.is_empty() {
        parts.push("no latency budget: throughput decides".into());
    }
    if let Some(e) = num(llm, "/budgets/max_error_rate") {
        parts.push(format!("errors ≤ {} %", trim_num(e * 100.0)));
    }
    if let Some(q) = num(llm, "/budgets/min_quality") {
        parts.push(format!("quality ≥ {} %", trim_num(q * 100.0)));
    }
    parts.join(", ")
}

fn use_case(llm: &Value) -> &str {
    text(llm, "/use_case").unwrap_or("?")
}

impl Report<'_> {
    fn llm_doc(&self) -> Option<&Value> {
        self.doc.get("llm").filter(|l| l.is_object())
    }

    /// A model benchmark alone: the page is about the models.
    pub(super) fn llm_only(&self) -> bool {
        self.llm_doc().is_some() && !has(self.doc, "/load")
    }

    /// The title of a model benchmark without a profile's name.
    pub(super) fn llm_title(&self) -> Option<String> {
        let llm = self.llm_doc()?;
        let n = arr(llm, "/models").len();
        Some(format!(
            "LLM benchmark: {n} model{} for {} use",
            if n == 1 { "" } else { "s" },
            use_case(llm)
        ))
    }

    /// The banner's fact about the models.
    pub(super) fn llm_fact(&self) -> Option<String> {
        let llm = self.llm_doc()?;
        let pick = text(llm, "/pick").map_or("nothing fits".into(), |p| format!("pick {}", esc(p)));
        Some(format!(
            "{} models at {} · {}",
            arr(llm, "/models").len(),
            esc(text(llm, "/endpoint").unwrap_or("?")),
            pick
        ))
    }

    /// Why the benchmark failed, for the banner.
    pub(super) fn llm_failures(&self, out: &mut Vec<String>) {
        let Some(llm) = self.llm_doc() else {
            return;
        };
        if text(llm, "/pick").is_none() {
            out.push(format!(
                "no model meets the {} budgets ({})",
                esc(use_case(llm)),
                esc(&budgets(llm))
            ));
        }
    }

    /// The links to the model sections that this result has.
    pub(super) fn llm_nav(&self) -> Vec<(&'static str, &'static str)> {
        let Some(llm) = self.llm_doc() else {
            return Vec::new();
        };
        let models = arr(llm, "/models");
        let mut nav = vec![("llm", "LLM models")];
        if !models.is_empty() {
            nav.push(("llm-speed", "Speed"));
        }
        if curves(models) {
            nav.push(("llm-concurrency", "Concurrency"));
        }
        if models.iter().any(|m| !arr(m, "/quality/checks").is_empty()) {
            nav.push(("llm-quality", "Quality"));
        }
        if notes(llm) {
            nav.push(("llm-notes", "Warnings"));
        }
        nav
    }

    pub(super) fn llm(&self, h: &mut String) -> fmt::Result {
        let Some(llm) = self.llm_doc() else {
            return Ok(());
        };
        let models = arr(llm, "/models");
        h.push_str(r#"<section id="llm"><h2>LLM models</h2>"#);
        setup(h, llm)?;
        pick(h, llm)?;
        let warnings = arr(llm, "/warnings");
        if !warnings.is_empty() {
            h.push_str(r#"<div class="callout warn"><ul>"#);
            for w in warnings {
                write!(h, "<li>{}</li>", esc(w.as_str().unwrap_or("")))?;
            }
            h.push_str("</ul></div>");
        }
        if models.is_empty() {
            h.push_str(r#"<p class="empty">No model was measured.</p></section>"#);
            return Ok(());
        }
        scorecard(h, llm, models)?;
        h.push_str("</section>");
        speed(h, llm, models)?;
        if curves(models) {
            concurrency(h, llm, models)?;
        }
        quality(h, models)?;
        if notes(llm) {
            model_notes(h, models)?;
        }
        Ok(())
    }
}

/// Any model measured at more than one concurrency.
fn curves(models: &[Value]) -> bool {
    models.iter().any(|m| arr(m, "/concurrency").len() > 1)
}

/// Any model has warnings or failed requests to show.
fn notes(llm: &Value) -> bool {
    arr(llm, "/models")
        .iter()
        .any(|m| !arr(m, "/warnings").is_empty() || !arr(m, "/error_examples").is_empty())
}

/// The host, the server, the use with its budgets, and how it was measured.
fn setup(h: &mut String, llm: &Value) -> fmt::Result {
    let fact = |h: &mut String, label: &str, value: String, class: &str| {
        write!(h, r#"<div class="{class}"><dt>{label}</dt><dd>{value}</dd></div>"#)
    };
    h.push_str(r#"<dl class="facts llm">"#);
    let mut host = vec![esc(text(llm, "/host/cpu").unwrap_or("unknown CPU"))];
    if let Some(c) = num(llm, "/host/cores") {
        host.push(format!("{} cores", count(c)));
    }
    if let Some(m) = num(llm, "/host/mem_bytes") {
        host.push(format!("{} RAM", format_bytes(m)));
    }
    fact(h, "Host", host.join(" · "), "")?;
    fact(h, "GPU", esc(text(llm, "/host/gpu").unwrap_or("none")), "")?;
    let load: Vec<f64> = arr(llm, "/host/load_avg").iter().filter_map(Value::as_f64).collect();
    let busy = match (load.first(), num(llm, "/host/cores")) {
        (Some(l), Some(c)) => *l > 0.5 * c,
        _ => false,
    };
    let load = if load.is_empty() {
        "–".to_string()
    } else {
        let each: Vec<String> = load.iter().map(|l| format!("{l:.2}")).collect();
        format!(r#"{} <span class="muted">(1 · 5 · 15 min)</span>"#, each.join(" · "))
    };
    fact(h, "Load average", load, if busy { "busy" } else { "" })?;
    let api = match text(llm, "/api") {
        Some("ollama") => "Ollama",
        Some("openai") => "OpenAI-compatible",
        _ => "unknown server",
    };
    let version = text(llm, "/server_version").map_or(String::new(), |v| format!(" {}", esc(v)));
    fact(
        h,
        "Server",
        format!(
            "{api}{version} at <code>{}</code>",
            esc(text(llm, "/endpoint").unwrap_or("?"))
        ),
        "",
    )?;
    fact(
        h,
        "Use and budgets",
        format!("<strong>{}</strong>: {}", esc(use_case(llm)), esc(&budgets(llm))),
        "",
    )?;
    let mut method = Vec::new();
    if let Some(p) = num(llm, "/prompts") {
        method.push(format!("{} prompt{}", count(p), if p == 1.0 { "" } else { "s" }));
    }
    if let Some(t) = num(llm, "/max_tokens") {
        method.push(format!("≤ {} output tokens", count(t)));
    }
    if let Some(r) = num(llm, "/runs") {
        let warm = num(llm, "/warmup").map_or(String::new(), |w| format!(" + {} warm-up", count(w)));
        method.push(format!("{} runs{warm} per model", count(r)));
    }
    fact(h, "Method", method.join(" · "), "")?;
    h.push_str("</dl>");
    Ok(())
}

/// The recommendation in a verdict box, with the pick picked out.
fn pick(h: &mut String, llm: &Value) -> fmt::Result {
    let rec = text(llm, "/recommendation").unwrap_or("");
    match text(llm, "/pick") {
        Some(p) => {
            let name = esc(p);
            let rec = esc(rec).replacen(&name, &format!("<strong>{name}</strong>"), 1);
            write!(
                h,
                r#"<div class="verdict good"><span class="big">Run {name}</span><span>{rec}</span></div>"#
            )
        }
        None => write!(
            h,
            r#"<div class="verdict bad"><span class="big">Nothing fits</span><span>{}</span></div>"#,
            esc(rec.strip_prefix("nothing fits: ").unwrap_or(rec))
        ),
    }
}

/// One row per model and its headroom beneath it.
fn scorecard(h: &mut String, llm: &Value, models: &[Value]) -> fmt::Result {
    let floor = num(llm, "/budgets/min_decode_p10");
    let budget_ms = num(llm, "/budgets/max_ttft_p95_s").map(|s| s * 1000.0);
    h.push_str(
        r#"<h3>Scorecard</h3><div class="scroll"><table class="scorecard"><thead><tr><th>model</th><th>params</th><th>quant</th><th>where</th><th class="num">load</th><th class="num">TTFT<br>p50 / p95</th><th class="num">decode tok/s<br>p50 / p10</th><th class="num">server<br>tok/s</th><th class="num">prefill<br>tok/s</th><th class="num">E2E<br>p95</th><th class="num">server<br>RSS max</th><th class="num">GPU<br>memory</th><th class="num">quality</th><th class="num">errors</th><th>verdict</th></tr></thead>"#,
    );
    let picked = text(llm, "/pick");
    for m in models {
        let is_pick = picked.is_some_and(|p| p == name(m));
        write!(
            h,
            r#"<tbody class="model{}"><tr><td class="nowrap"><strong>{}</strong></td><td>{}</td><td>{}</td><td class="nowrap">{}</td>"#,
            if is_pick { " pick" } else { "" },
            esc(name(m)),
            esc(text(m, "/params").unwrap_or("–")),
            esc(text(m, "/quant").unwrap_or("–")),
            esc(text(m, "/processor").unwrap_or("–")),
        )?;
        match (num(m, "/load_ms"), num(m, "/cold_ttft_ms")) {
            (Some(l), _) => write!(h, r#"<td class="num">{}</td>"#, ms(l))?,
            (None, Some(c)) => write!(
                h,
                r#"<td class="num" title="the first token of a cold request: the server does not report its load time">≈ {}</td>"#,
                ms(c)
            )?,
            (None, None) => h.push_str(r#"<td class="num">–</td>"#),
        }
        let p95 = num(m, "/ttft_ms/p95");
        let slow = matches!((p95, budget_ms), (Some(t), Some(b)) if t > b);
        write!(
            h,
            r#"<td class="num{}">{}</td>"#,
            if slow { " bad" } else { "" },
            ms_pair(num(m, "/ttft_ms/p50"), p95),
        )?;
        let p10 = num(m, "/decode_tokens_per_s/p10");
        let below = matches!((p10, floor), (Some(d), Some(f)) if d < f);
        write!(
            h,
            r#"<td class="num{}">{} / {}</td>"#,
            if below { " bad" } else { "" },
            or_dash(num(m, "/decode_tokens_per_s/p50"), rate),
            or_dash(p10, rate)
        )?;
        let gpu = num(m, "/gpu_mem_bytes_max").or_else(|| num(m, "/vram_bytes").filter(|v| *v > 0.0));
        let (requests, errors) = (num(m, "/requests").unwrap_or(0.0), num(m, "/errors").unwrap_or(0.0));
        let quality = match (num(m, "/quality/passed"), num(m, "/quality/total")) {
            (Some(p), Some(t)) => {
                let class = if p < t { " bad" } else { "" };
                format!(r#"<td class="num{class}">{} / {}</td>"#, count(p), count(t))
            }
            _ => r#"<td class="num">–</td>"#.into(),
        };
        let (word, class) = verdict(m);
        write!(
            h,
            r#"<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>{quality}<td class="num{}">{} / {}</td><td class="nowrap"><span class="badge {class}">{word}</span></td></tr>"#,
            or_dash(num(m, "/server_decode_tokens_per_s"), rate),
            or_dash(num(m, "/prompt_tokens_per_s"), rate),
            or_dash(num(m, "/e2e_ms/p95"), ms),
            or_dash(num(m, "/server_rss_bytes_max"), format_bytes),
            or_dash(gpu, format_bytes),
            if errors > 0.0 { " bad" } else { "" },
            count(errors),
            count(requests),
        )?;
        if let Some(s) = text(m, "/headroom") {
            let misses = text(m, "/verdict") == Some("nothing_fits");
            write!(
                h,
                r#"<tr class="headroom{}"><td colspan="15">{}</td></tr>"#,
                if misses { " misses" } else { "" },
                esc(s)
            )?;
        }
        h.push_str("</tbody>");
    }
    h.push_str("</table></div>");
    h.push_str(r#"<p class="muted small">TTFT: time to the first token. Decode: tokens after the first over the time from the first to the last, measured here; <em>server</em> is the rate the server reports. Prefill: the prompt rate the server reports. <em>Where</em>: the share of the loaded model in CPU and GPU memory.</p>"#);
    Ok(())
}

/// Every quality check per model, with the answer it was judged on.
fn quality(h: &mut String, models: &[Value]) -> fmt::Result {
    if models.iter().all(|m| arr(m, "/quality/checks").is_empty()) {
        return Ok(());
    }
    h.push_str(r#"<section id="llm-quality"><h2>Quality checks</h2><div class="qgrid">"#);
    for m in models {
        let checks = arr(m, "/quality/checks");
        if checks.is_empty() {
            continue;
        }
        let (p, t) = (
            num(m, "/quality/passed").unwrap_or(0.0),
            num(m, "/quality/total").unwrap_or(checks.len() as f64),
        );
        write!(
            h,
            r#"<div class="qmodel"><h3 class="model">{} <span class="badge {}">{} / {} passed</span></h3>"#,
            esc(name(m)),
            if p >= t { "pass" } else { "fail" },
            count(p),
            count(t)
        )?;
        for c in checks {
            let pass = c.get("passed").and_then(Value::as_bool).unwrap_or(false);
            let answer = text(c, "/answer").unwrap_or("");
            let answer = if answer.is_empty() {
                r#"<span class="muted">(no answer)</span>"#.to_string()
            } else {
                esc(answer)
            };
            write!(
                h,
                r#"<div class="qcheck{}"><div class="qhead"><code>{}</code>{}<span class="qdetail">{}</span></div><details><summary>answer</summary><pre class="answer">{answer}</pre></details></div>"#,
                if pass { "" } else { " failed" },
                esc(text(c, "/name").unwrap_or("?")),
                super::badge(pass),
                esc(text(c, "/detail").unwrap_or("")),
            )?;
        }
        h.push_str("</div>");
    }
    h.push_str("</div></section>");
    Ok(())
}

/// Each model's warnings and its first failed requests.
fn model_notes(h: &mut String, models: &[Value]) -> fmt::Result {
    h.push_str(r#"<section id="llm-notes"><h2>Warnings and errors</h2>"#);
    for m in models {
        let (warnings, errors) = (arr(m, "/warnings"), arr(m, "/error_examples"));
        if warnings.is_empty() && errors.is_empty() {
            continue;
        }
        write!(h, r#"<h3 class="model">{}</h3><ul class="modelnotes">"#, esc(name(m)))?;
        for w in warnings {
            write!(
                h,
                r#"<li><span class="chip">note</span>{}</li>"#,
                esc(w.as_str().unwrap_or(""))
            )?;
        }
        for e in errors {
            write!(
                h,
                r#"<li><span class="chip bad">error</span><code class="long">{}</code></li>"#,
                esc(e.as_str().unwrap_or(""))
            )?;
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{ReportInputs, write_report};

    fn page(doc: &Value, samples: Option<&str>) -> String {
        let mut out = Vec::new();
        let inputs = ReportInputs {
            doc,
            samples_csv: samples,
            timeline_csv: None,
            flame: None,
            heap: None,
            notes: &[],
        };
        write_report(&mut out, &inputs).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn level(c: u64, tps: f64, p95: f64) -> Value {
        json!({"concurrency": c, "requests": 4, "errors": 0, "output_tokens_per_s": tps,
               "ttft_ms": {"p50": p95 * 0.8, "p95": p95}, "e2e_ms": {"p50": 300.0, "p95": 400.0}})
    }

    fn model(name: &str, params: &str, decode: f64, ttft: f64, verdict: &str, headroom: &str) -> Value {
        json!({
            "model": name, "params": params, "quant": "Q4_K_M", "family": "llama", "size_bytes": 2019393189u64,
            "load_ms": 151.2, "cold_ttft_ms": 160.0, "cold_e2e_ms": 600.0,
            "ttft_ms": {"p50": ttft * 0.9, "p95": ttft}, "e2e_ms": {"p50": 440.0, "p95": 445.0},
            "decode_tokens_per_s": {"p50": decode, "p10": decode * 0.97, "min": decode * 0.95},
            "server_decode_tokens_per_s": decode * 1.01, "prompt_tokens_per_s": 1408.0,
            "itl_ms": {"p50": 8.3, "p95": 9.1}, "output_tokens_mean": 48.0, "tokens_approximate": false,
            "server_rss_bytes_max": 94490624u64, "server_cpu_percent_mean": 97.5, "gpu_mem_bytes_max": null,
            "loaded_bytes": 2147483648u64, "vram_bytes": 0, "processor": "100% CPU",
            "requests": 7, "errors": 0, "error_examples": [],
            "concurrency": [level(1, decode * 0.9, ttft), level(2, decode * 0.95, ttft * 8.0)],
            "quality": {"passed": 2, "total": 3, "checks": [
                {"name": "arithmetic", "passed": true, "detail": "", "answer": "3 + 2 - 1 = 4, so you have 4 apples."},
                {"name": "release_note", "passed": true, "detail": "", "answer": "Faster dashboards. Bugs fixed."},
                {"name": "json_object", "passed": false, "detail": "extra key \"priority\" (only title, risks, owner)",
                 "answer": "{\"title\": \"Upgrade\", \"priority\": \"high\"}"}
            ]},
            "warnings": [], "verdict": verdict, "headroom": headroom
        })
    }

    fn llm_doc() -> Value {
        let mut big = model(
            "big:8b",
            "8.0B",
            6.2,
            2400.0,
            "go_smaller",
            "TTFT p95 2.4 s > budget 2 s",
        );
        big["errors"] = json!(1);
        big["error_examples"] = json!(["an error was encountered while running the model"]);
        big["warnings"] =
            json!(["1 run(s) stopped on their own after fewer than 16 tokens: decode rates from them are rough"]);
        big["gpu_mem_bytes_max"] = json!(5368709120u64);
        big["processor"] = json!("42%/58% CPU/GPU");
        json!({
            "schema": "loadprof.result/v1",
            "tool": {"name": "loadprof", "version": "0.1.0"},
            "run": {"profile": null, "started_at": "2026-12-01T20:24:25.436+00:00", "ended_at": "2026-12-01T20:24:55.939+00:00",
                    "duration_s": 30.5, "outcome": "completed",
                    "host": {"cpus": 16, "mem_bytes": 68719476736u64, "os": "Debian GNU/Linux 12"}},
            "resources": {"pids": [812], "interval_ms": 200.0, "samples": 3,
                          "rss_bytes": {"min": 41496576, "mean": 151354883, "max": 170545152, "last": 170545152},
                          "target": {"pid": 812, "command": "ollama serve", "owned": false, "exit": null}},
            "llm": {
                "endpoint": "http://127.0.0.1:11434", "api": "ollama", "server_version": "0.33.0",
                "host": {"cpu": "AMD EPYC 7763", "cores": 16, "mem_bytes": 68719476736u64,
                         "gpu": "NVIDIA L4 (22.49 GiB)", "load_avg": [0.42, 0.37, 0.30]},
                "use_case": "interactive",
                "budgets": {"use_case": "interactive", "min_decode_p10": 10.0, "max_ttft_p95_s": 2.0, "max_error_rate": 0.01,
                            "min_ram_headroom": 0.2, "quality_margin": 0.1, "min_quality": null},
                "prompts": 1, "max_tokens": 128, "runs": 5, "warmup": 1,
                "models": [
                    model("tiny:1b", "1.2B", 322.5, 24.4, "go_bigger", "decode p10 is 32× the floor; ample headroom"),
                    model("mid:3b", "3.2B", 120.5, 54.2, "keep", "decode p10 is 12× the floor; ample headroom"),
                    big
                ],
                "pick": "mid:3b",
                "recommendation": "run mid:3b: the best quality (2/3 checks) of the models that meet the interactive budgets",
                "warnings": ["the machine was busy when the benchmark started"]
            },
            "passed": true
        })
    }

    const SAMPLES: &str =
        "elapsed_s,rss_bytes,cpu_percent,threads\n0.0,41496576,,1\n0.2,62713856,18.7,1\n0.4,90000000,30.0,1\n";

    #[test]
    fn an_llm_run_renders_every_part_and_leaves_out_what_it_never_took() {
        let html = page(&llm_doc(), Some(SAMPLES));
        assert!(html.contains(r#"<header class="banner pass">"#));
        assert!(html.contains("<h1>LLM benchmark: 3 models for interactive use</h1>"));
        for id in [
            "llm",
            "llm-speed",
            "llm-concurrency",
            "llm-quality",
            "llm-notes",
            "resources",
        ] {
            assert!(html.contains(&format!(r#"<section id="{id}">"#)), "{id}");
            assert!(html.contains(&format!(r##"<a href="#{id}">"##)), "nav to {id}");
        }
        for absent in ["summary", "checks", "load", "endpoints", "memory", "flame"] {
            assert!(!html.contains(&format!(r#"<section id="{absent}">"#)), "{absent}");
        }
        assert!(!html.contains("not sampled") && !html.contains("No load was driven"));
        // The header: host, server, use and budgets.
        for fact in [
            "AMD EPYC 7763 · 16 cores · 64.00 GiB RAM",
            "NVIDIA L4 (22.49 GiB)",
            "0.42 · 0.37 · 0.30",
            "Ollama 0.33.0 at <code>http://127.0.0.1:11434</code>",
            "<strong>interactive</strong>: decode p10 ≥ 10 tok/s, TTFT p95 ≤ 2 s, errors ≤ 1 %",
            "1 prompt · ≤ 128 output tokens · 5 runs + 1 warm-up per model",
        ] {
            assert!(html.contains(fact), "{fact}");
        }
        // The pick, picked out.
        assert!(html.contains(r#"<div class="verdict good"><span class="big">Run mid:3b</span>"#));
        assert!(html.contains("run <strong>mid:3b</strong>: the best quality"));
        assert!(html.contains("the machine was busy"));
        // The scorecard.
        assert!(html.contains(r#"<tbody class="model pick">"#));
        assert!(html.contains(r#"<span class="badge pass">KEEP</span>"#));
        assert!(html.contains(r#"<span class="badge warn">GO BIGGER</span>"#));
        assert!(html.contains(r#"<span class="badge warn">GO SMALLER</span>"#));
        assert!(
            html.contains("22.0 / 24.4 ms") && html.contains("322 / 313"),
            "TTFT and decode pairs"
        );
        assert!(
            html.contains(r#"<td class="num bad">2.16 / 2.40 s</td>"#),
            "TTFT over budget"
        );
        assert!(
            html.contains(r#"<td class="num bad">6.2 / 6.0</td>"#),
            "decode under the floor"
        );
        assert!(html.contains("151 ms") && html.contains("1408") && html.contains("445 ms"));
        assert!(html.contains("90.11 MiB") && html.contains("5.00 GiB") && html.contains("42%/58% CPU/GPU"));
        assert!(
            html.contains(r#"<td class="num bad">2 / 3</td>"#) && html.contains(r#"<td class="num bad">1 / 7</td>"#)
        );
        assert!(html.contains("decode p10 is 12× the floor; ample headroom"));
        // The charts: bars with the floor and the budget, and the curves.
        assert!(html.contains("floor 10 tok/s (p10)") && html.contains("budget 2 s"));
        assert_eq!(
            html.matches("<rect x=").count(),
            9,
            "two decode bars and one TTFT bar per model"
        );
        assert!(html.contains(">×1</text>") && html.contains(">×2</text>"));
        assert!(
            html.contains("mid:3b ×2: 114 tok/s"),
            "a point of the curve has its tooltip"
        );
        // Quality, with each answer folded away.
        assert_eq!(html.matches("<details><summary>answer</summary>").count(), 9);
        assert!(html.contains("{&quot;title&quot;: &quot;Upgrade&quot;, &quot;priority&quot;: &quot;high&quot;}"));
        assert!(html.contains("extra key &quot;priority&quot; (only title, risks, owner)"));
        // Warnings and errors.
        assert!(html.contains("decode rates from them are rough"));
        assert!(html.contains(r#"<code class="long">an error was encountered while running the model</code>"#));
        assert!(html.contains("<h2>Server resources</h2>") && html.contains("Server pid 812"));
        assert!(!html.contains("NaN") && !html.contains("inf<"));
    }

    #[test]
    fn hostile_model_names_and_answers_are_escaped() {
        const HOSTILE: &str = "<script>alert(1)</script>";
        const QUOTES: &str = "\"&'<>";
        let mut doc = llm_doc();
        let l = &mut doc["llm"];
        l["models"][0]["model"] = json!(HOSTILE);
        l["models"][1]["model"] = json!(format!("m{QUOTES}"));
        l["pick"] = json!(format!("m{QUOTES}"));
        l["recommendation"] = json!(format!("run m{QUOTES}: {HOSTILE}"));
        l["endpoint"] = json!(format!("http://x/{HOSTILE}"));
        l["server_version"] = json!(QUOTES);
        l["host"]["cpu"] = json!(HOSTILE);
        l["host"]["gpu"] = json!(QUOTES);
        l["warnings"] = json!([HOSTILE]);
        let m = &mut l["models"][2];
        m["params"] = json!(HOSTILE);
        m["quant"] = json!(QUOTES);
        m["processor"] = json!(HOSTILE);
        m["headroom"] = json!(HOSTILE);
        m["warnings"] = json!([QUOTES]);
        m["error_examples"] = json!([HOSTILE]);
        m["quality"]["checks"][0] = json!({"name": HOSTILE, "passed": false, "detail": QUOTES,
            "answer": format!("</pre></details>{HOSTILE}<img src=x onerror=alert(1)>{QUOTES}")});
        let html = page(&doc, None);
        assert!(!html.contains(HOSTILE), "raw <script> in the page");
        assert!(!html.contains(QUOTES), "raw quotes in the page");
        assert_eq!(html.matches("<script").count(), 0);
        assert!(!html.contains("<img"), "a tag in an answer stays text");
        assert!(html.contains("&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;"));
        assert!(html.contains("run <strong>m&quot;&amp;&#39;&lt;&gt;</strong>: &lt;script&gt;"));
        assert!(html.contains(r#"<span class="big">Run m&quot;&amp;&#39;&lt;&gt;</span>"#));
    }

    #[test]
    fn a_model_without_measurements_and_an_empty_section_do_not_panic() {
        let empty = json!({
            "model": "ghost:70b", "params": null, "quant": null, "family": null, "size_bytes": null, "load_ms": null,
            "cold_ttft_ms": null, "cold_e2e_ms": null, "ttft_ms": null, "e2e_ms": null, "decode_tokens_per_s": null,
            "server_decode_tokens_per_s": null, "prompt_tokens_per_s": null, "itl_ms": null, "output_tokens_mean": null,
            "tokens_approximate": false, "server_rss_bytes_max": null, "gpu_mem_bytes_max": null, "loaded_bytes": null,
            "vram_bytes": null, "processor": null, "requests": 0, "errors": 0, "error_examples": [], "concurrency": [],
            "quality": null, "warnings": [], "verdict": null, "headroom": null
        });
        let mut doc = llm_doc();
        doc["llm"]["models"] = json!([empty, {}, {"model": null, "concurrency": [{}, {"concurrency": "x"}],
            "quality": {"checks": [{}]}, "ttft_ms": {"p95": "NaN"}}]);
        doc["llm"]["pick"] = Value::Null;
        doc["llm"]["recommendation"] = json!("nothing fits: every model misses");
        doc["llm"]["host"] = json!({"cpu": null, "cores": null, "mem_bytes": null, "gpu": null, "load_avg": null});
        doc["llm"]["budgets"] = Value::Null;
        doc["passed"] = json!(false);
        let html = page(&doc, None);
        assert!(html.ends_with("</html>"));
        assert!(html.contains(r#"<span class="big">Nothing fits</span><span>every model misses</span>"#));
        assert!(html.contains("<strong>ghost:70b</strong>"));
        assert!(html.contains(r#"<span class="badge none">no verdict</span>"#));
        assert!(html.contains("no data"), "the charts say there is nothing to draw");
        assert!(!html.contains("NaN") && !html.contains("inf<"), "no unprintable number");
        for llm in [
            json!({}),
            json!({"models": "not a list"}),
            json!({"models": [null, 3, "x"]}),
        ] {
            let mut doc = llm_doc();
            doc["llm"] = llm;
            let html = page(&doc, None);
            assert!(html.ends_with("</html>") && html.contains(r#"<section id="llm">"#));
        }
    }

    #[test]
    fn beside_load_the_models_are_one_more_section() {
        let mut doc = llm_doc();
        doc["load"] = json!({"model": "closed", "totals": {"requests": 10, "errors": 0}});
        let html = page(&doc, None);
        for id in ["summary", "checks", "load", "endpoints", "llm", "memory", "flame"] {
            assert!(html.contains(&format!(r#"<section id="{id}">"#)), "{id}");
        }
        assert!(html.contains("<h2>Resources</h2>"));
    }
}
