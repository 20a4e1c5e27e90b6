//! `loadprof run` and `loadprof demo` end to end, with real processes: the
//! demo passes and its leaking twin fails; a target that dies mid-run, a
//! SIGINT, a broken profile and a baseline regression each end the way
//! DESIGN.md says, and every output is written and valid.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{RUN_FILES, free_port, loadprof, output_text, python, validate};
use serde_json::Value;

fn result(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("result.json")).expect("result.json is written");
    assert_eq!(validate(&text, None), "", "result.json matches the schema");
    serde_json::from_str(&text).unwrap()
}

/// A profile that starts loadprof's demo target on a free port, with
/// `extra` TOML appended.
fn demo_target_profile(dir: &Path, load: &str, extra: &str) -> std::path::PathBuf {
    let port = free_port();
    let exe = env!("CARGO_BIN_EXE_loadprof");
    let profile = format!(
        r#"name = "demo-target-run"

[target]
command = ["{exe}", "demo-target", "--listen", "127.0.0.1:{port}"]
ready_url = "http://127.0.0.1:{port}/health"

[load]
base_url = "http://127.0.0.1:{port}"
{load}

[[load.request]]
name = "work"
path = "/work?n=200000"

[[load.request]]
name = "stream"
path = "/stream?chunks=4&gap_ms=5"
stream = "sse"
{extra}"#
    );
    let path = dir.join("profile.toml");
    std::fs::write(&path, profile).unwrap();
    path
}

