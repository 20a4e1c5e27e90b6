//! Line and bar charts for the HTML pages, drawn as inline SVG: ticks at
//! round values in the metric's own unit, shaded windows with labels, a
//! legend, and min/max thinning so that a day of samples stays a small file.
//! Values in, markup out; odd values (NaN, empty series, a zero-length
//! span) give an emptier chart, never a panic.

use std::fmt::{self, Write as _};

use super::esc;

/// The most points one line keeps. Longer series keep the lowest and the
/// highest point of each of `MAX_POINTS / 2` buckets, so spikes survive.
pub const MAX_POINTS: usize = 1500;

/// The narrowest margin left of the plot; wider when the y labels are long.
const LEFT: f64 = 44.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// What the y values are, which decides the tick labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    /// Shown per minute, the way growth is usually read.
    BytesPerS,
    Ms,
    Percent,
    Count,
    PerS,
    TokensPerS,
}

/// One series; a NaN y breaks the line there.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    pub width: f64,
    /// Shade the area under the line.
    pub fill: bool,
    /// Whether the y axis stretches to show the whole line; a guide line
    /// that does not is cut off at the plot's edge.
    pub fit: bool,
}

impl Line {
    pub fn new(name: impl Into<String>, color: &'static str, points: Vec<(f64, f64)>) -> Line {
        Line {
            name: name.into(),
            color,
            points,
            dashed: false,
            width: 1.6,
            fill: false,
            fit: true,
        }
    }

    pub fn dashed(mut self) -> Line {
        self.dashed = true;
        self
    }

    pub fn width(mut self, width: f64) -> Line {
        self.width = width;
        self
    }

    pub fn filled(mut self) -> Line {
        self.fill = true;
        self
    }

    pub fn guide(mut self) -> Line {
        self.fit = false;
        self
    }
}

/// One value per slot of an [`XAxis::Labels`] axis, drawn as bars beside
/// the other series' bars in the same slot; a NaN leaves its slot empty.
#[derive(Debug, Clone)]
pub struct Bars {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<f64>,
    /// Written above each bar and in its tooltip; none when empty.
    pub labels: Vec<String>,
}

/// A shaded span of x (a phase of the run), labelled at its top.
#[derive(Debug, Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub color: &'static str,
}

/// A marked point with a tooltip.
#[derive(Debug, Clone)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub color: &'static str,
    pub title: String,
}

/// How x is read: seconds on the run's clock, a rate (requests per
/// second), or one labelled slot per index.
#[derive(Debug, Clone)]
pub enum XAxis {
    Seconds,
    PerSecond,
    Labels(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// Read out by screen readers.
    pub label: String,
    pub unit: Unit,
    /// The drawing's size in its own units; the page scales it to fit, so
    /// a chart meant for half the page's width is drawn narrower.
    pub width: f64,
    pub height: f64,
    pub x: XAxis,
    /// The x span to draw; the data's own when `None`.
    pub x_range: Option<(f64, f64)>,
    /// Start the y axis at zero (or below, for negative values).
    pub y_zero: bool,
    /// The y axis reaches at least this far (100 for CPU percent).
    pub y_at_least: Option<f64>,
    /// The span of values the y axis is fitted to, when not every value
    /// matters (what lies outside is cut off at the plot's edge).
    pub y_focus: Option<(f64, f64)>,
    /// The margin left of the plot, at least; charts stacked over one
    /// another share it so that their x axes line up.
    pub left: f64,
    pub lines: Vec<Line>,
    pub bars: Vec<Bars>,
    pub bands: Vec<Band>,
    pub dots: Vec<Dot>,
}

impl Chart {
    pub fn new(label: impl Into<String>, unit: Unit) -> Chart {
        Chart {
            label: label.into(),
            unit,
            width: 960.0,
            height: 200.0,
            x: XAxis::Seconds,
            x_range: None,
            y_zero: true,
            y_at_least: None,
            y_focus: None,
            left: LEFT,
            lines: Vec::new(),
            bars: Vec::new(),
            bands: Vec::new(),
            dots: Vec::new(),
        }
    }

