//! The HTML report of one run (`report.html`) and the trend page across
//! stored runs: each one self-contained file (inline CSS and SVG charts,
//! the flame graph in a sandboxed frame; nothing fetched from a network).
//! Every text that came from the service, the target or the user is
//! escaped. Sections a run did not take are named as missing (a model
//! benchmark alone leaves them out), and odd data (NaN, empty or one-row
//! CSVs, missing columns, nulls) never panics.

mod capacity;
mod chart;
mod flame;
mod heap;
mod journeys;
mod llm;
mod llm_speed;
mod load;
mod page;
mod resources;
mod server;
mod trend;

use std::io;

use serde_json::Value;

use crate::config::units::format_bytes;
use crate::escape::html as esc;
use crate::report::verdicts::show;

pub use self::capacity::write_capacity;
pub use self::trend::write_trend;

/// What one report is drawn from: the result document and the files beside it.
pub struct ReportInputs<'a> {
    /// result.json
    pub doc: &'a serde_json::Value,
    /// samples.csv contents
    pub samples_csv: Option<&'a str>,
    /// timeline.csv contents
    pub timeline_csv: Option<&'a str>,
    /// The flame graph.
    pub flame: Option<Flame<'a>>,
    /// The heap profile's flame graph.
    pub heap: Option<Flame<'a>>,
    /// Why files beside the result were not read, shown at the top.
    pub notes: &'a [String],
}

/// A flame graph to show, and how far it is trusted.
#[derive(Debug, Clone, Copy)]
pub enum Flame<'a> {
    /// Drawn by loadprof (inferno) from folded stacks, every frame name
    /// escaped: shown interactive (zoom, search), its own script running
    /// in a sandboxed frame apart from the page.
    Drawn(&'a str),
    /// An SVG loadprof did not draw: shown as an image, in which browsers
    /// run no script.
    Image(&'a str),
}

impl<'a> Flame<'a> {
    fn svg(self) -> &'a str {
        match self {
            Flame::Drawn(s) | Flame::Image(s) => s,
        }
    }
}

/// Writes the report of one run.
pub fn write_report(out: &mut dyn io::Write, inputs: &ReportInputs<'_>) -> io::Result<()> {
    let graphs = inputs.flame.map_or(0, |f| f.svg().len()) + inputs.heap.map_or(0, |f| f.svg().len());
    let mut page = String::with_capacity(96 * 1024 + graphs * 7 / 5);
    // Writing into a String cannot fail.
    let _ = page::Report::new(inputs).write(&mut page);
    out.write_all(page.as_bytes())
}

const BLUE: &str = "#2563eb";
const INDIGO: &str = "#4f46e5";
const TEAL: &str = "#0d9488";
const VIOLET: &str = "#7c3aed";
const GREEN: &str = "#16a34a";
const AMBER: &str = "#d97706";
const RED: &str = "#dc2626";
const SLATE: &str = "#64748b";
const ORANGE: &str = "#ea580c";

/// A slow endpoint is one whose p95 exceeds this.
const SLOW_P95_MS: f64 = 1000.0;

/// A finite number at a JSON pointer.
fn num(v: &Value, ptr: &str) -> Option<f64> {
    v.pointer(ptr).and_then(Value::as_f64).filter(|x| x.is_finite())
}

fn text<'v>(v: &'v Value, ptr: &str) -> Option<&'v str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// Whether a JSON pointer holds an object (a section that was taken).
fn has(v: &Value, ptr: &str) -> bool {
    v.pointer(ptr).is_some_and(Value::is_object)
}

/// `1,606`
fn count(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < -0.5 { format!("-{out}") } else { out }
}

/// A latency for people: `0.42 ms`, `31.4 ms`, `316 ms`, `1.59 s`.
fn ms(v: f64) -> String {
    match v.abs() {
        v if !v.is_finite() => "–".into(),
        a if a < 10.0 => format!("{v:.2} ms"),
        a if a < 100.0 => format!("{v:.1} ms"),
        a if a < 1000.0 => format!("{v:.0} ms"),
        a if a < 60_000.0 => format!("{:.2} s", v / 1000.0),
        _ => duration(v / 1000.0),
    }
}

