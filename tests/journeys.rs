//! Journeys against a real aiohttp console (tests/data/scenarios/
//! console_server.py): a token captured at login reaches the next step,
//! cookies live per user, jobs are polled until done and timed, scenarios
//! run side by side with their own executors, SLOs on steps and flows gate
//! the exit code, and every mistake in a profile is exit 2 before anything
//! runs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};

use common::{Guard, assert_ok, endpoint, loadprof, output_text, python, serve, validate};
use serde_json::Value;

const JOB_DELAY_S: f64 = 0.6;
const POLL_INTERVAL_MS: f64 = 200.0;

fn console() -> (Guard, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios/console_server.py");
    let mut cmd = Command::new(python());
    cmd.arg(script).args([
        "--port",
        "0",
        "--job-delay",
        &JOB_DELAY_S.to_string(),
        "--simulate-ms",
        "5",
    ]);
    serve(cmd)
}

/// The console's counters.
fn stats(url: &str) -> Value {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(authority).unwrap();
    write!(
        s,
        "GET /stats HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("/stats: {e}: {text}"))
}

/// Runs `loadprof run` on `profile` (with `{URL}` replaced), or with
/// `load` set `loadprof load --profile`; returns the output and the result
/// (Null when none was written).
fn run_as(dir: &Path, url: &str, profile: &str, load: bool, extra: &[&str]) -> (Output, Value) {
    let path = dir.join("journey.toml");
    std::fs::write(&path, profile.replace("{URL}", url)).unwrap();
    let out_dir = dir.join("out");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let result = out_dir.join("result.json");
    let mut cmd = loadprof();
    if load {
        cmd.args(["load", "--profile"]).arg(&path).arg("-o").arg(&result);
    } else {
        cmd.arg("run").arg(&path).arg("--out").arg(&out_dir);
    }
    let out = cmd.args(extra).env("CONSOLE_PASSWORD", "s3cret").output().unwrap();
    let doc = match std::fs::read_to_string(&result) {
        Ok(text) => {
            assert_eq!(validate(&text, None), "", "result.json matches the schema");
            serde_json::from_str(&text).unwrap()
        }
        Err(_) => Value::Null,
    };
    (out, doc)
}

fn run(dir: &Path, url: &str, profile: &str) -> (Output, Value) {
    run_as(dir, url, profile, false, &[])
}

fn scenario<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["load"]["scenarios"]
        .as_array()
        .unwrap_or_else(|| panic!("no scenarios in {doc}"))
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_captured_token_reaches_the_next_step() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let profile = r#"
[load]
base_url = "{URL}"

[vars]
people = ["ada", "grace"]

[scenarios.quantum]
executor = "shared-iterations"
users = 4
iterations = 40
session = "iteration"

  [[scenarios.quantum.steps]]
  name = "login"
  method = "POST"
  path = "/login"
  json = { user = "{{pick people}}", password = "{{env CONSOLE_PASSWORD}}" }
  capture.token = { json = "/access_token" }

  [[scenarios.quantum.steps]]
  name = "simulate"
  method = "POST"
  path = "/simulate"
  headers = { Authorization = "Bearer {{token}}" }
  json = { shots = 10 }
"#;
    let (out, doc) = run_as(dir.path(), &url, profile, true, &[]);
    assert_ok(&out);
    let s = stats(&url);
    // shared-iterations: 40 in all, whatever the users.
    assert_eq!(
        u(&scenario(&doc, "quantum")["iterations"]),
        40,
        "{}",
        doc["load"]["scenarios"]
    );
    assert_eq!(u(&scenario(&doc, "quantum")["failed_iterations"]), 0);
    assert_eq!(u(&s["logins"]), 40, "{s}");
    assert_eq!(u(&s["simulate_ok"]), 40, "{s}");
    assert_eq!(u(&s["simulate_unauthorized"]), 0, "no 401: {s}");
    assert_eq!(u(&endpoint(&doc, "quantum.simulate")["requests"]), 40);
    // The password came from the environment and is written nowhere.
    let written = std::fs::read_to_string(dir.path().join("out/result.json")).unwrap();
    assert!(!written.contains("s3cret") && !output_text(&out).contains("s3cret"));
}

