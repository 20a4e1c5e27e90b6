//! Request templates: paths, header values and bodies with placeholders,
//! compiled once and rendered per request.
//!
//! | placeholder | value |
//! | --- | --- |
//! | `{{pick VAR}}` | a random item of the list `VAR` in `[vars]` |
//! | `{{line FILE}}` | the next line of FILE, cycling; every request takes the next one |
//! | `{{random_int A B}}` | a random integer from A to B, both included |
//! | `{{uuid}}` | a random UUID (version 4) |
//! | `{{env NAME}}` | the environment variable NAME, read once at start |
//! | `{{VAR}}` | in a journey's step, what an earlier step captured as VAR |

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{Rng, RngExt};

/// How a rendered value is written into the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As it is (text bodies, header values).
    None,
    /// Inside a JSON string: quotes, backslashes and control characters escaped.
    JsonString,
    /// In a URL path or query: everything but unreserved characters and `/` percent-encoded.
    Url,
}

/// Lines of a query file, handed out in turn across all requests.
#[derive(Debug)]
pub struct LineSource {
    lines: Vec<String>,
    next: AtomicUsize,
}

impl LineSource {
    fn next(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.lines[i % self.lines.len()]
    }
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Pick(Arc<[String]>),
    Line(Arc<LineSource>),
    RandomInt(i64, i64),
    Uuid,
    /// A value fixed at start (`{{env NAME}}`), escaped like the others.
    Value(String),
    /// What a journey's user captured, by slot.
    Var(usize),
}

/// The template helpers: a capture may not take one of these names.
pub const HELPERS: [&str; 5] = ["pick", "line", "random_int", "uuid", "env"];

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    escape: Escape,
}

/// Why a template was rejected. The caller adds which flag or key held it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable '{name}' in {{{{pick {name}}}}}; {}", known_vars(.known))]
    UnknownVar { name: String, known: Vec<String> },
    #[error(
        "{{{{{0}}}}} is not a placeholder; use {{{{pick VAR}}}}, {{{{line FILE}}}}, {{{{random_int A B}}}}, {{{{uuid}}}} or {{{{env NAME}}}} (and in a journey's steps, {{{{NAME}}}} for what an earlier step captured)"
    )]
    Unknown(String),
    #[error("{{{{{0}}}}}: expected {{{{random_int A B}}}} with integers A <= B, e.g. {{{{random_int 1 100}}}}")]
    BadRandomInt(String),
    #[error("'{{{{' without a closing '}}}}'")]
    Unclosed,
    /// `err` starts with the file's path (and line, where one is at fault).
    #[error("{{{{line {file}}}}}: {err}")]
    LineFile { file: String, err: String },
    #[error("{{{{line {0}}}}}: the query file has no non-empty lines")]
    EmptyLineFile(String),
    #[error("variable '{0}' in [vars] is an empty list")]
    EmptyVar(String),
    #[error("{{{{env {0}}}}}: {0} is not set in the environment; set it or remove the placeholder")]
    UnsetEnv(String),
    #[error("{{{{{name}}}}}: no earlier step captures '{name}' and [vars] does not define it; {}", in_scope(.captured, .vars))]
    Uncaptured {
        name: String,
        captured: Vec<String>,
        vars: Vec<String>,
    },
}

fn in_scope(captured: &[String], vars: &[String]) -> String {
    let mut known: Vec<String> = captured.to_vec();
    known.extend(vars.iter().cloned());
    if known.is_empty() {
        "nothing is captured before this step (add capture.NAME to an earlier step)".into()
    } else {
        format!("known here: {}", known.join(", "))
    }
}

fn known_vars(known: &[String]) -> String {
    if known.is_empty() {
        "no variables are defined (add them under [vars] in a profile)".into()
    } else {
        format!("defined in [vars]: {}", known.join(", "))
    }
}

