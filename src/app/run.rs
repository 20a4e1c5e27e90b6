//! `loadprof run` (and `loadprof demo`, which runs a built-in profile):
//! read the profile, run the session, then judge it and write the output
//! folder — result.json, samples.csv, timeline.csv, flame.folded,
//! flame.svg, heap.folded, heap.svg, report.html, summary.md, junit.xml —
//! whatever way it ended.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::printed;
use super::watch::{Ending, Watchers};
use crate::cancel::{self, StopReason, StopToken};
use crate::config::flame::FlamePlan;
use crate::config::heap::HeapPlan;
use crate::config::metrics::MetricsPlan;
use crate::config::profile::LoadedProfile;
use crate::error::{Error, Exit};
use crate::flame::FlameError;
use crate::gate::observe::{against_baseline, observe};
use crate::gate::{Comparison, Slo, SloResult};
use crate::host::Host;
use crate::leak::Verdict;
use crate::report::csv::{SamplesWriter, TimelineWriter};
use crate::report::flame::FlameSection;
use crate::report::heap::HeapSection;
use crate::report::leak::LeakSection;
use crate::report::metrics::{MetricsSection, MetricsWriter};
use crate::report::progress::LoadProgress;
use crate::report::schema::{self, Baseline, Resources, ResultDoc, Run, Tool, Windows};
use crate::report::verdicts::{self, Verdicts};
use crate::report::{write_atomic, write_atomic_with};
use crate::sample::{Outcome, ProcRow, SampleSink, TreeSample};
use crate::session::observer::{FlameWindow, HeapWindow, MetricsWindow, Observation, Observed, Observer};
use crate::session::{self, Event, SessionPlan, SessionResult, TargetOutput};

/// A profile read and checked, with what the command line added.
pub struct RunSetup {
    pub name: String,
    pub plan: SessionPlan,
    /// The observers' plans, in the order of `plan.observers`.
    pub flame: Option<FlamePlan>,
    pub heap: Option<HeapPlan>,
    /// `[metrics]`, whose observer joins the plan when the run's folder
    /// is ready for its metrics.csv.
    pub metrics: Option<MetricsPlan>,
    pub slos: Vec<Slo>,
    /// A leak verdict fails the run (the profile has a [leak] table or a
    /// `leak` SLO).
    pub gate_leak: bool,
    pub allowed_pct: f64,
    pub baseline: Option<(PathBuf, serde_json::Value)>,
    pub dir: PathBuf,
    pub alerts: Option<PathBuf>,
    pub json: bool,
}

fn bad(e: String) -> Error {
    Error::bad_input(anyhow!(e))
}

