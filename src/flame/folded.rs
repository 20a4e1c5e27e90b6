//! Folded stacks (`root;caller;leaf COUNT`), the format every profiler here
//! is turned into and inferno reads. Pure: parsing, merging and writing.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Stacks and their weights. A stack is its frames joined by `;`, root first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    stacks: HashMap<String, u64>,
}

/// A line of folded text that is not `STACK COUNT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line}: expected 'frame;frame;... COUNT' (frames joined by ';', a space, then a whole number), got '{text}'"
)]
pub struct ParseError {
    pub line: usize,
    pub text: String,
}

impl Folded {
    pub fn new() -> Folded {
        Folded::default()
    }

    /// Reads folded text. Frames may contain spaces, so the count is what
    /// follows the last space. Blank lines are skipped; a line with no frames
    /// (` 3`, written by py-spy for an empty stack) counts as `[unknown]`.
    pub fn parse(text: &str) -> Result<Folded, ParseError> {
        let mut folded = Folded::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            if line.is_empty() {
                continue;
            }
            let bad = || ParseError {
                line: i + 1,
                text: line.chars().take(120).collect(),
            };
            let (stack, count) = line.rsplit_once(' ').ok_or_else(bad)?;
            let count: u64 = count.parse().map_err(|_| bad())?;
            let stack = stack.trim();
            folded.add(if stack.is_empty() { "[unknown]" } else { stack }, count);
        }
        Ok(folded)
    }

    /// Adds `count` to a stack given as one `;`-joined string. Zero counts
    /// are dropped, so they never show as empty frames.
    pub fn add(&mut self, stack: &str, count: u64) {
        if count == 0 {
            return;
        }
        match self.stacks.get_mut(stack) {
            Some(c) => *c += count,
            None => {
                self.stacks.insert(stack.to_string(), count);
            }
        }
    }

    /// Adds `count` to a stack given frame by frame, root first. A frame's
    /// own `;` and line breaks would split it, so they become `_`.
    pub fn add_frames<'a>(&mut self, frames: impl IntoIterator<Item = &'a str>, count: u64) {
        let mut stack = String::new();
        for frame in frames {
            if !stack.is_empty() {
                stack.push(';');
            }
            if frame.contains([';', '\n', '\r']) {
                stack.push_str(&frame.replace([';', '\n', '\r'], "_"));
            } else {
                stack.push_str(frame);
            }
        }
        if stack.is_empty() {
            stack.push_str("[unknown]");
        }
        self.add(&stack, count);
    }

    /// Every stack and its weight, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.stacks.iter().map(|(s, &c)| (s.as_str(), c))
    }

    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.stacks.values().sum()
    }

    /// Number of distinct stacks.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The weight of every stack that contains a frame whose name
    /// contains `needle`.
    pub fn weight_of(&self, needle: &str) -> u64 {
        self.stacks
            .iter()
            .filter(|(s, _)| s.split(';').any(|f| f.contains(needle)))
            .map(|(_, c)| c)
            .sum()
    }

    /// The distinct root frames with their total weight, heaviest first.
    pub fn roots(&self) -> Vec<(String, u64)> {
        let mut roots: HashMap<&str, u64> = HashMap::new();
        for (stack, count) in &self.stacks {
            let root = stack.split(';').next().unwrap_or(stack);
            *roots.entry(root).or_default() += count;
        }
        let mut v: Vec<(String, u64)> = roots.into_iter().map(|(r, c)| (r.to_string(), c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The leaf frames that carry the most weight (self time), heaviest
    /// first, with their share of the total in percent.
    pub fn hottest(&self, n: usize) -> Vec<(String, f64)> {
        let total = self.total().max(1) as f64;
        let mut leaves: HashMap<&str, u64> = HashMap::new();
        for (stack, count) in &self.stacks {
            let leaf = stack.rsplit(';').next().unwrap_or(stack);
            *leaves.entry(leaf).or_default() += count;
        }
        let mut v: Vec<(&str, u64)> = leaves.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .take(n)
            .map(|(f, c)| (f.to_string(), 100.0 * c as f64 / total))
            .collect()
    }

    /// The lines, sorted by stack, as inferno and diff tools expect them.
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<(&String, &u64)> = self.stacks.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v.into_iter().map(|(s, c)| format!("{s} {c}")).collect()
    }

    /// The whole file: sorted lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        let mut v: Vec<(&String, &u64)> = self.stacks.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = String::with_capacity(v.iter().map(|(s, _)| s.len() + 12).sum());
        for (s, c) in v {
            let _ = writeln!(out, "{s} {c}");
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
            f.lines(),
            vec![
                "<module> (busy.py:26) 3",
                "<module> (busy.py:26);leaf_compute (busy.py:5) 177"
            ]
        );
    }

    #[test]
    fn repeated_stacks_add_up_and_zero_counts_vanish() {
        let f = Folded::parse("a;b 2\na;b 3\na;c 0\n").unwrap();
        assert_eq!(f.lines(), vec!["a;b 5"]);
    }

    #[test]
    fn an_empty_stack_is_unknown() {
        let f = Folded::parse(" 4\n").unwrap();
        assert_eq!(f.lines(), vec!["[unknown] 4"]);
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
        let mut f = Folded::new();
        f.add_frames(["main", "weird;name", "multi\nline"], 7);
        f.add_frames([], 1);
        assert_eq!(f.lines(), vec!["[unknown] 1", "main;weird_name;multi_line 7"]);
    }

    #[test]
    fn hottest_leaves_sum_self_time() {
        let f = Folded::parse("m;a;hot 6\nm;b;hot 2\nm;cold 2\n").unwrap();
        assert_eq!(f.hottest(1), vec![("hot".to_string(), 80.0)]);
        assert_eq!(f.hottest(5).len(), 2);
    }

    #[test]
    fn roots_are_heaviest_first() {
        let f = Folded::parse("p1;a 5\np2;a 7\np1;b 4\n").unwrap();
        assert_eq!(f.roots(), vec![("p1".to_string(), 9), ("p2".to_string(), 7)]);
    }

    #[test]
    fn text_round_trips() {
        let f = Folded::parse("b;c 1\na 2\n").unwrap();
        assert_eq!(f.to_text(), "a 2\nb;c 1\n");
        assert_eq!(Folded::parse(&f.to_text()).unwrap(), f);
    }
}
