//! Finding the process to sample: an existing pid, a name pattern, or a
//! command loadprof starts and owns.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use regex::Regex;

use super::process;
use super::procfs;

/// What the user asked to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Pid(u32),
    /// A regular expression matched against process names and command lines.
    Name(String),
    /// A program and its arguments, started by loadprof.
    Command(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--pid {0}: no such process; pass the pid of a running process (e.g. from `pgrep -f NAME`)")]
    NoSuchPid(u32),
    #[error("--name '{pattern}': not a valid regular expression: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error(
        "--name '{0}': no running process matches (the pattern is a regular expression matched against each process's name and command line)"
    )]
    NoMatch(String),
    #[error("--name '{pattern}' matches {count} separate process trees; sample one of them with --pid PID:\n{list}")]
    Ambiguous {
        pattern: String,
        count: usize,
        list: String,
    },
    /// Not a `source`: the message already says it, once.
    #[error("cannot start '{program}': {}", spawn_reason(.error))]
    Spawn { program: String, error: io::Error },
}

fn spawn_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such program (is it installed and on PATH?)".into(),
        io::ErrorKind::PermissionDenied => "permission denied (is it executable?)".into(),
        _ => e.to_string(),
    }
}

impl TargetError {
    /// True when the user's input was wrong (exit 2); false when the
    /// target could not be started (exit 3).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, TargetError::Spawn { .. })
    }
}

/// How a target process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl From<ExitStatus> for ExitInfo {
    fn from(s: ExitStatus) -> ExitInfo {
        ExitInfo {
            code: s.code(),
            signal: s.signal(),
        }
    }
}

/// A resolved target: the root of the tree to sample.
pub struct Target {
    pub pid: u32,
    pub command: String,
    /// Set when loadprof started the target and must reap (and may stop) it.
    child: Option<Child>,
    /// The target leads its own process group, and stopping it stops the
    /// whole group.
    own_group: bool,
}

impl Target {
    /// Finds an existing process (`Pid`, `Name`). A `Command` target is
    /// started by [`Target::spawn`] instead, once the outputs are ready.
    pub fn find(spec: &TargetSpec) -> Result<Option<Target>, TargetError> {
        let pid = match spec {
            TargetSpec::Pid(pid) => {
                let alive = process::stat_once(*pid, |st| !st.is_dead()).unwrap_or(false);
                if !alive {
                    return Err(TargetError::NoSuchPid(*pid));
                }
                *pid
            }
            TargetSpec::Name(pattern) => find_by_name(pattern)?,
            TargetSpec::Command(_) => return Ok(None),
        };
        Ok(Some(Target {
            pid,
            command: command_of(pid),
            child: None,
            own_group: false,
        }))
    }

    /// Starts `argv` as a child. loadprof becomes a child subreaper first, so
    /// processes that double-fork away from the target are re-parented to
    /// loadprof and stay in the sampled tree.
    pub fn spawn(argv: &[String]) -> Result<Target, TargetError> {
        Target::spawn_with(argv, std::process::Stdio::inherit(), false)
    }

    /// [`Target::spawn`] with the target's standard output sent to `stdout`
    /// (e.g. loadprof's stderr, when loadprof's stdout carries JSON), and,
    /// with `own_group`, in a process group of its own that
    /// [`Target::stop`] stops whole (workers and helpers included).
    pub fn spawn_with(argv: &[String], stdout: std::process::Stdio, own_group: bool) -> Result<Target, TargetError> {
        Target::start(argv, stdout, None, own_group, &[])
    }

    /// Starts `argv` in a process group of its own with both of its output
    /// streams sent where asked (a log file beside a run's results).
    pub fn spawn_logged(
        argv: &[String],
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
    ) -> Result<Target, TargetError> {
        Target::start(argv, stdout, Some(stderr), true, &[])
    }

    /// [`Target::spawn_logged`] with variables added to the environment it
    /// inherits (a profiler's preload).
    pub fn spawn_with_env(
        argv: &[String],
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
        env: &[(String, String)],
    ) -> Result<Target, TargetError> {
        Target::start(argv, stdout, Some(stderr), true, env)
    }

    fn start(
        argv: &[String],
        stdout: std::process::Stdio,
        stderr: Option<std::process::Stdio>,
        own_group: bool,
        env: &[(String, String)],
    ) -> Result<Target, TargetError> {
        use std::os::unix::process::CommandExt;
        let (program, args) = argv.split_first().expect("a command target has a program");
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let mut cmd = Command::new(program);
        if own_group {
            cmd.process_group(0);
        }
        if let Some(e) = stderr {
            cmd.stderr(e);
        }
        let child = cmd
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(stdout)
            .spawn()
            .map_err(|error| TargetError::Spawn {
                program: program.clone(),
                error,
            })?;
        Ok(Target {
            pid: child.id(),
            command: crate::redact::argv(argv).join(" "),
            child: Some(child),
            own_group,
        })
    }

    /// True when loadprof started this target.
    pub fn is_owned(&self) -> bool {
        self.child.is_some()
    }