/// A span of seconds: `26.5 s`, `4m 12s`, `1h 02m`.
fn duration(s: f64) -> String {
    if !s.is_finite() {
        return "–".into();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let t = s.round() as u64;
    if t < 3600 {
        format!("{}m {:02}s", t / 60, t % 60)
    } else {
        format!("{}h {:02}m", t / 3600, t % 3600 / 60)
    }
}

fn pct(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// An RFC 3339 time, shorter: `2026-12-01 19:22:53`.
fn when(ts: &str) -> String {
    let ts = ts.replacen('T', " ", 1);
    match ts.find('.') {
        Some(dot) if dot >= 19 => ts[..dot].to_string(),
        _ => ts.chars().take(19).collect(),
    }
}

fn badge(pass: bool) -> &'static str {
    if pass {
        r#"<span class="badge pass">pass</span>"#
    } else {
        r#"<span class="badge fail">fail</span>"#
    }
}

/// The columns of a CSV with a header, read by name; an empty or
/// unreadable cell is NaN.
struct Columns {
    names: Vec<String>,
    cols: Vec<Vec<f64>>,
}

impl Columns {
    fn parse(text: &str, wanted: &[&str]) -> Columns {
        let mut lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .map(|h| h.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let present: Vec<(&str, usize)> = wanted
            .iter()
            .filter_map(|w| header.iter().position(|h| h == w).map(|i| (*w, i)))
            .collect();
        let mut cols = vec![Vec::new(); present.len()];
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            for (col, (_, i)) in cols.iter_mut().zip(&present) {
                let v = cells
                    .get(*i)
                    .and_then(|c| c.trim().parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                col.push(v);
            }
        }
        Columns {
            names: present.iter().map(|(w, _)| w.to_string()).collect(),
            cols,
        }
    }

    fn get(&self, name: &str) -> Option<&[f64]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.cols[i].as_slice())
    }

    fn rows(&self) -> usize {
        self.cols.first().map_or(0, Vec::len)
    }

    /// `(x + offset, y)` pairs of two columns, where both exist and the
    /// series has a finite value.
    fn series(&self, x: &str, y: &str, offset: f64) -> Option<Vec<(f64, f64)>> {
        let (xs, ys) = (self.get(x)?, self.get(y)?);
        if !ys.iter().any(|v| v.is_finite()) {
            return None;
        }
        Some(xs.iter().zip(ys).map(|(x, y)| (x + offset, *y)).collect())
    }
}

/// A `[from, to]` pair at a JSON pointer (a window of seconds, a
/// confidence interval), with `to` at least `from`.
fn window(v: &Value, ptr: &str) -> Option<(f64, f64)> {
    let a = v.pointer(ptr)?.as_array()?;
    let (from, to) = (a.first()?.as_f64()?, a.get(1)?.as_f64()?);
    (from.is_finite() && to.is_finite()).then_some((from, to.max(from)))
}

/// The elements of an array at a JSON pointer (none when it is missing).
fn arr<'v>(v: &'v Value, ptr: &str) -> &'v [Value] {
    v.pointer(ptr).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// `10` rather than `10.0`, `2.5` as it is.
fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn verdict_word(v: &str) -> (&'static str, &'static str) {
    match v {
        "leak" => ("Leak", "bad"),
        "no_leak" => ("No leak", "good"),
        _ => ("Inconclusive", "warn"),
    }
}

/// The pages' style sheet, inlined into each page.
const CSS: &str = include_str!("html/style.css");