/// Starts `loadprof run PROFILE --out OUT` with its output captured.
fn start_run(profile: &Path, out: &Path) -> std::process::Child {
    loadprof()
        .arg("run")
        .arg(profile)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn the_demo_passes_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    // 20 s, not the shortest the demo takes (6 s): the leak verdict needs
    // 6 s of samples after the flame graph's window, and symbolising a
    // debug build's profile on a busy machine stretches that window by
    // several seconds (5.5 s with two busy loops beside the tests).
    let out = loadprof()
        .args(["demo", "--duration", "20s", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for f in RUN_FILES {
        let meta = std::fs::metadata(dir.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let doc = result(dir.path());
    assert_eq!(doc["run"]["outcome"], "completed");
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["leak"]["verdict"], "no_leak", "{}", doc["leak"]["reason"]);
    assert_eq!(doc["flame"]["profiler"], "pprof");
    assert!(doc["flame"]["samples"].as_u64().unwrap() > 50, "{}", doc["flame"]);
    let frames: Vec<&str> = doc["flame"]["hottest"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["frame"].as_str())
        .collect();
    // Most of the service's CPU went to the CPU-bound endpoint's work. In
    // the tests' debug build that work is split between `demo_cpu_work` and
    // the std helpers it calls (not inlined), so its own self time can
    // fall out of the five hottest frames: count the stacks through it.
    let folded = std::fs::read_to_string(dir.path().join("flame.folded")).unwrap();
    let folded = loadprof::flame::Folded::parse(&folded).unwrap();
    let (through, all) = (folded.weight_of("demo_cpu_work"), folded.total());
    assert!(
        through * 2 > all,
        "the CPU-bound endpoint's work holds most of the CPU: {through} of {all}; hottest frames {frames:?}"
    );
    assert!(
        !frames.iter().any(|f| f.starts_with("backtrace::")),
        "the profiler's own frames are not: {frames:?}"
    );
    // SSE first-chunk timing is measured and judged.
    let stream = doc["load"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "stream")
        .unwrap();
    assert!(stream["first_chunk"]["p95_ms"].as_f64().unwrap() > 0.0);
    let slo: Vec<&Value> = doc["slo"].as_array().unwrap().iter().collect();
    assert!(slo.len() >= 5 && slo.iter().all(|s| s["pass"] == true), "{slo:?}");
    // One clock: the flame window and the load window sit inside the run.
    let w = &doc["run"]["windows"];
    let (l0, l1) = (w["load"][0].as_f64().unwrap(), w["load"][1].as_f64().unwrap());
    let (f0, f1) = (w["flame"][0].as_f64().unwrap(), w["flame"][1].as_f64().unwrap());
    assert!(l0 < f0 && f1 <= l1 + 1.0 && l1 <= w["end_s"].as_f64().unwrap(), "{w}");
    assert!((l1 - l0 - 20.0).abs() < 2.0, "{w}");
    // Samples cover the load and the settle phase after it.
    let samples = common::Csv::read(&dir.path().join("samples.csv"));
    let last = samples.values("elapsed_s").last().copied().flatten().unwrap();
    assert!(
        last > l1 + 2.0,
        "sampling went on after the load: last sample {last}, load ended {l1}"
    );
    // JUnit: one case per SLO and one for the leak check, none failed.
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let xml = roxmltree::Document::parse(&junit).unwrap();
    let cases = xml.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(cases, slo.len() + 1, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("passed"), "{md}");
    // The profile the demo ran is kept, and it is a valid profile.
    let v = loadprof()
        .arg("validate")
        .arg(dir.path().join("demo.toml"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", output_text(&v));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("verdict: PASSED") && stdout.contains("report.html"),
        "{stdout}"
    );
}

#[test]
fn the_leaking_demo_reports_a_leak_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = loadprof()
        .args(["demo", "--leak", "--duration", "20s", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let doc = result(dir.path());
    assert_eq!(doc["run"]["outcome"], "completed");
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["leak"]["verdict"], "leak", "{}", doc["leak"]["reason"]);
    let leak_slo = doc["slo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "leak")
        .unwrap();
    assert_eq!(leak_slo["pass"], false);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("failed"), "{md}");
    // Where jemalloc's profiler is installed, the verdict names the leak.
    if doc["heap"].is_object() {
        let reason = doc["leak"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("demo_keep_request_memory"),
            "{reason}\n{:#}",
            doc["heap"]
        );
    } else {
        eprintln!("no heap profile: jemalloc's profiler (libjemalloc2, jeprof) is not installed");
    }
}

#[test]
fn a_target_that_dies_mid_run_gives_target_exited_exit_3_and_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A real HTTP server that is killed (SIGKILL) 3 seconds after it starts.
    let server = format!(
        "import http.server, threading, os, signal\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.send_header('Content-Length', '3'); self.end_headers(); self.wfile.write(b'ok\\n')\n\
         \x20   def log_message(self, *a): pass\n\
         threading.Timer(3.0, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()\n\
         http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    );
    let profile = format!(
        r#"name = "dies"
[target]
command = ["{py}", "-c", {server:?}]
ready_url = "http://127.0.0.1:{port}/"

[load]
base_url = "http://127.0.0.1:{port}"
users = 2
think_time = "20ms"
duration = "30s"

[[load.request]]
path = "/"
"#,
        py = python(),
        server = server,
    );
    let path = dir.path().join("dies.toml");
    std::fs::write(&path, profile).unwrap();
    let t0 = Instant::now();
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "the run ended when the target did"
    );
    let out_dir = dir.path().join("out");
    let doc = result(&out_dir);
    assert_eq!(doc["run"]["outcome"], "target_exited");
    assert_eq!(doc["resources"]["target_exited"], true);
    assert_eq!(
        doc["resources"]["target"]["exit"]["signal"], 9,
        "{}",
        doc["resources"]["target"]
    );
    assert!(
        doc["load"]["totals"]["requests"].as_u64().unwrap() > 10,
        "{}",
        doc["load"]["totals"]
    );
    assert_eq!(doc["passed"], false);
    for f in ["samples.csv", "timeline.csv", "report.html", "summary.md", "junit.xml"] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("target exited"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn sigint_mid_run_writes_a_partial_valid_result_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_target_profile(
        dir.path(),
        "users = 4\nduration = \"60s\"",
        "\n[flame]\nprofiler = \"off\"\n",
    );
    let out_dir = dir.path().join("out");
    let child = start_run(&path, &out_dir);
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", output_text(&out));
    assert!(t0.elapsed() < Duration::from_secs(15), "stopped soon after SIGINT");
    let doc = result(&out_dir);
    assert_eq!(doc["run"]["outcome"], "interrupted");
    assert!(doc["load"]["totals"]["requests"].as_u64().unwrap() > 0);
    assert!(doc["resources"]["samples"].as_u64().unwrap() > 5);
    assert!(out_dir.join("report.html").exists());
    // The target loadprof started is gone with it.
    let pid = doc["resources"]["target"]["pid"].as_u64().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the target was stopped");
}

#[test]
fn a_folder_another_run_is_writing_is_refused_naming_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_target_profile(
        dir.path(),
        "users = 2\nduration = \"60s\"",
        "\n[flame]\nprofiler = \"off\"\n",
    );
    let out_dir = dir.path().join("out");
    let first = start_run(&path, &out_dir);
    common::wait_for("the first run to claim its folder", Duration::from_secs(20), || {
        out_dir.join(".loadprof.lock").exists()
    });
    let pid = format!("pid {}", first.id());
    for args in [vec!["run", path.to_str().unwrap()], vec!["demo", "--duration", "6s"]] {
        let second = loadprof().args(&args).arg("--out").arg(&out_dir).output().unwrap();
        let text = output_text(&second);
        assert_eq!(second.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(&pid) && text.contains("--out"), "{args:?}: {text}");
    }
    common::wait_for("the first run to sample", Duration::from_secs(20), || {
        std::fs::read_to_string(out_dir.join("samples.csv")).is_ok_and(|t| t.lines().count() > 3)
    });
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", output_text(&out));
    // Only the first run's rows: its samples come from one target.
    let doc = result(&out_dir);
    assert_eq!(doc["run"]["outcome"], "interrupted");
    assert!(!out_dir.join(".loadprof.lock").exists(), "the claim ends with the run");
    assert!(!out_dir.join("demo.toml").exists(), "the refused demo wrote nothing");
}

#[test]
fn a_broken_profile_exits_2_naming_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "name = \"broken\"\n[load]\nbase_url = \"http://127.0.0.1:9\"\nduration = \"10 parsecs\"\n[[load.request]]\npath = \"/\"\n",
    )
    .unwrap();
    let out = loadprof().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:4") && err.contains("load.duration"), "{err}");

    std::fs::write(&path, "[lod]\nbase_url = \"x\"\n").unwrap();
    let out = loadprof().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("load"),
        "a did-you-mean hint: {}",
        output_text(&out)
    );
}