    /// The legend (of the lines with a name, and the bands) and the SVG,
    /// in a `<figure>`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = self.draw(&mut s);
        s
    }

    fn x_domain(&self, lines: &[Vec<(f64, f64)>]) -> (f64, f64) {
        if let XAxis::Labels(labels) = &self.x {
            return (-0.5, labels.len().max(1) as f64 - 0.5);
        }
        if let Some((a, b)) = self.x_range
            && a.is_finite()
            && b.is_finite()
            && b > a
        {
            return (a, b);
        }
        let xs = lines.iter().flatten().map(|p| p.0).chain(self.dots.iter().map(|d| d.x));
        let (lo, hi) = extent(xs).unwrap_or((0.0, 1.0));
        if hi - lo > 1e-9 { (lo, hi) } else { (lo, lo + 1.0) }
    }

    fn draw(&self, s: &mut String) -> fmt::Result {
        let thinned: Vec<Vec<(f64, f64)>> = self.lines.iter().map(|l| downsample(&l.points, MAX_POINTS)).collect();
        let (x0, x1) = self.x_domain(&thinned);
        let ys = thinned
            .iter()
            .zip(&self.lines)
            .filter(|(_, l)| l.fit)
            .flat_map(|(p, _)| p.iter())
            .map(|p| p.1)
            .chain(self.dots.iter().map(|d| d.y))
            .chain(self.bars.iter().flat_map(|b| b.values.iter().copied()));
        let mut data = extent(ys);
        // Room above the tallest bar for its label.
        if let Some((lo, hi)) = data.filter(|_| self.bars.iter().any(|b| !b.labels.is_empty()))
            && hi > 0.0
        {
            data = Some((lo, hi * 1.12));
        }
        let focus = self.y_focus.filter(|(a, b)| a.is_finite() && b.is_finite() && a <= b);
        let data = data.and(focus).or(data);
        let axis = YAxis::new(data, self.unit, self.y_zero, self.y_at_least);
        let h = self.height.max(80.0);
        let labels: Vec<String> = axis.ticks.iter().map(|t| axis.label(*t)).collect();
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        // About 7 units a character leaves room for the larger text of a
        // narrow screen.
        let left = self.left.max(12.0 + 7.2 * widest as f64);
        let w = self.width.max(left + RIGHT + 100.0);
        let (pw, ph) = (w - left - RIGHT, h - TOP - BOTTOM);
        let px = |x: f64| clamp_px((x - x0) / (x1 - x0) * pw);
        let py = |y: f64| clamp_px((axis.hi - y / axis.div) / (axis.hi - axis.lo) * ph);

        // A chart drawn for part of the page's width keeps its text size
        // when the page narrows; a full-width one gets larger text.
        s.push_str(if w < 700.0 {
            "<figure class=\"chart narrow\">"
        } else {
            "<figure class=\"chart\">"
        });
        self.legend(s)?;
        write!(
            s,
            r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" preserveAspectRatio="xMidYMid meet">"#,
            esc(&self.label)
        )?;
        // Horizontal grid and y labels.
        for &t in &axis.ticks {
            let y = TOP + py(t * axis.div);
            write!(
                s,
                r##"<line x1="{left:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="ytick">{}</text>"##,
                w - RIGHT,
                left - 8.0,
                y + 3.5,
                axis.label(t)
            )?;
        }
        // Vertical ticks and x labels; under bars every slot is named,
        // cut to the slot's width.
        let ticks = match &self.x {
            XAxis::Labels(labels) if !self.bars.is_empty() => {
                let fits = ((pw / labels.len().max(1) as f64 / 6.6) as usize).max(4);
                labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as f64, shorten(l, fits)))
                    .collect()
            }
            _ => x_ticks(&self.x, x0, x1),
        };
        for (x, label) in ticks {
            let gx = left + px(x);
            write!(
                s,
                r#"<line x1="{gx:.1}" x2="{gx:.1}" y1="{TOP}" y2="{:.1}" class="vgrid"/><text x="{gx:.1}" y="{:.1}" class="xtick">{}</text>"#,
                TOP + ph,
                h - 6.0,
                esc(&label)
            )?;
        }
        // The plot area clips what lies outside the axes.
        write!(
            s,
            r#"<svg x="{left:.1}" y="{TOP}" width="{pw:.1}" height="{ph:.1}" viewBox="0 0 {pw:.1} {ph:.1}" overflow="hidden">"#
        )?;
        // Band labels go on top of the lines, so that they stay readable.
        let mut labels = String::new();
        for (row, b) in self.bands.iter().enumerate() {
            if !(b.from.is_finite() && b.to.is_finite()) {
                continue;
            }
            let (a, z) = (px(b.from.min(b.to)), px(b.from.max(b.to)));
            let width = (z - a).max(1.0);
            write!(
                s,
                r#"<rect x="{a:.1}" y="0" width="{width:.1}" height="{ph:.1}" fill="{c}" fill-opacity="0.11"><title>{t}</title></rect><line x1="{a:.1}" x2="{a:.1}" y1="0" y2="{ph:.1}" stroke="{c}" stroke-opacity="0.45" stroke-dasharray="3 3"/><line x1="{e:.1}" x2="{e:.1}" y1="0" y2="{ph:.1}" stroke="{c}" stroke-opacity="0.45" stroke-dasharray="3 3"/>"#,
                c = b.color,
                t = esc(&b.label),
                e = a + width,
            )?;
            // A label that would run past the plot's right edge ends there.
            let guess = 6.5 * b.label.chars().count() as f64;
            let (x, anchor) = if a.max(0.0) + 5.0 + guess > pw {
                ((a + width).min(pw) - 5.0, "end")
            } else {
                (a.max(0.0) + 5.0, "start")
            };
            write!(
                labels,
                r#"<text x="{x:.1}" y="{}" class="band" text-anchor="{anchor}" style="fill:{}">{}</text>"#,
                13 + 14 * (row % 3),
                b.color,
                esc(&b.label)
            )?;
        }
        if data.is_none() {
            write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" class="nodata">no data</text>"#,
                pw / 2.0,
                ph / 2.0
            )?;
        }
        let base = py(0f64.clamp(axis.lo * axis.div, axis.hi * axis.div));
        self.draw_bars(s, &px, &py, base, pw)?;
        for (line, pts) in self.lines.iter().zip(&thinned) {
            let d = path(pts, &px, &py);
            if d.is_empty() {
                continue;
            }
            if line.fill {
                let finite: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
                if let (Some(first), Some(last)) = (finite.first(), finite.last()) {
                    let mut area = format!("M{:.1} {base:.1}", px(first.0));
                    for p in &finite {
                        write!(area, "L{:.1} {:.1}", px(p.0), py(p.1))?;
                    }
                    write!(area, "L{:.1} {base:.1}Z", px(last.0))?;
                    write!(
                        s,
                        r#"<path d="{area}" fill="{}" fill-opacity="0.10" stroke="none"/>"#,
                        line.color
                    )?;
                }
            }
            write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round"{}/>"#,
                line.color,
                line.width,
                if line.dashed { r#" stroke-dasharray="6 4""# } else { "" }
            )?;
        }
        for dot in &self.dots {
            if !(dot.x.is_finite() && dot.y.is_finite()) {
                continue;
            }
            write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="{}" stroke="#fff" stroke-width="1.5"><title>{}</title></circle>"##,
                px(dot.x),
                py(dot.y),
                dot.color,
                esc(&dot.title)
            )?;
        }
        s.push_str(&labels);
        s.push_str("</svg>");
        write!(
            s,
            r#"<line x1="{left:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="axis"/>"#,
            w - RIGHT,
            TOP + ph,
            TOP + ph
        )?;
        s.push_str("</svg></figure>");
        Ok(())
    }

    /// The bars of every series, side by side in each slot of x.
    fn draw_bars(
        &self,
        s: &mut String,
        px: &dyn Fn(f64) -> f64,
        py: &dyn Fn(f64) -> f64,
        base: f64,
        pw: f64,
    ) -> fmt::Result {
        let XAxis::Labels(slots) = &self.x else {
            return Ok(());
        };
        if self.bars.is_empty() || slots.is_empty() {
            return Ok(());
        }
        let series = self.bars.len() as f64;
        let slot = pw / slots.len() as f64;
        let bar = (slot * 0.72 / series).min(64.0);
        let gap = (bar * 0.08).min(3.0);
        for (k, b) in self.bars.iter().enumerate() {
            for (i, &v) in b.values.iter().enumerate().take(slots.len()) {
                if !v.is_finite() {
                    continue;
                }
                let x = px(i as f64) - bar * series / 2.0 + bar * k as f64 + gap / 2.0;
                let y = py(v);
                let (top, height) = (y.min(base), (y - base).abs().max(0.5));
                let label = b.labels.get(i).map_or("", String::as_str);
                write!(
                    s,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{height:.1}" rx="2" fill="{}"><title>{}: {} {}</title></rect>"#,
                    bar - gap,
                    b.color,
                    esc(&slots[i]),
                    esc(&b.name),
                    esc(label)
                )?;
                if !label.is_empty() {
                    write!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" class="barlabel">{}</text>"#,
                        x + (bar - gap) / 2.0,
                        (top - 4.0).max(10.0),
                        esc(label)
                    )?;
                }
            }
        }
        Ok(())
    }

    fn legend(&self, s: &mut String) -> fmt::Result {
        if self.lines.iter().all(|l| l.name.is_empty()) && self.bars.is_empty() && self.bands.is_empty() {
            return Ok(());
        }
        s.push_str("<div class=\"legend\">");
        for b in self.bars.iter().filter(|b| !b.name.is_empty()) {
            write!(
                s,
                r#"<span><i class="sw box" style="background:{}"></i>{}</span>"#,
                b.color,
                esc(&b.name)
            )?;
        }
        for l in self.lines.iter().filter(|l| !l.name.is_empty()) {
            let style = if l.dashed {
                format!(
                    "background:repeating-linear-gradient(90deg,{c} 0 5px,transparent 5px 8px)",
                    c = l.color
                )
            } else {
                format!("background:{}", l.color)
            };
            write!(s, r#"<span><i class="sw" style="{style}"></i>{}</span>"#, esc(&l.name))?;
        }
        for b in &self.bands {
            write!(
                s,
                r#"<span><i class="sw band" style="background:{}"></i>{}</span>"#,
                b.color,
                esc(&b.label)
            )?;
        }
        s.push_str("</div>");
        Ok(())
    }
}

