//! The sampled process tree: which processes belong to the target, and one
//! reading of all of them per tick.
//!
//! Membership is kept, not recomputed: once a process is in the tree it
//! stays until it exits, even if its parent dies and it is re-parented
//! elsewhere. New members come from
//! - each member's `/proc/PID/task/*/children` files, every tick (cheap: the
//!   files are kept open);
//! - a full `/proc` scan about once a second, for processes the per-tick
//!   files missed: a child whose parent exited between two ticks, a process
//!   in a group or session that a member leads, and, when loadprof spawned
//!   the target as a child subreaper, orphans adopted by loadprof itself.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::fs::DirEntryExt;
use std::time::{Duration, Instant};

use super::process::{self, ProcKey, Process, Reading};
use super::series::{cpu_delta_ns, cpu_percent};

/// How often the whole of `/proc` is scanned for members the per-tick
/// `children` files missed, and each member's `stat` is read in full.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// One sample of the whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TreeSample {
    /// Time since sampling started, when this sample was taken.
    pub elapsed: Duration,
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub threads: u64,
    /// CPU % of one core since the previous sample; `None` on the first.
    pub cpu_percent: Option<f64>,
    /// `None` if some member's fd table was not readable.
    pub fds: Option<u64>,
    pub procs: u64,
    /// `None` when GPU memory was not measured for this sample.
    pub gpu_mem_bytes: Option<u64>,
    /// Only on samples where PSS/USS were read (`--pss`).
    pub pss_bytes: Option<u64>,
    pub uss_bytes: Option<u64>,
}

/// One process's part of a sample (`--per-process`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcRow {
    pub pid: u32,
    pub ppid: u32,
    pub command: String,
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub threads: u64,
    pub cpu_percent: Option<f64>,
    pub fds: Option<u64>,
    pub gpu_mem_bytes: Option<u64>,
    pub pss_bytes: Option<u64>,
    pub uss_bytes: Option<u64>,
}

/// What to read on one tick beyond the always-read fields.
#[derive(Clone, Copy, Default)]
pub struct TickRequest<'a> {
    /// Fill per-process rows.
    pub per_process: bool,
    /// Read PSS/USS from `smaps_rollup`.
    pub pss: bool,
    /// GPU memory by pid, when it was measured for this tick.
    pub gpu: Option<&'a HashMap<u32, u64>>,
}

pub struct Tree {
    root: ProcKey,
    root_alive: bool,
    follow_children: bool,
    /// Orphans re-parented to loadprof belong to the tree (loadprof spawned
    /// the target and is its child subreaper).
    adopts_orphans: bool,
    self_pid: u32,
    members: BTreeMap<u32, Process>,
    /// Process-group and session ids led by a member other than the root,
    /// remembered after the leader exits.
    leaders: HashSet<u32>,
    /// Pids judged outside the tree at the last scan, with the inode of
    /// their `/proc` entry: a new process under a reused pid gets a new one.
    outside: HashMap<u32, u64>,
    last_refresh: Option<Instant>,
    prev_tick: Option<(Instant, u64)>,
    seen: BTreeSet<u32>,
    buf: Vec<u8>,
    found: Vec<u32>,
    queue: Vec<u32>,
}

impl Tree {
    /// Starts tracking the tree rooted at `root_pid`.
    pub fn new(root_pid: u32, follow_children: bool, adopts_orphans: bool) -> Result<Tree, process::ProcError> {
        process::raise_open_file_limit();
        let root = Process::open(root_pid)?;
        let mut tree = Tree {
            root: root.key,
            root_alive: true,
            follow_children,
            adopts_orphans,
            self_pid: std::process::id(),
            members: BTreeMap::new(),
            leaders: HashSet::new(),
            outside: HashMap::new(),
            last_refresh: None,
            prev_tick: None,
            seen: BTreeSet::new(),
            buf: Vec::with_capacity(256),
            found: Vec::new(),
            queue: Vec::new(),
        };
        tree.add(root);
        Ok(tree)
    }

    /// False once the root process has exited (or become a zombie).
    pub fn root_alive(&self) -> bool {
        self.root_alive
    }

    /// Every pid that was part of the tree at some sample, in pid order.
    pub fn pids_seen(&self) -> Vec<u32> {
        self.seen.iter().copied().collect()
    }

    /// Pids of the processes in the tree now.
    pub fn live_pids(&self) -> Vec<u32> {
        self.members.keys().copied().collect()
    }

    /// Reads every member (discovering new ones first) and sums them.
    /// `rows` receives one row per process when `req.per_process` is set.
    pub fn sample(&mut self, now: Instant, req: TickRequest<'_>, rows: &mut Vec<ProcRow>) -> TreeSample {
        rows.clear();
        let boot_ticks = boottime_ticks();
        let refresh = self.last_refresh.is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY);
        if refresh {
            if self.follow_children {
                self.scan();
            }
            self.last_refresh = Some(now);
        }
        let wall = self.prev_tick.map(|(t, _)| now.saturating_duration_since(t));
        let prev_boot = self.prev_tick.map(|(_, b)| b);

