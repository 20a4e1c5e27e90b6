//! Quality checks on model answers (pure): the built-in checks, a user's
//! checks file (`--checks FILE`, JSON Lines), and judging one answer against
//! one check. Sending the prompts is the bench's job; nothing here does I/O.
//!
//! Models answer in prose, Markdown and fences whatever the prompt says, so
//! every judge looks for the answer inside the chatter rather than demanding
//! the bare value.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// One prompt and what its answer must show.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub prompt: String,
    pub expect: Expect,
}

/// What an answer must show to pass.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The regex matches somewhere in the answer.
    Regex(Regex),
    /// The answer's last number (digits, or a word up to "twenty") is this
    /// one; or this number appears and every other number restates the prompt.
    Number(f64),
    /// Exactly this many sentences.
    Sentences(usize),
    /// A JSON object in the answer has these keys (`exact`: and no others),
    /// these keys have these JSON types, and these keys these values.
    JsonKeys {
        required: Vec<String>,
        exact: bool,
        kinds: Vec<(String, JsonKind)>,
        equals: Vec<(String, Value)>,
    },
}

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    String,
    Number,
    Bool,
    Array,
    Object,
    Null,
}

impl JsonKind {
    const ALL: [JsonKind; 6] = [
        JsonKind::String,
        JsonKind::Number,
        JsonKind::Bool,
        JsonKind::Array,
        JsonKind::Object,
        JsonKind::Null,
    ];

    pub fn of(value: &Value) -> JsonKind {
        match value {
            Value::String(_) => JsonKind::String,
            Value::Number(_) => JsonKind::Number,
            Value::Bool(_) => JsonKind::Bool,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
            Value::Null => JsonKind::Null,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JsonKind::String => "string",
            JsonKind::Number => "number",
            JsonKind::Bool => "bool",
            JsonKind::Array => "array",
            JsonKind::Object => "object",
            JsonKind::Null => "null",
        }
    }

    fn article(self) -> &'static str {
        if self == JsonKind::Array || self == JsonKind::Object {
            "an"
        } else {
            "a"
        }
    }
}

/// How one answer fared on one check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// Why it failed, or empty.
    pub detail: String,
}

/// The checks run when the user gives none: arithmetic, following a format
/// in prose, and producing an exact JSON object.
pub fn builtin() -> Vec<Check> {
    vec![
        Check {
            name: "arithmetic".into(),
            prompt: "You have 3 apples. You buy 2 more, then eat 1. How many apples do you have now? \
                     Answer with the number."
                .into(),
            expect: Expect::Number(4.0),
        },
        Check {
            name: "release_note".into(),
            prompt: "Write a friendly release note for version 1.2 of a command-line tool that now starts \
                     twice as fast. Use exactly two sentences and reply with the note only."
                .into(),
            expect: Expect::Sentences(2),
        },
        Check {
            name: "json_object".into(),
            prompt: "Reply with a JSON object only, with exactly these keys: \"title\" (a short string naming \
                     the change), \"risks\" (an array of strings) and \"owner\" (the string \"Platform\"). \
                     The change: moving the billing service to a new database."
                .into(),
            expect: Expect::JsonKeys {
                required: vec!["title".into(), "risks".into(), "owner".into()],
                exact: true,
                kinds: vec![("title".into(), JsonKind::String), ("risks".into(), JsonKind::Array)],
                equals: vec![("owner".into(), Value::from("Platform"))],
            },
        },
    ]
}

const EXAMPLE: &str = r#"{"name": "capital", "prompt": "What is the capital of France?", "expect": "(?i)\\bparis\\b"}"#;
const KEYS: [&str; 9] = [
    "name",
    "prompt",
    "expect",
    "json_keys",
    "exact",
    "types",
    "equals",
    "number",
    "sentences",
];
const EXPECTATIONS: &str = r#""expect" (a regex), "json_keys", "number" or "sentences""#;

