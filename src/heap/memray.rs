//! Python heap profiles with memray: `memray attach` starts tracking inside
//! each Python process of the target (through gdb), `memray detach` ends it
//! at the window's end, and memray's own reader (a small script run with
//! the target's interpreter, [`FOLD_SCRIPT`]) folds the allocations still
//! held into stacks weighed by bytes. Tracking that starts at the window
//! makes those the bytes allocated in the window and not freed by its end:
//! the retained profile, by construction.
//!
//! Captures are aggregated inside the target (`--aggregate`): memray keeps
//! a table of what is held by stack and writes it when tracking ends, a
//! few KiB, read in a fraction of a second. A streamed capture records
//! every allocation and free instead (20 MB a second from a busy program,
//! and a minute to read back); what it would add is a capture of a process
//! killed outright, which writes no aggregate. A process that exits in the
//! window on its own (its interpreter shutting down) still writes it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cancel::StopToken;
use crate::flame::{FlameError, Folded, detect, process};

/// memray's reader, run with the target's interpreter.
const FOLD_SCRIPT: &str = include_str!("memray_fold.py");
/// How long one attach or detach may take (gdb stops the process, injects, resumes).
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long reading the captures may take.
const FOLD_TIMEOUT: Duration = Duration::from_secs(600);
/// A process loadprof has just started may not have an interpreter ready yet.
const FRESH_WINDOW: Duration = Duration::from_secs(5);

/// One Python process being tracked.
struct Tracked {
    pid: u32,
    label: String,
    file: PathBuf,
}

/// Tracking in progress.
pub struct Running {
    dir: tempfile::TempDir,
    python: PathBuf,
    tracked: Vec<Tracked>,
    pub notes: Vec<String>,
}

/// What the captures held.
pub struct Folding {
    pub folded: Folded,
    pub allocations: u64,
    pub notes: Vec<String>,
    pub partial: Option<String>,
}

/// The Python processes of a target: the process itself if it runs Python,
/// and every Python process below it (gunicorn's and uvicorn's workers).
pub fn python_processes(root: u32) -> Vec<u32> {
    std::iter::once(root)
        .chain(process::descendants(root))
        .filter(|&p| detect::pid_is_python(p))
        .collect()
}

/// `pid 12: gunicorn app:app`: the root frame of a process's stacks, the
/// interpreter's path cut to its name, at most 100 characters.
fn label(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut parts = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let program = parts.next().unwrap_or_default();
    let program = program.rsplit('/').next().unwrap_or(&program).to_string();
    let mut text = std::iter::once(program).chain(parts).collect::<Vec<_>>().join(" ");
    if text.chars().count() > 100 {
        text = text.chars().take(99).collect::<String>() + "…";
    }
    text.replace([';', '\n', '\r'], " ")
}

/// Interpreters that might run memray for `pid`, likeliest first: the one
/// on its command line (a virtualenv's `bin/python` keeps the venv, where
/// `/proc/PID/exe` resolves to the base interpreter), its `VIRTUAL_ENV`,
/// its executable, and `python3` on PATH.
fn candidate_interpreters(pid: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if let Some(argv0) = raw
        .split(|&b| b == 0)
        .next()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        && argv0.starts_with('/')
        && detect::is_python_name(argv0.rsplit('/').next().unwrap_or_default())
    {
        out.push(PathBuf::from(argv0));
    }
    if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ"))
        && let Some(venv) = env.split(|&b| b == 0).find_map(|kv| kv.strip_prefix(b"VIRTUAL_ENV="))
    {
        out.push(Path::new(&*String::from_utf8_lossy(venv)).join("bin/python"));
    }
    if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        out.push(exe);
    }
    if let Some(p) = detect::which("python3") {
        out.push(p);
    }
    out.dedup();
    out
}

/// Runs a short helper command to its end, output captured.
fn helper(cmd: Command, timeout: Duration, stop: &StopToken) -> Result<process::Finished, FlameError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    process::run(cmd, process::Output::Capture, Some(Instant::now() + timeout), stop)
        .map_err(|e| FlameError::CannotProfile(format!("cannot run {program}: {e}")))
}

