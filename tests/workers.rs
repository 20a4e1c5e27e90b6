//! Load workers side by side (`--worker-index`, `--worker-count`,
//! `--start-at`), as the pods of a Kubernetes Indexed Job run them: every
//! worker starts its schedule at one agreed instant, constant arrivals
//! interleave across workers, a late worker joins the schedule where it is,
//! and `loadprof merge` adds them up. The server records each arrival, so
//! the interleaving is seen from where it matters.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{loadprof, output_text, python, serve};
use serde_json::Value;

fn server() -> (common::Guard, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/workers/arrivals_server.py");
    let mut cmd = Command::new(python());
    cmd.arg(script).args(["--port", "0"]);
    serve(cmd)
}

/// The agreed start, `ahead` from now, in RFC 3339 (as a person would write it).
fn start_at(ahead: Duration) -> (String, f64) {
    let at = chrono::Utc::now() + chrono::Duration::from_std(ahead).unwrap();
    (
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        at.timestamp_millis() as f64 / 1e3,
    )
}

fn worker(url: &str, rate: &str, index: u32, count: u32, at: &str, out: &Path) -> Child {
    loadprof()
        .args(["load", &format!("{url}/hit?w={index}"), "--rate", rate, "-d", "4s"])
        .args([
            "--worker-count",
            &count.to_string(),
            "--worker-index",
            &index.to_string(),
        ])
        .args(["--start-at", at, "-o"])
        .arg(out.join(format!("w{index}/result.json")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice::<Value>(&out.stdout).ok().unwrap_or(Value::Null)
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        common::validate(&text, None),
        "",
        "{} matches the schema",
        path.display()
    );
    serde_json::from_str(&text).unwrap()
}

/// The server's arrivals, in order: (seconds since the epoch, worker).
fn arrivals(url: &str) -> Vec<(f64, u32)> {
    let body = std::process::Command::new("curl")
        .args(["-sf", &format!("{url}/arrivals")])
        .output()
        .unwrap();
    let v: Vec<(f64, String)> = serde_json::from_slice(&body.stdout).unwrap();
    let mut a: Vec<(f64, u32)> = v.into_iter().map(|(t, w)| (t, w.parse().unwrap())).collect();
    a.sort_by(|x, y| x.0.total_cmp(&y.0));
    a
}

#[test]
fn workers_started_apart_share_one_schedule_that_interleaves_and_merges_to_the_asked_rate() {
    let (_s, url) = server();
    let dir = tempfile::tempdir().unwrap();
    let (at, at_s) = start_at(Duration::from_secs(4));
    // 100/s over four workers, each started 0.4 s after the one before.
    let mut children = Vec::new();
    for i in 0..4 {
        children.push(worker(&url, "100", i, 4, &at, dir.path()));
        std::thread::sleep(Duration::from_millis(400));
    }
    for c in children {
        finish(c);
    }
    let mut parts = Vec::new();
    for i in 0..4u32 {
        let doc = read(&dir.path().join(format!("w{i}/result.json")));
        let load = &doc["load"];
        assert_eq!(load["worker"], serde_json::json!({"index": i, "count": 4}));
        assert!(
            load["start_at"].as_str().unwrap().starts_with(&at[..19]),
            "{}",
            load["start_at"]
        );
        let skew = load["start_skew_ms"].as_f64().unwrap();
        assert!(
            skew.abs() < 250.0,
            "worker {i} started {skew} ms from the agreed instant"
        );
        // 25/s for 4 s each, all of it.
        assert_eq!(load["totals"]["requests"], 100, "worker {i}");
        parts.push(dir.path().join(format!("w{i}/result.json")));
    }
    let merged_path = dir.path().join("merged.json");
    let out = loadprof()
        .arg("merge")
        .args(&parts)
        .arg("-o")
        .arg(&merged_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let merged = read(&merged_path);
    assert_eq!(merged["load"]["totals"]["requests"], 400);
    let rps = merged["load"]["totals"]["rps"].as_f64().unwrap();
    assert!((rps - 100.0).abs() < 5.0, "merged rate {rps}/s for 100/s asked");
    assert_eq!(merged["load"]["start_at"], parts_start(&parts));
    assert_eq!(merged["load"]["merged"]["indexes"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(merged["load"]["merged"]["problems"], serde_json::json!([]));

    // The SLOs are judged on the whole: each worker's 25/s misses a rate
    // the four of them meet together.
    let gate = |path: &Path| {
        loadprof()
            .args(["gate"])
            .arg(path)
            .args(["--slo", "all.rps=>= 90"])
            .output()
            .unwrap()
    };
    assert_eq!(gate(&parts[0]).status.code(), Some(1));
    let whole = gate(&merged_path);
    assert_eq!(whole.status.code(), Some(0), "{}", output_text(&whole));

    // Three of the four are not the load: the merge says so and fails,
    // and so does a gate on it, unless an incomplete merge is allowed.
    let partial = dir.path().join("partial.json");
    let out = loadprof()
        .arg("merge")
        .args(&parts[..3])
        .arg("-o")
        .arg(&partial)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 of 4 workers missing (index 3): the merge holds 3/4 of the load"),
        "{text}"
    );
    let doc = read(&partial);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["load"]["merged"]["missing"], serde_json::json!([3]));
    let g = gate(&partial);
    assert_eq!(g.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&g.stdout).contains("FAIL workers: 1 of 4 workers missing"));
    let out = loadprof()
        .arg("merge")
        .args(&parts[..3])
        .args(["--allow-incomplete", "-o"])
        .arg(&partial)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = loadprof()
        .arg("merge")
        .args([&parts[0], &parts[0]])
        .arg("-o")
        .arg(&partial)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("worker 0 of 4 again"));

    // From the server's side: the first arrival at the agreed instant, and
    // the workers' arrivals taking turns 10 ms apart, not four at once
    // every 40 ms.
    let a = arrivals(&url);
    assert_eq!(a.len(), 400);
    assert!(
        (a[0].0 - at_s).abs() < 0.25,
        "first arrival {:.3} s from the start",
        a[0].0 - at_s
    );
    let pairs = a.windows(2).count() as f64;
    let in_turn = a.windows(2).filter(|w| w[1].1 == (w[0].1 + 1) % 4).count() as f64;
    let together = a.windows(2).filter(|w| w[1].0 - w[0].0 < 0.001).count() as f64;
    assert!(
        in_turn / pairs > 0.6,
        "only {in_turn} of {pairs} arrivals followed the previous worker's"
    );
    assert!(
        together / pairs < 0.2,
        "{together} of {pairs} arrivals came within 1 ms of the one before"
    );
}