/// Keeps coordinates printable when a value lies far outside the axes.
fn clamp_px(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(-1e5, 1e5) }
}

/// The path of a line, lifting the pen at NaN values; a lone point is
/// drawn as a dot (a zero-length stroke with round caps).
fn path(pts: &[(f64, f64)], px: &dyn Fn(f64) -> f64, py: &dyn Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut run = 0;
    for &(x, y) in pts {
        if !(x.is_finite() && y.is_finite()) {
            if run == 1 {
                d.push_str("h0.01");
            }
            run = 0;
            continue;
        }
        let _ = write!(d, "{}{:.1} {:.1}", if run == 0 { 'M' } else { 'L' }, px(x), py(y));
        run += 1;
    }
    if run == 1 {
        d.push_str("h0.01");
    }
    d
}

/// The smallest and largest finite value, if any.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// At most `max` finite points (plus NaN markers where the line breaks):
/// the lowest and the highest point of each of `max / 2` equal spans of x,
/// in their original order. Points with a non-finite x are dropped.
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0.is_finite()).collect();
    if pts.iter().filter(|p| p.1.is_finite()).count() <= max {
        return pts;
    }
    let buckets = (max / 2).max(1);
    let Some((lo, hi)) = extent(pts.iter().map(|p| p.0)) else {
        return Vec::new();
    };
    let span = hi - lo;
    #[derive(Clone, Copy, Default)]
    struct Bucket {
        low: Option<(usize, f64, f64)>,
        high: Option<(usize, f64, f64)>,
        gap: bool,
    }
    let mut b = vec![Bucket::default(); buckets];
    for (i, &(x, y)) in pts.iter().enumerate() {
        let k = if span > 0.0 {
            (((x - lo) / span * buckets as f64) as usize).min(buckets - 1)
        } else {
            i * buckets / pts.len()
        };
        let cell = &mut b[k];
        if !y.is_finite() {
            cell.gap = true;
            continue;
        }
        if cell.low.is_none_or(|l| y < l.2) {
            cell.low = Some((i, x, y));
        }
        if cell.high.is_none_or(|h| y > h.2) {
            cell.high = Some((i, x, y));
        }
    }
    let mut out = Vec::with_capacity(buckets * 2 + 16);
    for cell in b {
        match (cell.low, cell.high) {
            (Some(l), Some(h)) if l.0 == h.0 => out.push((l.1, l.2)),
            (Some(l), Some(h)) => {
                let (a, z) = if l.0 < h.0 { (l, h) } else { (h, l) };
                out.push((a.1, a.2));
                out.push((z.1, z.2));
            }
            _ => {}
        }
        if cell.gap && out.last().is_some_and(|p| p.1.is_finite()) {
            let x = out.last().map_or(lo, |p| p.0);
            out.push((x, f64::NAN));
        }
    }
    out
}

