//! The flame graph in the report: the capture's facts and warnings, the
//! inferno graph itself, kept interactive in a sandboxed frame, and the
//! hottest frames.

use std::fmt::{self, Write as _};

use super::page::Report;
use super::{Flame, arr, chart, count, duration, esc, num, text};

impl Report<'_> {
    pub(super) fn flame(&self, h: &mut String) -> fmt::Result {
        h.push_str(r#"<section id="flame"><h2>Flame graph</h2>"#);
        let Some(f) = self.doc.get("flame").filter(|f| f.is_object()) else {
            if let Some(graph) = self.flame {
                embed_flame(h, graph, "flame graph")?;
            } else {
                h.push_str(r#"<p class="empty">No flame graph was taken in this run.</p>"#);
            }
            h.push_str("</section>");
            return Ok(());
        };
        let mut facts: Vec<String> = Vec::new();
        if let Some(p) = text(f, "/profiler") {
            let kind = text(f, "/kind").map_or(String::new(), |k| format!(" {} profile", esc(k)));
            facts.push(format!("{}{kind}", esc(p)));
        }
        if let Some(n) = num(f, "/samples") {
            facts.push(format!("{} samples", count(n)));
        }
        if let Some(s) = num(f, "/duration_s") {
            facts.push(duration(s));
        }
        if let Some(s) = num(f, "/stacks") {
            facts.push(format!("{} distinct stacks", count(s)));
        }
        if let Some(p) = num(f, "/pid") {
            facts.push(format!("pid {p:.0}"));
        }
        if let Some((a, b)) = self.flame_window {
            facts.push(format!(
                "taken {} to {} on the run clock",
                chart::clock(a, 1.0),
                chart::clock(b, 1.0)
            ));
        }
        if !facts.is_empty() {
            write!(h, r#"<p class="muted">{}</p>"#, facts.join(" · "))?;
        }
        callouts(h, f, "No profile")?;
        match self.flame {
            Some(graph) => embed_flame(h, graph, "flame graph")?,
            None => match text(f, "/svg") {
                Some(path) => write!(
                    h,
                    r#"<p class="empty">The flame graph was not embedded; it is in <code>{}</code>.</p>"#,
                    esc(path)
                )?,
                None if text(f, "/error").is_none() => {
                    h.push_str(r#"<p class="empty">No flame graph image was written.</p>"#)
                }
                None => {}
            },
        }
        let hot = arr(f, "/hottest");
        if !hot.is_empty() {
            h.push_str(r#"<h3>Hottest frames <span class="muted">(self time)</span></h3><table class="hot"><tbody>"#);
            for fr in hot {
                let p = num(fr, "/self_pct").unwrap_or(0.0).clamp(0.0, 100.0);
                write!(
                    h,
                    r#"<tr><td class="num pctcell">{p:.1}%</td><td class="barcell"><div class="bar"><div style="width:{p:.1}%"></div></div></td><td><code class="long">{}</code></td></tr>"#,
                    esc(text(fr, "/frame").unwrap_or("?"))
                )?;
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</section>");
        Ok(())
    }
}

/// A profile's error (`missing` names what is missing), its partial
/// reason and its notes, as callouts and a list.
pub(super) fn callouts(h: &mut String, section: &serde_json::Value, missing: &str) -> fmt::Result {
    if let Some(e) = text(section, "/error") {
        write!(
            h,
            r#"<div class="callout bad"><strong>{missing}:</strong> {}</div>"#,
            esc(e)
        )?;
    }
    if let Some(p) = text(section, "/partial") {
        write!(
            h,
            r#"<div class="callout warn"><strong>Partial profile:</strong> {}</div>"#,
            esc(p)
        )?;
    }
    let notes = arr(section, "/notes");
    if !notes.is_empty() {
        h.push_str(r#"<ul class="notes">"#);
        for n in notes {
            write!(h, "<li>{}</li>", esc(n.as_str().unwrap_or("")))?;
        }
        h.push_str("</ul>");
    }
    Ok(())
}

/// The flame graph: one loadprof drew, interactive in a sandboxed frame
/// (its own script runs there, zoom and search, apart from the page); any
/// other SVG as an image, in which no script runs.
pub(super) fn embed_flame(h: &mut String, graph: Flame<'_>, title: &str) -> fmt::Result {
    let svg = match graph {
        Flame::Drawn(svg) => svg,
        Flame::Image(svg) => return embed_image(h, svg),
    };
    let Some((body, width, height)) = svg_start(svg) else {
        return h.write_str(NO_SVG);
    };
    // Drawn at its own width and scaled to the frame's, the graph does not
    // depend on when the frame gets its size (its "fluid" mode measures the
    // frame as it loads, which can be before the frame has a width).
    let body = body.replacen("var fluiddrawing = true;", "var fluiddrawing = false;", 1);
    // The graph saves zoom and search in its URL, which a frame's document
    // may not rewrite; without the stub the search would stop half-way.
    // Its script fits the labels to the frames (the root's is empty until
    // then) by measuring text, which gives nothing while a browser holds
    // back the layout of a frame out of view; so they are fitted again at
    // the frame's first drawn animation frame, when it is in view.
    let inner = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>html,body{{margin:0;background:#fff;overflow:hidden}}svg{{display:block;width:100%;height:auto}}</style><script>try{{history.replaceState=function(){{}};}}catch(e){{}}addEventListener(\"load\",function(){{requestAnimationFrame(function(){{try{{known_font_width=get_monospace_width(frames);unzoom();}}catch(e){{}}}})}});</script></head><body>{body}</body></html>"
    );
    write!(
        h,
        r#"<p class="muted">Click a frame to zoom in, Ctrl-F or “Search” to highlight frames.</p><iframe class="flame" title="{title}" sandbox="allow-scripts allow-modals" style="aspect-ratio:{width:.0}/{height:.0}" srcdoc="{}"></iframe>"#,
        esc(&inner)
    )
}

/// An SVG loadprof did not draw, as an `<img>`: a browser shows it as a
/// picture and runs none of its scripts or event handlers, and loads
/// nothing it links to. Not interactive, and its text is not searchable.
fn embed_image(h: &mut String, svg: &str) -> fmt::Result {
    use base64::Engine as _;
    let Some((_, width, height)) = svg_start(svg) else {
        return h.write_str(NO_SVG);
    };
    write!(
        h,
        r#"<p class="muted">flame.svg is shown as a still image: the graph is drawn again, zoomable, only from the folded stacks beside the result, which could not be read.</p><img class="flame" alt="flame graph" style="aspect-ratio:{width:.0}/{height:.0}" src="data:image/svg+xml;base64,{}">"#,
        base64::engine::general_purpose::STANDARD.encode(svg.as_bytes())
    )
}

const NO_SVG: &str = r#"<p class="empty">flame.svg holds no SVG image.</p>"#;

/// The SVG from its `<svg` start tag on, and the width and height that tag
/// gives (within bounds).
fn svg_start(svg: &str) -> Option<(&str, f64, f64)> {
    let body = &svg[svg.find("<svg")?..];
    let tag = &body[..body.find('>').unwrap_or(body.len())];
    let width = svg_attr(tag, "width").filter(|w| *w >= 100.0).unwrap_or(1200.0);
    let height = svg_attr(tag, "height").unwrap_or(600.0).clamp(60.0, 40_000.0);
    Some((body, width, height))
}

/// A numeric attribute (`width`, `height`) of an `<svg ...>` start tag.
pub(super) fn svg_attr(tag: &str, name: &str) -> Option<f64> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let rest = &tag[i..];
    rest[..rest.find('"')?]
        .trim_end_matches("px")
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
}