#[test]
fn cookies_live_as_long_as_their_user_and_are_never_shared() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let profile = r#"
[load]
base_url = "{URL}"

[scenarios.visits]
executor = "per-user-iterations"
users = 3
iterations = 5

  [[scenarios.visits.on_start]]
  name = "start"
  method = "POST"
  path = "/session/start"

  [[scenarios.visits.steps]]
  name = "visit"
  path = "/session/visit"
"#;
    let (out, doc) = run(dir.path(), &url, profile);
    assert_ok(&out);
    let s = stats(&url);
    let sessions = s["sessions"].as_object().unwrap();
    // One session per user, each visited by its own user only.
    assert_eq!(sessions.len(), 3, "{s}");
    assert!(sessions.values().all(|v| v == 5), "{s}");
    assert_eq!(u(&s["visits_without_session"]), 0, "{s}");
    assert_eq!(u(&s["stale_cookie"]), 0, "a deleted cookie is not sent back: {s}");
    assert_eq!(u(&scenario(&doc, "visits")["iterations"]), 15);

    // session = "iteration": each iteration starts from what on_start
    // left, so a cookie set by a step lasts one iteration.
    let (_srv, url) = console();
    let profile = r#"
[load]
base_url = "{URL}"

[scenarios.visits]
executor = "per-user-iterations"
users = 2
iterations = 3
session = "iteration"

  [[scenarios.visits.steps]]
  name = "start"
  method = "POST"
  path = "/session/start"

  [[scenarios.visits.steps]]
  name = "visit"
  path = "/session/visit"
"#;
    let (out, _) = run(dir.path(), &url, profile);
    assert_ok(&out);
    let s = stats(&url);
    let sessions = s["sessions"].as_object().unwrap();
    assert_eq!(sessions.len(), 6, "{s}");
    assert!(sessions.values().all(|v| v == 1), "{s}");
}

#[test]
fn jobs_are_polled_until_done_and_the_turnaround_is_the_jobs_own() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let profile = r#"
[load]
base_url = "{URL}"

[scenarios.jobs]
executor = "per-user-iterations"
users = 4
iterations = 5

  [[scenarios.jobs.steps]]
  name = "enqueue"
  method = "POST"
  path = "/jobs"
  json = {}
  expect_status = [201, 202]
  capture.job_id = { json = "/id" }

  [[scenarios.jobs.steps]]
  name = "status"
  path = "/jobs/{{job_id}}"
  poll = { until = { json = "/status", equals = "done" }, fail_if = { json = "/status", in = ["failed"] }, interval = "200ms", timeout = "10s" }

