//! What one model's runs come to: percentiles of TTFT, end to end,
//! inter-token gaps and decode rates (client-measured and server-reported,
//! side by side), the throughput of each concurrency level, memory, and the
//! quality score. Pure: recorded runs in, numbers out.

use std::time::Duration;

use serde::Serialize;

use super::ModelFacts;
use super::bench::{Level, ModelRun};
use super::client::{Timed, params_from_name, parse_params};

/// Client and server decode rates further apart than this are worth a warning.
pub const RATE_MISMATCH_PCT: f64 = 5.0;

/// The `q`-quantile (0..=1) of `v` by linear interpolation; None when empty.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(s[lo] + (s[hi] - s[lo]) * (pos - lo as f64))
}

fn r(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct P50P95 {
    pub p50: f64,
    pub p95: f64,
}

impl P50P95 {
    fn of(v: &[f64]) -> Option<P50P95> {
        Some(P50P95 {
            p50: r(quantile(v, 0.5)?, 2),
            p95: r(quantile(v, 0.95)?, 2),
        })
    }
}

/// Decode rates: the median, the slow tenth and the slowest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Rates {
    pub p50: f64,
    pub p10: f64,
    pub min: f64,
}

impl Rates {
    fn of(v: &[f64]) -> Option<Rates> {
        Some(Rates {
            p50: r(quantile(v, 0.5)?, 2),
            p10: r(quantile(v, 0.1)?, 2),
            min: r(quantile(v, 0.0)?, 2),
        })
    }
}

/// One concurrency level of the throughput–latency curve.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LevelSummary {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    /// Output tokens of all requests over the level's wall time.
    pub output_tokens_per_s: f64,
    pub ttft_ms: Option<P50P95>,
    pub e2e_ms: Option<P50P95>,
}

/// One level of the capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProbeSummary {
    pub concurrency: usize,
    /// A longer run of the best pass, to confirm it.
    pub confirming: bool,
    /// Judged requests (each stream's first one is its warm-up and is not).
    pub requests: usize,
    pub errors: usize,
    pub error_rate: f64,
    pub ttft_ms: Option<P50P95>,
    pub decode_tokens_per_s: Option<Rates>,
    /// Output tokens per second while every stream was busy.
    pub output_tokens_per_s: f64,
    /// Requests within both budgets, % of all (goodput).
    pub within_budget_pct: Option<f64>,
    pub pass: bool,
    pub reason: String,
}

/// Where the capacity search ended.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CapacitySummary {
    /// The most concurrent streams that met the budgets (null: not even one).
    pub max_concurrency: Option<usize>,
    /// The last pass and the first failure above it.
    pub bracket: [Option<usize>; 2],
    /// What the first failing level missed: errors, ttft, decode or throughput.
    pub limited_by: Option<super::capacity::Limit>,
    pub converged: bool,
    pub stopped: String,
    /// Aggregate output tokens per second at `max_concurrency`.
    pub output_tokens_per_s: Option<f64>,
    /// The most streams before TTFT p95 rises by a quarter over one stream's.
    pub knee_concurrency: Option<usize>,
    /// The levels in the order they ran.
    pub probes: Vec<ProbeSummary>,
}

fn streams(n: usize) -> String {
    if n == 1 {
        "1 concurrent stream".into()
    } else {
        format!("{n} concurrent streams")
    }
}

impl CapacitySummary {
    /// One sentence: how many streams, what stopped more, and the tokens
    /// per second there.
    pub fn described(&self) -> String {
        let first_fail = self.bracket[1].and_then(|f| self.probes.iter().rev().find(|p| p.concurrency == f && !p.pass));
        let tokens = self
            .output_tokens_per_s
            .map_or(String::new(), |t| format!("; {t:.1} tok/s together there"));
        match (self.max_concurrency, first_fail) {
            (None, Some(f)) => format!("not even one stream met the budgets: {}", f.reason),
            (None, None) => format!("no level was judged ({})", self.stopped),
            (Some(n), Some(f)) if self.converged => {
                format!(
                    "{} within the budgets; at {}: {}{tokens}",
                    streams(n),
                    f.concurrency,
                    f.reason
                )
            }
            (Some(n), Some(f)) => format!(
                "at least {} within the budgets, not confirmed ({}); at {}: {}{tokens}",
                streams(n),
                self.stopped,
                f.concurrency,
                f.reason
            ),
            (Some(n), None) => format!("at least {}: {}{tokens}", streams(n), self.stopped),
        }
    }
}

