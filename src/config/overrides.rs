//! `--set KEY=VALUE`: changes to a profile given beside it. The profile's
//! text is edited in place (everything else stays byte for byte the same)
//! and then read like any other profile, so every check applies to the new
//! values too. [`Edited::origin`] says where a place in the edited text came
//! from: a line of the file, or a `--set`.

use std::ops::Range;

use toml_edit::{Document, DocumentMut, InlineTable, Item, Key, Table, Value};

const EXAMPLE: &str = "e.g. --set load.users=10";

/// One `--set KEY=VALUE`, parsed.
#[derive(Debug, Clone)]
pub struct Override {
    /// The argument as given.
    arg: String,
    /// KEY as given, without surrounding spaces.
    key: String,
    path: Vec<Segment>,
    value: Value,
}

#[derive(Debug, Clone)]
struct Segment {
    /// The key, or the digits of an index.
    name: String,
    /// A bare number: the index of a table in an array of tables.
    index: Option<usize>,
    /// The segment as written, quotes included.
    raw: String,
}

impl PartialEq for Override {
    fn eq(&self, other: &Override) -> bool {
        self.arg == other.arg
    }
}

impl Override {
    /// Parses `KEY=VALUE`. VALUE is a TOML value when it parses as one
    /// (`10`, `true`, `"text"`, `[1, 2]`, `{ a = 1 }`) and plain text
    /// otherwise (`30s`, `< 300ms`).
    pub fn parse(arg: &str) -> Result<Override, String> {
        let Some(eq) = find_equals(arg) else {
            return Err(format!("--set {}: expected KEY=VALUE, {EXAMPLE}", quote(arg, true)));
        };
        let key = arg[..eq].trim();
        let text = arg[eq + 1..].trim();
        let flag = format!("--set {}", quote(arg, false));
        if key.is_empty() {
            return Err(format!("{flag}: the key is empty; expected KEY=VALUE, {EXAMPLE}"));
        }
        let keys = Key::parse(key).map_err(|e| {
            format!(
                "{flag}: '{key}' is not a key path ({}); put dots between keys and quote a key that holds a dot, \
                 e.g. slo.\"ask.p95\"",
                e.message().trim()
            )
        })?;
        let path = keys
            .iter()
            .map(|k| {
                let raw = k.display_repr().into_owned();
                let bare_number = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
                let index = if bare_number {
                    Some(
                        raw.parse::<usize>()
                            .map_err(|_| format!("{flag}: index {raw} is too large"))?,
                    )
                } else {
                    None
                };
                Ok(Segment {
                    name: k.get().to_string(),
                    index,
                    raw,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let value = text.parse::<Value>().unwrap_or_else(|_| Value::from(text));
        Ok(Override {
            arg: arg.to_string(),
            key: key.to_string(),
            path,
            value,
        })
    }

    /// `--set KEY=VALUE`, quoted for a shell where it needs to be.
    pub fn flag(&self) -> String {
        format!("--set {}", quote(&self.arg, false))
    }

    /// KEY as given.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The first `n` segments as written, e.g. `load.request.0`.
    fn shown(&self, n: usize) -> String {
        let parts: Vec<&str> = self.path[..n].iter().map(|s| s.raw.as_str()).collect();
        parts.join(".")
    }

    fn error(&self, message: impl std::fmt::Display) -> String {
        format!("{}: {message}", self.flag())
    }
}

/// The first `=` outside a quoted key.
fn find_equals(arg: &str) -> Option<usize> {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in arg.char_indices() {
        match (quote, c) {
            (Some('"'), _) if escaped => escaped = false,
            (Some('"'), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

/// `arg` as a shell word: as it is when that is safe (unless `always`),
/// otherwise in single quotes.
fn quote(arg: &str, always: bool) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.=/:,@%+^".contains(c);
    if !always && !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A TOML value's kind with its article, e.g. "an integer".
fn kind(v: &Value) -> String {
    let name = match v {
        Value::InlineTable(_) => "inline table",
        other => other.type_name(),
    };
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// Why a profile could not be edited.
#[derive(Debug, Clone, PartialEq)]
pub enum EditError {
    /// A `--set` is malformed or does not fit the profile; the message
    /// names the flag.
    Set(String),
    /// The profile itself is not valid TOML; `span` is a byte range of the
    /// file's text.
    Syntax {
        span: Option<Range<usize>>,
        message: String,
    },
}

/// Where a place in the edited text came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin<'a> {
    /// This 1-based line of the file.
    Line(usize),
    /// This `--set`.
    Set(&'a Override),
}

/// A profile's text after its `--set` overrides, and the way back from a
/// place in it to the file or the override it came from.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The profile's text with the overrides written in.
    pub text: String,
    overrides: Vec<Override>,
    /// 0-based lines of `text` (first, last) written for an override, and
    /// the override's index.
    regions: Vec<(usize, usize, usize)>,
    /// For each line of `text`, its 0-based line in the file; None where
    /// the lines could not be matched, and then lines are taken as they are.
    lines: Option<Vec<usize>>,
    /// Line counts of the file and of `text`.
    counts: (usize, usize),
}

/// What one override did, as key paths (lengths of its path).
struct Applied {
    /// The key whose value the override wrote; this key's line(s) hold it.
    unit: usize,
    /// Standard tables the override created.
    created: Vec<usize>,
}

impl Edited {
    /// The text as it is, with no overrides.
    pub fn unchanged(text: &str) -> Edited {
        let n = text.lines().count();
        Edited {
            text: text.to_string(),
            overrides: Vec::new(),
            regions: Vec::new(),
            lines: None,
            counts: (n, n),
        }
    }

    /// Applies each `KEY=VALUE` in order to the TOML `text`.
    pub fn apply(text: &str, overrides: &[String]) -> Result<Edited, EditError> {
        if overrides.is_empty() {
            return Ok(Edited::unchanged(text));
        }
        let overrides = overrides
            .iter()
            .map(|a| Override::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EditError::Set)?;
        let before = Document::parse(text).map_err(|e| EditError::Syntax {
            span: e.span(),
            message: e.message().trim().to_string(),
        })?;
        let mut doc: DocumentMut = before.clone().into_mut();
        let mut applied = Vec::new();
        for o in &overrides {
            applied.push(set(doc.as_table_mut(), o).map_err(EditError::Set)?);
        }
        let edited = doc.to_string();
        let (regions, lines) = match Document::parse(edited.as_str()) {
            Ok(after) => {
                let mut regions = Vec::new();
                let mut replaced = Vec::new();
                for (i, (o, a)) in overrides.iter().zip(&applied).enumerate() {
                    let unit = &o.path[..a.unit];
                    if let Some(span) = key_value_span(after.as_table(), unit) {
                        let (first, last) = line_span(&edited, span);
                        regions.push((first, last, i));
                    }
                    for &c in &a.created {
                        if let Some(span) = header_span(after.as_table(), &o.path[..c]) {
                            let (first, last) = line_span(&edited, span);
                            regions.push((first, last, i));
                        }
                    }
                    if let Some(span) = key_value_span(before.as_table(), unit) {
                        replaced.push(line_span(text, span));
                    }
                }
                let lines = match_lines(text, &edited, &replaced, &regions);
                (regions, lines)
            }
            Err(_) => (Vec::new(), None),
        };
        Ok(Edited {
            counts: (text.lines().count(), edited.lines().count()),
            text: edited,
            overrides,
            regions,
            lines,
        })
    }

    /// Where byte `offset` of [`Edited::text`] came from.
    pub fn origin(&self, offset: usize) -> Origin<'_> {
        let line = line_of(&self.text, offset);
        let region = self
            .regions
            .iter()
            .filter(|(first, last, _)| (*first..=*last).contains(&line))
            .min_by_key(|(first, last, i)| (last - first, std::cmp::Reverse(*i)));
        if let Some(&(_, _, i)) = region {
            return Origin::Set(&self.overrides[i]);
        }
        let Some(lines) = &self.lines else {
            return Origin::Line(line + 1);
        };
        match lines.get(line) {
            Some(l) => Origin::Line(l + 1),
            None => Origin::Line(self.counts.0 + (line - self.counts.1) + 1),
        }
    }
}

/// Writes one override into `root`.
fn set(root: &mut Table, o: &Override) -> Result<Applied, String> {
    let n = o.path.len();
    let mut created = Vec::new();
    let mut table = root;
    let mut i = 0;
    loop {
        let seg = &o.path[i];
        if seg.index.is_some() {
            let what = match i {
                0 => "the top level".to_string(),
                _ => o.shown(i),
            };
            return Err(o.error(format_args!(
                "{what} is a table, not an array of tables, so it has no index {}; \
                 to name a key {} write it in quotes: \"{}\"",
                seg.raw, seg.raw, seg.name
            )));
        }
        if i + 1 == n {
            put(table, &seg.name, o, n)?;
            return Ok(Applied { unit: n, created });
        }
        let next = &o.path[i + 1];
        let dotted = table.is_dotted();
        let item = table.entry(&seg.name).or_insert(Item::None);
        if item.is_none() {
            if next.index.is_some() {
                return Err(o.error(format_args!(
                    "there are no [[{}]] tables, so index {} is out of range",
                    o.shown(i + 1),
                    next.raw
                )));
            }
            let mut t = Table::new();
            if dotted {
                t.set_dotted(true);
            } else {
                t.set_implicit(true);
                t.decor_mut().set_prefix("");
                created.push(i + 1);
            }
            *item = Item::Table(t);
        }
        match item {
            Item::Table(t) => {
                table = t;
                i += 1;
            }
            Item::ArrayOfTables(a) => {
                let count = a.len();
                let Some(index) = next.index else {
                    return Err(o.error(format_args!(
                        "{} is an array of tables; pick one by its index, e.g. {}.0.{} (there {})",
                        o.shown(i + 1),
                        o.shown(i + 1),
                        next.raw,
                        tables(count, "")
                    )));
                };
                if i + 2 == n {
                    return Err(o.error(format_args!(
                        "{} is a whole table; set one of its keys, e.g. --set {}.KEY=VALUE",
                        o.shown(i + 2),
                        o.shown(i + 2)
                    )));
                }
                let Some(t) = a.get_mut(index) else {
                    return Err(o.error(format_args!(
                        "index {index} is out of range: there {}{}",
                        tables(count, &format!("[[{}]]", o.shown(i + 1))),
                        match count {
                            0 => String::new(),
                            1 => ", index 0".to_string(),
                            _ => format!(", indexes 0 to {}", count - 1),
                        }
                    )));
                };
                table = t;
                i += 2;
            }
            Item::Value(Value::InlineTable(t)) => {
                set_inline(t, o, i + 1)?;
                return Ok(Applied { unit: i + 1, created });
            }
            Item::Value(v) => return Err(not_a_table(o, i + 1, v)),
            Item::None => unreachable!("a missing table was created above"),
        }
    }
}

/// "are 3 tables", "is 1 table", with `of` ("[[load.request]]") before "table".
fn tables(count: usize, of: &str) -> String {
    let of = if of.is_empty() { String::new() } else { format!("{of} ") };
    match count {
        1 => format!("is 1 {of}table"),
        n => format!("are {n} {of}tables"),
    }
}

fn not_a_table(o: &Override, n: usize, v: &Value) -> String {
    let next = &o.path[n];
    match (v, next.index) {
        (Value::Array(_), Some(_)) => o.error(format_args!(
            "{} is an array, not an array of tables; set the whole array instead, e.g. --set '{}=[...]'",
            o.shown(n),
            o.shown(n)
        )),
        (_, Some(_)) => o.error(format_args!("{} is {}, not an array of tables", o.shown(n), kind(v))),
        (_, None) => o.error(format_args!(
            "{} is {}, not a table, so it has no key {}",
            o.shown(n),
            kind(v),
            next.raw
        )),
    }
}

/// Sets the last key of the path, `key`, in `table`.
fn put(table: &mut Table, key: &str, o: &Override, n: usize) -> Result<(), String> {
    let item = table.entry(key).or_insert(Item::None);
    match item {
        Item::None => *item = Item::Value(o.value.clone()),
        Item::Value(old) => {
            let decor = old.decor().clone();
            *old = o.value.clone();
            *old.decor_mut() = decor;
        }
        Item::Table(_) => {
            return Err(o.error(format_args!(
                "{} is a table; set one of its keys, e.g. --set {}.KEY=VALUE",
                o.shown(n),
                o.shown(n)
            )));
        }
        Item::ArrayOfTables(a) => {
            return Err(o.error(format_args!(
                "{} is an array of tables (there {}); set a key of one of them, e.g. --set {}.0.KEY=VALUE",
                o.shown(n),
                tables(a.len(), ""),
                o.shown(n)
            )));
        }
    }
    Ok(())
}

/// Walks the rest of the path, from segment `from`, inside an inline table.
fn set_inline(mut table: &mut InlineTable, o: &Override, from: usize) -> Result<(), String> {
    let n = o.path.len();
    for i in from..n {
        let seg = &o.path[i];
        if seg.index.is_some() {
            return Err(o.error(format_args!(
                "{} is an inline table, not an array of tables, so it has no index {}; \
                 to name a key {} write it in quotes: \"{}\"",
                o.shown(i),
                seg.raw,
                seg.raw,
                seg.name
            )));
        }
        if i + 1 == n {
            match table.get_mut(&seg.name) {
                Some(old) => {
                    let decor = old.decor().clone();
                    *old = o.value.clone();
                    *old.decor_mut() = decor;
                }
                None => {
                    table.insert(&seg.name, o.value.clone());
                }
            }
            return Ok(());
        }
        let value = table
            .entry(&seg.name)
            .or_insert_with(|| Value::InlineTable(InlineTable::new()));
        match value {
            Value::InlineTable(t) => table = t,
            v => return Err(not_a_table(o, i + 1, v)),
        }
    }
    Ok(())
}

/// The byte range from the key to the end of the value at `path`, when
/// the path names a value in a parsed document.
fn key_value_span(root: &Table, path: &[Segment]) -> Option<Range<usize>> {
    let (last, parents) = path.split_last()?;
    let table = walk(root, parents)?;
    let (key, item) = table.get_key_value(&last.name)?;
    let Item::Value(v) = item else {
        return None;
    };
    let value = v.span()?;
    let start = key.span().map_or(value.start, |k| k.start.min(value.start));
    Some(start..value.end)
}

/// The byte range of the `[header]` of the standard table at `path`.
fn header_span(root: &Table, path: &[Segment]) -> Option<Range<usize>> {
    let (last, parents) = path.split_last()?;
    match walk(root, parents)?.get(&last.name)? {
        Item::Table(t) if !t.is_implicit() && !t.is_dotted() => t.span(),
        _ => None,
    }
}

/// The table at `path`, through tables and arrays of tables.
fn walk<'a>(root: &'a Table, path: &[Segment]) -> Option<&'a Table> {
    let mut table = root;
    let mut i = 0;
    while i < path.len() {
        match table.get(&path[i].name)? {
            Item::Table(t) => {
                table = t;
                i += 1;
            }
            Item::ArrayOfTables(a) => {
                table = a.get(path.get(i + 1)?.index?)?;
                i += 2;
            }
            _ => return None,
        }
    }
    Some(table)
}

/// 0-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// First and last 0-based lines of a byte range.
fn line_span(text: &str, span: Range<usize>) -> (usize, usize) {
    let first = line_of(text, span.start);
    (first, line_of(text, span.end.max(span.start + 1) - 1).max(first))
}

/// Matches the lines of `edited` outside the override `regions` with the
/// lines of `original` outside the `replaced` values, in order. None when
/// they are not the same lines.
fn match_lines(
    original: &str,
    edited: &str,
    replaced: &[(usize, usize)],
    regions: &[(usize, usize, usize)],
) -> Option<Vec<usize>> {
    let kept_before: Vec<(usize, &str)> = original
        .lines()
        .enumerate()
        .filter(|(l, _)| !replaced.iter().any(|(first, last)| (*first..=*last).contains(l)))
        .collect();
    let kept_after: Vec<(usize, &str)> = edited
        .lines()
        .enumerate()
        .filter(|(l, _)| !regions.iter().any(|(first, last, _)| (*first..=*last).contains(l)))
        .collect();
    if kept_before.len() != kept_after.len() || kept_before.iter().zip(&kept_after).any(|(b, a)| b.1 != a.1) {
        return None;
    }
    let mut map = vec![0; edited.lines().count()];
    for ((before, _), (after, _)) in kept_before.iter().zip(&kept_after) {
        map[*after] = *before;
    }
    // A line written for an override is named by the override; its entry
    // only has to be somewhere near.
    let mut last = 0;
    for (l, m) in map.iter_mut().enumerate() {
        match kept_after.binary_search_by_key(&l, |(a, _)| *a) {
            Ok(_) => last = *m,
            Err(_) => *m = last,
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, sets: &[&str]) -> Result<Edited, EditError> {
        Edited::apply(text, &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn refused(text: &str, set: &str) -> String {
        match edit(text, &[set]) {
            Err(EditError::Set(e)) => e,
            other => panic!("{set} should be refused, got {other:?}"),
        }
    }

    const PROFILE: &str = "name = \"x\"\n\n[load]\nbase_url = \"http://h/\"  # where\nusers = 4 # people\n\n\
                           [[load.request]]\nname = \"ask\"\n\n[[load.request]]\npath = \"/h\"\n\n\
                           [slo]\n\"ask.p95\" = \"< 1s\"\n";

    #[test]
    fn values_are_toml_or_else_text() {
        for (set, line) in [
            ("load.users=10", "users = 10 # people"),
            ("load.users = 10", "users = 10 # people"),
            ("load.users=2.5", "users = 2.5 # people"),
            ("load.users=true", "users = true # people"),
            ("load.users=\"ten\"", "users = \"ten\" # people"),
            ("load.users=[1, 2]", "users = [1, 2] # people"),
            ("load.users={ a = 1 }", "users = { a = 1 } # people"),
            ("load.users=30s", "users = \"30s\" # people"),
            ("load.users=< 300ms", "users = \"< 300ms\" # people"),
            ("load.users=", "users = \"\" # people"),
        ] {
            let e = edit(PROFILE, &[set]).unwrap();
            assert_eq!(e.text, PROFILE.replace("users = 4 # people", line), "{set}");
        }
    }

    #[test]
    fn untouched_text_stays_the_same() {
        let e = edit(PROFILE, &["load.users=10", "name=y"]).unwrap();
        assert_eq!(
            e.text,
            PROFILE
                .replace("users = 4", "users = 10")
                .replace("name = \"x\"", "name = \"y\"")
        );
        let e = edit(PROFILE, &[]).unwrap();
        assert_eq!(e.text, PROFILE);
        assert_eq!(e.origin(PROFILE.find("[slo]").unwrap()), Origin::Line(13));
    }

    #[test]
    fn quoted_keys_hold_dots() {
        let e = edit(PROFILE, &["slo.\"ask.p95\"=< 2s", "slo.'all.p95'=< 3s"]).unwrap();
        assert!(
            e.text
                .ends_with("[slo]\n\"ask.p95\" = \"< 2s\"\n\"all.p95\" = \"< 3s\"\n"),
            "{}",
            e.text
        );
        assert_eq!(find_equals("slo.\"a=b\"=1"), Some(9));
        assert_eq!(find_equals("slo.'a=b'"), None);
    }

    #[test]
    fn new_keys_and_tables_are_added() {
        let e = edit(
            PROFILE,
            &["load.duration=30s", "leak.settle=5s", "load.headers.x-api=k"],
        )
        .unwrap();
        let doc: toml::Table = e.text.parse().unwrap();
        assert_eq!(doc["load"]["duration"].as_str(), Some("30s"));
        assert_eq!(doc["leak"]["settle"].as_str(), Some("5s"));
        assert_eq!(doc["load"]["headers"]["x-api"].as_str(), Some("k"));
        assert!(
            e.text.contains("users = 4 # people\nduration = \"30s\"\n"),
            "{}",
            e.text
        );
        // Under one table of an array of tables.
        let e = edit(PROFILE, &["load.request.0.headers.x-api=k"]).unwrap();
        let doc: toml::Table = e.text.parse().unwrap();
        assert_eq!(doc["load"]["request"][0]["headers"]["x-api"].as_str(), Some("k"));
        assert!(e.lines.is_some(), "{}", e.text);
        // Inside an inline table, and in a table made by dotted keys.
        let e = edit(
            "[load]\njson = { a = 1 }\nheaders.a = \"1\"\n",
            &["load.json.b.c=2", "load.headers.b=2"],
        )
        .unwrap();
        let doc: toml::Table = e.text.parse().unwrap();
        assert_eq!(doc["load"]["json"]["b"]["c"].as_integer(), Some(2));
        assert_eq!(doc["load"]["headers"]["b"].as_integer(), Some(2));
        assert_eq!(e.text.lines().nth(3), Some("headers.b = 2"));
    }

    #[test]
    fn arrays_of_tables_are_indexed() {
        let e = edit(PROFILE, &["load.request.1.weight=2", "load.request.0.name=chat"]).unwrap();
        let doc: toml::Table = e.text.parse().unwrap();
        let requests = doc["load"]["request"].as_array().unwrap();
        assert_eq!(requests[1]["weight"].as_integer(), Some(2));
        assert_eq!(requests[0]["name"].as_str(), Some("chat"));
        assert_eq!(e.text.lines().count(), PROFILE.lines().count() + 1);
    }

    #[test]
    fn bad_overrides_say_what_would_do() {
        for (set, expected) in [
            (
                "load.users",
                "--set 'load.users': expected KEY=VALUE, e.g. --set load.users=10",
            ),
            ("=3", "--set =3: the key is empty"),
            (" =3", "--set ' =3': the key is empty"),
            ("load..users=3", "is not a key path"),
            (
                "load.users.x=1",
                "--set load.users.x=1: load.users is an integer, not a table, so it has no key x",
            ),
            (
                "load.base_url.0.x=1",
                "load.base_url is a string, not an array of tables",
            ),
            ("load.0.x=1", "load is a table, not an array of tables"),
            ("0=1", "the top level is a table"),
            (
                "load.request.2.weight=1",
                "index 2 is out of range: there are 2 [[load.request]] tables, indexes 0 to 1",
            ),
            (
                "flame.0.rate=1",
                "there are no [[flame]] tables, so index 0 is out of range",
            ),
            (
                "load.request.weight=1",
                "load.request is an array of tables; pick one by its index, e.g. load.request.0.weight (there are 2 tables)",
            ),
            ("load.request.0=1", "load.request.0 is a whole table"),
            (
                "load.request=1",
                "load.request is an array of tables (there are 2 tables)",
            ),
            (
                "load=1",
                "load is a table; set one of its keys, e.g. --set load.KEY=VALUE",
            ),
            ("slo.\"ask.p95\".x=1", "slo.\"ask.p95\" is a string, not a table"),
        ] {
            let e = refused(PROFILE, set);
            assert!(e.contains(expected), "{set}: expected '{expected}' in {e}");
        }
        let e = refused("[load]\nstages = [{ rate = 1 }]\n", "load.stages.0.rate=2");
        assert!(e.contains("load.stages is an array, not an array of tables"), "{e}");
        assert!(e.contains("--set 'load.stages=[...]'"), "{e}");
        let e = refused("[load]\njson = { a = 1 }\n", "load.json.a.b=2");
        assert!(e.contains("load.json.a is an integer, not a table"), "{e}");
        assert!(matches!(edit("[load\n", &["a=1"]), Err(EditError::Syntax { .. })));
    }

    #[test]
    fn the_shipped_profiles_map_every_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let e = edit(
                &text,
                &["name=over", "leak.settle=5s", "extra.table.key=[1, 2]", "load.users=3"],
            )
            .unwrap();
            assert!(e.lines.is_some(), "{}:\n{}", path.display(), e.text);
            let last = text.lines().count();
            assert_eq!(e.origin(e.text.len()), Origin::Line(last + 1), "{}", path.display());
            seen += 1;
        }
        assert!(seen > 0);
    }

    #[test]
    fn lines_that_differ_are_not_matched() {
        assert_eq!(match_lines("a\nb\n", "a\nb\n", &[], &[]), Some(vec![0, 1]));
        assert_eq!(
            match_lines("a\nb\n", "x\na\nb\n", &[], &[(0, 0, 0)]),
            Some(vec![0, 0, 1])
        );
        assert_eq!(match_lines("a\nb\n", "a\nc\n", &[], &[]), None);
        assert_eq!(match_lines("a\nb\nc\n", "a\nc\n", &[], &[]), None);
    }

    #[test]
    fn flags_are_quoted_when_a_shell_needs_it() {
        let o = Override::parse("load.users=10").unwrap();
        assert_eq!((o.flag().as_str(), o.key()), ("--set load.users=10", "load.users"));
        let o = Override::parse("slo.\"ask.p95\" =< 2s").unwrap();
        assert_eq!(o.flag(), "--set 'slo.\"ask.p95\" =< 2s'");
        assert_eq!(o.key(), "slo.\"ask.p95\"");
        assert_eq!(quote("it's", false), r"'it'\''s'");
    }

    #[test]
    fn places_map_back_to_the_file_or_the_flag() {
        let text =
            "[target]\ncommand = [\n  \"a\",\n  \"b\",\n]\nready_url = \"x\"\n[load]\nbase_url = \"u\"\nrate = 1\n";
        let e = edit(
            text,
            &["load.users=3", "target.command=[\"p\"]", "name=n", "leak.settle=5s"],
        )
        .unwrap();
        let at = |needle: &str| e.origin(e.text.find(needle).unwrap());
        assert_eq!(at("ready_url"), Origin::Line(6));
        assert_eq!(at("base_url"), Origin::Line(8));
        assert_eq!(at("rate"), Origin::Line(9));
        let set = |needle: &str| match at(needle) {
            Origin::Set(o) => o.key().to_string(),
            other => panic!("{needle}: {other:?}"),
        };
        assert_eq!(set("users"), "load.users");
        assert_eq!(set("command"), "target.command");
        assert_eq!(set("name"), "name");
        assert_eq!(set("[leak]"), "leak.settle");
        assert_eq!(set("settle"), "leak.settle");
        assert!(e.lines.is_some());
        // Past the end: the lines after the file's last one.
        assert_eq!(e.origin(e.text.len()), Origin::Line(text.lines().count() + 1));
    }
}
