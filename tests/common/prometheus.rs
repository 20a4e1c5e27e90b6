//! A real Prometheus for the tests (Debian's `prometheus`, started on a
//! free port with its data in a temp dir), and plain GETs to ask it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Guard, free_port, wait_for};

/// Whether `program --version` runs; says why the test skips otherwise.
pub fn have(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: {program} is not installed (Debian: .ci/run installs it)");
    }
    ok
}

/// A Prometheus with `config`, its data in `tsdb`, and `extra` flags.
pub fn start(dir: &Path, config: &str, tsdb: &Path, extra: &[&str]) -> (Guard, String) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=10y")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let guard = Guard(child);
    wait_for("prometheus to be ready", Duration::from_secs(30), || {
        get(&format!("{url}/-/ready")).is_some_and(|(s, _)| s == 200)
    });
    (guard, url)
}

/// A GET over HTTP/1.0: status and body.
pub fn get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

/// Percent-encodes a query.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