/// Everything `run` needs from a profile, checked before anything starts.
/// `share` is this process's (index, count) among the workers sharing the
/// load and the instant they all start at (`--start-at`).
pub fn setup(
    profile: &LoadedProfile,
    dir: Option<PathBuf>,
    baseline: Option<PathBuf>,
    alerts: Option<PathBuf>,
    json: bool,
    share: ((u32, u32), Option<std::time::SystemTime>),
) -> Result<RunSetup, Error> {
    let name = profile_name(profile);
    if profile.profile.load.is_none() {
        return Err(bad(format!(
            "{}: the profile has no [load] table; `run` drives load at the service: add [load] with base_url and at least one [[load.request]]",
            profile.path.display()
        )));
    }
    let mut load = crate::config::load::build(profile.load_spec(share.0).map_err(bad)?).map_err(bad)?;
    load.start_at = share.1;
    let target = profile.target_plan().map_err(bad)?;
    let flame = profile.flame_plan().map_err(bad)?;
    if let Some(f) = &flame
        && f.pprof_url.is_none()
        && target.is_none()
    {
        return Err(bad(format!(
            "{}: [flame] needs something to profile: a [target] (command, pid or name) or pprof_url",
            profile.path.display()
        )));
    }
    let mut heap = profile.heap_plan().map_err(bad)?;
    if let Some(h) = &mut heap {
        match (&h.pprof_url, target.as_ref().map(|t| &t.spec)) {
            (Some(_), _) => {}
            (None, None) => {
                return Err(bad(format!(
                    "{}: [heap] needs something to profile: a [target] (command, pid or name) or pprof_url",
                    profile.path.display()
                )));
            }
            // A command is started with jemalloc preloaded unless it runs Python.
            (None, Some(crate::sample::TargetSpec::Command(argv))) if h.profiler.is_none() => {
                h.profiler = Some(if crate::flame::detect::command_is_python(argv) {
                    crate::flame::Profiler::Memray
                } else {
                    crate::flame::Profiler::Jemalloc
                });
            }
            _ => {}
        }
    }
    let leak = profile.leak_plan().map_err(bad)?;
    // The heap window opens by default when the leak warm-up ends, so it
    // covers what the leak verdict is judged on.
    let heap_start = match leak.warmup {
        crate::leak::Warmup::Seconds(s) => Duration::from_secs_f64(s.max(0.0)),
        crate::leak::Warmup::Auto => load.planned_duration().map_or(Duration::ZERO, |d| d / 3),
    };
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(f) = &flame {
        observers.push(Box::new(FlameWindow(f.clone())));
    }
    if let Some(h) = &heap {
        let window = HeapWindow::new(h.clone(), heap_start).map_err(|e| Error::cannot_run(anyhow!(e)))?;
        observers.push(Box::new(window));
    }
    let slos = profile.slos().map_err(bad)?;
    let gate_leak = profile.profile.leak.is_some() || slos.iter().any(|s| s.name == "leak");
    let baseline = match baseline {
        Some(p) => {
            let doc = super::read_result(&p, "--baseline")?;
            Some((p, doc))
        }
        None => None,
    };
    let dir = dir.unwrap_or_else(|| {
        PathBuf::from("out").join(format!("{}-{}", name, chrono::Local::now().format("%Y%m%d-%H%M%S")))
    });
    Ok(RunSetup {
        name,
        plan: SessionPlan {
            target,
            sample: profile.sample_plan().map_err(bad)?,
            load,
            observers,
            leak,
        },
        flame,
        heap,
        metrics: profile.metrics_plan().map_err(bad)?,
        slos,
        gate_leak,
        allowed_pct: profile.max_regression_pct().map_err(bad)?,
        baseline,
        dir,
        alerts,
        json,
    })
}

/// The profile's name, or its file's stem.
fn profile_name(profile: &LoadedProfile) -> String {
    profile.profile.name.clone().unwrap_or_else(|| {
        profile
            .path
            .file_stem()
            .map_or("run".into(), |s| s.to_string_lossy().into_owned())
    })
}

fn llm_command(plan: crate::config::plans::LlmPlan, dir: PathBuf, name: &str, json: bool) -> super::llm::LlmCommand {
    super::llm::LlmCommand {
        endpoint: plan.endpoint,
        api: plan.api,
        api_key_env: plan.api_key_env,
        api_key: None,
        plan: plan.bench,
        budgets: plan.budgets,
        server_pid: plan.server_pid,
        timeout: plan.timeout,
        json,
        dir,
        profile: Some(name.to_string()),
    }
}

/// The worse of two exits: interrupted, then could not run, then a failed gate.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Success => 0,
        Exit::GateFailed => 1,
        Exit::RunFailed => 2,
        Exit::Interrupted => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

pub fn run(args: crate::cli::RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let profile = LoadedProfile::read_with(&args.profile, &args.set).map_err(bad)?;
    let llm = profile.llm_plan().map_err(bad)?;
    let name = profile_name(&profile);
    // An [llm] profile without [load] is a model benchmark alone.
    if profile.profile.load.is_none()
        && let Some(plan) = llm
    {
        let dir = args.out.unwrap_or_else(|| {
            PathBuf::from("out").join(format!("{}-{}", name, chrono::Local::now().format("%Y%m%d-%H%M%S")))
        });
        return super::llm::execute(llm_command(plan, dir, &name, args.json), out, err);
    }
    let share = args.worker.resolve(std::time::SystemTime::now()).map_err(bad)?;
    let setup = setup(&profile, args.out, args.baseline, args.alerts, args.json, share)?;
    let dir = setup.dir.clone();
    // Held until the benchmark beside the load has written DIR/llm/ too.
    let claim = super::claim_out(&dir, "--out")?;
    let exit = execute(setup, &args.watch, &claim, out, err)?;
    // Beside [load], the benchmark runs after the load, into DIR/llm/.
    match llm {
        Some(plan) if exit != Exit::Interrupted => {
            let llm_exit = super::llm::execute(llm_command(plan, dir.join("llm"), &name, args.json), out, err)?;
            Ok(worse(exit, llm_exit))
        }
        _ => Ok(exit),
    }
}

