//! Where the memory went, from folded heap stacks: the growth between two
//! snapshots, and the sites (the innermost frame of the application's own
//! code in each stack, not the allocator, the runtime or a library) that
//! hold the most bytes. Pure.

use std::collections::HashMap;

use crate::flame::Folded;

/// The runtime whose frames a stack holds, which decides what is the
/// application's own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Python,
    Go,
    Native,
}

/// One place in the code that holds retained bytes.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Site {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub bytes: u64,
    /// Of the profile's total bytes, 0 to 1.
    pub share: f64,
}

impl Site {
    /// `function (file:line)`, or as much of it as is known.
    pub fn label(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{} ({f}:{l})", self.function),
            (Some(f), None) => format!("{} ({f})", self.function),
            _ => self.function.clone(),
        }
    }
}

/// A frame as loadprof writes heap stacks, `function (file:line)` (py-spy's
/// spelling), split into its parts. A frame without a location is all
/// function.
pub fn parse_frame(frame: &str) -> (&str, Option<&str>, Option<u32>) {
    let Some(inner) = frame.strip_suffix(')') else {
        return (frame, None, None);
    };
    let Some(open) = inner.rfind(" (") else {
        return (frame, None, None);
    };
    let (function, location) = (&inner[..open], &inner[open + 2..]);
    if function.is_empty() || location.is_empty() {
        return (frame, None, None);
    }
    match location.rsplit_once(':') {
        Some((file, line)) if !file.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            (function, Some(file), line.parse().ok())
        }
        _ => (function, Some(location), None),
    }
}

/// A process root frame (`pid 12: python app.py`), which is no code.
fn is_process_frame(frame: &str) -> bool {
    frame
        .strip_prefix("pid ")
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `frame` is the application's own code rather than the runtime,
/// the standard library, a third-party package or the allocator.
pub fn is_app_frame(runtime: Runtime, frame: &str) -> bool {
    if is_process_frame(frame) || frame.starts_with("0x") || frame.starts_with('[') {
        return false;
    }
    let (function, file, _) = parse_frame(frame);
    match runtime {
        Runtime::Python => file.is_some_and(|f| !python_library_file(f)),
        Runtime::Go => go_app_function(function),
        Runtime::Native => {
            !native_runtime_function(function) && !file.is_some_and(|f| f.starts_with("/usr/") || f.starts_with("/lib"))
        }
    }
}

/// The interpreter's own modules and installed packages: `<frozen …>`,
/// `…/lib/python3.11/…`, `…/site-packages/…`, `…/dist-packages/…`.
fn python_library_file(file: &str) -> bool {
    if file.starts_with('<') || file.contains("/site-packages/") || file.contains("/dist-packages/") {
        return true;
    }
    // The standard library: a `pythonX.Y` directory under a `lib`.
    file.split('/').collect::<Vec<_>>().windows(2).any(|w| {
        matches!(w[0], "lib" | "lib64")
            && w[1].strip_prefix("python").is_some_and(|v| {
                v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            })
    })
}

/// Go: `main.…` and packages whose import path starts with a domain
/// (`github.com/x/y.F`) are the application's; the standard library's
/// paths have no dot in their first element (`runtime`, `encoding/json`).
fn go_app_function(function: &str) -> bool {
    if function.starts_with("main.") {
        return true;
    }
    let first = function.split('/').next().unwrap_or(function);
    // `bytes.growSlice`: the first element runs up to the first dot, which
    // is then the package's, not a domain's.
    function.contains('/') && first.contains('.')
}

/// Native frames that allocate on behalf of others: the C allocator and
/// jemalloc, C++'s `operator new` and containers, Rust's `alloc`, and the
/// start-up code below `main`.
fn native_runtime_function(function: &str) -> bool {
    const EXACT: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
        "strdup",
        "strndup",
        "mallocx",
        "rallocx",
        "_start",
        "call_init",
        "__libc_start_main",
        "__libc_start_main_impl",
        "__libc_start_call_main",
        "__rust_alloc",
        "__rust_realloc",
        "__rust_alloc_zeroed",
        "__rdl_alloc",
        "__rdl_realloc",
    ];
    const PREFIXES: &[&str] = &[
        "je_",
        "prof_",
        "imalloc",
        "operator new",
        "std::",
        "__gnu_cxx::",
        "alloc::",
        "core::",
        "<alloc::",
        "<core::",
        "hashbrown::",
        "_dl_",
        "__libc_",
    ];
    // `<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem`: a
    // trait's method is the runtime's when the trait is.
    let as_trait = function.find(" as ").map(|i| &function[i + 4..]);
    EXACT.contains(&function)
        || std::iter::once(function)
            .chain(as_trait)
            .any(|f| PREFIXES.iter().any(|p| f.starts_with(p)))
}

/// The growth from `before` to `after`, stack by stack, positive parts
/// only: what was allocated between two snapshots and is still held.
pub fn growth(before: &Folded, after: &Folded) -> Folded {
    let was: HashMap<&str, u64> = before.iter().collect();
    Folded::from_pairs(
        after
            .iter()
            .map(|(stack, now)| (stack, now.saturating_sub(was.get(stack).copied().unwrap_or(0)))),
    )
}