/// The y axis in display units: `lo..hi` with round `ticks`, values
/// divided by `div` and labelled with `suffix`.
struct YAxis {
    lo: f64,
    hi: f64,
    div: f64,
    suffix: &'static str,
    step: f64,
    ticks: Vec<f64>,
}

impl YAxis {
    fn new(data: Option<(f64, f64)>, unit: Unit, zero: bool, at_least: Option<f64>) -> YAxis {
        let (mut lo, mut hi) = data.unwrap_or((0.0, 1.0));
        if let Some(m) = at_least.filter(|m| m.is_finite()) {
            hi = hi.max(m);
        }
        if zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        let (div, suffix) = display_unit(unit, lo.abs().max(hi.abs()));
        let (mut lo, mut hi) = (lo / div, hi / div);
        let nonneg = lo >= 0.0;
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = (hi.abs() * 0.05).max(if zero { 1.0 } else { 0.5 });
            if !zero || lo < 0.0 {
                lo -= pad;
            }
            hi += pad;
        } else if !zero {
            let pad = (hi - lo) * 0.08;
            lo -= pad;
            hi += pad;
        }
        if nonneg {
            lo = lo.max(0.0);
        }
        let step = nice((hi - lo) / 4.0);
        let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        let hi = if hi > lo { hi } else { lo + step };
        let ticks = (0..=40)
            .map(|i| lo + step * f64::from(i))
            .take_while(|t| *t <= hi + step * 1e-6)
            .collect();
        YAxis {
            lo,
            hi,
            div,
            suffix,
            step,
            ticks,
        }
    }

    fn label(&self, v: f64) -> String {
        // -0.0 prints as "-0".
        let v = if v.abs() < self.step * 1e-6 { 0.0 } else { v };
        format!("{}{}", fixed(v, decimals(self.step)), self.suffix)
    }
}

