//! Drawing folded stacks as SVG with inferno: a flame graph, and a
//! differential graph of two profiles. Also the pure inclusive comparison
//! that says which functions got hotter, since inferno colours only the
//! leaf frame's change.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use inferno::flamegraph::color::{BasicPalette, MultiPalette, Palette};
use inferno::flamegraph::{self, Options};

use super::Folded;
use crate::escape::xml_chars;

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
        // inferno escapes markup but passes on characters XML cannot
        // carry, which would leave an SVG no browser opens.
        opt.title = xml_chars(&self.title).into_owned();
        opt.subtitle = self.subtitle.as_deref().map(|s| xml_chars(s).into_owned());
        opt.count_name = xml_chars(&self.count_name).into_owned();
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
    let visible = visible_lines(folded, opt.min_width);
    let drawable = xml_chars(&visible);
    // Already sorted, unless a frame's name had to change.
    opt.no_sort = matches!(drawable, Cow::Borrowed(_));
    flamegraph::from_lines(&mut opt, drawable.lines(), out)
}

/// True when the line `a.0 a.1` sorts before the line `b.0 b.1`, compared
/// as inferno compares lines (whole, count included).
fn line_before(a: (&str, u64), b: (&str, u64)) -> bool {
    let (mut da, mut db) = ([0u8; 20], [0u8; 20]);
    let (ia, ib) = (digits(a.1, &mut da), digits(b.1, &mut db));
    let la = a.0.bytes().chain(std::iter::once(b' ')).chain(da[ia..].iter().copied());
    let lb = b.0.bytes().chain(std::iter::once(b' ')).chain(db[ib..].iter().copied());
    la.lt(lb)
}