/// What templates can refer to: `[vars]` lists, and query files read once
/// (relative to `base_dir`, the profile's folder) and shared by every
/// template that names them.
#[derive(Debug, Default)]
pub struct TemplateContext {
    vars: BTreeMap<String, Arc<[String]>>,
    base_dir: PathBuf,
    files: HashMap<PathBuf, Arc<LineSource>>,
    /// The captures a journey's step may use, by slot: those of the steps
    /// before it.
    captured: Vec<String>,
    /// Compiling a journey's steps: an unknown `{{NAME}}` is an uncaptured name.
    journey: bool,
}

impl TemplateContext {
    pub fn new(vars: BTreeMap<String, Vec<String>>, base_dir: &Path) -> TemplateContext {
        TemplateContext {
            vars: vars.into_iter().map(|(k, v)| (k, v.into())).collect(),
            base_dir: base_dir.to_path_buf(),
            files: HashMap::new(),
            captured: Vec::new(),
            journey: false,
        }
    }

    /// Sets the captures in scope for the next templates (slot order).
    pub fn set_captured(&mut self, names: &[String]) {
        self.captured = names.to_vec();
        self.journey = true;
    }

    /// Whether `[vars]` defines `name`.
    pub fn has_var(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Compiles `src`, checking every placeholder now so that a bad one is
    /// an error before the run rather than a failure per request.
    pub fn compile(&mut self, src: &str, escape: Escape) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
            parts.push(self.placeholder(after[..close].trim())?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts, escape })
    }

    fn placeholder(&mut self, inner: &str) -> Result<Part, TemplateError> {
        let words: Vec<&str> = inner.split_whitespace().collect();
        match words.as_slice() {
            ["pick", name] => match self.vars.get(*name) {
                Some(list) if list.is_empty() => Err(TemplateError::EmptyVar(name.to_string())),
                Some(list) => Ok(Part::Pick(list.clone())),
                None => Err(TemplateError::UnknownVar {
                    name: name.to_string(),
                    known: self.vars.keys().cloned().collect(),
                }),
            },
            ["line", _, ..] => {
                let file = inner["line".len()..].trim();
                self.line_source(file).map(Part::Line)
            }
            ["random_int", a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) if a <= b => Ok(Part::RandomInt(a, b)),
                _ => Err(TemplateError::BadRandomInt(inner.to_string())),
            },
            ["random_int", ..] => Err(TemplateError::BadRandomInt(inner.to_string())),
            ["uuid"] => Ok(Part::Uuid),
            ["env", name] => std::env::var(name)
                .map(Part::Value)
                .map_err(|_| TemplateError::UnsetEnv(name.to_string())),
            [name] if !HELPERS.contains(name) && is_name(name) => {
                if let Some(slot) = self.captured.iter().position(|c| c == name) {
                    return Ok(Part::Var(slot));
                }
                match self.vars.get(*name) {
                    Some(list) if list.is_empty() => Err(TemplateError::EmptyVar(name.to_string())),
                    Some(list) => Ok(Part::Pick(list.clone())),
                    None if !self.journey => Err(TemplateError::Unknown(inner.to_string())),
                    None => Err(TemplateError::Uncaptured {
                        name: name.to_string(),
                        captured: self.captured.clone(),
                        vars: self.vars.keys().cloned().collect(),
                    }),
                }
            }
            _ => Err(TemplateError::Unknown(inner.to_string())),
        }
    }

    fn line_source(&mut self, file: &str) -> Result<Arc<LineSource>, TemplateError> {
        let path = self.base_dir.join(file);
        if let Some(src) = self.files.get(&path) {
            return Ok(src.clone());
        }
        let lines = read_lines(&path).map_err(|err| TemplateError::LineFile {
            file: file.to_string(),
            err,
        })?;
        if lines.is_empty() {
            return Err(TemplateError::EmptyLineFile(path.display().to_string()));
        }
        let src = Arc::new(LineSource {
            lines,
            next: AtomicUsize::new(0),
        });
        self.files.insert(path, src.clone());
        Ok(src)
    }
}

