//! The `heap` section of result.json and the lines a person reads about a
//! heap profile: which code holds the memory.

use std::io::Write;
use std::path::Path;

use crate::config::units::format_bytes;
use crate::heap::{HeapProfile, Site};
use crate::report::flame::FlameSection;

/// The target's pace inside the heap window against outside it: what
/// heap tracking cost.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Overhead {
    /// Answers per second inside and outside the window.
    pub rps_inside: f64,
    pub rps_outside: f64,
    /// p95 latency in ms inside and outside the window.
    pub p95_ms_inside: Option<f64>,
    pub p95_ms_outside: Option<f64>,
    /// Inside over outside: below 1, tracking slowed the answers.
    pub throughput_ratio: Option<f64>,
    /// Inside over outside: above 1, tracking lengthened them.
    pub p95_ratio: Option<f64>,
}

/// `heap` in result.json (and `flame --heap --json`). Read back leniently.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HeapSection {
    /// `memray`, `pprof` or `jemalloc`.
    pub profiler: String,
    /// `heap`, as a CPU profile's section says `cpu`.
    pub kind: String,
    /// What the folded counts are: `bytes`.
    pub unit: String,
    /// `retained` or `inuse`.
    pub mode: String,
    /// The window on the run's clock (seconds from its start).
    pub window_s: Option<[f64; 2]>,
    pub total_bytes: u64,
    pub stacks: usize,
    /// Allocations (memray) or stacks behind the profile.
    pub samples: u64,
    /// The places holding the most bytes, largest first.
    pub sites: Vec<Site>,
    pub pid: Option<u32>,
    pub folded: Option<String>,
    pub svg: Option<String>,
    pub title: Option<String>,
    pub overhead: Option<Overhead>,
    pub partial: Option<String>,
    /// Why there is no profile, if there is none.
    pub error: Option<String>,
    pub notes: Vec<String>,
}

impl HeapSection {
    pub fn from_profile(p: &HeapProfile, folded: Option<&Path>, svg: Option<&Path>, title: &str) -> HeapSection {
        let c = &p.capture;
        HeapSection {
            profiler: c.profiler.name().into(),
            kind: "heap".into(),
            unit: "bytes".into(),
            mode: p.mode.name().into(),
            window_s: None,
            total_bytes: c.folded.total(),
            stacks: c.folded.len(),
            samples: c.samples,
            sites: p
                .sites
                .iter()
                .map(|s| Site {
                    share: (s.share * 10_000.0).round() / 10_000.0,
                    ..s.clone()
                })
                .collect(),
            pid: c.pid,
            folded: folded.map(|p| p.display().to_string()),
            svg: svg.map(|p| p.display().to_string()),
            title: Some(title.to_string()),
            overhead: None,
            partial: c.partial.clone(),
            error: None,
            notes: c.notes.clone(),
        }
    }

    /// The section of a profile that could not be taken.
    pub fn failed(profiler: &str, mode: &str, error: String) -> HeapSection {
        HeapSection {
            profiler: profiler.into(),
            kind: "heap".into(),
            unit: "bytes".into(),
            mode: mode.into(),
            error: Some(error),
            ..HeapSection::default()
        }
    }

    /// How its graph is drawn: as a flame graph weighed by bytes, in the
    /// memory palette.
    pub fn flame_view(&self) -> FlameSection {
        FlameSection {
            profiler: self.profiler.clone(),
            kind: "heap".into(),
            samples: self.samples,
            unit: "bytes".into(),
            total: self.total_bytes,
            stacks: self.stacks,
            duration_s: self.window_s.map_or(0.0, |[a, b]| b - a),
            pid: self.pid,
            folded: self.folded.clone(),
            svg: self.svg.clone(),
            title: self.title.clone(),
            partial: self.partial.clone(),
            notes: self.notes.clone(),
            hottest: Vec::new(),
            error: self.error.clone(),
        }
    }

