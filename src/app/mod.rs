//! One function per command: turn the validated config into engine calls and
//! hand the measurements to `report`. Output goes to the writers passed in.

mod leak;
mod load;
mod merge;
mod sample;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit};

/// Runs the command the user asked for.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    match cli.command {
        Command::Sample(args) => sample::run(args.into_command(chrono::Local::now()), out, err),
        Command::Load(args) => {
            let cmd = args
                .into_command(chrono::Local::now())
                .map_err(|e| Error::bad_input(anyhow::anyhow!(e)))?;
            load::run(cmd, out, err)
        }
        Command::Leak(args) => leak::run(&args, out, err),
        Command::Merge(args) => merge::run(&args.inputs, &args.output, out),
    }
}
