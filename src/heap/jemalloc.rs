//! Native heap profiles (C, C++, Rust) with jemalloc's own profiler: the
//! target runs with Debian's libjemalloc preloaded and profiling on, and
//! jemalloc writes a heap profile each time the process has allocated
//! another [`INTERVAL_BYTES`] (its `lg_prof_interval`). The profile last
//! written before the window and the one last written at its end are
//! folded with `jeprof --collapsed`; retained is the growth between them,
//! stack by stack, positive parts only (as for Go's pprof).
//!
//! Why this and not the others, tried on Debian 12: heaptrack 1.4 recorded
//! one allocation of a program making a hundred a second, attached or
//! launching it; bytehound is not packaged and needs a nightly Rust to
//! build; an on-demand dump through gdb (`mallctl("prof.dump")`) works but
//! makes the stopped target call malloc, which can deadlock a process
//! stopped inside the allocator. Periodic dumps need no debugger at all.
//!
//! Only a process started with this environment can be profiled, so the
//! native path works when loadprof starts the target, or for a process the
//! user started with [`environment`]'s variables. A program loadprof
//! started is stopped at the window's end, and one that exits cleanly
//! then writes a final profile (`prof_final`), the freshest there is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cancel::StopToken;
use crate::flame::{FlameError, Folded, process};

/// Where Debian and others install jemalloc (the first that exists is preloaded).
const LIBRARIES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
];
/// jemalloc samples one allocation per 2^17 bytes (128 KiB) on average:
/// eight times its default rate, still a small cost.
const LG_SAMPLE: u32 = 17;
/// A profile is written each 2^24 bytes (16 MiB) allocated.
const LG_INTERVAL: u32 = 24;
pub const INTERVAL_BYTES: u64 = 1 << LG_INTERVAL;
/// How long jeprof may take to symbolise one profile.
const JEPROF_TIMEOUT: Duration = Duration::from_secs(300);

/// The preloaded library, if jemalloc is installed.
pub fn library() -> Option<&'static str> {
    LIBRARIES.iter().copied().find(|p| Path::new(p).is_file())
}

/// Why jemalloc's profiler cannot be used here, if it cannot.
pub fn unavailable() -> Option<FlameError> {
    (library().is_none() || crate::flame::detect::which("jeprof").is_none()).then(not_installed)
}

fn not_installed() -> FlameError {
    FlameError::CannotProfile(
        "native heap profiles use jemalloc's profiler, which is not installed: \
         `apt-get install libjemalloc2 libjemalloc-dev binutils` (jeprof comes with libjemalloc-dev)"
            .into(),
    )
}

/// The environment that makes a program profile its heap into `dir`:
/// jemalloc preloaded (after any preload already set) and its profiler on.
pub fn environment(dir: &Path, inherited_preload: Option<&str>) -> Result<Vec<(String, String)>, FlameError> {
    let lib = library().ok_or_else(not_installed)?;
    let preload = match inherited_preload.filter(|p| !p.trim().is_empty()) {
        Some(p) => format!("{p}:{lib}"),
        None => lib.to_string(),
    };
    let conf = format!(
        "prof:true,prof_active:true,prof_final:true,lg_prof_sample:{LG_SAMPLE},lg_prof_interval:{LG_INTERVAL},dirty_decay_ms:0,muzzy_decay_ms:0,prof_prefix:{}/jeprof",
        dir.display()
    );
    Ok(vec![("LD_PRELOAD".into(), preload), ("MALLOC_CONF".into(), conf)])
}