    /// `93 % in cache_add (app/cache.py:42), 4 % in …`: the top sites, for a
    /// verdict's reason. None when there are none.
    pub fn blame(&self, n: usize) -> Option<String> {
        if self.sites.is_empty() || self.total_bytes == 0 {
            return None;
        }
        let mut sites = self.sites.iter().take(n);
        let first = sites.next()?;
        let mut text = format!(
            "{:.0} % of the memory {} in the heap window ({}) was allocated in {}",
            first.share * 100.0,
            self.held_word(),
            format_bytes(self.total_bytes as f64),
            first.label()
        );
        for s in sites {
            text.push_str(&format!(", {:.0} % in {}", s.share * 100.0, s.label()));
        }
        Some(text)
    }

    fn held_word(&self) -> &'static str {
        if self.mode == "inuse" { "held" } else { "retained" }
    }
}

/// The human summary of a heap profile.
pub fn write_summary(out: &mut dyn Write, s: &HeapSection) -> std::io::Result<()> {
    if let Some(e) = &s.error {
        return writeln!(out, "heap: no profile: {e}");
    }
    let window = s.window_s.map_or(String::new(), |[a, b]| format!(", {:.1}s", b - a));
    writeln!(
        out,
        "heap: {} {} profile{window}, {} {} in {} stacks",
        s.profiler,
        s.mode,
        format_bytes(s.total_bytes as f64),
        s.held_word(),
        s.stacks
    )?;
    if let Some(p) = &s.partial {
        writeln!(out, "  partial: {p}")?;
    }
    for note in &s.notes {
        writeln!(out, "  note: {note}")?;
    }
    if let Some(o) = &s.overhead {
        let ratio = |r: Option<f64>| r.map_or("n/a".to_string(), |r| format!("{r:.2}"));
        writeln!(
            out,
            "  overhead: throughput inside/outside the window {}, p95 {}",
            ratio(o.throughput_ratio),
            ratio(o.p95_ratio)
        )?;
    }
    if !s.sites.is_empty() {
        writeln!(out, "  top sites ({} bytes):", s.held_word())?;
        for site in &s.sites {
            writeln!(
                out,
                "    {:5.1}%  {:>10}  {}",
                site.share * 100.0,
                format_bytes(site.bytes as f64),
                site.label()
            )?;
        }
    }
    match (&s.svg, &s.folded) {
        (Some(svg), Some(folded)) => writeln!(out, "  wrote {svg} and {folded}"),
        (Some(svg), None) => writeln!(out, "  wrote {svg}"),
        (None, Some(folded)) => writeln!(out, "  wrote {folded}"),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> HeapSection {
        HeapSection {
            profiler: "memray".into(),
            mode: "retained".into(),
            total_bytes: 10 << 20,
            sites: vec![
                Site {
                    function: "cache_add".into(),
                    file: Some("app.py".into()),
                    line: Some(42),
                    bytes: 9 << 20,
                    share: 0.9,
                },
                Site {
                    function: "other".into(),
                    file: None,
                    line: None,
                    bytes: 1 << 20,
                    share: 0.1,
                },
            ],
            ..HeapSection::default()
        }
    }

    #[test]
    fn blame_names_the_top_sites_and_their_shares() {
        let b = section().blame(1).unwrap();
        assert!(
            b.starts_with("90 % of the memory retained") && b.ends_with("in cache_add (app.py:42)"),
            "{b}"
        );
        assert!(!b.contains("other"), "{b}");
        assert!(section().blame(3).unwrap().contains("10 % in other"));
        assert_eq!(HeapSection::default().blame(3), None);
    }

    #[test]
    fn the_summary_lists_sites_and_a_failure_says_why() {
        let mut out = Vec::new();
        write_summary(&mut out, &section()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("memray retained profile"), "{text}");
        assert!(
            text.contains("90.0%") && text.contains("cache_add (app.py:42)"),
            "{text}"
        );
        let mut out = Vec::new();
        write_summary(
            &mut out,
            &HeapSection::failed("memray", "retained", "gdb is missing".into()),
        )
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("no profile: gdb is missing"));
    }
}
