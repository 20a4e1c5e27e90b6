//! The live progress lines, shown only when stdout is a terminal: while
//! sampling (RSS, CPU, threads, processes, elapsed time) and while loading
//! (elapsed and remaining time, requests per second, errors, p95).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::text::format_bytes;
use crate::config::units::format_duration;
use crate::sample::TreeSample;

pub struct Progress {
    bar: Option<ProgressBar>,
    duration: Option<Duration>,
}

/// A spinner line on stdout if `wanted` and stdout is a terminal.
fn spinner(wanted: bool) -> Option<ProgressBar> {
    (wanted && std::io::stdout().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout_with_hz(4));
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        bar
    })
}

fn clear(bar: &Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

impl Progress {
    /// A progress line on stdout if `wanted` and stdout is a terminal.
    pub fn new(wanted: bool, duration: Option<Duration>) -> Progress {
        Progress {
            bar: spinner(wanted),
            duration,
        }
    }

    pub fn update(&self, s: &TreeSample) {
        let Some(bar) = &self.bar else {
            return;
        };
        let cpu = s.cpu_percent.map_or("-".into(), |c| format!("{c:.0}%"));
        let time = match self.duration {
            Some(d) => format!("{} / {}", format_duration(round_s(s.elapsed)), format_duration(d)),
            None => format_duration(round_s(s.elapsed)),
        };
        bar.set_message(format!(
            "{time}  RSS {}  CPU {cpu}  threads {}  procs {}",
            format_bytes(s.rss_bytes as f64),
            s.threads,
            s.procs
        ));
        bar.tick();
    }

    pub fn finish(&self) {
        clear(&self.bar);
    }
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// The live line of a load run: elapsed / planned time, requests per
/// second, errors, and the p95 of the last second.
pub struct LoadProgress {
    bar: Option<ProgressBar>,
    duration: Option<Duration>,
    errors: u64,
}

impl LoadProgress {
    pub fn new(wanted: bool, duration: Option<Duration>) -> LoadProgress {
        LoadProgress {
            bar: spinner(wanted),
            duration,
            errors: 0,
        }
    }

    pub fn update(&mut self, row: &crate::load::TimelineRow) {
        self.errors += row.errors;
        let Some(bar) = &self.bar else {
            return;
        };
        let elapsed = Duration::from_secs(row.elapsed_s + 1);
        let time = match self.duration {
            Some(d) => format!(
                "{} / {} ({} left)",
                format_duration(elapsed),
                format_duration(d),
                format_duration(d.saturating_sub(elapsed))
            ),
            None => format_duration(elapsed),
        };
        let p95 = row.latency.map_or("-".into(), |l| format!("{:.1}ms", l.p95_ms));
        bar.set_message(format!(
            "{time}  {:.0} req/s  errors {}  p95 {p95}",
            row.rps(),
            self.errors
        ));
        bar.tick();
    }

    pub fn finish(&self) {
        clear(&self.bar);
    }
}