/// The directory a running process writes its profiles into: the
/// `prof_prefix` of the `MALLOC_CONF` it was started with, if profiling
/// is on and periodic.
pub fn profile_dir(pid: u32) -> Result<PathBuf, FlameError> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let conf = env
        .split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"MALLOC_CONF="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let opt = |key: &str| conf.split(',').find_map(|kv| kv.strip_prefix(key)?.strip_prefix(':'));
    let how = format!(
        "start it under loadprof (`flame --heap --profiler jemalloc -- CMD`, or `[heap] profiler = \"jemalloc\"` in run), \
         or yourself with LD_PRELOAD={} MALLOC_CONF=prof:true,lg_prof_sample:{LG_SAMPLE},lg_prof_interval:{LG_INTERVAL},prof_prefix:DIR/jeprof",
        library().unwrap_or("libjemalloc.so.2")
    );
    if !maps.contains("libjemalloc") {
        return Err(FlameError::CannotProfile(format!(
            "pid {pid} does not use jemalloc, whose profiler loadprof reads for native heaps: {how}"
        )));
    }
    if opt("prof") != Some("true") || opt("lg_prof_interval").is_none_or(|v| v.starts_with('-')) {
        return Err(FlameError::CannotProfile(format!(
            "pid {pid} runs jemalloc without periodic heap profiles (MALLOC_CONF lacks prof:true and lg_prof_interval): {how}"
        )));
    }
    let prefix = opt("prof_prefix").unwrap_or("jeprof");
    let prefix = if prefix.starts_with('/') {
        PathBuf::from(prefix)
    } else {
        Path::new(&format!("/proc/{pid}/cwd")).join(prefix)
    };
    Ok(prefix.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf))
}

/// The sequence number of a profile `jeprof.PID.SEQ.iN.heap` of `pid`.
fn sequence(name: &str, pid: u32) -> Option<u64> {
    let rest = name.strip_prefix("jeprof.")?.strip_suffix(".heap")?;
    let mut parts = rest.split('.');
    let (p, seq) = (parts.next()?, parts.next()?);
    (p.parse::<u32>().ok()? == pid).then(|| seq.parse().ok())?
}

/// The newest profile `pid` has written into `dir`.
pub fn newest(dir: &Path, pid: u32) -> Option<(u64, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let seq = sequence(name.to_str()?, pid)?;
            Some((seq, e.path()))
        })
        .max_by_key(|(seq, _)| *seq)
}

/// A window being profiled.
pub struct Running {
    pub pid: u32,
    dir: PathBuf,
    /// The program, for symbols (kept from the start: the process may exit).
    binary: PathBuf,
    /// The newest profile when the window began (none: nothing yet).
    start: Option<(u64, PathBuf)>,
    /// A copy of it, as the process may be configured to remove old ones.
    start_copy: Option<PathBuf>,
    scratch: tempfile::TempDir,
    /// loadprof stopped the process at the window's end (it did not exit on its own).
    pub stopped: bool,
}

/// Marks the start of a window on `pid`, which writes its profiles into `dir`.
pub fn start(pid: u32, dir: &Path) -> Result<Running, FlameError> {
    if let Some(e) = unavailable() {
        return Err(e);
    }
    let binary = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map_err(|e| FlameError::CannotProfile(format!("cannot read pid {pid}'s program: {e}")))?;
    let scratch = tempfile::tempdir().map_err(|e| FlameError::CannotProfile(format!("cannot make a temp dir: {e}")))?;
    let start = newest(dir, pid);
    let start_copy = match &start {
        Some((_, p)) => {
            let copy = scratch.path().join("start.heap");
            std::fs::copy(p, &copy).ok().map(|_| copy)
        }
        None => None,
    };
    Ok(Running {
        pid,
        dir: dir.to_path_buf(),
        binary,
        start,
        start_copy,
        scratch,
        stopped: false,
    })
}

/// Strips what jeprof adds to a frame: the address of a function in the
/// main program (`main<0000000000001208>`) and a symbol version
/// (`…@@GLIBCXX_3.4.26`).
fn clean_frame(frame: &str) -> &str {
    let mut f = frame;
    if let Some(open) = f.rfind('<')
        && f.ends_with('>')
        && f[open + 1..f.len() - 1].bytes().all(|b| b.is_ascii_hexdigit())
        && open > 0
    {
        f = &f[..open];
    }
    if let Some(at) = f.find("@@") {
        f = &f[..at];
    }
    f
}

