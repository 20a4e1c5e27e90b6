//! One live process: the `/proc` files the sampler keeps open for it and
//! the cheap reads made on every tick.
//!
//! Why files are kept open: an open `/proc/PID/stat` costs one `pread` per
//! tick instead of open + read + close (about 5x cheaper), and it pins the
//! process's identity: once the process is gone the read fails, so a reused
//! pid is never read as if it were the old process.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::OnceLock;

use super::procfs::{self, Rollup, Stat};

/// A process's identity: a pid alone is reused, (pid, start time) is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcKey {
    pub pid: u32,
    /// Clock ticks since boot, from `/proc/PID/stat` field 22.
    pub start_ticks: u64,
}

/// Why a process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The process has exited (or is a zombie); expected, not an error.
    #[error("process {0} has exited")]
    Gone(u32),
    #[error("cannot read /proc/{pid}: {source}")]
    Io { pid: u32, source: io::Error },
    #[error("/proc/{pid}: {source}")]
    Parse { pid: u32, source: procfs::ParseError },
}

/// One tick's reading of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub threads: u64,
    /// Total CPU time of the thread group so far, in nanoseconds.
    pub cpu_ns: u64,
    /// `cpu_ns` at the previous reading; `None` on the first.
    pub prev_cpu_ns: Option<u64>,
    /// Open file descriptors; `None` when `/proc/PID/fd` is not readable
    /// (another user's process without root or CAP_SYS_PTRACE).
    pub fds: Option<u64>,
    /// Whether the process ran since the previous reading (always true for
    /// the first). One that did not run cannot have forked, opened or closed
    /// anything, so its children and fds need no fresh look.
    pub ran: bool,
}

/// Page size and clock tick rate, read once.
struct Sys {
    page_size: u64,
    clk_tck: u64,
}

fn sys() -> &'static Sys {
    static SYS: OnceLock<Sys> = OnceLock::new();
    SYS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let (page, tck) = unsafe { (libc::sysconf(libc::_SC_PAGESIZE), libc::sysconf(libc::_SC_CLK_TCK)) };
        Sys {
            page_size: if page > 0 { page as u64 } else { 4096 },
            clk_tck: if tck > 0 { tck as u64 } else { 100 },
        }
    })
}

/// Clock ticks per second (`USER_HZ`), for start times in `/proc/PID/stat`.
pub fn clock_ticks_per_sec() -> u64 {
    sys().clk_tck
}

/// The most threads whose `children` files are kept open and read. A process
/// with more threads (a JVM, a big thread pool) has only its main thread's
/// file kept, which bounds loadprof's open files; the once-a-second `/proc`
/// scan finds children forked by its other threads through their parent pid.
const MAX_TASK_FILES: u64 = 32;

/// A process in the sampled tree, with its `/proc` files kept open.
pub struct Process {
    pub key: ProcKey,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    comm: String,
    /// The command line, refreshed when `comm` changes (after an `exec`).
    pub command: String,
    threads: u64,
    /// `statm` is read every tick (RSS and VMS; about a third of the cost
    /// of `stat`), `stat` only when the process ran.
    statm: File,
    stat: File,
    /// `/proc/PID/task`, whose link count is 2 + the number of threads: a
    /// cheaper thread count than parsing `stat`.
    task_dir: Option<File>,
    fd_dir: Option<File>,
    /// The process CPU-time clock (`clock_getcpuclockid`): nanoseconds for the
    /// whole thread group, exited threads included. `schedstat` would only
    /// cover the main thread, and `stat` ticks are 10 ms coarse.
    cpu_clock: Option<libc::clockid_t>,
    /// `children` files of the process's threads, by thread id.
    tasks: Vec<(u32, File)>,
    tasks_for_threads: u64,
    /// CPU time at the previous reading.
    last_cpu_ns: Option<u64>,
    /// The fd count at the last look.
    last_fds: Option<u64>,
}