/// The report's stylesheet, shared with the live page.
pub const STYLE: &str = CSS;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::flame::svg_attr;
    use super::*;
    use crate::report::verdicts::comparison_unit as metric_unit;

    fn page(doc: &Value, samples: Option<&str>, timeline: Option<&str>, flame: Option<&str>) -> String {
        let mut out = Vec::new();
        write_report(
            &mut out,
            &ReportInputs {
                doc,
                samples_csv: samples,
                timeline_csv: timeline,
                flame: flame.map(Flame::Drawn),
                heap: None,
                notes: &[],
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    const HOSTILE: &str = "<script>alert(1)</script>";
    const QUOTES: &str = "\"&'<>";

    fn full_doc() -> Value {
        json!({
            "schema": "loadprof.result/v1",
            "tool": {"name": "loadprof", "version": "0.1.0"},
            "run": {
                "profile": HOSTILE, "started_at": "2026-12-01T19:22:53.456+00:00",
                "ended_at": "2026-12-01T19:23:40.000+00:00", "duration_s": 46.5, "outcome": "interrupted",
                "host": {"cpus": 2, "mem_bytes": 25276059648u64, "os": format!("os {HOSTILE}")},
                "reason": format!("stopped: {QUOTES}"),
                "windows": {"ready_s": 1.0, "load": [3.0, 29.5], "flame": [10.0, 20.0], "end_s": 40.0}
            },
            "load": {
                "model": "closed", "target_rate": null, "duration_s": 26.5, "workers": 30,
                "totals": {"requests": 1606, "ok": 1592, "errors": 14, "rps": 60.666, "success_rate": 0.99128,
                           "error_kinds": {"connect": 0, "timeout": 0, "status": 14, "check": 0, "io": 0}},
                "error_examples": {"status": format!("status 500 {QUOTES}")},
                "latency": {"count": 1606, "min_ms": 0.9, "mean_ms": 274.0, "p50_ms": 161.0, "p90_ms": 979.0,
                            "p95_ms": 1280.0, "p99_ms": 1560.0, "p999_ms": 1614.0, "max_ms": 1621.0, "hdr": ""},
                "endpoints": [
                    {"name": HOSTILE, "requests": 202, "errors": 14, "check_failures": 0,
                     "error_kinds": {"connect": 0, "timeout": 0, "status": 14, "check": 0, "io": 0},
                     "statuses": {"200": 188, "500": 14},
                     "latency": {"p50_ms": 1213.0, "p95_ms": 1589.0, "p99_ms": 1606.0}, "first_chunk": null},
                    {"name": "ask", "requests": 600, "errors": 0, "check_failures": 0,
                     "latency": {"p50_ms": 316.0, "p95_ms": 431.0, "p99_ms": 515.0},
                     "first_chunk": {"p50_ms": 183.0, "p95_ms": 293.0}}
                ]
            },
            "resources": {
                "pids": [4695], "interval_ms": 100.0, "samples": 401, "target_exited": false, "gpu_available": false,
                "rss_bytes": {"min": 2383872, "mean": 45000000, "max": 62000000, "last": 61000000},
                "cpu_percent": {"min": 0.0, "mean": 10.9, "max": 46.3, "last": 0.0},
                "threads": {"min": 1.0, "mean": 16.3, "max": 31.0, "last": 1.0},
                "gpu_mem_bytes": null,
                "target": {"pid": 4695, "command": format!("python3 {HOSTILE}"), "owned": true, "exit": {"code": null, "signal": 15}},
                "gpu_error": format!("no driver {QUOTES}")
            },
            "leak": {
                "verdict": "leak", "metric": "rss_bytes", "slope_bytes_per_s": 1200000.0, "slope_ci": [1000000.0, 1400000.0],
                "trend_intercept_bytes": 20000000.0, "trend_p": 1e-9, "growth_pct_per_min": 120.0, "warmup_s": 5.0,
                "reason": format!("grows {QUOTES}"), "threshold_bytes_per_s": 17476.0, "window_s": [5.0, 30.0],
                "checks": {"significant": true, "large_enough": true, "not_slowing": true, "above_noise": false}
            },
            "flame": {
                "profiler": "py-spy", "kind": "cpu", "samples": 2270, "unit": "samples", "total": 2270, "stacks": 53,
                "duration_s": 11.6, "pid": 4695, "folded": "flame.folded", "svg": "flame.svg",
                "partial": format!("stopped {QUOTES}"), "notes": [format!("note {HOSTILE}")],
                "hottest": [{"frame": HOSTILE, "self_pct": 29.0}, {"frame": "H.do_GET (server.py:32)", "self_pct": 26.7}],
                "error": null
            },
            "slo": [
                {"name": HOSTILE, "expr": "< 2.5s", "observed": 2700.0, "unit": "ms", "pass": false},
                {"name": "all.success_rate", "expr": ">= 98%", "observed": 0.995, "unit": "ratio", "pass": true},
                {"name": "rss.max", "expr": "< 2GB", "observed": null, "unit": "bytes", "pass": false}
            ],
            "baseline": {"path": format!("old/{QUOTES}.json"), "allowed_pct": 10.0, "comparisons": [
                {"metric": "ask.p95", "baseline": 400.0, "current": 431.0, "change_pct": 7.75, "allowed_pct": 10.0, "pass": true},
                {"metric": "all.rps", "baseline": 80.0, "current": 60.666, "change_pct": -24.2, "allowed_pct": 10.0, "pass": false},
                {"metric": "rss.max", "baseline": 50000000.0, "current": 62000000.0, "change_pct": null, "allowed_pct": 10.0, "pass": false}
            ]},
            "passed": false
        })
    }

    fn samples_csv(rows: usize) -> String {
        let mut s =
            String::from("elapsed_s,rss_bytes,vms_bytes,threads,cpu_percent,fds,procs,gpu_mem_bytes,pss_bytes\n");
        for i in 0..rows {
            let t = i as f64 / 10.0;
            let cpu = if i == 0 {
                String::new()
            } else {
                format!("{:.1}", (i % 40) as f64)
            };
            s.push_str(&format!(
                "{t:.1},{},{},{},{cpu},12,1,,{}\n",
                20_000_000 + i * 120_000,
                900_000_000,
                10 + i % 5,
                1000
            ));
        }
        s
    }

    const TIMELINE: &str = "elapsed_s,requests,errors,rps,p50_ms,p95_ms,p99_ms\n0,18,0,18.0,2.7,399.3,399.3\n1,26,1,26.0,207.2,412.6,819.7\n2,0,0,0.0,,,\n3,65,0,65.0,219.6,1501.1,1596.4\n";

    const FLAME: &str = r#"<?xml version="1.0" standalone="no"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg version="1.1" width="1200" height="366" onload="init(evt)" xmlns="http://www.w3.org/2000/svg"><script type="text/ecmascript"><![CDATA[var a = 1 < 2 && "x";]]></script><g><title>&lt;script&gt;alert(1)&lt;/script&gt; (5 samples)</title></g></svg>"#;

    #[test]
    fn hostile_strings_are_escaped_everywhere() {
        let html = page(&full_doc(), Some(&samples_csv(300)), Some(TIMELINE), Some(FLAME));
        assert!(!html.contains(HOSTILE), "raw <script> in the page");
        assert!(!html.contains(QUOTES), "raw quotes in the page");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&amp;&#39;&lt;&gt;"));
        // The page itself runs no script: the only <script> is the flame
        // graph's, escaped inside the frame's srcdoc.
        assert_eq!(html.matches("<script").count(), 0);
        assert!(html.contains(r#"sandbox="allow-scripts allow-modals""#));
        assert!(html.contains("srcdoc=\"&lt;!DOCTYPE html&gt;"));
        assert!(
            html.contains("style=\"aspect-ratio:1200/366\""),
            "the frame has the shape of the graph"
        );
        assert!(!html.contains("<?xml"), "the XML prolog is dropped");
    }

    #[test]
    fn a_full_report_has_every_section_and_its_verdicts() {
        let html = page(&full_doc(), Some(&samples_csv(300)), Some(TIMELINE), Some(FLAME));
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
        assert!(html.contains(r#"<header class="banner fail">"#));
        assert!(html.contains("<strong>interrupted</strong>"));
        for id in ["summary", "checks", "load", "endpoints", "resources", "memory", "flame"] {
            assert!(html.contains(&format!(r#"<section id="{id}">"#)), "{id}");
        }
        assert!(html.contains("Slow endpoints"));
        assert!(html.contains("2700.0 ms") && html.contains("not measured"));
        assert!(html.contains("-24.2%") && html.contains("80.0/s") && html.contains("60.7/s"));
        assert!(html.contains("1.59 s"), "p95 over a second is shown in seconds");
        assert!(
            html.contains("183 ms") && html.contains("293 ms"),
            "first chunk p50/p95"
        );
        assert!(html.contains("fitted trend") && html.contains("warm-up (not judged)"));
        assert!(html.contains(">load</text>") && html.contains(">flame graph</text>"));
        assert!(html.contains("29.0%"));
        assert!(
            !html.contains("NaN") && !html.contains(">inf") && !html.contains("\"inf"),
            "no unprintable number leaks out"
        );
        // Nothing is fetched: no linked style sheet, script, image or font.
        for external in ["<link", "<img", "src=\"", "url(", "@import"] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn an_svg_loadprof_did_not_draw_is_an_inert_image_and_notes_are_escaped() {
        use base64::Engine as _;
        const EVIL: &str = r#"<svg width="800" height="200" onload="alert(1)" xmlns="http://www.w3.org/2000/svg"><script>alert(2)</script><rect onclick="alert(3)"/></svg>"#;
        let notes = [format!("flame.svg was not read: {HOSTILE}")];
        let mut out = Vec::new();
        write_report(
            &mut out,
            &ReportInputs {
                doc: &full_doc(),
                samples_csv: None,
                timeline_csv: None,
                flame: Some(Flame::Image(EVIL)),
                heap: None,
                notes: &notes,
            },
        )
        .unwrap();
        let html = String::from_utf8(out).unwrap();
        for live in ["<script", "onload", "onclick", "srcdoc", "<iframe"] {
            assert!(!html.contains(live), "{live} in the page");
        }
        let src = html
            .split(r#"<img class="flame" "#)
            .nth(1)
            .and_then(|img| img.split("src=\"data:image/svg+xml;base64,").nth(1))
            .and_then(|rest| rest.split('"').next())
            .expect("the graph is an <img> with a data: URI");
        let svg = base64::engine::general_purpose::STANDARD.decode(src).unwrap();
        assert_eq!(svg, EVIL.as_bytes(), "the image is the file, unchanged");
        assert!(html.contains("aspect-ratio:800/200"));
        assert!(html.contains("flame.svg was not read: &lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_heap_profile_sits_under_the_leak_check_with_its_sites_escaped() {
        let mut doc = full_doc();
        doc["heap"] = json!({
            "profiler": "memray", "kind": "heap", "unit": "bytes", "mode": "retained",
            "window_s": [12.0, 29.0], "total_bytes": 16_000_000, "stacks": 3, "samples": 300,
            "sites": [
                {"function": HOSTILE, "file": "/srv/<app>.py", "line": 42, "bytes": 15_000_000, "share": 0.9375},
                {"function": "decoy", "file": null, "line": null, "bytes": 1_000_000, "share": 0.0625}
            ],
            "folded": "heap.folded", "svg": "heap.svg",
            "overhead": {"rps_inside": 38.0, "rps_outside": 40.0, "p95_ms_inside": 12.0, "p95_ms_outside": 10.0,
                         "throughput_ratio": 0.95, "p95_ratio": 1.2},
            "partial": null, "error": null, "notes": []
        });
        let html = page(&doc, None, None, None);
        let memory = &html[html.find(r#"<section id="memory">"#).unwrap()..];
        let memory = &memory[..memory.find("</section>").unwrap()];
        assert!(
            memory.contains("Where the memory goes"),
            "the heap profile is in the memory section"
        );
        assert!(
            memory.contains("93.8%") && memory.contains("&lt;app&gt;.py:42"),
            "sites with share and place"
        );
        assert!(!html.contains("<script>alert"), "names are escaped");
        assert!(memory.contains("taken 12s to 29s on the run clock"), "{memory}");
        assert!(
            memory.contains("0.95×") && memory.contains("1.20×"),
            "what tracking cost"
        );
        assert!(
            memory.contains("heap.svg"),
            "where the graph is when it is not embedded"
        );
        doc["heap"] = json!({"profiler": "memray", "mode": "retained", "error": "gdb is not installed", "sites": []});
        let html = page(&doc, None, None, None);
        assert!(html.contains("No heap profile:</strong> gdb is not installed"));
    }

    #[test]
    fn missing_sections_are_named_not_drawn() {
        let doc = json!({
            "schema": "loadprof.result/v1", "tool": {"name": "loadprof", "version": "0.1.0"},
            "run": {"profile": null, "started_at": "x", "ended_at": "y", "duration_s": 0.0, "outcome": "failed",
                    "host": {"cpus": 1, "mem_bytes": 0, "os": "linux"}, "reason": "the target never became ready"},
            "passed": false
        });
        let html = page(&doc, None, None, None);
        assert!(html.contains("No load was driven in this run."));
        assert!(html.contains("The target's processes were not sampled"));
        assert!(html.contains("No leak analysis in this run."));
        assert!(html.contains("No flame graph was taken in this run."));
        assert!(html.contains("No SLOs were set") && html.contains("No baseline was given"));
        assert!(html.contains("the target never became ready"));
        let html = page(&Value::Null, None, None, None);
        assert!(html.contains("No verdict") && html.contains("This result has no load"));
    }

    #[test]
    fn empty_and_one_row_csvs_do_not_break_the_charts() {
        let doc = full_doc();
        for (samples, timeline) in [
            ("", ""),
            ("elapsed_s,rss_bytes\n", "elapsed_s,rps\n"),
            (
                "elapsed_s,rss_bytes,cpu_percent\n0.0,1000,\n",
                "elapsed_s,requests,errors,rps,p50_ms,p95_ms,p99_ms\n0,1,0,1.0,,,\n",
            ),
            ("elapsed_s,threads\nNaN,inf\n,\n", "p50_ms\n3\n"),
            ("garbage", "a,b\n1,2,3,4\n"),
        ] {
            let html = page(&doc, Some(samples), Some(timeline), Some("not an svg"));
            assert!(html.ends_with("</html>"), "{samples:?}");
            assert!(!html.contains("NaN"), "{samples:?}");
        }
        let html = page(&doc, Some("elapsed_s,rss_bytes\n0.0,1000\n"), None, None);
        assert!(html.contains("h0.01"), "a single sample is drawn as a dot");
        assert!(
            html.contains("flame.svg"),
            "where the flame graph is, when it is not embedded"
        );
    }

    #[test]
    fn zero_length_windows_and_a_leak_without_intercept_still_draw() {
        let mut doc = full_doc();
        doc["run"]["windows"] = json!({"ready_s": null, "load": [5.0, 5.0], "flame": null, "end_s": 0.0});
        doc["leak"].as_object_mut().unwrap().remove("trend_intercept_bytes");
        doc["leak"]["window_s"] = json!([5.0, 5.0]);
        let html = page(&doc, Some(&samples_csv(100)), Some(TIMELINE), None);
        assert!(html.contains("fitted trend"));
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn a_long_run_stays_small() {
        let rows = 864_000 / 4;
        let html = page(&full_doc(), Some(&samples_csv(rows)), Some(TIMELINE), None);
        assert!(html.len() < 600_000, "{} bytes", html.len());
    }

    #[test]
    fn csv_columns_are_read_by_name() {
        let c = Columns::parse("b,elapsed_s,a\r\n1,2,\n\n4,5,6,7\n", &["elapsed_s", "a", "missing"]);
        assert_eq!(c.get("elapsed_s"), Some(&[2.0, 5.0][..]));
        let a = c.get("a").unwrap();
        assert!(a[0].is_nan() && a[1] == 6.0);
        assert!(c.get("missing").is_none());
        assert!(c.series("elapsed_s", "missing", 0.0).is_none());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(1606.0), "1,606");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(ms(0.42), "0.42 ms");
        assert_eq!(ms(1589.2), "1.59 s");
        assert_eq!(duration(26.47), "26.5 s");
        assert_eq!(duration(252.0), "4m 12s");
        assert_eq!(when("2026-12-01T19:22:53.456+00:00"), "2026-12-01 19:22:53");
        assert_eq!(metric_unit("ask.p95"), "ms");
        assert_eq!(metric_unit("all.rps"), "per_s");
        assert_eq!(metric_unit("rss.max"), "bytes");
        assert_eq!(metric_unit("rss.slope"), "bytes_per_s");
        assert_eq!(metric_unit("ask.first_chunk.p95"), "ms");
        assert_eq!(metric_unit("threads.max"), "count");
        assert_eq!(
            svg_attr(r#"<svg width="1200" height="366" x="1""#, "height"),
            Some(366.0)
        );
        assert_eq!(
            svg_attr(r#"<svg width="1200" height="366" x="1""#, "width"),
            Some(1200.0)
        );
        assert_eq!(svg_attr(r#"<svg height="-3""#, "height"), None);
    }
}
