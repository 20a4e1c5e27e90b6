//! The built-in demo target, served by `loadprof demo-target`: loaded by
//! `loadprof load`, profiled by `loadprof flame --pprof`, and leaking only
//! when told to.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Guard, demo_target, json, loadprof};

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn load(url: &str, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = loadprof()
        .args(["load", url, "--json", "-o"])
        .arg(dir.path().join("result.json"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(&out.stdout)
}

#[test]
fn the_cpu_endpoint_is_what_the_flame_graph_shows() {
    let (_target, url) = demo_target(&[]);
    let dir = tempfile::tempdir().unwrap();
    let background = loadprof()
        .args(["load", &format!("{url}/work?n=300000"), "-c", "2", "-d", "5s", "-o"])
        .arg(dir.path().join("load.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _load = Guard(background);
    std::thread::sleep(Duration::from_millis(300));
    let out = loadprof()
        .args(["flame", "--pprof", &url, "-d", "2s", "--json", "-o"])
        .arg(dir.path().join("flame.svg"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out.stdout);
    let folded = std::fs::read_to_string(dir.path().join("flame.folded")).unwrap();
    let hot = loadprof::flame::Folded::parse(&folded)
        .unwrap()
        .weight_of("demo_cpu_work");
    let total = doc["total"].as_u64().unwrap();
    assert!(
        hot * 2 > total,
        "demo_cpu_work carries most of the CPU ({hot} of {total})"
    );
}

#[test]
fn the_stream_endpoint_times_a_first_chunk_and_health_answers() {
    let (_target, url) = demo_target(&[]);
    let doc = load(
        &format!("{url}/stream?chunks=5&gap_ms=20"),
        &["--stream", "sse", "-c", "2", "-n", "10"],
    );
    let ep = &doc["load"]["endpoints"][0];
    assert_eq!(ep["requests"], 10, "{doc}");
    assert_eq!(ep["errors"], 0, "{doc}");
    let first = ep["first_chunk"]["p50_ms"].as_f64().expect("first-chunk timing");
    let whole = ep["latency"]["p50_ms"].as_f64().unwrap();
    // Five chunks 20 ms apart: the first arrives well before the end.
    assert!(first + 50.0 < whole, "first chunk {first} ms, whole answer {whole} ms");
    let doc = load(&format!("{url}/health"), &["-n", "5"]);
    assert_eq!(doc["load"]["totals"]["errors"], 0, "{doc}");
}

#[test]
fn only_the_leaking_target_keeps_memory() {
    let (steady, steady_url) = demo_target(&[]);
    let (leaky, leaky_url) = demo_target(&["--leak"]);
    let before = (rss_bytes(steady.pid()), rss_bytes(leaky.pid()));
    load(&format!("{steady_url}/health"), &["-c", "4", "-n", "400"]);
    load(&format!("{leaky_url}/health"), &["-c", "4", "-n", "400"]);
    let grew = (
        rss_bytes(steady.pid()).saturating_sub(before.0),
        rss_bytes(leaky.pid()).saturating_sub(before.1),
    );
    // 400 requests keep 400 × 64 KiB = 25 MiB in the leaking target.
    assert!(grew.1 > 20 << 20, "the leaking target grew by {} bytes", grew.1);
    assert!(grew.0 < 8 << 20, "the steady target grew by {} bytes", grew.0);
}

#[test]
fn readiness_is_waited_for_and_a_target_that_never_comes_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/health");
    let stop = loadprof::cancel::StopToken::new();
    // Nothing listens: the wait ends at its timeout, naming the address.
    let e = loadprof::http::wait_ready(&url, Duration::from_millis(400), &stop).unwrap_err();
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    // The target comes up while loadprof waits.
    let waiter = {
        let (url, stop) = (url.clone(), stop.clone());
        std::thread::spawn(move || loadprof::http::wait_ready(&url, Duration::from_secs(20), &stop))
    };
    std::thread::sleep(Duration::from_millis(500));
    let _target = demo_target(&["--listen", &format!("127.0.0.1:{port}")]);
    let waited = waiter.join().unwrap().unwrap().expect("ready before the timeout");
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    // A stop ends the wait at once.
    stop.stop(loadprof::cancel::StopReason::Signal(2));
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t0 = std::time::Instant::now();
    let r = loadprof::http::wait_ready(&format!("http://127.0.0.1:{free}/"), Duration::from_secs(20), &stop);
    assert_eq!(r, Ok(None));
    assert!(t0.elapsed() < Duration::from_secs(2));
}
