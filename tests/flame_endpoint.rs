//! The Rust pprof endpoint round trip: a hyper service in this process
//! mounts `loadprof::flame::endpoint`, a thread burns CPU in a known
//! function, and `loadprof flame --pprof` (and Go's own `go tool pprof`)
//! read the profile back. Its own test binary, because the profiler
//! samples the whole process.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use common::{json, loadprof};

/// One profiler per process: the tests take turns.
static PROFILER: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[inline(never)]
fn roundtrip_hot_loop(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i ^ (x >> 29));
    }
    std::hint::black_box(x)
}

/// Starts the service on a free port; returns the port.
fn start_service() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                        if let Some(resp) = loadprof::flame::endpoint::handle(&req).await {
                            return Ok::<_, std::convert::Infallible>(resp);
                        }
                        Ok(hyper::Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::from_static(b"not here\n")))
                            .unwrap())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Burns CPU in `roundtrip_hot_loop` until dropped.
struct Burner(Arc<AtomicBool>);

impl Burner {
    fn start() -> Burner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                roundtrip_hot_loop(2_000_000);
            }
        });
        Burner(stop)
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A plain HTTP/1.1 GET; returns the status and the body.
fn get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a full response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

#[test]
fn loadprof_reads_back_the_rust_endpoint_and_a_second_profile_is_refused() {
    let _turn = PROFILER.lock().unwrap_or_else(|e| e.into_inner());
    let port = start_service();
    let _burn = Burner::start();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("flame.svg");
    let url = format!("http://127.0.0.1:{port}/debug/pprof/profile");
    // While a profile runs in the process, another is refused, and loadprof
    // says why.
    let busy = pprof::ProfilerGuardBuilder::default().frequency(100).build().unwrap();
    let (status, body) = get(port, "/debug/pprof/profile?seconds=1");
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let out = loadprof()
        .args(["flame", "--pprof", &url, "-d", "1s", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another CPU profile"));
    drop(busy);

    let out = loadprof()
        .args(["flame", "--pprof", &url, "-d", "2s", "--rate", "250", "--json", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out.stdout);
    assert_eq!(doc["profiler"], "pprof");
    // --rate reaches the endpoint: at 250 Hz each sample weighs 4 ms of CPU.
    let per_sample = doc["total"].as_f64().unwrap() / doc["samples"].as_f64().unwrap();
    assert!((per_sample - 4e6).abs() < 1e4, "{per_sample} ns per sample: {doc}");
    let folded = std::fs::read_to_string(dir.path().join("flame.folded")).unwrap();
    let hot = loadprof::flame::Folded::parse(&folded)
        .unwrap()
        .weight_of("roundtrip_hot_loop");
    let total = doc["total"].as_u64().unwrap();
    assert!(
        hot * 2 > total,
        "the burning function carries most of the CPU ({hot} of {total}):\n{folded}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("roundtrip_hot_loop"));
}

#[test]
fn go_tool_pprof_accepts_the_profile_and_bad_queries_get_400() {
    let _turn = PROFILER.lock().unwrap_or_else(|e| e.into_inner());
    let port = start_service();
    let (status, body) = get(port, "/debug/pprof/profile?seconds=abc");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = get(port, "/elsewhere");
    assert_eq!(status, 404, "other paths are left to the service");

    let Ok(go) = std::process::Command::new("go").arg("version").output() else {
        eprintln!("skipped the go tool pprof check: go is not installed");
        return;
    };
    assert!(go.status.success());
    let burn = Burner::start();
    let (status, body) = get(port, "/debug/pprof/profile?seconds=1&hz=200");
    drop(burn);
    assert_eq!(status, 200);
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip, as Go serves it");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cpu.pb.gz");
    std::fs::write(&file, &body).unwrap();
    let top = std::process::Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("PPROF_TMPDIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(top.status.success(), "{}", String::from_utf8_lossy(&top.stderr));
    assert!(text.contains("roundtrip_hot_loop"), "{text}");
}