/// The first interpreter that can import memray.
fn find_interpreter(pid: u32, stop: &StopToken) -> Result<PathBuf, FlameError> {
    let candidates = candidate_interpreters(pid);
    for python in &candidates {
        if !python.is_file() {
            continue;
        }
        let mut cmd = Command::new(python);
        cmd.args(["-c", "import memray"]);
        if helper(cmd, ATTACH_TIMEOUT, stop)?.status.success() {
            return Ok(python.clone());
        }
    }
    let first = candidates
        .first()
        .map_or_else(|| "python3".to_string(), |p| p.display().to_string());
    Err(FlameError::CannotProfile(format!(
        "memray is not installed for the target's Python ({first}): `{first} -m pip install memray` \
         (it must be importable inside the target, which loads it when tracking starts)"
    )))
}

/// Why `memray attach` failed, with the fix.
fn explain_attach(pid: u32, output: &str) -> String {
    let lower = output.to_ascii_lowercase();
    let tail = process::tail(output, 4);
    if lower.contains("operation not permitted") || lower.contains("ptrace") && lower.contains("denied") {
        return format!(
            "gdb may not attach to pid {pid} (ptrace refused): run loadprof as root or as the target's user, \
             or allow it with `sysctl kernel.yama.ptrace_scope=0`; in a container, add CAP_SYS_PTRACE"
        );
    }
    if lower.contains("no module named 'memray'") {
        return format!(
            "pid {pid} cannot import memray: install it into the Python environment the target runs in \
             (`pip install memray` there) and restart it"
        );
    }
    if lower.contains("no debugger") || lower.contains("gdb") && lower.contains("not found") {
        return "memray attaches through gdb, which is not installed: `apt-get install gdb`".into();
    }
    format!("memray could not attach to pid {pid}:\n  {tail}")
}

/// Starts tracking in every Python process of `root`, with no time limit:
/// memray's `--duration` keeps a thread waiting in the target that holds
/// off its exit, so tracking ends only when [`Running::finish`] detaches
/// (or the process exits). `fresh`: loadprof has just started the target,
/// so a failed attach is retried while the interpreter starts.
pub fn start(root: u32, fresh: bool, stop: &StopToken) -> Result<Running, FlameError> {
    let first_try = Instant::now();
    let pids = loop {
        let pids = python_processes(root);
        if !pids.is_empty() || !fresh || first_try.elapsed() > FRESH_WINDOW {
            break pids;
        }
        stop.wait_until(Instant::now() + Duration::from_millis(100));
    };
    if pids.is_empty() {
        return Err(FlameError::CannotProfile(format!(
            "pid {root} runs no Python, so memray cannot profile it: for a Go service give --pprof URL, \
             for native code start it under loadprof with --profiler jemalloc"
        )));
    }
    if let Some(&pid) = pids.iter().find(|&&p| detect::foreign(p)) {
        return Err(FlameError::CannotProfile(explain_attach(
            pid,
            "ptrace: Operation not permitted.",
        )));
    }
    if detect::which("gdb").is_none() {
        return Err(FlameError::CannotProfile(
            "memray attaches to a running Python through gdb, which is not installed: `apt-get install gdb`".into(),
        ));
    }
    let python = find_interpreter(pids[0], stop)?;
    let dir = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let mut running = Running {
        dir,
        python,
        tracked: Vec::new(),
        notes: Vec::new(),
    };
    let mut failures = Vec::new();
    for pid in pids {
        let file = running.dir.path().join(format!("{pid}.bin"));
        loop {
            let mut cmd = Command::new(&running.python);
            cmd.args(["-m", "memray", "attach", &pid.to_string(), "--aggregate", "-f", "-o"])
                .arg(&file);
            let run = helper(cmd, ATTACH_TIMEOUT, stop)?;
            let output = run.output();
            let failed =
                !run.status.success() || output.contains("Failed to start tracking") || output.contains("Error");
            if !failed {
                running.tracked.push(Tracked {
                    pid,
                    label: label(pid),
                    file,
                });
                break;
            }
            if fresh && first_try.elapsed() < FRESH_WINDOW && stop.reason().is_none() {
                stop.wait_until(Instant::now() + Duration::from_millis(300));
                continue;
            }
            failures.push(explain_attach(pid, &output));
            break;
        }
        if stop.reason().is_some() {
            break;
        }
    }
    if running.tracked.is_empty() {
        return Err(FlameError::CannotProfile(
            failures
                .into_iter()
                .next()
                .unwrap_or_else(|| "interrupted before memray attached".into()),
        ));
    }
    running.notes.extend(failures);
    Ok(running)
}

