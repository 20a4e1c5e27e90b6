//! `loadprof sample` end to end: the real binary against real Python
//! processes and the real /proc.

mod common;

use std::time::Duration;

use assert_cmd::prelude::*;
use common::*;
use predicates::prelude::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn rss_of_a_spawned_child_rises_by_the_100_mib_it_touches() {
    let dir = tmp();
    let csv = dir.path().join("samples.csv");
    // 1 s idle, then 100 MiB allocated and written (bytes * n memsets it).
    let script = "import time; time.sleep(1.0); x = b'\\x01' * (100 << 20); time.sleep(1.5)";
    loadprof()
        .args(["sample", "--interval", "50ms", "--gpu", "off", "-o"])
        .arg(&csv)
        .args(["--", python(), "-c", script])
        .assert()
        .success()
        .stdout(predicate::str::contains("the target exited"));
    let csv = Csv::read(&csv);
    let before = median_between(&csv, "rss_bytes", 0.5, 0.9);
    let after = median_between(&csv, "rss_bytes", 1.6, 2.3);
    let grew = (after - before) / MIB;
    assert!(
        (95.0..=105.0).contains(&grew),
        "RSS grew by {grew:.1} MiB, expected 100 ± 5 %"
    );
}

#[test]
fn tree_gains_and_loses_children_and_rows_sum_to_the_tree() {
    let dir = tmp();
    let csv_path = dir.path().join("samples.csv");
    // The parent starts three children holding 30 MiB each at 0.8 s; they
    // exit at about 2.3 s; the parent lives on alone until 3.3 s.
    let script = r#"
import subprocess, sys, time
time.sleep(0.8)
kid = "x = b'\\x01' * (30 << 20); import time; time.sleep(1.5)"
ps = [subprocess.Popen([sys.executable, "-c", kid]) for _ in range(3)]
for p in ps: p.wait()
time.sleep(1.0)
"#;
    loadprof()
        .args(["sample", "--interval", "50ms", "--per-process", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args(["--", python(), "-c", script])
        .assert()
        .success();
    let csv = Csv::read(&csv_path);
    let procs = csv.values("procs");
    assert_eq!(procs.first().unwrap(), &Some(1.0));
    assert_eq!(procs.last().unwrap(), &Some(1.0), "children gone at the end");
    assert_eq!(median_between(&csv, "procs", 1.6, 2.0), 4.0);
    let alone = median_between(&csv, "rss_bytes", 0.4, 0.7);
    let with_kids = median_between(&csv, "rss_bytes", 1.6, 2.0);
    let after = median_between(&csv, "rss_bytes", 2.9, 3.2);
    assert!(
        with_kids - alone >= 3.0 * 30.0 * MIB,
        "RSS with children {:.1} MiB over alone",
        (with_kids - alone) / MIB
    );
    assert!((after - alone).abs() < 10.0 * MIB, "RSS back to the parent's alone");

    // Every tree row is the exact sum of that sample's per-process rows.
    let per = Csv::read(&dir.path().join("samples-procs.csv"));
    for tree in csv.records() {
        let rows: Vec<_> = per
            .records()
            .into_iter()
            .filter(|r| r["elapsed_s"] == tree["elapsed_s"])
            .collect();
        assert_eq!(rows.len().to_string(), tree["procs"], "at {}", tree["elapsed_s"]);
        for col in ["rss_bytes", "vms_bytes", "threads", "fds"] {
            let sum: u64 = rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum();
            assert_eq!(sum.to_string(), tree[col], "{col} at {}", tree["elapsed_s"]);
        }
    }
    let records = per.records();
    assert!(
        records.iter().any(|r| r["command"].contains("time.sleep(1.5)")),
        "children's command lines recorded"
    );
}

#[test]
fn cpu_time_agrees_with_the_targets_own_clock_at_100_hz() {
    let dir = tmp();
    let csv_path = dir.path().join("samples.csv");
    let report = dir.path().join("cpu.txt");
    // Busy for 1.5 s of CPU, idle 0.3 s, then report its own CPU time and
    // end with SIGKILL, so no interpreter shutdown adds CPU after the report.
    let script = format!(
        "import os, signal, time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass\n\
         time.sleep(0.3)\nwith open({:?}, 'w') as f: f.write(str(time.process_time()))\n\
         time.sleep(0.2)\nos.kill(os.getpid(), signal.SIGKILL)",
        report.to_str().unwrap()
    );
    loadprof()
        .args(["sample", "--interval", "10ms", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args(["--", python(), "-c", &script])
        .assert()
        .success();
    let own: f64 = std::fs::read_to_string(&report).unwrap().parse().unwrap();
    let csv = Csv::read(&csv_path);
    let t = csv.values("elapsed_s");
    let cpu = csv.values("cpu_percent");
    let mut measured = 0.0;
    for i in 1..t.len() {
        measured += cpu[i].unwrap() / 100.0 * (t[i].unwrap() - t[i - 1].unwrap());
    }
    assert!(cpu[0].is_none(), "the first row has no CPU figure");
    // The sampler sees everything after its first reading; Python's start-up
    // before it is at most a few tens of milliseconds.
    assert!(
        measured <= own + 0.01 && measured >= own * 0.95 - 0.05,
        "sampled {measured:.3} s of CPU, the process counted {own:.3} s"
    );
    // Nanosecond clocks, not 10 ms ticks: at 100 Hz tick-based CPU % could
    // only be a multiple of 100.
    let fractional = cpu
        .iter()
        .flatten()
        .filter(|c| **c > 0.0 && (**c % 100.0).abs() > 1.0)
        .count();
    assert!(fractional > 10, "only {fractional} CPU figures off the 100 % grid");
}

#[test]
fn sigterm_stops_sampling_keeps_the_csv_and_stops_the_owned_command() {
    let dir = tmp();
    let csv_path = dir.path().join("samples.csv");
    let child = loadprof()
        .args(["sample", "--interval", "50ms", "--json", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args(["--", "sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let doc = json(&out.stdout);
    assert_eq!(doc["run"]["outcome"], "interrupted");
    let res = &doc["resources"];
    assert_eq!(
        res["target"]["exit"]["signal"],
        libc::SIGTERM,
        "loadprof stopped the sleep it started"
    );
    let rows = Csv::read(&csv_path).rows.len() as u64;
    assert_eq!(res["samples"], rows, "every sample reached the CSV");
    assert!(rows >= 10, "{rows} rows in 1.2 s at 20 Hz");
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted by SIGTERM"));
    let pid = res["target"]["pid"].as_u64().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the owned command is gone"
    );
}

#[test]
fn exit_code_of_a_spawned_command_is_recorded() {
    let dir = tmp();
    let out = loadprof()
        .args(["sample", "--interval", "50ms", "--json", "--gpu", "off", "-o"])
        .arg(dir.path().join("s.csv"))
        .args(["--", python(), "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out.stdout);
    assert_eq!(doc["schema"], "loadprof.result/v1");
    assert_eq!(doc["run"]["outcome"], "target_exited");
    assert_eq!(doc["resources"]["target_exited"], true);
    assert_eq!(doc["resources"]["target"]["exit"]["code"], 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("target exited with code 3"));
}

#[test]
fn pid_target_runs_for_the_duration_at_the_asked_rate_and_is_left_running() {
    let target = spawn_python("import time; time.sleep(30)", &[]);
    let dir = tmp();
    let csv_path = dir.path().join("s.csv");
    let (out, doc) = sample_pid(target.pid(), &["-d", "1s", "--interval", "100ms"], &csv_path);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(doc["run"]["outcome"], "completed");
    let res = &doc["resources"];
    assert_eq!(res["samples"], 11, "samples at 0, 0.1, ..., 1.0 s");
    assert_eq!(res["target"]["owned"], false);
    assert_eq!(res["pids"], serde_json::json!([target.pid()]));
    for key in ["rss_bytes", "vms_bytes"] {
        for stat in ["min", "mean", "max", "last"] {
            assert!(res[key][stat].as_u64().unwrap() > 0, "{key}.{stat}");
        }
    }
    assert!(res["threads"]["max"].as_f64().unwrap() >= 1.0);
    assert!(res["cpu_percent"]["mean"].is_number());
    let rate = res["sample_rate_hz"].as_f64().unwrap();
    assert!((rate - 10.0).abs() < 0.2, "real rate {rate} Hz");
    // Every row's elapsed time sits on the 100 ms grid: no drift.
    for (k, t) in Csv::read(&csv_path).values("elapsed_s").iter().enumerate() {
        assert!((t.unwrap() - k as f64 * 0.1).abs() < 0.05, "row {k} at {t:?}");
    }
    assert!(
        std::path::Path::new(&format!("/proc/{}", target.pid())).exists(),
        "a --pid target is not stopped"
    );
}

#[test]
fn pid_target_exiting_ends_the_run() {
    // The test does not reap the child until loadprof is done, so loadprof
    // sees it turn into a zombie: that counts as exited.
    let target = spawn_python("import time; time.sleep(0.6)", &[]);
    let dir = tmp();
    let (out, doc) = sample_pid(target.pid(), &["--interval", "50ms"], &dir.path().join("s.csv"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["run"]["outcome"], "target_exited");
    assert!(doc["run"]["duration_s"].as_f64().unwrap() < 5.0);
}

#[test]
fn name_target_finds_the_one_matching_tree() {
    let marker = format!("lp-name-{}", std::process::id());
    let target = spawn_python("import time; time.sleep(30)", &[&marker]);
    wait_for_cmdline(target.pid(), &marker);
    let dir = tmp();
    let out = loadprof()
        .args(["sample", "--name", &marker, "-d", "300ms", "--json", "-o"])
        .arg(dir.path().join("s.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out.stdout)["resources"]["target"]["pid"], target.pid());
}

#[test]
fn name_matching_several_trees_is_an_error_that_lists_them() {
    let marker = format!("lp-twice-{}", std::process::id());
    let a = spawn_python("import time; time.sleep(30)", &[&marker]);
    let b = spawn_python("import time; time.sleep(30)", &[&marker]);
    for g in [&a, &b] {
        wait_for_cmdline(g.pid(), &marker);
    }
    let dir = tmp();
    let csv = dir.path().join("s.csv");
    loadprof()
        .args(["sample", "--name", &marker, "-o"])
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("matches 2 separate process trees"))
        .stderr(predicate::str::contains(a.pid().to_string()))
        .stderr(predicate::str::contains(b.pid().to_string()))
        .stderr(predicate::str::contains("--pid"));
    assert!(!csv.exists(), "nothing written for bad input");
}

#[test]
fn a_program_that_does_not_exist_is_named_once_with_the_reason() {
    let out = loadprof()
        .args(["sample", "--gpu", "off", "--", "/nonexistent/zq7x-prog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot start '/nonexistent/zq7x-prog': no such program"),
        "{err}"
    );
    assert_eq!(err.matches("no such program").count(), 1, "said once: {err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn bad_input_exits_2_and_says_what_would_be_valid() {
    let dir = tmp();
    let csv = dir.path().join("s.csv");
    let cases: &[(&[&str], &str)] = &[
        (&["sample", "--pid", "999999999"], "--pid 999999999: no such process"),
        (
            &["sample", "--name", "no-such-process-zq7x"],
            "no running process matches",
        ),
        (&["sample", "--name", "(unclosed"], "not a valid regular expression"),
        (
            &["sample", "--pid", "1", "--interval", "0"],
            "must be greater than zero",
        ),
        (&["sample", "--pid", "1", "--interval", "fast"], "expected e.g. 100ms"),
        (&["sample", "--pid", "1", "-d", "10"], "10s or 10ms"),
        (&["sample"], "required"),
    ];
    for (args, message) in cases {
        loadprof()
            .args(*args)
            .arg("-o")
            .arg(&csv)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*message));
    }
    assert!(!csv.exists());
    let me = std::process::id().to_string();
    loadprof()
        .args(["sample", "--pid", &me, "-o", "/proc/no-such-dir/s.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "-o /proc/no-such-dir/s.csv: cannot write there",
        ));
}

#[test]
fn a_command_that_cannot_start_exits_3_and_leaves_no_csv() {
    let dir = tmp();
    let csv = dir.path().join("s.csv");
    loadprof()
        .args(["sample", "-o"])
        .arg(&csv)
        .args(["--", "/no/such/program"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot start '/no/such/program'"));
    assert!(!csv.exists());
}

#[test]
fn double_forked_daemon_of_a_spawned_command_stays_in_the_tree() {
    let dir = tmp();
    let csv_path = dir.path().join("s.csv");
    // The middle process exits at once, so only loadprof's subreaper role
    // (and its /proc scan) can keep the 40 MiB daemon in the tree.
    let script = r#"
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        x = b'\x01' * (40 << 20)
        time.sleep(4)
    os._exit(0)
time.sleep(2.5)
"#;
    let out = loadprof()
        .args(["sample", "--interval", "100ms", "--json", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args(["--", python(), "-c", script])
        .output()
        .unwrap();
    let doc = json(&out.stdout);
    let pids = sampled_pids(&doc);
    kill_all(&pids);
    let csv = Csv::read(&csv_path);
    assert_eq!(median_between(&csv, "procs", 1.5, 2.3), 2.0, "parent and daemon");
    let rss = median_between(&csv, "rss_bytes", 1.5, 2.3);
    assert!(
        rss > 40.0 * MIB,
        "the daemon's 40 MiB is in the tree RSS ({:.1} MiB)",
        rss / MIB
    );
}

#[test]
fn double_forked_daemon_of_a_pid_target_is_found_by_the_proc_scan() {
    // A member becomes a session leader, lives long enough to be seen, then
    // starts a daemon and exits at once: the daemon is found by its session.
    let script = r#"
import os, time
time.sleep(0.3)
if os.fork() == 0:
    os.setsid()
    time.sleep(0.6)
    if os.fork() == 0:
        x = b'\x01' * (30 << 20)
        time.sleep(5)
        os._exit(0)
    os._exit(0)
time.sleep(6)
"#;
    let target = spawn_python(script, &[]);
    let dir = tmp();
    let (_, doc) = sample_pid(
        target.pid(),
        &["-d", "2500ms", "--interval", "500ms"],
        &dir.path().join("s.csv"),
    );
    let pids = sampled_pids(&doc);
    kill_all(&pids);
    assert_eq!(
        doc["resources"]["procs"]["last"], 2.0,
        "root and daemon at the end: {pids:?}"
    );
    assert!(doc["resources"]["rss_bytes"]["last"].as_f64().unwrap() > 30.0 * MIB);
}

#[test]
fn no_children_samples_the_root_alone() {
    let script = "import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)'])\ntime.sleep(5)";
    let target = spawn_python(script, &[]);
    let dir = tmp();
    let (_, doc) = sample_pid(target.pid(), &["-d", "1s", "--no-children"], &dir.path().join("s.csv"));
    assert_eq!(doc["resources"]["procs"]["max"], 1.0);
    assert_eq!(doc["resources"]["pids"], serde_json::json!([target.pid()]));
}

#[test]
fn pss_columns_are_appended_and_filled_at_most_every_5_s() {
    let dir = tmp();
    let csv_path = dir.path().join("s.csv");
    loadprof()
        .args(["sample", "--interval", "100ms", "--pss", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args([
            "--",
            python(),
            "-c",
            "import time; x = b'\\x01' * (20 << 20); time.sleep(1.2)",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("PSS"));
    let csv = Csv::read(&csv_path);
    assert_eq!(&csv.header[8..], ["pss_bytes", "uss_bytes"]);
    let pss = csv.values("pss_bytes");
    let filled = pss.iter().filter(|p| p.is_some()).count();
    assert_eq!(filled, 1, "one PSS reading in a run shorter than 5 s");
    assert!(pss[0].is_some(), "read on the first sample");
}

#[test]
fn gpu_without_a_driver_is_reported_once_and_the_column_left_empty() {
    if std::path::Path::new("/dev/nvidiactl").exists() {
        eprintln!("skipped: this machine has an NVIDIA driver, so GPU sampling is available");
        return;
    }
    let dir = tmp();
    let csv_path = dir.path().join("s.csv");
    let out = loadprof()
        .args(["sample", "-d", "300ms", "--json", "-o"])
        .arg(&csv_path)
        .args(["--", "sleep", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("GPU: not available (").count(), 1, "{stderr}");
    let doc = json(&out.stdout);
    assert_eq!(doc["resources"]["gpu_available"], false);
    assert!(doc["resources"]["gpu_mem_bytes"].is_null());
    assert!(Csv::read(&csv_path).values("gpu_mem_bytes").iter().all(Option::is_none));
    loadprof()
        .args(["sample", "--gpu", "on", "-o"])
        .arg(dir.path().join("t.csv"))
        .args(["--", "sleep", "5"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--gpu on"));
}

#[test]
fn a_killed_run_keeps_what_it_sampled_up_to_the_last_flush() {
    let dir = tmp();
    let csv_path = dir.path().join("s.csv");
    let mut child = loadprof()
        .args(["sample", "--interval", "50ms", "--gpu", "off", "-o"])
        .arg(&csv_path)
        .args(["--", "sleep", "3"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1600));
    child.kill().unwrap();
    child.wait().unwrap();
    // Flushed at least every 0.5 s: of 1.6 s at 20 Hz, at least the first
    // 1.1 s (22 rows) is on disk.
    let csv = Csv::read(&csv_path);
    assert!(csv.rows.len() >= 20, "{} rows survived SIGKILL", csv.rows.len());
    assert!(csv.rows.iter().all(|r| r.len() == csv.header.len()), "no torn rows");
}
