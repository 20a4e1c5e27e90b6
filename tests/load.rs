//! End-to-end tests of `loadprof load` and `loadprof merge` against
//! loopback servers started by the tests.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::server::TestServer;
use common::{loadprof, wait_for};
use serde_json::Value;

use common::load_json as load;

/// Writes a profile whose `[load]` table starts with the server's base URL
/// followed by `rest`, and runs `loadprof load --profile` on it.
fn load_profile(dir: &Path, srv: &TestServer, rest: &str) -> (Output, Value) {
    let profile = dir.join("p.toml");
    std::fs::write(&profile, format!("[load]\nbase_url = \"{}\"\n{rest}", srv.url("/"))).unwrap();
    load(dir, &["--profile", profile.to_str().unwrap()])
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "loadprof failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn endpoint(doc: &Value, i: usize) -> &Value {
    &doc["load"]["endpoints"][i]
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn body_regex_check_counts_a_missing_quote_as_a_check_failure() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let re = r"\(p\.[0-9]+\)";
    let (out, doc) = load(
        dir.path(),
        &[&srv.url("/quote"), "-c", "2", "-n", "20", "--expect-body", re],
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["requests"], 20);
    assert_eq!(doc["load"]["totals"]["errors"], 0);

    let (out, doc) = load(
        dir.path(),
        &[&srv.url("/noquote"), "-c", "2", "-n", "20", "--expect-body", re],
    );
    ok(&out);
    let t = &doc["load"]["totals"];
    assert_eq!(
        (t["requests"].as_u64(), t["error_kinds"]["check"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(endpoint(&doc, 0)["check_failures"], 20);
    // A failed check still got an answer, so its latency is measured.
    assert_eq!(endpoint(&doc, 0)["latency"]["count"], 20);
}

#[test]
fn status_checks_default_to_below_400_and_follow_expect_status() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/error"), "-c", "1", "-n", "5"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["error_kinds"]["status"], 5);
    assert_eq!(endpoint(&doc, 0)["statuses"]["500"], 5);
    assert_eq!(
        doc["load"]["error_examples"]["status"],
        "status 500 (expected below 400)"
    );
    let (out, doc) = load(
        dir.path(),
        &[&srv.url("/ok"), "-c", "1", "-n", "5", "--expect-status", "201,202"],
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["error_kinds"]["status"], 5);
    let (out, doc) = load(dir.path(), &[&srv.url("/error"), "-n", "3", "--expect-status", "500"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["errors"], 0);
}

fn stream_case(path: &str, kind: &str) {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url(path), "-c", "2", "-n", "4", "--stream", kind]);
    ok(&out);
    let e = endpoint(&doc, 0);
    assert_eq!(e["requests"], 4, "{e}");
    assert_eq!(e["errors"], 0, "{e}");
    let first = ms(&e["first_chunk"]["p50_ms"]);
    let total = ms(&e["latency"]["p50_ms"]);
    assert!(
        (95.0..160.0).contains(&first),
        "first chunk {first} ms, expected about 100"
    );
    assert!(
        (495.0..600.0).contains(&total),
        "latency {total} ms, expected about 500"
    );
    // Three data chunks each: two gaps of about 200 ms.
    assert_eq!(e["chunks"], 12, "{e}");
    let gap = ms(&e["chunk_gap"]["p50_ms"]);
    assert!((150.0..260.0).contains(&gap), "gap {gap} ms, expected about 200");
    // Time to first byte (the headers) came well before the first chunk.
    assert!(ms(&e["ttfb"]["p50_ms"]) < 60.0, "{e}");
}

#[test]
fn sse_first_chunk_skips_comments_and_keepalives() {
    stream_case("/sse", "sse");
}

#[test]
fn ndjson_first_chunk_is_the_first_line() {
    stream_case("/ndjson", "ndjson");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (out, doc) = load(
        dir.path(),
        &[&srv.url("/never"), "-c", "2", "-n", "4", "--timeout", "300ms"],
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["error_kinds"]["timeout"], 4);
    assert_eq!(doc["load"]["error_examples"]["timeout"], "no answer within 300ms");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_stream_gets_its_own_timeout_after_its_headers() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // The headers come at once, so the 200 ms header timeout never fires;
    // the stream lasts 500 ms, so a 250 ms stream timeout does.
    let args = [
        &srv.url("/sse") as &str,
        "-n",
        "2",
        "--stream",
        "sse",
        "--timeout",
        "200ms",
    ];
    let (out, doc) = load(dir.path(), &[&args[..], &["--stream-timeout", "250ms"]].concat());
    ok(&out);
    assert_eq!(doc["load"]["totals"]["error_kinds"]["timeout"], 2);
    let (out, doc) = load(dir.path(), &[&args[..], &["--stream-timeout", "5s"]].concat());
    ok(&out);
    assert_eq!(doc["load"]["totals"]["errors"], 0);
}

#[test]
fn a_reset_mid_body_is_an_io_error() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/reset"), "-c", "1", "-n", "3"]);
    ok(&out);
    assert_eq!(
        doc["load"]["totals"]["error_kinds"]["io"], 3,
        "{}",
        doc["load"]["totals"]
    );
    let why = doc["load"]["error_examples"]["io"].as_str().unwrap();
    assert!(why.contains("reset") || why.contains("closed"), "{why}");
}