fn parts_start(parts: &[std::path::PathBuf]) -> Value {
    read(&parts[0])["load"]["start_at"].clone()
}

#[test]
fn a_worker_that_starts_late_joins_the_schedule_where_it_is_without_a_burst() {
    let (_s, url) = server();
    let dir = tempfile::tempdir().unwrap();
    let (at, at_s) = start_at(Duration::from_secs(2));
    // 100/s over two workers; the second starts 1.5 s after the instant.
    let first = worker(&url, "100", 0, 2, &at, dir.path());
    std::thread::sleep(Duration::from_millis(3500));
    let second = worker(&url, "100", 1, 2, &at, dir.path());
    finish(first);
    finish(second);
    let on_time = read(&dir.path().join("w0/result.json"));
    let late = read(&dir.path().join("w1/result.json"));
    assert_eq!(on_time["load"]["totals"]["requests"], 200);
    let skew = late["load"]["start_skew_ms"].as_f64().unwrap();
    assert!((1300.0..3000.0).contains(&skew), "the late worker's skew: {skew} ms");
    // It sends what was due from when it joined, not what it missed.
    let sent = late["load"]["totals"]["requests"].as_u64().unwrap() as f64;
    let due = 50.0 * (4.0 - skew / 1e3);
    assert!((sent - due).abs() <= 6.0, "sent {sent}, due {due:.0} after joining");
    let a: Vec<f64> = arrivals(&url).into_iter().filter(|x| x.1 == 1).map(|x| x.0).collect();
    let burst = a.iter().filter(|&&t| t - a[0] < 0.1).count();
    assert!(burst <= 8, "{burst} arrivals in its first 100 ms (50/s is 5)");
    // Its schedule is the shared one: it ends with the others.
    let end = a.last().unwrap() - at_s;
    assert!((3.7..4.3).contains(&end), "its last arrival {end:.2} s after the start");
}

#[test]
fn worker_flags_and_the_index_from_the_job_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (past, _) = {
        let at = chrono::Utc::now() - chrono::Duration::seconds(30);
        (at.to_rfc3339(), 0)
    };
    for (args, env, says) in [
        (vec!["--start-at", past.as_str()], None, "--max-start-skew"),
        (vec!["--start-at", "tomorrow"], None, "RFC 3339"),
        (vec!["--start-at", "+25h"], None, "24h"),
        (
            vec!["--worker-count", "2"],
            Some("2"),
            "--worker-index 2 --worker-count 2",
        ),
        (vec!["--worker-count", "2"], Some("x"), "JOB_COMPLETION_INDEX"),
        (vec!["--max-start-skew", "2h"], None, "--max-start-skew"),
    ] {
        let mut cmd = loadprof();
        cmd.args(["load", "http://127.0.0.1:9/", "--rate", "10", "-d", "1s", "-o"])
            .arg(dir.path().join("r.json"))
            .args(&args);
        match env {
            Some(v) => cmd.env("JOB_COMPLETION_INDEX", v),
            None => cmd.env_remove("JOB_COMPLETION_INDEX"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", output_text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // The index a Job gives its pod is this worker's.
    let (_s, url) = server();
    let out = loadprof()
        .args([
            "load",
            &format!("{url}/hit"),
            "--rate",
            "20",
            "-d",
            "1s",
            "--worker-count",
            "3",
            "--json",
            "-o",
        ])
        .arg(dir.path().join("job/result.json"))
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let doc = read(&dir.path().join("job/result.json"));
    assert_eq!(doc["load"]["worker"], serde_json::json!({"index": 2, "count": 3}));
    assert!(doc["load"].get("start_at").is_none());
}