/// The divisor and suffix that make values of this size readable.
fn display_unit(unit: Unit, max: f64) -> (f64, &'static str) {
    const KIB: f64 = 1024.0;
    let bytes = |max: f64| -> (f64, &'static str) {
        if max >= KIB * KIB * KIB {
            (KIB * KIB * KIB, " GiB")
        } else if max >= KIB * KIB {
            (KIB * KIB, " MiB")
        } else if max >= KIB {
            (KIB, " KiB")
        } else {
            (1.0, " B")
        }
    };
    match unit {
        Unit::Bytes => bytes(max),
        Unit::BytesPerS => {
            let (d, s) = bytes(max * 60.0);
            let s = match s {
                " GiB" => " GiB/min",
                " MiB" => " MiB/min",
                " KiB" => " KiB/min",
                _ => " B/min",
            };
            (d / 60.0, s)
        }
        Unit::Ms if max >= 1000.0 => (1000.0, " s"),
        Unit::Ms => (1.0, " ms"),
        Unit::Percent => (1.0, "%"),
        Unit::Count => (1.0, ""),
        Unit::PerS => (1.0, "/s"),
        Unit::TokensPerS => (1.0, " tok/s"),
    }
}

/// `text` cut to at most `max` characters, ending in an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) of at least `raw`.
fn nice(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|n| f <= *n + 1e-9)
        .unwrap_or(10.0);
    n * mag
}

