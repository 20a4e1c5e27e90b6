//! The built-in demo target, served in its own process (`loadprof
//! demo-target`), so that loadprof samples and profiles it from outside as
//! it would any service.

use std::io::Write;

use anyhow::anyhow;

use crate::cli::DemoTargetArgs;
use crate::demo::{self, DemoOptions};
use crate::error::{Error, Exit};

/// Serves until the process is stopped; says where it listens first.
pub fn serve_target(args: &DemoTargetArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::cannot_run(anyhow!("cannot start the demo target's runtime: {e}")))?;
    let opts = DemoOptions { leak: args.leak };
    rt.block_on(async {
        let (listener, addr) = demo::bind(args.listen)
            .await
            .map_err(|e| Error::bad_input(anyhow!("--listen {}: cannot listen: {e}", args.listen)))?;
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(Error::cannot_run)?;
        demo::serve(listener, opts)
            .await
            .map_err(|e| Error::cannot_run(anyhow!("the demo target stopped: {e}")))
    })?;
    Ok(Exit::Success)
}
