//! Journeys: a scenario's iteration is a sequence of steps run by one
//! virtual user, who carries what earlier steps captured (a token, an id)
//! and its cookies into the next. A poll step repeats its request until a
//! condition on the answer holds. This module holds what is pure: the
//! shapes, reading a capture or a condition out of an answer, and the
//! per-scenario statistics; [`run`] drives a user's iteration.

pub mod cookies;
pub mod run;

use std::time::Duration;

use http::HeaderName;

use super::stats::{Hist, add};

/// When a user's captures and cookies are forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Session {
    /// They live as long as the user (what `on_start` set is never lost).
    User,
    /// Each iteration starts from what `on_start` left.
    Iteration,
}

/// A scenario's steps.
#[derive(Debug, Clone)]
pub struct Journey {
    /// Run once per user before its first iteration, outside flow timing.
    pub on_start: Vec<Step>,
    pub steps: Vec<Step>,
    pub session: Session,
    pub cookies: bool,
    /// Capture slots in all (on_start's first).
    pub slots: usize,
}

/// One step: a request of an endpoint, what to take from its answer, and
/// for a poll, when to ask again.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub endpoint: usize,
    pub captures: Vec<Capture>,
    /// A capture that finds nothing fails the iteration.
    pub required: bool,
    pub poll: Option<Poll>,
    /// A pause after the step (not part of the flow's active time).
    pub think: Option<super::plan::ThinkTime>,
    /// The request's path as cookies match it (placeholders stand as `0`).
    pub cookie_path: String,
    /// The step sets its own `Cookie` header, which takes the jar's place.
    pub own_cookie: bool,
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub slot: usize,
    pub from: Source,
}

/// Where a value is read from in an answer.
#[derive(Debug, Clone)]
pub enum Source {
    /// An RFC 6901 JSON pointer into the body.
    Json(String),
    /// A regular expression over the body, and its group.
    Regex(regex::Regex, usize),
    /// A response header.
    Header(HeaderName),
}

impl Source {
    /// The source in the profile's words: `/access_token`, `header X-Token`.
    pub fn describe(&self) -> String {
        match self {
            Source::Json(p) => format!("JSON {p}"),
            Source::Regex(re, group) => format!("regex /{}/ group {group}", clip(re.as_str(), 60)),
            Source::Header(h) => format!("header {h}"),
        }
    }
}

/// `s` on one line, at most `max` characters.
pub fn clip(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > max {
        out.push_str("...");
    }
    out
}

/// What a poll tests.
#[derive(Debug, Clone)]
pub struct Condition {
    pub source: Source,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(serde_json::Value),
    In(Vec<serde_json::Value>),
    /// The value is there at all.
    Exists,
}

#[derive(Debug, Clone)]
pub struct Poll {
    pub until: Condition,
    pub fail_if: Option<Condition>,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_attempts: Option<u32>,
}

/// Longest captured value: more is a hostile or broken answer.
pub const MAX_CAPTURE_BYTES: usize = 64 * 1024;

/// An answer as captures and conditions read it: its kept body and
/// headers, and the body parsed as JSON once, when something first asks.
pub struct Answer<'a> {
    pub body: &'a [u8],
    pub headers: &'a [(HeaderName, Vec<u8>)],
    json: std::cell::OnceCell<Result<serde_json::Value, String>>,
}

impl<'a> Answer<'a> {
    pub fn new(body: &'a [u8], headers: &'a [(HeaderName, Vec<u8>)]) -> Answer<'a> {
        Answer {
            body,
            headers,
            json: std::cell::OnceCell::new(),
        }
    }

    /// The value at `pointer` in the body; an error when the body is not JSON.
    fn json_at(&self, pointer: &str) -> Result<Option<&serde_json::Value>, String> {
        let doc = self
            .json
            .get_or_init(|| serde_json::from_slice(self.body).map_err(|e| format!("the body is not JSON ({e})")));
        Ok(doc.as_ref().map_err(Clone::clone)?.pointer(pointer))
    }
}