[slo]
"jobs.status.turnaround.p95" = "< 5s"
"jobs.flow.p95" = "< 5s"
"#;
    let (out, doc) = run(dir.path(), &url, profile);
    assert_ok(&out);
    let sc = scenario(&doc, "jobs");
    assert_eq!((u(&sc["iterations"]), u(&sc["failed_iterations"])), (20, 0), "{sc}");
    let status = endpoint(&doc, "jobs.status");
    let t = &status["turnaround"];
    assert_eq!(u(&t["count"]), 20, "{status}");
    // Done JOB_DELAY after it was queued; seen at the first poll after
    // that, so within one poll interval (and a little for the machine).
    let delay_ms = JOB_DELAY_S * 1000.0;
    assert!(t["min_ms"].as_f64().unwrap() >= delay_ms * 0.95, "{t}");
    let p50 = t["p50_ms"].as_f64().unwrap();
    assert!(
        p50 <= delay_ms + POLL_INTERVAL_MS + 150.0,
        "p50 turnaround {p50} ms: {t}"
    );
    // At 200 ms a poll, a job done at 600 ms is seen at the 4th request.
    let attempts = &status["attempts"];
    assert_eq!(u(&attempts["polls"]), 20);
    assert!((3.0..=6.0).contains(&attempts["mean"].as_f64().unwrap()), "{attempts}");
    assert_eq!(u(&attempts["total"]), u(&status["requests"]));
    // The flow holds the poll's waits; the active time does not.
    let flow = sc["flow"]["p50_ms"].as_f64().unwrap();
    let active = sc["active"]["p50_ms"].as_f64().unwrap();
    assert!(
        flow >= p50 * 0.9 && active < flow / 2.0,
        "flow {flow} ms, active {active} ms"
    );

    // A job that fails ends its iteration at fail_if, with the reason.
    let failing = profile.replace("json = {}", "json = { fail = true }");
    let (out, doc) = run(dir.path(), &url, &failing);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an SLO on a flow that never succeeds fails: {}",
        output_text(&out)
    );
    let sc = scenario(&doc, "jobs");
    assert_eq!(u(&sc["failed_iterations"]), 20, "{sc}");
    let at_poll = &sc["failed_by_step"][1];
    assert_eq!((at_poll["step"].as_str(), u(&at_poll["count"])), (Some("status"), 20));
    let why = at_poll["example"].as_str().unwrap();
    assert!(why.contains("fail_if held") && why.contains("failed"), "{why}");
}

#[test]
fn executors_run_their_iterations_and_rates_side_by_side() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let profile = r#"
[load]
base_url = "{URL}"
duration = "3s"

[scenarios.shell]
executor = "constant-users"
users = 3
think_time = "100ms"

  [[scenarios.shell.steps]]
  name = "home"
  path = "/"

[scenarios.arrivals]
executor = "constant-arrival-rate"
rate = 20
start_time = "1s"
duration = "2s"

  [[scenarios.arrivals.steps]]
  name = "health"
  path = "/health"

[scenarios.ramp]
executor = "ramping-arrival-rate"
start_rate = 0
stages = [{ target = 20, duration = "3s" }]

  [[scenarios.ramp.steps]]
  name = "form"
  path = "/form"

[scenarios.growing]
executor = "ramping-users"
stages = [{ target = 4, duration = "2s" }, { target = 4, duration = "1s" }]
think_time = "100ms"

  [[scenarios.growing.steps]]
  name = "bundle"
  path = "/static/app.js"

[scenarios.each]
executor = "per-user-iterations"
users = 3
iterations = 4

  [[scenarios.each.steps]]
  name = "token"
  path = "/token-header"
  capture.token = { header = "X-Token" }

  [[scenarios.each.steps]]
  name = "use"
  path = "/needs-header-token"
  headers = { X-Token = "{{token}}" }
"#;
    let (out, doc) = run(dir.path(), &url, profile);
    assert_ok(&out);
    assert_eq!(doc["load"]["model"], "mixed");
    let s = stats(&url);
    assert_eq!(u(&scenario(&doc, "shell")["workers"]), 3);
    assert!(
        u(&scenario(&doc, "shell")["iterations"]) >= 9,
        "{}",
        scenario(&doc, "shell")
    );
    // 20/s for 2 s, and a ramp from 0 to 20/s over 3 s: 40 and 30 arrivals.
    let arrivals = u(&scenario(&doc, "arrivals")["iterations"]);
    assert!((36..=41).contains(&arrivals), "constant-arrival-rate: {arrivals}");
    let ramp = u(&scenario(&doc, "ramp")["iterations"]);
    assert!((26..=31).contains(&ramp), "ramping-arrival-rate: {ramp}");
    assert_eq!(
        u(&scenario(&doc, "growing")["workers"]),
        4,
        "{}",
        scenario(&doc, "growing")
    );
    assert_eq!(u(&scenario(&doc, "each")["iterations"]), 12);
    assert_eq!(u(&s["header_token_ok"]), 12, "a header capture carries the token: {s}");
    assert_eq!(u(&s["header_token_bad"]), 0, "{s}");
    // The arrival-rate scenario started 1 s in, while the others ran.
    let paths = &s["paths"];
    let first = |p: &str| paths[p]["first"].as_f64().unwrap();
    let last = |p: &str| paths[p]["last"].as_f64().unwrap();
    assert!(first("/health") - first("/") >= 0.8, "start_time: {paths}");
    assert!(
        first("/health") < last("/") && first("/") < last("/health"),
        "they overlap: {paths}"
    );
    assert!(first("/form") < last("/static/app.js"), "{paths}");
}

