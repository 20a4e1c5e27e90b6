//! `loadprof llm` against the test suite's fixture servers, which speak
//! Ollama's API (NDJSON, nanosecond metrics omitted when zero, /api/ps,
//! keep_alive 0 unloading, errors inside a 200 stream) and the OpenAI
//! streaming API (role-only first chunks, usage chunks, llama.cpp timings,
//! CRLF and pings), with three model sizes of different speed, memory and
//! quality, so the whole decision runs end to end.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Guard, loadprof, output_text, python, serve, validate};
use serde_json::Value;

/// Starts a fixture server (`fake_ollama.py` or `fake_openai.py`); returns
/// it and its base URL.
fn fixture(script: &str, args: &[&str]) -> (Guard, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/llm")
        .join(script);
    let mut cmd = Command::new(python());
    cmd.arg(&path).args(["--port", "0"]).args(args);
    serve(cmd)
}

fn llm(url: &str, dir: &Path, args: &[&str]) -> (Output, Option<Value>) {
    let out = loadprof()
        .args(["llm", "--endpoint", url])
        .args(args)
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    let doc = std::fs::read_to_string(dir.join("result.json")).ok().map(|text| {
        assert_eq!(validate(&text, None), "", "result.json matches the schema");
        serde_json::from_str(&text).unwrap()
    });
    (out, doc)
}

