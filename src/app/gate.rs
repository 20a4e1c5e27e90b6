//! `loadprof gate`: judge a stored result.json again, against its own SLOs,
//! any given with --slo, and a baseline result.

use std::io::Write;

use anyhow::anyhow;

use super::{printed, read_result};
use crate::cli::GateArgs;
use crate::error::{Error, Exit};
use crate::gate::observe::{against_baseline, observe};
use crate::gate::{Slo, SloResult};
use crate::report::verdicts::write_gate;

pub fn run(args: &GateArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let doc = read_result(&args.result, "result")?;
    let names: Vec<String> = doc["load"]["endpoints"]
        .as_array()
        .map(|eps| {
            eps.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let endpoints: Vec<&str> = names.iter().map(String::as_str).collect();
    let scenario_names: Vec<String> = doc["load"]["scenarios"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    let scenarios: Vec<&str> = scenario_names.iter().map(String::as_str).collect();
    // The result's own SLOs, then those given here.
    let mut slos: Vec<Slo> = Vec::new();
    for s in doc["slo"].as_array().map_or(&[][..], Vec::as_slice) {
        let (Some(name), Some(expr)) = (s["name"].as_str(), s["expr"].as_str()) else {
            continue;
        };
        slos.push(
            Slo::parse(name, expr, &endpoints, &scenarios)
                .map_err(|e| Error::bad_input(anyhow!("{}: slo {name}: {e}", args.result.display())))?,
        );
    }
    for given in &args.slos {
        let (name, expr) = given.split_once('=').ok_or_else(|| {
            Error::bad_input(anyhow!("--slo '{given}': expected METRIC=EXPR, e.g. 'all.p95=< 300ms'"))
        })?;
        slos.push(
            Slo::parse(name.trim(), expr, &endpoints, &scenarios)
                .map_err(|e| Error::bad_input(anyhow!("--slo '{given}': {e}")))?,
        );
    }
    let results: Vec<SloResult> = slos.iter().map(|s| s.judge(observe(&s.metric, &doc))).collect();
    let comparisons = match &args.baseline {
        Some(path) => against_baseline(&read_result(path, "--baseline")?, &doc, args.max_regression),
        None => Vec::new(),
    };
    // A merge whose workers are not the whole load cannot pass as the load.
    let merged = &doc["load"]["merged"];
    let incomplete: Vec<&str> = if merged["allowed"] == true {
        Vec::new()
    } else {
        merged["problems"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|p| p.as_str())
            .collect()
    };
    let passed = results.iter().all(|r| r.pass) && comparisons.iter().all(|c| c.pass) && incomplete.is_empty();
    printed((|| {
        for p in &incomplete {
            writeln!(out, "FAIL workers: {}", crate::escape::terminal(p))?;
        }
        if results.is_empty() && comparisons.is_empty() {
            writeln!(
                out,
                "nothing to judge: the result has no SLOs; give --slo or --baseline"
            )?;
        }
        write_gate(out, &results, &comparisons)?;
        writeln!(out, "gate: {}", if passed { "passed" } else { "FAILED" })
    })())?;
    Ok(if passed { Exit::Success } else { Exit::GateFailed })
}
