//! The text a target's `/metrics` endpoint serves, in the Prometheus text
//! exposition format 0.0.4 or OpenMetrics 1.0, read into families (name,
//! type, help, unit) and samples (name, labels, value, timestamp). Bounded
//! by [`Limits`] and never panics, whatever the target sends: a line it
//! cannot read is skipped and counted, and text that is not metrics at all
//! (the HTML page behind a wrong URL) is an error rather than an empty
//! scrape. Pure: text in, values out; rates and quantiles are
//! [`super::promql`]'s.
//!
//! Written by hand rather than taken from a crate: `prometheus-parse` 0.2.5
//! does not unescape label values and types OpenMetrics counters as untyped,
//! and `openmetrics-parser` is LGPL-3.0 and rejects a whole scrape when a
//! summary has no quantiles, which is the Python client's default summary.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// A metric family's type, from its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `unknown` (OpenMetrics), `untyped` (0.0.4), a word not known, or no
    /// `# TYPE` line at all.
    Unknown,
}

impl Kind {
    /// The kind a `# TYPE` word names, in any case.
    pub fn from_type_word(word: &str) -> Kind {
        const WORDS: [(&str, Kind); 7] = [
            ("counter", Kind::Counter),
            ("gauge", Kind::Gauge),
            ("histogram", Kind::Histogram),
            ("gaugehistogram", Kind::GaugeHistogram),
            ("summary", Kind::Summary),
            ("info", Kind::Info),
            ("stateset", Kind::StateSet),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map_or(Kind::Unknown, |&(_, kind)| kind)
    }

    /// The endings a family of this kind adds to its name to name its
    /// samples (besides the bare name, which summaries, gauges, state sets
    /// and 0.0.4 counters use).
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Kind::Counter => &["_total", "_created"],
            Kind::Histogram => &["_bucket", "_count", "_sum", "_created"],
            Kind::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            Kind::Summary => &["_count", "_sum", "_created"],
            Kind::Info => &["_info"],
            Kind::Gauge | Kind::StateSet | Kind::Unknown => &[],
        }
    }
}

/// What the `# HELP`, `# TYPE` and `# UNIT` lines say about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub name: String,
    pub kind: Kind,
    /// Unescaped; `None` when there is no `# HELP` line or it is empty.
    pub help: Option<String>,
    /// `None` when there is no `# UNIT` line or it is empty.
    pub unit: Option<String>,
}

/// One line of `name{labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// Unescaped values, sorted by label name, each name once.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, whichever unit the text used.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of the label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        let i = self.labels.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
        Some(&self.labels[i].1)
    }
}

/// How much of a target's text is read and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longer text is an error.
    pub max_bytes: usize,
    /// Samples kept; the rest are counted in [`Scrape::dropped_series`].
    pub max_series: usize,
    /// A sample with more labels is skipped.
    pub max_labels: usize,
    /// A sample whose metric name, a label name or a label value is longer
    /// (unescaped) is skipped.
    pub max_label_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 16 << 20,
            max_series: 50_000,
            max_labels: 64,
            max_label_bytes: 4096,
        }
    }
}

/// Everything one scrape's text said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// Read as OpenMetrics (timestamps in seconds) rather than 0.0.4.
    pub openmetrics: bool,
    /// Sorted by name, each name once ([`family_of`] relies on it).
    pub families: Vec<Family>,
    /// In the order of the text.
    pub samples: Vec<Sample>,
    /// Samples past [`Limits::max_series`], counted, not kept.
    pub dropped_series: u64,
    /// Lines not understood, or samples over a label limit, or lines after
    /// `# EOF`: tolerated and counted.
    pub skipped_lines: u64,
}

