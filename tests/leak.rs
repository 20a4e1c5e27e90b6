//! End-to-end tests of `loadprof leak`: bad input, exit codes, the JSON
//! section, the plot, and the two real traces recorded with
//! `loadprof sample` (scripts/record-leak-traces.sh).

mod common;

use std::path::Path;
use std::process::Output;

use common::loadprof;
use serde_json::Value;

fn leak(args: &[&str]) -> Output {
    loadprof().arg("leak").args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes a 1 Hz CSV of `secs` rows of `f(t)` bytes.
fn csv(dir: &Path, name: &str, secs: usize, f: impl Fn(f64) -> f64) -> String {
    let mut text = String::from("elapsed_s,rss_bytes,vms_bytes\n");
    for i in 0..secs {
        let t = i as f64;
        text += &format!("{t},{},{}\n", f(t).round(), 1e9);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn a_leak_exits_1_with_a_json_section_and_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(dir.path(), "s.csv", 600, |t| {
        300.0 * MIB + t / 60.0 * 2.0 * MIB + (t * 7.0).sin() * 0.2 * MIB
    });
    let plot = dir.path().join("leak.svg");
    let out = leak(&[&path, "--json", "--limit", "2GB", "--plot", plot.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verdict"], "leak");
    assert_eq!(doc["metric"], "rss_bytes");
    let mib_per_min = doc["slope_bytes_per_s"].as_f64().unwrap() * 60.0 / MIB;
    assert!((mib_per_min - 2.0).abs() < 0.1, "{mib_per_min}");
    let ci = doc["slope_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() > 0.0 && ci[1].as_f64().unwrap() >= ci[0].as_f64().unwrap());
    assert!(doc["time_to_limit_s"].as_f64().unwrap() > 10.0 * 3600.0);
    assert!(
        doc["reason"].as_str().unwrap().contains("reaches 2.00 GiB in"),
        "{}",
        doc["reason"]
    );
    // The verdict for a person still goes to stderr.
    assert!(stderr(&out).contains("leak verdict: LEAK"));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<polyline") && svg.contains("<circle"));
}

#[test]
fn flat_memory_exits_0_and_too_short_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let flat = csv(dir.path(), "flat.csv", 600, |t| {
        300.0 * MIB + (t * 7.0).sin() * 0.5 * MIB
    });
    let out = leak(&[&flat]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("leak verdict: no leak"));
    let short = csv(dir.path(), "short.csv", 60, |t| 300.0 * MIB + t * MIB);
    let out = leak(&[&short]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("inconclusive"));
    // Another column of the same file.
    let out = leak(&[&flat, "--metric", "vms_bytes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_input_names_the_line_or_flag_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases = [
        (write("empty.csv", ""), vec![], "empty"),
        (
            write("cols.csv", "elapsed_s,heap\n0,1\n"),
            vec![],
            "no 'rss_bytes' column",
        ),
        (
            write("nan.csv", "elapsed_s,rss_bytes\n0,1\n1,x\n"),
            vec![],
            "line 3: rss_bytes is 'x'",
        ),
        (
            write("time.csv", "elapsed_s,rss_bytes\n1,1\n1,2\n"),
            vec![],
            "line 3: elapsed_s 1 does not increase",
        ),
        (
            write("ok.csv", "elapsed_s,rss_bytes\n0,1\n"),
            vec!["--max-growth", "1MB"],
            "--max-growth",
        ),
        (
            write("ok2.csv", "elapsed_s,rss_bytes\n0,1\n"),
            vec!["--warmup", "soon"],
            "--warmup",
        ),
    ];
    for (path, extra, want) in cases {
        let mut args = vec![path.as_str()];
        args.extend(extra);
        let out = leak(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(want),
            "{args:?}: expected '{want}' in {}",
            stderr(&out)
        );
    }
    let out = leak(&["/no/such/samples.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/samples.csv"));
    let out = leak(&["/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/dev/zero: is a character device"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_spreadsheet_csv_is_read_and_impossible_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // As a spreadsheet saves it: a byte-order mark, quoted header and
    // cells, CRLF line ends.
    let mut text = String::from("\u{feff}\"elapsed_s\",\"rss_bytes\"\r\n");
    for i in 0..600 {
        let bytes = 300.0 * MIB + (i as f64 * 7.0).sin() * 0.5 * MIB;
        text += &format!("\"{i}\",\"{}\"\r\n", bytes.round());
    }
    let path = dir.path().join("sheet.csv");
    std::fs::write(&path, text).unwrap();
    let out = leak(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no leak"));

    for (name, text, want) in [
        (
            "negative.csv",
            "elapsed_s,rss_bytes\n0,100\n1,-100\n",
            "negative.csv: line 3, column 2 (rss_bytes): -100 is below zero",
        ),
        (
            "wide.csv",
            "elapsed_s,rss_bytes\n0,100\n1,100,7\n",
            "wide.csv: line 3, column 3: the row has 3 cells but the header names 2 columns",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = leak(&[path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains(want), "expected '{want}' in {}", stderr(&out));
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/leak")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn real_python_server_that_keeps_memory_per_request_leaks() {
    let out = leak(&[&fixture("python-leak.csv"), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verdict"], "leak", "{}", doc["reason"]);
}

#[test]
fn real_python_server_whose_cache_fills_then_plateaus_does_not_leak() {
    let out = leak(&[&fixture("python-cache.csv"), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verdict"], "no_leak", "{}", doc["reason"]);
}