impl Running {
    /// The pids being tracked.
    pub fn pids(&self) -> Vec<u32> {
        self.tracked.iter().map(|t| t.pid).collect()
    }

    /// Ends tracking in every process still alive and folds the captures.
    pub fn finish(self, stop: &StopToken) -> Result<Folding, FlameError> {
        let mut notes = self.notes;
        let mut partial = Vec::new();
        // Detaching must happen even after a stop request: tracking would
        // otherwise go on in the target until its time limit.
        let detach_stop = StopToken::new();
        for t in &self.tracked {
            let alive = crate::sample::process::stat_once(t.pid, |st| !st.is_dead()).unwrap_or(false);
            if !alive {
                partial.push(format!(
                    "pid {} exited during the window; its capture ends there",
                    t.pid
                ));
                continue;
            }
            let mut cmd = Command::new(&self.python);
            cmd.args(["-m", "memray", "detach", &t.pid.to_string()]);
            let run = helper(cmd, ATTACH_TIMEOUT, &detach_stop)?;
            if !run.status.success() {
                notes.push(format!(
                    "memray detach {} failed ({}); its capture may end early",
                    t.pid,
                    process::tail(&run.output(), 2)
                ));
            }
        }
        let out = self.dir.path().join("heap.folded");
        let mut cmd = Command::new(&self.python);
        cmd.current_dir(self.dir.path()).arg("-c").arg(FOLD_SCRIPT).arg(&out);
        for t in &self.tracked {
            let name = t.file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            cmd.arg(format!("{name}:{}:{}", t.pid, t.label));
        }
        let run = helper(cmd, FOLD_TIMEOUT, stop)?;
        let mut allocations = 0u64;
        let mut read_any = false;
        for line in run.stdout.lines() {
            let mut words = line.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("ok"), Some(_), Some(rest)) => {
                    read_any = true;
                    allocations += rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
                }
                (Some("error"), Some(pid), Some(why)) => {
                    partial.push(format!("pid {pid}'s capture could not be read: {why}"));
                }
                _ => {}
            }
        }
        if !read_any {
            let why = if run.interrupted {
                "interrupted while reading memray's captures".to_string()
            } else if partial.is_empty() {
                format!(
                    "memray's captures could not be read:\n  {}",
                    process::tail(&run.output(), 6)
                )
            } else {
                partial.join("; ")
            };
            return Err(FlameError::CannotProfile(why));
        }
        let text = crate::files::read_text_bounded(&out, crate::files::FOLDED_LIMIT, "memray's folded stacks")
            .map_err(|e| FlameError::CannotProfile(e.to_string()))?;
        let folded = Folded::parse_owned(text)
            .map_err(|e| FlameError::CannotProfile(format!("memray's stacks could not be read: {e}")))?;
        Ok(Folding {
            folded,
            allocations,
            notes,
            partial: (!partial.is_empty()).then(|| partial.join("; ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_failures_name_the_fix() {
        assert!(explain_attach(5, "ptrace: Operation not permitted.").contains("ptrace_scope"));
        assert!(
            explain_attach(
                5,
                "Failed to start tracking in remote process: ModuleNotFoundError(\"No module named 'memray'\")"
            )
            .contains("pip install memray")
        );
        assert!(explain_attach(5, "something else\nbroke").contains("broke"));
    }

    #[test]
    fn labels_are_one_frame() {
        let l = label(std::process::id());
        assert!(!l.is_empty() && !l.contains(';') && l.chars().count() <= 100, "{l}");
    }
}
