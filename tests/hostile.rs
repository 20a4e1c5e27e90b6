//! A hostile peer or a careless flag gets an error, never a hang, a crash,
//! unbounded memory or a leaked secret: each case here was once a defect.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::TestServer;
use common::{loadprof, output_text, python, serve};
use serde_json::Value;

use common::load_json as load;

/// Every file under `dir`, as text.
fn files_text(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    all
}

#[test]
fn a_port_out_of_range_is_refused_not_sent_to_port_80() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:65536/x",
        "http://127.0.0.1:0/",
    ] {
        let (out, _) = load(dir.path(), &[url, "-n", "1"]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{url}: {text}");
        assert!(
            text.contains("out of range") && text.contains("1 to 65535"),
            "{url}: {text}"
        );
    }
}

#[test]
fn an_absurd_rate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (out, _) = load(dir.path(), &["http://127.0.0.1:9/", "--rate", "1e300", "-d", "1s"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--rate") && text.contains("10000000"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_endless_fast_stream_ends_at_its_stream_timeout() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (out, doc) = load(
        dir.path(),
        &[
            &srv.url("/endless-ndjson"),
            "-c",
            "1",
            "-d",
            "2s",
            "--stream",
            "ndjson",
            "--stream-timeout",
            "1s",
        ],
    );
    let took = start.elapsed();
    assert!(out.status.success(), "{}", output_text(&out));
    // Before, the stream outlived its timeout and the run its graceful stop (12 s).
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let timeouts = doc["load"]["totals"]["error_kinds"]["timeout"].as_u64().unwrap();
    assert!(timeouts >= 1, "{}", doc["load"]["totals"]);
    let why = doc["load"]["error_examples"]["timeout"].as_str().unwrap();
    assert!(why.contains("still open 1s after its headers"), "{why}");
}

#[test]
fn endless_1xx_heads_end_at_the_timeout() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (out, doc) = load(
        dir.path(),
        &[&srv.url("/endless-continue"), "-c", "1", "-d", "2s", "--timeout", "1s"],
    );
    let took = start.elapsed();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let timeouts = doc["load"]["totals"]["error_kinds"]["timeout"].as_u64().unwrap();
    assert!(timeouts >= 1, "{}", doc["load"]["totals"]);
}

#[test]
fn an_http2_failure_names_its_cause() {
    // HTTP/2 with prior knowledge to a server that speaks only HTTP/1.1:
    // its answer is not an HTTP/2 frame.
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/"), "--http2", "-c", "1", "-d", "1s"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let example = doc["load"]["error_examples"]["io"].as_str().unwrap_or_default();
    assert!(
        example.starts_with("http2 error: ") && example.len() > "http2 error: ".len() + 10,
        "the cause, not only \"http2 error\": {example:?}"
    );
}