/// Text that is too long or not exposition text at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 when the error is about the text as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            n => write!(f, "line {n}: {}", self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Reads exposition text. It is read as OpenMetrics when `content_type` is
/// `application/openmetrics-text` or the text has a `# EOF` or `# UNIT`
/// line (a server may send OpenMetrics as `text/plain`), otherwise as
/// 0.0.4.
pub fn parse(text: &str, content_type: Option<&str>, limits: &Limits) -> Result<Scrape, ParseError> {
    if text.len() > limits.max_bytes {
        return Err(ParseError {
            line: 0,
            message: format!(
                "the metrics text is {} bytes, more than the limit of {}",
                text.len(),
                limits.max_bytes
            ),
        });
    }
    let openmetrics = content_type.is_some_and(is_openmetrics_type)
        || lines(text).any(|(_, line)| matches!(keyword(line), Some(("EOF", "") | ("UNIT", _))));
    let mut scrape = Scrape {
        openmetrics,
        ..Scrape::default()
    };
    let mut meta: BTreeMap<&str, Meta> = BTreeMap::new();
    // Whether any line read as a sample or as metadata: text where none
    // does is not exposition text, and its first bad line is the error.
    let mut understood = false;
    let mut first_bad: Option<ParseError> = None;
    let mut all = lines(text);
    for (number, line) in all.by_ref() {
        if line.is_empty() {
            continue;
        }
        let bad = if line.starts_with('#') {
            match read_comment(line) {
                Ok(Comment::Eof) => {
                    understood = true;
                    break;
                }
                Ok(Comment::Other) => None,
                Ok(comment) => {
                    understood = true;
                    note(&mut meta, comment);
                    None
                }
                Err(why) => Some(why),
            }
        } else {
            match read_sample(line, openmetrics, limits) {
                Ok(sample) => {
                    understood = true;
                    if scrape.samples.len() < limits.max_series {
                        scrape.samples.push(sample);
                    } else {
                        scrape.dropped_series += 1;
                    }
                    None
                }
                Err(Bad::OverLimit) => {
                    understood = true;
                    scrape.skipped_lines += 1;
                    None
                }
                Err(Bad::Malformed(why)) => Some(why),
            }
        };
        if let Some(why) = bad {
            scrape.skipped_lines += 1;
            first_bad.get_or_insert_with(|| ParseError {
                line: number,
                message: format!("{why}, got '{}'", excerpt(line)),
            });
        }
    }
    // Strict OpenMetrics allows nothing after `# EOF`; tolerated, not read.
    scrape.skipped_lines += all.filter(|(_, line)| !line.is_empty()).count() as u64;
    if !understood && let Some(mut e) = first_bad {
        e.message
            .push_str(": this is not Prometheus or OpenMetrics text (is the metrics URL right?)");
        return Err(e);
    }
    scrape.families = meta.into_iter().map(|(name, m)| m.into_family(name)).collect();
    Ok(scrape)
}

/// The family a sample belongs to: the family of its own name, or else the
/// family its name ends a suffix of, where the family's kind has samples
/// with that suffix (`x_total` and `x_created` of counter `x`, `x_bucket`,
/// `x_count`, `x_sum` and `x_created` of histogram `x`, `x_gcount` and
/// `x_gsum` of gauge histogram `x`, `x_info` of info `x`). So an
/// OpenMetrics counter `x` owns `x_total`, and a 0.0.4 counter declared as
/// `x_total` owns it by name.
pub fn family_of<'a>(scrape: &'a Scrape, sample: &Sample) -> Option<&'a Family> {
    let find = |name: &str| {
        let i = scrape.families.binary_search_by(|f| f.name.as_str().cmp(name)).ok()?;
        Some(&scrape.families[i])
    };
    const SUFFIXES: [&str; 8] = [
        "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
    ];
    find(&sample.name).or_else(|| {
        SUFFIXES.iter().find_map(|suffix| {
            let base = sample.name.strip_suffix(suffix)?;
            find(base).filter(|f| f.kind.suffixes().contains(suffix))
        })
    })
}

/// An `le` or `quantile` label value as a number: `5.0` (the Python
/// client) and `5` (Go) are both 5, `+Inf` is infinity. `None` for text
/// that is no number, and for NaN, which bounds nothing.
pub fn bound(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|b| !b.is_nan())
}

/// Appends `value` escaped as a label value or HELP text is written
/// (`\\`, `\"`, `\n`), as [`parse`] reads it back.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as the text formats write it (`NaN`, `+Inf`, `-Inf`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Whether a `Content-Type` header names OpenMetrics text.
fn is_openmetrics_type(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/openmetrics-text")
}

const BLANK: [char; 2] = [' ', '\t'];

/// The lines, numbered from 1, without the `\r` of CRLF or surrounding
/// blanks.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_matches([' ', '\t', '\r'])))
}

/// The start of a bad line, for the error message.
fn excerpt(line: &str) -> String {
    const MAX: usize = 80;
    match line.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// The leading token of `s` and what follows it, blanks between removed.
fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(BLANK);
    let end = s.find(BLANK).unwrap_or(s.len());
    (&s[..end], s[end..].trim_start_matches(BLANK))
}

/// The length of the name at the start of `s`: letters, digits and `_`,
/// not starting with a digit; metric names may also hold `:`.
fn name_len(s: &str, colons: bool) -> usize {
    let ok = |b: u8, first: bool| {
        b.is_ascii_alphabetic() || b == b'_' || (colons && b == b':') || (!first && b.is_ascii_digit())
    };
    s.bytes().enumerate().take_while(|&(i, b)| ok(b, i == 0)).count()
}

