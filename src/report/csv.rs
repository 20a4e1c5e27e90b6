//! `samples.csv` and `samples-procs.csv`, streamed: each row is written as
//! it is sampled and the file is flushed at least once a second, so a run
//! that is killed outright still leaves everything up to its last second.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sample::{ProcRow, TreeSample};

/// The columns of `samples.csv` (DESIGN.md).
pub const SAMPLES_HEADER: &str = "elapsed_s,rss_bytes,vms_bytes,threads,cpu_percent,fds,procs,gpu_mem_bytes";
/// Columns of `samples-procs.csv`: one row per process per sample.
pub const PROCS_HEADER: &str = "elapsed_s,pid,ppid,command,rss_bytes,vms_bytes,threads,cpu_percent,fds,gpu_mem_bytes";
/// Appended to both headers with `--pss`.
pub const PSS_COLUMNS: &str = ",pss_bytes,uss_bytes";

const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Writes the tree file and, optionally, the per-process file.
pub struct SamplesWriter {
    tree: BufWriter<File>,
    procs: Option<BufWriter<File>>,
    pss: bool,
    last_flush: Instant,
    line: String,
}

/// The per-process file's path: `samples-procs.csv` beside `samples.csv`
/// (`X.csv` → `X-procs.csv`).
pub fn procs_path(samples: &Path) -> PathBuf {
    let stem = samples.file_stem().and_then(|s| s.to_str()).unwrap_or("samples");
    samples.with_file_name(format!("{stem}-procs.csv"))
}