/// Writes samples to samples.csv as they are taken (a run without a
/// target has no samples and no file).
/// Each sample also goes to the live view, when one watches.
struct CsvSink(Option<SamplesWriter>, Option<crate::live::Live>);

impl SampleSink for CsvSink {
    fn sample(&mut self, s: &TreeSample, procs: &[ProcRow]) -> anyhow::Result<()> {
        if let Some(live) = &self.1 {
            live.sample(s);
        }
        match &mut self.0 {
            Some(w) => w.write(s, procs).context("writing samples.csv"),
            None => Ok(()),
        }
    }
}

/// The files of the output folder.
struct Files {
    result: PathBuf,
    samples: PathBuf,
    timeline: PathBuf,
    folded: PathBuf,
    svg: PathBuf,
    heap_folded: PathBuf,
    heap_svg: PathBuf,
    html: PathBuf,
    markdown: PathBuf,
    junit: PathBuf,
    log: PathBuf,
    metrics: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Files {
        Files {
            result: dir.join("result.json"),
            samples: dir.join("samples.csv"),
            timeline: dir.join("timeline.csv"),
            folded: dir.join("flame.folded"),
            svg: dir.join("flame.svg"),
            heap_folded: dir.join("heap.folded"),
            heap_svg: dir.join("heap.svg"),
            html: dir.join("report.html"),
            markdown: dir.join("summary.md"),
            junit: dir.join("junit.xml"),
            log: dir.join("target.log"),
            metrics: dir.join("metrics.csv"),
        }
    }
}

