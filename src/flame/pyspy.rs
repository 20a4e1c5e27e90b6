//! py-spy: samples Python stacks from outside the process (ptrace and
//! process_vm_readv), `record --format raw` gives folded stacks directly.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{Capture, CaptureSpec, FlameError, Folded, Profiler, Source, detect, process};
use crate::cancel::StopToken;

/// The program to run; `LOADPROF_PY_SPY` points at another one.
fn program() -> String {
    std::env::var("LOADPROF_PY_SPY").unwrap_or_else(|_| "py-spy".into())
}

/// py-spy's arguments for a capture into `out`.
pub fn args(spec: &CaptureSpec, native: bool, out: &str) -> Vec<String> {
    let secs = spec.duration.as_secs_f64().ceil().max(1.0) as u64;
    let mut a: Vec<String> = vec![
        "record".into(),
        "--format".into(),
        "raw".into(),
        "--output".into(),
        out.into(),
        "--rate".into(),
        spec.rate_hz.unwrap_or(100).to_string(),
        "--duration".into(),
        secs.to_string(),
    ];
    if spec.subprocesses {
        a.push("--subprocesses".into());
    }
    if spec.nonblocking {
        a.push("--nonblocking".into());
    }
    if native {
        a.push("--native".into());
    }
    match &spec.source {
        Source::Pid(pid) => a.extend(["--pid".into(), pid.to_string()]),
        Source::Command(argv) => {
            a.push("--".into());
            a.extend(argv.iter().cloned());
        }
        Source::Pprof(_) => unreachable!("pprof sources never reach py-spy"),
    }
    a
}

/// What went wrong, read from py-spy's output, as a message naming the fix.
/// `refused`: the target belongs to another user (and loadprof is not root).
pub fn explain(output: &str, spec: &CaptureSpec, refused: bool) -> String {
    let target = match &spec.source {
        Source::Pid(pid) => format!("pid {pid}"),
        Source::Command(argv) => format!("'{}'", argv.join(" ")),
        Source::Pprof(u) => u.clone(),
    };
    let lower = output.to_ascii_lowercase();
    if lower.contains("permission denied") || lower.contains("operation not permitted") || refused {
        return format!(
            "py-spy may not read {target}'s memory (ptrace refused). Run loadprof as the same user as the target or as root; \
             check `sysctl kernel.yama.ptrace_scope` (0 or 1 lets a user profile its own processes); in Docker add \
             `--cap-add SYS_PTRACE` (Kubernetes: securityContext.capabilities.add [SYS_PTRACE])"
        );
    }
    if lower.contains("no python processes found")
        || lower.contains("failed to find python version")
        || lower.contains("failed to find a python interpreter")
        || lower.contains("failed to get process executable")
    {
        return format!(
            "py-spy found no Python interpreter in {target}: it is not a Python process (or not yet one); \
             use --profiler perf for native code"
        );
    }
    if lower.contains("no such file or directory") && matches!(spec.source, Source::Command(_)) {
        return format!("py-spy could not start {target}: no such program");
    }
    format!("py-spy failed on {target}:\n  {}", process::tail(output, 6))
}

/// How long to keep attaching to a command loadprof just started, while
/// its interpreter is still starting.
const ATTACH_WINDOW: Duration = Duration::from_secs(5);

/// True when py-spy's output says it found no interpreter (yet).
fn no_interpreter(output: &str) -> bool {
    let lower = output.to_ascii_lowercase();
    lower.contains("no python processes found")
        || lower.contains("failed to find python version")
        || lower.contains("failed to find a python interpreter")
}