/// Summarises a capacity search against the budgets it was judged on.
pub fn capacity_summary(c: &super::bench::CapacityRun, budgets: &super::Budgets) -> CapacitySummary {
    let probes: Vec<ProbeSummary> = c
        .probes
        .iter()
        .map(|p| {
            let f = &p.facts;
            let ttft_ms: Vec<f64> = f.ttft_s.iter().map(|s| s * 1e3).collect();
            ProbeSummary {
                concurrency: f.concurrency,
                confirming: p.confirming,
                requests: f.requests,
                errors: f.errors,
                error_rate: r(f.error_rate(), 4),
                ttft_ms: P50P95::of(&ttft_ms),
                decode_tokens_per_s: Rates::of(&f.decode_rates),
                output_tokens_per_s: r(f.tokens_per_s, 2),
                within_budget_pct: f.within_budget(budgets).map(|w| r(w * 100.0, 1)),
                pass: p.verdict.pass,
                reason: p.verdict.reason.clone(),
            }
        })
        .collect();
    let o = &c.outcome;
    // The last run at the answer is the one to quote (a confirmation is longer).
    let at_max = o
        .max_concurrency
        .and_then(|m| probes.iter().rev().find(|p| p.concurrency == m && p.pass));
    let ttft_points: Vec<(f64, f64)> = probes
        .iter()
        .filter(|p| !p.confirming)
        .filter_map(|p| Some((p.concurrency as f64, p.ttft_ms?.p95)))
        .collect();
    CapacitySummary {
        max_concurrency: o.max_concurrency,
        bracket: [o.bracket.0, o.bracket.1],
        limited_by: o.limited_by,
        converged: o.converged,
        stopped: o.stopped.clone(),
        output_tokens_per_s: at_max.map(|p| p.output_tokens_per_s),
        knee_concurrency: crate::capacity::search::knee(&ttft_points, 0.25).map(|k| k as usize),
        probes,
    }
}

/// A quality check's outcome and the answer it was judged on.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CheckSummary {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    pub answer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Quality {
    pub passed: u32,
    pub total: u32,
    pub checks: Vec<CheckSummary>,
}

/// One model in the `llm` section of result.json.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ModelSummary {
    pub model: String,
    pub params: Option<String>,
    pub quant: Option<String>,
    pub family: Option<String>,
    /// Bytes on disk.
    pub size_bytes: Option<u64>,
    /// Cold load: the server's `load_duration` of the first request after
    /// the model was unloaded; null where the server cannot unload or says nothing.
    pub load_ms: Option<f64>,
    /// The same request on the client's clock: to its first token, and to its end.
    pub cold_ttft_ms: Option<f64>,
    pub cold_e2e_ms: Option<f64>,
    pub ttft_ms: Option<P50P95>,
    pub e2e_ms: Option<P50P95>,
    /// Client-measured: tokens after the first over first-to-last chunk time.
    pub decode_tokens_per_s: Option<Rates>,
    /// Server-reported (`eval_count / eval_duration`, llama.cpp `timings`), median.
    pub server_decode_tokens_per_s: Option<f64>,
    /// Server-reported prompt rate, median. Ollama counts cached prompt
    /// tokens but times only the others, so a warm cache overstates it.
    pub prompt_tokens_per_s: Option<f64>,
    pub itl_ms: Option<P50P95>,
    pub output_tokens_mean: Option<f64>,
    /// Token counts came from counting chunks, not from the server.
    pub tokens_approximate: bool,
    pub server_rss_bytes_max: Option<u64>,
    /// The server's CPU use while the model ran, % of one core.
    pub server_cpu_percent_mean: Option<f64>,
    pub gpu_mem_bytes_max: Option<u64>,
    /// Bytes the loaded model takes (`/api/ps` `size`) and the part in GPU memory.
    pub loaded_bytes: Option<u64>,
    pub vram_bytes: Option<u64>,
    /// `100% CPU`, `100% GPU`, or `42%/58% CPU/GPU`, as `ollama ps` says it.
    pub processor: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub error_examples: Vec<String>,
    pub concurrency: Vec<LevelSummary>,
    /// The most concurrent streams within the budgets (`--capacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySummary>,
    pub quality: Option<Quality>,
    pub warnings: Vec<String>,
    /// Filled by the decision.
    pub verdict: Option<super::Verdict>,
    pub headroom: Option<String>,
}

