//! `loadprof flame --heap` end to end with the real heap profilers: memray
//! attached to a Python service (and to each of gunicorn's workers), Go's
//! pprof heap endpoint, and jemalloc's profiler on a native program. Each
//! target both keeps memory and churns through more that it lets go; the
//! retained profile must name the code that keeps it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Guard, background_load, children_of, free_port, go_server, json, loadprof, python, wait_for};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/heap").join(name)
}

/// Why memray cannot run here, if it cannot.
fn memray_missing() -> Option<String> {
    if which("gdb").is_none() {
        return Some("gdb is not installed (apt-get install gdb)".into());
    }
    let ok = Command::new(python())
        .args(["-c", "import memray"])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| "memray is not installed (pip install memray)".into())
}

/// Why jemalloc's profiler cannot run here, if it cannot.
fn jemalloc_missing() -> Option<String> {
    if loadprof::heap::jemalloc::library().is_none() || which("jeprof").is_none() {
        return Some("libjemalloc2 and libjemalloc-dev (jeprof) are not installed".into());
    }
    which("cc").is_none().then(|| "no C compiler".into())
}

fn which(program: &str) -> Option<PathBuf> {
    loadprof::flame::detect::which(program)
}

fn heap(dir: &Path, args: &[&str]) -> std::process::Output {
    loadprof()
        .args(["flame", "--heap", "--json", "-o"])
        .arg(dir.join("heap.svg"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> serde_json::Value {
    common::assert_ok(out);
    json(&out.stdout)
}

/// The bytes of the stacks whose frames include `function`.
fn bytes_in(dir: &Path, function: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("heap.folded")).expect("heap.folded is written");
    loadprof::flame::Folded::parse(&text)
        .unwrap()
        .iter()
        .filter(|(s, _)| s.split(';').any(|f| f.starts_with(&format!("{function} ("))))
        .map(|(_, n)| n)
        .sum()
}

fn site_names(doc: &serde_json::Value) -> Vec<String> {
    doc["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["function"].as_str().unwrap().to_string())
        .collect()
}

/// Starts the aiohttp heap service; returns it and its base URL.
fn python_service(extra: &[&str]) -> (Guard, String) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let child = Command::new(python())
        .arg(data("service.py"))
        .arg(port.to_string())
        .args(extra)
        .process_group(0)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    wait_for("the heap service", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (guard, format!("http://127.0.0.1:{port}"))
}

#[test]
fn memray_names_the_function_that_keeps_memory_not_the_one_that_churns() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (service, base) = python_service(&[]);
    let _keep = background_load(&format!("{base}/keep"), 10, dir.path());
    let _churn = background_load(&format!("{base}/churn"), 10, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let heap_out = heap(dir.path(), &["--pid", &service.pid().to_string(), "-d", "4s"]);
    let doc = ok(&heap_out);
    assert_eq!(
        (doc["profiler"].as_str(), doc["mode"].as_str()),
        (Some("memray"), Some("retained"))
    );
    let sites = site_names(&doc);
    assert_eq!(sites.first().map(String::as_str), Some("cache_add"), "{doc:#}");
    let site = &doc["sites"][0];
    assert!(site["file"].as_str().unwrap().ends_with("service.py"), "{site}");
    assert!(site["line"].as_u64().is_some_and(|l| l > 0), "{site}");
    assert!(site["share"].as_f64().unwrap() > 0.5, "{doc:#}");
    // The churn allocated far more than was kept, and kept none of it.
    let (kept, churned) = (bytes_in(dir.path(), "cache_add"), bytes_in(dir.path(), "render_report"));
    assert!(kept > 1 << 20, "cache_add kept {kept} bytes");
    assert!(
        churned * 4 < kept,
        "render_report {churned} bytes against cache_add {kept}"
    );
    let svg = std::fs::read_to_string(dir.path().join("heap.svg")).unwrap();
    assert!(svg.contains("cache_add"), "the graph shows the site");
    let errors = common::validate(&String::from_utf8_lossy(&heap_out.stdout), Some("heap"));
    assert!(errors.is_empty(), "--json against the schema's heap: {errors}");
}

#[test]
fn memray_follows_gunicorn_workers_and_blames_the_one_that_leaks() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    if Command::new(python())
        .args(["-c", "import gunicorn"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("skipped: gunicorn is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("leaker.lock");
    let (master, port) =
        common::gunicorn_two_workers(&data(""), "wsgi_leak:app", &[("LOADPROF_LEAK_LOCK", lock.as_path())]);
    let _load = background_load(&format!("http://127.0.0.1:{port}/"), 10, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let doc = ok(&heap(dir.path(), &["--pid", &master.pid().to_string(), "-d", "4s"]));
    assert_eq!(
        site_names(&doc).first().map(String::as_str),
        Some("remember_request"),
        "{doc:#}"
    );
    // Every stack of the leak sits under one worker's root, not the master's.
    let text = std::fs::read_to_string(dir.path().join("heap.folded")).unwrap();
    let mut roots: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("remember_request ("))
        .map(|l| l.split(';').next().unwrap())
        .collect();
    roots.dedup();
    assert_eq!(roots.len(), 1, "one worker leaks: {roots:?}");
    let leaker: u32 = roots[0]
        .strip_prefix("pid ")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(children_of(master.pid()).contains(&leaker), "{leaker} is a worker");
}

#[test]
fn a_python_command_that_exits_in_the_window_leaves_a_partial_profile() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = "import time\nkept = []\ndef hoard():\n    kept.append(bytearray(100_000))\n\
                  end = time.time() + 4\nwhile time.time() < end:\n    hoard()\n    time.sleep(0.01)\n";
    let doc = ok(&heap(dir.path(), &["-d", "10s", "--", python(), "-c", script]));
    assert!(doc["partial"].as_str().is_some_and(|p| p.contains("exited")), "{doc:#}");
    assert_eq!(site_names(&doc).first().map(String::as_str), Some("hoard"), "{doc:#}");
}

#[test]
fn go_retained_growth_names_the_function_that_keeps_memory() {
    let (_server, port) = go_server();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    // Kept before the window: in use, but not retained in it.
    let before = loadprof()
        .args(["load", &format!("{base}/retain"), "-c", "1", "-n", "50", "-o"])
        .arg(dir.path().join("before.json"))
        .output()
        .unwrap();
    assert!(before.status.success());
    // A first window with churn only: nothing of it is retained.
    let calm = tempfile::tempdir().unwrap();
    let churn_only = background_load(&format!("{base}/churn"), 4, dir.path());
    std::thread::sleep(Duration::from_millis(300));
    let doc = ok(&heap(calm.path(), &["--pprof", &base, "-d", "2s"]));
    drop(churn_only);
    assert!(bytes_in(calm.path(), "main.retainChunk") == 0, "{doc:#}");
    let _retain = background_load(&format!("{base}/retain"), 8, dir.path());
    let _churn = background_load(&format!("{base}/churn"), 8, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let doc = ok(&heap(dir.path(), &["--pprof", &base, "-d", "3s"]));
    assert_eq!(
        (doc["profiler"].as_str(), doc["mode"].as_str()),
        (Some("pprof"), Some("retained"))
    );
    let sites = site_names(&doc);
    assert_eq!(sites.first().map(String::as_str), Some("main.retainChunk"), "{doc:#}");
    assert!(doc["sites"][0]["file"].as_str().unwrap().ends_with("goserver.go"));
    let churn = bytes_in(dir.path(), "main.churnChunk");
    let kept = bytes_in(dir.path(), "main.retainChunk");
    assert!(churn * 10 < kept, "churnChunk {churn} bytes against retainChunk {kept}");
    // `flame diff` of the two retained profiles: the retaining function grew.
    let out = loadprof()
        .args(["flame", "diff", "--count-name", "bytes", "--json", "-o"])
        .arg(dir.path().join("diff.svg"))
        .arg(calm.path().join("heap.folded"))
        .arg(dir.path().join("heap.folded"))
        .output()
        .unwrap();
    let diff = ok(&out);
    let grew = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["frame"].as_str().is_some_and(|f| f.starts_with("main.retainChunk")))
        .unwrap_or_else(|| panic!("retainChunk is among the changes: {diff:#}"));
    assert!(grew["change_pts"].as_f64().unwrap() > 50.0, "{grew}");
    let svg = std::fs::read_to_string(dir.path().join("diff.svg")).unwrap();
    assert!(svg.contains("bytes"), "the diff counts bytes");
}

/// Builds the native leak program.
fn native_leak(dir: &Path) -> PathBuf {
    let bin = dir.join("leak");
    let out = Command::new("cc")
        .args(["-O0", "-g", "-o"])
        .arg(&bin)
        .arg(data("leak.c"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    bin
}

#[test]
fn jemalloc_names_the_native_function_that_keeps_memory() {
    if let Some(why) = jemalloc_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = native_leak(dir.path());
    let doc = ok(&heap(dir.path(), &["-d", "4s", "--", bin.to_str().unwrap()]));
    assert_eq!(doc["profiler"].as_str(), Some("jemalloc"), "{doc:#}");
    let site = &doc["sites"][0];
    assert_eq!(site["function"].as_str(), Some("cache_add"), "{doc:#}");
    assert!(site["file"].as_str().is_some_and(|f| f.ends_with("leak.c")), "{site}");
    let (kept, decoy) = (bytes_in(dir.path(), "cache_add"), bytes_in(dir.path(), "decoy"));
    assert!(decoy < kept, "decoy {decoy} bytes against cache_add {kept}");
}

fn fails(out: &std::process::Output, code: i32, words: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for w in words {
        assert!(err.contains(w), "the message names '{w}': {err}");
    }
}

#[test]
fn failures_exit_with_their_code_and_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let sleeper = Guard(Command::new("sleep").arg("300").spawn().unwrap());
    let pid = sleeper.pid().to_string();
    // Modes and profilers that do not fit: bad input.
    fails(
        &heap(dir.path(), &["--pid", &pid, "--profiler", "perf"]),
        2,
        &["CPU profiles"],
    );
    fails(
        &heap(
            dir.path(),
            &["--pid", &pid, "--profiler", "memray", "--heap-mode", "inuse"],
        ),
        2,
        &["retained profiles only"],
    );
    let junk = dir.path().join("junk.pb.gz");
    std::fs::write(&junk, b"\x1f\x8bnot gzip at all").unwrap();
    fails(
        &heap(dir.path(), &["--pprof", junk.to_str().unwrap()]),
        2,
        &["junk.pb.gz"],
    );
    // A process without jemalloc, and one without Python.
    fails(
        &heap(dir.path(), &["--pid", &pid, "--profiler", "jemalloc", "-d", "1s"]),
        3,
        &["does not use jemalloc"],
    );
    fails(
        &heap(dir.path(), &["--pid", &pid, "--profiler", "memray", "-d", "1s"]),
        3,
        &["runs no Python"],
    );
    // A server with no heap endpoint.
    let port = free_port();
    let _http = Guard(
        Command::new(python())
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("http.server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    fails(
        &heap(
            dir.path(),
            &["--pprof", &format!("http://127.0.0.1:{port}"), "-d", "1s"],
        ),
        3,
        &["no heap profile"],
    );
}

#[test]
fn memray_without_gdb_or_in_the_target_says_how_to_get_it() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = common::spawn_python("import time\nwhile True: time.sleep(0.1)\n", &[]);
    let pid = target.pid().to_string();
    // No gdb on PATH.
    let out = loadprof()
        .args(["flame", "--heap", "--pid", &pid, "-d", "1s", "-o"])
        .arg(dir.path().join("h.svg"))
        .env("PATH", dir.path())
        .output()
        .unwrap();
    fails(&out, 3, &["gdb", "apt-get install gdb"]);
    // A virtualenv without memray: the target cannot load it.
    let venv = dir.path().join("venv");
    let made = Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    if !made.status.success() {
        eprintln!("skipped the virtualenv half: {}", String::from_utf8_lossy(&made.stderr));
        return;
    }
    use std::os::unix::process::CommandExt;
    let bare = Guard(
        Command::new(venv.join("bin/python"))
            .args(["-c", "import time\nwhile True: time.sleep(0.1)\n"])
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    fails(
        &heap(dir.path(), &["--pid", &bare.pid().to_string(), "-d", "1s"]),
        3,
        &["memray"],
    );
}

/// `loadprof run` of the heap service under steady load with `[heap]`:
/// returns the output folder and result.json.
fn heap_run(dir: &Path, leak: bool) -> (PathBuf, serde_json::Value) {
    let port = free_port();
    let service = data("service.py");
    let extra = if leak { "" } else { ", \"--no-leak\"" };
    let profile = format!(
        "name = \"heap-run\"\n\
         [target]\ncommand = [{py:?}, {svc:?}, \"{port}\"{extra}]\n\
         ready_url = \"http://127.0.0.1:{port}/health\"\nready_timeout = \"30s\"\n\
         [load]\nbase_url = \"http://127.0.0.1:{port}\"\nrate = 40\nduration = \"24s\"\n\
         [[load.request]]\nname = \"keep\"\npath = \"/keep\"\n\
         [[load.request]]\nname = \"churn\"\npath = \"/churn\"\n\
         [leak]\nwarmup = \"6s\"\nsettle = \"2s\"\nmin_window = \"10s\"\n\
         [heap]\n",
        py = python(),
        svc = service.to_str().unwrap(),
    );
    let path = dir.join("heap.toml");
    std::fs::write(&path, profile).unwrap();
    let out_dir = dir.join("out");
    let out = loadprof()
        .args(["run"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(out_dir.join("result.json"))
        .unwrap_or_else(|e| panic!("result.json ({e}): {}", common::output_text(&out)));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = if leak { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expected), "{}", common::output_text(&out));
    (out_dir, doc)
}

#[test]
fn run_with_heap_names_the_leaking_function_in_the_verdict() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, doc) = heap_run(dir.path(), true);
    let leak = &doc["leak"];
    assert_eq!(leak["verdict"], "leak", "{leak:#}");
    let heap = &doc["heap"];
    assert_eq!(heap["profiler"], "memray", "{heap:#}");
    assert_eq!(heap["sites"][0]["function"], "cache_add", "{heap:#}");
    // The window is the leak window: after the warm-up, until the load ends.
    let window = heap["window_s"].as_array().unwrap();
    let load = doc["run"]["windows"]["load"].as_array().unwrap();
    let (from, to) = (window[0].as_f64().unwrap(), window[1].as_f64().unwrap());
    assert!(
        from >= load[0].as_f64().unwrap() + 5.0 && (to - load[1].as_f64().unwrap()).abs() < 3.0,
        "{window:?} in {load:?}"
    );
    assert!(heap["overhead"]["throughput_ratio"].is_number(), "{heap:#}");
    let reason = leak["reason"].as_str().unwrap();
    assert!(
        reason.contains("cache_add (") && reason.contains("service.py:"),
        "{reason}"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("cache\\_add"), "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("cache_add"), "{junit}");
    let folded = std::fs::read_to_string(out.join("heap.folded")).unwrap();
    assert!(folded.contains("cache_add ("), "heap.folded is written");
    assert!(out.join("heap.svg").is_file());
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("cache_add"), "the report names the site");
    let errors = common::validate(&std::fs::read_to_string(out.join("result.json")).unwrap(), None);
    assert!(errors.is_empty(), "result.json against the schema: {errors}");
}

#[test]
fn run_with_heap_and_no_leak_blames_nothing() {
    if let Some(why) = memray_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_out, doc) = heap_run(dir.path(), false);
    let leak = &doc["leak"];
    assert_eq!(leak["verdict"], "no_leak", "{leak:#} {:#}", doc["heap"]);
    assert!(!leak["reason"].as_str().unwrap().contains("cache_add"), "{leak:#}");
    assert!(doc["heap"]["error"].is_null(), "{:#}", doc["heap"]);
}

#[test]
fn memray_on_another_users_python_names_the_ptrace_fix() {
    let Some((dir, bin)) = common::loadprof_for_nobody() else {
        return;
    };
    let target = common::spawn_python("import time\nwhile True: time.sleep(0.1)\n", &[]);
    std::thread::sleep(Duration::from_millis(300));
    let out = common::as_nobody(&bin)
        .args([
            "flame",
            "--heap",
            "--profiler",
            "memray",
            "--pid",
            &target.pid().to_string(),
            "-d",
            "1s",
            "-o",
        ])
        .arg(dir.path().join("h.svg"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    fails(&out, 3, &["ptrace", "CAP_SYS_PTRACE"]);
}

#[test]
fn a_heap_profile_that_cannot_be_taken_is_a_note_in_run_not_a_failure() {
    // A server without a heap endpoint: the run goes on, and passes.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let profile = format!(
        "name = \"heap-note\"\n\
         [target]\ncommand = [{py:?}, \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]\n\
         ready_url = \"http://127.0.0.1:{port}/\"\n\
         [load]\nbase_url = \"http://127.0.0.1:{port}\"\nrate = 20\nduration = \"4s\"\n\
         [[load.request]]\nname = \"root\"\npath = \"/\"\n\
         [heap]\npprof_url = \"http://127.0.0.1:{port}/debug/pprof/heap\"\nstart_after = \"1s\"\n",
        py = python(),
    );
    let path = dir.path().join("p.toml");
    std::fs::write(&path, profile).unwrap();
    let out = loadprof()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("heap profile: not taken:") && text.contains("no heap profile"),
        "{text}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/result.json")).unwrap()).unwrap();
    assert!(
        doc["heap"]["error"].as_str().is_some_and(|e| e.contains("404")),
        "{:#}",
        doc["heap"]
    );
    assert!(doc["passed"].as_bool().unwrap());
}