impl Process {
    /// Opens a process's files. `Err(Gone)` if it exited (or is a zombie).
    pub fn open(pid: u32) -> Result<Process, ProcError> {
        let stat = File::open(format!("/proc/{pid}/stat")).map_err(|e| gone_or_io(pid, e))?;
        let statm = File::open(format!("/proc/{pid}/statm")).map_err(|e| gone_or_io(pid, e))?;
        let mut buf = [0u8; 1024];
        let text = read_small(&stat, &mut buf).map_err(|e| gone_or_io(pid, e))?;
        let st = procfs::parse_stat(text).map_err(|source| ProcError::Parse { pid, source })?;
        if st.is_dead() {
            return Err(ProcError::Gone(pid));
        }
        let comm = st.comm.to_string();
        let mut p = Process {
            key: ProcKey {
                pid,
                start_ticks: st.starttime,
            },
            ppid: st.ppid,
            pgrp: st.pgrp,
            session: st.session,
            command: read_command(pid, &comm),
            comm,
            threads: st.num_threads,
            statm,
            stat,
            task_dir: File::open(format!("/proc/{pid}/task")).ok(),
            fd_dir: File::open(format!("/proc/{pid}/fd")).ok(),
            cpu_clock: cpu_clock_of(pid),
            tasks: Vec::new(),
            tasks_for_threads: 0,
            last_cpu_ns: None,
            last_fds: None,
        };
        p.refresh_tasks(st.num_threads);
        Ok(p)
    }

    /// Reads RSS, VMS, threads, CPU time and fds.
    ///
    /// Every tick costs one `pread` of `statm` and one `clock_gettime`. The
    /// process clock counts every nanosecond any of its threads ran, so an
    /// unchanged clock proves the process did nothing since the last reading:
    /// it cannot have changed its thread count, fds or children, and those
    /// need no fresh look. Only RSS can move while a process sleeps (reclaim,
    /// swap), and `statm` has it. `full` adds a `stat` read for what changes
    /// rarely or behind the process's back: its program (after `exec`), its
    /// parent (re-parenting), group and session. `stat` costs three times a
    /// `statm` read, so callers ask for it about once a second.
    pub fn read(&mut self, full: bool) -> Result<Reading, ProcError> {
        let pid = self.key.pid;
        let mut buf = [0u8; 1024];
        let text = read_small(&self.statm, &mut buf).map_err(|e| gone_or_io(pid, e))?;
        let statm = procfs::parse_statm(text).map_err(|source| ProcError::Parse { pid, source })?;
        let precise = self.cpu_clock.and_then(read_cpu_clock);
        let ran = precise.is_none() || self.last_cpu_ns != precise;
        let mut cpu_ns = precise.unwrap_or(0);
        let thread_count = if ran {
            self.task_dir.as_ref().and_then(thread_count)
        } else {
            None
        };
        // A zombie's statm reads all zeros; stat tells it apart from a
        // process that really maps nothing (a kernel thread).
        if full || statm.size == 0 || precise.is_none() || (ran && thread_count.is_none()) {
            let text = read_small(&self.stat, &mut buf).map_err(|e| gone_or_io(pid, e))?;
            let st = procfs::parse_stat(text).map_err(|source| ProcError::Parse { pid, source })?;
            if st.is_dead() {
                return Err(ProcError::Gone(pid));
            }
            self.ppid = st.ppid;
            self.pgrp = st.pgrp;
            self.session = st.session;
            self.threads = st.num_threads;
            if st.comm != self.comm {
                // An exec changed the program; its command line changed with it.
                self.comm = st.comm.to_string();
                self.command = read_command(pid, &self.comm);
            }
            if st.num_threads != self.tasks_for_threads {
                self.refresh_tasks(st.num_threads);
            }
            if precise.is_none() {
                cpu_ns = ticks_to_ns(st.utime + st.stime);
            }
        } else if let Some(n) = thread_count {
            self.threads = n;
            if n != self.tasks_for_threads {
                self.refresh_tasks(n);
            }
        }
        if ran || self.last_fds.is_none() {
            self.last_fds = self.fd_dir.as_ref().and_then(|d| count_fds(pid, d));
        }
        let prev_cpu_ns = self.last_cpu_ns.replace(cpu_ns);
        let page = sys().page_size;
        Ok(Reading {
            rss_bytes: statm.resident * page,
            vms_bytes: statm.size * page,
            threads: self.threads,
            cpu_ns,
            prev_cpu_ns,
            fds: self.last_fds,
            ran,
        })
    }

    /// Appends the pids of this process's children to `out`.
    pub fn children(&self, buf: &mut Vec<u8>, out: &mut Vec<u32>) {
        for (_, file) in &self.tasks {
            if read_all_at(file, buf).is_ok()
                && let Ok(text) = std::str::from_utf8(buf)
            {
                out.extend(procfs::parse_children(text));
            }
        }
    }

