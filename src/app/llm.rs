//! `loadprof llm`: benchmark each model on the server while sampling the
//! server's process, decide which size to run, and write result.json,
//! llm-runs.csv and samples.csv; print the scorecard (or the JSON section).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::printed;
use crate::cancel::StopReason;
use crate::cli::LlmArgs;
use crate::error::{Error, Exit};
use crate::escape::csv_field;
use crate::llm::bench::{self, BenchPlan, Event, LlmRecording};
use crate::llm::client::{Client, LlmError};
use crate::llm::summary::{ModelSummary, ServerUse, capacity_summary, summarize};
use crate::llm::{Budgets, HostFacts, Verdict, decide, quality};
use crate::report::csv::SamplesWriter;
use crate::report::llm::{LlmHost, LlmSection, write_scorecard};
use crate::report::schema::{self, Resources, ResultDoc, Run, Tool};
use crate::report::verdicts::{self, Verdicts};
use crate::report::{write_atomic, write_atomic_with};
use crate::sample::{self, GpuState, Outcome, ProcRow, SampleSink, SamplerConfig, Target, TargetSpec, TreeSample};

/// Keeps the server's samples for the per-model peaks, and writes them.
struct ServerSink {
    csv: SamplesWriter,
    t: Vec<f64>,
    rss: Vec<u64>,
    gpu: Vec<Option<u64>>,
    cpu: Vec<Option<f64>>,
}

impl SampleSink for ServerSink {
    fn sample(&mut self, s: &TreeSample, procs: &[ProcRow]) -> anyhow::Result<()> {
        self.t.push(s.elapsed.as_secs_f64());
        self.rss.push(s.rss_bytes);
        self.gpu.push(s.gpu_mem_bytes);
        self.cpu.push(s.cpu_percent);
        self.csv
            .write(s, procs)
            .map_err(|e| anyhow!("writing samples.csv: {e}"))
    }
}

impl ServerSink {
    /// The peaks of RSS and GPU memory, and the mean CPU, between `from`
    /// and `to` seconds.
    fn usage(&self, from: f64, to: f64) -> ServerUse {
        let mut u = ServerUse::default();
        let (mut cpu_sum, mut cpu_n) = (0.0, 0u32);
        for i in (0..self.t.len()).filter(|&i| self.t[i] >= from && self.t[i] <= to) {
            u.rss_max = u.rss_max.max(Some(self.rss[i]));
            if let Some(g) = self.gpu[i] {
                u.gpu_max = u.gpu_max.max(Some(g));
            }
            if let Some(c) = self.cpu[i] {
                cpu_sum += c;
                cpu_n += 1;
            }
        }
        u.cpu_mean = (cpu_n > 0).then(|| cpu_sum / f64::from(cpu_n));
        u
    }
}

/// Everything one benchmark needs, from the command line or a profile's `[llm]` table.
pub struct LlmCommand {
    pub endpoint: String,
    pub api: crate::llm::Api,
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `[llm] api_key_env`: the variable that must hold the key.
    pub api_key_env: Option<String>,
    pub plan: BenchPlan,
    pub budgets: Budgets,
    pub server_pid: Option<u32>,
    pub timeout: Duration,
    pub json: bool,
    pub dir: PathBuf,
    /// The profile's name, for `run.profile`.
    pub profile: Option<String>,
}

fn llm_error(e: LlmError) -> Error {
    match e {
        LlmError::UnknownModel { .. } => Error::bad_input(e),
        other => Error::cannot_run(other),
    }
}

/// The server's process: `--server-pid`, the process listening on the
/// endpoint's port, or one named `ollama`.
fn find_server(args: &LlmCommand) -> Result<Option<Target>, Error> {
    if let Some(pid) = args.server_pid {
        return Target::find(&TargetSpec::Pid(pid)).map_err(|e| Error::bad_input(anyhow!("--server-pid: {e}")));
    }
    let port = crate::load::Origin::parse(&args.endpoint)
        .ok()
        .filter(|(o, _)| {
            let a = o.authority();
            a.starts_with("127.") || a.starts_with("localhost") || a.starts_with("[::1]")
        })
        .and_then(|(o, _)| o.authority().rsplit(':').next()?.parse::<u16>().ok());
    if let Some(pid) = port.and_then(sample::target::listening_pid)
        && let Ok(t) = Target::find(&TargetSpec::Pid(pid))
    {
        return Ok(t);
    }
    Ok(Target::find(&TargetSpec::Name("^ollama( |$)".into())).ok().flatten())
}

