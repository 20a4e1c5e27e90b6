//! A result.json from elsewhere is data, never instructions: `loadprof
//! report` reads only plain files beside it, runs no script it did not
//! write, and every name in it lands as text in report.html, summary.md
//! and on the terminal. Each case here was once a defect.

mod common;

use std::path::Path;

use common::{loadprof, output_text};
use serde_json::{Value, json};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(2)>";
const LINK: &str = "[click](javascript:alert(3))";

/// A small stored result whose flame section names `folded` and `svg`.
fn result(folded: Option<&str>, svg: Option<&str>) -> Value {
    json!({
        "schema": "loadprof.result/v1",
        "tool": {"name": "loadprof", "version": "0.1.0"},
        "run": {"profile": format!("nightly` {IMG} {LINK}\n# owned"), "started_at": "2026-12-01T10:00:00Z",
                "ended_at": "2026-12-01T10:01:00Z", "duration_s": 60.0, "outcome": "completed",
                "host": {"cpus": 2, "mem_bytes": 1024, "os": "linux"}},
        "flame": {"profiler": "pprof", "kind": "cpu", "samples": 40, "unit": "samples", "total": 40,
                  "stacks": 2, "duration_s": 5.0, "pid": null, "folded": folded, "svg": svg,
                  "title": format!("CPU: {SCRIPT}"), "partial": null, "notes": [], "hottest": [], "error": null},
        "slo": [
            {"name": format!("ask`|p95 {IMG}"), "expr": "< 2.5s", "observed": 3000.0, "unit": "ms", "pass": false}
        ],
        "leak": {"verdict": "leak", "metric": "rss_bytes", "slope_bytes_per_s": 1000.0, "slope_ci": [900.0, 1100.0],
                 "trend_p": 0.0, "growth_pct_per_min": 5.0, "warmup_s": 0.0,
                 "reason": format!("grows {IMG} {LINK} `x`\n| a | b |"), "threshold_bytes_per_s": 100.0,
                 "time_to_limit_s": null, "window_s": [0.0, 60.0],
                 "checks": {"significant": true, "large_enough": true, "not_slowing": true, "above_noise": true}},
        "passed": false
    })
}

const EVIL_SVG: &str = r#"<svg width="900" height="300" onload="alert(4)" xmlns="http://www.w3.org/2000/svg"><script>alert(5)</script><text onclick="alert(6)">EVIL_SVG_MARK</text></svg>"#;

/// Writes `doc` as DIR/result.json and runs `loadprof report` on it.
fn report(dir: &Path, doc: &Value, extra: &[&str]) -> (std::process::Output, String) {
    let path = dir.join("result.json");
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let html = dir.join("out.html");
    let out = loadprof()
        .arg("report")
        .arg(&path)
        .arg("--html")
        .arg(&html)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    (out, std::fs::read_to_string(html).unwrap_or_default())
}