        let mut out = TreeSample::default();
        let (mut cpu_ns, mut fds_ok, mut fds) = (0u64, true, 0u64);
        let (mut pss, mut uss, mut rollups) = (0u64, 0u64, 0u32);
        let mut gone = Vec::new();
        self.queue.clear();
        self.queue.extend(self.members.keys().copied());
        let mut i = 0;
        while i < self.queue.len() {
            let pid = self.queue[i];
            i += 1;
            let Some(p) = self.members.get_mut(&pid) else {
                continue;
            };
            let r: Reading = match p.read(req.per_process || refresh) {
                Ok(r) => r,
                Err(_) => {
                    gone.push(pid);
                    continue;
                }
            };
            let started_after_prev = prev_boot.is_some_and(|b| p.key.start_ticks >= b);
            let delta = cpu_delta_ns(r.prev_cpu_ns, r.cpu_ns, started_after_prev);
            cpu_ns += delta;
            out.rss_bytes += r.rss_bytes;
            out.vms_bytes += r.vms_bytes;
            out.threads += r.threads;
            out.procs += 1;
            match r.fds {
                Some(n) => fds += n,
                None => fds_ok = false,
            }
            let gpu = req.gpu.map(|m| m.get(&pid).copied().unwrap_or(0));
            let rollup = if req.pss { p.rollup() } else { None };
            if let Some(r) = rollup {
                pss += r.pss;
                uss += r.uss;
                rollups += 1;
            }
            if req.per_process {
                rows.push(ProcRow {
                    pid,
                    ppid: p.ppid,
                    command: p.command.clone(),
                    rss_bytes: r.rss_bytes,
                    vms_bytes: r.vms_bytes,
                    threads: r.threads,
                    cpu_percent: wall.and_then(|w| cpu_percent(Duration::from_nanos(delta), w)),
                    fds: r.fds,
                    gpu_mem_bytes: gpu,
                    pss_bytes: rollup.map(|r| r.pss),
                    uss_bytes: rollup.map(|r| r.uss),
                });
            }
            if self.follow_children && r.ran {
                self.found.clear();
                p.children(&mut self.buf, &mut self.found);
                let found = std::mem::take(&mut self.found);
                for &k in &found {
                    if k != self.self_pid
                        && !self.members.contains_key(&k)
                        && let Ok(child) = Process::open(k)
                    {
                        self.add(child);
                        self.queue.push(k);
                    }
                }
                self.found = found;
            }
        }
        for pid in gone {
            self.members.remove(&pid);
            if pid == self.root.pid {
                self.root_alive = false;
            }
        }
        out.cpu_percent = wall.and_then(|w| cpu_percent(Duration::from_nanos(cpu_ns), w));
        out.fds = fds_ok.then_some(fds);
        out.gpu_mem_bytes = req.gpu.map(|m| self.members.keys().filter_map(|p| m.get(p)).sum());
        if rollups > 0 {
            out.pss_bytes = Some(pss);
            out.uss_bytes = Some(uss);
        }
        self.prev_tick = Some((now, boot_ticks));
        out
    }

    fn add(&mut self, p: Process) {
        let pid = p.key.pid;
        if pid != self.root.pid {
            if p.pgrp == pid {
                self.leaders.insert(pid);
            }
            if p.session == pid {
                self.leaders.insert(pid);
            }
        }
        self.seen.insert(pid);
        self.members.insert(pid, p);
    }

    /// Scans all of `/proc` for processes that belong to the tree but were
    /// not reached through `children` files.
    fn scan(&mut self) {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut outside = HashMap::with_capacity(self.outside.len());
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if pid == self.self_pid || self.members.contains_key(&pid) {
                continue;
            }
            let ino = entry.ino();
            if self.outside.get(&pid) == Some(&ino) {
                outside.insert(pid, ino);
                continue;
            }
            let belongs = process::stat_once(pid, |st| {
                let linked = self.members.contains_key(&st.ppid) || (self.adopts_orphans && st.ppid == self.self_pid);
                let led = st.starttime >= self.root.start_ticks
                    && (self.leaders.contains(&st.pgrp) || self.leaders.contains(&st.session));
                !st.is_dead() && (linked || led)
            });
            match belongs {
                Some(true) => {
                    if let Ok(p) = Process::open(pid) {
                        self.add(p);
                    }
                }
                Some(false) => {
                    outside.insert(pid, ino);
                }
                None => {}
            }
        }
        self.outside = outside;
    }
}

/// `CLOCK_BOOTTIME` in clock ticks: the clock `/proc/PID/stat` start times use.
fn boottime_ticks() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    let ns = ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128;
    (ns * process::clock_ticks_per_sec() as u128 / 1_000_000_000) as u64
}
