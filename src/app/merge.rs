//! `loadprof merge`: combine the result.json files of load workers that ran
//! side by side into one, with histograms added exactly.

use std::io::Write;
use std::path::Path;

use anyhow::anyhow;

use crate::error::{Error, Exit};
use crate::report::load::LoadSection;
use crate::report::write_atomic;

fn read(path: &Path) -> Result<(serde_json::Value, LoadSection), Error> {
    let bad = |msg: String| Error::bad_input(anyhow!("{}: {msg}", path.display()));
    let text = crate::files::read_text_bounded(path, crate::files::RESULT_LIMIT, "result file")
        .map_err(|e| Error::bad_input(anyhow!(e)))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let load = doc
        .get("load")
        .cloned()
        .ok_or_else(|| bad("has no load section; merge takes result.json files written by `loadprof load`".into()))?;
    let section: LoadSection = serde_json::from_value(load).map_err(|e| bad(format!("load section: {e}")))?;
    Ok((doc, section))
}

pub fn run(inputs: &[std::path::PathBuf], output: &Path, out: &mut dyn Write) -> Result<Exit, Error> {
    let mut docs = Vec::new();
    let mut sections = Vec::new();
    for p in inputs {
        let (doc, s) = read(p)?;
        docs.push(doc);
        sections.push(s);
    }
    let merged = LoadSection::merge(&sections).map_err(|e| Error::bad_input(anyhow!(e)))?;
    // The first input's other sections are kept; its run section spans all inputs.
    let mut doc = docs[0].clone();
    let text_of = |d: &serde_json::Value, k: &str| d["run"][k].as_str().map(String::from);
    let started = docs.iter().filter_map(|d| text_of(d, "started_at")).min();
    let ended = docs.iter().filter_map(|d| text_of(d, "ended_at")).max();
    if let Some(run) = doc.get_mut("run").and_then(|r| r.as_object_mut()) {
        if let Some(s) = started {
            run.insert("started_at".into(), s.into());
        }
        if let Some(e) = ended {
            run.insert("ended_at".into(), e.into());
        }
        run.insert("duration_s".into(), merged.duration_s.into());
        let interrupted = docs.iter().any(|d| d["run"]["outcome"] == "interrupted");
        if interrupted {
            run.insert("outcome".into(), "interrupted".into());
        }
    }
    let (requests, rps) = (merged.totals.requests, merged.totals.rps);
    doc["load"] = serde_json::to_value(&merged).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(output, &bytes).map_err(|e| Error::cannot_run(anyhow!("{}: {e}", output.display())))?;
    let p95 = merged
        .latency
        .as_ref()
        .map_or("-".into(), |l| format!("{} ms", l.percentiles.p95_ms));
    writeln!(
        out,
        "merged {} results: {requests} requests, {rps:.1}/s, p95 {p95} -> {}",
        inputs.len(),
        output.display()
    )
    .map_err(Error::cannot_run)?;
    Ok(Exit::Success)
}