/// The decimals a multiple of `step` needs.
fn decimals(step: f64) -> usize {
    (0..4)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(3)
}

fn fixed(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// Tick positions and labels along x.
fn x_ticks(axis: &XAxis, x0: f64, x1: f64) -> Vec<(f64, String)> {
    match axis {
        XAxis::Labels(labels) => {
            let every = labels.len().div_ceil(8).max(1);
            labels
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0)
                .map(|(i, l)| (i as f64, l.clone()))
                .collect()
        }
        XAxis::PerSecond => {
            let step = nice((x1 - x0) / 8.0);
            let first = (x0 / step).ceil() * step;
            (0..=40)
                .map(|i| first + step * f64::from(i))
                .take_while(|t| *t <= x1 + step * 1e-6)
                .map(|t| (t, format!("{}/s", fixed(t, decimals(step)))))
                .collect()
        }
        XAxis::Seconds => {
            let span = x1 - x0;
            const STEPS: [f64; 20] = [
                1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0,
                21600.0, 43200.0, 86400.0, 172800.0, 604800.0,
            ];
            let want = span / 8.0;
            let step = if want < 1.0 {
                nice(want)
            } else {
                STEPS.into_iter().find(|s| *s >= want).unwrap_or_else(|| nice(want))
            };
            let first = (x0 / step).ceil() * step;
            (0..=40)
                .map(|i| first + step * f64::from(i))
                .take_while(|t| *t <= x1 + step * 1e-6)
                .map(|t| (t, clock(t, step)))
                .collect()
        }
    }
}