/// Records the process `spec` names (a pid) with py-spy. `--native` that
/// py-spy cannot merge (Python 3.12.1 and others) is retried without native
/// frames, and said so. `fresh`: loadprof has just started the process, so
/// an interpreter that is not found yet is waited for.
pub fn capture(spec: &CaptureSpec, stop: &StopToken, fresh: bool) -> Result<Capture, FlameError> {
    let Source::Pid(pid) = spec.source else {
        unreachable!("py-spy is given a pid");
    };
    let dir = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let out = dir.path().join("py-spy.folded");
    let out_s = out.display().to_string();
    let mut native = spec.native;
    let mut notes = Vec::new();
    let first = Instant::now();
    loop {
        let t0 = Instant::now();
        let mut cmd = Command::new(program());
        cmd.args(args(spec, native, &out_s));
        // py-spy's errors carry a stack trace when these are set.
        cmd.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
        // py-spy stops itself after --duration; the deadline is a backstop.
        let deadline = t0 + spec.duration + Duration::from_secs(20);
        let run = process::run(cmd, process::Output::Capture, Some(deadline), stop).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FlameError::CannotProfile(
                    "py-spy is not installed: `pip install py-spy` (or point LOADPROF_PY_SPY at it); \
                     for native targets use --profiler perf"
                        .into(),
                )
            } else {
                FlameError::CannotProfile(format!("cannot run py-spy: {e}"))
            }
        })?;
        let output = run.output();
        let text = std::fs::read_to_string(&out).ok();
        if text.is_none() || !run.status.success() && !run.signalled {
            if run.interrupted {
                let mut c = Capture::empty(
                    Profiler::PySpy,
                    spec,
                    t0.elapsed(),
                    "interrupted before py-spy wrote a profile",
                );
                c.notes = notes;
                return Ok(c);
            }
            if native && output.contains("Failed to merge native and python frames") {
                native = false;
                notes.push(
                    "py-spy could not merge native and Python frames for this interpreter; \
                     the graph has Python frames only"
                        .to_string(),
                );
                continue;
            }
            let alive = crate::sample::process::stat_once(pid, |st| !st.is_dead()).unwrap_or(false);
            if fresh && alive && no_interpreter(&output) && first.elapsed() < ATTACH_WINDOW {
                stop.wait_until(Instant::now() + Duration::from_millis(100));
                continue;
            }
            return Err(FlameError::CannotProfile(explain(&output, spec, detect::foreign(pid))));
        }
        let folded = Folded::parse(&join_broken_lines(
            text.as_deref().unwrap_or_default(),
            spec.subprocesses,
        ))
        .map(|f| one_root_per_process(&f))
        .map_err(|e| FlameError::CannotProfile(format!("py-spy wrote an unreadable profile: {e}")))?;
        let elapsed = t0.elapsed();
        let partial = if run.interrupted {
            Some(format!("interrupted after {:.1}s", elapsed.as_secs_f64()))
        } else if output.contains("Stopped sampling because process exited") {
            Some(format!(
                "the target exited after {:.1}s; the profile covers only that time",
                elapsed.as_secs_f64()
            ))
        } else {
            None
        };
        if spec.nonblocking {
            notes.push("--nonblocking: the target was not paused while sampled, so a few stacks may be torn".into());
        }
        if let Some(errors) = sampling_errors(&output)
            && errors > 0
        {
            notes.push(format!("py-spy failed to read {errors} samples"));
        }
        return Ok(Capture {
            profiler: Profiler::PySpy,
            samples: folded.total(),
            folded,
            kind: "cpu",
            unit: "samples".into(),
            elapsed,
            pid: Some(pid),
            partial,
            notes,
        });
    }
}

/// py-spy writes a process's command line into its root frame as it is,
/// so a command line with line breaks (`python -c "…"`) splits a stack over
/// several lines. With `--subprocesses` every stack starts with a
/// `process PID:"` frame (or is ` COUNT`, an empty stack), so any other line
/// continues the one before it. Without it there are no command lines, and
/// the text is left alone.
pub fn join_broken_lines(text: &str, subprocesses: bool) -> String {
    if !subprocesses {
        return text.to_string();
    }
    let starts_record = |l: &str| {
        l.strip_prefix("process ").is_some_and(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(":\"")
        }) || l
            .strip_prefix(' ')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut out = String::with_capacity(text.len() + 1);
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push(if starts_record(line) { '\n' } else { ' ' });
        }
        out.push_str(line);
    }
    out.push('\n');
    out
}

/// The root frame for a process: `pid 1234: python3 -m gunicorn app:app`,
/// the interpreter's path cut to its name and the whole kept short, so the
/// pid stays readable in a narrow bar.
fn process_frame(frame: &str) -> Option<String> {
    let rest = frame.strip_prefix("process ")?;
    let (pid, cmd) = rest.split_once(':')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cmd = cmd.trim().trim_matches('"');
    let (program, args) = cmd.split_once(' ').unwrap_or((cmd, ""));
    let program = program.rsplit('/').next().unwrap_or(program);
    let mut label = format!("pid {pid}: {program}");
    if !args.is_empty() {
        label.push(' ');
        label.push_str(args);
    }
    if label.chars().count() > 100 {
        label = label.chars().take(99).collect::<String>() + "…";
    }
    Some(label)
}

/// py-spy's `--subprocesses` roots each stack at every ancestor process
/// (`process MASTER;process WORKER;…`). Keeping only the innermost one
/// makes every process, gunicorn's or uvicorn's workers included, a root of
/// its own, named by its pid and command line.
pub fn one_root_per_process(folded: &Folded) -> Folded {
    Folded::from_pairs(folded.iter().map(|(stack, count)| {
        let frames: Vec<&str> = stack.split(';').collect();
        let leading = frames.iter().take_while(|f| process_frame(f).is_some()).count();
        let stack = match leading.checked_sub(1).and_then(|i| process_frame(frames[i])) {
            Some(root) => {
                let mut s = super::folded::join_frames([root.as_str()]);
                for f in &frames[leading..] {
                    s.push(';');
                    s.push_str(f);
                }
                s
            }
            None => stack.to_string(),
        };
        (stack, count)
    }))
}

