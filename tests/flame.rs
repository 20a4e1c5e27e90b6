//! `loadprof flame` end to end with the real profilers: py-spy on Python
//! processes (one, and gunicorn's workers under load), Go's net/http/pprof
//! (CPU and heap), perf on a native program, and `flame diff`/`render`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    Guard, assert_ok, background_load, children_of, free_port, go_server, json, loadprof, python, spawn_python,
};

const BUSY: &str = r#"
import math
def loadprof_leaf_hot(n):
    s = 0.0
    for i in range(n):
        s += math.sqrt(i) * math.sin(i)
    return s
def loadprof_middle():
    return loadprof_leaf_hot(20000)
while True:
    loadprof_middle()
"#;

/// The weights are CPU nanoseconds: the total over the samples is close to
/// the sampling period.
fn per_sample_ns_near(doc: &serde_json::Value, period_ns: f64) {
    let per = doc["total"].as_f64().unwrap() / doc["samples"].as_f64().unwrap();
    assert!(
        (0.5 * period_ns..2.0 * period_ns).contains(&per),
        "{per} ns per sample, expected about {period_ns}: {doc}"
    );
}

/// The weight of the stacks in folded text for which `pick` holds.
fn weight(folded: &str, pick: impl Fn(&str) -> bool) -> u64 {
    loadprof::flame::Folded::parse(folded)
        .expect("loadprof writes valid folded text")
        .iter()
        .filter(|(stack, _)| pick(stack))
        .map(|(_, count)| count)
        .sum()
}

fn folded_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flame.folded")).expect("flame.folded is written")
}

/// The SVG parses as XML; returns its text.
fn svg_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("the SVG is written");
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(&text, opt)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    text
}

