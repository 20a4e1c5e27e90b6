use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use loadprof::cli::Cli;

fn main() -> ExitCode {
    // clap exits with code 2 and a usage message on bad arguments.
    let cli = Cli::parse();
    let (mut out, mut err) = (io::stdout(), io::stderr());
    match loadprof::app::run(cli, &mut out, &mut err) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            let _ = writeln!(err, "loadprof: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
