//! The committed JSON Schema (schema/result.schema.json) describes what
//! loadprof writes: real outputs of `load`, `sample`, `flame` and `leak` are
//! validated with Python's jsonschema (Draft 2020-12), and a broken document
//! is refused.

mod common;

use common::{demo_target, loadprof, validate};

#[test]
fn what_loadprof_writes_matches_the_schema_and_a_broken_document_does_not() {
    let (_target, url) = demo_target(&[]);
    let dir = tempfile::tempdir().unwrap();

    let result = dir.path().join("result.json");
    let out = loadprof()
        .args([
            "load",
            &format!("{url}/stream?chunks=3&gap_ms=5"),
            "--stream",
            "sse",
            "-n",
            "20",
            "-o",
        ])
        .arg(&result)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let load_doc = std::fs::read_to_string(&result).unwrap();
    assert_eq!(validate(&load_doc, None), "", "load's result.json");

    let out = loadprof()
        .args(["sample", "--duration", "1s", "--gpu", "off", "--json", "-o"])
        .arg(dir.path().join("samples.csv"))
        .args(["--", "sleep", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        validate(&String::from_utf8_lossy(&out.stdout), None),
        "",
        "sample --json"
    );

    let out = loadprof()
        .args(["flame", "--pprof", &url, "-d", "1s", "--json", "-o"])
        .arg(dir.path().join("flame.svg"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        validate(&String::from_utf8_lossy(&out.stdout), Some("flame")),
        "",
        "flame --json"
    );

    let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/leak/python-leak.csv");
    let out = loadprof().args(["leak", trace, "--json"]).output().unwrap();
    assert_eq!(
        validate(&String::from_utf8_lossy(&out.stdout), Some("leak")),
        "",
        "leak --json"
    );

    // The schema can refuse: an unknown outcome and a success rate above 1.
    let broken = load_doc.replacen("\"completed\"", "\"finished\"", 1).replacen(
        "\"success_rate\": 1.0",
        "\"success_rate\": 1.5",
        1,
    );
    let complaints = validate(&broken, None);
    assert!(complaints.contains("'finished' is not one of"), "{complaints}");
}
