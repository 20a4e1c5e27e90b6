//! Helpers shared by the end-to-end tests: the binary, real Python
//! processes that clean up after themselves, and CSV reading.

#![allow(dead_code)]

pub mod h2c;
pub mod prometheus;
pub mod server;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const MIB: f64 = 1024.0 * 1024.0;

/// The loadprof binary under test.
pub fn loadprof() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadprof"))
}

/// The real Python interpreter (not a version-manager shim, whose shell
/// start-up would blur the timings the tests rely on).
pub fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed by the tests (.ci/run installs it)");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// A child process killed (with its process group, if it leads one) when
/// the test ends, however it ends.
pub struct Guard(pub Child);

impl Guard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Starts `python -c script args...` in its own process group.
pub fn spawn_python(script: &str, args: &[&str]) -> Guard {
    use std::os::unix::process::CommandExt;
    let child = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    Guard(child)
}

/// Waits until `cond` holds, or panics after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// Kills every pid in the list (cleanup of processes a test made loadprof adopt).
pub fn kill_all(pids: &[u32]) {
    for &p in pids {
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
}

/// One CSV file: header and rows of raw cells (empty string = unmeasured).
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    pub fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = text.lines();
        let header = lines.next().expect("a header").split(',').map(String::from).collect();
        let rows = lines.map(split_csv_line).collect();
        Csv { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The column as numbers; unmeasured cells become `None`.
    pub fn values(&self, name: &str) -> Vec<Option<f64>> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].parse().ok()).collect()
    }

    /// Rows as maps, for tests that look at several columns of one row.
    pub fn records(&self) -> Vec<HashMap<&str, &str>> {
        self.rows
            .iter()
            .map(|r| {
                self.header
                    .iter()
                    .map(String::as_str)
                    .zip(r.iter().map(String::as_str))
                    .collect()
            })
            .collect()
    }
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Median of the values of `col` in rows whose `elapsed_s` lies in `[from, to]`.
pub fn median_between(csv: &Csv, col: &str, from: f64, to: f64) -> f64 {
    let t = csv.values("elapsed_s");
    let v = csv.values(col);
    let mut xs: Vec<f64> = t
        .iter()
        .zip(&v)
        .filter(|(t, _)| t.is_some_and(|t| t >= from && t <= to))
        .filter_map(|(_, v)| *v)
        .collect();
    assert!(!xs.is_empty(), "no {col} samples between {from} s and {to} s");
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `loadprof sample --pid PID <extra> --json -o CSV`; returns the run's
/// output and its JSON result.
pub fn sample_pid(pid: u32, extra: &[&str], csv: &Path) -> (std::process::Output, serde_json::Value) {
    let out = loadprof()
        .args(["sample", "--pid", &pid.to_string()])
        .args(extra)
        .args(["--json", "-o"])
        .arg(csv)
        .output()
        .unwrap();
    let doc = json(&out.stdout);
    (out, doc)
}

/// Every pid a `--json` result says was sampled.
pub fn sampled_pids(doc: &serde_json::Value) -> Vec<u32> {
    doc["resources"]["pids"]
        .as_array()
        .expect("resources.pids is an array")
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect()
}

/// Waits until process `pid` runs with `marker` in its command line.
pub fn wait_for_cmdline(pid: u32, marker: &str) {
    wait_for("the process to start", Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
    });
}

/// Parses stdout of a `--json` run.
/// Asserts a command succeeded, showing its exit and output when not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn json(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(stdout)))
}

/// Starts loadprof's built-in demo target (`loadprof demo-target`, with
/// `extra` arguments); returns it and its base URL.
pub fn demo_target(extra: &[&str]) -> (Guard, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadprof"));
    cmd.arg("demo-target").args(extra);
    serve(cmd)
}

/// Starts a server that prints `listening on URL` first (in a process
/// group of its own); returns it and the URL.
pub fn serve(mut cmd: Command) -> (Guard, String) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let mut child = cmd.stdout(Stdio::piped()).process_group(0).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server says where it listens: {line:?}"))
        .to_string();
    (Guard(child), url)
}

pub const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/result.schema.json");

