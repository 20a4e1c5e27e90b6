//! `loadprof load`: build the engine's config, run it on a tokio runtime
//! with timeline.csv streamed and a live progress line, then write
//! result.json atomically and print the summary (or the JSON result).

use std::io::Write;

use anyhow::anyhow;

use crate::config::LoadCommand;
use crate::error::{Error, Exit};
use crate::load::{self, LoadError};
use crate::report::csv::TimelineWriter;
use crate::report::progress::LoadProgress;
use crate::report::schema::ResultDoc;
use crate::report::{load_text, write_atomic};

pub fn run(
    cmd: LoadCommand,
    watch: &crate::cli::WatchArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, Error> {
    let mut cfg = crate::config::load::build(cmd.spec).map_err(|e| Error::bad_input(anyhow!(e)))?;
    cfg.start_at = cmd.start_at;
    let name = cmd.profile.clone().unwrap_or_else(|| "load".to_string());
    let watchers = super::watch::Watchers::start(
        watch,
        &name,
        cfg.endpoints.iter().map(|e| e.name.clone()).collect(),
        cfg.peak_rate(),
        Vec::new(),
    )?;
    let live = watchers.live.clone();
    cfg.live = live.is_some();
    let planned = cfg.planned_duration();
    let timeline_path = cmd.output.with_file_name("timeline.csv");
    let mut timeline = TimelineWriter::create(&timeline_path).map_err(|e| {
        Error::bad_input(anyhow!(
            "-o {}: cannot write there: {e}; pass a path in a writable folder",
            cmd.output.display()
        ))
    })?;
    // The open model may hold a connection per request in flight.
    crate::sample::process::raise_open_file_limit();
    let (stop, runtime) = super::stop_and_runtime()?;
    let mut progress = LoadProgress::new(!cmd.json, planned);
    let mut write_error = None;
    super::printed(watchers.announce(if cmd.json { &mut *err } else { &mut *out }))?;
    let recorded = runtime.block_on(load::run(cfg, &stop, &mut |row| {
        if let Some(l) = &live {
            l.row(row);
        }
        if let Err(e) = timeline.write(row) {
            write_error.get_or_insert(e);
        }
        progress.update(row);
    }));
    progress.finish();
    let flushed = timeline.flush();
    drop(runtime);
    let rec = match recorded {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&timeline_path);
            return Err(match e {
                LoadError::Setup(_) => Error::bad_input(e),
                LoadError::Unreachable { .. } | LoadError::Resolve { .. } => Error::cannot_run(e),
            });
        }
    };
    let doc = ResultDoc::from_load(&rec, cmd.profile.clone());
    let json = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(&cmd.output, &json).map_err(|e| Error::cannot_run(anyhow!("{}: {e}", cmd.output.display())))?;
    if let Some(e) = write_error.or(flushed.err()) {
        return Err(Error::cannot_run(anyhow!("{}: {e}", timeline_path.display())));
    }
    let outcome = match rec.stop {
        Some(s) => format!("{}; results are partial", crate::report::text::stop_phrase(s)),
        None => "completed".to_string(),
    };
    let section = doc.load.as_ref().expect("a load result has a load section");
    let files = [cmd.output.as_path(), timeline_path.as_path()];
    let printed = if cmd.json {
        load_text::write_summary(err, section, &cmd.target, &outcome, &files)
            .and_then(|()| out.write_all(&json))
            .and_then(|()| writeln!(out))
    } else {
        load_text::write_summary(out, section, &cmd.target, &outcome, &files)
    };
    super::printed(printed)?;
    let ending = super::watch::Ending {
        name: &name,
        passed: None,
        outcome: &outcome,
        slo: &[],
        requests: Some(section.totals.requests),
        error_rate: Some(1.0 - section.totals.success_rate),
        p95_ms: section.latency.as_ref().map(|l| l.percentiles.p95_ms),
    };
    let to: &mut dyn Write = if cmd.json { err } else { out };
    super::printed(watchers.finish(&ending, rec.stop.is_some(), to))?;
    Ok(if rec.stop.is_some() {
        Exit::Interrupted
    } else {
        Exit::Success
    })
}
