//! The benchmark of each model, in order: look it up, time a cold load,
//! warm up, time runs with a unique prompt each (so a prompt cache cannot
//! flatter TTFT), read what the server holds in memory, score the quality
//! checks, then repeat at each concurrency level. Models run one after the
//! other, each alone on the server. Nothing here prints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::Api;
use super::client::{Client, GenRequest, LlmError, Loaded, ModelInfo, Timed};
use super::quality::{self, Check, CheckResult};
use crate::cancel::{StopReason, StopToken};

/// What to measure, validated.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub models: Vec<String>,
    pub prompts: Vec<String>,
    pub max_tokens: u32,
    /// Measured runs per model at concurrency 1, and requests per level.
    pub runs: u32,
    /// Runs before the measured ones, not counted.
    pub warmup: u32,
    /// Concurrency levels; 1 is always measured first.
    pub concurrency: Vec<usize>,
    pub checks: Vec<Check>,
    pub seed: u64,
}

/// One concurrency level: its requests and how long they took together.
#[derive(Debug, Clone)]
pub struct Level {
    pub concurrency: usize,
    pub requests: Vec<Timed>,
    pub wall: Duration,
}

/// Everything measured about one model.
#[derive(Debug, Clone)]
pub struct ModelRun {
    pub info: ModelInfo,
    /// The first request after the model was unloaded (Ollama), or simply
    /// the first request (servers that cannot unload).
    pub cold: Option<Timed>,
    /// The model was unloaded before `cold`, so it timed a real load.
    pub cold_unloaded: bool,
    /// Concurrency 1 first, then the other levels.
    pub levels: Vec<Level>,
    /// What `/api/ps` said once the model had run.
    pub loaded: Option<Loaded>,
    /// Each check with the answer it was judged on.
    pub checks: Vec<(CheckResult, String)>,
    /// When the model's turn began and ended, on the caller's clock.
    pub window: (Duration, Duration),
}

impl ModelRun {
    /// The measured runs at concurrency 1.
    pub fn runs(&self) -> &[Timed] {
        self.levels.first().map_or(&[], |l| l.requests.as_slice())
    }
}

/// The whole benchmark.
#[derive(Debug, Clone)]
pub struct LlmRecording {
    pub version: Option<String>,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    pub models: Vec<ModelRun>,
    /// Set when a stop request cut the benchmark short.
    pub stop: Option<StopReason>,
}

/// Progress worth telling a person.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Model { name: String, index: usize, of: usize },
    Phase(String),
}

/// A name as Ollama matches it: `llama3.2` is `llama3.2:latest`.
fn canonical(name: &str, api: Api) -> String {
    if api == Api::Ollama && !name.contains(':') {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// Finds each model of the plan on the server; a missing one is an error
/// that lists what the server has.
pub async fn look_up(client: &Client, api: Api, models: &[String]) -> Result<Vec<ModelInfo>, LlmError> {
    let listed = client.models().await?;
    models
        .iter()
        .map(|want| {
            listed
                .iter()
                .find(|m| m.name == *want || canonical(&m.name, api) == canonical(want, api))
                .cloned()
                .ok_or_else(|| LlmError::UnknownModel {
                    endpoint: client.endpoint().to_string(),
                    model: want.clone(),
                    available: listed.iter().map(|m| m.name.clone()).collect(),
                })
        })
        .collect()
}

/// One request; None when a stop request cut it short (it is not counted).
async fn one(client: &Client, r: &GenRequest, stop: &StopToken) -> Option<Timed> {
    let stopped = async {
        while stop.reason().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        t = client.generate(r) => Some(match t {
            Ok(t) => t,
            Err(e) => Timed {
                error: Some(e.to_string()),
                ..Timed::default()
            },
        }),
        () = stopped => None,
    }
}

/// Runs `n` requests over `concurrency` workers; prompts are numbered from `first`.
async fn level(
    client: &Client,
    model: &str,
    plan: &BenchPlan,
    concurrency: usize,
    n: u32,
    nonce: u64,
    stop: &StopToken,
) -> Level {
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, next, stop) = (client.clone(), next.clone(), stop.clone());
        let (model, prompts, max_tokens, seed) = (model.to_string(), plan.prompts.clone(), plan.max_tokens, plan.seed);
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || stop.reason().is_some() {
                    break;
                }
                let prompt = &prompts[i as usize % prompts.len()];
                let r = GenRequest {
                    model: model.clone(),
                    prompt: format!("[run {concurrency}-{i} {nonce:x}] {prompt}"),
                    max_tokens,
                    seed,
                };
                if let Some(t) = one(&client, &r, &stop).await {
                    done.push(t);
                }
            }
            done
        });
    }
    let mut requests = Vec::new();
    while let Some(r) = tasks.join_next().await {
        requests.extend(r.unwrap_or_default());
    }
    Level {
        concurrency,
        requests,
        wall: started.elapsed(),
    }
}