/// The `n` sites holding the most bytes, largest first (ties by name). A
/// stack's bytes go to its innermost application frame; a stack with none
/// (all library or runtime) to its innermost frame that is not the
/// allocator, or its leaf.
pub fn top_sites(folded: &Folded, runtime: Runtime, n: usize) -> Vec<Site> {
    let total = folded.total();
    let mut by_frame: HashMap<&str, u64> = HashMap::new();
    for (stack, bytes) in folded.iter() {
        let frames: Vec<&str> = stack.split(';').collect();
        let site = frames
            .iter()
            .rev()
            .find(|f| is_app_frame(runtime, f))
            .or_else(|| {
                frames.iter().rev().find(|f| {
                    !(is_process_frame(f) || runtime == Runtime::Native && native_runtime_function(parse_frame(f).0))
                })
            })
            .or(frames.last())
            .copied()
            .unwrap_or("[unknown]");
        *by_frame.entry(site).or_default() += bytes;
    }
    let mut sites: Vec<(&str, u64)> = by_frame.into_iter().collect();
    sites.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    sites.truncate(n);
    sites
        .into_iter()
        .map(|(frame, bytes)| {
            let (function, file, line) = parse_frame(frame);
            Site {
                function: function.to_string(),
                file: file.map(str::to_string),
                line,
                bytes,
                share: if total == 0 { 0.0 } else { bytes as f64 / total as f64 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_into_function_file_and_line() {
        assert_eq!(
            parse_frame("cache_add (app/cache.py:42)"),
            ("cache_add", Some("app/cache.py"), Some(42))
        );
        assert_eq!(parse_frame("f (x.go)"), ("f", Some("x.go"), None));
        assert_eq!(parse_frame("malloc"), ("malloc", None, None));
        assert_eq!(
            parse_frame("<lambda> (a b.py:3)"),
            ("<lambda>", Some("a b.py"), Some(3))
        );
        assert_eq!(parse_frame("odd)"), ("odd)", None, None));
        assert_eq!(parse_frame(" (x:1)"), (" (x:1)", None, None));
    }

    #[test]
    fn python_library_frames_are_not_the_application() {
        let app = |f| is_app_frame(Runtime::Python, f);
        assert!(app("cache_add (/srv/app/cache.py:42)"));
        assert!(app("handler (app.py:3)"));
        assert!(!app("decode (/usr/lib/python3.11/json/decoder.py:337)"));
        assert!(!app(
            "_run (/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/events.py:80)"
        ));
        assert!(!app("get (/venv/lib/python3.11/site-packages/aiohttp/web.py:9)"));
        assert!(!app("_find_and_load (<frozen importlib._bootstrap>:1176)"));
        assert!(!app("pid 12: python3 app.py"));
        assert!(!app("no_location"));
        // A directory that merely looks like one is the application's.
        assert!(app("f (/srv/lib/pythonic/x.py:1)"));
    }

    #[test]
    fn go_standard_library_is_not_the_application() {
        let app = |f| is_app_frame(Runtime::Go, f);
        assert!(app("main.cacheAdd (/src/main.go:20)"));
        assert!(app("github.com/acme/svc/store.(*Cache).Put"));
        assert!(!app("runtime.malg"));
        assert!(!app("bytes.growSlice"));
        assert!(!app("encoding/json.(*decodeState).object"));
        assert!(!app("net/http.(*conn).serve"));
    }

    #[test]
    fn native_allocators_are_not_the_application() {
        let app = |f| is_app_frame(Runtime::Native, f);
        assert!(app("cache_add (/tmp/leak.c:6)"));
        assert!(app("main"));
        assert!(!app("malloc"));
        assert!(!app("je_prof_backtrace"));
        assert!(!app("operator new(unsigned long)"));
        assert!(!app("alloc::raw_vec::RawVec<T>::grow"));
        assert!(!app("<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem"));
        assert!(app("<demo::Cache as demo::Store>::put"));
        assert!(!app("__libc_start_call_main"));
        assert!(!app("0x7f00 (libc.so.6)"));
    }

    #[test]
    fn growth_keeps_what_grew() {
        let before = Folded::from_pairs([("a;b", 100u64), ("a;c", 50), ("gone", 7)]);
        let after = Folded::from_pairs([("a;b", 160u64), ("a;c", 20), ("new", 5)]);
        let g = growth(&before, &after);
        assert_eq!(g.iter().collect::<Vec<_>>(), vec![("a;b", 60), ("new", 5)]);
    }

    #[test]
    fn the_site_is_the_innermost_application_frame() {
        let f = Folded::from_pairs([
            (
                "pid 7: python app.py;<module> (app.py:9);handle (app.py:5);cache_add (app.py:42);append (/usr/lib/python3.11/x.py:1)",
                900u64,
            ),
            ("pid 7: python app.py;<module> (app.py:9);decoy (app.py:12)", 100),
        ]);
        let sites = top_sites(&f, Runtime::Python, 5);
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].function, "cache_add");
        assert_eq!(sites[0].file.as_deref(), Some("app.py"));
        assert_eq!(sites[0].line, Some(42));
        assert_eq!(sites[0].bytes, 900);
        assert!((sites[0].share - 0.9).abs() < 1e-9);
        assert_eq!(sites[1].label(), "decoy (app.py:12)");
        assert_eq!(top_sites(&f, Runtime::Python, 1).len(), 1);
    }

    #[test]
    fn a_stack_with_no_application_frame_goes_to_its_innermost_real_frame() {
        let f = Folded::from_pairs([("_start;__libc_start_main;libfoo_init;malloc", 10u64), ("pid 3: x", 4)]);
        let sites = top_sites(&f, Runtime::Native, 5);
        assert_eq!(sites[0].function, "libfoo_init");
        assert_eq!(sites[1].function, "pid 3: x");
        assert!(top_sites(&Folded::new(), Runtime::Go, 3).is_empty());
    }
}
