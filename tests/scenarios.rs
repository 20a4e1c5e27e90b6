//! The scenario profiles under profiles/ run for real against the test
//! suite's targets (the aiohttp RAG and API servers, the Go pprof server),
//! shortened with --set and moved to free ports; everything else is the
//! profile as shipped. scripts/run-scenarios.sh runs all of them at full
//! length.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{RUN_FILES, endpoint, free_port, go_server_binary, loadprof, output_text, python, validate};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs `profiles/NAME.toml` with its target started by `command` on
/// `port`, plus `extra` overrides; returns the output and the result.
fn run_profile(name: &str, command: &[String], port: u16, extra: &[&str], out: &Path) -> (Output, Value) {
    let quoted: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    let mut args: Vec<String> = vec![
        "run".into(),
        repo(&format!("profiles/{name}.toml")).display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--set".into(),
        format!("target.command=[{}]", quoted.join(", ")),
        "--set".into(),
        format!("target.ready_url=http://127.0.0.1:{port}/health"),
        "--set".into(),
        format!("load.base_url=http://127.0.0.1:{port}"),
    ];
    for e in extra {
        args.push("--set".into());
        args.push(e.to_string());
    }
    // prism-console logs in with the test console's password.
    let output = loadprof()
        .args(&args)
        .env("LOADPROF_PASSWORD", "s3cret")
        .output()
        .unwrap();
    let doc = std::fs::read_to_string(out.join("result.json"))
        .unwrap_or_else(|e| panic!("result.json: {e}\n{}", output_text(&output)));
    assert_eq!(validate(&doc, None), "", "result.json matches the schema");
    (output, serde_json::from_str(&doc).unwrap())
}

fn python_server(script: &str, port: u16, extra: &[&str]) -> Vec<String> {
    let mut c = vec![
        python().to_string(),
        repo(&format!("tests/data/scenarios/{script}")).display().to_string(),
        "--port".into(),
        port.to_string(),
    ];
    c.extend(extra.iter().map(|s| s.to_string()));
    c
}

