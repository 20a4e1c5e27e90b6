//! `loadprof merge`: combine the result.json files of load workers that ran
//! side by side into one, with histograms added exactly, and say whether
//! the workers make up the whole load (exit 1 when one is missing, late or
//! could not keep its schedule, unless --allow-incomplete).

use std::io::Write;
use std::path::Path;

use anyhow::anyhow;

use super::printed;
use crate::cli::MergeArgs;
use crate::error::{Error, Exit};
use crate::escape;
use crate::report::load::LoadSection;
use crate::report::workers::{Part, judge};
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

pub fn run(args: &MergeArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let (inputs, output) = (&args.inputs, args.output.as_path());
    let mut docs = Vec::new();
    let mut sections = Vec::new();
    for p in inputs {
        let (doc, s) = read(p)?;
        docs.push(doc);
        sections.push(s);
    }
    let mut merged = LoadSection::merge(&sections).map_err(|e| Error::bad_input(anyhow!(e)))?;
    let parts: Vec<Part> = inputs
        .iter()
        .zip(&sections)
        .zip(&docs)
        .map(|((p, load), doc)| Part {
            name: p.display().to_string(),
            load,
            outcome: doc["run"]["outcome"].as_str().unwrap_or("completed").to_string(),
        })
        .collect();
    let workers = judge(&parts, args.max_start_skew.as_secs_f64() * 1e3, args.allow_incomplete)
        .map_err(|e| Error::bad_input(anyhow!(e)))?;
    let fails = !workers.complete() && !workers.allowed;
    let problems = workers.problems.clone();
    merged.merged = Some(workers);
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
    if fails {
        doc["passed"] = false.into();
    }
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(output, &bytes).map_err(|e| Error::cannot_run(anyhow!("{}: {e}", output.display())))?;
    let p95 = merged
        .latency
        .as_ref()
        .map_or("-".into(), |l| format!("{} ms", l.percentiles.p95_ms));
    printed((|| {
        writeln!(
            out,
            "merged {} results: {requests} requests, {rps:.1}/s, p95 {p95} -> {}",
            inputs.len(),
            output.display()
        )?;
        for p in &problems {
            writeln!(
                out,
                "  {}: {}",
                if fails { "FAIL" } else { "allowed" },
                escape::terminal(p)
            )?;
        }
        Ok(())
    })())?;
    Ok(if fails { Exit::GateFailed } else { Exit::Success })
}