/// jeprof's collapsed stacks with frames cleaned.
pub fn parse_collapsed(text: &str) -> Result<Folded, FlameError> {
    let raw =
        Folded::parse(text).map_err(|e| FlameError::CannotProfile(format!("jeprof wrote unreadable stacks: {e}")))?;
    Ok(Folded::from_pairs(raw.iter().map(|(stack, n)| {
        (stack.split(';').map(clean_frame).collect::<Vec<_>>().join(";"), n)
    })))
}

/// From `jeprof --text --lines`: each function's source line with the most
/// bytes (`  12345 100.0% 100.0%  12345 100.0% cache_add /src/leak.c:6`).
pub fn parse_lines(text: &str) -> std::collections::HashMap<String, (String, u32, i64)> {
    let mut best: std::collections::HashMap<String, (String, u32, i64)> = std::collections::HashMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // flat flat% sum% cum cum% function location [extra]
        if words.len() < 7 || !words[1].ends_with('%') || !words[4].ends_with('%') {
            continue;
        }
        let Ok(cum) = words[3].parse::<i64>() else { continue };
        let function = clean_frame(words[5]).to_string();
        let Some((file, line_no)) = words[6].rsplit_once(':') else {
            continue;
        };
        let Ok(line_no) = line_no.parse::<u32>() else { continue };
        if file.contains("??") || line_no == 0 {
            continue;
        }
        let entry = best
            .entry(function)
            .or_insert_with(|| (file.to_string(), line_no, i64::MIN));
        if cum > entry.2 {
            *entry = (file.to_string(), line_no, cum);
        }
    }
    best
}

/// Runs jeprof to its end and returns its standard output.
fn jeprof(args: &[&std::ffi::OsStr], stop: &StopToken) -> Result<String, FlameError> {
    let mut cmd = Command::new("jeprof");
    cmd.args(args);
    // Its output is the profile: all of it, up to the bound on folded stacks.
    let limit = crate::files::FOLDED_LIMIT as usize;
    let run = process::run(
        cmd,
        process::Output::Data(limit),
        Some(Instant::now() + JEPROF_TIMEOUT),
        stop,
    )
    .map_err(|e| FlameError::CannotProfile(format!("cannot run jeprof: {e}")))?;
    if !run.status.success() {
        return Err(FlameError::CannotProfile(format!(
            "jeprof failed: {}",
            process::tail(&run.stderr, 4)
        )));
    }
    if run.truncated {
        return Err(FlameError::CannotProfile(format!(
            "jeprof wrote more than {}, the most loadprof reads of a profile's stacks",
            crate::files::show_limit(limit as u64)
        )));
    }
    Ok(run.stdout)
}

/// What a window held.
pub struct Window {
    pub folded: Folded,
    /// Function → (file, line) for functions jeprof could place.
    pub lines: std::collections::HashMap<String, (String, u32, i64)>,
    pub notes: Vec<String>,
    pub partial: Option<String>,
}

