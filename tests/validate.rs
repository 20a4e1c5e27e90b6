//! `loadprof validate`: a profile is checked as `run` reads it, without running.

mod common;

use common::loadprof;

#[test]
fn the_example_profile_is_valid_and_a_broken_one_names_file_line_and_key() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/load-example.toml");
    let out = loadprof().args(["validate", example]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("valid") && text.contains("ask, history, health"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    let cases = [
        // An SLO on an endpoint the profile does not have.
        (
            "[load]\nbase_url = \"http://127.0.0.1:9/\"\n[[load.request]]\nname = \"ask\"\n[slo]\n\"chat.p95\" = \"< 1s\"\n",
            "broken.toml:6: slo.\"chat.p95\"",
        ),
        // A flame profiler that does not exist.
        ("[flame]\nprofiler = \"pyspy\"\n", "broken.toml:2: flame.profiler"),
        // A misspelt key, with a hint.
        ("[flame]\ndurtion = \"5s\"\n", "did you mean `duration`?"),
    ];
    for (text, expected) in cases {
        std::fs::write(&broken, text).unwrap();
        let out = loadprof().arg("validate").arg(&broken).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
    }
}
