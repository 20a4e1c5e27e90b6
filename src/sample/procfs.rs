//! Pure parsers for the `/proc` files the sampler reads. Each takes the
//! file's text and returns values; opening and reading the files is the
//! job of `process.rs`, so every odd case here has a unit test.

/// A `/proc` file whose text did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected /proc/PID/{file} format: {reason}")]
pub struct ParseError {
    pub file: &'static str,
    pub reason: &'static str,
}

/// The fields of `/proc/PID/stat` the sampler uses (see proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat<'a> {
    pub pid: u32,
    /// The kernel's 15-byte task name; may hold spaces and parentheses.
    pub comm: &'a str,
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// User and system CPU time of the whole thread group, in clock ticks.
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

impl Stat<'_> {
    /// Zombie (`Z`) and dead (`X`) processes hold no resources any more.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `/proc/PID/stat`. `comm` runs from the first `(` to the *last*
/// `)`, because a process may name itself `a) (b`.
pub fn parse_stat(text: &str) -> Result<Stat<'_>, ParseError> {
    let err = |reason| ParseError { file: "stat", reason };
    let open = text.find('(').ok_or(err("no '(' before comm"))?;
    let close = text.rfind(')').ok_or(err("no ')' after comm"))?;
    if close < open {
        return Err(err("')' before '('"));
    }
    let pid = text[..open].trim().parse().map_err(|_| err("pid is not a number"))?;
    let comm = &text[open + 1..close];
    // Fields after comm, numbered from 0 = state (field 3 in proc(5)).
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let mut next = || fields.next().ok_or(err("too few fields"));
    let state = next()?.chars().next().ok_or(err("empty state"))?;
    let mut nums = [0u64; 21];
    for slot in nums.iter_mut() {
        let f = next()?;
        // rss and a few other fields are signed in the kernel; a negative
        // value never makes sense for our purposes, so clamp to zero.
        *slot = if let Some(neg) = f.strip_prefix('-') {
            neg.parse::<u64>().map_err(|_| err("field is not a number"))?;
            0
        } else {
            f.parse().map_err(|_| err("field is not a number"))?
        };
    }
    // nums[i] is proc(5) field i + 4.
    Ok(Stat {
        pid,
        comm,
        state,
        ppid: nums[0] as u32,
        pgrp: nums[1] as u32,
        session: nums[2] as u32,
        utime: nums[10],
        stime: nums[11],
        num_threads: nums[16],
        starttime: nums[18],
        vsize: nums[19],
        rss_pages: nums[20],
    })
}

/// Sizes from `/proc/PID/statm`, in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statm {
    /// Total virtual memory (VMS).
    pub size: u64,
    /// Resident pages (RSS): anonymous, file-backed and shared.
    pub resident: u64,
}

/// Parses `/proc/PID/statm`: `size resident shared text lib data dt`.
/// A zombie, whose memory is gone, reads all zeros.
pub fn parse_statm(text: &str) -> Result<Statm, ParseError> {
    let err = |reason| ParseError { file: "statm", reason };
    let mut it = text.split_ascii_whitespace().map(|f| f.parse::<u64>());
    let mut next = || {
        it.next()
            .ok_or(err("too few fields"))?
            .map_err(|_| err("field is not a number"))
    };
    Ok(Statm {
        size: next()?,
        resident: next()?,
    })
}

/// Parses `/proc/PID/task/TID/children`: space-separated pids.
pub fn parse_children(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

/// Proportional and unique set sizes from `/proc/PID/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollup {
    pub pss: u64,
    pub uss: u64,
}

/// Parses `/proc/PID/smaps_rollup`. USS is the private pages: clean plus
/// dirty (plus private hugetlb where the kernel reports it).
pub fn parse_smaps_rollup(text: &str) -> Result<Rollup, ParseError> {
    let mut out = Rollup::default();
    let mut saw_pss = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kb = || -> Option<u64> {
            let v = rest.trim().strip_suffix("kB")?.trim();
            v.parse::<u64>().ok().map(|v| v * 1024)
        };
        match key {
            "Pss" => {
                out.pss = kb().ok_or(ParseError {
                    file: "smaps_rollup",
                    reason: "Pss is not a kB value",
                })?;
                saw_pss = true;
            }
            "Private_Clean" | "Private_Dirty" | "Private_Hugetlb" => {
                out.uss += kb().unwrap_or(0);
            }
            _ => {}
        }
    }
    if !saw_pss {
        return Err(ParseError {
            file: "smaps_rollup",
            reason: "no Pss line",
        });
    }
    Ok(out)
}

