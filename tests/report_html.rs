//! The report a person looks at: report.html of a real run opened in
//! headless Chromium (Debian's `chromium`), its charts and tables found in
//! the rendered page, no script error, and a screenshot kept in the target
//! folder (`report.png`); `loadprof report` draws the same page again and a
//! trend page across runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::loadprof;

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("headless Chromium is needed to check the report (Debian: apt-get install chromium; .ci/run installs it)");
}

fn headless(page: &Path, args: &[&str]) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

/// A demo run of 12 s: its flame graph (from 1 s, for 3 s) must be back
/// before the load ends, and symbolising a debug build's profile on a busy
/// machine takes several seconds.
fn demo(dir: &Path, extra: &[&str]) {
    let out = loadprof()
        .args(["demo", "--duration", "12s"])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_report_renders_in_chromium_with_its_charts_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), &["--leak"]);
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing is fetched from the network.
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(remote), "the report loads {remote}…");
    }

    let dom = headless(&page, &["--dump-dom"]);
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let rendered = String::from_utf8_lossy(&dom.stdout);
    // Chromium dumps the DOM as HTML (not XML): count the elements by their tags.
    let count = |tag: &str| rendered.matches(&format!("<{tag}")).count();
    assert!(
        count("svg") >= 6,
        "RSS, CPU, threads, rps, latency and leak charts: {} svg",
        count("svg")
    );
    assert!(
        count("table") >= 3,
        "SLO, endpoint and resource tables: {}",
        count("table")
    );
    assert!(count("polyline") + count("path") >= 6, "the charts have lines");
    for text in [
        "work.p95",
        "stream.first_chunk.p95",
        "leak",
        "demo_cpu_work",
        "stream",
        "health",
    ] {
        assert!(rendered.contains(text), "the rendered page shows {text}");
    }
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.contains("Uncaught"), "a script failed in the page: {log}");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = headless(
        &page,
        &[&format!("--screenshot={}", shot.display()), "--window-size=1280,4200"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("the screenshot is written");
    assert_eq!(&png[1..4], b"PNG");
    // A blank 1280x4200 page compresses to a few KB; charts and tables do not.
    assert!(
        png.len() > 100_000,
        "the screenshot is {} bytes: a blank page?",
        png.len()
    );
    println!("screenshot: {}", shot.display());

    // `loadprof report` draws the page again from the stored files.
    let again = dir.path().join("again.html");
    let out = loadprof()
        .arg("report")
        .arg(dir.path().join("result.json"))
        .arg("--html")
        .arg(&again)
        .arg("--markdown")
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("| `leak` |"));
    let redrawn = std::fs::read_to_string(&again).unwrap();
    assert!(redrawn.contains("<svg") && redrawn.contains("work.p95"));

    // The trend page across two stored runs.
    let second = dir.path().join("second");
    demo(&second, &[]);
    let trend = dir.path().join("trend.html");
    let out = loadprof()
        .args(["report", "--trend"])
        .arg(dir.path().join("result.json"))
        .arg(second.join("result.json"))
        .arg("--html")
        .arg(&trend)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = headless(&trend, &["--dump-dom"]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    assert!(
        rendered.matches("<svg").count() >= 4,
        "p95, rps, peak RSS and leak slope charts"
    );
    assert!(rendered.contains("second"), "the runs are listed by path");
}