/// Reads `source` out of an answer. `Ok(None)`: not there.
pub fn read(source: &Source, answer: &Answer<'_>) -> Result<Option<String>, String> {
    let (body, headers) = (answer.body, answer.headers);
    let value = match source {
        Source::Json(pointer) => match answer.json_at(pointer)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        },
        Source::Regex(re, group) => {
            let text = String::from_utf8_lossy(body);
            re.captures(&text)
                .and_then(|c| c.get(*group))
                .map(|m| m.as_str().to_string())
        }
        Source::Header(name) => headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned()),
    };
    match value {
        Some(v) if v.len() > MAX_CAPTURE_BYTES => Err(format!(
            "the value is {} bytes, more than the {MAX_CAPTURE_BYTES} a capture takes",
            v.len()
        )),
        v => Ok(v),
    }
}

/// Whether `c` holds for an answer; a body that is not JSON when the
/// condition reads JSON is an error.
pub fn holds(c: &Condition, answer: &Answer<'_>) -> Result<bool, String> {
    let read_text;
    let found = match &c.source {
        Source::Json(pointer) => answer.json_at(pointer)?.filter(|v| !v.is_null()),
        other => {
            read_text = read(other, answer)?.map(serde_json::Value::String);
            read_text.as_ref()
        }
    };
    let Some(found) = found else { return Ok(false) };
    Ok(match &c.test {
        Test::Exists => true,
        Test::Equals(v) => loosely_equal(found, v),
        Test::In(vs) => vs.iter().any(|v| loosely_equal(found, v)),
    })
}

/// JSON equality, where a string from a header or a regex equals the
/// number or boolean it spells (`"3"` = `3`).
fn loosely_equal(found: &serde_json::Value, want: &serde_json::Value) -> bool {
    match (found, want) {
        (serde_json::Value::String(s), serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
            s.as_str() == want.to_string().as_str()
        }
        _ => found == want,
    }
}

/// Checks an RFC 6901 JSON pointer: empty (the whole document), or `/`
/// followed by tokens where `~` is only ever `~0` or `~1`.
pub fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Ok(());
    }
    if !p.starts_with('/') {
        return Err(format!(
            "'{p}' is not a JSON pointer (RFC 6901): it starts with '/', e.g. \"/access_token\" or \"/items/0/id\""
        ));
    }
    let bytes = p.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(format!(
                "'{p}' is not a JSON pointer (RFC 6901): '~' must be written ~0, and '/' inside a key ~1"
            ));
        }
    }
    Ok(())
}

/// What one scenario's iterations did.
#[derive(Debug, Clone)]
pub struct FlowStats {
    /// Iterations that ran to their end, failed or not.
    pub iterations: u64,
    pub failed: u64,
    /// Iterations cut off when the scenario's graceful stop ended.
    pub interrupted: u64,
    /// Start (intended) to end of each successful iteration.
    pub flow: Hist,
    /// The same, less think time and poll intervals: time in requests.
    pub active: Hist,
    /// Failed iterations by the step that failed (on_start first, then
    /// steps), with the first failure in words.
    pub failed_by_step: Vec<(u64, Option<String>)>,
}

impl FlowStats {
    pub fn new(steps: usize) -> FlowStats {
        FlowStats {
            iterations: 0,
            failed: 0,
            interrupted: 0,
            flow: super::stats::new_hist(),
            active: super::stats::new_hist(),
            failed_by_step: vec![(0, None); steps],
        }
    }

    pub fn merge(&mut self, o: &FlowStats) {
        self.iterations += o.iterations;
        self.failed += o.failed;
        self.interrupted += o.interrupted;
        add(&mut self.flow, &o.flow);
        add(&mut self.active, &o.active);
        for (mine, theirs) in self.failed_by_step.iter_mut().zip(&o.failed_by_step) {
            mine.0 += theirs.0;
            if mine.1.is_none() {
                mine.1.clone_from(&theirs.1);
            }
        }
    }
}