fn level_summary(l: &Level) -> LevelSummary {
    let ok: Vec<&Timed> = l.requests.iter().filter(|t| t.error.is_none()).collect();
    let tokens: u64 = ok.iter().map(|t| t.tokens().0).sum();
    let wall = l.wall.as_secs_f64();
    LevelSummary {
        concurrency: l.concurrency,
        requests: l.requests.len(),
        errors: l.requests.len() - ok.len(),
        output_tokens_per_s: if wall > 0.0 { r(tokens as f64 / wall, 2) } else { 0.0 },
        ttft_ms: P50P95::of(&ok.iter().filter_map(|t| t.ttft.map(ms)).collect::<Vec<_>>()),
        e2e_ms: P50P95::of(&ok.iter().map(|t| ms(t.e2e)).collect::<Vec<_>>()),
    }
}

/// `ollama ps`'s PROCESSOR column.
pub fn processor(size: u64, vram: u64) -> String {
    if vram == 0 {
        "100% CPU".into()
    } else if vram >= size {
        "100% GPU".into()
    } else {
        let cpu = ((size - vram) as f64 / size as f64 * 100.0).round() as u64;
        format!("{cpu}%/{}% CPU/GPU", 100 - cpu)
    }
}

/// What the server's process used while one model ran, where it was sampled.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerUse {
    pub rss_max: Option<u64>,
    pub gpu_max: Option<u64>,
    pub cpu_mean: Option<f64>,
}