fn model<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["llm"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("no model {name}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn three_ollama_sizes_are_measured_and_the_decision_keeps_the_middle_one() {
    let (_server, url) = fixture("fake_ollama.py", &["--speed-scale", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "tiny:1b,mid:3b",
            "--model",
            "big:8b",
            "--runs",
            "3",
            "--max-tokens",
            "48",
            "--concurrency",
            "1,2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc = doc.unwrap();
    let l = &doc["llm"];
    assert_eq!(l["api"], "ollama");
    assert_eq!(l["server_version"], "0.33.0");
    assert!(l["host"]["cores"].as_u64().unwrap() >= 1);
    let (tiny, mid, big) = (model(&doc, "tiny:1b"), model(&doc, "mid:3b"), model(&doc, "big:8b"));
    // Faster when smaller, on both clocks, and the two agree.
    let rate = |m: &Value| f(&m["decode_tokens_per_s"]["p50"]);
    assert!(
        rate(tiny) > rate(mid) && rate(mid) > rate(big),
        "{} {} {}",
        rate(tiny),
        rate(mid),
        rate(big)
    );
    for m in [tiny, mid, big] {
        let (client, server) = (rate(m), f(&m["server_decode_tokens_per_s"]));
        assert!(
            (client / server - 1.0).abs() < 0.15,
            "client {client} vs server {server}"
        );
        assert!(m["params"].as_str().unwrap().ends_with('B'));
        assert_eq!(m["quant"], "Q4_K_M");
        assert!(f(&m["load_ms"]) > 0.0, "a cold load after keep_alive 0: {m}");
        assert_eq!(m["processor"], "100% CPU");
        assert_eq!(m["errors"], 0);
        assert_eq!(m["tokens_approximate"], false);
        assert!(
            m["server_cpu_percent_mean"].as_f64().is_some(),
            "the server's CPU is sampled: {m}"
        );
        assert_eq!(m["concurrency"].as_array().unwrap().len(), 2);
    }
    // Each model alone on the server: its memory is the server's RSS then.
    let rss = |m: &Value| f(&m["server_rss_bytes_max"]);
    assert!(
        rss(tiny) < rss(mid) && rss(mid) < rss(big),
        "{} {} {}",
        rss(tiny),
        rss(mid),
        rss(big)
    );
    // Quality: the tiny model fails all three built-in checks.
    assert_eq!(tiny["quality"]["passed"], 0);
    assert_eq!(mid["quality"]["passed"], 3);
    assert_eq!(tiny["quality"]["checks"].as_array().unwrap().len(), 3);
    // mid and big both pass everything; mid is smaller: it is kept.
    assert_eq!(l["pick"], "mid:3b");
    assert_eq!(mid["verdict"], "keep");
    assert_eq!(tiny["verdict"], "go_bigger");
    assert_eq!(big["verdict"], "go_smaller");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("KEEP") && stdout.contains("run mid:3b"), "{stdout}");
    let runs = std::fs::read_to_string(dir.path().join("llm-runs.csv")).unwrap();
    // 3 measured runs + 4 at concurrency 2, per model.
    assert_eq!(runs.lines().count(), 1 + 3 * 7, "{runs}");
    assert!(dir.path().join("samples.csv").exists());
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("mid:3b meets the interactive budgets"), "{junit}");
    assert!(junit.contains("classname=\"llm.quality\""), "{junit}");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("mid:3b") && md.contains("KEEP"), "{md}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("big:8b") && html.contains("<svg"),
        "the report shows the models"
    );
    // `loadprof report` renders a stored llm result again, with its models.
    let again = loadprof()
        .arg("report")
        .arg(dir.path().join("result.json"))
        .args(["--markdown", "-"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", output_text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("tiny:1b"));
}

#[test]
fn a_voice_budget_nothing_meets_exits_1() {
    let (_server, url) = fixture("fake_ollama.py", &["--speed-scale", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "big:8b",
            "--use",
            "voice",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--max-tokens",
            "24",
            "--no-builtin-checks",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let doc = doc.unwrap();
    assert_eq!(model(&doc, "big:8b")["verdict"], "nothing_fits");
    assert!(doc["llm"]["pick"].is_null());
    // --json prints the llm section.
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["use_case"], "voice");
    assert!(printed["recommendation"].as_str().unwrap().starts_with("nothing fits"));
}

#[test]
fn broken_streams_count_as_errors_and_the_run_goes_on() {
    let (_server, url) = fixture("fake_ollama.py", &["--speed-scale", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "tiny:1b",
            "--prompt",
            "[no-done] tell me about streams",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--no-builtin-checks",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "every request failed: {}",
        output_text(&out)
    );
    let m = model(doc.as_ref().unwrap(), "tiny:1b");
    assert_eq!(m["errors"], 2);
    assert!(
        m["error_examples"][0]
            .as_str()
            .unwrap()
            .contains("without its last chunk"),
        "{m}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (_, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "tiny:1b",
            "--prompt",
            "[fail-midstream] go",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--no-builtin-checks",
        ],
    );
    let m = model(doc.as_ref().unwrap(), "tiny:1b");
    assert_eq!(m["errors"], 2);
    assert!(
        m["error_examples"][0]
            .as_str()
            .unwrap()
            .contains("error was encountered"),
        "{m}"
    );
}

#[test]
fn bad_input_an_unknown_model_and_no_server() {
    let (_server, url) = fixture("fake_ollama.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = llm(&url, dir.path(), &["--model", "llama9:70b"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("llama9:70b") && err.contains("tiny:1b") && err.contains("big:8b"),
        "{err}"
    );
    assert!(!dir.path().join("result.json").exists());

    let port = common::free_port();
    let (out, _) = llm(&format!("http://127.0.0.1:{port}"), dir.path(), &["--model", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&port.to_string()) && err.contains("ollama serve"), "{err}");
}

#[test]
fn openai_compatible_servers_in_three_flavours() {
    for (flavor, approximate) in [("vllm", false), ("llamacpp", false), ("plain", true)] {
        let (_server, url) = fixture("fake_openai.py", &["--flavor", flavor, "--speed-scale", "4"]);
        let dir = tempfile::tempdir().unwrap();
        let (out, doc) = llm(
            &url,
            dir.path(),
            &[
                "--api",
                "openai",
                "--model",
                "mid:3b",
                "--runs",
                "3",
                "--max-tokens",
                "40",
                "--no-builtin-checks",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{flavor}: {}", output_text(&out));
        let m = model(doc.as_ref().unwrap(), "mid:3b");
        assert_eq!(m["errors"], 0, "{flavor}: {m}");
        assert_eq!(m["tokens_approximate"], approximate, "{flavor}: {m}");
        // TTFT is the first chunk with text, never the role-only one, so
        // it is at least one token's time after the headers.
        let ttft = f(&m["ttft_ms"]["p50"]);
        let itl = f(&m["itl_ms"]["p50"]);
        assert!(ttft > 0.0 && itl > 0.0, "{flavor}: {m}");
        assert!(f(&m["decode_tokens_per_s"]["p50"]) > 0.0);
        match flavor {
            "llamacpp" => assert!(m["server_decode_tokens_per_s"].as_f64().is_some(), "{m}"),
            _ => assert!(m["server_decode_tokens_per_s"].is_null(), "{flavor}: {m}"),
        }
        if approximate {
            let warnings = m["warnings"].to_string();
            assert!(warnings.contains("approximate"), "{warnings}");
        }
    }
}

#[test]
fn a_profile_with_an_llm_table_runs_the_benchmark_and_gates_on_the_decision() {
    let (_server, url) = fixture("fake_ollama.py", &["--speed-scale", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/ollama-model-size.toml");
    let out = loadprof()
        .arg("run")
        .arg(&profile)
        .args([
            "--set",
            &format!("llm.endpoint={url}"),
            "--set",
            r#"llm.models=["tiny:1b", "mid:3b", "big:8b"]"#,
            "--set",
            "llm.requests=3",
            "--set",
            "llm.max_tokens=40",
            "--set",
            "llm.concurrency=[1]",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let text = std::fs::read_to_string(dir.path().join("result.json")).unwrap();
    assert_eq!(validate(&text, None), "");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["run"]["profile"], "ollama-model-size");
    assert_eq!(doc["llm"]["budgets"]["min_quality"], 0.6);
    assert_eq!(doc["llm"]["prompts"], 4, "the prompts file beside the profile");
    assert_eq!(doc["llm"]["pick"], "mid:3b");
    assert_eq!(model(&doc, "tiny:1b")["verdict"], "go_bigger");

    // A stricter floor than any model meets fails the run.
    let out = loadprof()
        .arg("run")
        .arg(&profile)
        .args([
            "--set",
            &format!("llm.endpoint={url}"),
            "--set",
            r#"llm.models=["big:8b"]"#,
            "--set",
            "llm.requests=2",
            "--set",
            "llm.max_tokens=24",
            "--set",
            "llm.quality=none",
            "--set",
            "llm.concurrency=[1]",
            "--set",
            "llm.decide.min_tokens_per_s=1000",
            "--set",
            "llm.decide.min_quality=0%",
            "--out",
        ])
        .arg(dir.path().join("strict"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("NOTHING FITS") && stdout.contains("floor 1000"),
        "{stdout}"
    );
}

#[test]
fn ctrl_c_stops_a_long_generation_at_once_and_keeps_what_was_measured() {
    let (_server, url) = fixture("fake_ollama.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let child = loadprof()
        .args([
            "llm",
            "--endpoint",
            &url,
            "--model",
            "big:8b",
            "--runs",
            "20",
            "--max-tokens",
            "400",
        ])
        .arg("-o")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", output_text(&out));
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "stopped without waiting for the answer"
    );
    let text = std::fs::read_to_string(dir.path().join("result.json")).unwrap();
    assert_eq!(validate(&text, None), "");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["run"]["outcome"], "interrupted");
    assert_eq!(doc["passed"], false);
    // The request cut short is not counted as a failure.
    assert_eq!(model(&doc, "big:8b")["errors"], 0);
}

#[test]
fn on_a_gpu_host_a_model_partly_on_the_cpu_does_not_fit() {
    // The fixture reports size_vram as a GPU server with 4 GB would: the two
    // small models wholly in VRAM, the big one partly on the CPU.
    let (_server, url) = fixture("fake_ollama.py", &["--speed-scale", "4", "--gpu-vram-gb", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "mid:3b,big:8b",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--max-tokens",
            "24",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc = doc.unwrap();
    let (mid, big) = (model(&doc, "mid:3b"), model(&doc, "big:8b"));
    assert_eq!(mid["processor"], "100% GPU");
    assert!(big["processor"].as_str().unwrap().ends_with("CPU/GPU"), "{big}");
    assert!(f(&big["vram_bytes"]) < f(&big["loaded_bytes"]));
    assert_eq!(doc["llm"]["pick"], "mid:3b");
    assert_eq!(big["verdict"], "go_smaller");
    assert!(big["headroom"].as_str().unwrap().contains("on CPU"), "{big}");
}

/// The probes of a model's capacity search, as (streams, pass).
fn probes(m: &Value) -> Vec<(u64, bool)> {
    m["capacity"]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["concurrency"].as_u64().unwrap(), p["pass"].as_bool().unwrap()))
        .collect()
}

#[test]
fn capacity_is_the_number_of_parallel_slots_when_queueing_breaks_the_ttft_budget() {
    // Three slots and no slowdown from decoding together: a fourth stream
    // waits a whole answer (64 tokens at 80 tok/s, 0.8 s) for its first
    // token, while a stream with a free slot has it after the prefill
    // (about 60 ms). The budget sits between the two.
    let slots = 3;
    let (_server, url) = fixture(
        "fake_ollama.py",
        &[
            "--parallel",
            &slots.to_string(),
            "--batch-penalty",
            "0",
            "--models",
            "tiny:1b",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "tiny:1b",
            "--capacity",
            "--max-concurrency",
            "32",
            "--max-ttft",
            "300ms",
            "--max-tokens",
            "64",
            "--no-builtin-checks",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc = doc.unwrap();
    let m = model(&doc, "tiny:1b");
    let c = &m["capacity"];
    assert_eq!(c["max_concurrency"], slots, "{c:#}");
    assert_eq!(c["bracket"], serde_json::json!([slots, slots + 1]));
    assert_eq!(c["limited_by"], "ttft");
    assert_eq!(c["converged"], true);
    let p = probes(m);
    assert_eq!(p.first(), Some(&(1, true)));
    assert!(p.contains(&(4, false)), "{p:?}");
    assert_eq!(p.last(), Some(&(3, true)), "the best pass is confirmed last: {p:?}");
    assert!(p.len() <= 6, "doubling, one bisection and a confirmation: {p:?}");
    // Throughput grows with the slots and no further: three streams give
    // about three times one stream's rate, four about the same as three.
    let rate = |i: usize| f(&c["probes"][i]["output_tokens_per_s"]);
    let one = rate(0);
    let at_max = f(&c["output_tokens_per_s"]);
    assert!(at_max > 2.5 * one && at_max < 3.3 * one, "{one} vs {at_max}");
    let four = p.iter().position(|x| x.0 == 4).unwrap();
    assert!(rate(four) < 1.15 * at_max, "{} vs {at_max}", rate(four));
    // Every level is on the throughput–latency curve too.
    let levels: Vec<u64> = m["concurrency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, vec![1, 2, 3, 4]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("capacity: 3 concurrent streams within the budgets; at 4: TTFT p95"),
        "{printed}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("Capacity of tiny:1b") && html.contains("×3 (confirm)"));
}

#[test]
fn capacity_stops_where_sharing_the_model_pushes_decoding_under_the_floor() {
    // Sixteen slots, and each other stream decoding at once slows a step
    // by a quarter: one stream decodes at 160 tok/s (speed scale 2), c
    // streams at 160 / (1 + 0.25 (c - 1)) each. With a floor of 67.5
    // tok/s that is 71 at 6 streams and 64 at 7: the answer is 6. A
    // stream between two answers decodes alone for a moment, so allow one
    // either side.
    let (decode, penalty, floor): (f64, f64, f64) = (160.0, 0.25, 67.5);
    let truth = (1.0 + (decode / floor - 1.0) / penalty).floor() as i64;
    assert_eq!(truth, 6);
    let (_server, url) = fixture(
        "fake_ollama.py",
        &["--parallel", "16", "--speed-scale", "2", "--models", "tiny:1b"],
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = llm(
        &url,
        dir.path(),
        &[
            "--model",
            "tiny:1b",
            "--capacity",
            "--max-concurrency",
            "16",
            "--min-decode",
            "67.5",
            "--max-tokens",
            "64",
            "--no-builtin-checks",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc = doc.unwrap();
    let c = &model(&doc, "tiny:1b")["capacity"];
    let found = c["max_concurrency"].as_i64().unwrap();
    assert!((found - truth).abs() <= 1, "found {found}, truth {truth}: {c:#}");
    assert_eq!(c["limited_by"], "decode", "{c:#}");
    assert_eq!(c["converged"], true);
    assert_eq!(c["bracket"][1].as_i64(), Some(found + 1));
}

#[test]
fn capacity_bad_input_exits_2_naming_the_flag_or_key() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--capacity", "--concurrency", "4"], "--concurrency"),
        (vec!["--max-concurrency", "8"], "--capacity"),
        (vec!["--capacity", "--max-concurrency", "0"], "--max-concurrency"),
        (vec!["--capacity", "--max-concurrency", "5000"], "--max-concurrency"),
        (vec!["--capacity", "--min-decode=-3"], "--min-decode"),
        (vec!["--capacity", "--max-ttft", "0s"], "--max-ttft"),
    ] {
        let out = loadprof()
            .args(["llm", "--endpoint", "http://127.0.0.1:9", "--model", "m"])
            .args(&args)
            .arg("-o")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", output_text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    for (table, key) in [
        ("capacity = true\nconcurrency = [1, 4]", "llm.concurrency"),
        ("max_concurrency = 8", "llm.max_concurrency"),
        ("capacity = true\nmax_concurrency = 0", "llm.max_concurrency"),
    ] {
        let profile = dir.path().join("p.toml");
        std::fs::write(
            &profile,
            format!("[llm]\nendpoint = \"http://127.0.0.1:9\"\nmodels = [\"m\"]\n{table}\n"),
        )
        .unwrap();
        let out = loadprof().args(["validate"]).arg(&profile).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{table}: {}", output_text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(key),
            "{table}: {}",
            output_text(&out)
        );
    }
}