/// Reads a checks file: one JSON object per line, blank lines and lines
/// starting with `#` skipped. `source` names the file in errors.
pub fn parse_checks(text: &str, source: &str) -> Result<Vec<Check>, String> {
    let mut checks: Vec<(usize, Check)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| format!("{source}:{}: {msg}", i + 1);
        let check = parse_line(line).map_err(at)?;
        if let Some((first, _)) = checks.iter().find(|(_, c)| c.name == check.name) {
            let msg = format!(
                "a check named \"{}\" is already on line {first}; give each its own name",
                check.name
            );
            return Err(at(msg));
        }
        checks.push((i + 1, check));
    }
    if checks.is_empty() {
        return Err(format!(
            "{source}: no checks; give one JSON object per line, e.g. {EXAMPLE}"
        ));
    }
    Ok(checks.into_iter().map(|(_, c)| c).collect())
}

fn parse_line(line: &str) -> Result<Check, String> {
    let not_object = |why: String| format!("{why}; give one JSON object per line, e.g. {EXAMPLE}");
    let value: Value = serde_json::from_str(line).map_err(|e| not_object(format!("not valid JSON ({e})")))?;
    let Value::Object(obj) = value else {
        return Err(not_object("not a JSON object".into()));
    };
    if let Some(key) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key \"{key}\"; valid keys: {}", KEYS.join(", ")));
    }
    let text = |key: &str| match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("\"{key}\" is empty")),
        Some(other) => Err(format!("\"{key}\" must be a string, not {}", describe(other))),
        None => Err(format!("\"{key}\" is missing; e.g. {EXAMPLE}")),
    };
    let name = text("name")?;
    let prompt = text("prompt")?;

    let given: Vec<&str> = ["expect", "json_keys", "number", "sentences"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let kind = match given.as_slice() {
        [one] => *one,
        [] => return Err(format!("no expectation; give {EXPECTATIONS}")),
        many => {
            let named: Vec<String> = many.iter().map(|k| format!("\"{k}\"")).collect();
            return Err(format!(
                "{} together; give only one of {EXPECTATIONS}",
                named.join(" and ")
            ));
        }
    };
    if kind != "json_keys"
        && let Some(key) = ["exact", "types", "equals"].into_iter().find(|k| obj.contains_key(*k))
    {
        return Err(format!("\"{key}\" only goes with \"json_keys\""));
    }
    let expect = match kind {
        "expect" => match &obj["expect"] {
            Value::String(re) => Expect::Regex(Regex::new(re).map_err(|e| {
                format!(
                    "\"expect\" is not a valid regex ({}); give a regex or \"json_keys\"",
                    regex_error(&e)
                )
            })?),
            other => return Err(format!("\"expect\" must be a regex string, not {}", describe(other))),
        },
        "number" => match obj["number"].as_f64() {
            Some(n) => Expect::Number(n),
            None => {
                return Err(format!(
                    "\"number\" must be a number (e.g. 4), not {}",
                    describe(&obj["number"])
                ));
            }
        },
        "sentences" => match obj["sentences"].as_u64() {
            Some(n) if n >= 1 => Expect::Sentences(n as usize),
            _ => return Err("\"sentences\" must be a whole number of at least 1".into()),
        },
        _ => json_keys(&obj)?,
    };
    Ok(Check { name, prompt, expect })
}

