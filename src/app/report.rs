//! `loadprof report`: render a stored result.json again (HTML, Markdown,
//! JUnit), or chart many of them as a trend.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::printed;
use super::read_result;
use crate::cli::ReportArgs;
use crate::error::{Error, Exit};
use crate::gate::{Comparison, SloResult};
use crate::report::html::{self, ReportInputs};
use crate::report::leak::LeakSection;
use crate::report::verdicts::{self, Verdicts};
use crate::report::{write_atomic, write_atomic_with};

/// Reads a file beside the result, if it is there; one that is there but
/// cannot be read (or is over its limit) is an error naming it.
fn beside(result: &Path, name: &str, limit: u64) -> Result<Option<String>, Error> {
    crate::files::read_text_if_present(&result.with_file_name(name), limit, "file beside the result")
        .map_err(|e| Error::bad_input(anyhow!(e)))
}

/// Draws the HTML report of the result at `result` (with samples.csv,
/// timeline.csv and flame.svg from beside it) into `html`.
pub fn write_html(result: &Path, html_path: &Path) -> Result<(), Error> {
    let doc = read_result(result, "result")?;
    write_html_of(&doc, result, html_path)
}

fn write_html_of(doc: &serde_json::Value, result: &Path, html_path: &Path) -> Result<(), Error> {
    use crate::files::{FOLDED_LIMIT, RESULT_LIMIT, SAMPLES_LIMIT};
    let samples = beside(result, "samples.csv", SAMPLES_LIMIT)?;
    let timeline = beside(result, "timeline.csv", RESULT_LIMIT)?;
    let svg = match doc["flame"]["svg"].as_str() {
        Some(name) => beside(result, name, FOLDED_LIMIT)?,
        None => None,
    };
    let inputs = ReportInputs {
        doc,
        samples_csv: samples.as_deref(),
        timeline_csv: timeline.as_deref(),
        flame_svg: svg.as_deref(),
    };
    write_atomic_with(html_path, |w| html::write_report(w, &inputs))
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", html_path.display())))
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