/// Validates `doc` against the schema, or against one of its `$defs`.
/// Returns the validator's complaints (empty when valid).
pub fn validate(doc: &str, def: Option<&str>) -> String {
    let script = r##"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
if sys.argv[2]:
    schema = {"$defs": schema["$defs"], "$ref": "#/$defs/" + sys.argv[2]}
doc = json.load(sys.stdin)
for e in jsonschema.Draft202012Validator(schema).iter_errors(doc):
    print(list(e.absolute_path), e.message)
"##;
    use std::io::Write;
    let mut child = Command::new(python())
        .args(["-c", script, SCHEMA, def.unwrap_or("")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(doc.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed (pip install jsonschema; .ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Go test server, built once from tests/data/flame/goserver.go with
/// the standard library only (no module downloads).
pub fn go_server_binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let bin = tmp.join("goserver");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flame/goserver.go");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(&src)
            .env("GOCACHE", tmp.join("gocache"))
            .env("GOPATH", tmp.join("gopath"))
            .env("GO111MODULE", "off")
            .env("GOPROXY", "off")
            .output()
            .expect("go is needed (Debian golang-go; .ci/run installs it)");
        assert!(
            out.status.success(),
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// A port nothing listens on yet.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A finished command's exit code and output, for assertion messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The files `loadprof run` writes into its output folder (DESIGN.md).
pub const RUN_FILES: [&str; 8] = [
    "result.json",
    "samples.csv",
    "timeline.csv",
    "flame.folded",
    "flame.svg",
    "report.html",
    "summary.md",
    "junit.xml",
];

/// Runs `loadprof load ARGS -o DIR/result.json --json` and returns the
/// output and the parsed result (Null when nothing was printed).
pub fn load_json(dir: &Path, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let out = loadprof()
        .arg("load")
        .args(args)
        .arg("-o")
        .arg(dir.join("result.json"))
        .arg("--json")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, doc)
}

pub fn children_of(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == pid {
            kids.push(p);
        }
    }
    kids
}

/// Runs `loadprof load` against `url` in the background for `secs`.
pub fn background_load(url: &str, secs: u32, dir: &Path) -> Guard {
    let result = dir.join(format!("load-{}.json", free_port()));
    let child = loadprof()
        .args([
            "load",
            url,
            "-c",
            "4",
            "-d",
            &format!("{secs}s"),
            "-o",
            result.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Guard(child)
}

/// Starts the Go server; returns it and its port.
pub fn go_server() -> (Guard, u16) {
    let mut child = Command::new(go_server_binary()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the server says its port")
        .parse()
        .unwrap();
    (Guard(child), port)
}

/// A copy of loadprof that user 65534 can run, in a folder it can write,
/// for a test that runs loadprof as another user (`setpriv`); None, with
/// the reason printed, where that cannot be done (not root, no setpriv).
pub fn loadprof_for_nobody() -> Option<(tempfile::TempDir, PathBuf)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to run loadprof as another user");
        return None;
    }
    // The checkout may sit in a private directory.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.path().join("loadprof");
    std::fs::copy(env!("CARGO_BIN_EXE_loadprof"), &bin).unwrap();
    Some((dir, bin))
}

/// `program` run as user 65534 (nobody), with no groups.
pub fn as_nobody(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program);
    cmd
}

/// gunicorn serving `app` (`module:callable`, from `chdir`) with two
/// workers on a free port, once both workers are up and it accepts
/// connections; `env` is added to its environment.
pub fn gunicorn_two_workers(chdir: &Path, app: &str, env: &[(&str, &Path)]) -> (Guard, u16) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "gunicorn",
        "-w",
        "2",
        "-b",
        &format!("127.0.0.1:{port}"),
        "--chdir",
    ])
    .arg(chdir)
    .arg(app)
    .envs(env.iter().copied())
    .process_group(0)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let master = Guard(
        cmd.spawn()
            .expect("gunicorn is needed (pip install gunicorn; .ci/run installs it)"),
    );
    wait_for("gunicorn's two workers", Duration::from_secs(20), || {
        children_of(master.pid()).len() == 2 && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (master, port)
}

/// An endpoint's entry in a result's `load.endpoints`.
pub fn endpoint<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["load"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}
