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

    let nightly = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/nightly-leak.toml");
    let out = loadprof().args(["validate", nightly]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("heap: memray retained profile from the end of the leak warm-up, until the load ends"),
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
        // A heap profiler that does not exist.
        ("[heap]\nprofiler = \"heaptrack\"\n", "broken.toml:2: heap.profiler"),
    ];
    for (text, expected) in cases {
        std::fs::write(&broken, text).unwrap();
        let out = loadprof().arg("validate").arg(&broken).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
    }
}

/// Runs `loadprof validate` on `profile`, killing it if it has not ended
/// within `limit`.
fn validate_within(profile: &std::path::Path, limit: std::time::Duration) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loadprof"))
        .arg("validate")
        .arg(profile)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            child.kill().unwrap();
            panic!("validate {} still running after {limit:?}", profile.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_query_file_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("queries.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let profile = dir.path().join("p.toml");
    for (file, what) in [
        (fifo.to_str().unwrap(), "is a FIFO (named pipe)"),
        ("/dev/zero", "is a character device"),
    ] {
        std::fs::write(
            &profile,
            format!(
                "[load]\nbase_url = \"http://127.0.0.1:9/\"\nduration = \"1s\"\n[[load.request]]\npath = \"/q?{{{{line {file}}}}}\"\n"
            ),
        )
        .unwrap();
        let out = validate_within(&profile, std::time::Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("p.toml:5: load.request[0].path") && err.contains(&format!("{file}: {what}")),
            "{err}"
        );
    }
    // The profile itself is read the same way.
    let out = validate_within(&fifo, std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("queries.fifo: is a FIFO"), "{err}");
}

#[test]
fn an_over_long_query_line_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("q.txt");
    std::fs::write(&queries, format!("one\ntwo\n{}\n", "x".repeat(2 << 20))).unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[load]\nbase_url = \"http://127.0.0.1:9/\"\nduration = \"1s\"\n[[load.request]]\nbody = \"{{line q.txt}}\"\n",
    )
    .unwrap();
    let out = loadprof().arg("validate").arg(&profile).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("q.txt:3: the line is longer than 1 MiB"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[load]\nbase_url = \"http://127.0.0.1:9/\"\nusers = \"four\"\n",
    )
    .unwrap();
    let out = loadprof().arg("validate").arg(&profile).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("p.toml:3:9: load.users: invalid type: string \"four\""),
        "{err}"
    );
}