/// Turns `/proc/PID/cmdline` (NUL-separated argv) into one readable line:
/// control characters (the line breaks of a `python -c` script) become
/// spaces, so the command fits one line of a CSV or a table, and secrets
/// (`--api-key X`, a URL's password) are masked, since the line is shown
/// and written. Kernel threads and zombies have an empty cmdline; the
/// caller then shows `[comm]` the way ps does.
pub fn parse_cmdline(raw: &[u8], comm: &str) -> String {
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).replace(|c: char| c.is_control(), " "))
        .collect();
    if args.is_empty() {
        format!("[{comm}]")
    } else {
        crate::redact::argv(&args).join(" ")
    }
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line["MemTotal:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "1234 (python3) S 1 1234 1234 34816 1234 4194560 9311 0 0 0 150 25 0 0 20 0 3 0 987654 26836992 4096 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_plain_fields() {
        let s = parse_stat(PLAIN).unwrap();
        assert_eq!(s.pid, 1234);
        assert_eq!(s.comm, "python3");
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 1234, 1234));
        assert_eq!((s.utime, s.stime), (150, 25));
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.starttime, 987654);
        assert_eq!(s.vsize, 26836992);
        assert_eq!(s.rss_pages, 4096);
        assert!(!s.is_dead());
    }

    #[test]
    fn stat_comm_with_spaces_and_parentheses() {
        let text = PLAIN.replace("(python3)", "(a) (b c)) x)");
        let s = parse_stat(&text).unwrap();
        assert_eq!(s.comm, "a) (b c)) x");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.rss_pages, 4096);
    }

    #[test]
    fn stat_comm_empty_and_numeric() {
        let empty = PLAIN.replace("(python3)", "()");
        assert_eq!(parse_stat(&empty).unwrap().comm, "");
        let numeric = PLAIN.replace("(python3)", "(1 2 3)");
        let s = parse_stat(&numeric).unwrap();
        assert_eq!(s.comm, "1 2 3");
        assert_eq!(s.num_threads, 3);
    }

    #[test]
    fn stat_zombie_is_dead() {
        let zombie = PLAIN.replace(") S ", ") Z ");
        assert!(parse_stat(&zombie).unwrap().is_dead());
    }

    #[test]
    fn stat_negative_field_clamps_to_zero() {
        // priority (field 18) is negative for real-time processes.
        let text = PLAIN.replace(" 0 0 20 0 3 ", " 0 0 -51 0 3 ");
        let s = parse_stat(&text).unwrap();
        assert_eq!(s.num_threads, 3);
    }

    #[test]
    fn stat_truncated_is_an_error() {
        assert!(parse_stat("1234 (x) S 1 2").is_err());
        assert!(parse_stat("1234 x S 1 2").is_err());
        assert!(parse_stat("").is_err());
    }

    #[test]
    fn statm_sizes_and_zombie_zeros() {
        let m = parse_statm("6552 1000 500 1 0 2000 0\n").unwrap();
        assert_eq!((m.size, m.resident), (6552, 1000));
        let z = parse_statm("0 0 0 0 0 0 0\n").unwrap();
        assert_eq!((z.size, z.resident), (0, 0));
        assert!(parse_statm("12").is_err());
        assert!(parse_statm("a b").is_err());
    }

    #[test]
    fn children_list() {
        let v: Vec<u32> = parse_children("12 345 6789 ").collect();
        assert_eq!(v, [12, 345, 6789]);
        assert_eq!(parse_children("").count(), 0);
    }

    #[test]
    fn smaps_rollup_pss_uss() {
        let text = "55d0b2a3c000-7ffd1c1e5000 ---p 00000000 00:00 0 [rollup]\n\
Rss:               10240 kB\nPss:                8000 kB\nPss_Anon:           6000 kB\n\
Shared_Clean:       2048 kB\nShared_Dirty:          0 kB\nPrivate_Clean:      1024 kB\n\
Private_Dirty:      7168 kB\nReferenced:        10240 kB\n";
        let r = parse_smaps_rollup(text).unwrap();
        assert_eq!(r.pss, 8000 * 1024);
        assert_eq!(r.uss, (1024 + 7168) * 1024);
        assert!(parse_smaps_rollup("Rss: 1 kB\n").is_err());
    }

    #[test]
    fn cmdline_joins_args_and_falls_back_to_comm() {
        assert_eq!(
            parse_cmdline(b"python3\0app.py\0--port\08000\0", "python3"),
            "python3 app.py --port 8000"
        );
        assert_eq!(parse_cmdline(b"", "kworker/0:1"), "[kworker/0:1]");
        assert_eq!(
            parse_cmdline(b"vllm\0serve\0--api-key\0sk-1\0", "vllm"),
            "vllm serve --api-key ***"
        );
        assert_eq!(
            parse_cmdline(b"python3\0-c\0import os\nos.fork()\0", "python3"),
            "python3 -c import os os.fork()"
        );
    }

    #[test]
    fn meminfo_total() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(24576000 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB"), None);
    }
}