/// Undoes `\\`, `\"` and `\n`; any other backslash stays as written.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(c @ ('\\' | '"')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// What a `#` line says.
#[derive(Debug, PartialEq)]
enum Comment<'a> {
    Help(&'a str, Cow<'a, str>),
    Type(&'a str, Kind),
    Unit(&'a str, &'a str),
    Eof,
    /// Any other comment, which 0.0.4 allows and which is ignored.
    Other,
}

/// The first word of a `#` line (`HELP`, `TYPE`, `UNIT`, `EOF` or any
/// other) and the rest of the line.
fn keyword(line: &str) -> Option<(&str, &str)> {
    line.strip_prefix('#').map(split_token)
}

/// Reads a line starting with `#`; `Err` says why a `# HELP`, `# TYPE` or
/// `# UNIT` line could not be read.
fn read_comment(line: &str) -> Result<Comment<'_>, &'static str> {
    let Some((keyword, rest)) = keyword(line) else {
        return Ok(Comment::Other);
    };
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Ok(if keyword == "EOF" && rest.is_empty() {
            Comment::Eof
        } else {
            Comment::Other
        });
    }
    let (name, rest) = split_token(rest);
    if name.is_empty() || name_len(name, true) != name.len() {
        return Err("expected a metric name after # HELP, # TYPE or # UNIT");
    }
    match keyword {
        "HELP" => Ok(Comment::Help(name, unescape(rest))),
        "UNIT" => Ok(Comment::Unit(name, rest)),
        _ => match split_token(rest) {
            ("", _) => Err("expected a type after # TYPE and the name"),
            (word, _) => Ok(Comment::Type(name, Kind::from_type_word(word))),
        },
    }
}

/// A family's metadata as read so far: the first line of each sort wins.
#[derive(Debug, Default)]
struct Meta<'a> {
    kind: Option<Kind>,
    help: Option<Cow<'a, str>>,
    unit: Option<&'a str>,
}

impl Meta<'_> {
    fn into_family(self, name: &str) -> Family {
        Family {
            name: name.to_string(),
            kind: self.kind.unwrap_or(Kind::Unknown),
            help: self.help.filter(|h| !h.is_empty()).map(Cow::into_owned),
            unit: self.unit.filter(|u| !u.is_empty()).map(str::to_string),
        }
    }
}

/// Adds a metadata line to its family, unless an earlier line said it.
fn note<'a>(meta: &mut BTreeMap<&'a str, Meta<'a>>, comment: Comment<'a>) {
    match comment {
        Comment::Help(name, help) => {
            meta.entry(name).or_default().help.get_or_insert(help);
        }
        Comment::Type(name, kind) => {
            meta.entry(name).or_default().kind.get_or_insert(kind);
        }
        Comment::Unit(name, unit) => {
            meta.entry(name).or_default().unit.get_or_insert(unit);
        }
        Comment::Eof | Comment::Other => {}
    }
}