/// How one iteration ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done {
        flow: Duration,
        active: Duration,
    },
    /// Failed at step `step` (on_start steps first), and why.
    Failed {
        step: usize,
        why: String,
    },
    Interrupted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(p: &str) -> Source {
        Source::Json(p.into())
    }

    #[test]
    fn captures_read_json_regex_and_headers() {
        let body = br#"{"access_token":"t0k","n":3,"job":{"id":"a/b"},"nil":null,"list":[1,2]}"#;
        let headers = vec![(HeaderName::from_static("x-token"), b"h1".to_vec())];
        assert_eq!(
            read(&json("/access_token"), &Answer::new(body, &headers))
                .unwrap()
                .as_deref(),
            Some("t0k")
        );
        assert_eq!(
            read(&json("/n"), &Answer::new(body, &headers)).unwrap().as_deref(),
            Some("3")
        );
        assert_eq!(
            read(&json("/job/id"), &Answer::new(body, &headers)).unwrap().as_deref(),
            Some("a/b")
        );
        assert_eq!(
            read(&json("/list"), &Answer::new(body, &headers)).unwrap().as_deref(),
            Some("[1,2]")
        );
        assert_eq!(read(&json("/nil"), &Answer::new(body, &headers)).unwrap(), None);
        assert_eq!(read(&json("/missing"), &Answer::new(body, &headers)).unwrap(), None);
        let re = Source::Regex(regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).unwrap(), 1);
        let html = br#"<input type="hidden" name="csrf" value="beef01">"#;
        assert_eq!(read(&re, &Answer::new(html, &[])).unwrap().as_deref(), Some("beef01"));
        assert_eq!(read(&re, &Answer::new(b"<p>none</p>", &[])).unwrap(), None);
        let h = Source::Header(HeaderName::from_static("x-token"));
        assert_eq!(read(&h, &Answer::new(b"", &headers)).unwrap().as_deref(), Some("h1"));
        assert_eq!(
            read(
                &Source::Header(HeaderName::from_static("x-other")),
                &Answer::new(b"", &headers)
            )
            .unwrap(),
            None
        );
        let e = read(&json("/a"), &Answer::new(b"<html>", &[])).unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let big = format!("{{\"t\":\"{}\"}}", "x".repeat(MAX_CAPTURE_BYTES + 1));
        assert!(
            read(&json("/t"), &Answer::new(big.as_bytes(), &[]))
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn conditions_compare_values_loosely_only_across_text() {
        let c = |p: &str, test: Test| Condition { source: json(p), test };
        let body = br#"{"status":"done","n":3,"ok":true}"#;
        assert!(holds(&c("/status", Test::Equals("done".into())), &Answer::new(body, &[])).unwrap());
        assert!(!holds(&c("/status", Test::Equals("queued".into())), &Answer::new(body, &[])).unwrap());
        assert!(
            holds(
                &c("/status", Test::In(vec!["failed".into(), "done".into()])),
                &Answer::new(body, &[])
            )
            .unwrap()
        );
        assert!(holds(&c("/n", Test::Equals(3.into())), &Answer::new(body, &[])).unwrap());
        assert!(!holds(&c("/n", Test::Equals("3".into())), &Answer::new(body, &[])).unwrap());
        assert!(holds(&c("/ok", Test::Exists), &Answer::new(body, &[])).unwrap());
        assert!(!holds(&c("/gone", Test::Exists), &Answer::new(body, &[])).unwrap());
        let header = Condition {
            source: Source::Header(HeaderName::from_static("x-n")),
            test: Test::Equals(3.into()),
        };
        assert!(
            holds(
                &header,
                &Answer::new(b"", &[(HeaderName::from_static("x-n"), b"3".to_vec())])
            )
            .unwrap()
        );
    }

    #[test]
    fn json_pointers_are_checked() {
        for ok in ["", "/a", "/a/0/b", "/a~1b", "/m~0n", "/"] {
            check_pointer(ok).unwrap();
        }
        for bad in ["a", "access_token", "/a~2", "/a~", "$.id"] {
            assert!(check_pointer(bad).unwrap_err().contains("RFC 6901"), "{bad}");
        }
    }

    #[test]
    fn flow_stats_merge_keeps_the_first_example() {
        let mut a = FlowStats::new(2);
        let mut b = FlowStats::new(2);
        a.iterations = 3;
        a.failed_by_step[1] = (1, Some("first".into()));
        b.iterations = 2;
        b.failed = 2;
        b.failed_by_step[1] = (2, Some("second".into()));
        b.failed_by_step[0] = (1, Some("zero".into()));
        a.merge(&b);
        assert_eq!((a.iterations, a.failed), (5, 2));
        assert_eq!(a.failed_by_step[1], (3, Some("first".into())));
        assert_eq!(a.failed_by_step[0], (1, Some("zero".into())));
    }
}