#[test]
fn a_keep_alive_connection_the_server_closed_while_idle_is_not_reused() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // The server closes a connection idle for 200 ms; the user thinks 1.2 s.
    let (out, doc) = load_profile(
        dir.path(),
        &srv,
        "users = 1\niterations = 3\nthink_time = \"1200ms\"\n[[load.request]]\npath = \"/idle-close\"\n",
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 3, "{}", doc["load"]["totals"]);
    assert_eq!(endpoint(&doc, 0)["connect"]["count"], 3);
}

#[test]
fn bytes_beyond_the_announced_length_retire_the_connection() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/extra"), "-c", "1", "-n", "3"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 3, "{}", doc["load"]["totals"]);
    assert_eq!(endpoint(&doc, 0)["connect"]["count"], 3);
}

#[test]
fn refused_connections_mid_run_are_connect_errors() {
    // The first connection is the start-up check, the second serves one
    // request and closes; after that nothing is listening.
    let srv = TestServer::start_with_limit(Some(2));
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/close"), "-c", "1", "-n", "4"]);
    ok(&out);
    let t = &doc["load"]["totals"];
    assert_eq!(
        (t["ok"].as_u64(), t["error_kinds"]["connect"].as_u64()),
        (Some(1), Some(3)),
        "{t}"
    );
}

#[test]
fn a_100_mb_body_is_counted_without_being_kept() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = loadprof()
        .args(["load", &srv.url("/big"), "-c", "1", "-n", "3", "--json", "-o"])
        .arg(dir.path().join("result.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            peak_kib = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(peak_kib);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(endpoint(&doc, 0)["bytes"], 3u64 * (100 << 20));
    assert!(peak_kib > 0 && peak_kib < 40 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn weights_split_requests_three_to_one() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load_profile(
        dir.path(),
        &srv,
        "users = 4\ntotal_requests = 4000\n\
         [[load.request]]\nname = \"a\"\nweight = 3\npath = \"/a\"\n\
         [[load.request]]\nname = \"b\"\nweight = 1\npath = \"/b\"\n",
    );
    ok(&out);
    let a = endpoint(&doc, 0)["requests"].as_f64().unwrap();
    let b = endpoint(&doc, 1)["requests"].as_f64().unwrap();
    assert_eq!(a + b, 4000.0);
    let share = a / (a + b);
    assert!(
        (0.72..=0.78).contains(&share),
        "first request got {share:.3} of the requests"
    );
    let seen = srv.seen.lock().unwrap();
    assert_eq!(seen.paths["/a"] as f64, a);
}

#[test]
fn templates_fill_json_bodies_from_vars_and_query_files() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("queries.txt"), "what is \"rust\"?\nwho wrote it?\n").unwrap();
    let (out, _) = load_profile(
        dir.path(),
        &srv,
        "users = 1\niterations = 4\n\
         [[load.request]]\nname = \"ask\"\npath = \"/echo\"\n\
         json = { user = \"{{pick students}}\", text = \"{{line queries.txt}}\", n = \"{{random_int 1 3}}\", id = \"{{uuid}}\" }\n\
         [vars]\nstudents = [\"alice\", \"bob\"]\n",
    );
    ok(&out);
    let bodies = srv.seen.lock().unwrap().bodies.clone();
    assert_eq!(bodies.len(), 4);
    let parsed: Vec<Value> = bodies.iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    let texts: Vec<&str> = parsed.iter().map(|v| v["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "what is \"rust\"?",
            "who wrote it?",
            "what is \"rust\"?",
            "who wrote it?"
        ]
    );
    for v in &parsed {
        assert!(["alice", "bob"].contains(&v["user"].as_str().unwrap()));
        assert!((1..=3).contains(&v["n"].as_str().unwrap().parse::<i32>().unwrap()));
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
    }
}

