//! The benchmark of each model, in order: look it up, time a cold load,
//! warm up, time runs with a unique prompt each (so a prompt cache cannot
//! flatter TTFT), read what the server holds in memory, score the quality
//! checks, then repeat at each concurrency level. Models run one after the
//! other, each alone on the server. Nothing here prints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::capacity::{self, LevelFacts, Search, Step, steady_tokens_per_s};
use super::client::{Client, GenRequest, LlmError, Loaded, ModelInfo, Timed};
use super::quality::{self, Check, CheckResult};
use super::{Api, Budgets};
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
    /// Search for the most concurrent streams within the budgets, up to
    /// this many, instead of measuring `concurrency`'s levels.
    pub capacity: Option<usize>,
}

/// One concurrency level: its requests (in the order they started) and
/// how long they took together.
#[derive(Debug, Clone)]
pub struct Level {
    pub concurrency: usize,
    pub requests: Vec<Timed>,
    /// When each request started, from the level's start.
    pub started: Vec<Duration>,
    /// The leading requests that were each stream's warm-up (not judged).
    pub warmup: usize,
    pub wall: Duration,
}

impl Level {
    /// What the capacity verdict reads: the requests after the warm-up,
    /// and the aggregate rate while every stream was busy.
    pub fn facts(&self) -> LevelFacts {
        let measured: Vec<&Timed> = self.requests.iter().skip(self.warmup).collect();
        let ok = || measured.iter().filter(|t| t.error.is_none());
        let pairs: Vec<(Duration, &Timed)> = self.started.iter().copied().zip(&self.requests).collect();
        LevelFacts {
            concurrency: self.concurrency,
            requests: measured.len(),
            errors: measured.iter().filter(|t| t.error.is_some()).count(),
            ttft_s: ok().filter_map(|t| t.ttft.map(|d| d.as_secs_f64())).collect(),
            decode_rates: ok().filter_map(|t| t.client_decode_rate()).collect(),
            tokens_per_s: steady_tokens_per_s(&pairs, self.concurrency, self.wall),
        }
    }
}

/// One level of the capacity search with its verdict.
#[derive(Debug, Clone)]
pub struct Probe {
    pub facts: LevelFacts,
    pub verdict: capacity::Verdict,
    pub confirming: bool,
}

/// The capacity search over one model.
#[derive(Debug, Clone)]
pub struct CapacityRun {
    pub probes: Vec<Probe>,
    pub outcome: capacity::Outcome,
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
    /// The capacity search, where one was asked for.
    pub capacity: Option<CapacityRun>,
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

/// Runs `n` requests over `concurrency` workers, the first `warmup` of
/// them (by start) not to be judged; prompts are numbered from 0.
#[allow(clippy::too_many_arguments)]
async fn level(
    client: &Client,
    model: &str,
    plan: &BenchPlan,
    concurrency: usize,
    n: u32,
    warmup: usize,
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
                let at = started.elapsed();
                if let Some(t) = one(&client, &r, &stop).await {
                    done.push((at, t));
                }
            }
            done
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap_or_default());
    }
    let wall = started.elapsed();
    all.sort_by_key(|r| r.0);
    let (started, requests) = all.into_iter().unzip();
    Level {
        concurrency,
        requests,
        started,
        warmup,
        wall,
    }
}

/// The capacity search over one model: level 1 is `first` (already
/// measured), then each level the search asks for. Every level is pushed
/// onto `levels` (a confirmation replaces the shorter run at its
/// concurrency).
#[allow(clippy::too_many_arguments)]
async fn search(
    client: &Client,
    model: &str,
    plan: &BenchPlan,
    budgets: &Budgets,
    max: usize,
    nonce: u64,
    stop: &StopToken,
    levels: &mut Vec<Level>,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> CapacityRun {
    let mut s = Search::new(max, !capacity::throughput_only(budgets));
    let mut probes: Vec<Probe> = Vec::new();
    while let Step::Level {
        concurrency,
        confirming,
    } = s.next_step()
    {
        if stop.reason().is_some() {
            s.abandon("interrupted");
            break;
        }
        // Level 1 is the timed runs, already measured; any other level runs now.
        let timed_runs = concurrency == 1 && !confirming && levels.first().is_some_and(|l| l.concurrency == 1);
        let measured = if timed_runs {
            None
        } else {
            on_event(Event::Phase(format!(
                "{} {concurrency} stream(s)",
                if confirming { "confirming" } else { "capacity:" }
            )));
            // Each stream's first request warms it up; then at least three
            // rounds (twice that to confirm), and never fewer than --runs.
            let rounds = if confirming { 6 } else { 3 };
            let judged = (plan.runs as usize).max(rounds * concurrency);
            let n = u32::try_from(judged + concurrency).unwrap_or(u32::MAX);
            Some(level(client, model, plan, concurrency, n, concurrency, nonce, stop).await)
        };
        if stop.reason().is_some() {
            s.abandon("interrupted");
            break;
        }
        let facts = measured.as_ref().map_or_else(|| levels[0].facts(), Level::facts);
        let best_below = probes
            .iter()
            .filter(|p| p.facts.concurrency < concurrency)
            .map(|p| p.facts.tokens_per_s)
            .reduce(f64::max);
        let verdict = capacity::judge(&facts, budgets, best_below);
        s.record(&verdict);
        probes.push(Probe {
            facts,
            verdict,
            confirming,
        });
        if let Some(measured) = measured {
            match levels.iter().position(|l| l.concurrency == concurrency) {
                Some(i) => levels[i] = measured,
                None => levels.push(measured),
            }
        }
    }
    levels.sort_by_key(|l| l.concurrency);
    CapacityRun {
        probes,
        outcome: s.outcome(),
    }
}

/// Benchmarks every model of `plan`. `t0` is the clock the model windows
/// are given on (the sampler's).
pub async fn run(
    client: &Client,
    api: Api,
    plan: &BenchPlan,
    budgets: &Budgets,
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
        levels.push(level(client, &info.name, plan, 1, plan.runs, 0, nonce, stop).await);
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
        let mut capacity = None;
        if let Some(max) = plan.capacity {
            capacity = Some(
                search(
                    client,
                    &info.name,
                    plan,
                    budgets,
                    max,
                    nonce,
                    stop,
                    &mut levels,
                    on_event,
                )
                .await,
            );
        } else {
            for &c in plan.concurrency.iter().filter(|&&c| c > 1) {
                if stop.reason().is_some() {
                    break;
                }
                on_event(Event::Phase(format!("concurrency {c}")));
                let n = plan.runs.max(2 * c as u32);
                levels.push(level(client, &info.name, plan, c, n, 0, nonce, stop).await);
            }
        }
        models.push(ModelRun {
            info,
            cold,
            cold_unloaded: unloaded,
            levels,
            loaded,
            checks,
            window: (from, t0.elapsed()),
            capacity,
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