fn json_keys(obj: &Map<String, Value>) -> Result<Expect, String> {
    let wrong = || "\"json_keys\" must be an array of key names, e.g. [\"title\", \"owner\"]".to_string();
    let required = match &obj["json_keys"] {
        Value::Array(keys) => keys
            .iter()
            .map(|k| k.as_str().map(String::from).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(wrong()),
    };
    let exact = match obj.get("exact") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("\"exact\" must be true or false, not {}", describe(other))),
    };
    let table = |key: &str| match obj.get(key) {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(format!(
            "\"{key}\" must be an object of key → value, not {}",
            describe(other)
        )),
    };
    let equals: Vec<(String, Value)> = table("equals")?.into_iter().collect();
    let kinds = table("types")?
        .into_iter()
        .map(|(key, kind)| {
            let found = JsonKind::ALL.into_iter().find(|k| kind.as_str() == Some(k.name()));
            found.map(|k| (key.clone(), k)).ok_or_else(|| {
                let names: Vec<&str> = JsonKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "\"types\".{key} is {kind}, not a JSON type; give one of {}",
                    names.join(", ")
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Expect::JsonKeys {
        required,
        exact,
        kinds,
        equals,
    })
}

/// The one line of a regex error that says what is wrong.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.trim());
    line.to_string()
}

fn describe(value: &Value) -> String {
    let kind = JsonKind::of(value);
    format!("{} {}", kind.article(), kind.name())
}

/// Judges one answer.
pub fn judge(check: &Check, answer: &str) -> CheckResult {
    let answer = strip_reasoning(answer);
    let outcome = match &check.expect {
        Expect::Regex(re) if re.is_match(answer) => Ok(()),
        Expect::Regex(re) => Err(format!("no match for /{re}/ in \"{}\"", snippet(answer))),
        _ if answer.trim().is_empty() => Err("empty answer".into()),
        Expect::Number(want) => judge_number(*want, &check.prompt, answer),
        Expect::Sentences(want) => match sentences(answer) {
            n if n == *want => Ok(()),
            n => Err(format!(
                "{n} sentence{}, expected {want}",
                if n == 1 { "" } else { "s" }
            )),
        },
        Expect::JsonKeys {
            required,
            exact,
            kinds,
            equals,
        } => find_object(answer).and_then(|obj| judge_object(&obj, required, *exact, kinds, equals)),
    };
    CheckResult {
        name: check.name.clone(),
        passed: outcome.is_ok(),
        detail: outcome.err().unwrap_or_default(),
    }
}

/// Checks passed and checks run.
pub fn score(results: &[CheckResult]) -> (u32, u32) {
    let passed = results.iter().filter(|r| r.passed).count();
    (passed as u32, results.len() as u32)
}

/// Reasoning models (deepseek-r1, qwen3) may lead with `<think>…</think>`;
/// the answer is what follows.
fn strip_reasoning(answer: &str) -> &str {
    let trimmed = answer.trim_start();
    match (trimmed.starts_with("<think>"), trimmed.find("</think>")) {
        (true, Some(end)) => &trimmed[end + "</think>".len()..],
        _ => answer,
    }
}

/// The start of an answer on one line, for a failure's detail.
fn snippet(answer: &str) -> String {
    let flat = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", flat[..cut].trim_end()),
        None => flat,
    }
}

const ABBREVIATIONS: [&str; 8] = ["etc", "vs", "approx", "incl", "dr", "mr", "mrs", "ms"];

const WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    let words = WORDS.join("|");
    Regex::new(&format!(
        r"(?i)\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\b(?:{words})\b"
    ))
    .expect("a valid regex")
});

/// The numbers in a text, in order: digits (`4`, `4.0`, `1,200`, `-3`) and
/// the words zero to twenty. Digits glued to letters (`v1`, `llama3`,
/// `4th`) and version fragments (`1.2.3`) are names, not numbers.
fn numbers(text: &str) -> Vec<f64> {
    let mut found = Vec::new();
    for m in NUMBER.find_iter(text) {
        let s = m.as_str();
        if let Some(i) = WORDS.iter().position(|w| w.eq_ignore_ascii_case(s)) {
            found.push(i as f64);
            continue;
        }
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let version = after == Some('.') && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit());
        if before.is_some_and(|c| c.is_alphabetic() || c == '.') || after.is_some_and(char::is_alphabetic) || version {
            continue;
        }
        let Ok(value) = s.replace(',', "").parse::<f64>() else {
            continue;
        };
        // A minus sign counts when it starts the number, not between two
        // numbers ("5-1").
        let mut rest = text[..m.start()].chars().rev();
        let negative = matches!(rest.next(), Some('-' | '−')) && !rest.next().is_some_and(char::is_alphanumeric);
        found.push(if negative { -value } else { value });
    }
    found
}