fn hottest(doc: &Value) -> Vec<String> {
    doc["flame"]["hottest"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["frame"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn rag_smoke_streams_answers_to_40_users_and_judges_quotes_apart_from_failures() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (out, doc) = run_profile(
        "rag-smoke",
        &python_server("rag_server.py", port, &[]),
        port,
        &["load.duration=10s", "load.spawn_rate=10"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let ask = endpoint(&doc, "ask");
    assert!(ask["first_chunk"]["p95_ms"].as_f64().unwrap() > 0.0);
    assert!(ask["requests"].as_u64().unwrap() > 100, "{ask}");
    // Some answers lack a page quote: check failures, not failed requests.
    let checks = ask["check_failures"].as_u64().unwrap();
    assert!(checks > 0, "the server leaves out some quotes: {ask}");
    let slo = doc["slo"].as_array().unwrap();
    let success = slo.iter().find(|s| s["name"] == "all.success_rate").unwrap();
    assert_eq!(success["observed"], 1.0, "{success}");
    assert_eq!(doc["load"]["workers"], 40);
}

#[test]
fn api_baseline_profiles_the_python_server_with_py_spy_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (out, doc) = run_profile(
        "api-baseline-50qps",
        &python_server("api_server.py", port, &[]),
        port,
        &[
            "load.duration=12s",
            "flame.start_after=2s",
            "flame.duration=6s",
            "leak.warmup=3s",
            "leak.settle=2s",
            &format!("metrics.scrape=[\"http://127.0.0.1:{port}/metrics\"]"),
        ],
        dir.path(),
    );
    // The SLOs are the profile's own: on a busy machine a p99 may miss, so
    // only "ran and was judged" is required of the exit code.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", output_text(&out));
    for f in RUN_FILES.iter().chain(&["target.log"]) {
        assert!(dir.path().join(f).exists(), "{f}\n{}", output_text(&out));
    }
    assert_eq!(doc["flame"]["profiler"], "py-spy", "{}", doc["flame"]);
    let frames = hottest(&doc);
    assert!(
        frames.iter().any(|f| f.contains("api_server.py")),
        "the server's own Python functions are in the flame graph: {frames:?}"
    );
    let rate = doc["load"]["totals"]["rps"].as_f64().unwrap();
    assert!((rate - 50.0).abs() < 5.0, "the open model holds 50/s: {rate}");
    for name in ["search", "chat", "vector_search", "health"] {
        assert!(endpoint(&doc, name)["requests"].as_u64().unwrap() > 0, "{name}");
    }
    assert_eq!(doc["slo"].as_array().unwrap().len(), 15);
    assert!(doc["resources"]["rss_bytes"]["max"].as_u64().unwrap() > 10 << 20);
    // The server's own figures were scraped and judged.
    let routes: Vec<&str> = doc["metrics"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    for route in ["/search", "/chat", "/vector/search"] {
        assert!(routes.contains(&route), "{route} in {routes:?}");
    }
    for name in [
        "server.http_request_duration_seconds.p95",
        "server.retrieval_latency_ms.p95",
    ] {
        let s = doc["slo"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert!(s["observed"].as_f64().is_some(), "{s}");
    }
}

#[test]
fn agent_core_gate_takes_a_pprof_flame_graph_of_the_go_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bin = go_server_binary().display().to_string();
    let (out, doc) = run_profile(
        "agent-core-gate",
        &[bin, "-port".into(), port.to_string()],
        port,
        &[
            "load.duration=8s",
            format!("flame.pprof_url=http://127.0.0.1:{port}/debug/pprof/profile").as_str(),
            "flame.start_after=1s",
            "flame.duration=4s",
            format!("metrics.scrape=[\"http://127.0.0.1:{port}/metrics\"]").as_str(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(doc["flame"]["profiler"], "pprof");
    let frames = hottest(&doc);
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("main.") || f.contains("sha256") || f.contains("sort")),
        "Go frames: {frames:?}"
    );
    let search = endpoint(&doc, "search");
    assert_eq!(
        search["check_failures"], 0,
        "every answer is a JSON list of results: {search}"
    );
    assert!(search["requests"].as_u64().unwrap() >= 70, "{search}");
    let served = doc["slo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "server.'search_requests_total{code=\"200\"}'.rate")
        .unwrap();
    assert!(served["observed"].as_f64().is_some_and(|r| r > 8.0), "{served}");
}

#[test]
fn nightly_leak_fails_when_the_service_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (out, doc) = run_profile(
        "nightly-leak",
        &python_server("api_server.py", port, &["--leak"]),
        port,
        &[
            "load.duration=30s",
            "load.rate=60",
            "leak.warmup=5s",
            "leak.settle=3s",
            "leak.min_window=15s",
            "sample.interval=100ms",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(doc["leak"]["verdict"], "leak", "{}", doc["leak"]["reason"]);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    // memray (where it can run) names the code that kept the memory.
    if doc["heap"]["error"].is_null() {
        let reason = doc["leak"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("in search (") && reason.contains("api_server.py:"),
            "{reason}"
        );
        assert!(junit.contains("search ("), "{junit}");
    } else {
        eprintln!("the heap profile was not taken: {}", doc["heap"]["error"]);
    }
}

#[test]
fn prism_console_runs_three_journeys_side_by_side_and_judges_each_flow() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The profile's 2 minutes shortened; the job scenario's users each run
    // 4 iterations instead of 30.
    let (out, doc) = run_profile(
        "prism-console",
        &python_server("console_server.py", port, &[]),
        port,
        &[
            "load.duration=6s",
            r#"scenarios.quantum.stages=[{target=10,duration="6s"}]"#,
            "scenarios.jobs.iterations=4",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let scenarios = doc["load"]["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["ui", "quantum", "jobs"]);
    for s in scenarios {
        assert!(s["iterations"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["failed_iterations"], 0, "{s}");
    }
    assert_eq!(scenarios[2]["iterations"], 40, "10 users x 4 jobs");
    // The login's token reached the simulation: no 401.
    let simulate = endpoint(&doc, "quantum.simulate");
    assert_eq!(simulate["errors"], 0, "{simulate}");
    assert!(endpoint(&doc, "jobs.status")["turnaround"]["p50_ms"].as_f64().unwrap() >= 550.0);
    let slos: Vec<&str> = doc["slo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for flow in ["ui.flow.p95", "quantum.flow.p95", "jobs.flow.p95"] {
        assert!(slos.contains(&flow), "{slos:?}");
    }
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("jobs.flow.p95"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains(r#"id="journeys""#) && html.contains("turnaround"));
    // The console was sampled while it served the three flows.
    assert!(doc["resources"]["rss_bytes"]["max"].as_f64().unwrap() > 0.0);
}

#[test]
fn api_breaking_point_finds_the_rate_the_api_sustains_with_its_resources_per_probe() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let command: Vec<String> = python_server("api_server.py", port, &[])
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    let out = loadprof()
        .arg("capacity")
        .arg(repo("profiles/api-breaking-point.toml"))
        .args(["--set", &format!("target.command=[{}]", command.join(", "))])
        .args(["--set", &format!("target.ready_url=http://127.0.0.1:{port}/health")])
        .args(["--set", &format!("load.base_url=http://127.0.0.1:{port}")])
        .args([
            "--hold",
            "3s",
            "--warmup",
            "1s",
            "--start-rate",
            "40",
            "--max-time",
            "75s",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(dir.path().join("capacity.json")).unwrap()).unwrap();
    assert!(doc["max_rate"].as_f64().unwrap() >= 40.0, "{doc}");
    let probes = doc["probes"].as_array().unwrap();
    assert!(probes.len() >= 3, "{doc}");
    for p in probes {
        assert!(
            p["rss_bytes_max"].as_u64().unwrap() > 10 << 20,
            "the server's RSS at each probe: {p}"
        );
        assert!(p["cpu_percent_mean"].as_f64().is_some(), "{p}");
    }
    assert!(dir.path().join("target.log").exists());
}
