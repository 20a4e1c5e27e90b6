//! Running a profiler as a child process: its output drained on threads so
//! a chatty target cannot block it, stopped with SIGINT (which py-spy and
//! perf both answer by writing what they have) at a deadline or on a stop.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::StopToken;

/// How much of each output stream is kept (the end of it).
const KEEP: usize = 64 << 10;
/// How long a profiler may take to write its output after SIGINT.
const WRITE_GRACE: Duration = Duration::from_secs(30);

/// A finished profiler run.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// loadprof stopped it (deadline or stop token) rather than it ending.
    pub signalled: bool,
    /// The stop token fired while it ran.
    pub interrupted: bool,
}

impl Finished {
    /// Both streams, for matching error messages.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * KEEP {
                        kept.drain(..kept.len() - KEEP);
                    }
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory preconditions; a reaped pid gives ESRCH.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// Runs `cmd` until it exits, sending SIGINT at `deadline` (if any) or when
/// `stop` fires, and SIGKILL if it has not finished writing after that.
pub fn run(mut cmd: Command, deadline: Option<Instant>, stop: &StopToken) -> std::io::Result<Finished> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = drain(child.stdout.take().expect("piped"));
    let err = drain(child.stderr.take().expect("piped"));
    let mut signalled_at: Option<Instant> = None;
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let now = Instant::now();
        match signalled_at {
            None => {
                let stopped = stop.reason().is_some();
                if stopped || deadline.is_some_and(|d| now >= d) {
                    interrupted = stopped;
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
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        signalled: signalled_at.is_some(),
        interrupted,
    })
}

/// The last non-empty lines of a profiler's output, for an error message.
pub fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join("\n  ")
}