/// The document in the flame graph's frame (`srcdoc`), unescaped.
fn frame_doc(html: &str) -> Option<String> {
    let rest = html.split(" srcdoc=\"").nth(1)?;
    let value = &rest[..rest.find('"')?];
    Some(
        value
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// No script element and no event handler in the page itself (the
/// sandboxed frame's document, an attribute value, is left out).
fn assert_inert(html: &str) {
    let page = regex::Regex::new(r#" srcdoc="[^"]*""#).unwrap().replace_all(html, "");
    assert!(!page.to_ascii_lowercase().contains("<script"), "a script in the page");
    let handler = regex::Regex::new(r#"(?i)<[a-z][^<>]*\son[a-z]+\s*="#).unwrap();
    assert!(
        handler.find(&page).is_none(),
        "an event handler: {:?}",
        handler.find(&page)
    );
}

#[test]
fn a_result_naming_files_outside_its_folder_is_not_read() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(root.path().join("x.svg"), EVIL_SVG).unwrap();
    std::fs::write(root.path().join("x.folded"), "main;SECRET_FRAME 5\n").unwrap();
    for (folded, svg) in [
        (Some("/etc/hostname"), Some("/etc/passwd")),
        (Some("../x.folded"), Some("../x.svg")),
        (Some(".."), Some("run/../../x.svg")),
    ] {
        let (_, html) = report(&dir, &result(folded, svg), &[]);
        assert!(!html.contains("root:x:0"), "/etc/passwd was embedded");
        assert!(!html.contains("SECRET_FRAME"), "a folded file outside was drawn");
        assert!(
            !html.contains("data:image/svg+xml") && !html.contains("srcdoc"),
            "{svg:?} embedded"
        );
        assert!(
            html.contains("was not read: a result names only files in its own folder, by name"),
            "the report says why: {svg:?}"
        );
        assert_inert(&html);
    }
}

#[test]
fn links_fifos_and_oversized_files_beside_the_result_are_left_out_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("/etc/passwd", d.join("flame.svg")).unwrap();
    let (_, html) = report(d, &result(None, Some("flame.svg")), &[]);
    assert!(!html.contains("data:image/svg+xml"), "a link was followed");
    assert!(html.contains("flame.svg was not read: it is a link"), "{html}");

    // A FIFO would block a reader forever.
    std::fs::remove_file(d.join("flame.svg")).unwrap();
    let fifo = std::ffi::CString::new(d.join("flame.svg").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let (_, html) = report(d, &result(None, Some("flame.svg")), &[]);
    assert!(
        html.contains("flame.svg was not read") && html.contains("must be a regular file"),
        "{html}"
    );

    std::fs::remove_file(d.join("flame.svg")).unwrap();
    let big = format!("<svg>{}</svg>", " ".repeat(17 << 20));
    std::fs::write(d.join("flame.svg"), big).unwrap();
    let (_, html) = report(d, &result(None, Some("flame.svg")), &[]);
    assert!(
        html.contains("flame.svg was not read") && html.contains("larger than 16 MiB"),
        "the bound is named"
    );
    assert!(html.len() < 1 << 20, "the big file is not in the page");
}

#[test]
fn an_svg_with_scripts_beside_the_result_is_only_an_image() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flame.svg"), EVIL_SVG).unwrap();
    let (_, html) = report(dir.path(), &result(None, Some("flame.svg")), &[]);
    assert_inert(&html);
    assert!(
        !html.contains("srcdoc") && !html.contains("<iframe"),
        "no frame runs it"
    );
    assert!(
        html.contains(r#"<img class="flame" alt="flame graph""#),
        "shown as an image"
    );
    assert!(html.contains("src=\"data:image/svg+xml;base64,"));
    assert!(!html.contains("EVIL_SVG_MARK"), "its text is not in the page as markup");
}

#[test]
fn the_graph_is_drawn_again_from_the_folded_stacks_not_taken_from_the_svg() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flame.svg"), EVIL_SVG).unwrap();
    std::fs::write(
        dir.path().join("flame.folded"),
        format!("main;{SCRIPT};work 30\nmain;idle\" onload=\"alert(7) 10\n"),
    )
    .unwrap();
    let (_, html) = report(dir.path(), &result(Some("flame.folded"), Some("flame.svg")), &[]);
    assert_inert(&html);
    assert!(
        !html.contains("EVIL_SVG_MARK") && !html.contains("data:image/svg+xml"),
        "the SVG beside was not used"
    );
    assert!(
        html.contains("<iframe class=\"flame\""),
        "the redrawn graph is interactive"
    );
    assert!(html.contains(r#"sandbox="allow-scripts allow-modals""#));
    let inner = frame_doc(&html).expect("the graph's frame");
    assert_eq!(
        inner.matches("<script").count(),
        2,
        "loadprof's frame helper and inferno's own script, no other"
    );
    assert!(!inner.contains("alert(1)</script>"), "a frame's name is text");
    assert!(inner.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{inner}");
    assert!(inner.contains("CPU: &lt;script&gt;"), "the stored title, as text");
    assert!(
        !inner.contains("onload=\"alert(7)"),
        "an attribute in a frame name stays text"
    );
    assert!(!inner.contains("alert(4)"), "nothing of the SVG beside");
}

#[test]
fn summary_md_of_a_hostile_result_is_text_in_its_lines_and_cells() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = report(dir.path(), &result(None, None), &["--markdown", "-"]);
    let md = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = md
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("wrote "))
        .collect();
    assert_eq!(lines.len(), 5, "heading, SLO table of three rows, memory line: {md}");
    assert!(
        lines[0].starts_with("## loadprof: nightly\\` &lt;img src=x onerror=alert\\(2\\)&gt; \\[click\\]"),
        "{md}"
    );
    assert!(lines[0].ends_with("\\# owned — ❌ failed"), "{md}");
    assert_eq!(
        lines[3], "| ``ask`\\|p95 <img src=x onerror=alert(2)>`` | `< 2.5s` | 3000.0 ms | ❌ |",
        "{md}"
    );
    assert!(
        lines[4].contains("grows &lt;img src=x onerror=alert\\(2\\)&gt; \\[click\\]\\(javascript:alert\\(3\\)\\) \\`x\\` \\| a \\| b \\|"),
        "{md}"
    );
}

#[test]
fn control_characters_in_a_result_reach_the_terminal_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = result(None, None);
    doc["slo"][0]["name"] = json!("\u{1b}]0;owned\u{7}\u{1b}[2Jask.p95\r");
    let path = dir.path().join("result.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = loadprof().arg("gate").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.iter().any(|b| *b == 0x1b || *b == 0x07 || *b == b'\r'),
            "{stream:?}"
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("␛]0;owned␇␛[2Jask.p95␍"), "{err}");
}