/// The server's API key: `--api-key`, else the variable `[llm] api_key_env`
/// names (which must then be set), else `$LOADPROF_API_KEY`, else for an
/// OpenAI-compatible server `$OPENAI_API_KEY` (never sent to Ollama's API,
/// which has no keys of its own).
fn api_key(args: &LlmCommand) -> Result<Option<String>, Error> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(k) = args.api_key.as_ref().filter(|k| !k.trim().is_empty()) {
        return Ok(Some(k.clone()));
    }
    if let Some(name) = &args.api_key_env {
        return from_env(name).map(Some).ok_or_else(|| {
            Error::bad_input(anyhow!(
                "[llm] api_key_env: the environment variable {name} is not set; export it with the server's API key"
            ))
        });
    }
    Ok(from_env("LOADPROF_API_KEY").or_else(|| {
        (args.api == crate::llm::Api::Openai)
            .then(|| from_env("OPENAI_API_KEY"))
            .flatten()
    }))
}

fn read_prompts(args: &LlmArgs) -> Result<Vec<String>, Error> {
    if let Some(p) = &args.prompt {
        if p.trim().is_empty() {
            return Err(Error::bad_input(anyhow!("--prompt is empty; give the text to send")));
        }
        return Ok(vec![p.clone()]);
    }
    let Some(path) = &args.prompts else {
        return Ok(vec![crate::llm::DEFAULT_PROMPT.to_string()]);
    };
    let text = crate::files::read_text_bounded(path, crate::files::PROMPTS_LIMIT, "prompts file")
        .map_err(|e| Error::bad_input(anyhow!("--prompts {e}")))?;
    let prompts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if prompts.is_empty() {
        return Err(Error::bad_input(anyhow!(
            "--prompts {}: no prompts; write one prompt a line",
            path.display()
        )));
    }
    Ok(prompts)
}

fn write_runs_csv(path: &Path, rec: &LlmRecording) -> std::io::Result<()> {
    let mut text = String::from(
        "model,concurrency,run,ttft_ms,e2e_ms,output_tokens,client_tokens_per_s,server_tokens_per_s,prompt_tokens,load_ms,done_reason,error\n",
    );
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for m in &rec.models {
        for l in &m.levels {
            for (i, t) in l.requests.iter().enumerate() {
                text.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    csv_field(&m.info.name),
                    l.concurrency,
                    i,
                    cell(t.ttft.map(|d| d.as_secs_f64() * 1e3)),
                    cell(Some(t.e2e.as_secs_f64() * 1e3)),
                    t.tokens().0,
                    cell(t.client_decode_rate()),
                    cell(t.report.decode_rate()),
                    t.report.prompt_tokens.map_or(String::new(), |n| n.to_string()),
                    cell(t.report.load_ns.map(|n| n as f64 / 1e6)),
                    csv_field(t.report.done_reason.as_deref().unwrap_or("")),
                    csv_field(t.error.as_deref().unwrap_or(""))
                ));
            }
        }
    }
    write_atomic(path, text.as_bytes())
}

pub fn run(args: LlmArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let prompts = read_prompts(&args)?;
    let mut checks = if args.no_builtin_checks {
        Vec::new()
    } else {
        quality::builtin()
    };
    if let Some(path) = &args.checks {
        let text = crate::files::read_text_bounded(path, crate::files::PROMPTS_LIMIT, "checks file")
            .map_err(|e| Error::bad_input(anyhow!("--checks {e}")))?;
        checks.extend(
            quality::parse_checks(&text, &path.display().to_string()).map_err(|e| Error::bad_input(anyhow!(e)))?,
        );
    }
    if !crate::http::is_url(&args.endpoint) {
        return Err(Error::bad_input(anyhow!(
            "--endpoint '{}': not an http:// or https:// URL, e.g. http://127.0.0.1:11434",
            crate::redact::url(&args.endpoint)
        )));
    }
    let mut budgets = Budgets::for_use(args.use_case);
    if let Some(t) = args.max_ttft {
        budgets.max_ttft_p95_s = Some(t.as_secs_f64());
    }
    if let Some(r) = args.min_decode {
        budgets.min_decode_p10 = Some(r);
    }
    let mut concurrency: Vec<usize> = args.concurrency.iter().map(|&c| c as usize).collect();
    concurrency.sort_unstable();
    concurrency.dedup();
    let cmd = LlmCommand {
        endpoint: args.endpoint.clone(),
        api: args.api,
        api_key: args.api_key.clone(),
        api_key_env: None,
        plan: BenchPlan {
            models: args
                .models
                .iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            prompts,
            max_tokens: args.max_tokens,
            runs: args.runs,
            warmup: args.warmup,
            concurrency,
            checks,
            seed: 42,
            capacity: args.capacity.then_some(args.max_concurrency as usize),
        },
        budgets,
        server_pid: args.server_pid,
        timeout: args.timeout,
        json: args.json,
        dir: args.out.clone().unwrap_or_else(|| {
            PathBuf::from("out").join(format!("llm-{}", chrono::Local::now().format("%Y%m%d-%H%M%S")))
        }),
        profile: None,
    };
    execute(cmd, out, err)
}

