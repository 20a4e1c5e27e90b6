//! One function per command: turn the validated config into engine calls and
//! hand the measurements to `report`. Output goes to the writers passed in.

mod capacity;
mod demo;
mod flame;
mod gate;
mod leak;
mod llm;
mod load;
mod merge;
mod report;
mod run;
mod sample;
mod validate;
mod watch;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit};

/// What printing the result came to: a reader that went away (`| head`)
/// is not a failure, anything else is.
fn printed(r: std::io::Result<()>) -> Result<(), Error> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::cannot_run(e)),
        _ => Ok(()),
    }
}

/// Reads a result.json given on the command line.
pub(crate) fn read_result(path: &std::path::Path, flag: &str) -> Result<serde_json::Value, Error> {
    let text = crate::files::read_text_bounded(path, crate::files::RESULT_LIMIT, "result file")
        .map_err(|e| Error::bad_input(anyhow::anyhow!("{flag} {e}")))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::bad_input(anyhow::anyhow!("{flag} {}: not JSON: {e}", path.display())))?;
    if !doc["schema"]
        .as_str()
        .is_some_and(|s| s.starts_with("loadprof.result/"))
    {
        return Err(Error::bad_input(anyhow::anyhow!(
            "{flag} {}: not a loadprof result.json (no \"schema\": \"loadprof.result/v1\")",
            path.display()
        )));
    }
    Ok(doc)
}

/// A stop token that Ctrl-C, SIGTERM and SIGHUP trip, and a runtime for
/// the async engines.
/// Claims the output folder `dir` (given by `flag`) for this run: exit 2
/// when another loadprof is writing to it.
fn claim_out(dir: &std::path::Path, flag: &str) -> Result<crate::outdir::OutDir, Error> {
    crate::outdir::OutDir::claim(dir).map_err(|e| Error::bad_input(anyhow::anyhow!("{flag} {}: {e}", dir.display())))
}

fn stop_and_runtime() -> Result<(crate::cancel::StopToken, tokio::runtime::Runtime), Error> {
    let stop = crate::cancel::StopToken::new();
    crate::cancel::stop_on_signals(stop.clone())
        .map_err(|e| Error::cannot_run(anyhow::anyhow!("cannot install signal handlers: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::cannot_run(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    Ok((stop, runtime))
}

/// Runs the command the user asked for.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    match cli.command {
        Command::Sample(args) => sample::run(args.into_command(chrono::Local::now()), out, err),
        Command::Load(args) => {
            let watch = args.watch.clone();
            let cmd = args
                .into_command(chrono::Local::now())
                .map_err(|e| Error::bad_input(anyhow::anyhow!(e)))?;
            load::run(cmd, &watch, out, err)
        }
        Command::Capacity(args) => capacity::run(&args, out, err),
        Command::Leak(args) => leak::run(&args, out, err),
        Command::Merge(args) => merge::run(&args, out),
        Command::Flame(args) => flame::run(*args, out, err),
        Command::DemoTarget(args) => demo::serve_target(&args, out),
        Command::Validate(args) => validate::run(&args.profile, &args.set, out),
        Command::Gate(args) => gate::run(&args, out),
        Command::Run(args) => run::run(args, out, err),
        Command::Demo(args) => demo::run(&args, out, err),
        Command::Report(args) => report::run(&args, out),
        Command::Llm(args) => llm::run(*args, out, err),
    }
}