#[test]
fn open_model_holds_its_rate() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load(dir.path(), &[&srv.url("/"), "--rate", "400", "-d", "5s"]);
    ok(&out);
    let t = &doc["load"]["totals"];
    let n = t["requests"].as_f64().unwrap();
    assert!((1980.0..=2020.0).contains(&n), "{n} requests at 400/s for 5 s");
    assert_eq!(t["dropped"], 0);
    assert_eq!(doc["load"]["model"], "open");
    assert_eq!(doc["load"]["latency_corrected"], true);
    assert!(doc["load"]["latency_uncorrected"]["count"].as_u64().unwrap() > 0);
    let timeline = std::fs::read_to_string(dir.path().join("timeline.csv")).unwrap();
    let rows: Vec<&str> = timeline.lines().skip(1).collect();
    assert!(rows.len() >= 5, "{timeline}");
    // Rows count requests by when they end, so a stall of a few ms near a
    // second's edge moves some into the next row; the sum stays exact.
    for r in &rows[1..4] {
        let n: u64 = r.split(',').nth(1).unwrap().parse().unwrap();
        assert!((380..=420).contains(&n), "a full second had {n} requests: {timeline}");
    }
}

#[test]
fn open_model_counts_arrivals_beyond_the_in_flight_cap_as_dropped() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // /slow takes 50 ms: 2 connections serve at most about 40/s of the 100/s asked.
    let (out, doc) = load(dir.path(), &[&srv.url("/slow"), "--rate", "100", "-d", "2s", "-c", "2"]);
    ok(&out);
    let t = &doc["load"]["totals"];
    let (done, dropped) = (t["requests"].as_u64().unwrap(), t["dropped"].as_u64().unwrap());
    assert!(dropped > 80 && done < 100 && done + dropped >= 195, "{t}");
}

#[test]
fn closed_model_spawns_users_at_the_spawn_rate() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = load_profile(
        dir.path(),
        &srv,
        "users = 6\nspawn_rate = 5\nthink_time = \"20ms\"\nduration = \"1500ms\"\n[[load.request]]\n",
    );
    ok(&out);
    assert_eq!(doc["load"]["workers"], 6);
    let accepts = srv.seen.lock().unwrap().accepts.clone();
    // The first connection is the start-up check; then one per user.
    assert_eq!(accepts.len(), 7, "{accepts:?}");
    let first = accepts[1];
    for (k, at) in accepts[1..].iter().enumerate() {
        let offset = at.duration_since(first).as_secs_f64();
        let want = k as f64 * 0.2;
        assert!(
            (offset - want).abs() < 0.06,
            "user {k} connected at {offset:.3}s, expected {want:.1}s"
        );
    }
    // Users due after the end never start and are not counted.
    let (out, doc) = load_profile(
        dir.path(),
        &srv,
        "users = 6\nspawn_rate = 5\nduration = \"500ms\"\n[[load.request]]\n",
    );
    ok(&out);
    assert_eq!(doc["load"]["workers"], 3);
}