fn judge_number(want: f64, prompt: &str, answer: &str) -> Result<(), String> {
    let same = |v: f64| (v - want).abs() < 1e-9;
    let got = numbers(answer);
    let Some(&last) = got.last() else {
        return Err(format!("no number in \"{}\"", snippet(answer)));
    };
    if same(last) {
        return Ok(());
    }
    // "4 (3 + 2 - 1)": the answer first, then the question's own numbers.
    let asked = numbers(prompt);
    if got.iter().any(|&v| same(v)) && got.iter().all(|&v| same(v) || asked.contains(&v)) {
        return Ok(());
    }
    Err(format!("last number is {last}, expected {want}"))
}

/// Sentences in a text: runs of `.`, `!`, `?` or `…` followed by a space or
/// the end (closing quotes and Markdown emphasis allowed between) end one;
/// a dot inside `v1.2` or after `e.g.` does not. A last sentence without a
/// stop still counts, and a "Here is the note:" line before the text does
/// not. Pieces without a letter or digit (an emoji after the last stop) are
/// not sentences.
fn sentences(text: &str) -> usize {
    let text = text.trim();
    let text = match text.split_once('\n') {
        Some((first, rest)) if first.trim_end().ends_with(':') && !rest.trim().is_empty() => rest.trim(),
        _ => text,
    };
    let is_stop = |c: char| matches!(c, '.' | '!' | '?' | '…');
    let is_closer = |c: char| matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '*' | '_');
    let has_word = |piece: &[char]| piece.iter().any(|c| c.is_alphanumeric());
    let chars: Vec<char> = text.chars().collect();
    let (mut count, mut start, mut i) = (0, 0, 0);
    while i < chars.len() {
        if !is_stop(chars[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_stop(chars[j]) {
            j += 1;
        }
        let mut k = j;
        while k < chars.len() && is_closer(chars[k]) {
            k += 1;
        }
        let at_break = k == chars.len() || chars[k].is_whitespace();
        let abbreviated = chars[i] == '.' && j == i + 1 && k < chars.len() && abbreviation(&chars[start..i]);
        if at_break && !abbreviated {
            if has_word(&chars[start..i]) {
                count += 1;
            }
            start = k;
            i = k;
        } else {
            i = j;
        }
    }
    if has_word(&chars[start..]) {
        count += 1;
    }
    count
}

/// Whether the word before a dot is an abbreviation (`e.g`, `U.S`, `etc`).
fn abbreviation(before: &[char]) -> bool {
    let from = before.iter().rposition(|c| c.is_whitespace()).map_or(0, |p| p + 1);
    let word: String = before[from..].iter().collect();
    let word = word.trim_start_matches(['(', '"', '\'', '“']).to_lowercase();
    let dotted = |w: &str| {
        w.split('.')
            .all(|part| (1..=2).contains(&part.len()) && part.chars().all(char::is_alphabetic))
    };
    ABBREVIATIONS.contains(&word.as_str()) || (word.contains('.') && dotted(&word))
}

/// The first JSON object in an answer: the whole answer, or the first
/// balanced `{…}` in it that parses (inside a ```json fence or prose).
fn find_object(answer: &str) -> Result<Map<String, Value>, String> {
    if let Ok(Value::Object(obj)) = serde_json::from_str(answer.trim()) {
        return Ok(obj);
    }
    let mut first_error = None;
    let mut from = 0;
    while let Some(offset) = answer[from..].find('{') {
        let start = from + offset;
        let Some(len) = balanced(&answer[start..]) else {
            first_error.get_or_insert_with(|| "the JSON object is never closed".to_string());
            from = start + 1;
            continue;
        };
        match serde_json::from_str::<Value>(&answer[start..start + len]) {
            Ok(Value::Object(obj)) => return Ok(obj),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert_with(|| format!("the JSON object does not parse ({e})"));
            }
        }
        // Skip the whole candidate: an object nested in a broken one is not the answer.
        from = start + len;
    }
    Err(first_error.unwrap_or_else(|| format!("no JSON object in \"{}\"", snippet(answer))))
}

