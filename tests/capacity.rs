//! `loadprof capacity` against services whose capacity is known: W workers
//! with a fixed service time hold W/S requests a second whatever the CPU
//! (tests/data/capacity/queue_server.py).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{loadprof, output_text, serve};
use serde_json::Value;

fn server(args: &[&str]) -> (common::Guard, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/capacity/queue_server.py");
    let mut cmd = Command::new(common::python());
    cmd.arg(script).args(["--port", "0"]).args(args);
    serve(cmd)
}

fn capacity(url: &str, extra: &[&str], out: &Path) -> (Output, Value) {
    let o = loadprof()
        .args(["capacity", url, "--hold", "3s", "--warmup", "1s", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let doc = std::fs::read(out.join("capacity.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (o, doc)
}

#[test]
fn a_fixed_service_time_is_found_within_ten_percent_of_workers_over_service_time() {
    let (_s, url) = server(&["--workers", "4", "--service-ms", "50"]);
    let dir = tempfile::tempdir().unwrap();
    let (o, doc) = capacity(
        &format!("{url}/work"),
        &["--slo", "all.p95=< 70ms", "--start-rate", "20"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let found = doc["max_rate"].as_f64().unwrap();
    let truth = 4.0 / 0.05;
    assert!(
        (found - truth).abs() <= 0.1 * truth,
        "found {found}, truth {truth}: {doc}"
    );
    assert_eq!(doc["limited_by"], "slo", "{doc}");
    assert_eq!(doc["converged"], true);
    let probes = doc["probes"].as_array().unwrap();
    assert!(probes.iter().any(|p| p["confirming"] == true && p["pass"] == true));
    assert!(
        probes
            .iter()
            .all(|p| p["pass"].as_bool() == Some(p["rate"].as_f64().unwrap() <= found + 1e-9))
    );
    assert!(output_text(&o).contains("capacity: "), "{}", output_text(&o));
}

#[test]
fn a_queue_limit_that_answers_503_is_limited_by_errors() {
    let (_s, url) = server(&["--workers", "4", "--service-ms", "50", "--queue-limit", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (o, doc) = capacity(
        &format!("{url}/work"),
        &[
            "--slo",
            "all.p95=< 2s",
            "--slo",
            "all.error_rate=< 1%",
            "--start-rate",
            "20",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(doc["limited_by"], "errors", "{doc}");
    let found = doc["max_rate"].as_f64().unwrap();
    assert!((40.0..=80.0).contains(&found), "{found}");
}

#[test]
fn a_loadprof_held_back_is_generator_limited_never_the_services_capacity() {
    // 50 workers of 50 ms hold 1000/s; three requests in flight carry ~60/s.
    let (_s, url) = server(&["--workers", "50", "--service-ms", "50"]);
    let dir = tempfile::tempdir().unwrap();
    let (o, doc) = capacity(
        &format!("{url}/work"),
        &["--slo", "all.p95=< 1s", "--start-rate", "20", "--max-in-flight", "3"],
        dir.path(),
    );
    assert_eq!(doc["limited_by"], "generator", "{doc}\n{}", output_text(&o));
    assert_eq!(doc["converged"], false);
    let text = output_text(&o);
    assert!(text.contains("loadprof could not offer more"), "{text}");
    let last = doc["probes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["limited_by"], "generator", "{last}");
}

#[test]
fn bad_settings_are_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/work";
    for (extra, wanted) in [
        (vec![], "needs an SLO"),
        (
            vec!["--slo", "all.p95=< 1s", "--start-rate", "500", "--max-rate", "100"],
            "--start-rate",
        ),
        (vec!["--slo", "all.p95=< 1s", "--precision", "0%"], "--precision"),
        (vec!["--slo", "all.p95=< 1s", "--precision", "100%"], "--precision"),
        (vec!["--slo", "all.p95=< 1s", "--max-time", "2s"], "--max-time"),
        (vec!["--slo", "nonsense"], "--slo"),
    ] {
        let (o, _) = capacity(url, &extra, &dir.path().join("x"));
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", output_text(&o));
        assert!(output_text(&o).contains(wanted), "{extra:?}: {}", output_text(&o));
    }
}