impl Running {
    /// Folds the window: growth from the start profile to the newest one
    /// (`retained`), or the newest alone (in use).
    pub fn finish(self, retained: bool, stop: &StopToken) -> Result<Window, FlameError> {
        let mut notes = Vec::new();
        let alive = crate::sample::process::stat_once(self.pid, |st| !st.is_dead()).unwrap_or(false);
        let partial =
            (!alive).then(|| format!("pid {} exited during the window; its last profile ends there", self.pid));
        let Some((end_seq, end)) = newest(&self.dir, self.pid) else {
            return Err(FlameError::CannotProfile(format!(
                "pid {} wrote no heap profile: jemalloc writes one each {} MiB allocated, and it allocated less \
                 (is it preloaded? see /proc/{}/maps)",
                self.pid,
                INTERVAL_BYTES >> 20,
                self.pid
            )));
        };
        let end_copy = self.scratch.path().join("end.heap");
        std::fs::copy(&end, &end_copy)
            .map_err(|e| FlameError::CannotProfile(format!("cannot read {}: {e}", end.display())))?;
        let base = if retained {
            match (&self.start, &self.start_copy) {
                (Some((seq, _)), Some(copy)) if *seq < end_seq => Some(copy.clone()),
                (Some(_), Some(_)) => {
                    notes.push(format!(
                        "pid {} wrote no heap profile during the window (one comes each {} MiB allocated); nothing was retained",
                        self.pid,
                        INTERVAL_BYTES >> 20
                    ));
                    return Ok(Window {
                        folded: Folded::new(),
                        lines: Default::default(),
                        notes,
                        partial,
                    });
                }
                _ => {
                    notes.push(
                        "no heap profile was written before the window: retained counts from the program's start"
                            .into(),
                    );
                    None
                }
            }
        } else {
            None
        };
        let bin = self.binary.as_os_str();
        let after = parse_collapsed(&jeprof(&["--collapsed".as_ref(), bin, end_copy.as_os_str()], stop)?)?;
        let folded = match &base {
            Some(b) => {
                let before = parse_collapsed(&jeprof(&["--collapsed".as_ref(), bin, b.as_os_str()], stop)?)?;
                super::sites::growth(&before, &after)
            }
            None => after,
        };
        let base_arg = base.as_ref().map(|b| {
            let mut a = std::ffi::OsString::from("--base=");
            a.push(b);
            a
        });
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--text".as_ref(),
            "--lines".as_ref(),
            "--cum".as_ref(),
            "--show_bytes".as_ref(),
        ];
        if let Some(b) = &base_arg {
            args.push(b.as_os_str());
        }
        args.push(bin);
        args.push(end_copy.as_os_str());
        let lines = jeprof(&args, stop).map(|t| parse_lines(&t)).unwrap_or_default();
        Ok(Window {
            folded,
            lines,
            notes,
            partial,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jeprof_frames_are_cleaned() {
        assert_eq!(clean_frame("main<0000000000001208>"), "main");
        assert_eq!(
            clean_frame("std::__throw_ios_failure(char const*, int)@@GLIBCXX_3.4.26<00000000000a0a67>"),
            "std::__throw_ios_failure(char const*, int)"
        );
        assert_eq!(clean_frame("Vec<u8>"), "Vec<u8>");
        assert_eq!(clean_frame("<abc>"), "<abc>");
    }

    #[test]
    fn profile_names_give_their_sequence() {
        assert_eq!(sequence("jeprof.42.7.i7.heap", 42), Some(7));
        assert_eq!(sequence("jeprof.42.0.f.heap", 42), Some(0));
        assert_eq!(sequence("jeprof.43.7.i7.heap", 42), None);
        assert_eq!(sequence("other.heap", 42), None);
    }

    #[test]
    fn source_lines_come_from_the_text_report() {
        let text = "Total: 1148625 B\n\
               0   0.0%   0.0%  1148625 100.0% _start ??:?\n\
         1148625 100.0% 100.0%  1148625 100.0% cache_add /tmp/nat/leak.c:6\n\
               0   0.0% 100.0%  1148625 100.0% main /tmp/nat/leak.c:8 (discriminator 5)\n\
             10   0.0% 100.0%      10   0.0% cache_add /tmp/nat/leak.c:9\n";
        let lines = parse_lines(text);
        assert_eq!(lines["cache_add"].0, "/tmp/nat/leak.c");
        assert_eq!(lines["cache_add"].1, 6);
        assert_eq!(lines["main"].1, 8);
        assert!(!lines.contains_key("_start"));
    }

    #[test]
    fn the_environment_appends_to_a_preload() {
        if library().is_none() {
            eprintln!("skipped: libjemalloc2 is not installed");
            return;
        }
        let env = environment(Path::new("/x"), Some("/a.so")).unwrap();
        assert!(env[0].1.starts_with("/a.so:"));
        assert!(env[1].1.contains("prof_prefix:/x/jeprof"));
    }
}