fn flame(dir: &Path, args: &[&str]) -> std::process::Output {
    let svg = dir.join("flame.svg");
    loadprof()
        .arg("flame")
        .args(["-o", svg.to_str().unwrap(), "--json"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn py_spy_profile_names_the_python_functions() {
    let target = spawn_python(BUSY, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let pid = target.pid().to_string();
    let out = flame(dir.path(), &["--pid", &pid, "-d", "2s"]);
    assert_ok(&out);
    let doc = json(&out.stdout);
    assert_eq!(
        doc["profiler"], "py-spy",
        "auto picks py-spy for a Python process: {doc}"
    );
    assert_eq!(doc["unit"], "samples");
    let samples = doc["samples"].as_u64().unwrap();
    assert!(
        samples >= 50,
        "2s at 100 Hz of a busy process gave only {samples} samples"
    );
    let folded = folded_text(dir.path());
    assert!(folded.contains("loadprof_middle (<string>:"), "{folded}");
    assert!(folded.contains("loadprof_leaf_hot"), "{folded}");
    // Each stack is rooted at its process (pid and command line).
    assert!(
        folded.lines().all(|l| l.starts_with(&format!("pid {pid}: python"))),
        "{folded}"
    );
    let svg = svg_text(&dir.path().join("flame.svg"));
    assert!(
        svg.contains("loadprof_leaf_hot") && svg.contains("py-spy, ") && svg.contains(&format!("{samples} samples")),
        "names and subtitle in the SVG"
    );
    assert!(
        doc["hottest"][0]["frame"]
            .as_str()
            .unwrap()
            .contains("loadprof_leaf_hot"),
        "{doc}"
    );
}

#[test]
fn a_python_command_is_started_profiled_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("loadprof-flame-spawn-{}", std::process::id());
    let out = flame(dir.path(), &["-d", "1s", "--", python(), "-c", BUSY, &marker]);
    assert_ok(&out);
    assert!(folded_text(dir.path()).contains("loadprof_leaf_hot"));
    std::thread::sleep(Duration::from_millis(300));
    let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.stdout.is_empty(), "the started command is stopped afterwards");
}

#[test]
fn a_target_that_exits_mid_capture_leaves_a_partial_profile() {
    let script = "import math, time\nt = time.time()\nwhile time.time() - t < 2.0:\n    math.sqrt(7)\n";
    let target = spawn_python(script, &[]);
    std::thread::sleep(Duration::from_millis(250));
    let dir = tempfile::tempdir().unwrap();
    let out = flame(dir.path(), &["--pid", &target.pid().to_string(), "-d", "8s"]);
    assert_ok(&out);
    let doc = json(&out.stdout);
    let partial = doc["partial"].as_str().unwrap_or_default();
    assert!(partial.contains("exited"), "partial says the target exited: {doc}");
    assert!(doc["samples"].as_u64().unwrap() > 0);
    assert!(doc["duration_s"].as_f64().unwrap() < 6.0, "{doc}");
}

#[test]
fn sigint_keeps_what_was_recorded_and_exits_130() {
    let target = spawn_python(BUSY, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("flame.svg");
    let child = loadprof()
        .args(["flame", "--pid", &target.pid().to_string(), "-d", "30s", "--json"])
        .args(["-o", svg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out.stdout);
    assert!(doc["partial"].as_str().unwrap().contains("interrupted"), "{doc}");
    assert!(doc["samples"].as_u64().unwrap() > 20, "{doc}");
    assert!(folded_text(dir.path()).contains("loadprof_leaf_hot"));
    svg_text(&svg);
}

#[test]
fn gunicorn_workers_under_load_each_appear() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wsgiapp.py"),
        "import math\n\
def burn_request(n):\n    s = 0.0\n    for i in range(n):\n        s += math.sqrt(i)\n    return s\n\
def app(environ, start_response):\n    burn_request(30000)\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'ok\\n']\n",
    )
    .unwrap();
    let (master, port) = common::gunicorn_two_workers(dir.path(), "wsgiapp:app", &[]);
    let workers = children_of(master.pid());
    let _load = background_load(&format!("http://127.0.0.1:{port}/"), 8, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let out = flame(dir.path(), &["--pid", &master.pid().to_string(), "-d", "3s"]);
    assert_ok(&out);
    let folded = folded_text(dir.path());
    for w in &workers {
        let in_worker = weight(&folded, |s| {
            s.starts_with(&format!("pid {w}: ")) && s.contains("burn_request")
        });
        assert!(in_worker > 0, "worker {w} is a root of its own:\n{folded}");
    }
}

#[test]
fn go_pprof_cpu_and_heap_profiles_name_the_handlers() {
    let (_server, port) = go_server();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let _load = background_load(&format!("{base}/burn?n=20000"), 6, dir.path());
    let retain = loadprof()
        .args(["load", &format!("{base}/retain"), "-c", "1", "-n", "100", "-o"])
        .arg(dir.path().join("retain.json"))
        .output()
        .unwrap();
    assert!(retain.status.success());
    let out = flame(dir.path(), &["--pprof", &base, "-d", "2s"]);
    assert_ok(&out);
    let doc = json(&out.stdout);
    assert_eq!(
        (doc["profiler"].as_str(), doc["unit"].as_str()),
        (Some("pprof"), Some("nanoseconds"))
    );
    // Go samples at 100 Hz: each sample weighs 10 ms of CPU.
    per_sample_ns_near(&doc, 10_000_000.0);
    let folded = folded_text(dir.path());
    let hash = weight(&folded, |s| s.contains("main.burnHandler;main.hashLoop"));
    let total: u64 = doc["total"].as_u64().unwrap();
    assert!(
        hash * 2 > total,
        "the handler's hash loop dominates the CPU graph ({hash} of {total}):\n{folded}"
    );
    svg_text(&dir.path().join("flame.svg"));

    let out = flame(
        dir.path(),
        &[
            "--pprof",
            &format!("{base}/debug/pprof/profile"),
            "--heap",
            "--heap-mode",
            "inuse",
            "-d",
            "1s",
        ],
    );
    assert_ok(&out);
    let doc = json(&out.stdout);
    assert_eq!(
        (doc["kind"].as_str(), doc["unit"].as_str()),
        (Some("heap"), Some("bytes"))
    );
    let folded = folded_text(dir.path());
    let retained = weight(&folded, |s| s.contains("main.retainChunk"));
    // 100 requests kept 64 KiB each (6.25 MiB); the server samples every
    // 4 KiB, and Go publishes the heap as of a recent collection, so some
    // of the last chunks may not be counted yet.
    assert!(
        (2 << 20..8 << 20).contains(&retained),
        "retained bytes in the heap graph: {retained}\n{folded}"
    );
    assert_eq!(doc["mode"].as_str(), Some("inuse"));
    let total = doc["total_bytes"].as_u64().unwrap();
    // The rest is the runtime's and the index's own memory, which varies
    // with when the last collection ran: the chunks hold most of it.
    assert!(
        retained * 2 > total,
        "the retained chunks dominate the heap: {retained} of {total}"
    );
}

#[test]
fn a_missing_pprof_endpoint_exits_3_and_says_what_to_check() {
    let (_server, port) = go_server();
    let dir = tempfile::tempdir().unwrap();
    let out = flame(
        dir.path(),
        &["--pprof", &format!("http://127.0.0.1:{port}/nope/profile"), "-d", "1s"],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("net/http/pprof"), "{err}");
    // Go refuses a second CPU profile with 500 "cpu profiling already in use".
    let first = loadprof()
        .args([
            "flame",
            "--pprof",
            &format!("http://127.0.0.1:{port}"),
            "-d",
            "5s",
            "-o",
        ])
        .arg(dir.path().join("first.svg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _first = Guard(first);
    std::thread::sleep(Duration::from_millis(1000));
    let out = flame(
        dir.path(),
        &["--pprof", &format!("http://127.0.0.1:{port}"), "-d", "1s"],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another CPU profile"), "{err}");
    let out = flame(
        dir.path(),
        &["--pprof", &format!("http://127.0.0.1:{}", free_port()), "-d", "1s"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the server running"));
}

/// Why perf cannot be used here, if it cannot.
fn perf_unusable() -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("probe.data");
    match Command::new("perf")
        .args(["record", "-F", "99", "-g", "-o"])
        .arg(&data)
        .args(["--", "sleep", "0.05"])
        .output()
    {
        Err(e) => Some(format!("perf is not installed ({e})")),
        Ok(o) if !o.status.success() => Some(format!(
            "perf record is not permitted here: {}",
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("")
        )),
        Ok(_) => None,
    }
}

#[test]
fn perf_profiles_a_native_program() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = perf_target(dir.path()) else {
        return;
    };
    let out = flame(dir.path(), &["-d", "2s", "--", bin.to_str().unwrap()]);
    assert_ok(&out);
    let doc = json(&out.stdout);
    assert_eq!(
        (doc["profiler"].as_str(), doc["unit"].as_str()),
        (Some("perf"), Some("nanoseconds"))
    );
    assert!(doc["samples"].as_u64().unwrap() > 20, "{doc}");
    // perf's cpu-clock at 99 Hz: each sample weighs about 10.1 ms of CPU.
    per_sample_ns_near(&doc, 1e9 / 99.0);
    let folded = folded_text(dir.path());
    assert!(folded.contains("main;loadprof_native_leaf"), "{folded}");
    svg_text(&dir.path().join("flame.svg"));
    let left = Command::new("pgrep")
        .arg("-f")
        .arg(bin.to_str().unwrap())
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the started program is stopped afterwards");
}

#[test]
fn diff_draws_and_lists_what_got_hotter() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("before.folded"), dir.path().join("after.folded"));
    std::fs::write(&a, "main;serve;parse 40\nmain;serve;hash 10\nmain;idle 50\n").unwrap();
    std::fs::write(&b, "main;serve;parse 40\nmain;serve;hash 60\nmain;idle 50\n").unwrap();
    let svg = dir.path().join("diff.svg");
    let out = loadprof()
        .args(["flame", "diff"])
        .args([&a, &b])
        .arg("--normalize")
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().nth(1).unwrap();
    assert!(first.contains("hash") && first.contains("+30.0"), "{text}");
    // The caller `serve` went from 50% to 67% of samples (inferno leaves it white).
    assert!(
        text.lines().any(|l| l.contains("serve") && l.contains("+16.7")),
        "{text}"
    );
    let svg = svg_text(&svg);
    assert!(svg.contains("hash"));

    std::fs::write(&b, "main;ok 3\nmain;broken\n").unwrap();
    let out = loadprof().args(["flame", "diff"]).args([&a, &b]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after.folded: line 2"), "{err}");
}

#[test]
fn render_draws_a_folded_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.folded");
    std::fs::write(&input, "a frame (x.py:1);b (y.py:2) 5\na frame (x.py:1) 1\n").unwrap();
    let svg = dir.path().join("out.svg");
    let out = loadprof()
        .args(["flame", "render"])
        .arg(&input)
        .args(["--title", "Render <&> test", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert_ok(&out);
    let text = svg_text(&svg);
    assert!(text.contains("b (y.py:2)") && text.contains("Render &lt;&amp;&gt; test"));
}

#[test]
fn bad_input_exits_2_and_a_missing_profiler_exits_3() {
    let out = loadprof()
        .args(["flame", "--pid", "4194999", "-d", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pid 4194999"));
    let out = loadprof()
        .args(["flame", "--pid", "1", "--heap", "--profiler", "perf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "perf takes no heap profiles");
    let out = loadprof().args(["flame", "-d", "0s", "--pid", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let target = spawn_python(BUSY, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = loadprof()
        .env("LOADPROF_PY_SPY", "/nonexistent/py-spy")
        .args(["flame", "--pid", &target.pid().to_string(), "-d", "1s", "-o"])
        .arg(dir.path().join("f.svg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pip install py-spy"));
}

/// py-spy's own binary (not a version manager's shim, which another user
/// could not run).
fn py_spy_binary() -> PathBuf {
    let out = Command::new(python())
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .unwrap();
    let beside = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("py-spy");
    if beside.is_file() {
        return beside;
    }
    let which = Command::new("sh").args(["-c", "command -v py-spy"]).output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&which.stdout).trim())
}

#[test]
fn ptrace_refusal_names_the_fix() {
    let Some((dir, bin)) = common::loadprof_for_nobody() else {
        return;
    };
    let spy = dir.path().join("py-spy");
    std::fs::copy(py_spy_binary(), &spy).unwrap();
    let target = spawn_python(BUSY, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let out = common::as_nobody(&bin)
        .args(["flame", "--pid", &target.pid().to_string(), "-d", "1s", "-o"])
        .arg(dir.path().join("f.svg"))
        .env("LOADPROF_PY_SPY", &spy)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("with py-spy"),
        "auto still picks py-spy for another user's Python: {err}"
    );
    assert!(err.contains("ptrace") && err.contains("SYS_PTRACE"), "{err}");
}

/// A busy native program, built once per test from C.
fn native_burner(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("burn.c");
    std::fs::write(
        &src,
        "#include <math.h>\n#include <stdio.h>\n\
__attribute__((noinline)) double loadprof_native_leaf(int n) { double s = 0; for (int i = 0; i < n; i++) s += sqrt(i) * sin(i); return s; }\n\
int main(void) { double t = 0; for (;;) { t += loadprof_native_leaf(1000000); if (t < -1) printf(\"%f\\n\", t); } }\n",
    )
    .unwrap();
    let bin = dir.join("burn");
    let cc = Command::new("cc")
        .args(["-O1", "-g", "-o"])
        .arg(&bin)
        .arg(&src)
        .arg("-lm")
        .output();
    match cc {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => panic!("cc failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => None,
    }
}

/// A native program for perf to profile, or None (having said why) where
/// perf may not run or no C compiler is installed.
fn perf_target(dir: &Path) -> Option<PathBuf> {
    if let Some(why) = perf_unusable() {
        eprintln!("skipped: {why}");
        return None;
    }
    let bin = native_burner(dir);
    if bin.is_none() {
        eprintln!("skipped: no C compiler (cc) to build the native target");
    }
    bin
}

fn nothing_left(pattern: &str) {
    std::thread::sleep(Duration::from_millis(300));
    let left = Command::new("pgrep").args(["-f", pattern]).output().unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes matching '{pattern}' were left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn a_command_with_children_is_profiled_and_stopped_whole() {
    let dir = tempfile::tempdir().unwrap();
    // The child holds py-spy's and loadprof's pipes if anything leaks them.
    let script = "import subprocess, math\nsubprocess.Popen(['sleep', '47.3'])\n\
def loadprof_parent_busy():\n    while True:\n        math.sqrt(2.0)\nloadprof_parent_busy()\n";
    let t0 = std::time::Instant::now();
    let out = flame(dir.path(), &["-d", "2s", "--", python(), "-c", script]);
    assert_ok(&out);
    assert!(t0.elapsed() < Duration::from_secs(15), "took {:?}", t0.elapsed());
    assert!(folded_text(dir.path()).contains("loadprof_parent_busy"));
    nothing_left("sleep 47.3");
}

#[test]
fn perf_follows_and_stops_the_children_of_a_wrapper_command() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = perf_target(dir.path()) else {
        return;
    };
    let wrapper = format!("{b} & {b}; wait", b = bin.display());
    let out = flame(
        dir.path(),
        &["--profiler", "perf", "-d", "2s", "--", "sh", "-c", &wrapper],
    );
    assert_ok(&out);
    let doc = json(&out.stdout);
    assert!(
        doc["samples"].as_u64().unwrap() > 20,
        "the burners below sh are profiled: {doc}"
    );
    assert!(folded_text(dir.path()).contains("loadprof_native_leaf"));
    nothing_left(bin.to_str().unwrap());
}

#[test]
fn a_command_that_fails_at_once_exits_3_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = flame(dir.path(), &["-d", "2s", "--", python(), "/nonexistent/app.py"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exit status 2") && err.contains("can't open file"),
        "{err}"
    );
}

#[test]
fn ctrl_c_to_the_whole_terminal_group_still_writes_the_perf_profile() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = perf_target(dir.path()) else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let svg = dir.path().join("flame.svg");
    let child = loadprof()
        .args(["flame", "-d", "30s", "--json", "-o"])
        .arg(&svg)
        .arg("--")
        .arg(&bin)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    // A terminal sends SIGINT to every process in its foreground group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out.stdout);
    assert!(doc["partial"].as_str().unwrap().contains("interrupted"), "{doc}");
    assert!(doc["samples"].as_u64().unwrap() > 10, "{doc}");
    assert!(folded_text(dir.path()).contains("loadprof_native_leaf"));
    nothing_left(bin.to_str().unwrap());
}
