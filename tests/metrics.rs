//! `[metrics]`: the target's own metrics scraped on the run's clock, judged
//! as Prometheus would judge them. The figures are checked against a real
//! Prometheus (Debian's `prometheus` and `promtool`, started here on a free
//! port) fed the very samples loadprof scraped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::prometheus::{encode, get, have};
use common::{free_port, loadprof, output_text};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Prometheus's answer to an instant query at `time` (unix seconds): the
/// value of its only series.
fn instant(base: &str, query: &str, time: f64) -> f64 {
    let (status, body) = get(&format!("{base}/api/v1/query?query={}&time={time:.3}", encode(query))).unwrap();
    let doc: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: {body}"));
    assert_eq!(doc["status"], "success", "{query}: {body}");
    let result = doc["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{query}: {body}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

fn run(profile: &Path, out: &Path, extra: &[&str]) -> (Output, Value) {
    let o = loadprof()
        .arg("run")
        .arg(profile)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let doc = std::fs::read(out.join("result.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (o, doc)
}

fn exporter_profile(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let p = dir.join("p.toml");
    let py = common::python();
    let exporter = repo("tests/data/metrics/exporter.py");
    std::fs::write(
        &p,
        format!(
            "name = \"exporter\"\n\
             [target]\ncommand = [\"{py}\", \"{}\", \"--port\", \"{port}\", \"--reset\", \"130\"]\n\
             ready_url = \"http://127.0.0.1:{port}/metrics\"\n\
             [load]\nbase_url = \"http://127.0.0.1:{port}\"\nrate = 40\nduration = \"10s\"\nwarmup = \"2s\"\n\
             [[load.request]]\npath = \"/\"\n\
             [leak]\nsettle = \"2s\"\n\
             [slo]\n\"server.served_total.rate\" = \"> 1\"\n\"server.latency_seconds.p95\" = \"< 1s\"\n\
             \"server.latency_seconds.p99\" = \"< 1s\"\n\
             {extra}",
            exporter.display()
        ),
    )
    .unwrap();
    p
}

/// metrics.csv as OpenMetrics text with timestamps, for promtool.
fn csv_to_openmetrics(csv: &Path, started_unix: f64) -> String {
    use std::collections::BTreeMap;
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("elapsed_s,metric,labels,value"));
    // name -> labels -> [(t, value)]
    let mut families: BTreeMap<String, BTreeMap<String, Vec<(f64, String)>>> = BTreeMap::new();
    for line in lines {
        let (t, rest) = line.split_once(',').unwrap();
        let (name, rest) = rest.split_once(',').unwrap();
        // The labels field is quoted, with quotes doubled.
        let rest = rest.strip_prefix('"').unwrap();
        let end = rest.rfind("\",").unwrap();
        let labels = rest[..end].replace("\"\"", "\"");
        let value = &rest[end + 2..];
        families
            .entry(name.to_string())
            .or_default()
            .entry(labels)
            .or_default()
            .push((started_unix + t.parse::<f64>().unwrap(), value.to_string()));
    }
    let mut om = String::new();
    for (name, series) in families {
        om.push_str(&format!("# TYPE {name} unknown\n"));
        for (labels, points) in series {
            for (t, v) in points {
                om.push_str(&format!("{name}{{{labels}}} {v} {t:.3}\n"));
            }
        }
    }
    om.push_str("# EOF\n");
    om
}

fn started_unix(doc: &Value) -> f64 {
    let s = doc["run"]["started_at"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis() as f64 / 1000.0
}

fn series<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["metrics"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no series {name}"))
}

fn slo(doc: &Value, name: &str) -> f64 {
    doc["slo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["observed"].as_f64())
        .unwrap_or_else(|| panic!("{name} was not measured: {}", doc["slo"]))
}

fn close(ours: f64, theirs: f64, what: &str) {
    // The samples' times went through metrics.csv at millisecond precision.
    let tolerance = 2e-3 * theirs.abs().max(1e-9);
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{what}: loadprof {ours}, Prometheus {theirs}"
    );
}

#[test]
fn rates_quantiles_and_gauges_agree_with_prometheus_on_the_same_samples_resets_included() {
    if !(have("prometheus") && have("promtool")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let profile = exporter_profile(
        dir.path(),
        port,
        &format!("[metrics]\nscrape = [\"http://127.0.0.1:{port}/metrics\"]\ninterval = \"500ms\"\n"),
    );
    let out = dir.path().join("out");
    let (o, doc) = run(&profile, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let m = &doc["metrics"];
    assert_eq!(m["scrapes"][0]["errors"], 0, "{m}");
    let scrapes = m["scrapes"][0]["scrapes"].as_u64().unwrap();
    assert!(scrapes >= 20, "about 2 scrapes a second for 14 s: {scrapes}");
    let (start, end) = (
        m["window"]["start_s"].as_f64().unwrap(),
        m["window"]["end_s"].as_f64().unwrap(),
    );
    let load = doc["run"]["windows"]["load"].as_array().unwrap();
    assert!(
        (start - (load[0].as_f64().unwrap() + 2.0)).abs() < 0.5,
        "the window opens after the warm-up: {start}"
    );
    assert!(
        (end - load[1].as_f64().unwrap()).abs() < 0.1,
        "and closes with the load: {end}"
    );

    // Feed the scraped samples to Prometheus and ask it about the window.
    let t0 = started_unix(&doc);
    let om = dir.path().join("samples.om");
    std::fs::write(&om, csv_to_openmetrics(&out.join("metrics.csv"), t0)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let made = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(made.status.success(), "promtool: {}", output_text(&made));
    let (_prom, base) = common::prometheus::start(dir.path(), "global:\n  scrape_interval: 1m\n", &tsdb, &[]);
    let at = ((t0 + end) * 1000.0).round() / 1000.0;
    let range = format!("{}ms", ((end - start) * 1000.0).round());

    let served = series(&doc, "served_total");
    assert_eq!(served["type"], "counter");
    let promql = |q: &str| instant(&base, q, at);
    let increase = promql(&format!("increase(served_total[{range}])"));
    close(served["increase"].as_f64().unwrap(), increase, "increase");
    close(
        served["rate"].as_f64().unwrap(),
        promql(&format!("rate(served_total[{range}])")),
        "rate",
    );
    // The counter starts again every 130 requests (40 a second): over 8 s
    // it rose by far more than its highest value, as only a corrected
    // increase can say.
    assert!(increase > 200.0, "resets were corrected: {increase}");
    let depth = series(&doc, "queue_depth");
    assert_eq!(depth["type"], "gauge");
    for (key, f) in [
        ("max", "max_over_time"),
        ("mean", "avg_over_time"),
        ("last", "last_over_time"),
    ] {
        close(
            depth[key].as_f64().unwrap(),
            promql(&format!("{f}(queue_depth[{range}])")),
            key,
        );
    }
    // The exporter's cycle puts 9 of every 10 latencies at or under 0.25 s
    // and one at 0.6 s, so p90 and p50 fall exactly on a bucket's count,
    // where the last bit of rounding of the extrapolated increases picks
    // the bucket (0.25 or 0.5) on either side. p95 and p99 never sit on a
    // count: they compare the interpolation itself.
    for (name, q) in [
        ("server.latency_seconds.p95", 0.95),
        ("server.latency_seconds.p99", 0.99),
    ] {
        let theirs = promql(&format!(
            "histogram_quantile({q}, sum by (le) (increase(latency_seconds_bucket[{range}])))"
        ));
        close(slo(&doc, name), theirs, name);
    }
}

#[test]
fn a_prometheus_server_is_asked_about_the_run_and_its_answers_are_gated() {
    if !(have("prometheus") && have("promtool")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let (_prom, base) = common::prometheus::start(dir.path(), &config, &dir.path().join("tsdb"), &[]);
    let profile = exporter_profile(
        dir.path(),
        port,
        &format!(
            "\"metrics.served.mean\" = \"> 20\"\n\"metrics.broken.max\" = \"< 1\"\n\
             [metrics]\nscrape = [\"http://127.0.0.1:{port}/metrics\"]\nprometheus_url = \"{base}\"\n\
             [metrics.queries]\nserved = 'sum(rate(latency_seconds_count[3s]))'\nbroken = 'rate(('\n"
        ),
    );
    // Prometheus scrapes every second: the settle phase gives it time to
    // take the load's last second.
    let text = std::fs::read_to_string(&profile)
        .unwrap()
        .replace("settle = \"2s\"", "settle = \"3s\"");
    std::fs::write(&profile, text).unwrap();
    let out = dir.path().join("out");
    let (o, doc) = run(&profile, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the broken query fails its SLO: {}",
        output_text(&o)
    );
    let queries = doc["metrics"]["queries"].as_array().unwrap();
    let served = queries.iter().find(|q| q["name"] == "served").unwrap();
    assert_eq!(served["error"], Value::Null, "{served}");
    let mean = served["mean"].as_f64().unwrap();
    assert!(
        (30.0..50.0).contains(&mean),
        "40 requests a second, as Prometheus saw them: {mean}"
    );
    assert!(
        served["points"].as_array().unwrap().len() >= 5,
        "a point a second while Prometheus had data: {served}"
    );
    assert_eq!(slo(&doc, "metrics.served.mean"), mean);
    let broken = queries.iter().find(|q| q["name"] == "broken").unwrap();
    let why = broken["error"].as_str().unwrap();
    assert!(why.contains("bad_data"), "Prometheus's own words: {why}");
    let text = output_text(&o);
    assert!(text.contains("FAIL metrics.broken.max"), "{text}");
    assert!(text.contains("query broken: Prometheus refused"), "{text}");
}

#[test]
fn scrapes_that_fail_are_counted_and_their_slos_fail_as_unmeasured() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let closed = free_port();
    let profile = exporter_profile(
        dir.path(),
        port,
        &format!(
            "\"server.never_seen_total.rate\" = \"< 5\"\n\
             [metrics]\nscrape = [\"http://127.0.0.1:{port}/metrics\", \"http://127.0.0.1:{port}/\", \"http://u:hunter2@127.0.0.1:{closed}/metrics\"]\n"
        ),
    );
    let out = dir.path().join("out");
    let (o, doc) = run(
        &profile,
        &out,
        &["--set", "load.duration=4s", "--set", "load.warmup=1s"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    let scrapes = doc["metrics"]["scrapes"].as_array().unwrap();
    assert_eq!(scrapes[0]["errors"], 0);
    assert!(scrapes[1]["errors"].as_u64().unwrap() >= 3, "{scrapes:?}");
    let not_metrics = scrapes[1]["error"].as_str().unwrap();
    assert!(
        not_metrics.contains("not Prometheus or OpenMetrics text"),
        "{not_metrics}"
    );
    let refused = scrapes[2]["error"].as_str().unwrap();
    assert!(refused.contains("cannot connect"), "{refused}");
    let all = std::fs::read_to_string(out.join("result.json")).unwrap()
        + &std::fs::read_to_string(out.join("metrics.csv")).unwrap()
        + &output_text(&o);
    assert!(!all.contains("hunter2"), "a scrape URL's password is never written");
    let text = output_text(&o);
    assert!(text.contains("FAIL server.never_seen_total.rate"), "{text}");
    assert!(text.contains("not measured"), "{text}");
    // The SLOs on what was scraped still pass.
    assert!(text.contains("pass server.served_total.rate"), "{text}");
}

#[test]
fn malformed_metrics_settings_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, wanted) in [
        ("[metrics]\nscrape = [\"127.0.0.1:9/metrics\"]\n", "metrics.scrape"),
        (
            "[metrics]\nscrape = [\"http://127.0.0.1:9/metrics\"]\ninterval = \"5ms\"\n",
            "metrics.interval",
        ),
        ("\"server.'x{a=\\\"b'.rate\" = \"< 1\"\n", "server."),
    ] {
        let profile = exporter_profile(dir.path(), 9, extra);
        let o = loadprof()
            .arg("run")
            .arg(&profile)
            .arg("--out")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", output_text(&o));
        let text = output_text(&o);
        assert!(text.contains(wanted), "{extra}: {text}");
        assert!(!dir.path().join("never").exists(), "nothing ran");
    }
}

#[test]
fn queries_alone_are_asked_after_the_run_about_all_of_it() {
    if !have("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_prom, base) = common::prometheus::start(
        dir.path(),
        "global:\n  scrape_interval: 1m\n",
        &dir.path().join("tsdb"),
        &[],
    );
    let (_target, url) = common::demo_target(&[]);
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"q\"\n[load]\nbase_url = \"{url}\"\nrate = 10\nduration = \"4s\"\n\
             [[load.request]]\npath = \"/health\"\n[leak]\nsettle = \"1s\"\n\
             [metrics]\nprometheus_url = \"{base}\"\n[metrics.queries]\none = 'vector(1)'\n\
             [slo]\n\"metrics.one.max\" = \">= 1\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (o, doc) = run(&profile, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let q = &doc["metrics"]["queries"][0];
    let load_end = doc["run"]["windows"]["load"][1].as_f64().unwrap();
    let last = q["points"].as_array().unwrap().last().unwrap()[0].as_f64().unwrap();
    assert!(
        last >= load_end - 1.0,
        "asked after the load, about all of it: {last} against {load_end}: {q}"
    );
}