#[test]
fn merge_of_two_workers_adds_their_histograms() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for i in 0..2 {
        let p = dir.path().join(format!("w{i}.json"));
        let out = loadprof()
            .args([
                "load",
                &srv.url("/"),
                "-c",
                "4",
                "-n",
                "300",
                "--worker-count",
                "2",
                "--worker-index",
            ])
            .arg(i.to_string())
            .arg("-o")
            .arg(&p)
            .output()
            .unwrap();
        ok(&out);
        paths.push(p);
    }
    let merged = dir.path().join("merged.json");
    let out = loadprof()
        .arg("merge")
        .args(&paths)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    ok(&out);
    let parts: Vec<Value> = paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    // Each worker took half of -n 300 and of the 4 users.
    for p in &parts {
        assert_eq!(p["load"]["totals"]["requests"], 150);
        assert_eq!(p["load"]["workers"], 2);
    }
    assert_eq!(m["load"]["totals"]["requests"], 300);
    assert_eq!(m["load"]["latency"]["count"], 300);
    let max = |d: &Value| ms(&d["load"]["latency"]["max_ms"]);
    assert_eq!(max(&m), max(&parts[0]).max(max(&parts[1])));
    assert_eq!(m["schema"], "loadprof.result/v1");
}

#[test]
fn http2_cleartext_with_prior_knowledge() {
    let (addr, accepted) = common::h2c::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/x");
    let (out, doc) = load(dir.path(), &[&url, "--http2", "-c", "2", "-n", "50"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 50, "{}", doc["load"]["totals"]);
    assert_eq!(endpoint(&doc, 0)["statuses"]["200"], 50);
    // The start-up check, then one connection per user.
    assert_eq!(accepted.swap(0, std::sync::atomic::Ordering::Relaxed), 3);
    // Eight users on four streams per connection: two connections.
    let (out, doc) = load(
        dir.path(),
        &[&url, "--http2", "--h2-streams", "4", "-c", "8", "-n", "200"],
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 200, "{}", doc["load"]["totals"]);
    assert_eq!(accepted.swap(0, std::sync::atomic::Ordering::Relaxed), 3);
    // Without --http2 the same server refuses HTTP/1.1.
    let (out, doc) = load(dir.path(), &[&url, "-c", "1", "-n", "2"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 0);
}

#[test]
fn ctrl_c_writes_a_partial_result_and_exits_130() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result.json");
    let child = loadprof()
        .args(["load", &srv.url("/"), "-c", "2", "-d", "60s", "-o"])
        .arg(&result)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let timeline = dir.path().join("timeline.csv");
    wait_for("two timeline rows", Duration::from_secs(10), || {
        std::fs::read_to_string(&timeline).is_ok_and(|t| t.lines().count() >= 3)
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(doc["run"]["outcome"], "interrupted");
    assert!(doc["load"]["totals"]["requests"].as_u64().unwrap() > 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("results are partial"));
}

fn bad_input(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = load(dir.path(), args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected '{e}' in: {err}");
    }
    assert!(!dir.path().join("result.json").exists());
}

#[test]
fn bad_input_names_the_flag_or_key_and_exits_2() {
    bad_input(&["127.0.0.1:9/"], &["URL", "http://"]);
    bad_input(&["ftp://127.0.0.1/"], &["URL", "http:// or https://"]);
    bad_input(&["http://127.0.0.1:9/", "--rate", "0"], &["--rate", "greater than 0"]);
    bad_input(&["http://127.0.0.1:9/", "--body", "{{pick who}}"], &["--body", "'who'"]);
    bad_input(&["http://127.0.0.1:9/", "-H", "no colon"], &["-H", "Name: value"]);
    bad_input(
        &["http://127.0.0.1:9/", "--json-body", "{oops"],
        &["--json-body", "JSON"],
    );
    bad_input(
        &["http://127.0.0.1:9/", "--expect-body", "("],
        &["--expect-body", "regular expression"],
    );
    bad_input(
        &["http://127.0.0.1:9/", "--body", "{{line /no/such/queries.txt}}"],
        &["--body", "/no/such/queries.txt"],
    );

    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[load]\nbase_url = \"http://127.0.0.1:9\"\nduration = \"1s\"\n[[load.request]]\npath = \"/\"\nbody = \"{{pick teachers}}\"\n",
    )
    .unwrap();
    let p = profile.to_str().unwrap();
    bad_input(&["--profile", p], &["p.toml:6: load.request[0].body", "'teachers'"]);
    std::fs::write(&profile, "[load]\nbase_url = \"http://127.0.0.1:9\"\nrat = 5\n").unwrap();
    bad_input(&["--profile", p], &["p.toml:3", "did you mean `rate`?"]);
    std::fs::write(
        &profile,
        "[load]\nbase_url = \"http://127.0.0.1:9\"\nrate = 0\nduration = \"1s\"\n[[load.request]]\n",
    )
    .unwrap();
    bad_input(&["--profile", p], &["p.toml:3: load.rate", "greater than 0"]);
}

#[test]
fn nothing_listening_at_the_start_exits_3_naming_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, _) = load(dir.path(), &[&url, "-n", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("127.0.0.1:{port}")), "{}", stderr(&out));
}