/// Why a sample line was not kept.
#[derive(Debug, PartialEq)]
enum Bad {
    /// Not a sample; says what was expected.
    Malformed(&'static str),
    /// A sample, but over a label limit.
    OverLimit,
}

/// Reads `name{labels} value [timestamp] [# exemplar]`.
fn read_sample(line: &str, openmetrics: bool, limits: &Limits) -> Result<Sample, Bad> {
    let (name, rest) = line.split_at(name_len(line, true));
    if name.is_empty() {
        return Err(Bad::Malformed("expected a metric name"));
    }
    if name.len() > limits.max_label_bytes {
        return Err(Bad::OverLimit);
    }
    let mut labels = Vec::new();
    let mut rest = rest.trim_start_matches(BLANK);
    if let Some(inner) = rest.strip_prefix('{') {
        rest = read_labels(inner, limits, &mut labels)?;
    }
    // An OpenMetrics exemplar (` # {trace_id="abc"} 0.5 1234.5`) follows a
    // `#`, which a value or timestamp never holds.
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let mut tokens = rest.split_ascii_whitespace();
    let value = tokens
        .next()
        .ok_or(Bad::Malformed("expected a value after the name and labels"))?
        .parse::<f64>()
        .map_err(|_| Bad::Malformed("the value is not a number"))?;
    let timestamp_ms = match tokens.next() {
        None => None,
        Some(t) => Some(timestamp_ms(t, openmetrics).ok_or(Bad::Malformed(if openmetrics {
            "the timestamp is not a number of seconds"
        } else {
            "the timestamp is not a whole number of milliseconds"
        }))?),
    };
    if tokens.next().is_some() {
        return Err(Bad::Malformed("unexpected text after the value and timestamp"));
    }
    labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if labels.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Bad::Malformed("a label name is given twice"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// A timestamp in milliseconds: 0.0.4 writes whole milliseconds,
/// OpenMetrics seconds with an optional fraction.
fn timestamp_ms(token: &str, openmetrics: bool) -> Option<i64> {
    if !openmetrics {
        return token.parse().ok();
    }
    let ms = (token.parse::<f64>().ok()? * 1000.0).round();
    // Within i64's range (2^63 ms is 292 million years).
    (ms.abs() < 9.2e18).then_some(ms as i64)
}

/// Reads a label set after its `{` into `labels` and returns the text after
/// its `}`. Blanks between the parts and a comma before the `}` are allowed.
fn read_labels<'a>(mut s: &'a str, limits: &Limits, labels: &mut Vec<(String, String)>) -> Result<&'a str, Bad> {
    loop {
        s = s.trim_start_matches(BLANK);
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let (name, after) = s.split_at(name_len(s, false));
        if name.is_empty() {
            return Err(Bad::Malformed("expected a label name or '}'"));
        }
        let after = after
            .trim_start_matches(BLANK)
            .strip_prefix('=')
            .ok_or(Bad::Malformed("expected '=' after a label name"))?;
        let quoted = after
            .trim_start_matches(BLANK)
            .strip_prefix('"')
            .ok_or(Bad::Malformed("expected '\"' to open a label value"))?;
        let end = closing_quote(quoted).ok_or(Bad::Malformed("a label value is not closed"))?;
        if labels.len() >= limits.max_labels || name.len() > limits.max_label_bytes {
            return Err(Bad::OverLimit);
        }
        let value = unescape(&quoted[..end]);
        if value.len() > limits.max_label_bytes {
            return Err(Bad::OverLimit);
        }
        labels.push((name.to_string(), value.into_owned()));
        s = quoted[end + 1..].trim_start_matches(BLANK);
        match s.strip_prefix(',') {
            Some(after) => s = after,
            None if s.starts_with('}') => {}
            None => return Err(Bad::Malformed("expected ',' or '}' after a label value")),
        }
    }
}

/// Where the `"` that closes a label value is, skipping escaped ones. The
/// bytes after a backslash may start a longer character, but no byte of
/// one is a `"`, so the index found is a character boundary.
fn closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Scrape {
        parse(text, None, &Limits::default()).unwrap()
    }

