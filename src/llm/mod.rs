//! Local LLM benchmarks: Ollama's native API and OpenAI-compatible servers
//! (vLLM, llama.cpp's server, LM Studio, llama-cpp-python). Per model: look
//! it up, time a cold load, warm up, time runs with unique prompts (TTFT,
//! inter-token gaps, end to end, client and server token rates), read the
//! server's memory, score quality checks, repeat at each concurrency (or
//! search for the most concurrent streams within the budgets), and decide
//! which size to keep. Measuring lives in `client` and `bench`; the
//! decision (`decide`), the capacity search (`capacity`) and the checks
//! (`quality`) are pure.

pub mod bench;
pub mod capacity;
pub mod client;
pub mod decide;
pub mod quality;
pub mod stream;
pub mod summary;

use std::time::Duration;

/// A prompt long enough to time prefill and short enough for small models.
pub const DEFAULT_PROMPT: &str = "Explain how a hash map works: how keys are hashed into buckets, what happens on a collision, when and how the table grows, and what that means for the cost of lookups and inserts. Give a short example in plain words.";

/// Which wire protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Ollama's own API: `/api/generate` (NDJSON), `/api/tags`, `/api/show`, `/api/ps`.
    Ollama,
    /// `/v1/models` and `/v1/chat/completions` with `stream: true` (SSE).
    Openai,
}

/// What the model is for: sets the decode-rate floor and the TTFT budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum UseCase {
    /// Chat: decode p10 >= 10 tok/s, TTFT p95 <= 2 s.
    Interactive,
    /// Long answers: decode p10 >= 20 tok/s, TTFT p95 <= 3 s.
    Coding,
    /// Realtime speech: decode p10 >= 15 tok/s, TTFT p95 <= 0.5 s.
    Voice,
    /// Offline work: aggregate throughput is the objective, no latency budget.
    Batch,
}

impl UseCase {
    /// The use as it is written on the command line and in profiles.
    pub fn name(self) -> &'static str {
        match self {
            UseCase::Interactive => "interactive",
            UseCase::Coding => "coding",
            UseCase::Voice => "voice",
            UseCase::Batch => "batch",
        }
    }
}

/// The limits a model must meet for a use (`[llm.decide]` overrides them).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Budgets {
    pub use_case: UseCase,
    /// Decode tokens per second the slowest tenth of runs must reach.
    pub min_decode_p10: Option<f64>,
    /// Time to first token at p95, seconds.
    pub max_ttft_p95_s: Option<f64>,
    /// Requests that may fail, as a fraction (0.01 = 1 %).
    pub max_error_rate: f64,
    /// Free memory a CPU host must keep while the model runs, as a fraction.
    pub min_ram_headroom: f64,
    /// How far below the best pass rate a smaller model may score and still be picked.
    pub quality_margin: f64,
    /// The lowest pass rate a model may have at all (None: no floor).
    pub min_quality: Option<f64>,
}

impl Budgets {
    /// The defaults for a use.
    pub fn for_use(use_case: UseCase) -> Budgets {
        let (decode, ttft) = match use_case {
            UseCase::Interactive => (Some(10.0), Some(2.0)),
            UseCase::Coding => (Some(20.0), Some(3.0)),
            UseCase::Voice => (Some(15.0), Some(0.5)),
            UseCase::Batch => (None, None),
        };
        Budgets {
            use_case,
            min_decode_p10: decode,
            max_ttft_p95_s: ttft,
            max_error_rate: 0.01,
            min_ram_headroom: 0.20,
            quality_margin: 0.10,
            min_quality: None,
        }
    }
}

/// Everything measured about one model, as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub model: String,
    /// Parameters, when the server says (`8.0B` → 8e9).
    pub params: Option<f64>,
    /// Bytes the loaded model occupies (`/api/ps` `size`), else its size on disk.
    pub size_bytes: Option<u64>,
    /// Of which in GPU memory (`/api/ps` `size_vram`).
    pub vram_bytes: Option<u64>,
    /// Decode tokens per second over the measured runs at concurrency 1.
    pub decode_p50: Option<f64>,
    pub decode_p10: Option<f64>,
    pub ttft_p95: Option<Duration>,
    /// Output tokens per second summed over all requests at the highest
    /// concurrency measured (batch throughput).
    pub throughput: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    /// Quality checks passed and run.
    pub quality: Option<(u32, u32)>,
    /// The server's resident memory at its peak while this model ran.
    pub server_rss_max: Option<u64>,
}

/// The machine the models ran on, as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostFacts {
    pub mem_bytes: u64,
    /// A GPU was seen (NVML, or the server put part of a model in VRAM).
    pub gpu: bool,
}

/// The verdict on one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// This is the pick.
    Keep,
    /// A larger model also meets every budget: this one is smaller than it need be.
    GoBigger,
    /// A smaller model is the pick: this one misses a budget (or does not
    /// fit), or is bigger than it need be.
    GoSmaller,
    /// No model meets the budgets.
    NothingFits,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Keep => "KEEP",
            Verdict::GoBigger => "GO BIGGER",
            Verdict::GoSmaller => "GO SMALLER",
            Verdict::NothingFits => "NOTHING FITS",
        }
    }
}

/// The decision on one model, with why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judgement {
    pub model: String,
    pub verdict: Verdict,
    /// Meets every budget and fits.
    pub passes: bool,
    /// Why it does not pass, one reason a line (empty when it passes).
    pub reasons: Vec<String>,
    /// decode p10 / floor (None without a floor or a measurement).
    pub decode_headroom: Option<f64>,
    /// TTFT budget / TTFT p95.
    pub ttft_headroom: Option<f64>,
    /// One sentence, e.g. "decode p10 is 1.4× the floor; borderline for longer contexts".
    pub headroom: String,
}

/// The decision over all models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// The model to run, if any passes.
    pub pick: Option<String>,
    /// One per model, in the order given.
    pub models: Vec<Judgement>,
    /// One line for people: what to run and why.
    pub recommendation: String,
}