/// Summarises one model's runs.
pub fn summarize(m: &ModelRun, server: ServerUse) -> ModelSummary {
    let runs = m.runs();
    let ok: Vec<&Timed> = runs.iter().filter(|t| t.error.is_none()).collect();
    let client_rates: Vec<f64> = ok.iter().filter_map(|t| t.client_decode_rate()).collect();
    let server_rates: Vec<f64> = ok.iter().filter_map(|t| t.report.decode_rate()).collect();
    let prompt_rates: Vec<f64> = ok.iter().filter_map(|t| t.report.prompt_rate()).collect();
    let gaps: Vec<f64> = ok.iter().flat_map(|t| t.gaps().map(ms)).collect();
    let approximate = ok.iter().any(|t| t.tokens().1);
    let mut warnings = Vec::new();
    let (client_p50, server_p50) = (quantile(&client_rates, 0.5), quantile(&server_rates, 0.5));
    if let (Some(c), Some(s)) = (client_p50, server_p50)
        && s > 0.0
        && ((c - s) / s * 100.0).abs() > RATE_MISMATCH_PCT
    {
        warnings.push(format!(
            "the decode rate measured here ({c:.1} tok/s) and the one the server reports ({s:.1} tok/s) differ by {:.0} %: the server times only its own decoding, the client sees delivery too",
            (c - s) / s * 100.0
        ));
    }
    if approximate {
        warnings
            .push("the server did not report token counts, so tokens were counted from chunks (approximate)".into());
    }
    let short: usize = ok
        .iter()
        .filter(|t| t.report.done_reason.as_deref() == Some("stop") && t.tokens().0 < 16)
        .count();
    if short > 0 {
        warnings.push(format!(
            "{short} run(s) stopped on their own after fewer than 16 tokens: decode rates from them are rough"
        ));
    }
    let errors: Vec<String> = runs
        .iter()
        .chain(m.levels.iter().skip(1).flat_map(|l| l.requests.iter()))
        .filter_map(|t| t.error.clone())
        .collect();
    let mut examples: Vec<String> = Vec::new();
    for e in &errors {
        if examples.len() < 3 && !examples.contains(e) {
            examples.push(e.clone());
        }
    }
    let requests = m.levels.iter().map(|l| l.requests.len() as u64).sum();
    let cold = m.cold.as_ref().filter(|c| c.error.is_none());
    let quality = (!m.checks.is_empty()).then(|| {
        let results: Vec<_> = m.checks.iter().map(|(c, _)| c.clone()).collect();
        let (passed, total) = super::quality::score(&results);
        Quality {
            passed,
            total,
            checks: m
                .checks
                .iter()
                .map(|(c, answer)| CheckSummary {
                    name: c.name.clone(),
                    passed: c.passed,
                    detail: c.detail.clone(),
                    answer: answer.clone(),
                })
                .collect(),
        }
    });
    ModelSummary {
        model: m.info.name.clone(),
        params: m.info.params.clone(),
        quant: m.info.quant.clone(),
        family: m.info.family.clone(),
        size_bytes: m.info.size_bytes,
        load_ms: cold
            .filter(|_| m.cold_unloaded)
            .and_then(|c| c.report.load_ns)
            .map(|ns| r(ns as f64 / 1e6, 2)),
        cold_ttft_ms: cold.and_then(|c| c.ttft).map(|d| r(ms(d), 2)),
        cold_e2e_ms: cold.map(|c| r(ms(c.e2e), 2)),
        ttft_ms: P50P95::of(&ok.iter().filter_map(|t| t.ttft.map(ms)).collect::<Vec<_>>()),
        e2e_ms: P50P95::of(&ok.iter().map(|t| ms(t.e2e)).collect::<Vec<_>>()),
        decode_tokens_per_s: Rates::of(&client_rates),
        server_decode_tokens_per_s: server_p50.map(|v| r(v, 2)),
        prompt_tokens_per_s: quantile(&prompt_rates, 0.5).map(|v| r(v, 2)),
        itl_ms: P50P95::of(&gaps),
        output_tokens_mean: (!ok.is_empty())
            .then(|| r(ok.iter().map(|t| t.tokens().0 as f64).sum::<f64>() / ok.len() as f64, 1)),
        tokens_approximate: approximate,
        server_rss_bytes_max: server.rss_max,
        server_cpu_percent_mean: server.cpu_mean.map(|c| r(c, 1)),
        gpu_mem_bytes_max: server.gpu_max,
        loaded_bytes: m.loaded.as_ref().map(|l| l.size),
        vram_bytes: m.loaded.as_ref().map(|l| l.size_vram),
        processor: m.loaded.as_ref().map(|l| processor(l.size, l.size_vram)),
        requests,
        errors: errors.len() as u64,
        error_examples: examples,
        concurrency: m.levels.iter().map(level_summary).collect(),
        capacity: None,
        quality,
        warnings,
        verdict: None,
        headroom: None,
    }
}

