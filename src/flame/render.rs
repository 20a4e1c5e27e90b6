//! Drawing folded stacks as SVG with inferno: a flame graph, and a
//! differential graph of two profiles. Also the pure inclusive comparison
//! that says which functions got hotter, since inferno colours only the
//! leaf frame's change.

use std::collections::HashMap;
use std::io::Write;

use inferno::flamegraph::color::{BasicPalette, MultiPalette, Palette};
use inferno::flamegraph::{self, Options};

use super::Folded;

/// What a graph looks like.
#[derive(Debug, Clone)]
pub struct Style {
    pub title: String,
    pub subtitle: Option<String>,
    /// The unit of the counts, shown in the tooltips (`samples`, `ns`, `bytes`).
    pub count_name: String,
    pub palette: Palette,
}

impl Style {
    pub fn new(title: impl Into<String>, count_name: impl Into<String>) -> Style {
        Style {
            title: title.into(),
            subtitle: None,
            count_name: count_name.into(),
            palette: Palette::Basic(BasicPalette::Hot),
        }
    }

    /// The palette that suits a profile's language or kind.
    pub fn palette_for(kind: &str) -> Palette {
        match kind {
            "python" => Palette::Multi(MultiPalette::Python),
            "rust" => Palette::Multi(MultiPalette::Rust),
            "memory" => Palette::Basic(BasicPalette::Mem),
            _ => Palette::Basic(BasicPalette::Hot),
        }
    }

    fn options(&self) -> Options<'static> {
        let mut opt = Options::default();
        opt.title = self.title.clone();
        opt.subtitle = self.subtitle.clone();
        opt.count_name = self.count_name.clone();
        opt.colors = self.palette;
        // Colour by a hash of the function name, so a function keeps its
        // colour across graphs and runs.
        opt.hash = true;
        opt
    }
}

/// Writes `folded` as an SVG flame graph. An empty profile gives an SVG
/// that says so instead of an error, so every run leaves a picture.
pub fn svg(folded: &Folded, style: &Style, out: impl Write) -> std::io::Result<()> {
    let mut opt = style.options();
    if folded.is_empty() {
        opt.subtitle = Some(match &style.subtitle {
            Some(s) => format!("{s} - no samples were taken"),
            None => "no samples were taken".into(),
        });
        return flamegraph::from_lines(&mut opt, std::iter::once("no samples 1"), out);
    }
    // Already sorted.
    opt.no_sort = true;
    flamegraph::from_lines(&mut opt, folded.lines(), out)
}

/// Writes the differential flame graph of `before` → `after`: widths from
/// `after`, red where a stack's own (leaf) time grew, blue where it shrank.
/// `normalize` scales `before` to `after`'s total first, so windows of
/// different length or rate compare fairly.
pub fn diff_svg(
    before: &Folded,
    after: &Folded,
    normalize: bool,
    style: &Style,
    out: impl Write,
) -> std::io::Result<()> {
    let mut lines = Vec::new();
    let opt = inferno::differential::Options {
        normalize,
        strip_hex: false,
    };
    inferno::differential::from_readers(opt, before.to_text().as_bytes(), after.to_text().as_bytes(), &mut lines)?;
    let text = String::from_utf8_lossy(&lines);
    let mut opt = style.options();
    if text.trim().is_empty() {
        return flamegraph::from_lines(&mut opt, std::iter::once("no samples 1 1"), out);
    }
    flamegraph::from_lines(&mut opt, text.lines(), out)
}

/// A function whose inclusive share of the profile changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShareChange {
    pub frame: String,
    /// Percent of all samples with this frame anywhere on the stack.
    pub before_pct: f64,
    pub after_pct: f64,
    /// `after_pct - before_pct`, in percentage points.
    pub change_pts: f64,
}

/// Each frame's inclusive weight: the weight of the stacks it appears in,
/// counted once per stack even when it recurses.
fn inclusive(folded: &Folded) -> HashMap<&str, u64> {
    let mut map: HashMap<&str, u64> = HashMap::new();
    for (stack, count) in folded.iter() {
        let mut seen: Vec<&str> = Vec::new();
        for frame in stack.split(';') {
            if !seen.contains(&frame) {
                seen.push(frame);
                *map.entry(frame).or_default() += count;
            }
        }
    }
    map
}

