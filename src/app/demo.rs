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

/// The built-in demo's profile, with the demo target's address and the
/// run's length filled in. Written into the output folder, so the run can
/// be repeated with `loadprof run DIR/demo.toml`.
fn demo_profile(exe: &str, port: u16, leak: bool, duration: std::time::Duration) -> String {
    // With --leak, and jemalloc's profiler installed, the verdict names the
    // function that keeps the memory.
    let heap = leak && crate::heap::jemalloc::library().is_some() && crate::flame::detect::which("jeprof").is_some();
    use crate::config::units::format_duration;
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let secs = duration.as_secs_f64();
    let at = |fraction: f64| format_duration(std::time::Duration::from_secs_f64((secs * fraction).max(1.0)));
    let mut command = vec![
        quote(exe),
        quote("demo-target"),
        quote("--listen"),
        quote(&format!("127.0.0.1:{port}")),
    ];
    if leak {
        command.push(quote("--leak"));
    }
    format!(
        r#"# loadprof's built-in demo: its own demo service (CPU-bound /work, an SSE
# /stream and /health) under a steady 60 requests per second, sampled every
# 100 ms, with a pprof flame graph, a leak verdict and SLOs. The flame graph
# is taken early: the in-process profiler's own buffers (one step of 100 MiB
# or more) would look like growth, so the leak verdict's warm-up lasts until
# the profile is over.{leak_note}
name = "demo"

[target]
command = [{command}]
ready_url = "http://127.0.0.1:{port}/health"
ready_timeout = "10s"

[load]
base_url = "http://127.0.0.1:{port}"
rate = 60
duration = "{duration}"
timeout = "5s"

[[load.request]]
name = "work"
weight = 6
path = "/work?n={{{{random_int 100000 1000000}}}}"

[[load.request]]
name = "stream"
weight = 3
path = "/stream?chunks=8&gap_ms=15"
stream = "sse"

[[load.request]]
name = "health"
weight = 1
path = "/health"

[sample]
interval = "100ms"

[flame]
profiler = "pprof"
pprof_url = "http://127.0.0.1:{port}/debug/pprof/profile"
start_after = "{flame_from}"
duration = "{flame_for}"

[leak]
warmup = "{warmup}"
settle = "3s"
min_window = "{min_window}"

[slo]
"work.p95" = "< 2s"
"stream.first_chunk.p95" = "< 1s"
"all.success_rate" = ">= 99%"
"rss.max" = "< 1GB"
"leak" = "none"
{heap_table}"#,
        leak_note = match (leak, heap) {
            (true, true) => {
                "\n# --leak: the service keeps 64 KiB of every request, so the leak verdict fails,\n\
                 # and jemalloc's heap profile (the service runs with it preloaded) names\n\
                 # the function that keeps it."
            }
            (true, false) => "\n# --leak: the service keeps 64 KiB of every request, so the leak verdict fails.",
            _ => "",
        },
        // After the flame graph, whose in-process profiler allocates its
        // buckets while it runs and symbolises its stacks after it (seconds
        // of allocations in a debug build).
        heap_table = if heap {
            format!("\n[heap]\nprofiler = \"jemalloc\"\nstart_after = \"{}\"\n", at(0.5))
        } else {
            String::new()
        },
        command = command.join(", "),
        duration = format_duration(duration),
        flame_from = at(0.05),
        flame_for = at(0.25),
        warmup = at(0.25),
        min_window = format_duration(std::time::Duration::from_secs_f64((secs * 0.3).max(5.0))),
    )
}

/// `loadprof demo`: starts the demo target and runs the built-in profile
/// against it, writing a full output folder.
pub fn run(args: &crate::cli::DemoArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    if args.duration < std::time::Duration::from_secs(6) {
        return Err(Error::bad_input(anyhow!(
            "--duration {}: the demo needs at least 6s (a warm-up, then a window to judge memory on)",
            crate::config::units::format_duration(args.duration)
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| {
        std::path::PathBuf::from("out").join(format!("demo-{}", chrono::Local::now().format("%Y%m%d-%H%M%S")))
    });
    let claim = super::claim_out(&dir, "--out")?;
    let exe = std::env::current_exe().map_err(|e| {
        Error::cannot_run(anyhow!(
            "cannot find loadprof's own executable to start the demo service: {e}"
        ))
    })?;
    // A free port now; the demo target binds it a moment later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Error::cannot_run(anyhow!("cannot find a free port on 127.0.0.1: {e}")))?
        .port();
    let profile_path = dir.join("demo.toml");
    let text = demo_profile(&exe.to_string_lossy(), port, args.leak, args.duration);
    crate::report::write_atomic(&profile_path, text.as_bytes())
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", profile_path.display())))?;
    let profile =
        crate::config::profile::LoadedProfile::read(&profile_path).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    let setup = super::run::setup(&profile, Some(dir), None, None, false, ((0, 1), None))?;
    let _ = writeln!(
        err,
        "demo: loadprof's demo service on 127.0.0.1:{port}{}, {} of load at 60 requests/s (Ctrl-C stops early and keeps what was measured)",
        if args.leak { ", keeping 64 KiB per request" } else { "" },
        crate::config::units::format_duration(args.duration)
    );
    super::run::execute(setup, &crate::cli::WatchArgs::default(), &claim, out, err)
}