/// Runs the benchmark of `args`, writes its folder and prints the scorecard.
pub fn execute(args: LlmCommand, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, Error> {
    let plan = &args.plan;
    let budgets = args.budgets;
    let mut client = Client::new(&args.endpoint, args.api);
    if let Some(key) = api_key(&args)? {
        client = client
            .with_api_key(&key)
            .map_err(|e| Error::bad_input(anyhow!("--api-key: {e}")))?;
    }
    client.timeout = args.timeout;
    let dir = args.dir.clone();
    let (stop, runtime) = super::stop_and_runtime()?;
    // Reach the server and find every model before anything is written.
    runtime
        .block_on(bench::look_up(&client, args.api, &plan.models))
        .map_err(llm_error)?;
    let _claim = super::claim_out(&dir, "-o")?;

    let (gpu, gpu_state) = sample::probe_gpu(crate::config::GpuMode::Auto).unwrap_or((None, GpuState::Off));
    let gpu_name = gpu.as_ref().map(|g| {
        g.devices()
            .iter()
            .map(|(n, mem)| format!("{n} ({})", crate::config::units::format_bytes(*mem as f64)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let host = LlmHost::detect(gpu_name.clone().filter(|n| !n.is_empty()));
    let server = find_server(&args)?;
    let t0 = Instant::now();
    let sampler_stop = stop.linked();
    let samples_path = dir.join("samples.csv");
    let sampler = match server {
        Some(target) => {
            let _ = writeln!(err, "sampling the server: pid {} ({})", target.pid, target.command);
            let csv = SamplesWriter::create(&samples_path, false, false)
                .map_err(|e| Error::cannot_run(anyhow!("{}: {e}", samples_path.display())))?;
            let cfg = SamplerConfig {
                interval: Duration::from_millis(200),
                duration: None,
                children: true,
                per_process: false,
                pss: false,
                gpu: crate::config::GpuMode::Auto,
                stop_grace: sample::STOP_GRACE,
            };
            let own = sampler_stop.clone();
            let mut sink = ServerSink {
                csv,
                t: Vec::new(),
                rss: Vec::new(),
                gpu: Vec::new(),
                cpu: Vec::new(),
            };
            Some(std::thread::spawn(move || {
                let rec = sample::record_from(t0, target, &cfg, gpu, gpu_state, &own, &mut sink);
                let _ = sink.csv.flush();
                (rec, sink)
            }))
        }
        None => {
            let _ = writeln!(
                err,
                "the server's process was not found (give --server-pid): its memory is not sampled"
            );
            None
        }
    };
    let mut warnings = Vec::new();
    if let Some(w) = host.busy_warning() {
        let _ = writeln!(err, "warning: {w}");
        warnings.push(w);
    }
    let mut progress: Box<dyn FnMut(Event) + Send> = if args.json {
        Box::new(|_| {})
    } else {
        Box::new(|e| {
            let line = match e {
                Event::Model { name, index, of } => format!("[{}/{of}] {name}", index + 1),
                Event::Phase(p) => format!("  {p}"),
            };
            eprintln!("{}", crate::escape::terminal(&line));
        })
    };
    let recorded = runtime.block_on(bench::run(&client, args.api, plan, &budgets, &stop, t0, &mut *progress));
    drop(runtime);
    sampler_stop.stop(StopReason::Finished);
    let sampled = sampler.and_then(|h| h.join().ok());
    let rec = recorded.map_err(llm_error)?;

    let (resources, sink) = match sampled {
        Some((Ok(r), sink)) => (Some(Resources::from_recording(&r, false)), Some(sink)),
        _ => (None, None),
    };
    let mut summaries: Vec<ModelSummary> = rec
        .models
        .iter()
        .map(|m| {
            let used = sink.as_ref().map_or(ServerUse::default(), |s| {
                s.usage(m.window.0.as_secs_f64(), m.window.1.as_secs_f64())
            });
            let mut s = summarize(m, used);
            s.capacity = m.capacity.as_ref().map(|c| capacity_summary(c, &budgets));
            s
        })
        .collect();
    let facts: Vec<_> = summaries.iter().map(ModelSummary::facts).collect();
    let host_facts = HostFacts {
        mem_bytes: host.mem_bytes.unwrap_or(0),
        gpu: gpu_name.is_some() || summaries.iter().any(|s| s.vram_bytes.is_some_and(|v| v > 0)),
    };
    let decision = decide::decide(&facts, &host_facts, &budgets);
    if facts.len() > 1 && facts.iter().any(|f| f.params.is_none() && f.size_bytes.is_none()) {
        warnings.push(
            "the server gives no model sizes and the names hold none: the models are taken as listed, smallest first"
                .into(),
        );
    }
    if facts
        .iter()
        .all(|f| f.quality.is_some_and(|(passed, total)| total > 0 && passed == 0))
    {
        warnings.push(
            "no model passed a single quality check: the pick rests on speed alone; check the answers before you trust it".into(),
        );
    }
    for (s, j) in summaries.iter_mut().zip(&decision.models) {
        s.verdict = Some(j.verdict);
        s.headroom = Some(j.headroom.clone());
    }
    let section = LlmSection {
        endpoint: client.endpoint().to_string(),
        api: args.api,
        server_version: rec.version.clone(),
        host,
        use_case: budgets.use_case,
        budgets,
        prompts: plan.prompts.len(),
        max_tokens: plan.max_tokens,
        runs: plan.runs,
        warmup: plan.warmup,
        models: summaries,
        pick: decision.pick.clone(),
        recommendation: decision.recommendation.clone(),
        warnings,
    };
    let interrupted = rec.stop.is_some();
    let duration = rec.ended_at.duration_since(rec.started_at).unwrap_or_default();
    let fits = decision.pick.is_some();
    let doc = ResultDoc {
        schema: schema::SCHEMA,
        tool: Tool::this(),
        run: Run {
            profile: args.profile.clone(),
            started_at: schema::timestamp(rec.started_at),
            ended_at: schema::timestamp(rec.ended_at),
            duration_s: (duration.as_secs_f64() * 1000.0).round() / 1000.0,
            outcome: if interrupted {
                Outcome::Interrupted
            } else {
                Outcome::Completed
            },
            host: crate::host::Host::detect(),
            reason: rec.stop.map(crate::report::text::stop_phrase),
            windows: None,
        },
        load: None,
        resources,
        leak: None,
        flame: None,
        heap: None,
        metrics: None,
        capacity: None,
        llm: Some(section),
        slo: None,
        baseline: None,
        passed: fits && !interrupted,
    };
    let result_path = dir.join("result.json");
    let json = serde_json::to_vec_pretty(&doc).map_err(|e| Error::cannot_run(anyhow!(e)))?;
    write_atomic(&result_path, &json).map_err(|e| Error::cannot_run(anyhow!("{}: {e}", result_path.display())))?;
    let runs_path = dir.join("llm-runs.csv");
    write_runs_csv(&runs_path, &rec).map_err(|e| Error::cannot_run(anyhow!("{}: {e}", runs_path.display())))?;
    let section = doc.llm.as_ref().expect("an llm result has an llm section");
    let name = args.profile.clone().unwrap_or_else(|| "llm".into());
    let v = Verdicts {
        name: &name,
        passed: doc.passed,
        duration_s: doc.run.duration_s,
        slo: &[],
        baseline: &[],
        leak: None,
        llm: Some(section),
    };
    let cannot_write = |p: &Path, e: std::io::Error| Error::cannot_run(anyhow!("{}: cannot write: {e}", p.display()));
    let (md, junit) = (dir.join("summary.md"), dir.join("junit.xml"));
    write_atomic_with(&md, |w| verdicts::write_markdown(w, &v)).map_err(|e| cannot_write(&md, e))?;
    write_atomic_with(&junit, |w| verdicts::write_junit(w, &v)).map_err(|e| cannot_write(&junit, e))?;
    super::report::write_html(&result_path, &dir.join("report.html"))?;
    let r = if args.json {
        write_scorecard(err, section)
            .and_then(|()| serde_json::to_writer_pretty(&mut *out, section).map_err(std::io::Error::from))
            .and_then(|()| writeln!(out))
    } else {
        write_scorecard(out, section).and_then(|()| writeln!(out, "results in {}/", dir.display()))
    };
    printed(r)?;
    Ok(if interrupted {
        Exit::Interrupted
    } else if section.models.iter().all(|m| m.verdict == Some(Verdict::NothingFits)) {
        Exit::GateFailed
    } else {
        Exit::Success
    })
}
