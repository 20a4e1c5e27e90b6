//! Folded stacks (`root;caller;leaf COUNT`), the format every profiler here
//! is turned into and inferno reads. Pure: parsing, merging and writing.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Stacks and their weights, sorted by stack, each stack once, no zero
/// weights. A stack is its frames joined by `;`, root first.
///
/// The lines (`stack count`) live in one buffer, in whatever order they were
/// written, and a sorted list of spans points into it: a profile of 100 000
/// stacks is two allocations, text read from a file is used where it lies,
/// and the lines go to inferno without copying.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    buf: String,
    spans: Vec<Span>,
}

/// Where one line sits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    stack_len: usize,
    line_len: usize,
    count: u64,
}

impl PartialEq for Folded {
    fn eq(&self, other: &Folded) -> bool {
        self.spans.len() == other.spans.len() && self.lines().eq(other.lines())
    }
}

impl Eq for Folded {}

/// The largest total weight a profile may have: beyond 2^53 the drawing's
/// floating-point widths lose whole units.
pub const MAX_TOTAL: u64 = 1 << 53;

/// A line of folded text that is not `STACK COUNT`, or counts too large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}, got '{text}'")]
pub struct ParseError {
    pub line: usize,
    pub text: String,
    pub problem: &'static str,
}

/// Appends `frame` to a stack being built: a frame's own `;` and line
/// breaks would split it, so they become `_`.
pub fn push_frame(stack: &mut String, frame: &str) {
    if !stack.is_empty() {
        stack.push(';');
    }
    if frame.contains([';', '\n', '\r']) {
        stack.push_str(&frame.replace([';', '\n', '\r'], "_"));
    } else {
        stack.push_str(frame);
    }
}

/// Joins frames (root first) into one stack; no frames is `[unknown]`.
pub fn join_frames<'a>(frames: impl IntoIterator<Item = &'a str>) -> String {
    let mut stack = String::new();
    for frame in frames {
        push_frame(&mut stack, frame);
    }
    if stack.is_empty() {
        stack.push_str("[unknown]");
    }
    stack
}

/// Writes lines into one buffer; [`FoldedWriter::finish`] sorts and merges
/// them into a [`Folded`].
#[derive(Debug, Default)]
pub struct FoldedWriter {
    buf: String,
    spans: Vec<Span>,
}

impl FoldedWriter {
    /// A writer with room for about `bytes` of text.
    pub fn with_capacity(bytes: usize, lines: usize) -> FoldedWriter {
        FoldedWriter {
            buf: String::with_capacity(bytes),
            spans: Vec::with_capacity(lines),
        }
    }

    /// The buffer to write the next stack's frames into (after
    /// [`FoldedWriter::stack_start`]).
    pub fn buf(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Where the next stack begins; pass it to [`FoldedWriter::end_stack`].
    pub fn stack_start(&self) -> usize {
        self.buf.len()
    }

    /// Ends the stack written since `start` with its count. An empty stack
    /// becomes `[unknown]`; a zero count drops it.
    pub fn end_stack(&mut self, start: usize, count: u64) {
        if count == 0 {
            self.buf.truncate(start);
            return;
        }
        if self.buf.len() == start {
            self.buf.push_str("[unknown]");
        }
        let stack_len = self.buf.len() - start;
        let _ = write!(self.buf, " {count}");
        self.spans.push(Span {
            start,
            stack_len,
            line_len: self.buf.len() - start,
            count,
        });
        self.buf.push('\n');
    }

    /// Adds a whole stack.
    pub fn add(&mut self, stack: &str, count: u64) {
        let start = self.stack_start();
        self.buf.push_str(stack);
        self.end_stack(start, count);
    }

    /// Sorts by stack (unless already sorted) and adds up equal stacks.
    pub fn finish(self) -> Folded {
        let FoldedWriter { mut buf, mut spans } = self;
        let stack = |sp: &Span| sp.start..sp.start + sp.stack_len;
        if !spans.is_sorted_by(|a, b| buf[stack(a)] <= buf[stack(b)]) {
            spans.sort_unstable_by(|a, b| buf[stack(a)].cmp(&buf[stack(b)]));
        }
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        let mut rewrite = Vec::new();
        for sp in spans {
            match merged.last_mut() {
                Some(last) if buf[stack(last)] == buf[stack(&sp)] => {
                    last.count = last.count.saturating_add(sp.count);
                    rewrite.push(merged.len() - 1);
                }
                _ => merged.push(sp),
            }
        }
        rewrite.dedup();
        // A merged stack gets a new line with the sum at the end of the buffer.
        for i in rewrite {
            let sp = merged[i];
            let start = buf.len();
            buf.extend_from_within(sp.start..sp.start + sp.stack_len);
            let _ = write!(buf, " {}", sp.count);
            merged[i] = Span {
                start,
                stack_len: sp.stack_len,
                line_len: buf.len() - start,
                count: sp.count,
            };
            buf.push('\n');
        }
        Folded { buf, spans: merged }
    }
}

impl Folded {
    pub fn new() -> Folded {
        Folded::default()
    }

