//! `loadprof capacity`: checks the flags, builds the load from a URL or a
//! profile, calibrates a start rate when none is given, runs the search's
//! probes one after another on one runtime, prints a line per probe, and
//! writes capacity.json atomically (what was probed is kept when the
//! search is interrupted).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::json;

use crate::capacity::judge::{Limit, judge};
use crate::capacity::probe::{self, ProbeSpec};
use crate::capacity::search::{Plan, Search, Step, knee};
use crate::cli::CapacityArgs;
use crate::config::plans::{SamplePlan, TargetPlan};
use crate::config::units::parse_duration;
use crate::error::{Error, Exit};
use crate::gate::Slo;
use crate::load::LoadError;
use crate::report::schema::{self, ResultDoc};
use crate::session::{self, Sampling, SessionError, TargetOutput};

fn bad(e: impl std::fmt::Display) -> Error {
    Error::bad_input(anyhow!("{e}"))
}

fn duration(flag: &str, v: &str) -> Result<Duration, Error> {
    parse_duration(v).map_err(|e| bad(format!("{flag} {v}: {e}")))
}

/// The load to probe, the SLOs to judge it by, and the target to sample.
struct What {
    name: String,
    load: crate::load::LoadConfig,
    slos: Vec<Slo>,
    target: Option<(TargetPlan, SamplePlan)>,
}

/// One sample of the target: seconds on the run's clock, RSS bytes, CPU %.
type Point = (f64, u64, Option<f64>);

/// The target's samples, shared with the sampler's thread.
#[derive(Clone, Default)]
struct Samples(Arc<Mutex<Vec<Point>>>);

impl crate::sample::SampleSink for Samples {
    fn sample(&mut self, s: &crate::sample::TreeSample, _: &[crate::sample::ProcRow]) -> anyhow::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((s.elapsed.as_secs_f64(), s.rss_bytes, s.cpu_percent));
        Ok(())
    }
}

impl Samples {
    /// The largest RSS and the mean CPU in `[from, to]`.
    fn over(&self, from: f64, to: f64) -> (Option<u64>, Option<f64>) {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let inside: Vec<&Point> = all.iter().filter(|s| s.0 >= from && s.0 <= to).collect();
        let cpu: Vec<f64> = inside.iter().filter_map(|s| s.2).collect();
        (
            inside.iter().map(|s| s.1).max(),
            (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        )
    }
}

fn what(args: &CapacityArgs) -> Result<What, Error> {
    let mut slos = Vec::new();
    let mut target = None;
    let (name, cfg, endpoints) = if crate::http::is_url(&args.what) {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "loadprof", "load", &args.what, "--rate", "1", "-d", "1s",
        ])
        .map_err(|e| bad(format!("{}: {e}", crate::redact::url(&args.what))))?;
        let crate::cli::Command::Load(load) = cli.command else {
            return Err(bad("internal: not a load command"));
        };
        let cmd = load.into_command(chrono::Local::now()).map_err(bad)?;
        let cfg = crate::config::load::build(cmd.spec).map_err(bad)?;
        let endpoints: Vec<String> = cfg.endpoints.iter().map(|e| e.name.clone()).collect();
        (crate::redact::url(&args.what).into_owned(), cfg, endpoints)
    } else {
        let path = PathBuf::from(&args.what);
        let profile = crate::config::profile::LoadedProfile::read_with(&path, &args.set).map_err(bad)?;
        if profile.profile.load.is_none() {
            let llm = if profile.profile.llm.is_some() {
                " (for the concurrency an [llm] table's models serve, set capacity = true in it and use `loadprof run`, or `loadprof llm --capacity`)"
            } else {
                ""
            };
            return Err(bad(format!(
                "{}: the profile has no [load] table; capacity probes its requests{llm}",
                path.display()
            )));
        }
        let cfg = crate::config::load::build(profile.load_spec((0, 1)).map_err(bad)?).map_err(bad)?;
        if cfg.scenarios.iter().any(|s| !s.name.is_empty()) {
            return Err(bad(format!(
                "{}: capacity probes a [[load.request]] mix; a profile of [scenarios] is not supported yet",
                path.display()
            )));
        }
        slos = profile.slos().map_err(bad)?;
        if let Some(t) = profile.target_plan().map_err(bad)? {
            target = Some((t, profile.sample_plan().map_err(bad)?));
        }
        let name = profile.profile.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("capacity".into(), |s| s.to_string_lossy().into_owned())
        });
        let endpoints = cfg.endpoints.iter().map(|e| e.name.clone()).collect();
        (name, cfg, endpoints)
    };
    let eps: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    for given in &args.slos {
        let (metric, expr) = given.split_once('=').ok_or_else(|| {
            bad(format!(
                "--slo {given}: write it as METRIC=EXPR, e.g. 'all.p95=< 300ms'"
            ))
        })?;
        let slo = Slo::parse(metric.trim(), expr, &eps, &[]).map_err(|e| bad(format!("--slo {given}: {e}")))?;
        slos.retain(|s| s.name != slo.name);
        slos.push(slo);
    }
    if slos.is_empty() {
        return Err(bad(
            "capacity needs an SLO to judge each probe by: --slo 'all.p95=< 300ms' (or [slo] in the profile)",
        ));
    }
    Ok(What {
        name,
        load: cfg,
        slos,
        target,
    })
}