impl ModelSummary {
    /// What the decision needs to know about the model.
    pub fn facts(&self) -> ModelFacts {
        ModelFacts {
            model: self.model.clone(),
            params: self
                .params
                .as_deref()
                .and_then(parse_params)
                .or_else(|| params_from_name(&self.model)),
            size_bytes: self.loaded_bytes.or(self.size_bytes),
            vram_bytes: self.vram_bytes,
            decode_p50: self.decode_tokens_per_s.map(|d| d.p50),
            decode_p10: self.decode_tokens_per_s.map(|d| d.p10),
            ttft_p95: self.ttft_ms.map(|t| Duration::from_secs_f64(t.p95 / 1e3)),
            throughput: self
                .concurrency
                .iter()
                .map(|l| l.output_tokens_per_s)
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b)))),
            requests: self.requests,
            errors: self.errors,
            quality: self.quality.as_ref().map(|q| (q.passed, q.total)),
            server_rss_max: self.server_rss_bytes_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::client::ModelInfo;
    use crate::llm::stream::ServerReport;

    fn timed(first_ms: u64, gap_ms: u64, tokens: u64, server_rate: Option<f64>) -> Timed {
        Timed {
            ttfb: Some(Duration::from_millis(first_ms)),
            ttft: Some(Duration::from_millis(first_ms)),
            e2e: Duration::from_millis(first_ms + gap_ms * (tokens - 1) + 5),
            token_times: (0..tokens)
                .map(|i| Duration::from_millis(first_ms + i * gap_ms))
                .collect(),
            text: "x".repeat(tokens as usize),
            report: ServerReport {
                output_tokens: Some(tokens),
                decode_ns: server_rate.map(|r| (tokens as f64 / r * 1e9) as u64),
                done_reason: Some("length".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn model(runs: Vec<Timed>) -> ModelRun {
        ModelRun {
            info: ModelInfo {
                name: "m:1b".into(),
                params: Some("1.2B".into()),
                ..Default::default()
            },
            cold: None,
            cold_unloaded: false,
            levels: vec![Level {
                concurrency: 1,
                wall: Duration::from_secs(2),
                started: (0..runs.len() as u64).map(|i| Duration::from_millis(400 * i)).collect(),
                requests: runs,
                warmup: 0,
            }],
            loaded: Some(crate::llm::client::Loaded {
                name: "m:1b".into(),
                size: 1000,
                size_vram: 250,
            }),
            checks: vec![],
            window: (Duration::ZERO, Duration::from_secs(2)),
            capacity: None,
        }
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[10.0, 20.0], 0.1), Some(11.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn rates_percentiles_and_memory_placement() {
        // 20 ms between tokens: 50 tok/s on the client; the server says 52.
        let runs: Vec<Timed> = (0..5).map(|i| timed(100 + i * 10, 20, 65, Some(52.0))).collect();
        let s = summarize(
            &model(runs),
            ServerUse {
                rss_max: Some(1 << 30),
                ..Default::default()
            },
        );
        let d = s.decode_tokens_per_s.unwrap();
        assert!((d.p50 - 50.0).abs() < 0.01, "{d:?}");
        assert_eq!(s.server_decode_tokens_per_s, Some(52.0));
        assert_eq!(s.ttft_ms.unwrap().p50, 120.0);
        assert_eq!(s.itl_ms.unwrap().p50, 20.0);
        assert_eq!(s.processor.as_deref(), Some("75%/25% CPU/GPU"));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let f = s.facts();
        assert_eq!(f.params, Some(1.2e9));
        assert_eq!(f.size_bytes, Some(1000));
        assert_eq!(f.decode_p10, Some(d.p10));
        // 5 × 65 tokens over 2 s.
        assert_eq!(s.concurrency[0].output_tokens_per_s, 162.5);
    }

    #[test]
    fn a_rate_mismatch_and_failed_runs_are_reported() {
        let mut runs: Vec<Timed> = (0..4).map(|_| timed(100, 20, 65, Some(80.0))).collect();
        runs.push(Timed {
            error: Some("an error was encountered while running the model".into()),
            ..Default::default()
        });
        let s = summarize(&model(runs), ServerUse::default());
        assert_eq!((s.requests, s.errors), (5, 1));
        assert_eq!(s.error_examples.len(), 1);
        assert!(
            s.warnings.iter().any(|w| w.contains("differ by -38 %")),
            "{:?}",
            s.warnings
        );
        assert_eq!(processor(10, 0), "100% CPU");
        assert_eq!(processor(10, 10), "100% GPU");
    }
}
