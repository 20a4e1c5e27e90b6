//! The `flame` section of result.json and the lines a person reads about a
//! flame graph.

use std::io::Write;
use std::path::Path;

use crate::flame::Capture;
use crate::flame::render::ShareChange;

/// A frame with its share of the profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HotFrame {
    pub frame: String,
    /// Percent of the total weight spent in the frame itself (leaf).
    pub self_pct: f64,
}

/// `flame` in result.json.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlameSection {
    /// `py-spy`, `pprof` or `perf`.
    pub profiler: String,
    /// `cpu` or `heap`.
    pub kind: String,
    /// Stack samples behind the graph.
    pub samples: u64,
    /// What the folded counts are: `samples`, `nanoseconds` or `bytes`.
    pub unit: String,
    /// The sum of the folded counts.
    pub total: u64,
    /// Distinct stacks.
    pub stacks: usize,
    pub duration_s: f64,
    pub pid: Option<u32>,
    pub folded: Option<String>,
    pub svg: Option<String>,
    /// Why the profile covers less than asked, if it does.
    pub partial: Option<String>,
    pub notes: Vec<String>,
    /// The leaf frames with the most self time.
    pub hottest: Vec<HotFrame>,
    /// Why there is no profile, if there is none.
    pub error: Option<String>,
}

impl FlameSection {
    pub fn from_capture(c: &Capture, folded: Option<&Path>, svg: Option<&Path>) -> FlameSection {
        FlameSection {
            profiler: c.profiler.name().into(),
            kind: c.kind.into(),
            samples: c.samples,
            unit: c.unit.clone(),
            total: c.folded.total(),
            stacks: c.folded.len(),
            duration_s: (c.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            pid: c.pid,
            folded: folded.map(|p| p.display().to_string()),
            svg: svg.map(|p| p.display().to_string()),
            partial: c.partial.clone(),
            notes: c.notes.clone(),
            hottest: c
                .folded
                .hottest(5)
                .into_iter()
                .map(|(frame, pct)| HotFrame {
                    frame,
                    self_pct: (pct * 100.0).round() / 100.0,
                })
                .collect(),
            error: None,
        }
    }
}

/// The line under a graph's title: profiler, duration, samples, and a
/// partial profile's reason.
pub fn subtitle(c: &Capture) -> String {
    let mut s = format!(
        "{}, {:.1}s, {} samples",
        c.profiler.name(),
        c.elapsed.as_secs_f64(),
        c.samples
    );
    if c.unit != "samples" {
        s.push_str(&format!(", weighed by {}", c.unit));
    }
    if let Some(pid) = c.pid {
        s.push_str(&format!(", pid {pid}"));
    }
    if let Some(p) = &c.partial {
        s.push_str(&format!(" - partial: {p}"));
    }
    s
}

/// The human summary of a capture.
pub fn write_summary(out: &mut dyn Write, s: &FlameSection) -> std::io::Result<()> {
    writeln!(
        out,
        "flame: {} {} profile, {:.1}s, {} samples, {} stacks",
        s.profiler, s.kind, s.duration_s, s.samples, s.stacks
    )?;
    if let Some(p) = &s.partial {
        writeln!(out, "  partial: {p}")?;
    }
    for note in &s.notes {
        writeln!(out, "  note: {note}")?;
    }
    if !s.hottest.is_empty() {
        writeln!(out, "  hottest (self):")?;
        for h in &s.hottest {
            writeln!(out, "    {:5.1}%  {}", h.self_pct, h.frame)?;
        }
    }
    match (&s.svg, &s.folded) {
        (Some(svg), Some(folded)) => writeln!(out, "  wrote {svg} and {folded}"),
        (Some(svg), None) => writeln!(out, "  wrote {svg}"),
        (None, Some(folded)) => writeln!(out, "  wrote {folded}"),
        (None, None) => Ok(()),
    }
}

/// The functions whose inclusive share changed most between two profiles.
pub fn write_changes(out: &mut dyn Write, changes: &[ShareChange]) -> std::io::Result<()> {
    if changes.is_empty() {
        return writeln!(out, "no function's inclusive share changed by 0.5 points or more");
    }
    writeln!(out, "inclusive share of samples, before -> after (change):")?;
    for c in changes {
        writeln!(
            out,
            "  {:6.1}% -> {:6.1}%  ({:+6.1} pts)  {}",
            c.before_pct, c.after_pct, c.change_pts, c.frame
        )?;
    }
    Ok(())
}