/// One connection, back to back, for 2 s: half its rate is where to start.
fn calibrate(
    base: &crate::load::LoadConfig,
    stop: &crate::cancel::StopToken,
    rt: &tokio::runtime::Runtime,
) -> Result<f64, LoadError> {
    let mut cfg = base.clone();
    for s in &mut cfg.scenarios {
        s.executor = crate::load::Executor::Closed {
            users: 1,
            spawn_rate: None,
            think: Default::default(),
            iterations: None,
            shared_iterations: None,
            ramp: None,
        };
        s.duration = Some(Duration::from_secs(2));
    }
    cfg.warmup = Duration::ZERO;
    let rec = rt.block_on(crate::load::run(cfg, stop, &mut |_| {}))?;
    let requests: u64 = rec.endpoints.iter().map(|(_, e)| e.requests).sum();
    let secs = rec.duration.as_secs_f64().max(0.1);
    Ok((requests as f64 / secs / 2.0).max(1.0))
}

pub fn run(args: &CapacityArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let What {
        name,
        load: base,
        slos,
        target,
    } = what(args)?;
    let hold = duration("--hold", &args.hold)?;
    let warmup = duration("--warmup", &args.warmup)?;
    let max_time = duration("--max-time", &args.max_time)?;
    if !(Duration::from_secs(3)..=Duration::from_secs(3600)).contains(&hold) {
        return Err(bad(format!("--hold {}: give 3s (to see a trend) to 1h", args.hold)));
    }
    if warmup > Duration::from_secs(600) {
        return Err(bad(format!("--warmup {}: give at most 10m", args.warmup)));
    }
    if max_time > Duration::from_secs(7 * 24 * 3600) {
        return Err(bad(format!("--max-time {}: give at most a week", args.max_time)));
    }
    if !(0.0 < args.precision && args.precision < 100.0) {
        return Err(bad(format!(
            "--precision {}%: give more than 0% and less than 100%",
            args.precision
        )));
    }
    let check_rate = |flag: &str, r: f64| {
        if r.is_finite() && r > 0.0 && r <= 10_000_000.0 {
            Ok(r)
        } else {
            Err(bad(format!("{flag} {r}: give a rate above 0 and at most 10000000")))
        }
    };
    let max_rate = check_rate("--max-rate", args.max_rate)?;
    if let Some(s) = args.start_rate {
        check_rate("--start-rate", s)?;
        if s > max_rate {
            return Err(bad(format!("--start-rate {s} is above --max-rate {max_rate}")));
        }
    }
    if let Some(r) = args.require_rate {
        check_rate("--require-rate", r)?;
    }
    if !(1..=1_000_000).contains(&args.max_in_flight) {
        return Err(bad("--max-in-flight: give 1 to 1000000"));
    }
    let probe_s = (warmup + hold).as_secs_f64();
    if max_time.as_secs_f64() < probe_s {
        return Err(bad(format!(
            "--max-time {} is shorter than one probe ({}s of warm-up and hold)",
            args.max_time, probe_s
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("out").join(format!("capacity-{}", chrono::Local::now().format("%Y%m%d-%H%M%S")))
    });
    let _claim = super::claim_out(&dir, "--out")?;
    crate::sample::process::raise_open_file_limit();
    let (stop, runtime) = super::stop_and_runtime()?;
    let say: &mut dyn Write = if args.json { err } else { out };
    // The target is sampled through every probe, on one clock.
    let t0 = Instant::now();
    let started_at = std::time::SystemTime::now();
    let samples = Samples::default();
    let sampler_stop = stop.linked();
    let sampling = match &target {
        Some((tp, sp)) => {
            let log = dir.join("target.log");
            let output = match tp.spec {
                crate::sample::TargetSpec::Command(_) => TargetOutput::File(
                    std::fs::File::create(&log)
                        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", log.display())))?,
                ),
                _ => TargetOutput::Inherit,
            };
            let s = Sampling::start(tp, sp, t0, output, &[], &stop, &sampler_stop, samples.clone()).map_err(
                |e| match e {
                    SessionError::BadTarget(m) => bad(format!("[target]: {m}")),
                    SessionError::CannotRun(m) => Error::cannot_run(anyhow!(m)),
                },
            )?;
            super::printed(writeln!(
                say,
                "target: pid {} ({}){}",
                s.pid,
                crate::escape::terminal(&s.command.chars().take(100).collect::<String>()),
                if s.owned { ", started by loadprof" } else { "" }
            ))?;
            if let Err(e) = session::wait_ready(tp, &stop) {
                sampler_stop.stop(crate::cancel::StopReason::Finished);
                let _ = s.finish(&stop);
                return Err(Error::cannot_run(anyhow!(e)));
            }
            Some(s)
        }
        None => None,
    };
    let result = search_all(SearchArgs {
        args,
        base: &base,
        slos: &slos,
        stop: &stop,
        runtime: &runtime,
        say,
        t0,
        samples: &samples,
        plan_inputs: (warmup, hold, probe_s, max_time, max_rate),
    });
    sampler_stop.stop(crate::cancel::StopReason::Finished);
    if let Some(s) = sampling {
        let _ = s.finish(&stop);
    }
    let (plan, search, probes, rate_points) = result?;
    let o = search.outcome();
    let target_exited = stop.reason() == Some(crate::cancel::StopReason::TargetExited);
    let interrupted = stop.reason().is_some() && !target_exited;
    let doc = json!({
        "name": name,
        "max_rate": o.max_rate,
        "bracket": [o.bracket.0, o.bracket.1],
        "limited_by": o.limited_by.map(Limit::name),
        "converged": o.converged,
        "knee_rate": knee(&rate_points, 0.25),
        "stopped": if target_exited {
            "the target exited".to_string()
        } else if interrupted {
            "interrupted".to_string()
        } else {
            o.stopped.clone()
        },
        "precision": plan.precision,
        "slo": slos.iter().map(|s| json!({"name": s.name, "expr": s.text})).collect::<Vec<_>>(),
        "probes": probes,
    });
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    let path = dir.join("capacity.json");
    crate::report::write_atomic(&path, &bytes)
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", path.display())))?;
    let passed = o.max_rate.is_some_and(|m| args.require_rate.is_none_or(|r| m >= r)) && !interrupted && !target_exited;
    let result = ResultDoc {
        schema: schema::SCHEMA,
        tool: schema::Tool::this(),
        run: schema::Run {
            profile: Some(name.clone()),
            started_at: schema::timestamp(started_at),
            ended_at: schema::timestamp(std::time::SystemTime::now()),
            duration_s: (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            outcome: if target_exited {
                crate::sample::Outcome::TargetExited
            } else if interrupted {
                crate::sample::Outcome::Interrupted
            } else {
                crate::sample::Outcome::Completed
            },
            host: crate::host::Host::detect(),
            reason: None,
            windows: None,
        },
        load: None,
        resources: None,
        leak: None,
        flame: None,
        heap: None,
        metrics: None,
        capacity: Some(doc.clone()),
        llm: None,
        slo: None,
        baseline: None,
        passed,
    };
    let result_path = dir.join("result.json");
    let result_bytes = serde_json::to_vec_pretty(&result).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    crate::report::write_atomic(&result_path, &result_bytes)
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", result_path.display())))?;
    let html = dir.join("report.html");
    crate::report::write_atomic_with(&html, |w| crate::report::html::write_capacity(w, &doc))
        .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", html.display())))?;
    let summary = match (o.max_rate, o.limited_by) {
        (Some(r), Some(Limit::Generator)) => format!(
            "capacity: at least {r:.1}/s; loadprof could not offer more, so the service's limit was not reached"
        ),
        (Some(r), limit) => format!(
            "capacity: {r:.1}/s{} (bracket {:.1} to {}), limited by {}{}",
            if o.converged { "" } else { " (not converged)" },
            o.bracket.0.unwrap_or(0.0),
            o.bracket.1.map_or("–".to_string(), |h| format!("{h:.1}")),
            limit.map_or("nothing up to --max-rate", Limit::name),
            knee(&rate_points, 0.25).map_or(String::new(), |k| format!("; latency starts to rise past {k:.1}/s"))
        ),
        (None, _) => format!("capacity: none found; {}", o.stopped),
    };
    super::printed(
        writeln!(say, "{summary}")
            .and_then(|()| writeln!(say, "report: {}", html.display()))
            .and_then(|()| writeln!(say, "results in {}/", dir.display()))
            .and_then(|()| {
                if args.json {
                    out.write_all(&bytes).and_then(|()| writeln!(out))
                } else {
                    Ok(())
                }
            }),
    )?;
    Ok(if target_exited {
        let _ = writeln!(
            err,
            "loadprof: error: the target exited during the search; what was probed is in {}",
            dir.display()
        );
        Exit::RunFailed
    } else if interrupted {
        Exit::Interrupted
    } else if o.max_rate.is_none() || args.require_rate.is_some_and(|r| o.max_rate.is_none_or(|m| m < r)) {
        Exit::GateFailed
    } else {
        Exit::Success
    })
}

/// What the search loop needs.
struct SearchArgs<'a> {
    args: &'a CapacityArgs,
    base: &'a crate::load::LoadConfig,
    slos: &'a [Slo],
    stop: &'a crate::cancel::StopToken,
    runtime: &'a tokio::runtime::Runtime,
    say: &'a mut dyn Write,
    t0: Instant,
    samples: &'a Samples,
    /// Warm-up, hold, probe length in seconds, time budget, max rate.
    plan_inputs: (Duration, Duration, f64, Duration, f64),
}

type Searched = (Plan, Search, Vec<serde_json::Value>, Vec<(f64, f64)>);

/// Calibrates when asked to, then runs every probe the search asks for.
fn search_all(a: SearchArgs<'_>) -> Result<Searched, Error> {
    let SearchArgs {
        args,
        base,
        slos,
        stop,
        runtime,
        say,
        t0,
        samples,
        plan_inputs: (warmup, hold, probe_s, max_time, max_rate),
    } = a;
    let cannot = |e: LoadError| match e {
        LoadError::Setup(_) => Error::bad_input(anyhow!(e)),
        _ => Error::cannot_run(anyhow!(e)),
    };
    let start = match args.start_rate {
        Some(s) => s,
        None => {
            let s = calibrate(base, stop, runtime).map_err(cannot)?.min(max_rate);
            super::printed(writeln!(
                say,
                "calibration: one connection gets {:.1}/s; starting at {s:.1}/s",
                s * 2.0
            ))?;
            s
        }
    };
    let plan = Plan {
        start,
        max_rate,
        precision: args.precision / 100.0,
        probe_s,
        confirm_s: (warmup + hold * 2).as_secs_f64(),
        max_time_s: max_time.as_secs_f64(),
    };
    let mut search = Search::new(plan);
    let mut probes = Vec::new();
    let mut rate_points = Vec::new();
    while let Step::Probe {
        rate,
        seconds: _,
        confirming,
    } = search.next_step()
    {
        if stop.reason().is_some() {
            break;
        }
        let spec = ProbeSpec {
            rate,
            warmup,
            hold: if confirming { hold * 2 } else { hold },
            poisson: args.poisson,
            max_in_flight: args.max_in_flight,
        };
        let from = t0.elapsed().as_secs_f64();
        let run = probe::run(base, &spec, slos, stop, runtime).map_err(cannot)?;
        let (rss, cpu) = samples.over(from + warmup.as_secs_f64(), t0.elapsed().as_secs_f64());
        if run.recording.stop.is_some() {
            break;
        }
        let verdict = judge(&run.stats);
        search.record(&verdict, run.took_s);
        let shown = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1} ms"));
        super::printed(writeln!(
            say,
            "probe {}: {rate:.1}/s{} for {:.0}s: {} — achieved {:.1}/s, p95 {}, {:.2}% errors{}",
            probes.len() + 1,
            if confirming { " (confirming)" } else { "" },
            spec.hold.as_secs_f64(),
            if verdict.pass { "held" } else { "failed" },
            run.stats.achieved,
            shown(run.p95_ms),
            run.stats.error_rate * 100.0,
            if verdict.pass {
                String::new()
            } else {
                format!(" ({})", verdict.reason)
            }
        ))?;
        if let Some(p95) = run.p95_ms {
            rate_points.push((rate, p95));
        }
        probes.push(json!({
            "rate": rate,
            "achieved_rate": run.stats.achieved,
            "hold_s": spec.hold.as_secs_f64(),
            "confirming": confirming,
            "p50_ms": run.p50_ms,
            "p95_ms": run.p95_ms,
            "p99_ms": run.p99_ms,
            "error_rate": run.stats.error_rate,
            "pass": verdict.pass,
            "reason": verdict.reason,
            "limited_by": verdict.limits.first().map(|l| l.name()),
            "slo": run.stats.slos,
            "dropped": run.recording.dropped,
            "rss_bytes_max": rss,
            "cpu_percent_mean": cpu.map(|c| (c * 10.0).round() / 10.0),
        }));
    }
    Ok((plan, search, probes, rate_points))
}