    /// PSS and USS from `smaps_rollup`. Slow (it walks the page tables and
    /// holds the target's mmap lock), so callers read it rarely.
    pub fn rollup(&self) -> Option<Rollup> {
        let text = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", self.key.pid)).ok()?;
        procfs::parse_smaps_rollup(&text).ok()
    }

    /// Re-lists the process's threads and opens their `children` files,
    /// main thread first.
    fn refresh_tasks(&mut self, threads: u64) {
        let pid = self.key.pid;
        self.tasks_for_threads = threads;
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let mut tids: Vec<u32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        tids.sort_unstable_by_key(|&t| (t != pid, t));
        if threads > MAX_TASK_FILES {
            tids.truncate(1);
        }
        let mut old = std::mem::take(&mut self.tasks);
        for tid in tids {
            if let Some(i) = old.iter().position(|(t, _)| *t == tid) {
                self.tasks.push(old.swap_remove(i));
            } else if let Ok(f) = File::open(format!("/proc/{pid}/task/{tid}/children")) {
                self.tasks.push((tid, f));
            }
        }
    }
}

fn gone_or_io(pid: u32, e: io::Error) -> ProcError {
    // ENOENT: no such pid; ESRCH: a kept file whose process has exited.
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => ProcError::Gone(pid),
        _ => ProcError::Io { pid, source: e },
    }
}

/// Reads a small `/proc` file from offset 0 into `buf` in one `pread`.
fn read_small<'b>(file: &File, buf: &'b mut [u8]) -> io::Result<&'b str> {
    let n = file.read_at(buf, 0)?;
    if n == 0 {
        // Reading a kept stat file of an exited process returns nothing.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    std::str::from_utf8(&buf[..n]).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// Reads a whole kept `/proc` file from offset 0 into `buf`; one `pread`
/// when the file fits the buffer, which is almost always.
fn read_all_at(file: &File, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = file.read_at(&mut chunk, buf.len() as u64)?;
        buf.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            return Ok(());
        }
    }
}

fn read_command(pid: u32, comm: &str) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    procfs::parse_cmdline(&raw, comm)
}

/// Counts open fds. Since Linux 6.2 `stat` on `/proc/PID/fd` reports the
/// count as its size (one syscall); older kernels report 0, so list it.
fn count_fds(pid: u32, dir: &File) -> Option<u64> {
    let size = dir.metadata().ok()?.size();
    if size > 0 {
        return Some(size);
    }
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(entries.count() as u64)
}

/// Threads of a process from the link count of its open `/proc/PID/task`.
fn thread_count(task_dir: &File) -> Option<u64> {
    let links = task_dir.metadata().ok()?.nlink();
    (links > 2).then(|| links - 2)
}

fn cpu_clock_of(pid: u32) -> Option<libc::clockid_t> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: `id` is a valid out-pointer.
    let rc = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut id) };
    (rc == 0 && read_cpu_clock(id).is_some()).then_some(id)
}

fn read_cpu_clock(id: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    ticks * (1_000_000_000 / sys().clk_tck)
}

/// Raises loadprof's soft open-file limit to the hard limit: each sampled
/// process keeps three to a few dozen files open, and a tree of a few hundred
/// processes would pass the usual soft limit of 1024. Called once sampling
/// starts, after an owned target was spawned, so the target keeps the limit
/// it would have had without loadprof.
pub fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Reads `/proc/PID/stat` once without keeping it open (the `/proc` scan).
pub fn stat_once<R>(pid: u32, f: impl FnOnce(&Stat) -> R) -> Option<R> {
    let file = File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 1024];
    let text = read_small(&file, &mut buf).ok()?;
    let st = procfs::parse_stat(text).ok()?;
    Some(f(&st))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let mut me = Process::open(std::process::id()).unwrap();
        let r = me.read(false).unwrap();
        assert!(r.rss_bytes > 0 && r.vms_bytes >= r.rss_bytes);
        assert!(r.threads >= 1);
        let listed = std::fs::read_dir("/proc/self/task").unwrap().count() as u64;
        assert_eq!(me.task_dir.as_ref().and_then(thread_count), Some(listed));
        assert!(r.fds.unwrap() >= 3);
        // Burn a little CPU: the clock must move in nanoseconds, not ticks.
        let before = r.cpu_ns;
        let t = std::time::Instant::now();
        while t.elapsed().as_millis() < 20 {
            std::hint::black_box(t.elapsed());
        }
        assert!(me.read(false).unwrap().cpu_ns > before);
    }

    #[test]
    fn exited_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(matches!(Process::open(pid), Err(ProcError::Gone(_))));
    }
}
