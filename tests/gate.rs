//! `loadprof gate` on real results from `loadprof load` against the demo
//! target: SLOs given on the command line, and a baseline regression.

mod common;

use std::path::Path;

use common::{demo_target, loadprof};

fn load(url: &str, result: &Path) {
    let out = loadprof()
        .args(["load", url, "-c", "2", "-n", "40", "-o"])
        .arg(result)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn gate(args: &[&str]) -> (Option<i32>, String) {
    let out = loadprof().arg("gate").args(args).output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn slos_and_a_baseline_regression_decide_the_exit_code() {
    let (_target, url) = demo_target(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (fast, slow) = (dir.path().join("fast.json"), dir.path().join("slow.json"));
    load(&format!("{url}/work?n=1000"), &fast);
    // A thousand times the work per request: p95 far above the baseline's.
    load(&format!("{url}/work?n=1000000"), &slow);
    let (fast_s, slow_s) = (fast.to_str().unwrap(), slow.to_str().unwrap());

    let (code, text) = gate(&[fast_s, "--slo", "all.p95=< 10s", "--slo", "all.error_rate=< 1%"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("pass all.p95") && text.contains("gate: passed"), "{text}");

    let (code, text) = gate(&[fast_s, "--slo", "all.p95=< 1us"]);
    assert_eq!(code, Some(1), "{text}");

    let (code, text) = gate(&[slow_s, "--baseline", fast_s]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL GET /work.p95") && text.contains("FAIL all.rps"),
        "{text}"
    );
    let (code, text) = gate(&[fast_s, "--baseline", fast_s]);
    assert_eq!(code, Some(0), "a run compared with itself passes: {text}");

    let (code, text) = gate(&[fast_s, "--slo", "chat.p95=< 1s"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no endpoint is named 'chat'"), "{text}");
    let (code, _) = gate(&[fast_s, "--max-regression", "ten"]);
    assert_eq!(code, Some(2));
}