/// Writes `n` in decimal at the end of `buf`; returns where it starts.
fn digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// The lines of `folded` (in its order) with the frames too narrow to be
/// drawn cut away: below the first frame of a line whose box would be
/// narrower than `min_width` percent of the graph, nothing can be drawn, so
/// those frames are dropped and the lines that become equal are added up.
/// inferno would build every one of those frames only to prune them; the
/// graph drawn from these lines is the same, box for box.
///
/// A box is a run of adjacent lines sharing a prefix, exactly as inferno
/// merges them, so the widths here are the widths it would draw. A cut
/// that would put a line before the one above it (inferno requires sorted
/// lines) is not made; its extra frames are pruned by inferno instead.
pub fn visible_lines(folded: &Folded, min_width: f64) -> String {
    let lines: Vec<(&str, u64)> = folded.iter().filter(|(s, _)| !s.starts_with("# ")).collect();
    let total = lines.iter().fold(0u64, |t, (_, c)| t.saturating_add(*c));
    // inferno's own test: a box narrower than this many samples is pruned.
    let min_time = min_width / (100.0 / total as f64);
    let mut cum = Vec::with_capacity(lines.len() + 1);
    cum.push(0u64);
    for (_, c) in &lines {
        cum.push(cum.last().copied().unwrap_or(0).saturating_add(*c));
    }
    // How many frames of each line to keep (usize::MAX: all of them).
    let mut keep = vec![usize::MAX; lines.len()];
    // The line each open box (one per depth) started at.
    let mut open: Vec<usize> = Vec::new();
    let close = |open: &mut Vec<usize>, depth: usize, end: usize, keep: &mut Vec<usize>| {
        // Deepest first, so the shallowest narrow box has the last word.
        for j in (depth..open.len()).rev() {
            let start = open[j];
            if ((cum[end] - cum[start]) as f64) < min_time {
                keep[start..end].fill(j + 1);
            }
        }
        open.truncate(depth);
    };
    let mut prev: &str = "";
    let mut prev_ends: Vec<usize> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    for (i, (stack, _)) in lines.iter().enumerate() {
        let (a, b) = (prev.as_bytes(), stack.as_bytes());
        let same = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let ends_frame = |at: usize| at == b.len() || b[at] == b';';
        let common = if i == 0 {
            0
        } else {
            prev_ends
                .iter()
                .take_while(|&&e| e < same || (e == same && ends_frame(e)))
                .count()
        };
        close(&mut open, common, i, &mut keep);
        ends.clear();
        ends.extend_from_slice(&prev_ends[..common]);
        let mut at = if common == 0 { 0 } else { ends[common - 1] + 1 };
        loop {
            match stack[at..].find(';') {
                Some(p) => {
                    ends.push(at + p);
                    at += p + 1;
                }
                None => {
                    ends.push(stack.len());
                    break;
                }
            }
        }
        open.resize(ends.len(), i);
        std::mem::swap(&mut prev_ends, &mut ends);
        prev = stack;
    }
    close(&mut open, 0, lines.len(), &mut keep);

    let mut out = String::with_capacity(folded.iter().map(|(s, _)| s.len() / 4 + 24).sum());
    // The last line, not yet written: its stack and count grow while
    // following lines cut down to the same stack.
    let mut pending: Option<(&str, u64)> = None;
    let write = |out: &mut String, (s, c): (&str, u64)| {
        out.push_str(s);
        out.push(' ');
        out.push_str(&c.to_string());
        out.push('\n');
    };
    for (i, &(stack, count)) in lines.iter().enumerate() {
        // The end of the first `keep` frames.
        let mut at = 0;
        for _ in 0..keep[i].min(stack.len() + 1) {
            match stack[at..].find(';') {
                Some(p) => at += p + 1,
                None => {
                    at = stack.len() + 1;
                    break;
                }
            }
        }
        let mut cut = &stack[..at - 1];
        // inferno wants sorted lines: a cut that would sort before the line
        // above keeps more (equally invisible) frames until it does not.
        while let Some(p) = pending
            && cut != p.0
            && line_before((cut, count), p)
        {
            let next = stack[cut.len() + 1..]
                .find(';')
                .map_or(stack.len(), |q| cut.len() + 1 + q);
            cut = &stack[..next];
        }
        match pending {
            Some((s, c)) if s == cut => pending = Some((s, c.saturating_add(count))),
            Some(p) => {
                write(&mut out, p);
                pending = Some((cut, count));
            }
            None => pending = Some((cut, count)),
        }
    }
    if let Some(p) = pending {
        write(&mut out, p);
    }
    out
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
    let lossy = String::from_utf8_lossy(&lines);
    let text = xml_chars(&lossy);
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
    fn hostile_frame_names_and_titles_stay_text_in_well_formed_svg() {
        let f = parse(
            "main;<script>alert(1)</script>;a\u{1}b 30\nmain;x\" onload=\"alert(2) 10\nmain;]]></svg>\u{ffff} 5\n",
        );
        let mut style = Style::new("CPU: <img src=x onerror=alert(3)>\u{0}", "samples");
        style.subtitle = Some("partial: \u{1b}[31m & </title>".into());
        let mut out = Vec::new();
        svg(&f, &style, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        xml(&text);
        assert_eq!(text.matches("<script").count(), 1, "inferno's own script only");
        assert!(!text.contains("alert(1)</script>") && text.contains("&lt;script&gt;alert(1)"));
        assert!(!text.contains("onload=\"alert") && !text.contains("<img"));
        assert!(
            text.contains("a\u{fffd}b"),
            "a control character is replaced, the frame kept"
        );
        let mut out = Vec::new();
        diff_svg(&f, &f, false, &style, &mut out).unwrap();
        xml(&String::from_utf8(out).unwrap());
    }

    /// The graph inferno draws from all of `folded`'s lines.
    fn unpruned(folded: &Folded, min_width: f64) -> String {
        let mut opt = Style::new("t", "samples").options();
        opt.min_width = min_width;
        let mut out = Vec::new();
        flamegraph::from_lines(&mut opt, folded.lines(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The graph drawn from the visible lines only.
    fn pruned(folded: &Folded, min_width: f64) -> String {
        let mut opt = Style::new("t", "samples").options();
        opt.min_width = min_width;
        opt.no_sort = true;
        let mut out = Vec::new();
        let visible = visible_lines(folded, min_width);
        flamegraph::from_lines(&mut opt, visible.lines(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn frames_too_narrow_to_draw_are_cut_below_the_first_one() {
        let f = parse("m;a;x 9990\nm;b;c;d 4\nm;b;c;e 3\nm;b-x 2\nm;b;z;q 1\n");
        // 1% of 10000 samples is 100: b (7), its children and b-x (2) are too narrow.
        let v = visible_lines(&f, 1.0);
        // Sorted, m;b-x comes before m;b;…: cutting those to m;b would put
        // them before it, so they keep one more (equally invisible) frame.
        assert_eq!(v, "m;a;x 9990\nm;b-x 2\nm;b;c 7\nm;b;z 1\n");
        assert_eq!(pruned(&f, 1.0), unpruned(&f, 1.0));
    }

    proptest::proptest! {
        /// Whatever the profile and the minimum width, the pruned lines draw
        /// exactly the graph that all the lines draw.
        #[test]
        fn pruning_never_changes_the_drawing(
            stacks in proptest::collection::vec(
                (proptest::collection::vec(proptest::sample::select(vec!["a", "b", "b-x", "c", "c d", "z"]), 1..7), 1u64..400),
                1..50,
            ),
            min_width in proptest::sample::select(vec![0.01, 0.5, 2.0, 7.5, 30.0]),
        ) {
            let f = Folded::from_pairs(stacks.iter().map(|(frames, c)| (frames.join(";"), *c)));
            proptest::prop_assert_eq!(pruned(&f, min_width), unpruned(&f, min_width));
        }
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