const HTTPS_SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"secure ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// Makes a self-signed certificate for localhost in `dir` with openssl;
/// `None` (after saying why) when openssl is missing.
fn self_signed(dir: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: the openssl command is needed to make a test certificate (.ci/run installs it)");
        return None;
    }
    Some((cert, key))
}

#[test]
fn http2_over_tls_negotiates_h2() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path()) else {
        return;
    };
    let (addr, accepted) = common::h2c::start_tls(&std::fs::read(cert).unwrap(), &std::fs::read(key).unwrap());
    let url = format!("https://localhost:{}/", addr.port());
    let (out, doc) = load(dir.path(), &[&url, "--http2", "--insecure", "-c", "2", "-n", "40"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 40, "{}", doc["load"]["totals"]);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[test]
fn https_over_rustls_checks_certificates_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path()) else {
        return;
    };
    let mut srv = std::process::Command::new(common::python())
        .args(["-c", HTTPS_SERVER])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(srv.stdout.take().unwrap()), &mut line).unwrap();
    let _guard = common::Guard(srv);
    let url = format!("https://localhost:{}/", line.trim());
    let (out, doc) = load(
        dir.path(),
        &[&url, "--insecure", "-c", "2", "-n", "20", "--expect-body", "secure"],
    );
    ok(&out);
    assert_eq!(doc["load"]["totals"]["ok"], 20, "{}", doc["load"]["totals"]);
    // Two connections, kept alive for all 20 requests.
    assert_eq!(endpoint(&doc, 0)["connect"]["count"], 2);
    // The self-signed certificate is refused without --insecure.
    let (out, doc) = load(dir.path(), &[&url, "-c", "1", "-n", "2"]);
    ok(&out);
    assert_eq!(doc["load"]["totals"]["error_kinds"]["connect"], 2);
    let why = doc["load"]["error_examples"]["connect"].as_str().unwrap();
    assert!(why.contains("certificate"), "{why}");
}

#[test]
fn ramping_stages_and_poisson_arrivals_follow_the_plan() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // 0 → 200/s over 2 s, then 100/s for 1 s: 200 + 100 arrivals.
    let (out, doc) = load_profile(
        dir.path(),
        &srv,
        "stages = [{ target = 200, duration = \"2s\" }, { rate = 100, duration = \"1s\" }]\n[[load.request]]\n",
    );
    ok(&out);
    let n = doc["load"]["totals"]["requests"].as_u64().unwrap();
    assert!((297..=303).contains(&n), "{n} requests, planned 300");
    assert_eq!(doc["load"]["target_rate"], 200.0);
    // Poisson arrivals at 300/s for 2 s: 600 expected, standard deviation about 24.
    let (out, doc) = load(dir.path(), &[&srv.url("/"), "--rate", "300", "--poisson", "-d", "2s"]);
    ok(&out);
    let n = doc["load"]["totals"]["requests"].as_u64().unwrap();
    assert!((500..=700).contains(&n), "{n} requests, expected about 600");
}