/// The `Errors: N` count from py-spy's summary line.
fn sampling_errors(output: &str) -> Option<u64> {
    let at = output.rfind("Errors: ")?;
    output[at + 8..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: Source) -> CaptureSpec {
        CaptureSpec::new(source, Duration::from_millis(2500))
    }

    #[test]
    fn args_for_a_pid_follow_workers_and_round_the_duration_up() {
        let mut s = spec(Source::Pid(42));
        s.nonblocking = true;
        s.rate_hz = Some(250);
        let a = args(&s, false, "/tmp/o");
        let joined = a.join(" ");
        assert_eq!(
            joined,
            "record --format raw --output /tmp/o --rate 250 --duration 3 --subprocesses --nonblocking --pid 42"
        );
    }

    #[test]
    fn args_for_a_command_spawn_it() {
        let mut s = spec(Source::Command(vec!["python3".into(), "app.py".into()]));
        s.subprocesses = false;
        let a = args(&s, true, "o");
        assert!(
            a.ends_with(&["--native".into(), "--".into(), "python3".into(), "app.py".into()]),
            "{a:?}"
        );
    }

    #[test]
    fn explains_ptrace_refusal_with_the_fixes() {
        let m = explain(
            "Permission Denied: Try running again with elevated permissions",
            &spec(Source::Pid(7)),
            false,
        );
        assert!(
            m.contains("ptrace_scope") && m.contains("SYS_PTRACE") && m.contains("pid 7"),
            "{m}"
        );
    }

    #[test]
    fn explains_a_non_python_target() {
        let m = explain(
            "Error: Failed to find python version from target process",
            &spec(Source::Pid(7)),
            false,
        );
        assert!(m.contains("--profiler perf"), "{m}");
        let m = explain("Error: something odd\nmore\n", &spec(Source::Pid(7)), false);
        assert!(m.contains("something odd"), "{m}");
        // Another user's process: py-spy only says it found no Python.
        let m = explain(
            "Error: No python processes found in process 7 or any of its subprocesses",
            &spec(Source::Pid(7)),
            true,
        );
        assert!(m.contains("ptrace"), "{m}");
    }

    #[test]
    fn a_command_line_with_line_breaks_stays_in_its_stack() {
        let raw = "process 7:\"python3 -c \nimport math\nwhile True: f()\";<module> (<string>:3) 5\nprocess 7:\"x\";g (a.py:1) 2\n";
        let f = Folded::parse(&join_broken_lines(raw, true)).unwrap();
        assert_eq!(f.total(), 7);
        assert_eq!(f.len(), 2);
        assert_eq!(f.weight_of("<module> (<string>:3)"), 5);
    }

    #[test]
    fn a_command_line_line_ending_in_a_number_does_not_end_the_stack() {
        let raw = "process 7:\"python3 -c import math\nn = 3\nwhile True: math.sqrt(n)\";<module> (<string>:3) 5\n 2\n";
        let f = Folded::parse(&join_broken_lines(raw, true)).unwrap();
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f.weight_of("<module> (<string>:3)"), 5);
        assert_eq!(f.weight_of("[unknown]"), 2);
        assert_eq!(join_broken_lines("a (x.py:1) 3\n", false), "a (x.py:1) 3\n");
    }

    #[test]
    fn every_process_is_a_root_of_its_own() {
        let raw = "process 10:\"/usr/bin/python3 -m gunicorn -w 2 app:app\";process 11:\"/usr/bin/python3 -m gunicorn -w 2 app:app\";handle (app.py:3) 5\n\
process 10:\"/usr/bin/python3 -m gunicorn -w 2 app:app\";process 12:\"/usr/bin/python3 -m gunicorn -w 2 app:app\";handle (app.py:3) 4\n\
process 10:\"/usr/bin/python3 -m gunicorn -w 2 app:app\";sleep (arbiter.py:9) 1\n\
plain;frames 2\n";
        let f = one_root_per_process(&Folded::parse(raw).unwrap());
        let mut roots: Vec<&str> = f.iter().map(|(s, _)| s.split(';').next().unwrap()).collect();
        roots.dedup();
        assert_eq!(
            roots,
            vec![
                "pid 10: python3 -m gunicorn -w 2 app:app",
                "pid 11: python3 -m gunicorn -w 2 app:app",
                "pid 12: python3 -m gunicorn -w 2 app:app",
                "plain",
            ]
        );
        assert_eq!(f.total(), 12);
        let long = format!("process 5:\"/x/python3 {}\"", "a".repeat(300));
        assert_eq!(process_frame(&long).unwrap().chars().count(), 100);
        assert_eq!(process_frame("process x:\"y\""), None);
    }

    #[test]
    fn reads_the_error_count() {
        assert_eq!(
            sampling_errors("Wrote raw flamegraph data to 'x'. Samples: 199 Errors: 3\n"),
            Some(3)
        );
        assert_eq!(sampling_errors("nothing"), None);
    }
}
