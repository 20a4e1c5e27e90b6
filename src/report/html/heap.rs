//! The heap profile in the report, under the leak check on the same run
//! clock: which code holds the memory (the sites, with their share of the
//! bytes), what tracking cost the target, and the heap flame graph.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::page::Report;
use super::{arr, chart, esc, format_bytes, num, text, window};

impl Report<'_> {
    /// The heap section of the result, if the run took a heap profile.
    pub(super) fn heap(&self, h: &mut String) -> fmt::Result {
        let Some(heap) = self.doc.get("heap").filter(|v| v.is_object()) else {
            return Ok(());
        };
        h.push_str(r#"<h3 id="heap">Where the memory goes</h3>"#);
        let mode = text(heap, "/mode").unwrap_or("retained");
        let mut facts: Vec<String> = Vec::new();
        if let Some(p) = text(heap, "/profiler") {
            facts.push(format!("{} {} profile", esc(p), esc(mode)));
        }
        if let Some((a, b)) = window(heap, "/window_s") {
            facts.push(format!(
                "taken {} to {} on the run clock",
                chart::clock(a, 1.0),
                chart::clock(b, 1.0)
            ));
        }
        if let Some(t) = num(heap, "/total_bytes") {
            let held = if mode == "inuse" {
                "held at its end"
            } else {
                "allocated in it and still held at its end"
            };
            facts.push(format!("{} {held}", format_bytes(t)));
        }
        if !facts.is_empty() {
            write!(h, r#"<p class="muted">{}</p>"#, facts.join(" · "))?;
        }
        super::flame::callouts(h, heap, "No heap profile")?;
        if let Some(o) = heap.get("overhead").filter(|o| o.is_object()) {
            overhead(h, o)?;
        }
        let sites = arr(heap, "/sites");
        if !sites.is_empty() {
            write!(
                h,
                r#"<table class="hot"><thead><tr><th colspan="2">share</th><th class="num">bytes</th><th>site (the application's own code that allocated)</th></tr></thead><tbody>"#
            )?;
            for s in sites {
                let p = (num(s, "/share").unwrap_or(0.0) * 100.0).clamp(0.0, 100.0);
                let mut site = esc(text(s, "/function").unwrap_or("?"));
                if let Some(f) = text(s, "/file") {
                    let line = num(s, "/line").map_or(String::new(), |l| format!(":{l:.0}"));
                    write!(site, r#" <span class="muted">{}{line}</span>"#, esc(f))?;
                }
                write!(
                    h,
                    r#"<tr><td class="num pctcell">{p:.1}%</td><td class="barcell"><div class="bar"><div style="width:{p:.1}%"></div></div></td><td class="num">{}</td><td><code class="long">{site}</code></td></tr>"#,
                    format_bytes(num(s, "/bytes").unwrap_or(0.0))
                )?;
            }
            h.push_str("</tbody></table>");
        }
        match self.heap_graph {
            Some(graph) => super::flame::embed_flame(h, graph, "heap flame graph")?,
            None => {
                if let Some(path) = text(heap, "/svg") {
                    write!(
                        h,
                        r#"<p class="empty">The heap flame graph was not embedded; it is in <code>{}</code>.</p>"#,
                        esc(path)
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The target's pace inside the heap window against outside it.
fn overhead(h: &mut String, o: &Value) -> fmt::Result {
    let ratio = |key: &str| num(o, key).map_or("n/a".to_string(), |r| format!("{r:.2}×"));
    let p95 = |key: &str| num(o, key).map_or("n/a".to_string(), |v| format!("{v:.1} ms"));
    write!(
        h,
        r#"<p class="muted">What tracking cost the target: {:.1} answers/s inside the window, {:.1} outside ({}); p95 {} inside, {} outside ({}).</p>"#,
        num(o, "/rps_inside").unwrap_or(0.0),
        num(o, "/rps_outside").unwrap_or(0.0),
        ratio("/throughput_ratio"),
        p95("/p95_ms_inside"),
        p95("/p95_ms_outside"),
        ratio("/p95_ratio"),
    )
}