    /// The exit status of an owned target, if it has exited (non-blocking).
    pub fn try_exit(&mut self) -> Option<ExitInfo> {
        let child = self.child.as_mut()?;
        child.try_wait().ok().flatten().map(ExitInfo::from)
    }

    /// Stops an owned target and what is left of its tree: SIGTERM, then
    /// SIGKILL after `grace`. Returns how the target ended. Does nothing to
    /// a target loadprof did not start.
    pub fn stop(&mut self, others: &[u32], grace: Duration) -> Option<ExitInfo> {
        let group = self.own_group.then_some(self.pid);
        let child = self.child.as_mut()?;
        if let Ok(Some(status)) = child.try_wait() {
            // The leader is gone; what is left of its group goes too.
            if let Some(g) = group {
                signal_group(g, libc::SIGTERM);
                std::thread::sleep(Duration::from_millis(100));
                signal_group(g, libc::SIGKILL);
            }
            return Some(status.into());
        }
        let pids: Vec<u32> = std::iter::once(self.pid)
            .chain(others.iter().copied().filter(|&p| p != self.pid))
            .collect();
        signal_all(&pids, libc::SIGTERM);
        if let Some(g) = group {
            signal_group(g, libc::SIGTERM);
        }
        let until = Instant::now() + grace;
        let mut status = None;
        while Instant::now() < until {
            if let Ok(Some(s)) = child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(g) = group {
            signal_group(g, libc::SIGKILL);
        }
        if let Some(s) = status {
            return Some(s.into());
        }
        signal_all(&pids, libc::SIGKILL);
        child.wait().ok().map(ExitInfo::from)
    }
}

fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions; an empty group gives ESRCH.
    unsafe { libc::kill(-(pgid as libc::pid_t), sig) };
}

fn signal_all(pids: &[u32], sig: i32) {
    for &pid in pids {
        // SAFETY: kill has no memory preconditions; a vanished pid gives ESRCH.
        unsafe { libc::kill(pid as libc::pid_t, sig) };
    }
}

fn command_of(pid: u32) -> String {
    let comm = process::stat_once(pid, |st| st.comm.to_string()).unwrap_or_default();
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    procfs::parse_cmdline(&raw, &comm)
}

/// One process seen while matching a name.
struct Candidate {
    ppid: u32,
    command: String,
    matched: bool,
}

/// The single root of the processes whose name or command line matches.
fn find_by_name(pattern: &str) -> Result<u32, TargetError> {
    let re = Regex::new(pattern).map_err(|e| TargetError::BadPattern {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    let me = std::process::id();
    let mut procs: HashMap<u32, Candidate> = HashMap::new();
    let dir = std::fs::read_dir("/proc").map_err(|_| TargetError::NoMatch(pattern.to_string()))?;
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Some((ppid, comm, dead)) = process::stat_once(pid, |st| (st.ppid, st.comm.to_string(), st.is_dead()))
        else {
            continue;
        };
        if dead {
            continue;
        }
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let command = procfs::parse_cmdline(&raw, &comm);
        let matched = re.is_match(&comm) || re.is_match(&command);
        procs.insert(pid, Candidate { ppid, command, matched });
    }
    // loadprof and the shells that started it carry the pattern in their
    // command lines; they are never the target.
    let mut p = me;
    while let Some(c) = procs.get_mut(&p) {
        c.matched = false;
        if p <= 1 {
            break;
        }
        p = c.ppid;
    }
    let is_root = |pid: u32| {
        let mut up = procs[&pid].ppid;
        let mut hops = 0;
        while let Some(c) = procs.get(&up) {
            if c.matched || hops > 4096 {
                return false;
            }
            up = c.ppid;
            hops += 1;
        }
        true
    };
    let mut roots: Vec<u32> = procs
        .iter()
        .filter(|(_, c)| c.matched)
        .map(|(&pid, _)| pid)
        .filter(|&pid| is_root(pid))
        .collect();
    roots.sort_unstable();
    match roots.as_slice() {
        [] => Err(TargetError::NoMatch(pattern.to_string())),
        [one] => Ok(*one),
        many => Err(TargetError::Ambiguous {
            pattern: pattern.to_string(),
            count: many.len(),
            list: many
                .iter()
                .map(|pid| format!("  {pid:>7}  {}", procs[pid].command))
                .collect::<Vec<_>>()
                .join("\n"),
        }),
    }
}

/// Socket inodes listening on `port`, from the text of `/proc/net/tcp` or
/// `/proc/net/tcp6` (state `0A` is LISTEN).
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// The process listening on TCP `port` on this machine, if one can be seen
/// (another user's process needs root to be found).
pub fn listening_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(t) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&t, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.filter_map(Result::ok)
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .any(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        })
    })
}

#[cfg(test)]
mod listen_tests {
    use super::*;

    #[test]
    fn listening_sockets_are_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2CAA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2CAA 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listening_inodes(table, 11434), vec![4242]);
        assert_eq!(listening_inodes(table, 80), vec![99]);
        assert!(listening_inodes(table, 8080).is_empty());
    }
}