    /// Builds a profile from stacks and weights in any order: equal stacks
    /// are added up and zero weights dropped.
    pub fn from_pairs<S: AsRef<str>>(pairs: impl IntoIterator<Item = (S, u64)>) -> Folded {
        let mut w = FoldedWriter::default();
        for (stack, count) in pairs {
            w.add(stack.as_ref(), count);
        }
        w.finish()
    }

    /// Reads folded text. Frames may contain spaces, so the count is what
    /// follows the last space. Blank lines are skipped; a line with no frames
    /// (` 3`, written by py-spy for an empty stack) counts as `[unknown]`.
    pub fn parse(text: &str) -> Result<Folded, ParseError> {
        Folded::parse_owned(text.to_string())
    }

    /// [`Folded::parse`] that keeps `text` as the buffer: lines already in
    /// canonical form (`stack count`, no stray spaces) are used where they
    /// lie, and only the others are rewritten.
    pub fn parse_owned(mut text: String) -> Result<Folded, ParseError> {
        // Every line in the buffer ends with a newline, so the file can be
        // written from it as it lies.
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let mut spans = Vec::with_capacity(text.len() / 64);
        let mut fixes: Vec<(String, u64)> = Vec::new();
        let mut start = 0;
        let mut total = 0u64;
        for (i, raw) in text.split('\n').enumerate() {
            let line_start = start;
            start += raw.len() + 1;
            let line = raw.trim_end();
            if line.is_empty() {
                continue;
            }
            let bad = |problem| ParseError {
                line: i + 1,
                text: line.chars().take(120).collect(),
                problem,
            };
            const SHAPE: &str = "expected 'frame;frame;... COUNT' (frames joined by ';', a space, then a whole number)";
            // The count is short: a byte scan from the end finds its space
            // faster than a general string search.
            let space = line.bytes().rposition(|b| b == b' ').ok_or_else(|| bad(SHAPE))?;
            let (stack, digits) = (&line[..space], &line[space + 1..]);
            let count: u64 = digits.parse().map_err(|_| bad(SHAPE))?;
            if count == 0 {
                continue;
            }
            total = total.saturating_add(count);
            if total > MAX_TOTAL {
                return Err(bad("the counts add up to more than 2^53"));
            }
            let clean = stack.trim();
            let canonical = !clean.is_empty()
                && clean.len() == stack.len()
                && !digits.starts_with(['0', '+'])
                && line.len() == raw.len();
            if canonical {
                spans.push(Span {
                    start: line_start,
                    stack_len: stack.len(),
                    line_len: line.len(),
                    count,
                });
            } else {
                fixes.push((if clean.is_empty() { "[unknown]" } else { clean }.to_string(), count));
            }
        }
        let mut w = FoldedWriter { buf: text, spans };
        for (stack, count) in fixes {
            w.add(&stack, count);
        }
        Ok(w.finish())
    }

    fn stack(&self, sp: &Span) -> &str {
        &self.buf[sp.start..sp.start + sp.stack_len]
    }

