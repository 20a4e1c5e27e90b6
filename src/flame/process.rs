//! Running a profiler as a child process: in its own process group (so a
//! terminal's Ctrl-C reaches loadprof, which stops it in order), killed if
//! loadprof dies, its output drained on threads, and stopped with SIGINT
//! (which py-spy and perf both answer by writing what they have) at a
//! deadline or on a stop.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::StopToken;

/// How much of each output stream is kept (the end of it).
const KEEP: usize = 64 << 10;
/// How long a profiler may take to write its output after SIGINT.
const WRITE_GRACE: Duration = Duration::from_secs(30);
/// How long to wait for the output pipes to close after the profiler
/// exits (a process it started may still hold them).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// A finished profiler run.
pub struct Finished {
    /// The profiler's pid, which also names its process group.
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// loadprof stopped it (deadline or stop token) rather than it ending.
    pub signalled: bool,
    /// The stop token fired while it ran.
    pub interrupted: bool,
    /// With [`Output::Data`]: stdout went past its limit (only the start is kept).
    pub truncated: bool,
}

impl Finished {
    /// Both streams, for matching error messages.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Makes `cmd` a helper loadprof owns: its own process group, and SIGTERM
/// when loadprof goes away, so a profiler never outlives it.
pub fn isolate(cmd: &mut Command) -> &mut Command {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            Ok(())
        })
    }
}

/// A stream read by a thread until it closes: its tail (for messages), or
/// its start up to a limit (for data).
struct Drain {
    kept: Arc<Mutex<(Vec<u8>, bool)>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Drain {
    /// `head`: keep the first this many bytes (and note more); `None`: the
    /// last [`KEEP`].
    fn start(mut r: impl Read + Send + 'static, head: Option<usize>) -> Drain {
        let kept = Arc::new(Mutex::new((Vec::new(), false)));
        let (tx, done) = std::sync::mpsc::channel();
        let sink = kept.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut k = sink.lock().unwrap_or_else(|e| e.into_inner());
                        let (data, over) = &mut *k;
                        match head {
                            Some(limit) => {
                                let room = limit.saturating_sub(data.len());
                                data.extend_from_slice(&buf[..n.min(room)]);
                                *over |= n > room;
                            }
                            None => {
                                data.extend_from_slice(&buf[..n]);
                                if data.len() > 2 * KEEP {
                                    let cut = data.len() - KEEP;
                                    data.drain(..cut);
                                }
                            }
                        }
                    }
                }
            }
            let _ = tx.send(());
        });
        Drain { kept, done }
    }

    /// What was read, and whether more came than was kept, waiting at most
    /// until `until` for the stream to close.
    fn finish(self, until: Instant) -> (String, bool) {
        let _ = self.done.recv_timeout(until.saturating_duration_since(Instant::now()));
        let k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (String::from_utf8_lossy(&k.0).into_owned(), k.1)
    }
}

/// Signals every process in the group `pgid` leads.
pub fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions; an empty group gives ESRCH.
    unsafe { libc::kill(-(pgid as libc::pid_t), sig) };
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory preconditions; a reaped pid gives ESRCH.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// Where a profiler's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Kept (the end of it) for error messages.
    Capture,
    /// stdout is the helper's result: its first this many bytes are kept
    /// (`Finished::truncated` says when there was more); stderr as with
    /// `Capture`.
    Data(usize),
    /// To loadprof's stderr, as it comes: for a profiler that runs the
    /// target itself, whose output the user should see.
    Stderr,
}

/// Runs `cmd` until it exits, sending SIGINT at `deadline` (if any) or when
/// `stop` fires, and SIGKILL if it has not finished writing after that.
pub fn run(mut cmd: Command, output: Output, deadline: Option<Instant>, stop: &StopToken) -> std::io::Result<Finished> {
    isolate(&mut cmd).stdin(Stdio::null());
    match output {
        Output::Capture | Output::Data(_) => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
        Output::Stderr => cmd.stdout(std::io::stderr()).stderr(std::io::stderr()),
    };
    let mut child = cmd.spawn()?;
    let head = match output {
        Output::Data(limit) => Some(limit),
        _ => None,
    };
    let out = child.stdout.take().map(|r| Drain::start(r, head));
    let err = child.stderr.take().map(|r| Drain::start(r, None));
    let mut signalled_at: Option<Instant> = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let now = Instant::now();
        match signalled_at {
            None => {
                if stop.reason().is_some() || deadline.is_some_and(|d| now >= d) {
                    signal(&child, libc::SIGINT);
                    signalled_at = Some(now);
                    continue;
                }
                let next = now + Duration::from_millis(50);
                stop.wait_until(deadline.map_or(next, |d| d.min(next)));
            }
            Some(at) => {
                if now.duration_since(at) > WRITE_GRACE {
                    signal(&child, libc::SIGKILL);
                    break child.wait()?;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let until = Instant::now() + DRAIN_GRACE;
    let (stdout, truncated) = out.map(|d| d.finish(until)).unwrap_or_default();
    Ok(Finished {
        pid: child.id(),
        status,
        stdout,
        stderr: err.map(|d| d.finish(until).0).unwrap_or_default(),
        signalled: signalled_at.is_some(),
        interrupted: stop.reason().is_some(),
        truncated,
    })
}

/// The last non-empty lines of a profiler's output, for an error message.
pub fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join("\n  ")
}

/// The processes below `pid` (children, their children, …), from one scan
/// of /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces or ')').
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse::<u32>().ok()) {
            children.entry(ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if !out.contains(&c) && c != pid {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_grandchild() {
        let mut child = Command::new("sh").args(["-c", "sleep 5 & wait"]).spawn().unwrap();
        let me = std::process::id();
        let mut found = Vec::new();
        for _ in 0..100 {
            found = descendants(me);
            if found.len() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("pkill").args(["-P", &child.id().to_string()]).status();
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
        assert!(found.len() >= 2, "the sleep below sh: {found:?}");
    }

    #[test]
    fn a_profiler_that_ignores_sigint_is_killed_and_a_held_pipe_does_not_hang() {
        // The shell starts a sleep that keeps the pipes open after it exits.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' INT; (sleep 31.7 &) ; echo started; exec sleep 0.2"]);
        let t0 = Instant::now();
        let f = run(
            cmd,
            Output::Capture,
            Some(Instant::now() + Duration::from_secs(5)),
            &StopToken::new(),
        )
        .unwrap();
        assert!(f.stdout.contains("started"));
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
        let _ = Command::new("pkill").args(["-f", "^sleep 31.7$"]).status();
    }

    #[test]
    fn data_output_is_kept_whole_up_to_its_limit_and_messages_keep_their_tail() {
        // 300 000 bytes: more than a message's tail keeps.
        let script = "i=0; while [ $i -lt 3000 ]; do printf '%099d\\n' $i; i=$((i+1)); done";
        let out = |output| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]);
            run(cmd, output, None, &StopToken::new()).unwrap()
        };
        let whole = out(Output::Data(1 << 20));
        assert_eq!(whole.stdout.len(), 300_000);
        assert!(!whole.truncated && whole.stdout.starts_with("000"));
        let cut = out(Output::Data(1000));
        assert_eq!(cut.stdout.len(), 1000);
        assert!(cut.truncated);
        let tail = out(Output::Capture);
        assert!(tail.stdout.len() < 300_000 && tail.stdout.ends_with("2999\n"));
    }
}