#[test]
fn a_baseline_regression_fails_the_gate_and_the_report_shows_both_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_target_profile(
        dir.path(),
        "users = 2\nduration = \"3s\"",
        "\n[leak]\nsettle = \"1s\"\nmin_window = \"5s\"\n[baseline]\nmax_regression = \"10%\"\n",
    );
    let first = dir.path().join("first");
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&first)
        .output()
        .unwrap();
    // The leak table gates the run, but 3 s are too few for a verdict: inconclusive passes.
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // A baseline where everything was twice as fast and nothing grew.
    let mut base = result(&first);
    for e in base["load"]["endpoints"].as_array_mut().unwrap() {
        let p95 = e["latency"]["p95_ms"].as_f64().unwrap();
        e["latency"]["p95_ms"] = (p95 / 2.0).into();
    }
    let base_path = dir.path().join("baseline.json");
    std::fs::write(&base_path, serde_json::to_vec(&base).unwrap()).unwrap();

    let second = dir.path().join("second");
    let alerts = dir.path().join("alerts.jsonl");
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&second)
        .arg("--baseline")
        .arg(&base_path)
        .arg("--alerts")
        .arg(&alerts)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let doc = result(&second);
    let cmp = doc["baseline"]["comparisons"].as_array().unwrap();
    let work = cmp
        .iter()
        .find(|c| c["metric"] == "work.p95")
        .expect("work.p95 compared");
    assert_eq!(work["pass"], false, "{work}");
    assert!(work["change_pct"].as_f64().unwrap() > 10.0, "{work}");
    let html = std::fs::read_to_string(second.join("report.html")).unwrap();
    assert!(html.contains("work.p95"), "the report shows the comparison");
    // `gate` re-judges the stored result the same way.
    let gate = loadprof()
        .arg("gate")
        .arg(second.join("result.json"))
        .arg("--baseline")
        .arg(&base_path)
        .output()
        .unwrap();
    assert_eq!(gate.status.code(), Some(1), "{}", output_text(&gate));
    // No SLO was breached, so no alert lines.
    assert!(!alerts.exists() || std::fs::read_to_string(&alerts).unwrap().is_empty());
}

#[test]
fn set_overrides_profile_keys_and_the_load_warmup_is_left_out_of_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_target_profile(dir.path(), "users = 2\nduration = \"60s\"", "");
    let out_dir = dir.path().join("out");
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .args([
            "--set",
            "load.duration=3s",
            "--set",
            "load.warmup=1s",
            "--set",
            "leak.settle=1s",
            "--set",
            "name=overridden",
            "--set",
            "slo.\"work.p99\"=< 5s",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc = result(&out_dir);
    assert_eq!(doc["run"]["profile"], "overridden");
    let load = &doc["load"];
    assert_eq!(load["warmup_s"], 1.0);
    let warm = load["warmup_requests"].as_u64().unwrap();
    let counted = load["totals"]["requests"].as_u64().unwrap();
    assert!(warm > 0 && counted > warm, "warm-up {warm}, counted {counted}");
    // The timeline shows every request, the warm-up's too.
    let timeline = common::Csv::read(&out_dir.join("timeline.csv"));
    let all: f64 = timeline.values("requests").iter().flatten().sum();
    assert_eq!(all as u64, warm + counted);
    assert!(
        (load["duration_s"].as_f64().unwrap() - 2.0).abs() < 0.5,
        "{}",
        load["duration_s"]
    );
    let slo = doc["slo"].as_array().unwrap();
    assert!(
        slo.iter().any(|s| s["name"] == "work.p99" && s["pass"] == true),
        "{slo:?}"
    );

    // A bad value given with --set names the flag, not a line of the file.
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .args(["--set", "load.users=many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--set load.users=many"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn a_target_that_never_becomes_ready_fails_with_exit_3_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let profile = format!(
        r#"name = "never-ready"
[target]
command = ["{py}", "-c", "import time; time.sleep(60)"]
ready_url = "http://127.0.0.1:{port}/health"
ready_timeout = "2s"
stop_grace = "1s"

[load]
base_url = "http://127.0.0.1:{port}"
duration = "5s"

[[load.request]]
path = "/"
"#,
        py = python(),
    );
    let path = dir.path().join("never.toml");
    std::fs::write(&path, profile).unwrap();
    let t0 = std::time::Instant::now();
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert!(t0.elapsed() < Duration::from_secs(10));
    let doc = result(&dir.path().join("out"));
    assert_eq!(doc["run"]["outcome"], "failed");
    let reason = doc["run"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not become ready") && reason.contains(&port.to_string()),
        "{reason}"
    );
    assert!(doc.get("load").is_none(), "no load ran");
    assert!(
        doc["resources"]["samples"].as_u64().unwrap() > 5,
        "the target was sampled while it was waited for"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not become ready"));
}