#[test]
fn slos_on_steps_and_flows_gate_the_exit_code_and_a_missed_capture_fails_its_iteration() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let profile = r#"
[load]
base_url = "{URL}"

[scenarios.forms]
executor = "per-user-iterations"
users = 2
iterations = 5

  [[scenarios.forms.steps]]
  name = "page"
  path = "/form"
  capture.csrf = { regex = 'name="csrf" value="([0-9a-f]+)"' }

  [[scenarios.forms.steps]]
  name = "submit"
  method = "POST"
  path = "/form"
  headers = { X-CSRF = "{{csrf}}" }

[slo]
"forms.submit.p95" = "< 5s"
"forms.flow.p95" = "< 5s"
"forms.iterations" = ">= 10"
"forms.iteration_fail_rate" = "<= 0%"
"#;
    let (out, doc) = run(dir.path(), &url, profile);
    assert_ok(&out);
    assert_eq!(u(&stats(&url)["form_ok"]), 10);
    let slos = doc["slo"].as_array().unwrap();
    assert_eq!(slos.len(), 4);
    assert!(slos.iter().all(|s| s["pass"] == true), "{slos:?}");
    // `gate` judges a stored result's journey metrics too.
    let result = dir.path().join("out/result.json");
    let gate = |slo: &str| {
        loadprof()
            .arg("gate")
            .arg(&result)
            .args(["--slo", slo])
            .output()
            .unwrap()
    };
    assert_ok(&gate("forms.submit.p95=< 5s"));
    assert_eq!(gate("forms.flow.active.p99=< 1us").status.code(), Some(1));
    assert_eq!(gate("forms.iterations=>= 11").status.code(), Some(1));
    let unknown = gate("formz.flow.p95=< 1s");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        output_text(&unknown).contains("scenarios are forms"),
        "{}",
        output_text(&unknown)
    );

    // A flow SLO no flow can meet: exit 1, named in the summary.
    let strict = profile.replace(r#""forms.flow.p95" = "< 5s""#, r#""forms.flow.p95" = "< 1us""#);
    let alerts = dir.path().join("alerts.jsonl");
    let (out, _) = run_as(
        dir.path(),
        &url,
        &strict,
        false,
        &["--alerts", alerts.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("forms.flow.p95"), "{}", output_text(&out));
    let alerts = std::fs::read_to_string(&alerts).unwrap();
    assert!(
        alerts.contains("forms.flow.p95") && alerts.lines().count() == 1,
        "{alerts}"
    );

    // A capture that finds nothing fails its iteration, not the run.
    let missing = profile.replace(r#"value="([0-9a-f]+)""#, r#"value="(NOPE[0-9]+)""#);
    let (out, doc) = run(dir.path(), &url, &missing);
    assert_eq!(
        out.status.code(),
        Some(1),
        "iteration_fail_rate fails: {}",
        output_text(&out)
    );
    let sc = scenario(&doc, "forms");
    assert_eq!((u(&sc["iterations"]), u(&sc["failed_iterations"])), (10, 10), "{sc}");
    let why = sc["failed_by_step"][0]["example"].as_str().unwrap();
    assert!(why.contains("capture 'csrf' found nothing"), "{why}");
    assert_eq!(
        u(&endpoint(&doc, "forms.submit")["requests"]),
        0,
        "the next step never ran"
    );
}

/// Writes `profile` and runs `loadprof validate` and `load --profile` on it.
fn refused(profile: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, profile).unwrap();
    for cmd in [&["validate"][..], &["load", "--profile"][..]] {
        let out = loadprof().args(cmd).arg(&path).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {text}");
        for e in expect {
            assert!(text.contains(e), "{cmd:?}: expected {e:?} in: {text}");
        }
    }
}

const HEAD: &str = "[load]\nbase_url = \"http://127.0.0.1:9\"\nduration = \"1s\"\n";

#[test]
fn mistakes_in_journeys_are_exit_2_naming_file_line_and_key() {
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/x/{{{{job_id}}}}\"\n"
        ),
        &[
            "bad.toml:7: scenarios.a.steps[0].path",
            "no earlier step captures 'job_id'",
        ],
    );
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"per-user-iterations\"\niterations = 1\n[[scenarios.a.steps]]\npath = \"/j\"\npoll = {{ until = {{ json = \"/status\", equals = \"done\" }}, interval = \"1s\" }}\n"
        ),
        &["bad.toml:9: scenarios.a.steps[0].poll", "needs a timeout"],
    );
    refused(
        &format!("{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\nrate = 5\n[[scenarios.a.steps]]\npath = \"/\"\n"),
        &["bad.toml:6: scenarios.a.rate", "does not take rate", "users, duration"],
    );
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/\"\ncapture.id = {{ json = \"id\" }}\n"
        ),
        &["bad.toml:8: scenarios.a.steps[0].capture.id.json", "not a JSON pointer"],
    );
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/\"\n[scenarios.a]\nexecutor = \"constant-users\"\n"
        ),
        &["bad.toml:8", "duplicate key"],
    );
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/\"\ncapture.pick = {{ json = \"/id\" }}\n"
        ),
        &["scenarios.a.steps[0].capture.pick", "template helper"],
    );
    refused(
        &format!(
            "{HEAD}[[load.request]]\npath = \"/\"\n[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/\"\n"
        ),
        &["bad.toml:4: load.request[0]", "not both"],
    );
    refused(
        &format!("{HEAD}[scenarios.a]\nexecutor = \"constant-vus\"\n[[scenarios.a.steps]]\npath = \"/\"\n"),
        &["bad.toml:5: scenarios.a.executor", "constant-users, ramping-users"],
    );
    refused(
        &format!(
            "{HEAD}[scenarios.a]\nexecutor = \"constant-users\"\n[[scenarios.a.steps]]\npath = \"/\"\n[slo]\n\"a.flow.p97\" = \"< 1s\"\n"
        ),
        &["slo.\"a.flow.p97\"", "<scenario>.flow."],
    );
}

