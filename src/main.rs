use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use loadprof::cli::Cli;
use loadprof::escape::TerminalWriter;

fn main() -> ExitCode {
    // clap exits with code 2 and a usage message on bad arguments.
    let cli = Cli::parse();
    // Names and messages from targets, servers and results are printed
    // as text, never obeyed as terminal commands.
    let mut out = TerminalWriter::new(io::stdout());
    let mut err = TerminalWriter::new(io::stderr());
    match loadprof::app::run(cli, &mut out, &mut err) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            let _ = writeln!(err, "loadprof: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