/// The length of the `{…}` that `s` starts with, minding strings.
fn balanced(s: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn judge_object(
    obj: &Map<String, Value>,
    required: &[String],
    exact: bool,
    kinds: &[(String, JsonKind)],
    equals: &[(String, Value)],
) -> Result<(), String> {
    let mut problems = Vec::new();
    let named = required
        .iter()
        .chain(kinds.iter().map(|(k, _)| k))
        .chain(equals.iter().map(|(k, _)| k));
    let mut allowed: Vec<&String> = Vec::new();
    for key in named {
        if !allowed.contains(&key) {
            allowed.push(key);
        }
    }
    let missing: Vec<String> = allowed
        .iter()
        .filter(|k| !obj.contains_key(k.as_str()))
        .map(|k| format!("\"{k}\""))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "missing {} {}",
            if missing.len() == 1 { "key" } else { "keys" },
            missing.join(", ")
        ));
    }
    if exact {
        let extra: Vec<String> = obj
            .keys()
            .filter(|k| !allowed.contains(k))
            .map(|k| format!("\"{k}\""))
            .collect();
        if !extra.is_empty() {
            let only: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
            let noun = if extra.len() == 1 { "key" } else { "keys" };
            problems.push(format!("extra {noun} {} (only {})", extra.join(", "), only.join(", ")));
        }
    }
    for (key, kind) in kinds {
        if let Some(value) = obj.get(key)
            && JsonKind::of(value) != *kind
        {
            problems.push(format!(
                "\"{key}\" is {}, expected {} {}",
                describe(value),
                kind.article(),
                kind.name()
            ));
        }
    }
    for (key, want) in equals {
        if let Some(value) = obj.get(key)
            && value != want
        {
            problems.push(format!("\"{key}\" is {value}, expected {want}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_check(name: &str) -> Check {
        builtin().into_iter().find(|c| c.name == name).unwrap()
    }

    fn passes(name: &str, answer: &str) -> bool {
        judge(&builtin_check(name), answer).passed
    }

    fn detail(name: &str, answer: &str) -> String {
        judge(&builtin_check(name), answer).detail
    }

    #[test]
    fn arithmetic_accepts_four_in_digits_words_and_chatty_answers() {
        for good in [
            "4",
            "4\n",
            "**4**",
            "Four.",
            "You have four apples.",
            "You have 4 apples now.",
            "Start with 3 apples, buy 2 (that's 5), eat 1: 5 - 1 = 4. You have 4 apples.",
            "3 + 2 - 1 = 4",
            "4 apples (3 + 2 − 1).",
            "Answer: 4.0",
            "<think>3 plus 2 is 5, minus 1 is 4... or 14? No.</think>\n\n4",
        ] {
            assert!(passes("arithmetic", good), "{good:?}: {}", detail("arithmetic", good));
        }
    }

    #[test]
    fn arithmetic_rejects_fourteen_restatements_and_wrong_results() {
        for bad in [
            "14 apples",
            "You have 3 apples.",
            "5",
            "3 + 2 - 1 = 4? No wait, it's 5.",
            "4 or 5",
            "I can't know how many apples you have.",
            "",
        ] {
            assert!(!passes("arithmetic", bad), "{bad:?} passed");
        }
        assert_eq!(detail("arithmetic", "14 apples"), "last number is 14, expected 4");
        assert_eq!(detail("arithmetic", "I cannot say."), "no number in \"I cannot say.\"");
        assert_eq!(detail("arithmetic", "  "), "empty answer");
    }

    #[test]
    fn numbers_skip_names_and_versions_and_read_signs_and_thousands() {
        assert_eq!(numbers("llama3 v1.2 4th 1.2.3"), Vec::<f64>::new());
        assert_eq!(numbers("-3 and 5-1 and 1,200.5"), [-3.0, 5.0, 1.0, 1200.5]);
        assert_eq!(numbers("Twelve, then three."), [12.0, 3.0]);
    }

    #[test]
    fn release_note_accepts_two_sentences_in_their_usual_shapes() {
        for good in [
            "Version 1.2 is here! The tool now starts twice as fast.",
            "Version 1.2 is here! The tool now starts twice as fast.\n",
            "We shipped v1.2. It starts twice as fast, e.g. in CI jobs, so enjoy the extra coffee break! 🎉",
            "Here's a friendly release note:\n\n\"Say hello to v1.2! Startup is now twice as fast.\"",
            "**v1.2 is out!** Your tool now starts twice as fast — enjoy",
            "Big news: v1.2 starts twice as fast... Happy hacking!!",
        ] {
            assert!(
                passes("release_note", good),
                "{good:?}: {}",
                detail("release_note", good)
            );
        }
    }

    #[test]
    fn release_note_rejects_other_sentence_counts() {
        assert_eq!(
            detail("release_note", "Version 1.2 starts twice as fast."),
            "1 sentence, expected 2"
        );
        assert_eq!(
            detail(
                "release_note",
                "Version 1.2 is out. It starts twice as fast. Thanks to all contributors!"
            ),
            "3 sentences, expected 2"
        );
        assert_eq!(
            detail(
                "release_note",
                "Release notes:\n- Faster startup.\n- Version 1.2.\n- Bug fixes."
            ),
            "3 sentences, expected 2"
        );
        assert_eq!(detail("release_note", "\n\n"), "empty answer");
    }

    #[test]
    fn json_object_accepts_bare_fenced_and_prose_wrapped_objects() {
        let object =
            r#"{"title": "Move billing to the new database", "risks": ["downtime", "data loss"], "owner": "Platform"}"#;
        for good in [
            object.to_string(),
            format!("```json\n{object}\n```"),
            format!("Sure! Here is the JSON you asked for:\n\n```json\n{object}\n```\n\nAnything {{else}}?"),
            format!("Here it is {{as requested}}: {object}"),
            r#"Result: {"title": "Braces { in } strings \"ok\"", "risks": [], "owner": "Platform"} (done)"#.to_string(),
        ] {
            assert!(
                passes("json_object", &good),
                "{good:?}: {}",
                detail("json_object", &good)
            );
        }
    }

    #[test]
    fn json_object_rejects_extra_missing_and_wrong_values() {
        assert_eq!(
            detail(
                "json_object",
                r#"{"title": "x", "risks": [], "owner": "Platform", "eta": "Q3"}"#
            ),
            r#"extra key "eta" (only title, risks, owner)"#
        );
        assert_eq!(
            detail("json_object", r#"{"title": "x", "owner": "Platform"}"#),
            r#"missing key "risks""#
        );
        assert_eq!(
            detail(
                "json_object",
                r#"{"title": "x", "risks": "downtime", "owner": "platform"}"#
            ),
            r#""risks" is a string, expected an array; "owner" is "platform", expected "Platform""#
        );
        assert_eq!(
            detail(
                "json_object",
                "{\"title\": \"x\", \"risks\": [{\"a\": 1}], \"owner\": \"Platform\",}"
            ),
            "the JSON object does not parse (trailing comma at line 1 column 57)"
        );
        assert_eq!(
            detail("json_object", "title: x, risks: none"),
            "no JSON object in \"title: x, risks: none\""
        );
        assert_eq!(
            detail("json_object", "{\"title\": \"x\""),
            "the JSON object is never closed"
        );
    }

    #[test]
    fn regex_checks_match_anywhere_and_quote_the_answer_when_not() {
        let checks = parse_checks(
            r#"{"name": "capital", "prompt": "Capital of France?", "expect": "(?i)\\bparis\\b"}"#,
            "c.jsonl",
        )
        .unwrap();
        assert!(judge(&checks[0], "The capital is Paris.").passed);
        let r = judge(
            &checks[0],
            "It is Lyon, a city in the south-east of France known for its food and silk.",
        );
        assert!(!r.passed);
        assert_eq!(
            r.detail,
            "no match for /(?i)\\bparis\\b/ in \"It is Lyon, a city in the south-east of France known for its…\""
        );
    }

    #[test]
    fn parse_checks_reads_every_kind_and_skips_comments_and_blanks() {
        let text = "# my checks\n\n\
            {\"name\": \"capital\", \"prompt\": \"Capital of France?\", \"expect\": \"Paris\"}\n\
            {\"name\": \"ticket\", \"prompt\": \"JSON ticket\", \"json_keys\": [\"id\"], \"exact\": true, \
              \"types\": {\"id\": \"number\"}, \"equals\": {\"team\": \"ops\"}}\n\
            {\"name\": \"sum\", \"prompt\": \"2+2?\", \"number\": 4}\n\
            {\"name\": \"haiku\", \"prompt\": \"A haiku\", \"sentences\": 3}\n";
        let checks = parse_checks(text, "checks.jsonl").unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["capital", "ticket", "sum", "haiku"]);
        assert!(judge(&checks[1], r#"{"id": 7, "team": "ops"}"#).passed);
        assert_eq!(
            judge(&checks[1], r#"{"id": "7", "team": "ops"}"#).detail,
            r#""id" is a string, expected a number"#
        );
        assert!(judge(&checks[2], "2 + 2 = 4").passed);
        assert!(judge(&checks[3], "Old pond. A frog jumps in. The sound of water.").passed);
    }

    #[test]
    fn parse_checks_errors_name_the_line_and_what_would_be_valid() {
        let err = |text: &str| parse_checks(text, "checks.jsonl").unwrap_err();
        let ok = r#"{"name": "a", "prompt": "p", "expect": "x"}"#;
        assert_eq!(
            err(&format!(
                "{ok}\n\n{{\"name\": \"b\", \"prompt\": \"p\", \"expect\": \"(unclosed\"}}"
            )),
            "checks.jsonl:3: \"expect\" is not a valid regex (unclosed group); give a regex or \"json_keys\""
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p"}"#),
            r#"checks.jsonl:1: no expectation; give "expect" (a regex), "json_keys", "number" or "sentences""#
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p", "expect": "x", "number": 4}"#),
            "checks.jsonl:1: \"expect\" and \"number\" together; give only one of \
             \"expect\" (a regex), \"json_keys\", \"number\" or \"sentences\""
        );
        assert!(
            err(r#"{"name": "a", "prompt": "p", "expct": "x"}"#)
                .starts_with("checks.jsonl:1: unknown key \"expct\"; valid keys: name, prompt, expect")
        );
        assert!(err(r#"{"prompt": "p", "expect": "x"}"#).starts_with("checks.jsonl:1: \"name\" is missing; e.g. {"));
        assert_eq!(
            err(r#"{"name": 3, "prompt": "p", "expect": "x"}"#),
            "checks.jsonl:1: \"name\" must be a string, not a number"
        );
        assert!(err("capital: Paris").starts_with(
            "checks.jsonl:1: not valid JSON (expected value at line 1 column 1); give one JSON object per line"
        ));
        assert!(err("[1, 2]").starts_with("checks.jsonl:1: not a JSON object; give one JSON object per line"));
        assert_eq!(
            err(&format!("{ok}\n{ok}")),
            "checks.jsonl:2: a check named \"a\" is already on line 1; give each its own name"
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p", "expect": "x", "exact": true}"#),
            "checks.jsonl:1: \"exact\" only goes with \"json_keys\""
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p", "json_keys": "id"}"#),
            "checks.jsonl:1: \"json_keys\" must be an array of key names, e.g. [\"title\", \"owner\"]"
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p", "json_keys": [], "types": {"id": "int"}}"#),
            "checks.jsonl:1: \"types\".id is \"int\", not a JSON type; \
             give one of string, number, bool, array, object, null"
        );
        assert_eq!(
            err(r#"{"name": "a", "prompt": "p", "sentences": 0}"#),
            "checks.jsonl:1: \"sentences\" must be a whole number of at least 1"
        );
        assert!(err("# only a comment\n\n").starts_with("checks.jsonl: no checks; give one JSON object per line"));
    }

    #[test]
    fn score_counts_passed_and_run() {
        let results: Vec<CheckResult> = builtin()
            .iter()
            .zip([
                "4",
                "One sentence only.",
                r#"{"title": "t", "risks": [], "owner": "Platform"}"#,
            ])
            .map(|(c, a)| judge(c, a))
            .collect();
        assert_eq!(score(&results), (2, 3));
        assert_eq!(score(&[]), (0, 0));
        assert_eq!(
            serde_json::to_value(&results[1]).unwrap()["detail"],
            "1 sentence, expected 2"
        );
    }
}
