//! The report's frame and its verdicts: the page's head, the banner with
//! what failed, the navigation, the summary cards, and the SLO and
//! baseline tables. A model benchmark alone (`llm` without `load`) leaves
//! out the sections it never takes rather than naming each one missing.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::{
    CSS, Columns, Flame, ReportInputs, SLOW_P95_MS, arr, badge, count, duration, esc, format_bytes, has, ms, num, pct,
    show, text, trim_num, verdict_word, when, window,
};

/// One run's report as it is drawn: the result, the series read from the
/// CSVs beside it, and where the phases of the run sat on its clock.
pub(super) struct Report<'a> {
    pub(super) doc: &'a Value,
    pub(super) samples: Option<Columns>,
    pub(super) timeline: Option<Columns>,
    pub(super) flame: Option<Flame<'a>>,
    pub(super) heap_graph: Option<Flame<'a>>,
    /// Why files beside the result were not read.
    pub(super) notes: &'a [String],
    pub(super) load_window: Option<(f64, f64)>,
    pub(super) flame_window: Option<(f64, f64)>,
    pub(super) heap_window: Option<(f64, f64)>,
    /// Where timeline.csv's clock starts on the samples' clock.
    pub(super) timeline_offset: f64,
    /// The x span every chart over time shares, so they line up.
    pub(super) span: Option<(f64, f64)>,
}

const SAMPLE_COLUMNS: [&str; 5] = ["elapsed_s", "rss_bytes", "cpu_percent", "threads", "gpu_mem_bytes"];
const TIMELINE_COLUMNS: [&str; 7] = ["elapsed_s", "requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms"];

