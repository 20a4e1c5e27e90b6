//! The human summary printed at the end of a sampling run.

use std::io::{self, Write};
use std::path::Path;

use crate::config::units::format_duration;
use crate::sample::series::{Series, SeriesStats};
use crate::sample::{GpuState, Outcome, Recording};

pub use crate::config::units::format_bytes;

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT (Ctrl-C)".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        other => format!("signal {other}"),
    }
}

/// "interrupted by SIGINT (Ctrl-C)", for a stop request.
pub fn stop_phrase(reason: crate::cancel::StopReason) -> String {
    use crate::cancel::StopReason;
    match reason {
        StopReason::Signal(sig) => format!("interrupted by {}", signal_name(sig)),
        StopReason::TargetExited => "stopped because the target exited".into(),
        StopReason::Finished => "stopped".into(),
    }
}

/// One line saying how the run ended.
pub fn outcome_line(rec: &Recording) -> String {
    match rec.outcome {
        Outcome::Completed => "completed".into(),
        Outcome::Interrupted => format!(
            "interrupted by {}; results are partial",
            rec.stop_signal.map_or("a stop request".into(), signal_name)
        ),
        Outcome::TargetExited => "the target exited".into(),
        Outcome::Failed => "the run could not be carried out".into(),
    }
}

fn target_line(rec: &Recording, owned: bool) -> Option<String> {
    let exit = rec.target_exit?;
    let how = match (exit.code, exit.signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by {}", signal_name(sig)),
        _ => "ended".into(),
    };
    let by_us = owned && rec.outcome != Outcome::TargetExited;
    Some(format!(
        "target {how}{}",
        if by_us {
            " (stopped by loadprof at the end of sampling)"
        } else {
            ""
        }
    ))
}

/// Writes the end-of-run summary: the outcome, a min/mean/max/last table,
/// timing quality and where the samples went.
pub fn write_summary(
    w: &mut dyn Write,
    rec: &Recording,
    owned: bool,
    csv: &Path,
    procs_csv: Option<&Path>,
) -> io::Result<()> {
    let scope = if rec.pids.len() > 1 { " and its children" } else { "" };
    writeln!(
        w,
        "loadprof sample: pid {} ({}){scope}: {}",
        rec.root_pid,
        rec.command,
        outcome_line(rec)
    )?;
    let rate = rec.real_rate_hz().map_or(String::new(), |r| {
        format!(" at {r:.2} Hz (asked {:.2} Hz)", 1.0 / rec.interval.as_secs_f64())
    });
    writeln!(
        w,
        "  {} samples over {}{rate}, {} processes seen",
        rec.samples,
        format_duration(rec.span),
        rec.pids.len()
    )?;
    if let Some(line) = target_line(rec, owned) {
        writeln!(w, "  {line}")?;
    }
    if rec.samples == 0 {
        writeln!(w, "  no samples: the target exited before the first one")?;
    } else {
        let s = &rec.summary;
        writeln!(
            w,
            "  {:<9} {:>12} {:>12} {:>12} {:>12}",
            "", "min", "mean", "max", "last"
        )?;
        let bytes = |v: f64| format_bytes(v);
        let count = |v: f64| format!("{v:.1}");
        // Counts print whole, except a mean that falls between two counts.
        let whole = |v: f64| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        };
        table_row(w, "RSS", &s.rss_bytes, bytes)?;
        table_row(w, "VMS", &s.vms_bytes, bytes)?;
        table_row(w, "CPU %", &s.cpu_percent, count)?;
        table_row(w, "threads", &s.threads, whole)?;
        table_row(w, "fds", &s.fds, whole)?;
        table_row(w, "procs", &s.procs, whole)?;
        table_row(w, "PSS", &s.pss_bytes, bytes)?;
        table_row(w, "USS", &s.uss_bytes, bytes)?;
        match &rec.gpu {
            GpuState::Available if s.gpu_mem_bytes.stats().is_some() => {
                table_row(w, "GPU mem", &s.gpu_mem_bytes, bytes)?
            }
            GpuState::Available => {}
            // The reason was said once when sampling started.
            GpuState::Unavailable(_) => writeln!(w, "  {:<9} not available", "GPU mem")?,
            GpuState::Off => writeln!(w, "  {:<9} off", "GPU mem")?,
        }
        if rec.pids.len() > 1 {
            writeln!(
                w,
                "  RSS and VMS are summed over the tree; shared pages count once per process (use --pss for PSS)."
            )?;
        }
    }
    if rec.late_samples > 0 || rec.missed_samples > 0 {
        writeln!(
            w,
            "  timing: {} of {} samples late (over {} behind), {} skipped",
            rec.late_samples,
            rec.samples,
            format_duration(rec.interval / 10),
            rec.missed_samples
        )?;
    }
    writeln!(w, "  samples: {}", csv.display())?;
    if let Some(p) = procs_csv {
        writeln!(w, "  per process: {}", p.display())?;
    }
    Ok(())
}

fn table_row(w: &mut dyn Write, label: &str, series: &Series, fmt: impl Fn(f64) -> String) -> io::Result<()> {
    let Some(SeriesStats {
        min, mean, max, last, ..
    }) = series.stats()
    else {
        return Ok(());
    };
    writeln!(
        w,
        "  {label:<9} {:>12} {:>12} {:>12} {:>12}",
        fmt(min),
        fmt(mean),
        fmt(max),
        fmt(last)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1536.0), "1.50 KiB");
        assert_eq!(format_bytes(120.3 * 1024.0 * 1024.0), "120.3 MiB");
        assert_eq!(format_bytes(2.0 * 1024.0 * 1024.0 * 1024.0), "2.00 GiB");
    }
}