/// Runs a checked setup and writes its folder, which `claim` holds.
pub fn execute(
    setup: RunSetup,
    watch: &crate::cli::WatchArgs,
    claim: &crate::outdir::OutDir,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, Error> {
    let RunSetup {
        name,
        mut plan,
        flame: flame_plan,
        heap: heap_plan,
        metrics: metrics_plan,
        slos,
        gate_leak,
        allowed_pct,
        baseline,
        dir,
        alerts,
        json,
    } = setup;
    debug_assert_eq!(claim.path(), dir);
    let files = Files::in_dir(&dir);
    let cannot_write = |p: &Path, e: std::io::Error| Error::cannot_run(anyhow!("{}: cannot write: {e}", p.display()));
    let watchers = Watchers::start(
        watch,
        &name,
        plan.load.endpoints.iter().map(|e| e.name.clone()).collect(),
        plan.load.peak_rate(),
        slos.clone(),
    )?;
    let live = watchers.live.clone();
    plan.load.live = live.is_some();
    let samples = CsvSink(
        match &plan.target {
            Some(_) => Some(
                SamplesWriter::create(&files.samples, false, plan.sample.pss)
                    .map_err(|e| cannot_write(&files.samples, e))?,
            ),
            None => None,
        },
        live.clone(),
    );
    super::printed(watchers.announce(if json { &mut *err } else { &mut *out }))?;
    let mut timeline = TimelineWriter::create(&files.timeline).map_err(|e| cannot_write(&files.timeline, e))?;
    if let Some(m) = &metrics_plan {
        let sink = MetricsWriter::create(&files.metrics).map_err(|e| cannot_write(&files.metrics, e))?;
        plan.observers.push(Box::new(MetricsWindow {
            plan: m.clone(),
            watch: crate::report::metrics::watched(&slos),
            warmup: plan.load.warmup,
            sink: Box::new(sink),
        }));
    }
    let target_output = match &plan.target {
        Some(t) if matches!(t.spec, crate::sample::TargetSpec::Command(_)) => {
            TargetOutput::File(std::fs::File::create(&files.log).map_err(|e| cannot_write(&files.log, e))?)
        }
        _ => TargetOutput::Inherit,
    };
    crate::sample::process::raise_open_file_limit();
    let stop = StopToken::new();
    cancel::stop_on_signals(stop.clone())
        .map_err(|e| Error::cannot_run(anyhow!("cannot install signal handlers: {e}")))?;
    let flame_required = flame_plan.as_ref().is_some_and(|f| f.profiler.is_some());
    let flame_profiler = flame_plan
        .as_ref()
        .map_or("auto", |f| f.profiler.map_or("auto", |p| p.name()));
    let flame_of = flame_plan.as_ref().and_then(|f| f.pprof_url.clone());
    let mut seconds: Vec<crate::report::heap::Second> = Vec::new();
    let mut progress = LoadProgress::new(!json, plan.load.planned_duration());
    let mut write_error = None;
    let mut notes: Vec<String> = Vec::new();
    let mut target_command = String::new();
    let result = {
        let mut on_row = |row: &crate::load::TimelineRow| {
            if let Some(l) = &live {
                l.row(row);
            }
            if let Err(e) = timeline.write(row) {
                write_error.get_or_insert(e);
            }
            seconds.push(crate::report::heap::Second {
                start_s: row.elapsed_s as f64,
                width_s: row.width_s,
                requests: row.requests,
                p95_ms: row.latency.as_ref().map(|l| l.p95_ms),
            });
            progress.update(row);
        };
        let mut on_event = |e: Event| match e {
            Event::Target { pid, command, owned } => {
                notes.push(format!(
                    "target: pid {pid} ({}){}",
                    command.chars().take(100).collect::<String>(),
                    if owned { ", started by loadprof" } else { "" }
                ));
                target_command = command;
            }
            Event::Ready(after) => notes.push(format!("target ready after {:.1}s", after.as_secs_f64())),
        };
        session::run(plan, &stop, samples, target_output, &mut on_row, &mut on_event)
    };
    progress.finish();
    let timeline_flushed = timeline.flush();
    let result = result.map_err(|e| match e {
        session::SessionError::BadTarget(m) => Error::bad_input(anyhow!("[target]: {m}")),
        session::SessionError::CannotRun(m) => Error::cannot_run(anyhow!(m)),
    })?;
    let mut result = result;
    notes.append(&mut result.notes);
    if let Some(CsvSink(Some(mut w), _)) = result.samples.take() {
        w.flush().map_err(|e| cannot_write(&files.samples, e))?;
    }
    if let Some(e) = write_error.or(timeline_flushed.err()) {
        return Err(cannot_write(&files.timeline, e));
    }
    let mut observed = std::mem::take(&mut result.observed).into_iter();
    let flame_taken = flame_plan.as_ref().and_then(|_| observed.next().flatten());
    let heap_taken = heap_plan.as_ref().and_then(|_| observed.next().flatten());
    let metrics_taken = metrics_plan.as_ref().and_then(|_| observed.next().flatten());
    let flame_window = flame_taken.as_ref().map(|o| o.window);
    let flame_target = flame_of.unwrap_or(target_command.clone());
    let flame = flame_section(flame_taken, &files, &flame_target, flame_profiler, &mut notes)?;
    let flame_failed = flame.as_ref().is_some_and(|f| f.error.is_some());
    let heap_target = heap_plan
        .as_ref()
        .and_then(|h| h.pprof_url.clone())
        .unwrap_or(target_command.clone());
    let load_start = result.windows.load.map_or(0.0, |(a, _)| a);
    for s in &mut seconds {
        s.start_s += load_start;
    }
    let heap = heap_plan
        .as_ref()
        .map(|p| heap_section(heap_taken, p, &files, &heap_target, &seconds, &mut notes))
        .transpose()?;

    // The document without its verdicts, so they can be read out of it the
    // way `loadprof gate` reads a stored one.
    let mut doc = document(&name, &result, flame, flame_window, heap);
    if let Some(Observed {
        what: Observation::Metrics(rec),
        ..
    }) = &metrics_taken
    {
        if let Some(e) = &rec.write_error {
            return Err(cannot_write(&files.metrics, std::io::Error::other(e.clone())));
        }
        doc.metrics = Some(MetricsSection::from_recording(rec, &slos, result.windows.end_s));
    }
    if let (Some(l), Some(h)) = (&mut doc.leak, &doc.heap)
        && l.verdict == Verdict::Leak
        && let Some(blame) = h.blame(3)
    {
        // The verdict names the code that holds the memory.
        l.reason = format!("{}; {blame}", l.reason);
    }
    let value = serde_json::to_value(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    let judged: Vec<SloResult> = slos.iter().map(|s| s.judge(observe(&s.metric, &value))).collect();
    let comparisons: Vec<Comparison> = baseline
        .as_ref()
        .map_or_else(Vec::new, |(_, b)| against_baseline(b, &value, allowed_pct));
    let leaked = doc.leak.as_ref().is_some_and(|l| l.verdict == Verdict::Leak);
    let passed = judged.iter().all(|r| r.pass) && comparisons.iter().all(|c| c.pass) && !(gate_leak && leaked);
    doc.baseline = Some(baseline.as_ref().map(|(p, _)| Baseline {
        path: p.display().to_string(),
        allowed_pct,
        comparisons: comparisons.clone(),
    }));
    doc.slo = Some(judged.clone());
    doc.passed = passed && doc.run.outcome == Outcome::Completed;
    let json_bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(&files.result, &json_bytes).map_err(|e| cannot_write(&files.result, e))?;

    let v = Verdicts {
        name: &name,
        passed: doc.passed,
        duration_s: doc.run.duration_s,
        slo: &judged,
        baseline: &comparisons,
        leak: doc.leak.as_ref(),
        llm: doc.llm.as_ref(),
    };
    write_atomic_with(&files.markdown, |w| verdicts::write_markdown(w, &v))
        .map_err(|e| cannot_write(&files.markdown, e))?;
    write_atomic_with(&files.junit, |w| verdicts::write_junit(w, &v)).map_err(|e| cannot_write(&files.junit, e))?;
    super::report::write_html(&files.result, &files.html)?;
    if let Some(path) = &alerts {
        let lines = verdicts::alert_lines(&name, &doc.run.ended_at, &judged);
        verdicts::append_alerts(path, &lines)
            .map_err(|e| Error::cannot_run(anyhow!("--alerts {}: cannot append: {e}", path.display())))?;
    }

    let summary = |to: &mut dyn Write| -> std::io::Result<()> {
        for n in &notes {
            writeln!(to, "{n}")?;
        }
        if let Some(l) = &doc.load {
            let outcome = outcome_words(&result);
            crate::report::load_text::write_summary(to, l, &name, &outcome, &[])?;
        }
        if let Some(r) = &doc.resources {
            write_resources(to, r)?;
        }
        if let Some(l) = &doc.leak {
            writeln!(to, "leak: {}", l.reason)?;
        }
        if let Some(f) = &doc.flame {
            match &f.error {
                Some(e) => writeln!(to, "flame graph: not taken: {e}")?,
                None => crate::report::flame::write_summary(to, f)?,
            }
        }
        if let Some(h) = &doc.heap {
            crate::report::heap::write_summary(to, h)?;
        }
        if let Some(m) = &doc.metrics {
            crate::report::metrics::write_summary(to, m)?;
        }
        verdicts::write_gate(to, &judged, &comparisons)?;
        if gate_leak && leaked && !judged.iter().any(|s| s.name == "leak") {
            writeln!(to, "FAIL leak: the [leak] table gates the run and the verdict is leak")?;
        }
        let verdict = match doc.run.outcome {
            Outcome::Completed if doc.passed => "PASSED".to_string(),
            Outcome::Completed => "FAILED".to_string(),
            _ => format!("INCOMPLETE ({})", outcome_words(&result)),
        };
        writeln!(to, "verdict: {verdict}")?;
        writeln!(to, "report: {}", files.html.display())?;
        writeln!(to, "results in {}/", dir.display())
    };
    let r = if json {
        summary(err)
            .and_then(|()| out.write_all(&json_bytes))
            .and_then(|()| writeln!(out))
    } else {
        summary(out)
    };
    printed(r)?;
    if let Some(why) = &result.failure {
        let _ = writeln!(err, "loadprof: error: {why}");
    }
    let outcome = outcome_words(&result);
    let ending = Ending {
        name: &name,
        passed: (doc.run.outcome == Outcome::Completed).then_some(doc.passed),
        outcome: &outcome,
        slo: &judged,
        requests: doc.load.as_ref().map(|l| l.totals.requests),
        error_rate: doc.load.as_ref().map(|l| 1.0 - l.totals.success_rate),
        p95_ms: doc
            .load
            .as_ref()
            .and_then(|l| l.latency.as_ref().map(|p| p.percentiles.p95_ms)),
    };
    let interrupted = doc.run.outcome == Outcome::Interrupted;
    printed(watchers.finish(&ending, interrupted, if json { &mut *err } else { &mut *out }))?;
    Ok(match doc.run.outcome {
        Outcome::Interrupted => Exit::Interrupted,
        Outcome::TargetExited => {
            let _ = writeln!(
                err,
                "loadprof: error: the target exited during the run; what was measured is in {}",
                dir.display()
            );
            Exit::RunFailed
        }
        Outcome::Failed => Exit::RunFailed,
        Outcome::Completed if !passed => Exit::GateFailed,
        Outcome::Completed if flame_required && flame_failed => {
            let _ = writeln!(
                err,
                "loadprof: error: the flame graph the profile asks for could not be taken"
            );
            Exit::RunFailed
        }
        Outcome::Completed => Exit::Success,
    })
}

fn outcome_words<S>(r: &SessionResult<S>) -> String {
    match (r.outcome, r.stop) {
        (Outcome::Interrupted, Some(s)) => format!("{}; results are partial", crate::report::text::stop_phrase(s)),
        (Outcome::TargetExited, _) => "the target exited; results are partial".into(),
        (Outcome::Failed, _) => format!(
            "failed: {}",
            r.failure.as_deref().unwrap_or("the run could not be carried out")
        ),
        _ => "completed".into(),
    }
}

fn write_resources(to: &mut dyn Write, r: &Resources) -> std::io::Result<()> {
    use crate::config::units::format_bytes;
    let mut parts = Vec::new();
    if let Some(rss) = &r.rss_bytes {
        parts.push(format!(
            "RSS {} .. {} (peak), last {}",
            format_bytes(rss.min as f64),
            format_bytes(rss.max as f64),
            format_bytes(rss.last as f64)
        ));
    }
    if let Some(c) = &r.cpu_percent {
        parts.push(format!("CPU mean {:.1}% max {:.1}%", c.mean, c.max));
    }
    if let Some(t) = &r.threads {
        parts.push(format!("threads max {}", t.max));
    }
    writeln!(
        to,
        "resources: {} samples of {} process(es): {}",
        r.samples,
        r.pids.len(),
        parts.join(", ")
    )
}

/// Writes the flame graph's files and returns its section; a profile that
/// could not be taken is a section with the error.
fn flame_section(
    taken: Option<Observed>,
    files: &Files,
    target: &str,
    profiler: &str,
    notes: &mut Vec<String>,
) -> Result<Option<FlameSection>, Error> {
    let Some(Observed {
        what: Observation::Flame(taken),
        ..
    }) = taken
    else {
        return Ok(None);
    };
    match &taken {
        Ok(c) => {
            let title = super::flame::default_title(c, &target.chars().take(80).collect::<String>());
            let has_stacks = c.folded.total() > 0;
            let mut section = super::flame::save(c, &files.folded, has_stacks.then_some(files.svg.as_path()), title)?;
            section.folded = Some("flame.folded".into());
            section.svg = has_stacks.then(|| "flame.svg".into());
            if !has_stacks {
                notes.push("flame graph: no samples were recorded, so no flame.svg was drawn".into());
            }
            Ok(Some(section))
        }
        Err(e) => Ok(Some(failed_flame(e, profiler))),
    }
}

/// Writes the heap profile's files and returns its section: its window,
/// its sites and what it cost the target. A profile that could not be
/// taken is a section with the error, and a note (a heap profile does not
/// fail a run).
fn heap_section(
    taken: Option<Observed>,
    plan: &HeapPlan,
    files: &Files,
    target: &str,
    seconds: &[crate::report::heap::Second],
    notes: &mut Vec<String>,
) -> Result<HeapSection, Error> {
    let profiler = plan.profiler.map_or("auto", |p| p.name());
    let Some(Observed {
        window,
        what: Observation::Heap(taken),
    }) = taken
    else {
        let why = "the heap window never opened: the load ended (or the run stopped) before its start_after";
        notes.push(format!("heap profile: not taken: {why}"));
        return Ok(HeapSection::failed(profiler, plan.mode.name(), why.into()));
    };
    match taken {
        Ok(p) => {
            let what = if p.mode == crate::heap::HeapMode::Retained {
                "Heap retained"
            } else {
                "Heap in use"
            };
            let title = format!(
                "{what}: {}",
                crate::redact::url(&target.chars().take(80).collect::<String>())
            );
            let has_stacks = p.capture.folded.total() > 0;
            write_atomic_with(&files.heap_folded, |w| p.capture.folded.write_to(w))
                .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", files.heap_folded.display())))?;
            let mut section = HeapSection::from_profile(&p, None, None, &title);
            let round = |v: f64| (v * 1000.0).round() / 1000.0;
            section.window_s = Some([round(window.0), round(window.1)]);
            section.folded = Some("heap.folded".into());
            if has_stacks {
                let style = section.flame_view().style();
                let mut svg = Vec::new();
                crate::flame::render::svg(&p.capture.folded, &style, &mut svg)
                    .map_err(|e| Error::cannot_run(anyhow!("cannot draw heap.svg: {e}")))?;
                write_atomic(&files.heap_svg, &svg)
                    .map_err(|e| Error::cannot_run(anyhow!("{}: cannot write: {e}", files.heap_svg.display())))?;
                section.svg = Some("heap.svg".into());
            }
            let from = seconds.first().map_or(0.0, |s| s.start_s + 2.0);
            section.overhead = crate::report::heap::overhead(seconds, window, from);
            Ok(section)
        }
        Err(e) => {
            notes.push(format!("heap profile: not taken: {e}"));
            let mut section = HeapSection::failed(profiler, plan.mode.name(), e.to_string());
            section.window_s = Some([window.0, window.1]);
            Ok(section)
        }
    }
}

fn failed_flame(e: &FlameError, profiler: &str) -> FlameSection {
    FlameSection {
        profiler: profiler.into(),
        kind: "cpu".into(),
        samples: 0,
        unit: "samples".into(),
        total: 0,
        stacks: 0,
        duration_s: 0.0,
        pid: None,
        folded: None,
        svg: None,
        title: None,
        partial: None,
        notes: vec![],
        hottest: vec![],
        error: Some(e.to_string()),
    }
}

/// The result document of a session, before it is judged.
fn document<S>(
    name: &str,
    r: &SessionResult<S>,
    flame: Option<FlameSection>,
    flame_window: Option<(f64, f64)>,
    heap: Option<HeapSection>,
) -> ResultDoc {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let w = r.windows;
    let duration = r.ended_at.duration_since(r.started_at).unwrap_or_default();
    let reason = match (r.outcome, r.stop) {
        (Outcome::Failed, _) => r.failure.clone(),
        (Outcome::Interrupted, Some(s)) | (Outcome::TargetExited, Some(s @ StopReason::TargetExited)) => {
            Some(crate::report::text::stop_phrase(s))
        }
        _ => None,
    };
    ResultDoc {
        schema: schema::SCHEMA,
        tool: Tool::this(),
        run: Run {
            profile: Some(name.to_string()),
            started_at: schema::timestamp(r.started_at),
            ended_at: schema::timestamp(r.ended_at),
            duration_s: round(duration.as_secs_f64()),
            outcome: r.outcome,
            host: Host::detect(),
            reason,
            windows: Some(Windows {
                ready_s: w.ready_s.map(round),
                load: w.load.map(|(a, b)| [round(a), round(b)]),
                flame: flame_window.map(|(a, b)| [round(a), round(b)]),
                heap: heap.as_ref().and_then(|h| h.window_s),
                end_s: round(w.end_s),
            }),
        },
        load: r.load.as_ref().map(crate::report::load::LoadSection::from_recording),
        resources: r.resources.as_ref().map(|rec| Resources::from_recording(rec, r.owned)),
        leak: r.leak.as_ref().map(|l| LeakSection::from_report(l, "rss_bytes")),
        flame,
        heap,
        metrics: None,
        capacity: None,
        llm: None,
        slo: None,
        baseline: None,
        passed: false,
    }
}
