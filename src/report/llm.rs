//! The `llm` section of result.json and the scorecard a person reads: the
//! host and server on top, one row per model, the pick, and each model's
//! headroom and throughput curve.

use std::io::{self, Write};

use serde::Serialize;

use crate::config::units::format_bytes;
use crate::llm::summary::ModelSummary;
use crate::llm::{Api, Budgets, UseCase};

/// The machine the models ran on.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LlmHost {
    pub cpu: Option<String>,
    pub cores: usize,
    pub mem_bytes: Option<u64>,
    /// GPU names and memory, e.g. `NVIDIA H200 (139.8 GiB)`; null without one.
    pub gpu: Option<String>,
    /// 1, 5 and 15 minute load averages when the benchmark started.
    pub load_avg: Option<[f64; 3]>,
}

impl LlmHost {
    /// The CPU model, cores, memory and load average of this machine.
    pub fn detect(gpu: Option<String>) -> LlmHost {
        let base = crate::host::Host::detect();
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        let load_avg = std::fs::read_to_string("/proc/loadavg").ok().and_then(|t| {
            let v: Vec<f64> = t.split_whitespace().take(3).filter_map(|x| x.parse().ok()).collect();
            (v.len() == 3).then(|| [v[0], v[1], v[2]])
        });
        LlmHost {
            cpu,
            cores: base.cpus,
            mem_bytes: base.mem_bytes,
            gpu,
            load_avg,
        }
    }

    /// A warning when the machine was already busy: other work slows a
    /// model down as much as a bigger size does.
    pub fn busy_warning(&self) -> Option<String> {
        let load = self.load_avg?[0];
        (load > 0.5 * self.cores as f64).then(|| {
            format!(
                "the machine was busy when the benchmark started (load average {load:.2} on {} cores): rates will read low; stop other work and run again",
                self.cores
            )
        })
    }
}

/// `llm` in result.json.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LlmSection {
    pub endpoint: String,
    pub api: Api,
    pub server_version: Option<String>,
    pub host: LlmHost,
    pub use_case: UseCase,
    pub budgets: Budgets,
    pub prompts: usize,
    pub max_tokens: u32,
    pub runs: u32,
    pub warmup: u32,
    pub models: Vec<ModelSummary>,
    pub pick: Option<String>,
    pub recommendation: String,
    pub warnings: Vec<String>,
}

/// The latency budgets of a use: `decode p10 ≥ 10 tok/s, TTFT p95 ≤ 2 s`.
pub fn budget_words(b: &Budgets) -> String {
    match (b.min_decode_p10, b.max_ttft_p95_s) {
        (Some(d), Some(t)) => format!("decode p10 ≥ {d} tok/s, TTFT p95 ≤ {t} s"),
        (Some(d), None) => format!("decode p10 ≥ {d} tok/s"),
        (None, Some(t)) => format!("TTFT p95 ≤ {t} s"),
        (None, None) => "throughput".into(),
    }
}

fn secs(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1}s", ms / 1e3)
    } else {
        format!("{ms:.0}ms")
    }
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".into(), f)
}

/// Writes the scorecard.
pub fn write_scorecard(out: &mut dyn Write, s: &LlmSection) -> io::Result<()> {
    let h = &s.host;
    writeln!(
        out,
        "host: {}, {} cores, {}, GPU: {} | load average {}",
        h.cpu.as_deref().unwrap_or("unknown CPU"),
        h.cores,
        opt(h.mem_bytes, |m| format_bytes(m as f64)),
        h.gpu.as_deref().unwrap_or("none"),
        opt(h.load_avg, |l| format!("{:.2}", l[0])),
    )?;
    let budget = budget_words(&s.budgets);
    writeln!(
        out,
        "server: {} {} at {} | use: {} ({budget})",
        match s.api {
            Api::Ollama => "ollama",
            Api::Openai => "openai-compatible",
        },
        s.server_version.as_deref().unwrap_or(""),
        s.endpoint,
        s.use_case.name(),
    )?;
    writeln!(
        out,
        "prompts: {} (a unique prefix per run) | output: at most {} tokens | runs: {} + {} warm-up\n",
        s.prompts, s.max_tokens, s.runs, s.warmup
    )?;
    writeln!(
        out,
        "{:<18} {:>6} {:<7} {:<16} {:>7} {:>15} {:>17} {:>8} {:>9} {:>8} {:>9} {:>7} {:>6}  verdict",
        "model",
        "params",
        "quant",
        "where",
        "load",
        "TTFT p50/p95",
        "decode p50/p10",
        "server",
        "prefill",
        "E2E p95",
        "RSS max",
        "quality",
        "errors"
    )?;
    for m in &s.models {
        writeln!(
            out,
            "{:<18} {:>6} {:<7} {:<16} {:>7} {:>15} {:>17} {:>8} {:>9} {:>8} {:>9} {:>7} {:>6}  {}",
            m.model,
            m.params.as_deref().unwrap_or("-"),
            m.quant.as_deref().unwrap_or("-"),
            m.processor.as_deref().unwrap_or("-"),
            match (m.load_ms, m.cold_ttft_ms) {
                (Some(l), _) => secs(l),
                (None, Some(c)) => format!("≈{}", secs(c)),
                (None, None) => "-".into(),
            },
            opt(m.ttft_ms, |t| format!("{}/{}", secs(t.p50), secs(t.p95))),
            opt(m.decode_tokens_per_s, |d| format!("{:.1}/{:.1} tok/s", d.p50, d.p10)),
            opt(m.server_decode_tokens_per_s, |v| format!("{v:.1}")),
            opt(m.prompt_tokens_per_s, |v| format!("{v:.0} t/s")),
            opt(m.e2e_ms, |t| secs(t.p95)),
            opt(m.server_rss_bytes_max, |b| format_bytes(b as f64)),
            opt(m.quality.as_ref(), |q| format!("{}/{}", q.passed, q.total)),
            format!("{}/{}", m.errors, m.requests),
            m.verdict.map_or("-", |v| v.label()),
        )?;
    }
    if s.models.iter().any(|m| m.load_ms.is_none() && m.cold_ttft_ms.is_some()) {
        writeln!(
            out,
            "≈ load: the first request's time to first token; the server does not report a load time"
        )?;
    }
    writeln!(out)?;
    for m in &s.models {
        if let Some(h) = &m.headroom {
            writeln!(out, "  {}: {h}", m.model)?;
        }
        if m.concurrency.len() > 1 {
            let curve: Vec<String> = m
                .concurrency
                .iter()
                .map(|l| {
                    format!(
                        "×{}: {:.1} tok/s, TTFT p95 {}",
                        l.concurrency,
                        l.output_tokens_per_s,
                        opt(l.ttft_ms, |t| secs(t.p95))
                    )
                })
                .collect();
            writeln!(out, "    throughput: {}", curve.join("; "))?;
        }
        if let Some(c) = &m.capacity {
            writeln!(out, "    capacity: {}", c.described())?;
        }
        if let Some(q) = &m.quality {
            let failed: Vec<String> = q
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} ({})", c.name, c.detail))
                .collect();
            if !failed.is_empty() {
                writeln!(out, "    failed checks: {}", failed.join("; "))?;
            }
        }
        for w in &m.warnings {
            writeln!(out, "    note: {w}")?;
        }
        for e in &m.error_examples {
            writeln!(out, "    error: {e}")?;
        }
    }
    for w in &s.warnings {
        writeln!(out, "warning: {w}")?;
    }
    writeln!(out, "\n{}", s.recommendation)
}
