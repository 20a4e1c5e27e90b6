//! `loadprof report`: render a stored result.json again (HTML, Markdown,
//! JUnit), or chart many of them as a trend.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::printed;
use super::read_result;
use crate::cli::ReportArgs;
use crate::error::{Error, Exit};
use crate::flame::Folded;
use crate::flame::render;
use crate::gate::{Comparison, SloResult};
use crate::report::flame::FlameSection;
use crate::report::heap::HeapSection;
use crate::report::html::{self, ReportInputs};
use crate::report::leak::LeakSection;
use crate::report::verdicts::{self, Verdicts};
use crate::report::{write_atomic, write_atomic_with};

/// The most a flame graph's SVG may hold to be embedded.
const MAX_SVG_BYTES: u64 = 16 << 20;

/// Reads the file `name` beside the result. A result names its files, and
/// a result may come from anywhere, so only a plain file name in the
/// result's own folder is read: no path, no `..`, no link, and then as
/// [`crate::files::read_text_bounded`] reads (a regular file, at most
/// `max` bytes). `Ok(None)`: no such file. `Err`: why it was not read, for
/// a note in the report.
fn beside(result: &Path, name: &str, max: u64) -> Result<Option<String>, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(format!(
            "\"{}\" was not read: a result names only files in its own folder, by name",
            name.escape_debug()
        ));
    }
    let path = result.with_file_name(name);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{name} was not read: it is a link, not a file beside the result"
            ));
        }
        _ => {}
    }
    crate::files::read_text_bounded(&path, max, "file beside the result")
        .map(Some)
        .map_err(|e| format!("{name} was not read: {e}"))
}

/// Reads `name` beside the result; a refusal becomes a note.
fn beside_or_note(result: &Path, name: &str, max: u64, notes: &mut Vec<String>) -> Option<String> {
    beside(result, name, max).unwrap_or_else(|why| {
        notes.push(why);
        None
    })
}

/// The flame graph of a stored result: drawn again from the folded stacks
/// beside it, as `run` drew it; where those are missing, the SVG beside it
/// as an image, in which no script runs (loadprof did not draw it, or
/// cannot tell that it did).
fn flame_graph(doc: &serde_json::Value, result: &Path, notes: &mut Vec<String>) -> Option<FlameGraph> {
    let f = doc.get("flame").filter(|f| f.is_object())?;
    // Without an SVG, no graph was drawn (no samples, or no profile).
    let svg_name = f["svg"].as_str()?;
    if let Some(name) = f["folded"].as_str() {
        match serde_json::from_value::<FlameSection>(f.clone()) {
            Ok(section) => {
                if let Some(svg) = redraw(&section, result, name, notes) {
                    return Some(FlameGraph::Drawn(svg));
                }
            }
            Err(e) => notes.push(format!("{name} was not drawn: the flame section is not readable: {e}")),
        }
    }
    beside_or_note(result, svg_name, MAX_SVG_BYTES, notes).map(FlameGraph::Image)
}

/// The heap profile's graph of a stored result, drawn again from its
/// folded stacks as `run` drew it, or its SVG as an image.
fn heap_graph(doc: &serde_json::Value, result: &Path, notes: &mut Vec<String>) -> Option<FlameGraph> {
    let h = doc.get("heap").filter(|h| h.is_object())?;
    let svg_name = h["svg"].as_str()?;
    if let Some(name) = h["folded"].as_str() {
        match serde_json::from_value::<HeapSection>(h.clone()) {
            Ok(section) => {
                if let Some(svg) = redraw(&section.flame_view(), result, name, notes) {
                    return Some(FlameGraph::Drawn(svg));
                }
            }
            Err(e) => notes.push(format!("{name} was not drawn: the heap section is not readable: {e}")),
        }
    }
    beside_or_note(result, svg_name, MAX_SVG_BYTES, notes).map(FlameGraph::Image)
}

/// The graph of the folded stacks `name` beside the result, drawn as the
/// flame section says; `None` (with a note) when they cannot be read.
fn redraw(section: &FlameSection, result: &Path, name: &str, notes: &mut Vec<String>) -> Option<String> {
    let text = beside_or_note(result, name, crate::files::FOLDED_LIMIT, notes)?;
    let folded = Folded::parse_owned(text)
        .map_err(|e| notes.push(format!("{name} was not drawn: {e}")))
        .ok()?;
    let mut svg = Vec::new();
    render::svg(&folded, &section.style(), &mut svg)
        .map_err(|e| notes.push(format!("{name}: cannot draw the flame graph: {e}")))
        .ok()?;
    Some(String::from_utf8_lossy(&svg).into_owned())
}

/// Draws the HTML report of the result at `result` (with samples.csv,
/// timeline.csv and the flame graph from beside it) into `html`.
pub fn write_html(result: &Path, html_path: &Path) -> Result<(), Error> {
    let doc = read_result(result, "result")?;
    write_html_of(&doc, result, html_path)
}