#[test]
fn requests_unanswered_when_the_graceful_stop_ends_are_failures() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "[load]\nbase_url = \"{}\"\nusers = 3\nduration = \"1s\"\ntimeout = \"60s\"\ngraceful_stop = \"1s\"\n\
             [[load.request]]\nname = \"never\"\npath = \"/never\"\n",
            srv.url("/")
        ),
    )
    .unwrap();
    let start = Instant::now();
    let (out, doc) = load(dir.path(), &["--profile", profile.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(start.elapsed() < Duration::from_secs(10));
    let totals = &doc["load"]["totals"];
    // Each of the 3 users sent one request that never got an answer.
    assert_eq!(totals["requests"], 3, "{totals}");
    assert_eq!(totals["errors"], 3, "{totals}");
    assert_eq!(totals["error_kinds"]["timeout"], 3, "{totals}");
    assert_eq!(totals["success_rate"].as_f64(), Some(0.0), "{totals}");
    assert_eq!(doc["load"]["unanswered"], 3);
    assert_eq!(doc["load"]["cancelled"], 0);
    assert_eq!(doc["load"]["endpoints"][0]["requests"], 3);
    let why = doc["load"]["error_examples"]["timeout"].as_str().unwrap();
    assert!(why.contains("no answer when the load ended"), "{why}");
    // The summary says so too.
    let out = loadprof()
        .args(["load", "--profile", profile.to_str().unwrap(), "-o"])
        .arg(dir.path().join("r2.json"))
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(text.contains("unanswered 3"), "{text}");
}

#[test]
fn user_and_password_are_sent_as_basic_auth_and_secrets_are_never_shown() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "http://us%40er:hunter2@{}/ok?api_key=sekrit&q=cats&access_token=tok3n",
        srv.addr
    );
    for json in [true, false] {
        let mut cmd = loadprof();
        cmd.args(["load", &url, "-n", "3", "-c", "1", "-H", "X-Api-Key: k3y-value", "-o"])
            .arg(dir.path().join("result.json"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        let all = format!("{}{}", output_text(&out), files_text(dir.path()));
        for secret in ["hunter2", "sekrit", "tok3n", "k3y-value", "dXNAZXI6aHVudGVyMg"] {
            assert!(!all.contains(secret), "{secret} was written: {all}");
        }
        if !json {
            assert!(all.contains("api_key=***") && all.contains("q=cats"), "{all}");
        }
    }
    // base64("us@er:hunter2"), as curl sends it.
    let seen = srv.seen.lock().unwrap();
    assert_eq!(seen.authorization.len(), 6);
    assert!(
        seen.authorization.iter().all(|a| a == "Basic dXNAZXI6aHVudGVyMg=="),
        "{:?}",
        seen.authorization
    );
}

#[test]
fn a_pprof_url_that_streams_forever_is_cut_off_at_its_limit() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = loadprof()
        .args(["flame", "--pprof", &srv.url("/endless-body"), "-d", "1s", "-o"])
        .arg(dir.path().join("f.svg"))
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("larger than 256.0 MiB"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_ready_url_that_streams_forever_is_ready_at_its_status() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "[target]\ncommand = [\"{py}\", \"-c\", \"import time; time.sleep(60)\"]\nready_url = \"{ready}\"\nready_timeout = \"10s\"\n\
             [load]\nbase_url = \"{base}\"\nusers = 1\nduration = \"1s\"\n[[load.request]]\nname = \"ok\"\npath = \"/ok\"\n\
             [leak]\nsettle = \"0s\"\n",
            py = python(),
            ready = srv.url("/endless-body"),
            base = srv.url("/")
        ),
    )
    .unwrap();
    let out = loadprof()
        .args(["run", profile.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let text = output_text(&out);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/result.json")).unwrap()).unwrap();
    assert_ne!(doc["run"]["outcome"], "failed", "{text}");
    assert!(doc["load"]["totals"]["requests"].as_u64().unwrap() > 0, "{text}");
}

/// Starts the OpenAI-compatible fixture, as vLLM with `--api-key`.
fn keyed_openai(key: &str) -> (common::Guard, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/llm/fake_openai.py");
    let mut cmd = Command::new(python());
    cmd.arg(&path)
        .args(["--port", "0", "--speed-scale", "8", "--api-key", key]);
    serve(cmd)
}

#[test]
fn an_llm_api_key_is_sent_and_never_written() {
    let (_server, url) = keyed_openai("sk-test-0123456789");
    // A password in the endpoint too: it must not be written either.
    let endpoint = url.replacen("http://", "http://bench:hunter2@", 1);
    let run = |dir: &Path, key: Option<&str>| {
        let mut cmd = loadprof();
        cmd.args(["llm", "--endpoint", &endpoint, "--api", "openai", "--model", "tiny:1b"])
            .args(["--runs", "1", "--max-tokens", "8", "--no-builtin-checks", "-o"])
            .arg(dir)
            .env_remove("OPENAI_API_KEY")
            .env_remove("LOADPROF_API_KEY");
        if let Some(k) = key {
            cmd.env("LOADPROF_API_KEY", k);
        }
        cmd.output().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), None);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("401") && !text.contains("hunter2"), "{text}");

    let out = run(dir.path(), Some("sk-test-0123456789"));
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let all = format!("{}{}", output_text(&out), files_text(dir.path()));
    for secret in ["sk-test-0123456789", "hunter2"] {
        assert!(!all.contains(secret), "{secret} was written: {all}");
    }
    assert!(
        all.contains("***@127.0.0.1"),
        "the endpoint is shown without its password"
    );

    let out = loadprof()
        .args(["llm", "--endpoint", &url, "--api", "openai", "--model", "tiny:1b"])
        .args(["--runs", "1", "--max-tokens", "8", "--no-builtin-checks"])
        .args(["--api-key", "sk-test-0123456789", "-o"])
        .arg(dir.path().join("flag"))
        .env_remove("LOADPROF_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(!files_text(&dir.path().join("flag")).contains("sk-test-0123456789"));
}
