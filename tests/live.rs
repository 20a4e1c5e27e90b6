//! A run watched as it happens: Prometheus scraping `--listen`, a
//! remote-write receiver (a real Prometheus, started here), the live page
//! in headless Chromium, the Grafana dashboard's queries, and `--notify`
//! posting the verdict to a webhook.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::prometheus::{encode, get, have};
use common::{free_port, loadprof, output_text, wait_for};
use serde_json::Value;

/// The value of a one-series instant query now.
fn query(base: &str, q: &str) -> Option<f64> {
    let (_, body) = get(&format!("{base}/api/v1/query?query={}", encode(q)))?;
    let doc: Value = serde_json::from_str(&body).ok()?;
    doc["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn result(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn load(url: &str, extra: &[&str], out: &Path) -> Output {
    loadprof()
        .args(["load", url, "--rate", "40", "-d", "5s", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn prometheus_scraping_listen_ends_with_the_same_request_count_as_the_result() {
    if !have("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_target, url) = common::demo_target(&[]);
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: loadprof\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let (_prom, base) = common::prometheus::start(dir.path(), &config, &dir.path().join("tsdb"), &[]);
    let out = dir.path().join("r/result.json");
    let started = Instant::now();
    let o = load(&format!("{url}/health"), &["--listen", &port.to_string()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let text = output_text(&o);
    assert!(text.contains(&format!("live: http://127.0.0.1:{port}/")), "{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(19),
        "the endpoint stays up 15 s after the load: {:?}",
        started.elapsed()
    );
    let doc = result(&out);
    let requests = doc["load"]["totals"]["requests"].as_f64().unwrap();
    assert!(requests >= 150.0, "{requests}");
    let theirs = query(&base, "sum(last_over_time(loadprof_requests_total[1m]))").unwrap();
    assert_eq!(theirs, requests, "Prometheus took the final count");
    let p95 = query(
        &base,
        "histogram_quantile(0.95, sum by (le) (last_over_time(loadprof_request_duration_seconds_bucket[1m])))",
    )
    .unwrap();
    assert!(p95 > 0.0 && p95 < 1.0, "{p95}");
    let info = query(&base, "count(last_over_time(loadprof_run_info{state=\"ended\"}[1m]))").unwrap();
    assert_eq!(info, 1.0, "the run said it ended before the endpoint went away");
    let rate = query(&base, "last_over_time(loadprof_target_rate[1m])").unwrap();
    assert_eq!(rate, 40.0, "the planned rate");
}

#[test]
fn remote_write_is_accepted_and_queryable() {
    if !have("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_target, url) = common::demo_target(&[]);
    let (_prom, base) = common::prometheus::start(
        dir.path(),
        "global:\n  scrape_interval: 1m\n",
        &dir.path().join("tsdb"),
        &["--web.enable-remote-write-receiver"],
    );
    let out = dir.path().join("r/result.json");
    let o = load(
        &format!("{url}/health"),
        &[
            "--remote-write",
            &format!("{base}/api/v1/write"),
            "--remote-write-interval",
            "1s",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(!output_text(&o).contains("warning"), "{}", output_text(&o));
    let doc = result(&out);
    let requests = doc["load"]["totals"]["requests"].as_f64().unwrap();
    let theirs = query(&base, "sum(last_over_time(loadprof_requests_total[5m]))").unwrap();
    assert_eq!(theirs, requests, "the final push carried the final count");
    let pushes = query(&base, "sum(count_over_time(loadprof_run_info[5m]))").unwrap();
    assert!(pushes >= 3.0, "pushed every second while it ran: {pushes}");
}

#[test]
fn the_dashboard_imports_with_a_datasource_variable_and_every_query_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/loadprof.json");
    let dash: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus")
    );
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 15);
    let text = exprs.join("\n");
    for series in [
        "loadprof_requests_total",
        "loadprof_request_duration_seconds_bucket",
        "loadprof_errors_total",
        "loadprof_target_resident_memory_bytes",
        "loadprof_target_cpu_seconds_total",
        "loadprof_slo_passing",
    ] {
        assert!(text.contains(series), "{series}");
    }
    if !have("promtool") {
        return;
    }
    // Every query as a recording rule: promtool parses each one.
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e.replace("$run_id", ".*").replace("$__rate_interval", "1m");
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let o = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", output_text(&o));
}

/// The `id="ID">TEXT<` of the page Chromium rendered.
fn shown(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\">"))? + id.len() + 6;
    Some(dom[at..].split('<').next()?.to_string())
}

#[test]
fn the_live_page_shows_numbers_changing_during_a_run() {
    if !have("chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_target, url) = common::demo_target(&[]);
    let port = free_port();
    let out = dir.path().join("r/result.json");
    let mut run = loadprof()
        .args([
            "load",
            &format!("{url}/health"),
            "--rate",
            "30",
            "-d",
            "40s",
            "--listen",
        ])
        .arg(port.to_string())
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(run.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("live: "), "{first}");
    let look = || {
        let o = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    std::thread::sleep(Duration::from_secs(3));
    let a = look();
    std::thread::sleep(Duration::from_secs(3));
    let b = look();
    let _ = Command::new("kill").arg(run.id().to_string()).status();
    let _ = run.wait();
    let count = |dom: &str| shown(dom, "requests").and_then(|t| t.trim().parse::<u64>().ok());
    let (n1, n2) = (count(&a), count(&b));
    assert!(
        n1.is_some_and(|n| n > 0),
        "the page showed a count: {:?}",
        shown(&a, "requests")
    );
    assert!(n2 > n1, "and it grew: {n1:?} then {n2:?}");
    assert_eq!(shown(&b, "state").as_deref(), Some("running"));
    assert!(shown(&b, "rps").is_some_and(|r| r.parse::<f64>().is_ok_and(|v| v > 0.0)));
}

/// A webhook receiver: the bodies of the POSTs it gets, on a channel.
fn receiver() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len.min(1 << 20)];
            let _ = r.read_exact(&mut body);
            let _ = r.get_mut().write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (port, rx)
}

#[test]
fn notify_posts_the_verdict_and_a_failing_webhook_changes_no_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (_target, url) = common::demo_target(&[]);
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"nightly\"\n[load]\nbase_url = \"{url}\"\nrate = 20\nduration = \"2s\"\n\
             [[load.request]]\nname = \"health\"\npath = \"/health\"\n\
             [slo]\n\"health.p95\" = \"< 0.001ms\"\n\"all.error_rate\" = \"< 1%\"\n"
        ),
    )
    .unwrap();
    let (port, got) = receiver();
    let run = |notify: &str, out: &str| {
        loadprof()
            .arg("run")
            .arg(&profile)
            .arg("--out")
            .arg(dir.path().join(out))
            .args(["--notify", notify])
            .output()
            .unwrap()
    };
    let o = run(&format!("http://hook:s3cr3t@127.0.0.1:{port}/hooks/abc"), "a");
    assert_eq!(o.status.code(), Some(1), "the SLO fails: {}", output_text(&o));
    let body = got
        .recv_timeout(Duration::from_secs(10))
        .expect("the webhook got the verdict");
    let msg: Value = serde_json::from_str(&body).unwrap();
    let text = msg["text"].as_str().unwrap();
    assert!(
        text.starts_with("loadprof nightly: FAILED; failed: health.p95 < 0.001ms"),
        "{text}"
    );
    assert!(!text.contains('\n'));
    assert_eq!(msg["verdict"], "failed");
    assert_eq!(msg["failed"], serde_json::json!(["health.p95"]));
    assert!(!body.contains("s3cr3t"));
    // Nothing listens there: a warning, and the same exit code.
    let closed = free_port();
    let o = run(&format!("http://127.0.0.1:{closed}/hook"), "b");
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    assert!(output_text(&o).contains("warning: --notify"), "{}", output_text(&o));
}

#[test]
fn a_listen_port_in_use_is_exit_3_and_a_bad_address_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let o = load(
        "http://127.0.0.1:9/",
        &["--listen", &port.to_string()],
        &dir.path().join("a.json"),
    );
    assert_eq!(o.status.code(), Some(3), "{}", output_text(&o));
    assert!(
        output_text(&o).contains(&format!("--listen 127.0.0.1:{port}")),
        "{}",
        output_text(&o)
    );
    for bad in ["99999", "host:port"] {
        let o = load("http://127.0.0.1:9/", &["--listen", bad], &dir.path().join("b.json"));
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", output_text(&o));
    }
    let o = load(
        "http://127.0.0.1:9/",
        &["--remote-write", "localhost:9090"],
        &dir.path().join("c.json"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
}

#[test]
fn run_with_listen_serves_the_targets_resources_and_each_slos_state() {
    let dir = tempfile::tempdir().unwrap();
    let (tport, lport) = (free_port(), free_port());
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"watched\"\n[target]\ncommand = [\"{}\", \"demo-target\", \"--listen\", \"127.0.0.1:{tport}\"]\n\
             ready_url = \"http://127.0.0.1:{tport}/health\"\n\
             [load]\nbase_url = \"http://127.0.0.1:{tport}\"\nrate = 30\nduration = \"6s\"\n\
             [[load.request]]\nname = \"health\"\npath = \"/health\"\n\
             [leak]\nsettle = \"1s\"\n\
             [slo]\n\"all.error_rate\" = \"< 1%\"\n\"health.p99\" = \"< 0.001ms\"\n\"rss.max\" = \"< 4GB\"\n",
            env!("CARGO_BIN_EXE_loadprof")
        ),
    )
    .unwrap();
    let mut run = loadprof()
        .arg("run")
        .arg(&profile)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--listen", &lport.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let metrics = format!("http://127.0.0.1:{lport}/metrics");
    let mut during = String::new();
    wait_for("the run's series while it runs", Duration::from_secs(20), || {
        during = get(&metrics).map(|(_, b)| b).unwrap_or_default();
        during.contains("loadprof_target_resident_memory_bytes") && during.contains("slo=\"all.error_rate\"")
    });
    assert!(during.contains("loadprof_slo_passing{run_id="), "{during}");
    let mut after = String::new();
    wait_for("the run's end", Duration::from_secs(30), || {
        after = get(&metrics).map(|(_, b)| b).unwrap_or_default();
        after.contains("state=\"ended\"")
    });
    // The final verdicts: the p99 SLO fails, the others hold.
    for (slo, state) in [("all.error_rate", 1), ("health.p99", 0), ("rss.max", 1)] {
        assert!(
            after.contains(&format!("slo=\"{slo}\"}} {state}")),
            "{slo} {state}: {after}"
        );
    }
    let scrape = samples_in(&after);
    assert!(scrape > 0, "the text reads as OpenMetrics");
    let _ = Command::new("kill").arg(run.id().to_string()).status();
    let status = run.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the run failed its p99 SLO and ended early on SIGTERM while lingering"
    );
}

/// Samples in the text, read the way a scraper reads it (skipping none).
fn samples_in(text: &str) -> usize {
    assert!(text.ends_with("# EOF\n"));
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count()
}
