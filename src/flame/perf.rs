//! perf for native targets: `perf record` on the pid, `perf script`, folded
//! by inferno's perf collapser. Weights are the events' periods (nanoseconds
//! of CPU for the cpu-clock event), not sample numbers.

use std::process::Command;
use std::time::Instant;

use inferno::collapse::Collapse;

use super::{CallGraph, Capture, CaptureSpec, FlameError, Folded, Profiler, Source, process};
use crate::cancel::StopToken;
use crate::sample::ExitInfo;

/// The program to run; `LOADPROF_PERF` points at another one.
fn program() -> String {
    std::env::var("LOADPROF_PERF").unwrap_or_else(|_| "perf".into())
}

/// `perf record`'s arguments for `pids` into `out`. The cpu-clock event
/// (on every machine, unlike hardware cycles) makes the weights
/// nanoseconds of CPU time.
pub fn record_args(pids: &[u32], rate_hz: u32, call_graph: CallGraph, out: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "record".into(),
        "-e".into(),
        "cpu-clock".into(),
        "-F".into(),
        rate_hz.to_string(),
    ];
    match call_graph {
        CallGraph::Dwarf => a.extend(["--call-graph".into(), "dwarf,16384".into()]),
        CallGraph::Fp => a.push("-g".into()),
    }
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    a.extend(["-p".into(), pids.join(","), "-o".into(), out.into()]);
    a
}

fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What went wrong, read from perf's output, as a message naming the fix.
pub fn explain(output: &str, pid: u32, paranoid: Option<i32>) -> String {
    let lower = output.to_ascii_lowercase();
    if lower.contains("perf_event_paranoid")
        || lower.contains("permission denied")
        || lower.contains("no permission")
        || lower.contains("access to performance monitoring")
        || lower.contains("operation not permitted")
    {
        return refused(&format!("pid {pid}"), paranoid);
    }
    if lower.contains("perf not found for kernel") {
        return "perf is installed but has no build for this kernel: install the linux-perf (Debian) or \
                linux-tools-$(uname -r) (Ubuntu) package matching the running kernel"
            .into();
    }
    if lower.contains("no such process") {
        return format!("pid {pid} exited before perf could attach");
    }
    format!("perf record failed on pid {pid}:\n  {}", process::tail(output, 6))
}

/// perf was refused access to `who`: the kernel setting, and the fixes.
fn refused(who: &str, paranoid: Option<i32>) -> String {
    let level = paranoid.map_or("unknown".to_string(), |p| p.to_string());
    format!(
        "perf may not profile {who}: kernel.perf_event_paranoid is {level}. Run loadprof as root or with \
         CAP_PERFMON, or lower it with `sudo sysctl kernel.perf_event_paranoid=1` (2 allows only your own \
         processes' user-space code); in Docker, perf_event_open needs `--cap-add PERFMON` (or \
         `--security-opt seccomp=unconfined`). Python targets can use --profiler py-spy instead"
    )
}

/// Counts the events in `perf script` output: each starts with a header
/// line at column 0, followed by indented frames.
pub fn count_events(script: &[u8]) -> u64 {
    script
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l[0].is_ascii_whitespace() && l[0] != b'#')
        .count() as u64
}

/// Folds `perf script` output with inferno's perf collapser.
pub fn collapse(script: &[u8]) -> Result<Folded, FlameError> {
    let mut opt = inferno::collapse::perf::Options::default();
    opt.annotate_kernel = true;
    opt.annotate_jit = true;
    let mut folder = inferno::collapse::perf::Folder::from(opt);
    let mut out = Vec::new();
    folder
        .collapse(script, &mut out)
        .map_err(|e| FlameError::CannotProfile(format!("cannot fold perf script output: {e}")))?;
    Folded::parse(&String::from_utf8_lossy(&out))
        .map_err(|e| FlameError::CannotProfile(format!("perf's stacks did not fold: {e}")))
}

fn not_found(e: std::io::Error) -> FlameError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FlameError::CannotProfile(
            "perf is not installed: `apt-get install linux-perf` (Debian) or `apt-get install \
             linux-tools-$(uname -r)` (Ubuntu), or point LOADPROF_PERF at it; Python targets can use \
             --profiler py-spy"
                .into(),
        )
    } else {
        FlameError::CannotProfile(format!("cannot run perf: {e}"))
    }
}

/// Records the process `spec` names (a pid), and with `subprocesses` the
/// processes below it (those there now, and those they start), with perf.
pub fn capture(spec: &CaptureSpec, stop: &StopToken) -> Result<Capture, FlameError> {
    let Source::Pid(pid) = spec.source else {
        unreachable!("perf is given a pid");
    };
    let mut pids = vec![pid];
    if spec.subprocesses {
        pids.extend(process::descendants(pid));
    }
    let dir = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let data = dir.path().join("perf.data");
    let mut cmd = Command::new(program());
    cmd.args(record_args(
        &pids,
        spec.rate_hz.unwrap_or(99),
        spec.call_graph,
        &data.display().to_string(),
    ));
    let t0 = Instant::now();
    let run = process::run(cmd, process::Output::Capture, Some(t0 + spec.duration), stop).map_err(not_found)?;
    let elapsed = t0.elapsed();
    if !data.exists() || (!run.status.success() && !run.signalled) {
        return Err(FlameError::CannotProfile(explain(&run.output(), pid, paranoid())));
    }
    // perf stops by itself only when every process it follows is gone.
    let exited = !run.signalled;
    fold_recording(&data, Some(pid), elapsed, run.interrupted, exited)
}