/// Seconds as a person reads them on an axis: `45s`, `2m30s`, `1h15m`.
pub fn clock(t: f64, step: f64) -> String {
    if !t.is_finite() {
        return String::new();
    }
    let sign = if t < 0.0 { "-" } else { "" };
    let t = t.abs();
    if step < 1.0 {
        return format!("{sign}{}s", fixed(t, decimals(step)));
    }
    let total = t.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{sign}{s}s"),
        (0, m, 0) => format!("{sign}{m}m"),
        (0, m, s) => format!("{sign}{m}m{s:02}s"),
        (h, 0, 0) => format!("{sign}{h}h"),
        (h, m, 0) => format!("{sign}{h}h{m:02}m"),
        (h, m, s) => format!("{sign}{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_a_day_at_10_hz_keeps_at_most_max_points_and_the_spike() {
        let n = 864_000;
        let mut pts: Vec<(f64, f64)> = (0..n).map(|i| (i as f64 / 10.0, (i % 97) as f64)).collect();
        pts[500_000].1 = 1e9;
        pts[600_000].1 = f64::NAN;
        let out = downsample(&pts, MAX_POINTS);
        let finite = out.iter().filter(|p| p.1.is_finite()).count();
        assert!(finite <= MAX_POINTS, "{finite} points");
        assert!(finite >= MAX_POINTS / 2, "{finite} points");
        assert!(out.iter().any(|p| p.1 == 1e9), "the spike survives");
        assert!(out.iter().any(|p| p.1.is_nan()), "the gap survives");
        let xs: Vec<f64> = out.iter().map(|p| p.0).collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1]), "in time order");
    }

    #[test]
    fn downsampling_with_one_x_for_every_point_stays_bounded() {
        let pts: Vec<(f64, f64)> = (0..10_000).map(|i| (5.0, f64::from(i))).collect();
        assert!(downsample(&pts, 100).len() <= 100);
        let few = [(0.0, 1.0), (f64::NAN, 2.0), (1.0, f64::INFINITY)];
        assert_eq!(downsample(&few, 100).len(), 2, "a NaN x is dropped");
    }

    #[test]
    fn y_ticks_are_round_numbers_in_readable_units() {
        let mib = 1024.0 * 1024.0;
        let a = YAxis::new(Some((2.0 * mib, 59.8 * mib)), Unit::Bytes, true, None);
        assert_eq!(a.suffix, " MiB");
        assert_eq!(a.label(a.ticks[1]), "20 MiB");
        let a = YAxis::new(Some((3.0, 1600.0)), Unit::Ms, true, None);
        assert_eq!(a.suffix, " s");
        assert!(a.ticks.iter().any(|t| a.label(*t) == "0.5 s"), "{:?}", a.ticks);
        let a = YAxis::new(Some((3.0, 400.0)), Unit::Ms, true, None);
        assert_eq!(a.label(a.ticks[1]), "100 ms");
        let a = YAxis::new(Some((-300.0, 1000.0)), Unit::BytesPerS, true, None);
        assert_eq!(a.suffix, " KiB/min");
    }

    #[test]
    fn flat_empty_and_nan_data_give_a_usable_axis() {
        for data in [None, Some((5.0, 5.0)), Some((0.0, 0.0))] {
            for zero in [true, false] {
                let a = YAxis::new(data, Unit::Count, zero, None);
                assert!(a.hi > a.lo && a.ticks.len() >= 2, "{data:?} {zero}: {:?}", a.ticks);
            }
        }
        let mut c = Chart::new("x", Unit::Percent);
        c.lines
            .push(Line::new("cpu", "#000", vec![(f64::NAN, 1.0), (1.0, f64::NAN)]));
        c.bands.push(Band {
            from: 3.0,
            to: 3.0,
            label: "load".into(),
            color: "#00f",
        });
        let svg = c.render();
        assert!(svg.contains("no data") && !svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn time_ticks_read_as_clock_durations() {
        assert_eq!(clock(90.0, 30.0), "1m30s");
        assert_eq!(clock(3600.0, 900.0), "1h");
        assert_eq!(clock(2.5, 0.5), "2.5s");
        let ticks = x_ticks(&XAxis::Seconds, 0.0, 86_400.0);
        assert!(ticks.len() <= 9 && ticks.len() >= 4, "{ticks:?}");
        assert_eq!(ticks[1].1, "3h");
    }

    #[test]
    fn bars_name_every_slot_and_leave_a_missing_value_empty() {
        let names: Vec<String> = (0..10).map(|i| format!("model-with-a-long-name-{i}:8b")).collect();
        let mut c = Chart::new("bars", Unit::TokensPerS);
        c.x = XAxis::Labels(names);
        let mut values = vec![12.5; 10];
        values[3] = f64::NAN;
        c.bars.push(Bars {
            name: "decode p50".into(),
            color: "#00f",
            labels: values.iter().map(|v| format!("{v}")).collect(),
            values,
        });
        let svg = c.render();
        assert_eq!(svg.matches("<rect").count(), 9, "no bar for the NaN");
        assert_eq!(svg.matches("class=\"xtick\"").count(), 10, "every slot is named");
        assert!(svg.contains("…"), "a long name is cut to its slot");
        assert!(svg.contains(" tok/s<") && !svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn a_lone_point_is_drawn_as_a_dot() {
        let id = |v: f64| v;
        assert_eq!(path(&[(1.0, 2.0)], &id, &id), "M1.0 2.0h0.01");
        assert_eq!(
            path(&[(1.0, 2.0), (2.0, 3.0), (3.0, f64::NAN), (4.0, 1.0)], &id, &id),
            "M1.0 2.0L2.0 3.0M4.0 1.0h0.01"
        );
    }
}