impl SamplesWriter {
    /// Creates the files (and their folder) and writes the headers.
    pub fn create(path: &Path, per_process: bool, pss: bool) -> io::Result<SamplesWriter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let open = |p: &Path, header: &str| -> io::Result<BufWriter<File>> {
            let mut w = BufWriter::new(File::create(p)?);
            writeln!(w, "{header}{}", if pss { PSS_COLUMNS } else { "" })?;
            w.flush()?;
            Ok(w)
        };
        let tree = open(path, SAMPLES_HEADER)?;
        let procs = if per_process {
            Some(open(&procs_path(path), PROCS_HEADER)?)
        } else {
            None
        };
        Ok(SamplesWriter {
            tree,
            procs,
            pss,
            last_flush: Instant::now(),
            line: String::with_capacity(128),
        })
    }

    pub fn write(&mut self, s: &TreeSample, rows: &[ProcRow]) -> io::Result<()> {
        let elapsed = s.elapsed.as_secs_f64();
        self.line.clear();
        format_tree_row(&mut self.line, s, self.pss);
        self.tree.write_all(self.line.as_bytes())?;
        if let Some(w) = self.procs.as_mut() {
            for r in rows {
                self.line.clear();
                format_proc_row(&mut self.line, elapsed, r, self.pss);
                w.write_all(self.line.as_bytes())?;
            }
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.tree.flush()?;
        if let Some(w) = self.procs.as_mut() {
            w.flush()?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }
}

fn push_opt<T: std::fmt::Display>(line: &mut String, v: Option<T>) {
    use std::fmt::Write;
    line.push(',');
    if let Some(v) = v {
        let _ = write!(line, "{v}");
    }
}

fn push_cpu(line: &mut String, v: Option<f64>) {
    push_opt(line, v.map(|c| format!("{c:.2}")));
}

/// One `samples.csv` row, newline included. Unmeasured values are empty cells.
pub fn format_tree_row(line: &mut String, s: &TreeSample, pss: bool) {
    use std::fmt::Write;
    let _ = write!(
        line,
        "{:.3},{},{},{}",
        s.elapsed.as_secs_f64(),
        s.rss_bytes,
        s.vms_bytes,
        s.threads
    );
    push_cpu(line, s.cpu_percent);
    push_opt(line, s.fds);
    push_opt(line, Some(s.procs));
    push_opt(line, s.gpu_mem_bytes);
    if pss {
        push_opt(line, s.pss_bytes);
        push_opt(line, s.uss_bytes);
    }
    line.push('\n');
}

/// One `samples-procs.csv` row, newline included.
pub fn format_proc_row(line: &mut String, elapsed_s: f64, r: &ProcRow, pss: bool) {
    use std::fmt::Write;
    let _ = write!(line, "{elapsed_s:.3},{},{},", r.pid, r.ppid);
    line.push_str(&crate::escape::csv_field(&r.command));
    let _ = write!(line, ",{},{},{}", r.rss_bytes, r.vms_bytes, r.threads);
    push_cpu(line, r.cpu_percent);
    push_opt(line, r.fds);
    push_opt(line, r.gpu_mem_bytes);
    if pss {
        push_opt(line, r.pss_bytes);
        push_opt(line, r.uss_bytes);
    }
    line.push('\n');
}

/// The columns of `timeline.csv` (DESIGN.md).
pub const TIMELINE_HEADER: &str = "elapsed_s,requests,errors,rps,p50_ms,p95_ms,p99_ms";

/// `timeline.csv`, one row per second of load, streamed and flushed as
/// each second completes.
pub struct TimelineWriter {
    file: BufWriter<File>,
}

impl TimelineWriter {
    pub fn create(path: &Path) -> io::Result<TimelineWriter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = BufWriter::new(File::create(path)?);
        writeln!(file, "{TIMELINE_HEADER}")?;
        Ok(TimelineWriter { file })
    }

    pub fn write(&mut self, row: &crate::load::TimelineRow) -> io::Result<()> {
        let p = |f: fn(&crate::load::stats::Percentiles) -> f64| {
            row.latency.as_ref().map_or(String::new(), |l| f(l).to_string())
        };
        writeln!(
            self.file,
            "{},{},{},{:.1},{},{},{}",
            row.elapsed_s,
            row.requests,
            row.errors,
            row.rps(),
            p(|l| l.p50_ms),
            p(|l| l.p95_ms),
            p(|l| l.p99_ms)
        )?;
        self.file.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TreeSample {
        TreeSample {
            elapsed: Duration::from_millis(1500),
            rss_bytes: 1024,
            vms_bytes: 4096,
            threads: 3,
            cpu_percent: Some(12.345),
            fds: Some(7),
            procs: 2,
            gpu_mem_bytes: None,
            pss_bytes: None,
            uss_bytes: None,
        }
    }

    #[test]
    fn tree_row_matches_header_and_leaves_unmeasured_empty() {
        let mut line = String::new();
        format_tree_row(&mut line, &sample(), false);
        assert_eq!(line, "1.500,1024,4096,3,12.35,7,2,\n");
        assert_eq!(line.trim_end().split(',').count(), SAMPLES_HEADER.split(',').count());
    }

    #[test]
    fn first_row_has_no_cpu_and_pss_columns_are_appended() {
        let mut s = sample();
        s.cpu_percent = None;
        s.pss_bytes = Some(900);
        s.uss_bytes = Some(800);
        let mut line = String::new();
        format_tree_row(&mut line, &s, true);
        assert_eq!(line, "1.500,1024,4096,3,,7,2,,900,800\n");
    }

    #[test]
    fn proc_row_quotes_commands_with_commas_and_quotes() {
        let row = ProcRow {
            pid: 10,
            ppid: 1,
            command: "python3 -c \"print(1,2)\"".into(),
            rss_bytes: 5,
            vms_bytes: 6,
            threads: 1,
            cpu_percent: None,
            fds: None,
            gpu_mem_bytes: Some(0),
            pss_bytes: None,
            uss_bytes: None,
        };
        let mut line = String::new();
        format_proc_row(&mut line, 0.1, &row, false);
        assert_eq!(line, "0.100,10,1,\"python3 -c \"\"print(1,2)\"\"\",5,6,1,,,0\n");
    }

    #[test]
    fn procs_file_sits_beside_samples_file() {
        assert_eq!(
            procs_path(Path::new("out/x/samples.csv")),
            Path::new("out/x/samples-procs.csv")
        );
        assert_eq!(procs_path(Path::new("rss.csv")), Path::new("rss-procs.csv"));
    }
}
