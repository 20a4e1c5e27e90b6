//! `loadprof leak`: read a samples CSV, judge the chosen metric, print the
//! verdict (or the JSON section), and draw the plot if asked.

use std::io::Write;
use std::path::Path;

use anyhow::anyhow;

use crate::cli::LeakArgs;
use crate::error::{Error, Exit};
use crate::leak::{self, LeakParams, LeakReport, Verdict};
use crate::report::leak::{LeakSection, write_svg, write_verdict};
use crate::report::write_atomic;

/// The name of a metric in a reason sentence.
pub fn label(metric: &str) -> String {
    match metric {
        "rss_bytes" => "RSS".into(),
        "vms_bytes" => "Virtual memory".into(),
        "pss_bytes" => "PSS".into(),
        "uss_bytes" => "USS".into(),
        "gpu_mem_bytes" => "GPU memory".into(),
        other => other.to_string(),
    }
}

/// Reads `path` and judges `metric` in it.
pub fn judge(path: &Path, metric: &str, params: &LeakParams) -> Result<(Vec<f64>, Vec<f64>, LeakReport), Error> {
    let text = crate::files::read_text_bounded(path, crate::files::SAMPLES_LIMIT, "samples CSV")
        .map_err(|e| Error::bad_input(anyhow!(e)))?;
    let (t, v) =
        leak::series::parse_csv(&text, metric).map_err(|e| Error::bad_input(anyhow!("{}: {e}", path.display())))?;
    let rep = leak::analyze(&t, &v, params);
    Ok((t, v, rep))
}

pub fn run(args: &LeakArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let params = LeakParams {
        warmup: args.warmup,
        settle_from: args.settle_from,
        max_growth: args.max_growth,
        limit: args.limit,
        label: label(&args.metric),
        ..LeakParams::default()
    };
    let (t, v, rep) = judge(&args.samples, &args.metric, &params)?;
    if let Some(plot) = &args.plot {
        let mut svg = Vec::new();
        let title = format!("{} of {}", params.label, args.samples.display());
        write_svg(&mut svg, &t, &v, &rep, &title).map_err(Error::cannot_run)?;
        write_atomic(plot, &svg).map_err(|e| Error::bad_input(anyhow!("--plot {}: {e}", plot.display())))?;
    }
    let printed = if args.json {
        let section = LeakSection::from_report(&rep, &args.metric);
        write_verdict(err, &rep)
            .and_then(|()| serde_json::to_writer_pretty(&mut *out, &section).map_err(std::io::Error::from))
            .and_then(|()| writeln!(out))
    } else {
        write_verdict(out, &rep)
    };
    super::printed(printed)?;
    Ok(if rep.verdict == Verdict::Leak {
        Exit::GateFailed
    } else {
        Exit::Success
    })
}
