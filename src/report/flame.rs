//! The `flame` section of result.json and the lines a person reads about a
//! flame graph.

use std::io::Write;
use std::path::Path;

use crate::flame::Capture;
use crate::flame::render::{ShareChange, Style};

/// A frame with its share of the profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HotFrame {
    pub frame: String,
    /// Percent of the total weight spent in the frame itself (leaf).
    pub self_pct: f64,
}

/// `flame` in result.json. Read back leniently (a key a stored result
/// lacks takes its default), to draw the graph again.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    /// The graph's title (what was profiled), so the graph can be drawn
    /// again from the folded stacks alone.
    pub title: Option<String>,
    /// Why the profile covers less than asked, if it does.
    pub partial: Option<String>,
    pub notes: Vec<String>,
    /// The leaf frames with the most self time.
    pub hottest: Vec<HotFrame>,
    /// Why there is no profile, if there is none.
    pub error: Option<String>,
}

impl FlameSection {
    pub fn from_capture(c: &Capture, folded: Option<&Path>, svg: Option<&Path>, title: &str) -> FlameSection {
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
            title: Some(title.to_string()),
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

    /// How the graph of this profile is drawn: its title, the line under
    /// it (profiler, duration, samples, a partial profile's reason), the
    /// unit of its counts and the palette that suits what was profiled.
    /// The same from the capture as from a stored result, so the report
    /// draws the graph `run` drew.
    pub fn style(&self) -> Style {
        let title = self
            .title
            .clone()
            .unwrap_or_else(|| if self.kind == "heap" { "Heap in use" } else { "CPU" }.to_string());
        let count_name = match self.unit.as_str() {
            "nanoseconds" => "ns",
            "" => "samples",
            unit => unit,
        };
        let mut style = Style::new(title, count_name);
        style.subtitle = Some(self.subtitle());
        style.palette = Style::palette_for(self.palette_kind());
        style
    }

    /// The line under a graph's title: profiler, duration, samples, and a
    /// partial profile's reason.
    fn subtitle(&self) -> String {
        let mut s = format!("{}, {:.1}s, {} samples", self.profiler, self.duration_s, self.samples);
        if !matches!(self.unit.as_str(), "samples" | "") {
            s.push_str(&format!(", weighed by {}", self.unit));
        }
        if let Some(pid) = self.pid {
            s.push_str(&format!(", pid {pid}"));
        }
        if let Some(p) = &self.partial {
            s.push_str(&format!(" - partial: {p}"));
        }
        s
    }

    /// The palette that suits what was profiled: memory for a heap profile,
    /// Python for py-spy, Rust when the hottest frames are Rust paths.
    fn palette_kind(&self) -> &'static str {
        if self.kind == "heap" {
            "memory"
        } else if self.profiler == "py-spy" {
            "python"
        } else if self.profiler == "pprof" && self.hottest.iter().any(|h| h.frame.contains("::")) {
            "rust"
        } else {
            "hot"
        }
    }
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
pub fn write_changes(out: &mut dyn Write, changes: &[ShareChange], unit: &str) -> std::io::Result<()> {
    if changes.is_empty() {
        return writeln!(out, "no function's inclusive share changed by 0.5 points or more");
    }
    writeln!(out, "inclusive share of {unit}, before -> after (change):")?;
    for c in changes {
        writeln!(
            out,
            "  {:6.1}% -> {:6.1}%  ({:+6.1} pts)  {}",
            c.before_pct, c.after_pct, c.change_pts, c.frame
        )?;
    }
    Ok(())
}
