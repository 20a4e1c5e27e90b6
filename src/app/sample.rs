//! `loadprof sample`: find or start the target, stream samples to CSV with
//! a live progress line, then print the summary (or the JSON result).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::cancel::{self, StopToken};
use crate::config::SampleCommand;
use crate::error::{Error, Exit};
use crate::report::csv::{SamplesWriter, procs_path};
use crate::report::progress::Progress;
use crate::report::schema::ResultDoc;
use crate::report::text;
use crate::sample::{self, GpuState, Outcome, ProcRow, SampleSink, Target, TargetError, TargetSpec, TreeSample};

struct Sink {
    csv: SamplesWriter,
    progress: Progress,
}

impl SampleSink for Sink {
    fn sample(&mut self, s: &TreeSample, procs: &[ProcRow]) -> anyhow::Result<()> {
        self.csv.write(s, procs).context("writing samples")?;
        self.progress.update(s);
        Ok(())
    }
}

fn target_error(e: TargetError) -> Error {
    if e.is_bad_input() {
        Error::bad_input(e)
    } else {
        Error::cannot_run(e)
    }
}

pub fn run(cmd: SampleCommand, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    // Resolve an existing target before creating any file, so a wrong pid
    // or pattern leaves nothing behind.
    let found = Target::find(&cmd.target).map_err(target_error)?;
    let csv = SamplesWriter::create(&cmd.output, cmd.sampler.per_process, cmd.sampler.pss).map_err(|e| {
        Error::bad_input(anyhow!(
            "-o {}: cannot write there: {e}; pass a path in a writable folder",
            cmd.output.display()
        ))
    })?;
    let (gpu, gpu_state) = sample::probe_gpu(cmd.sampler.gpu)
        .map_err(|e| Error::cannot_run(anyhow!("--gpu on: GPU memory cannot be sampled: {e}")))?;
    if let GpuState::Unavailable(reason) = &gpu_state {
        let _ = writeln!(err, "GPU: not available ({reason})");
    }
    let stop = StopToken::new();
    cancel::stop_on_signals(stop.clone())
        .map_err(|e| Error::cannot_run(anyhow!("cannot install signal handlers: {e}")))?;
    let target = match (found, &cmd.target) {
        (Some(t), _) => t,
        (None, TargetSpec::Command(argv)) => Target::spawn(argv).map_err(|e| {
            remove_outputs(&cmd.output, cmd.sampler.per_process);
            target_error(e)
        })?,
        (None, _) => unreachable!("find resolves pid and name targets"),
    };
    let owned = target.is_owned();
    let mut sink = Sink {
        csv,
        progress: Progress::new(!cmd.json, cmd.sampler.duration),
    };
    let recorded = sample::record(target, &cmd.sampler, gpu, gpu_state, &stop, &mut sink);
    sink.progress.finish();
    // Whatever happened, what was measured so far reaches the disk.
    let flushed = sink.csv.flush();
    let rec = recorded.map_err(Error::cannot_run)?;
    flushed.map_err(|e| Error::cannot_run(anyhow!("{}: {e}", cmd.output.display())))?;

    let procs = cmd.sampler.per_process.then(|| procs_path(&cmd.output));
    let printed = if cmd.json {
        let doc = ResultDoc::from_recording(&rec, owned);
        text::write_summary(err, &rec, owned, &cmd.output, procs.as_deref())
            .and_then(|()| serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from))
            .and_then(|()| writeln!(out))
    } else {
        text::write_summary(out, &rec, owned, &cmd.output, procs.as_deref())
    };
    super::printed(printed)?;
    let mut leaked = false;
    if cmd.leak {
        let params = crate::leak::LeakParams::default();
        let (_, _, rep) = super::leak::judge(&cmd.output, "rss_bytes", &params)?;
        let to: &mut dyn Write = if cmd.json { err } else { out };
        crate::report::leak::write_verdict(to, &rep).map_err(Error::cannot_run)?;
        leaked = rep.verdict == crate::leak::Verdict::Leak;
    }
    Ok(match rec.outcome {
        Outcome::Interrupted => Exit::Interrupted,
        Outcome::Completed | Outcome::TargetExited if leaked => Exit::GateFailed,
        Outcome::Completed | Outcome::TargetExited | Outcome::Failed => Exit::Success,
    })
}

fn remove_outputs(csv: &Path, per_process: bool) {
    let _ = std::fs::remove_file(csv);
    if per_process {
        let _ = std::fs::remove_file(procs_path(csv));
    }
}