/// Benchmarks every model of `plan`. `t0` is the clock the model windows
/// are given on (the sampler's).
pub async fn run(
    client: &Client,
    api: Api,
    plan: &BenchPlan,
    stop: &StopToken,
    t0: Instant,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<LlmRecording, LlmError> {
    let started_at = SystemTime::now();
    let infos = look_up(client, api, &plan.models).await?;
    let version = client.version().await;
    let nonce: u64 = rand::random();
    let mut models = Vec::new();
    for (index, listed) in infos.iter().enumerate() {
        if stop.reason().is_some() {
            break;
        }
        on_event(Event::Model {
            name: listed.name.clone(),
            index,
            of: infos.len(),
        });
        let from = t0.elapsed();
        let info = client.show(listed).await.unwrap_or_else(|_| listed.clone());
        // Each model alone on the server: unload what is loaded, so the
        // first request times a cold load and models never share memory.
        let mut unloaded = false;
        if api == Api::Ollama {
            on_event(Event::Phase("cold load".into()));
            for m in client.loaded().await.unwrap_or_default() {
                let _ = client.unload(&m.name).await;
            }
            unloaded = client.unload(&info.name).await.unwrap_or(false);
        }
        let cold = one(
            client,
            &GenRequest {
                model: info.name.clone(),
                prompt: format!("[cold {nonce:x}] Say hello in one short sentence."),
                max_tokens: 16,
                seed: plan.seed,
            },
            stop,
        )
        .await;
        if plan.warmup > 0 {
            on_event(Event::Phase(format!("{} warm-up run(s)", plan.warmup)));
            for i in 0..plan.warmup {
                if stop.reason().is_some() {
                    break;
                }
                let prompt = &plan.prompts[i as usize % plan.prompts.len()];
                one(
                    client,
                    &GenRequest {
                        model: info.name.clone(),
                        prompt: format!("[warm-up {i} {nonce:x}] {prompt}"),
                        max_tokens: plan.max_tokens,
                        seed: plan.seed,
                    },
                    stop,
                )
                .await;
            }
        }
        let mut levels = Vec::new();
        on_event(Event::Phase(format!("{} measured run(s)", plan.runs)));
        levels.push(level(client, &info.name, plan, 1, plan.runs, nonce, stop).await);
        let loaded = client
            .loaded()
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|m| canonical(&m.name, api) == canonical(&info.name, api));
        let mut checks = Vec::new();
        if !plan.checks.is_empty() && stop.reason().is_none() {
            on_event(Event::Phase(format!("{} quality check(s)", plan.checks.len())));
            for c in &plan.checks {
                if stop.reason().is_some() {
                    break;
                }
                let Some(t) = one(
                    client,
                    &GenRequest {
                        model: info.name.clone(),
                        prompt: c.prompt.clone(),
                        max_tokens: plan.max_tokens.max(256),
                        seed: plan.seed,
                    },
                    stop,
                )
                .await
                else {
                    break;
                };
                let cut_off = t.report.done_reason.as_deref() == Some("length");
                let result = match &t.error {
                    Some(e) => CheckResult {
                        name: c.name.clone(),
                        passed: false,
                        detail: format!("the request failed: {e}"),
                    },
                    // An answer cut off at the token limit has an
                    // unfinished last sentence: it cannot be counted.
                    None if cut_off && matches!(c.expect, quality::Expect::Sentences(_)) => CheckResult {
                        name: c.name.clone(),
                        passed: false,
                        detail: format!(
                            "the answer was cut off at the token limit ({} tokens), so its sentences cannot be counted",
                            t.tokens().0
                        ),
                    },
                    None => quality::judge(c, &t.text),
                };
                checks.push((result, t.text));
            }
        }
        for &c in plan.concurrency.iter().filter(|&&c| c > 1) {
            if stop.reason().is_some() {
                break;
            }
            on_event(Event::Phase(format!("concurrency {c}")));
            let n = plan.runs.max(2 * c as u32);
            levels.push(level(client, &info.name, plan, c, n, nonce, stop).await);
        }
        models.push(ModelRun {
            info,
            cold,
            cold_unloaded: unloaded,
            levels,
            loaded,
            checks,
            window: (from, t0.elapsed()),
        });
    }
    Ok(LlmRecording {
        version,
        started_at,
        ended_at: SystemTime::now(),
        models,
        stop: stop.reason(),
    })
}