/// Starts `argv` under `perf record`, which enables recording before the
/// command's first instruction, so every process it starts is in the
/// profile. The command's output (and perf's) goes to loadprof's stderr.
/// Returns the capture and, when the command ended on its own, how.
pub fn capture_command(
    argv: &[String],
    spec: &CaptureSpec,
    stop: &StopToken,
) -> Result<(Result<Capture, FlameError>, Option<ExitInfo>), FlameError> {
    let dir = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let data = dir.path().join("perf.data");
    let mut args = record_args(
        &[],
        spec.rate_hz.unwrap_or(99),
        spec.call_graph,
        &data.display().to_string(),
    );
    // No pid: the command follows `--`.
    let p = args.iter().position(|a| a == "-p").expect("record_args names the pids");
    args.drain(p..p + 2);
    args.push("--quiet".into());
    args.push("--".into());
    args.extend(argv.iter().cloned());
    let mut cmd = Command::new(program());
    cmd.args(args);
    let t0 = Instant::now();
    let run = process::run(cmd, process::Output::Stderr, Some(t0 + spec.duration), stop).map_err(not_found)?;
    let elapsed = t0.elapsed();
    // perf's process group holds the command and all it started.
    let leader = run.pid;
    process::signal_group(leader, libc::SIGTERM);
    std::thread::sleep(std::time::Duration::from_millis(100));
    process::signal_group(leader, libc::SIGKILL);
    if !data.exists() {
        // SAFETY: geteuid has no preconditions.
        let why = if paranoid().is_some_and(|p| p > 1) && unsafe { libc::geteuid() } != 0 {
            refused("the command", paranoid())
        } else {
            "perf record failed (its message is above)".to_string()
        };
        return Err(FlameError::CannotProfile(why));
    }
    // Without a signal from loadprof, perf ended because the command did,
    // and passes on its exit status.
    let ended = (!run.signalled).then(|| ExitInfo::from(run.status));
    let capture = fold_recording(&data, None, elapsed, run.interrupted, ended.is_some());
    Ok((capture, ended))
}

/// `perf script` over a recording, folded.
fn fold_recording(
    data: &std::path::Path,
    pid: Option<u32>,
    elapsed: std::time::Duration,
    interrupted: bool,
    exited: bool,
) -> Result<Capture, FlameError> {
    // perf script runs to its end even on a stop: it only reads what was
    // recorded, and the recording is what a stop keeps.
    let mut script = Command::new(program());
    script
        .arg("script")
        .arg("-i")
        .arg(data)
        .stdin(std::process::Stdio::null());
    let script = process::isolate(&mut script).output().map_err(not_found)?;
    if !script.status.success() {
        return Err(FlameError::CannotProfile(format!(
            "perf script failed:\n  {}",
            process::tail(&String::from_utf8_lossy(&script.stderr), 6)
        )));
    }
    let folded = collapse(&script.stdout)?;
    let samples = count_events(&script.stdout);
    let mut notes = Vec::new();
    if samples == 0 {
        let who = pid.map_or("the command".to_string(), |p| format!("pid {p}"));
        notes.push(format!(
            "perf recorded no samples: {who} did not run on a CPU during the capture, or perf may not see it \
             (an unprivileged container records nothing without an error)"
        ));
    }
    let partial = if interrupted {
        Some(format!("interrupted after {:.1}s", elapsed.as_secs_f64()))
    } else if exited {
        Some(format!(
            "the target exited after {:.1}s; the profile covers only that time",
            elapsed.as_secs_f64()
        ))
    } else {
        None
    };
    Ok(Capture {
        profiler: Profiler::Perf,
        folded,
        kind: "cpu",
        unit: "nanoseconds".into(),
        samples,
        elapsed,
        pid,
        partial,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "burn  5218   195.599793:   10101010 cpu-clock:ppp: \n\
\t            1188 leaf_sqrt+0x3f (/tmp/burn)\n\
\t            11a0 main+0x10 (/tmp/burn)\n\
\n\
burn  5218   195.609843:   10101010 cpu-clock:ppp: \n\
\t            1188 leaf_sqrt+0x3f (/tmp/burn)\n\
\t            11a0 main+0x10 (/tmp/burn)\n\
\n\
burn  5218   195.619957:   10101010 cpu-clock:ppp: \n\
\t            11a0 main+0x10 (/tmp/burn)\n\
\n";

    #[test]
    fn folds_perf_script_weighing_by_period() {
        let f = collapse(SCRIPT.as_bytes()).unwrap();
        assert_eq!(
            f.lines().collect::<Vec<_>>(),
            vec!["burn;main 10101010", "burn;main;leaf_sqrt 20202020"]
        );
        assert_eq!(count_events(SCRIPT.as_bytes()), 3);
    }

    #[test]
    fn record_args_pick_the_unwinder() {
        assert_eq!(
            record_args(&[9], 99, CallGraph::Dwarf, "p.data").join(" "),
            "record -e cpu-clock -F 99 --call-graph dwarf,16384 -p 9 -o p.data"
        );
        assert_eq!(
            record_args(&[9, 12], 49, CallGraph::Fp, "o").join(" "),
            "record -e cpu-clock -F 49 -g -p 9,12 -o o"
        );
    }

    #[test]
    fn explains_paranoid_refusal() {
        let m = explain(
            "Error:\nAccess to performance monitoring and observability operations is limited.",
            12,
            Some(3),
        );
        assert!(
            m.contains("perf_event_paranoid is 3") && m.contains("CAP_PERFMON"),
            "{m}"
        );
        assert!(explain("Error: no such process", 12, None).contains("exited before"));
    }
}
