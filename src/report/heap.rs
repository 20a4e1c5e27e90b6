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

/// One second of the load's timeline, on the run's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Second {
    pub start_s: f64,
    pub width_s: f64,
    pub requests: u64,
    pub p95_ms: Option<f64>,
}

/// The target's pace inside `window` against the loaded seconds outside it
/// (leaving out those before `from_s`, the load's first moments): answers
/// per second, and the median of the seconds' p95. None when either side
/// has no whole second.
pub fn overhead(seconds: &[Second], window: (f64, f64), from_s: f64) -> Option<Overhead> {
    let whole = seconds.iter().filter(|s| s.width_s >= 0.999 && s.start_s >= from_s);
    let (inside, outside): (Vec<&Second>, Vec<&Second>) =
        whole.partition(|s| s.start_s >= window.0 && s.start_s + s.width_s <= window.1);
    let outside: Vec<&Second> = outside
        .into_iter()
        .filter(|s| s.start_s + s.width_s <= window.0 || s.start_s >= window.1)
        .collect();
    if inside.is_empty() || outside.is_empty() {
        return None;
    }
    let rps = |v: &[&Second]| v.iter().map(|s| s.requests as f64).sum::<f64>() / v.len() as f64;
    let p95 = |v: &[&Second]| {
        let mut p: Vec<f64> = v.iter().filter_map(|s| s.p95_ms).collect();
        p.sort_by(f64::total_cmp);
        (!p.is_empty()).then(|| p[p.len() / 2])
    };
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(round(a / b)),
        _ => None,
    };
    let (ri, ro) = (rps(&inside), rps(&outside));
    let (pi, po) = (p95(&inside), p95(&outside));
    Some(Overhead {
        rps_inside: round(ri),
        rps_outside: round(ro),
        p95_ms_inside: pi.map(round),
        p95_ms_outside: po.map(round),
        throughput_ratio: ratio(Some(ri), Some(ro)),
        p95_ratio: ratio(pi, po),
    })
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
        // A site under 1 % of the bytes names nothing worth chasing.
        let mut sites = self.sites.iter().filter(|s| s.share >= 0.01).take(n);
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

    fn second(start_s: f64, requests: u64, p95: f64) -> Second {
        Second {
            start_s,
            width_s: 1.0,
            requests,
            p95_ms: Some(p95),
        }
    }

    #[test]
    fn overhead_compares_the_window_with_the_rest() {
        let mut s: Vec<Second> = (0..10).map(|i| second(i as f64, 100, 10.0)).collect();
        for x in &mut s[4..8] {
            *x = second(x.start_s, 80, 15.0);
        }
        // A partial last second and the first one are left out.
        s.push(Second {
            start_s: 10.0,
            width_s: 0.4,
            requests: 1,
            p95_ms: Some(999.0),
        });
        s[0] = second(0.0, 1, 500.0);
        let o = overhead(&s, (4.0, 8.0), 1.0).unwrap();
        assert_eq!((o.rps_inside, o.rps_outside), (80.0, 100.0));
        assert_eq!((o.p95_ms_inside, o.p95_ms_outside), (Some(15.0), Some(10.0)));
        assert_eq!((o.throughput_ratio, o.p95_ratio), (Some(0.8), Some(1.5)));
        // A window over the whole load has nothing to compare with.
        assert_eq!(overhead(&s, (0.0, 11.0), 0.0), None);
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