    fn read_om(text: &str) -> Scrape {
        parse(
            text,
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            &Limits::default(),
        )
        .unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn family<'a>(scrape: &'a Scrape, sample_name: &str) -> Option<&'a Family> {
        let sample = scrape.samples.iter().find(|s| s.name == sample_name)?;
        family_of(scrape, sample)
    }

    fn value(scrape: &Scrape, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        let want = labels(pairs);
        scrape
            .samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    #[test]
    fn label_values_unescape_backslash_quote_and_newline() {
        let s = read(r#"m{path="say \"hi\" \\ back\nslash",odd="a\tb"} 1"#);
        assert_eq!(s.samples[0].label("path"), Some("say \"hi\" \\ back\nslash"));
        // An escape the formats do not define is kept as written.
        assert_eq!(s.samples[0].label("odd"), Some("a\\tb"));
    }

    #[test]
    fn help_text_unescapes_backslash_and_newline() {
        let s = read("# HELP m Requests handled.\\nBy path \\\\ verb.\n# TYPE m counter\nm 1\n");
        assert_eq!(
            s.families[0].help.as_deref(),
            Some("Requests handled.\nBy path \\ verb.")
        );
    }

    #[test]
    fn labels_in_any_order_come_out_sorted_and_a_trailing_comma_is_allowed() {
        let s = read_om("m{z=\"1\",a=\"2\",m=\"3\",} 1\nm{ b = \"x\" , a=\"y\" } 2\n# EOF\n");
        assert_eq!(s.samples[0].labels, labels(&[("a", "2"), ("m", "3"), ("z", "1")]));
        assert_eq!(s.samples[1].labels, labels(&[("a", "y"), ("b", "x")]));
        assert_eq!(s.skipped_lines, 0);
    }

    #[test]
    fn an_empty_label_set_and_colons_in_names_are_fine() {
        let s = read("job:http_requests:rate5m{} 4\nplain 5\n");
        assert_eq!(s.samples[0].name, "job:http_requests:rate5m");
        assert!(s.samples[0].labels.is_empty());
        assert_eq!(s.samples[1].value, 5.0);
        // Label names may not hold a colon.
        assert_eq!(read("m{a:b=\"1\"} 1\nok 1\n").skipped_lines, 1);
    }

    #[test]
    fn values_take_floats_integers_nan_and_both_infinities() {
        let s = read("a 1.5\nb 42\nc NaN\nd +Inf\ne -Inf\nf Inf\ng 1.7000000005e+09\nh -0.25\n");
        let values: Vec<f64> = s.samples.iter().map(|s| s.value).collect();
        assert_eq!(values[..2], [1.5, 42.0]);
        assert!(values[2].is_nan());
        assert_eq!(values[3..6], [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
        assert_eq!(values[6..], [1_700_000_000.5, -0.25]);
        assert_eq!(read("a 1\nb one\n").skipped_lines, 1);
    }

    #[test]
    fn timestamps_are_integer_ms_in_0_0_4_and_float_seconds_in_openmetrics() {
        let s = read("a 1 1700000000123\nb 1\nc 1 -5\nd 1 1700000000.5\n");
        let stamps: Vec<_> = s.samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(stamps, [Some(1_700_000_000_123), None, Some(-5)]);
        assert_eq!(s.skipped_lines, 1, "a fraction of a millisecond is no 0.0.4 timestamp");
        let s = read_om("a 1 1700000000.123\nb 1 1700000000\nc 1 1e300\n# EOF\n");
        let stamps: Vec<_> = s.samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(stamps, [Some(1_700_000_000_123), Some(1_700_000_000_000)]);
        assert_eq!(s.skipped_lines, 1);
    }

    #[test]
    fn openmetrics_eof_ends_the_text_and_what_follows_is_skipped() {
        let s = read("# TYPE a gauge\na 1\n# EOF\nb 2\n\nc 3\n");
        assert!(s.openmetrics);
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.skipped_lines, 2);
    }

    #[test]
    fn openmetrics_is_detected_from_the_content_type_or_eof_or_unit() {
        let text = "a 1 1700000000\n";
        assert!(!read(text).openmetrics);
        assert!(
            !parse(text, Some("text/plain; version=0.0.4"), &Limits::default())
                .unwrap()
                .openmetrics
        );
        assert!(
            parse(text, Some("Application/OpenMetrics-Text"), &Limits::default())
                .unwrap()
                .openmetrics
        );
        assert!(read("a 1\n# EOF").openmetrics);
        assert!(read("# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n").openmetrics);
        // The same timestamp is seconds in OpenMetrics.
        assert_eq!(read_om(text).samples[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(read(text).samples[0].timestamp_ms, Some(1_700_000_000));
    }

    #[test]
    fn exemplars_after_a_sample_are_ignored() {
        let s = read_om(concat!(
            "# TYPE foo histogram\n",
            "foo_bucket{le=\"1\"} 3 # {trace_id=\"abc\"} 0.5 1234.5\n",
            "foo_bucket{le=\"+Inf\"} 4 1700000000 # {trace_id=\"a # b\"} 2\n",
            "foo_count 4\n# EOF\n",
        ));
        assert_eq!(s.skipped_lines, 0);
        assert_eq!(s.samples[0].value, 3.0);
        assert_eq!(s.samples[0].timestamp_ms, None);
        assert_eq!(s.samples[1].timestamp_ms, Some(1_700_000_000_000));
    }

    #[test]
    fn unit_lines_set_the_family_unit() {
        let s =
            read_om("# TYPE rss_bytes gauge\n# UNIT rss_bytes bytes\n# HELP rss_bytes RSS.\nrss_bytes 1.5e9\n# EOF\n");
        let f = family(&s, "rss_bytes").unwrap();
        assert_eq!(
            (f.kind, f.unit.as_deref(), f.help.as_deref()),
            (Kind::Gauge, Some("bytes"), Some("RSS."))
        );
    }

    #[test]
    fn openmetrics_counters_own_their_total_and_created_samples() {
        let s = read_om("# TYPE req counter\nreq_total 3\nreq_created 1.7e9\n# TYPE g gauge\ng_total 1\n# EOF\n");
        assert_eq!(family(&s, "req_total").unwrap().name, "req");
        assert_eq!(family(&s, "req_created").unwrap().kind, Kind::Counter);
        // A gauge has no `_total` samples.
        assert_eq!(family(&s, "g_total"), None);
    }

    #[test]
    fn info_and_stateset_families_own_their_samples() {
        let s = read_om(concat!(
            "# TYPE build info\nbuild_info{version=\"1.2.3\"} 1\n",
            "# TYPE state stateset\nstate{state=\"running\"} 1\n# EOF\n",
        ));
        assert_eq!(family(&s, "build_info").unwrap().kind, Kind::Info);
        assert_eq!(family(&s, "state").unwrap().kind, Kind::StateSet);
    }

    #[test]
    fn family_of_maps_a_0_0_4_counter_named_with_total() {
        let s = read("# TYPE hits_total counter\nhits_total 3\n# TYPE misses counter\nmisses 1\n");
        assert_eq!(family(&s, "hits_total").unwrap().name, "hits_total");
        assert_eq!(family(&s, "misses").unwrap().name, "misses");
        assert_eq!(family(&s, "misses").unwrap().kind, Kind::Counter);
    }

    #[test]
    fn family_of_histogram_and_summary_parts() {
        let s = read(concat!(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 0.5\n",
            "# TYPE q summary\nq{quantile=\"0.5\"} 2\nq_count 1\nq_sum 2\n",
            "# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_gcount 1\ngh_gsum 3\nstray_sum 1\n",
        ));
        for (sample, fam) in [
            ("h_bucket", "h"),
            ("h_count", "h"),
            ("h_sum", "h"),
            ("q", "q"),
            ("q_count", "q"),
            ("gh_gcount", "gh"),
            ("gh_gsum", "gh"),
        ] {
            assert_eq!(family(&s, sample).map(|f| f.name.as_str()), Some(fam), "{sample}");
        }
        assert_eq!(family(&s, "stray_sum"), None);
    }

    #[test]
    fn untyped_and_unknown_type_words_are_unknown() {
        let s = read("# TYPE a untyped\na 1\n# TYPE b unknown\nb 1\n# TYPE c wibble\nc 1\n# TYPE d GAUGE\nd 1\ne 1\n");
        let kinds: Vec<Kind> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| family(&s, n).unwrap().kind)
            .collect();
        assert_eq!(kinds, [Kind::Unknown, Kind::Unknown, Kind::Unknown, Kind::Gauge]);
        assert_eq!(family(&s, "e"), None);
        assert_eq!(s.skipped_lines, 0);
    }

    #[test]
    fn other_comments_blank_lines_and_crlf_are_ignored() {
        let s = read("# a comment\r\n\r\n#\r\n# HELP a Help.\r\n# TYPE a gauge\r\n\ta 1\r\n  \r\n");
        assert_eq!(s.skipped_lines, 0);
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.families[0].help.as_deref(), Some("Help."));
        assert_eq!(s.families[0].kind, Kind::Gauge);
    }

    #[test]
    fn a_summary_without_quantiles_is_fine() {
        let s = read_om("# TYPE p summary\np_count 2.0\np_sum 350.0\np_created 1.7e9\n# EOF\n");
        assert_eq!(s.samples.len(), 3);
        assert!(
            s.samples
                .iter()
                .all(|x| family_of(&s, x).unwrap().kind == Kind::Summary)
        );
    }

    #[test]
    fn bound_equates_python_and_go_bucket_spellings() {
        assert_eq!(bound("5.0"), bound("5"));
        assert_eq!(bound("5"), Some(5.0));
        assert_eq!(bound("0.005"), Some(0.005));
        assert_eq!(bound("1e-3"), Some(0.001));
        assert_eq!(bound("+Inf"), Some(f64::INFINITY));
        assert_eq!(bound("Inf"), Some(f64::INFINITY));
        assert_eq!(bound("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(bound("NaN"), None);
        assert_eq!(bound(""), None);
        assert_eq!(bound("five"), None);
    }

    #[test]
    fn duplicate_help_and_type_keep_the_first() {
        let s = read("# HELP a First.\n# TYPE a counter\n# HELP a Second.\n# TYPE a gauge\na 1\n");
        assert_eq!(s.families.len(), 1);
        assert_eq!(s.families[0].help.as_deref(), Some("First."));
        assert_eq!(s.families[0].kind, Kind::Counter);
        assert_eq!(s.skipped_lines, 0);
    }

    #[test]
    fn an_unparseable_sample_line_is_skipped_and_counted() {
        let s = read("a 1\nb{x=\"unclosed} 2\nc{x=\"1\" y=\"2\"} 3\nd 1 2 3\n# TYPE\ne{x=\"1\",x=\"2\"} 1\nf 4\n");
        assert_eq!(
            s.samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "f"]
        );
        assert_eq!(s.skipped_lines, 5);
    }

    #[test]
    fn an_html_page_is_an_error_naming_its_first_line() {
        let page = "\n<!DOCTYPE html>\n<html><body>Not Found</body></html>\n";
        let e = parse(page, None, &Limits::default()).unwrap_err();
        assert_eq!(e.line, 2);
        let shown = e.to_string();
        assert!(
            shown.starts_with("line 2: expected a metric name, got '<!DOCTYPE html>'"),
            "{shown}"
        );
        assert!(shown.contains("not Prometheus"), "{shown}");
        let e = parse("{\"status\": \"ok\"}", None, &Limits::default()).unwrap_err();
        assert_eq!(e.line, 1);
        // Empty text, or text of comments only, is an empty scrape.
        assert_eq!(read(""), Scrape::default());
        assert_eq!(read("# nothing yet\n"), Scrape::default());
    }

    #[test]
    fn text_over_max_bytes_is_an_error() {
        let limits = Limits {
            max_bytes: 8,
            ..Limits::default()
        };
        assert!(parse("a 1\nb 2\n", None, &limits).is_ok());
        let e = parse("a 1\nb 22\n", None, &limits).unwrap_err();
        assert_eq!(e.line, 0);
        assert_eq!(e.to_string(), "the metrics text is 9 bytes, more than the limit of 8");
    }

    #[test]
    fn series_over_max_series_are_dropped_and_counted() {
        let limits = Limits {
            max_series: 2,
            ..Limits::default()
        };
        let s = parse("a 1\nb 2\nc 3\nd 4\nbad line\n", None, &limits).unwrap();
        assert_eq!(s.samples.len(), 2);
        assert_eq!(s.dropped_series, 2);
        assert_eq!(s.skipped_lines, 1);
    }

    #[test]
    fn a_sample_with_too_many_labels_or_a_long_label_is_skipped() {
        let limits = Limits {
            max_labels: 2,
            max_label_bytes: 4,
            ..Limits::default()
        };
        let text = concat!(
            "ok{a=\"1\",b=\"2\"} 1\n",
            "many{a=\"1\",b=\"2\",c=\"3\"} 1\n",
            "long{a=\"12345\"} 1\n",
            "esc{a=\"\\\\\\\\\"} 1\n",
            "name{abcde=\"1\"} 1\n",
            "metric_name_too_long 1\n",
        );
        let s = parse(text, None, &limits).unwrap();
        // `\\\\` is two bytes once unescaped, within the limit.
        assert_eq!(
            s.samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["ok", "esc"]
        );
        assert_eq!(s.skipped_lines, 4);
        // Samples over a limit are metrics text, not a wrong page.
        assert!(parse("many{a=\"1\",b=\"2\",c=\"3\"} 1\n", None, &limits).is_ok());
    }

    #[test]
    fn errors_read_as_line_and_message() {
        let e = ParseError {
            line: 3,
            message: "expected a value".into(),
        };
        assert_eq!(e.to_string(), "line 3: expected a value");
    }

    /// prometheus_client 0.26.0 (Python), `generate_latest(registry)`: a
    /// Counter with labels (one value with quotes, a backslash and a
    /// newline), a Gauge, a Gauge with unit="bytes", a Histogram with the
    /// default buckets, a Summary, an Info and an Enum, clock fixed at
    /// 1700000000.5.
    const PYTHON_0_0_4: &str = include_str!("../../tests/data/metrics/python-0.0.4.txt");

    /// The same registry from prometheus_client 0.26.0's
    /// `openmetrics.exposition.generate_latest(registry)`, with exemplars
    /// on one counter increment and one observation.
    const PYTHON_OPENMETRICS: &str = include_str!("../../tests/data/metrics/python-openmetrics.txt");

    /// Written by hand in the Go client's (client_golang) spelling: families
    /// sorted by name, whole numbers without `.0`, `le="1"`, the default
    /// buckets, a GC summary with quantiles.
    const GO_0_0_4: &str = include_str!("../../tests/data/metrics/go-0.0.4.txt");

    /// Every sample of `scrape` has a family, and reads `bound` on its
    /// `le` and `quantile` labels.
    fn every_sample_has_a_family(scrape: &Scrape) {
        for s in &scrape.samples {
            assert!(family_of(scrape, s).is_some(), "{} has no family", s.name);
            for key in ["le", "quantile"] {
                if let Some(b) = s.label(key) {
                    assert!(bound(b).is_some(), "{}{{{key}={b:?}}}", s.name);
                }
            }
        }
    }

    #[test]
    fn python_client_0_0_4_text_reads_whole() {
        let s = read(PYTHON_0_0_4);
        assert!(!s.openmetrics);
        assert_eq!((s.samples.len(), s.skipped_lines, s.families.len()), (30, 0, 10));
        every_sample_has_a_family(&s);
        assert_eq!(
            value(
                &s,
                "http_requests_total",
                &[("method", "POST"), ("path", "say \"hi\" \\ back\nslash")]
            ),
            Some(1.5)
        );
        // 0.0.4 names the counter with `_total` and makes `_created` a gauge
        // family of its own.
        assert_eq!(family(&s, "http_requests_total").unwrap().kind, Kind::Counter);
        assert_eq!(family(&s, "http_requests_created").unwrap().kind, Kind::Gauge);
        assert_eq!(family(&s, "build_info").unwrap().kind, Kind::Gauge);
        assert_eq!(value(&s, "request_seconds_bucket", &[("le", "5.0")]), Some(5.0));
        assert_eq!(
            family(&s, "http_requests_total").unwrap().help.as_deref(),
            Some("Requests handled.\nBy path.")
        );
    }

    #[test]
    fn python_client_openmetrics_text_reads_whole() {
        let s = read(PYTHON_OPENMETRICS);
        assert!(s.openmetrics, "detected from # EOF without a content type");
        assert_eq!((s.samples.len(), s.skipped_lines, s.families.len()), (30, 0, 7));
        every_sample_has_a_family(&s);
        let counter = family(&s, "http_requests_total").unwrap();
        assert_eq!((counter.name.as_str(), counter.kind), ("http_requests", Kind::Counter));
        assert_eq!(family(&s, "http_requests_created").unwrap().name, "http_requests");
        assert_eq!(family(&s, "request_seconds_created").unwrap().kind, Kind::Histogram);
        assert_eq!(family(&s, "payload_bytes_created").unwrap().kind, Kind::Summary);
        assert_eq!(family(&s, "build_info").unwrap().name, "build");
        assert_eq!(family(&s, "task_state").unwrap().kind, Kind::StateSet);
        assert_eq!(
            family(&s, "resident_memory_bytes").unwrap().unit.as_deref(),
            Some("bytes")
        );
        assert_eq!(
            value(&s, "http_requests_total", &[("method", "GET"), ("path", "/a")]),
            Some(3.0)
        );
        assert_eq!(value(&s, "request_seconds_bucket", &[("le", "0.75")]), Some(4.0));
    }

    #[test]
    fn go_client_text_reads_whole() {
        let s = read(GO_0_0_4);
        assert_eq!((s.samples.len(), s.skipped_lines, s.families.len()), (29, 0, 8));
        every_sample_has_a_family(&s);
        assert_eq!(
            value(&s, "promhttp_metric_handler_requests_total", &[("code", "200")]),
            Some(3.0)
        );
        assert_eq!(family(&s, "go_gc_duration_seconds_count").unwrap().kind, Kind::Summary);
        let quantiles: Vec<f64> = s
            .samples
            .iter()
            .filter_map(|x| x.label("quantile").and_then(bound))
            .collect();
        assert_eq!(quantiles, [0.0, 0.25, 0.5, 0.75, 1.0]);
        // Go's `le="5"` and Python's `le="5.0"` are the same bound.
        let go = s.samples.iter().find(|x| x.label("le") == Some("5")).unwrap();
        assert_eq!(bound(go.label("le").unwrap()), bound("5.0"));
    }

    /// The bounds `limits` promise hold for `scrape`.
    fn within(scrape: &Scrape, limits: &Limits) -> bool {
        scrape.samples.len() <= limits.max_series
            && scrape.samples.iter().all(|s| {
                s.name.len() <= limits.max_label_bytes
                    && s.labels.len() <= limits.max_labels
                    && s.labels.windows(2).all(|w| w[0].0 < w[1].0)
                    && s.labels
                        .iter()
                        .all(|(n, v)| n.len() <= limits.max_label_bytes && v.len() <= limits.max_label_bytes)
            })
    }

    const SMALL: Limits = Limits {
        max_bytes: 4096,
        max_series: 7,
        max_labels: 2,
        max_label_bytes: 8,
    };

    proptest::proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_text(text in "(?s).{0,400}", om in proptest::bool::ANY) {
            let content_type = om.then_some("application/openmetrics-text");
            if let Ok(s) = parse(&text, content_type, &SMALL) {
                proptest::prop_assert!(within(&s, &SMALL));
                for x in &s.samples {
                    let _ = family_of(&s, x);
                }
            }
        }

        /// Real text with characters replaced, inserted and removed.
        #[test]
        fn parse_never_panics_on_mutated_real_text(
            which in 0usize..3,
            edits in proptest::collection::vec((proptest::num::usize::ANY, 0u8..3, "[ -~\\\\\"{}#,=\\n\\r\\té]"), 1..12),
        ) {
            let mut chars: Vec<char> = [PYTHON_0_0_4, PYTHON_OPENMETRICS, GO_0_0_4][which].chars().collect();
            for (at, op, c) in &edits {
                let at = at % (chars.len() + 1);
                let c = c.chars().next().unwrap_or(' ');
                match op {
                    0 if at < chars.len() => chars[at] = c,
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, c),
                }
            }
            let text: String = chars.into_iter().collect();
            let limits = Limits { max_bytes: 1 << 20, ..SMALL };
            let s = parse(&text, None, &limits);
            proptest::prop_assert!(s.is_ok(), "mostly real text is still metrics text: {:?}", s.err());
            let s = s.unwrap();
            proptest::prop_assert!(within(&s, &limits));
            for x in &s.samples {
                let _ = family_of(&s, x);
            }
        }
    }
}
