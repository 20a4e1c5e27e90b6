//! Series selectors as SLO names write them: a metric name with optional
//! PromQL label matchers, `retrieval_errors_total{kind="openai_error"}`
//! (`=`, `!=`, `=~`, `!~`; regexes anchored as PromQL anchors them).

use std::fmt;

/// How a label is matched.
#[derive(Debug, Clone)]
pub enum Match {
    Equal(String),
    NotEqual(String),
    Regex(regex::Regex),
    NotRegex(regex::Regex),
}

impl PartialEq for Match {
    fn eq(&self, other: &Match) -> bool {
        match (self, other) {
            (Match::Equal(a), Match::Equal(b)) | (Match::NotEqual(a), Match::NotEqual(b)) => a == b,
            (Match::Regex(a), Match::Regex(b)) | (Match::NotRegex(a), Match::NotRegex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Match {
    /// Whether a label's value (empty when the series lacks the label, as
    /// in PromQL) matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Match::Equal(v) => value == v,
            Match::NotEqual(v) => value != v,
            Match::Regex(re) => re.is_match(value),
            Match::NotRegex(re) => !re.is_match(value),
        }
    }
}

/// A metric name and label matchers.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub name: String,
    pub matchers: Vec<(String, Match)>,
}

/// Longest selector read (an SLO name, not a query language).
const MAX_SELECTOR: usize = 4096;

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let t = text.trim();
        if t.len() > MAX_SELECTOR {
            return Err(format!("a selector is at most {MAX_SELECTOR} bytes"));
        }
        let (name, rest) = match t.find('{') {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        if !is_metric_name(name) {
            return Err(format!(
                "'{name}' is not a metric name: letters, digits, '_' and ':', not starting with a digit"
            ));
        }
        let mut matchers = Vec::new();
        if let Some(rest) = rest {
            let inner = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| format!("'{t}': label matchers go in one {{...}} at the end"))?;
            let mut s = inner.trim_start();
            while !s.is_empty() {
                let end = s
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(s.len());
                let label = &s[..end];
                if !is_label_name(label) {
                    return Err(format!("'{t}': expected a label name at '{s}'"));
                }
                s = s[end..].trim_start();
                let (op, after) = ["=~", "!~", "!=", "="]
                    .iter()
                    .find_map(|op| s.strip_prefix(op).map(|r| (*op, r)))
                    .ok_or_else(|| format!("'{t}': after {label} put =, !=, =~ or !~"))?;
                let (value, after) = quoted(after.trim_start())
                    .ok_or_else(|| format!("'{t}': the value of {label} goes in double quotes, e.g. {label}=\"x\""))?;
                let regex = |v: &str| {
                    regex::Regex::new(&format!("^(?:{v})$"))
                        .map_err(|e| format!("'{t}': {label}{op}\"{v}\": not a valid regular expression: {e}"))
                };
                let m = match op {
                    "=" => Match::Equal(value),
                    "!=" => Match::NotEqual(value),
                    "=~" => Match::Regex(regex(&value)?),
                    _ => Match::NotRegex(regex(&value)?),
                };
                matchers.push((label.to_string(), m));
                s = after.trim_start();
                match s.strip_prefix(',') {
                    Some(r) => s = r.trim_start(),
                    None if s.is_empty() => {}
                    None => return Err(format!("'{t}': separate label matchers with commas")),
                }
            }
        }
        Ok(Selector {
            name: name.to_string(),
            matchers,
        })
    }

    /// Whether a series of `name` with `labels` is selected.
    pub fn selects(&self, name: &str, labels: &[(String, String)]) -> bool {
        name == self.name
            && self.matchers.iter().all(|(label, m)| {
                let value = labels.iter().find(|(l, _)| l == label).map_or("", |(_, v)| v.as_str());
                m.matches(value)
            })
    }
}

/// A double-quoted string with `\\`, `\"` and `\n` escapes, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (label, m)) in self.matchers.iter().enumerate() {
            let (op, v) = match m {
                Match::Equal(v) => ("=", v.as_str()),
                Match::NotEqual(v) => ("!=", v.as_str()),
                Match::Regex(r) => ("=~", r.as_str().trim_start_matches("^(?:").trim_end_matches(")$")),
                Match::NotRegex(r) => ("!~", r.as_str().trim_start_matches("^(?:").trim_end_matches(")$")),
            };
            let sep = if i > 0 { "," } else { "" };
            write!(f, "{sep}{label}{op}{v:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names_and_matchers_select_as_promql_does() {
        let s = Selector::parse(r#"retrieval_errors_total{kind="openai_error", route=~"/api/.*",code!~"2..",x!="y"}"#)
            .unwrap();
        assert_eq!(s.name, "retrieval_errors_total");
        assert_eq!(s.matchers.len(), 4);
        let l = labels(&[("kind", "openai_error"), ("route", "/api/ask"), ("code", "500")]);
        assert!(s.selects("retrieval_errors_total", &l));
        assert!(!s.selects("other", &l));
        // Anchored: "/v2/api/ask" does not match "/api/.*".
        let l2 = labels(&[("kind", "openai_error"), ("route", "/v2/api/ask"), ("code", "500")]);
        assert!(!s.selects("retrieval_errors_total", &l2));
        // A missing label is the empty string: code!~"2.." holds, x!="y" holds.
        let l3 = labels(&[("kind", "openai_error"), ("route", "/api/x")]);
        assert!(s.selects("retrieval_errors_total", &l3));
        assert_eq!(Selector::parse("up").unwrap().matchers.len(), 0);
        assert!(Selector::parse("ns:job:rate5m{}").unwrap().matchers.is_empty());
    }

    #[test]
    fn escapes_and_the_written_form() {
        let s = Selector::parse(r#"m{path="a\"b\\c\nd"}"#).unwrap();
        assert_eq!(s.matchers[0].1, Match::Equal("a\"b\\c\nd".into()));
        let round = Selector::parse(&s.to_string()).unwrap();
        assert_eq!(round, s);
    }

    #[test]
    fn mistakes_say_what_would_be_valid() {
        for (bad, expect) in [
            ("9lives", "not a metric name"),
            ("m{kind}", "put =, !=, =~ or !~"),
            ("m{kind=x}", "double quotes"),
            ("m{kind=\"x\" code=\"2\"}", "commas"),
            ("m{a=~\"(\"}", "not a valid regular expression"),
            ("m{a=\"x\"", "one {...} at the end"),
            ("m{a=\"x}", "double quotes"),
        ] {
            let e = Selector::parse(bad).unwrap_err();
            assert!(e.contains(expect), "{bad}: {e}");
        }
    }
}