    /// Every stack and its weight, sorted by stack.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.spans.iter().map(|sp| (self.stack(sp), sp.count))
    }

    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.spans.iter().fold(0u64, |t, sp| t.saturating_add(sp.count))
    }

    /// Number of distinct stacks.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The weight of every stack that contains a frame whose name
    /// contains `needle`.
    pub fn weight_of(&self, needle: &str) -> u64 {
        self.iter()
            .filter(|(s, _)| s.split(';').any(|f| f.contains(needle)))
            .map(|(_, c)| c)
            .sum()
    }

    /// The leaf frames that carry the most weight (self time), heaviest
    /// first, with their share of the total in percent.
    pub fn hottest(&self, n: usize) -> Vec<(String, f64)> {
        let total = self.total().max(1) as f64;
        Folded::heaviest(self.iter().map(|(s, c)| (s.rsplit(';').next().unwrap_or(s), c)), n)
            .into_iter()
            .map(|(f, c)| (f, 100.0 * c as f64 / total))
            .collect()
    }

    /// Sums weights by frame and keeps the `n` heaviest (ties by name).
    fn heaviest<'a>(frames: impl Iterator<Item = (&'a str, u64)>, n: usize) -> Vec<(String, u64)> {
        let mut sums: HashMap<&str, u64> = HashMap::new();
        for (f, c) in frames {
            *sums.entry(f).or_default() += c;
        }
        let mut v: Vec<(&str, u64)> = sums.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter().take(n).map(|(f, c)| (f.to_string(), c)).collect()
    }

    /// The lines (`stack count`), sorted by stack, as inferno and diff
    /// tools expect them.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|sp| &self.buf[sp.start..sp.start + sp.line_len])
    }

    /// Writes the file: sorted lines, each ending in a newline.
    pub fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        use std::io::IoSlice;
        // Each line is followed by its newline in the buffer.
        let with_newline = |sp: &Span| &self.buf.as_bytes()[sp.start..sp.start + sp.line_len + 1];
        let mut next = 0;
        let in_place = self.spans.iter().all(|sp| {
            let ok = sp.start == next;
            next = sp.start + sp.line_len + 1;
            ok
        });
        if in_place {
            return out.write_all(&self.buf.as_bytes()[..next]);
        }
        for chunk in self.spans.chunks(512) {
            let mut slices: Vec<IoSlice> = chunk.iter().map(|sp| IoSlice::new(with_newline(sp))).collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                match out.write_vectored(rest) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut rest, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// The whole file as one string.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.spans.iter().map(|sp| sp.line_len + 1).sum());
        for line in self.lines() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_last_space_because_frames_hold_spaces() {
        let f =
            Folded::parse("<module> (busy.py:26);leaf_compute (busy.py:5) 177\n\n<module> (busy.py:26) 3\n").unwrap();
        assert_eq!(f.total(), 180);
        assert_eq!(f.len(), 2);
        assert_eq!(f.weight_of("leaf_compute"), 177);
        assert_eq!(
            f.lines().collect::<Vec<_>>(),
            vec![
                "<module> (busy.py:26) 3",
                "<module> (busy.py:26);leaf_compute (busy.py:5) 177"
            ]
        );
    }

    #[test]
    fn repeated_stacks_add_up_and_zero_counts_vanish() {
        let f = Folded::parse("a;b 2\na;b 3\na;c 0\n").unwrap();
        assert_eq!(f.lines().collect::<Vec<_>>(), vec!["a;b 5"]);
    }

    #[test]
    fn lines_are_canonical_whatever_the_input_spelling() {
        let f = Folded::parse("b  007\n a 1\nb 3\n").unwrap();
        assert_eq!(f.lines().collect::<Vec<_>>(), vec!["a 1", "b 10"]);
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![("a", 1), ("b", 10)]);
    }

    #[test]
    fn owned_canonical_text_is_kept_and_anything_else_is_parsed() {
        let canonical = "a 1\na;b 2\nb 30\n".to_string();
        let f = Folded::parse_owned(canonical.clone()).unwrap();
        assert_eq!(f, Folded::parse(&canonical).unwrap());
        assert_eq!(f.to_text(), canonical);
        for messy in [
            "b 1\na 2\n",
            "a 1\na 2\n",
            "a 0\nb 1\n",
            "a  1\n",
            "a 01\n",
            "a 1\r\n",
            "\na 1\n",
        ] {
            let f = Folded::parse_owned(messy.to_string()).unwrap();
            assert_eq!(f, Folded::parse(messy).unwrap(), "{messy:?}");
        }
        assert_eq!(Folded::parse_owned("a;b\n".into()).unwrap_err().line, 1);
    }

    proptest::proptest! {
        /// Whatever the order, spelling and repeats, the result equals a
        /// plain map from stack to summed count.
        #[test]
        fn parse_matches_a_plain_map(
            lines in proptest::collection::vec(("[a-c]{1,2}(;[a-c ]{1,3}){0,3}", 0u64..5, 0usize..3), 0..40)
        ) {
            let mut text = String::new();
            let mut want: std::collections::BTreeMap<String, u64> = Default::default();
            for (stack, count, spaces) in &lines {
                text.push_str(&format!("{stack}{} {count}\n", " ".repeat(*spaces)));
                let key = stack.trim().to_string();
                if *count > 0 {
                    *want.entry(if key.is_empty() { "[unknown]".into() } else { key }).or_default() += count;
                }
            }
            let f = Folded::parse(&text).unwrap();
            let got: Vec<(String, u64)> = f.iter().map(|(s, c)| (s.to_string(), c)).collect();
            let want: Vec<(String, u64)> = want.into_iter().collect();
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(Folded::parse(&f.to_text()).unwrap(), f);
        }
    }

    #[test]
    fn the_file_is_the_sorted_lines_whether_in_place_or_gathered() {
        let write = |f: &Folded| {
            let mut out = Vec::new();
            f.write_to(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        // Canonical text is written as it lies (even without a final newline).
        let f = Folded::parse_owned("a 1\nb 2".into()).unwrap();
        assert_eq!(write(&f), "a 1\nb 2\n");
        // Out of order, repeated and messy: the lines are gathered in order.
        let many: String = (0..2000).rev().map(|i| format!("s{i:04} 1\ns{i:04}  2\n")).collect();
        let f = Folded::parse_owned(many).unwrap();
        let text = write(&f);
        assert_eq!(text, f.to_text());
        assert!(text.starts_with("s0000 3\ns0001 3\n") && text.lines().count() == 2000);
    }

    #[test]
    fn counts_too_large_to_draw_are_refused() {
        let e = Folded::parse("a 18446744073709551615\na 1\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().contains("2^53"), "{e}");
        let e = Folded::parse("a 4503599627370496\nb 4503599627370496\nc 1\n").unwrap_err();
        assert_eq!(e.line, 3);
        let f = Folded::from_pairs([("a", u64::MAX), ("a", 1)]);
        assert_eq!(f.total(), u64::MAX);
    }

    #[test]
    fn an_empty_stack_is_unknown() {
        let f = Folded::parse(" 4\n").unwrap();
        assert_eq!(f.lines().collect::<Vec<_>>(), vec!["[unknown] 4"]);
    }

    #[test]
    fn bad_lines_name_their_number() {
        let e = Folded::parse("a;b 1\na;b\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Folded::parse("a;b -3\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn frames_cannot_smuggle_separators() {
        let f = Folded::from_pairs([
            (join_frames(["main", "weird;name", "multi\nline"]), 7),
            (join_frames([]), 1),
            (join_frames(["main", "weird;name", "multi\nline"]), 2),
        ]);
        assert_eq!(
            f.lines().collect::<Vec<_>>(),
            vec!["[unknown] 1", "main;weird_name;multi_line 9"]
        );
    }

    #[test]
    fn hottest_leaves_sum_self_time() {
        let f = Folded::parse("m;a;hot 6\nm;b;hot 2\nm;cold 2\n").unwrap();
        assert_eq!(f.hottest(1), vec![("hot".to_string(), 80.0)]);
        assert_eq!(f.hottest(5).len(), 2);
    }

    #[test]
    fn text_round_trips() {
        let f = Folded::parse("b;c 1\na 2\n").unwrap();
        assert_eq!(f.to_text(), "a 2\nb;c 1\n");
        assert_eq!(Folded::parse(&f.to_text()).unwrap(), f);
    }
}