/// The non-blank lines of a query file, trailing spaces trimmed, within
/// the bounds of [`crate::files`]: the file's size, the number of lines
/// and the length of each.
/// A capture or variable name: a letter or `_`, then letters, digits, `_`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    use crate::files::{LINE_MAX_BYTES, LINES_LIMIT, LINES_MAX_COUNT, read_text_bounded, show_limit};
    let text = read_text_bounded(path, LINES_LIMIT, "query file")?;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.len() > LINE_MAX_BYTES {
            return Err(format!(
                "{}:{}: the line is longer than {}, the most loadprof sends from a query file",
                path.display(),
                i + 1,
                show_limit(LINE_MAX_BYTES as u64)
            ));
        }
        if line.trim().is_empty() {
            continue;
        }
        if lines.len() == LINES_MAX_COUNT {
            return Err(format!(
                "{}:{}: more than {LINES_MAX_COUNT} lines, the most loadprof reads of a query file",
                path.display(),
                i + 1
            ));
        }
        lines.push(line.trim_end().to_string());
    }
    Ok(lines)
}

impl Template {
    /// The text, if the template has no placeholders.
    pub fn as_static(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// The text with every placeholder replaced by `0`, to check what
    /// surrounds them.
    pub fn skeleton(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                _ => "0",
            })
            .collect()
    }

    /// Appends one rendering to `out`.
    /// Whether rendering reads a journey user's captures.
    pub fn uses_captures(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(_)))
    }

    /// Renders into `out`; `vars` are the user's captures by slot (an
    /// unset one renders empty).
    pub fn render(&self, rng: &mut impl Rng, vars: &[String], out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Value(v) => self.push(out, v),
                Part::Var(slot) => self.push(out, vars.get(*slot).map_or("", String::as_str)),
                Part::Text(t) => out.push_str(t),
                Part::Pick(list) => self.push(out, &list[rng.random_range(0..list.len())]),
                Part::Line(src) => self.push(out, src.next()),
                Part::RandomInt(a, b) => out.push_str(&rng.random_range(*a..=*b).to_string()),
                Part::Uuid => {
                    let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                    out.push_str(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()));
                }
            }
        }
    }

    fn push(&self, out: &mut String, value: &str) {
        match self.escape {
            Escape::None => out.push_str(value),
            Escape::JsonString => {
                let quoted = serde_json::to_string(value).expect("a string serialises");
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            Escape::Url => {
                for b in value.bytes() {
                    if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                        out.push(b as char);
                    } else {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn ctx() -> TemplateContext {
        let mut vars = BTreeMap::new();
        vars.insert(
            "students".to_string(),
            vec!["alice".to_string(), "bob \"b\"".to_string()],
        );
        TemplateContext::new(vars, Path::new("."))
    }

    fn render(t: &Template, rng: &mut SmallRng) -> String {
        let mut s = String::new();
        t.render(rng, &[], &mut s);
        s
    }

    #[test]
    fn static_text_has_no_parts_to_render() {
        let t = ctx().compile("/health?x=1", Escape::Url).unwrap();
        assert_eq!(t.as_static(), Some("/health?x=1"));
    }

    #[test]
    fn pick_escapes_for_json_strings() {
        let t = ctx()
            .compile(r#"{"u":"{{ pick students }}"}"#, Escape::JsonString)
            .unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let seen: Vec<String> = (0..50).map(|_| render(&t, &mut rng)).collect();
        assert!(seen.contains(&r#"{"u":"alice"}"#.to_string()));
        assert!(seen.contains(&r#"{"u":"bob \"b\""}"#.to_string()));
        for s in &seen {
            serde_json::from_str::<serde_json::Value>(s).unwrap();
        }
    }

    #[test]
    fn url_escape_percent_encodes_spaces_and_quotes() {
        let t = ctx().compile("/s?q={{pick students}}", Escape::Url).unwrap();
        let mut rng = SmallRng::seed_from_u64(3);
        let seen: Vec<String> = (0..50).map(|_| render(&t, &mut rng)).collect();
        assert!(seen.contains(&"/s?q=bob%20%22b%22".to_string()), "{seen:?}");
    }

    #[test]
    fn line_cycles_through_the_file_skipping_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("q.txt"), "one\n\ntwo\r\nthree\n").unwrap();
        let mut c = TemplateContext::new(BTreeMap::new(), dir.path());
        let t = c.compile("{{line q.txt}}", Escape::None).unwrap();
        let t2 = c.compile("x{{line q.txt}}", Escape::None).unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let got: Vec<String> = (0..4).map(|_| render(&t, &mut rng)).collect();
        assert_eq!(got, ["one", "two", "three", "one"]);
        // The same file is one cycle for every template that names it.
        assert_eq!(render(&t2, &mut rng), "xtwo");
    }

    #[test]
    fn random_int_stays_in_range_and_uuid_is_v4() {
        let mut c = ctx();
        let t = c.compile("{{random_int -2 2}}", Escape::None).unwrap();
        let u = c.compile("{{uuid}}", Escape::None).unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(render(&t, &mut rng).parse::<i64>().unwrap());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [-2, -1, 0, 1, 2]);
        let id = uuid::Uuid::parse_str(&render(&u, &mut rng)).unwrap();
        assert_eq!(id.get_version_num(), 4);
    }

    #[test]
    fn errors_name_what_would_be_valid() {
        let e = ctx().compile("{{pick teachers}}", Escape::None).unwrap_err();
        assert!(
            e.to_string().contains("'teachers'") && e.to_string().contains("students"),
            "{e}"
        );
        let e = TemplateContext::default()
            .compile("{{pick x}}", Escape::None)
            .unwrap_err();
        assert!(e.to_string().contains("no variables are defined"), "{e}");
        let e = ctx().compile("{{now}}", Escape::None).unwrap_err();
        assert!(e.to_string().contains("{{uuid}}"), "{e}");
        assert!(matches!(
            ctx().compile("{{random_int 5 1}}", Escape::None),
            Err(TemplateError::BadRandomInt(_))
        ));
        assert_eq!(
            ctx().compile("a {{uuid", Escape::None).unwrap_err(),
            TemplateError::Unclosed
        );
        let e = ctx().compile("{{line /nonexistent/q.txt}}", Escape::None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/q.txt"), "{e}");
    }

    #[test]
    fn query_files_are_bounded_and_must_be_regular_files() {
        let e = ctx().compile("{{line /dev/zero}}", Escape::None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "{{line /dev/zero}}: /dev/zero: is a character device; the query file must be a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let long = format!("short\n\n{}\n", "x".repeat(crate::files::LINE_MAX_BYTES + 1));
        std::fs::write(dir.path().join("long.txt"), long).unwrap();
        let mut c = TemplateContext::new(BTreeMap::new(), dir.path());
        let e = c.compile("{{line long.txt}}", Escape::None).unwrap_err().to_string();
        assert!(e.contains("long.txt:3: the line is longer than 1 MiB"), "{e}");
        let many = "q\n".repeat(crate::files::LINES_MAX_COUNT + 1);
        std::fs::write(dir.path().join("many.txt"), many).unwrap();
        let e = c.compile("{{line many.txt}}", Escape::None).unwrap_err().to_string();
        assert!(e.contains("many.txt:1000001: more than 1000000 lines"), "{e}");
        std::fs::write(dir.path().join("bom.txt"), "\u{feff}first\nsecond\n").unwrap();
        let t = c.compile("{{line bom.txt}}", Escape::None).unwrap();
        assert_eq!(render(&t, &mut SmallRng::seed_from_u64(1)), "first");
    }
}
