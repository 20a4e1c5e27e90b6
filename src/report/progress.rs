//! The live progress line shown while sampling, only when stdout is a
//! terminal: current RSS, CPU, threads, processes and elapsed time.

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

impl Progress {
    /// A progress line on stdout if `wanted` and stdout is a terminal.
    pub fn new(wanted: bool, duration: Option<Duration>) -> Progress {
        let bar = (wanted && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout_with_hz(4));
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            bar
        });
        Progress { bar, duration }
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
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