#[test]
fn load_flags_shorten_scenarios_and_refuse_what_belongs_to_each() {
    let (_srv, url) = console();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let profile = r#"
[load]
base_url = "{URL}"
duration = "10m"

[scenarios.home]
executor = "constant-users"
users = 2

  [[scenarios.home.steps]]
  path = "/health"

[scenarios.rate]
executor = "constant-arrival-rate"
rate = 10

  [[scenarios.rate.steps]]
  path = "/health"
"#;
    std::fs::write(&path, profile.replace("{URL}", &url)).unwrap();
    let started = std::time::Instant::now();
    let out = loadprof()
        .args(["load", "--profile"])
        .arg(&path)
        .args(["-d", "1s", "--json", "-o"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(started.elapsed().as_secs() < 60, "-d shortened both scenarios");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rate = u(&scenario(&doc, "rate")["iterations"]);
    assert!((8..=11).contains(&rate), "10/s for 1 s: {rate}");
    assert!(u(&scenario(&doc, "home")["iterations"]) > 0);
    assert!(endpoint(&doc, "home.step0")["requests"].as_u64().unwrap() > 0);
    for flag in [&["-c", "5"][..], &["-n", "100"][..]] {
        let out = loadprof()
            .args(["load", "--profile"])
            .arg(&path)
            .args(flag)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
        assert!(output_text(&out).contains(&format!("{}: the profile's [scenarios]", flag[0])));
    }
}