impl<'a> Report<'a> {
    pub(super) fn new(inputs: &ReportInputs<'a>) -> Report<'a> {
        let doc = inputs.doc;
        let metric = text(doc, "/leak/metric").filter(|m| !SAMPLE_COLUMNS.contains(m));
        let mut wanted: Vec<&str> = SAMPLE_COLUMNS.to_vec();
        wanted.extend(metric);
        let samples = inputs.samples_csv.map(|t| Columns::parse(t, &wanted));
        let timeline = inputs.timeline_csv.map(|t| Columns::parse(t, &TIMELINE_COLUMNS));
        let load_window = window(doc, "/run/windows/load");
        let flame_window = window(doc, "/run/windows/flame");
        let heap_window = window(doc, "/heap/window_s");
        let timeline_offset = load_window.map_or(0.0, |w| w.0);
        let mut ends: Vec<f64> = Vec::new();
        ends.extend(num(doc, "/run/windows/end_s"));
        if let Some(xs) = samples.as_ref().and_then(|s| s.get("elapsed_s")) {
            ends.extend(xs.iter().copied().filter(|x| x.is_finite()).reduce(f64::max));
        }
        if let Some(xs) = timeline.as_ref().and_then(|s| s.get("elapsed_s")) {
            ends.extend(
                xs.iter()
                    .copied()
                    .filter(|x| x.is_finite())
                    .reduce(f64::max)
                    .map(|x| x + 1.0 + timeline_offset),
            );
        }
        ends.extend(load_window.map(|w| w.1));
        let span = ends.into_iter().reduce(f64::max).filter(|e| *e > 0.0).map(|e| (0.0, e));
        Report {
            doc,
            samples,
            timeline,
            flame: inputs.flame,
            heap_graph: inputs.heap,
            notes: inputs.notes,
            load_window,
            flame_window,
            heap_window,
            timeline_offset,
            span,
        }
    }

    fn title(&self) -> String {
        if let Some(p) = text(self.doc, "/run/profile").filter(|p| !p.trim().is_empty()) {
            return p.to_string();
        }
        if let Some(t) = self.llm_title().filter(|_| self.llm_only()) {
            return t;
        }
        text(self.doc, "/resources/target/command")
            .filter(|c| !c.trim().is_empty())
            .unwrap_or("loadprof run")
            .to_string()
    }

    pub(super) fn write(&self, h: &mut String) -> fmt::Result {
        let title = self.title();
        let status = match self.doc.get("passed").and_then(Value::as_bool) {
            Some(true) => "passed",
            Some(false) => "failed",
            None => "no verdict",
        };
        write!(
            h,
            r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="loadprof"><title>{} — {status} · loadprof</title><style>{CSS}</style></head><body>"#,
            esc(&title)
        )?;
        self.banner(h, &title)?;
        let only_llm = self.llm_only();
        let d = self.doc;
        // Without load, a model benchmark shows the sections it took.
        let slo = !only_llm || !arr(d, "/slo").is_empty() || has(d, "/baseline");
        let resources = !only_llm || has(d, "/resources") || self.samples.is_some();
        let leak = !only_llm || has(d, "/leak") || has(d, "/heap");
        let flame = !only_llm || has(d, "/flame") || self.flame.is_some();
        let mut nav: Vec<(&str, &str)> = Vec::new();
        if !only_llm {
            nav.push(("summary", "Summary"));
        }
        if slo {
            nav.push(("checks", "SLOs &amp; baseline"));
        }
        nav.extend(self.llm_nav());
        if !only_llm {
            nav.push(("load", "Load"));
            if self.has_journeys() {
                nav.push(("journeys", "Journeys"));
            }
            nav.push(("endpoints", "Endpoints"));
            if self.has_server_metrics() {
                nav.push(("server", "Server metrics"));
            }
        }
        if resources {
            nav.push(("resources", if only_llm { "Server resources" } else { "Resources" }));
        }
        if leak {
            nav.push(("memory", "Memory"));
        }
        if flame {
            nav.push(("flame", "Flame graph"));
        }
        h.push_str(r#"<nav><div class="wrap">"#);
        for (id, label) in nav {
            write!(h, "<a href=\"#{id}\">{label}</a>")?;
        }
        h.push_str(r#"</div></nav><main class="wrap">"#);
        if !self.notes.is_empty() {
            h.push_str(r#"<div class="callout warn"><strong>Files beside the result that were left out:</strong><ul class="notes">"#);
            for n in self.notes {
                write!(h, "<li>{}</li>", esc(n))?;
            }
            h.push_str("</ul></div>");
        }
        if !only_llm {
            self.summary(h)?;
        }
        if slo {
            self.checks(h)?;
        }
        self.llm(h)?;
        if !only_llm {
            self.load(h)?;
            self.journeys(h)?;
            self.endpoints(h)?;
            self.server_metrics(h)?;
        }
        if resources {
            self.resources(h)?;
        }
        if leak {
            self.memory(h)?;
        }
        if flame {
            self.flame(h)?;
        }
        write!(
            h,
            r#"</main><footer class="wrap">Written by {} {} · {} · run clock: seconds from the start of the run</footer></body></html>"#,
            esc(text(self.doc, "/tool/name").unwrap_or("loadprof")),
            esc(text(self.doc, "/tool/version").unwrap_or("")),
            esc(text(self.doc, "/schema").unwrap_or("result.json")),
        )?;
        Ok(())
    }

    fn banner(&self, h: &mut String, title: &str) -> fmt::Result {
        let doc = self.doc;
        let (class, word, icon) = match doc.get("passed").and_then(Value::as_bool) {
            Some(true) => ("pass", "Passed", "✓"),
            Some(false) => ("fail", "Failed", "✗"),
            None => ("unknown", "No verdict", "?"),
        };
        write!(
            h,
            r#"<header class="banner {class}"><div class="wrap"><div class="status"><span class="icon">{icon}</span>{word}</div><h1>{}</h1><div class="sub">"#,
            esc(title)
        )?;
        let mut facts: Vec<String> = Vec::new();
        if let Some(t) = text(doc, "/run/started_at") {
            facts.push(format!("started {}", esc(&when(t))));
        }
        if let Some(d) = num(doc, "/run/duration_s") {
            facts.push(duration(d));
        }
        if let Some(model) = text(doc, "/load/model") {
            let rate = num(doc, "/load/target_rate").map(|r| format!(" at {}/s", trim_num(r)));
            let workers = num(doc, "/load/workers")
                .filter(|w| *w > 0.0 && model == "closed")
                .map(|w| format!(", {} users", count(w)));
            facts.push(format!(
                "{} model{}{}",
                esc(model),
                rate.unwrap_or_default(),
                workers.unwrap_or_default()
            ));
        }
        facts.extend(self.llm_fact());
        if let Some(host) = doc.pointer("/run/host") {
            let mut parts = Vec::new();
            if let Some(c) = num(host, "/cpus") {
                parts.push(format!("{} CPUs", count(c)));
            }
            if let Some(m) = num(host, "/mem_bytes") {
                parts.push(format_bytes(m));
            }
            if let Some(os) = text(host, "/os") {
                parts.push(esc(os));
            }
            if !parts.is_empty() {
                facts.push(parts.join(", "));
            }
        }
        h.push_str(&facts.join(" · "));
        h.push_str("</div>");
        let outcome = text(doc, "/run/outcome").unwrap_or("completed");
        if outcome != "completed" {
            let what = match outcome {
                "interrupted" => "The run was interrupted (Ctrl-C or SIGTERM); what was measured so far is shown.",
                "target_exited" => "The target exited during the run; what was measured until then is shown.",
                "failed" => "The run could not be carried out.",
                _ => "The run ended early.",
            };
            write!(
                h,
                r#"<div class="outcome"><strong>{}</strong> — {what}"#,
                esc(&outcome.replace('_', " "))
            )?;
            if let Some(r) = text(doc, "/run/reason") {
                write!(h, r#"<div class="reason">{}</div>"#, esc(r))?;
            }
            h.push_str("</div>");
        } else if let Some(r) = text(doc, "/run/reason") {
            write!(h, r#"<div class="outcome"><div class="reason">{}</div></div>"#, esc(r))?;
        }
        let failures = self.failures();
        if !failures.is_empty() {
            h.push_str(r#"<ul class="why">"#);
            for f in &failures {
                write!(h, "<li>{f}</li>")?;
            }
            h.push_str("</ul>");
        }
        h.push_str("</div></header>");
        Ok(())
    }

    /// What failed, one escaped line each.
    fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in arr(self.doc, "/slo") {
            if s.get("pass").and_then(Value::as_bool) == Some(false) {
                out.push(format!(
                    "SLO <code>{}</code> {}: observed {}",
                    esc(text(s, "/name").unwrap_or("?")),
                    esc(text(s, "/expr").unwrap_or("")),
                    esc(&show(num(s, "/observed"), text(s, "/unit").unwrap_or("")))
                ));
            }
        }
        for c in arr(self.doc, "/baseline/comparisons") {
            if c.get("pass").and_then(Value::as_bool) == Some(false) {
                let metric = text(c, "/metric").unwrap_or("?");
                out.push(format!(
                    "<code>{}</code> regressed {} against the baseline (allowed {})",
                    esc(metric),
                    num(c, "/change_pct").map_or("–".into(), |p| format!("{p:+.1}%")),
                    num(c, "/allowed_pct").map_or("–".into(), |p| format!("{}%", trim_num(p)))
                ));
            }
        }
        if text(self.doc, "/leak/verdict") == Some("leak") {
            out.push(format!(
                "memory leak: {} grows by {}",
                esc(text(self.doc, "/leak/metric").unwrap_or("rss_bytes")),
                num(self.doc, "/leak/slope_bytes_per_s").map_or("–".into(), |s| show(Some(s), "bytes_per_s"))
            ));
        }
        self.llm_failures(&mut out);
        out
    }

    fn summary(&self, page: &mut String) -> fmt::Result {
        let d = self.doc;
        page.push_str(r#"<section id="summary"><h2>Summary</h2>"#);
        let mut cards = String::new();
        let h = &mut cards;
        let kpi = |h: &mut String, label: &str, value: String, note: String, class: &str| {
            write!(
                h,
                r#"<div class="kpi {class}"><div class="label">{label}</div><div class="value">{value}</div><div class="note">{note}</div></div>"#
            )
        };
        if has(d, "/load") {
            let req = num(d, "/load/totals/requests").unwrap_or(0.0);
            let errors = num(d, "/load/totals/errors").unwrap_or(0.0);
            kpi(
                h,
                "Requests",
                count(req),
                format!("{} errors", count(errors)),
                if errors > 0.0 { "warn" } else { "" },
            )?;
            kpi(
                h,
                "Throughput",
                num(d, "/load/totals/rps").map_or("–".into(), |r| format!("{r:.1}/s")),
                num(d, "/load/target_rate")
                    .map_or("requests per second".into(), |r| format!("target {}/s", trim_num(r))),
                "",
            )?;
            let sr = num(d, "/load/totals/success_rate");
            kpi(
                h,
                "Success rate",
                sr.map_or("–".into(), pct),
                format!("{} ok", count(num(d, "/load/totals/ok").unwrap_or(0.0))),
                if sr.is_some_and(|s| s < 0.99) { "warn" } else { "" },
            )?;
            let p95 = num(d, "/load/latency/p95_ms");
            kpi(
                h,
                "Latency p95",
                p95.map_or("–".into(), ms),
                format!(
                    "p50 {} · p99 {}",
                    num(d, "/load/latency/p50_ms").map_or("–".into(), ms),
                    num(d, "/load/latency/p99_ms").map_or("–".into(), ms)
                ),
                if p95.is_some_and(|p| p > SLOW_P95_MS) {
                    "warn"
                } else {
                    ""
                },
            )?;
        }
        if has(d, "/resources") {
            if let Some(max) = num(d, "/resources/rss_bytes/max") {
                let note =
                    num(d, "/resources/rss_bytes/last").map_or(String::new(), |l| format!("last {}", format_bytes(l)));
                kpi(h, "Peak RSS", format_bytes(max), note, "")?;
            }
            if let Some(mean) = num(d, "/resources/cpu_percent/mean") {
                let note = num(d, "/resources/cpu_percent/max").map_or(String::new(), |m| format!("peak {m:.0}%"));
                kpi(h, "CPU mean", format!("{mean:.1}%"), note, "")?;
            }
            if let Some(max) = num(d, "/resources/threads/max") {
                kpi(h, "Threads peak", count(max), "threads".into(), "")?;
            }
        }
        if let Some(v) = text(d, "/leak/verdict") {
            let (word, class) = verdict_word(v);
            let slope = num(d, "/leak/slope_bytes_per_s").map_or(String::new(), |s| show(Some(s), "bytes_per_s"));
            kpi(h, "Memory", word.into(), format!("trend {slope}"), class)?;
        }
        let slo = arr(d, "/slo");
        if !slo.is_empty() {
            let ok = slo
                .iter()
                .filter(|s| s.get("pass").and_then(Value::as_bool) == Some(true))
                .count();
            let class = if ok == slo.len() { "good" } else { "bad" };
            kpi(
                h,
                "SLOs met",
                format!("{ok} / {}", slo.len()),
                "service level objectives".into(),
                class,
            )?;
        }
        let h = page;
        if cards.is_empty() {
            h.push_str(r#"<p class="empty">This result has no load, resource or leak sections.</p>"#);
        } else {
            write!(h, r#"<div class="kpis">{cards}</div>"#)?;
        }
        h.push_str("</section>");
        Ok(())
    }

    fn checks(&self, h: &mut String) -> fmt::Result {
        h.push_str(r#"<section id="checks"><h2>SLOs and baseline</h2>"#);
        let slo = arr(self.doc, "/slo");
        if slo.is_empty() {
            h.push_str(r#"<p class="empty">No SLOs were set for this run.</p>"#);
        } else {
            h.push_str(r#"<table class="slo"><thead><tr><th>SLO</th><th>target</th><th class="num">observed</th><th>result</th></tr></thead><tbody>"#);
            for s in slo {
                let pass = s.get("pass").and_then(Value::as_bool).unwrap_or(false);
                write!(
                    h,
                    r#"<tr class="{}"><td><code>{}</code></td><td><code>{}</code></td><td class="num">{}</td><td>{}</td></tr>"#,
                    if pass { "" } else { "failrow" },
                    esc(text(s, "/name").unwrap_or("?")),
                    esc(text(s, "/expr").unwrap_or("")),
                    esc(&show(num(s, "/observed"), text(s, "/unit").unwrap_or(""))),
                    badge(pass)
                )?;
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("<h3>Against the baseline</h3>");
        match self.doc.get("baseline") {
            Some(b) if b.is_object() => {
                write!(
                    h,
                    r#"<p class="muted">Baseline <code>{}</code>"#,
                    esc(text(b, "/path").unwrap_or("?"))
                )?;
                if let Some(a) = num(b, "/allowed_pct") {
                    write!(h, "; a change for the worse of more than {}% fails", trim_num(a))?;
                }
                h.push_str(".</p>");
                let comps = arr(b, "/comparisons");
                if comps.is_empty() {
                    h.push_str(r#"<p class="empty">No metric was measured in both runs.</p>"#);
                } else {
                    h.push_str(r#"<table><thead><tr><th>metric</th><th class="num">before</th><th class="num">now</th><th class="num">change</th><th class="num">allowed</th><th>result</th></tr></thead><tbody>"#);
                    for c in comps {
                        let metric = text(c, "/metric").unwrap_or("?");
                        let unit = crate::report::verdicts::comparison_unit(metric);
                        let pass = c.get("pass").and_then(Value::as_bool).unwrap_or(false);
                        let change = num(c, "/change_pct");
                        write!(
                            h,
                            r#"<tr class="{}"><td><code>{}</code></td><td class="num">{}</td><td class="num">{}</td><td class="num {}">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                            if pass { "" } else { "failrow" },
                            esc(metric),
                            esc(&show(num(c, "/baseline"), unit)),
                            esc(&show(num(c, "/current"), unit)),
                            if pass { "" } else { "bad" },
                            change.map_or("–".into(), |p| format!("{p:+.1}%")),
                            num(c, "/allowed_pct").map_or("–".into(), |p| format!("{}%", trim_num(p))),
                            badge(pass)
                        )?;
                    }
                    h.push_str("</tbody></table>");
                }
            }
            _ => h.push_str(r#"<p class="empty">No baseline was given for this run.</p>"#),
        }
        h.push_str("</section>");
        Ok(())
    }
}