fn write_html_of(doc: &serde_json::Value, result: &Path, html_path: &Path) -> Result<(), Error> {
    use crate::files::{RESULT_LIMIT, SAMPLES_LIMIT};
    let mut notes = Vec::new();
    let samples = beside_or_note(result, "samples.csv", SAMPLES_LIMIT, &mut notes);
    let timeline = beside_or_note(result, "timeline.csv", RESULT_LIMIT, &mut notes);
    let flame = flame_graph(doc, result, &mut notes);
    let heap = heap_graph(doc, result, &mut notes);
    let inputs = ReportInputs {
        doc,
        samples_csv: samples.as_deref(),
        timeline_csv: timeline.as_deref(),
        flame: flame.as_ref().map(FlameGraph::as_ref),
        heap: heap.as_ref().map(FlameGraph::as_ref),
        notes: &notes,
    };
    write_atomic_with(html_path, |w| html::write_report(w, &inputs))
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", html_path.display())))
}

/// A flame graph read for the report, owned.
enum FlameGraph {
    Drawn(String),
    Image(String),
}

impl FlameGraph {
    fn as_ref(&self) -> html::Flame<'_> {
        match self {
            FlameGraph::Drawn(s) => html::Flame::Drawn(s),
            FlameGraph::Image(s) => html::Flame::Image(s),
        }
    }
}

/// The verdicts stored in a result document.
struct Stored {
    name: String,
    passed: bool,
    duration_s: f64,
    slo: Vec<SloResult>,
    baseline: Vec<Comparison>,
    leak: Option<LeakSection>,
    llm: Option<crate::report::llm::LlmSection>,
}

fn stored(doc: &serde_json::Value, path: &Path) -> Result<Stored, Error> {
    let bad = |what: &str, e: serde_json::Error| Error::bad_input(anyhow!("{}: {what}: {e}", path.display()));
    let slo = match doc.get("slo") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone()).map_err(|e| bad("slo", e))?,
        _ => Vec::new(),
    };
    let baseline = match doc["baseline"].get("comparisons") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| bad("baseline.comparisons", e))?,
        None => Vec::new(),
    };
    let leak = match doc.get("leak") {
        Some(v) if !v.is_null() => Some(serde_json::from_value(v.clone()).map_err(|e| bad("leak", e))?),
        _ => None,
    };
    let llm = match doc.get("llm") {
        Some(v) if !v.is_null() => Some(serde_json::from_value(v.clone()).map_err(|e| bad("llm", e))?),
        _ => None,
    };
    Ok(Stored {
        llm,
        name: doc["run"]["profile"]
            .as_str()
            .map_or_else(|| path.display().to_string(), str::to_string),
        passed: doc["passed"].as_bool().unwrap_or(false),
        duration_s: doc["run"]["duration_s"].as_f64().unwrap_or(0.0),
        slo,
        baseline,
        leak,
    })
}

pub fn run(args: &ReportArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    if !args.trend.is_empty() {
        return trend(args, out);
    }
    let result = args.result.as_ref().expect("clap requires a result or --trend");
    let doc = read_result(result, "result")?;
    let s = stored(&doc, result)?;
    let v = Verdicts {
        name: &s.name,
        passed: s.passed,
        duration_s: s.duration_s,
        slo: &s.slo,
        baseline: &s.baseline,
        leak: s.leak.as_ref(),
        llm: s.llm.as_ref(),
    };
    let nothing_asked = args.html.is_none() && args.markdown.is_none() && args.junit.is_none();
    let html = args
        .html
        .clone()
        .or_else(|| nothing_asked.then(|| result.with_file_name("report.html")));
    let mut wrote: Vec<PathBuf> = Vec::new();
    if let Some(path) = &html {
        write_html_of(&doc, result, path)?;
        wrote.push(path.clone());
    }
    if let Some(path) = &args.markdown {
        if path.as_os_str() == "-" {
            printed(verdicts::write_markdown(out, &v))?;
        } else {
            write_atomic_with(path, |w| verdicts::write_markdown(w, &v))
                .map_err(|e| Error::bad_input(anyhow!("--markdown {}: cannot write: {e}", path.display())))?;
            wrote.push(path.clone());
        }
    }
    if let Some(path) = &args.junit {
        write_atomic_with(path, |w| verdicts::write_junit(w, &v))
            .map_err(|e| Error::bad_input(anyhow!("--junit {}: cannot write: {e}", path.display())))?;
        wrote.push(path.clone());
    }
    printed(wrote.iter().try_for_each(|p| writeln!(out, "wrote {}", p.display())))?;
    Ok(Exit::Success)
}

fn trend(args: &ReportArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let Some(path) = &args.html else {
        return Err(Error::bad_input(anyhow!(
            "--trend draws a chart: give --html FILE, e.g. --html trend.html"
        )));
    };
    let mut runs = Vec::new();
    for p in &args.trend {
        runs.push((p.display().to_string(), read_result(p, "--trend")?));
    }
    let mut page = Vec::new();
    html::write_trend(&mut page, &runs).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(path, &page).map_err(|e| Error::bad_input(anyhow!("--html {}: cannot write: {e}", path.display())))?;
    printed(writeln!(out, "wrote {} ({} runs)", path.display(), runs.len()))?;
    Ok(Exit::Success)
}