/// The frames whose inclusive share changed most between two profiles,
/// largest absolute change first, at most `limit`, ignoring changes under
/// `min_pts` percentage points. Shares make profiles of different length
/// comparable without normalising.
pub fn share_changes(before: &Folded, after: &Folded, limit: usize, min_pts: f64) -> Vec<ShareChange> {
    let (tb, ta) = (before.total().max(1) as f64, after.total().max(1) as f64);
    let (ib, ia) = (inclusive(before), inclusive(after));
    let mut frames: Vec<&str> = ib.keys().chain(ia.keys()).copied().collect();
    frames.sort_unstable();
    frames.dedup();
    let mut changes: Vec<ShareChange> = frames
        .into_iter()
        .map(|f| {
            let before_pct = 100.0 * ib.get(f).copied().unwrap_or(0) as f64 / tb;
            let after_pct = 100.0 * ia.get(f).copied().unwrap_or(0) as f64 / ta;
            ShareChange {
                frame: f.to_string(),
                before_pct,
                after_pct,
                change_pts: after_pct - before_pct,
            }
        })
        .filter(|c| c.change_pts.abs() >= min_pts)
        .collect();
    changes.sort_by(|a, b| {
        b.change_pts
            .abs()
            .total_cmp(&a.change_pts.abs())
            .then_with(|| a.frame.cmp(&b.frame))
    });
    changes.truncate(limit);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// inferno's SVGs carry a DOCTYPE.
    fn xml(text: &str) {
        let opt = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        roxmltree::Document::parse_with_options(text, opt).expect("well-formed XML");
    }

    fn parse(s: &str) -> Folded {
        Folded::parse(s).unwrap()
    }

    #[test]
    fn renders_well_formed_svg_naming_the_frames() {
        let f = parse("main;handler;hash_loop 30\nmain;handler;parse 10\n");
        let mut style = Style::new("CPU", "samples");
        style.subtitle = Some("py-spy, 5s, 40 samples".into());
        let mut out = Vec::new();
        svg(&f, &style, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        xml(&text);
        assert!(text.contains("hash_loop"));
        assert!(text.contains("py-spy, 5s, 40 samples"));
    }

    #[test]
    fn an_empty_profile_still_draws() {
        let mut out = Vec::new();
        svg(&Folded::new(), &Style::new("CPU", "samples"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("no samples were taken"));
    }

    #[test]
    fn diff_draws_both_profiles() {
        let (a, b) = (parse("main;a;b 10\nmain;a;c 10\n"), parse("main;a;b 30\nmain;a;c 5\n"));
        let mut out = Vec::new();
        diff_svg(&a, &b, false, &Style::new("diff", "samples"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        xml(&text);
        assert!(text.contains("main"));
    }

    #[test]
    fn inclusive_shares_show_a_caller_that_got_hotter() {
        // inferno colours only the leaves; the caller `a` grew from 50% to 80%.
        let before = parse("main;a;b 10\nmain;x 10\n");
        let after = parse("main;a;b 40\nmain;x 10\n");
        let changes = share_changes(&before, &after, 10, 0.5);
        let a = changes.iter().find(|c| c.frame == "a").unwrap();
        assert!((a.before_pct - 50.0).abs() < 1e-9 && (a.after_pct - 80.0).abs() < 1e-9);
        assert!((a.change_pts - 30.0).abs() < 1e-9);
        let x = changes.iter().find(|c| c.frame == "x").unwrap();
        assert!((x.change_pts + 30.0).abs() < 1e-9);
        // `main` is in every stack: unchanged, so left out.
        assert!(changes.iter().all(|c| c.frame != "main"));
    }

    #[test]
    fn recursion_counts_once_per_stack() {
        let f = parse("main;fib;fib;fib 4\n");
        assert_eq!(inclusive(&f).get("fib"), Some(&4));
    }
}
