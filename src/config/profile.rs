//! Profiles: the TOML files under `profiles/` (DESIGN.md). Unknown keys are
//! errors with a "did you mean" hint; every error names the file, line and
//! key. Tables owned by other engines are accepted here and checked by them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::GpuMode;
use super::flame::{DEFAULT_DURATION as DEFAULT_FLAME_DURATION, FlamePlan, parse_call_graph, parse_profiler};
use super::load_table::LoadTable;
use super::overrides::{EditError, Edited, Origin};
use super::plans::{
    DEFAULT_INTERVAL, DEFAULT_MAX_GROWTH, DEFAULT_MAX_REGRESSION_PCT, DEFAULT_READY_TIMEOUT, DEFAULT_SETTLE,
    DEFAULT_STOP_GRACE, LeakPlan, SamplePlan, TargetPlan,
};
use super::units::parse_duration;
use crate::flame::{CallGraph, Profiler};
use crate::leak::Warmup;
use crate::sample::TargetSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    pub target: Option<Spanned<TargetTable>>,
    pub load: Option<Spanned<LoadTable>>,
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<toml::Value>>,
    pub sample: Option<SampleTable>,
    pub flame: Option<Spanned<FlameTable>>,
    pub heap: Option<Spanned<super::heap::HeapTable>>,
    pub metrics: Option<Spanned<super::metrics::MetricsTable>>,
    pub leak: Option<LeakTable>,
    /// `"metric" = "expression"`, e.g. `"ask.p95" = "< 2.5s"`.
    pub slo: Option<BTreeMap<String, Spanned<String>>>,
    pub baseline: Option<BaselineTable>,
    pub llm: Option<Spanned<LlmTable>>,
    /// `[scenarios.NAME]`: journeys, each with its own executor.
    pub scenarios: Option<Spanned<BTreeMap<String, Spanned<super::scenarios::ScenarioTable>>>>,
}

/// `[target]`: what to sample and profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTable {
    pub command: Option<Spanned<Vec<String>>>,
    pub pid: Option<Spanned<u32>>,
    pub name: Option<Spanned<String>>,
    pub ready_url: Option<Spanned<String>>,
    pub ready_timeout: Option<Spanned<String>>,
    pub children: Option<bool>,
    pub stop_grace: Option<Spanned<String>>,
}

/// `[sample]`: the sampler's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleTable {
    pub interval: Option<Spanned<String>>,
    #[serde(default)]
    pub gpu: GpuMode,
    #[serde(default)]
    pub pss: bool,
}

/// `[leak]`: how the leak verdict is judged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakTable {
    pub warmup: Option<Spanned<String>>,
    pub settle: Option<Spanned<String>>,
    pub max_growth: Option<Spanned<String>>,
    pub limit: Option<Spanned<String>>,
    pub min_window: Option<Spanned<String>>,
}

/// `[llm]`: a local LLM benchmark (see `loadprof llm`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmTable {
    pub endpoint: Option<Spanned<String>>,
    pub api: Option<Spanned<String>>,
    /// The environment variable that holds the server's API key (the key
    /// itself never goes in a profile).
    pub api_key_env: Option<Spanned<String>>,
    pub models: Spanned<Vec<String>>,
    pub prompts: Option<Spanned<Vec<String>>>,
    pub prompts_file: Option<Spanned<String>>,
    pub max_tokens: Option<Spanned<u32>>,
    pub concurrency: Option<Spanned<Vec<u32>>>,
    /// Search for the most concurrent streams within the budgets instead
    /// of measuring `concurrency`'s levels.
    pub capacity: Option<Spanned<bool>>,
    /// The most streams the capacity search tries.
    pub max_concurrency: Option<Spanned<u32>>,
    /// Timed runs per model.
    pub requests: Option<Spanned<u32>>,
    /// `true` (one warm-up run), `false`, or a number of runs.
    pub warmup: Option<Spanned<WarmupRuns>>,
    /// `builtin` (the three built-in checks) or `none`.
    pub quality: Option<Spanned<String>>,
    pub checks_file: Option<Spanned<String>>,
    #[serde(rename = "use")]
    pub use_case: Option<Spanned<String>>,
    pub server_pid: Option<u32>,
    pub timeout: Option<Spanned<String>>,
    pub decide: Option<DecideTable>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum WarmupRuns {
    Flag(bool),
    Runs(u32),
}

/// `[llm.decide]`: the budgets of the use, overridden.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideTable {
    /// TTFT p95 budget.
    pub max_latency_short: Option<Spanned<String>>,
    /// Decode p10 floor, tokens per second.
    pub min_tokens_per_s: Option<Spanned<f64>>,
    /// The lowest quality pass rate, e.g. "80%".
    pub min_quality: Option<Spanned<String>>,
    pub max_error_rate: Option<Spanned<String>>,
    pub quality_margin: Option<Spanned<String>>,
}

/// `[baseline]`: what a baseline comparison allows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineTable {
    pub max_regression: Option<Spanned<String>>,
}

/// `[flame]`: see [`super::flame::FlamePlan`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlameTable {
    pub profiler: Option<Spanned<String>>,
    pub pprof_url: Option<Spanned<String>>,
    pub start_after: Option<Spanned<String>>,
    pub duration: Option<Spanned<String>>,
    pub rate: Option<Spanned<u32>>,
    pub heap: Option<Spanned<bool>>,
    #[serde(default)]
    pub nonblocking: bool,
    #[serde(default)]
    pub native: bool,
    pub subprocesses: Option<bool>,
    pub call_graph: Option<Spanned<String>>,
}

/// A profile and its source, for locating errors.
pub struct LoadedProfile {
    pub path: PathBuf,
    /// The profile's text after any `--set` overrides; spans index into it.
    pub text: String,
    pub profile: Profile,
    /// Where each place in `text` came from.
    edits: Edited,
}

impl LoadedProfile {
    pub fn read(path: &Path) -> Result<LoadedProfile, String> {
        LoadedProfile::read_with(path, &[])
    }

    /// Reads the profile at `path` with `--set KEY=VALUE` `overrides`
    /// applied in order (see [`super::overrides`]); the overridden values
    /// are checked like the rest. The file is read up to
    /// [`crate::files::PROFILE_LIMIT`], and the files it names
    /// (`[llm] prompts_file`, `checks_file`) are read and checked too.
    pub fn read_with(path: &Path, overrides: &[String]) -> Result<LoadedProfile, String> {
        let text = crate::files::read_text_bounded(path, crate::files::PROFILE_LIMIT, "profile")?;
        let loaded = LoadedProfile::from_text(path, text, overrides)?;
        loaded.llm_plan()?;
        Ok(loaded)
    }

    /// Parses a profile from `text` with `--set KEY=VALUE` `overrides`
    /// applied in order, and checks every table, reading no file: `path`
    /// only names the profile in messages and is where files it names are
    /// looked for later ([`LoadedProfile::load_spec`], [`LoadedProfile::llm_plan`]).
    /// Any text and any overrides give a profile or an error, never a panic.
    pub fn from_text(path: &Path, text: String, overrides: &[String]) -> Result<LoadedProfile, String> {
        let edits = Edited::apply(&text, overrides).map_err(|e| match e {
            EditError::Set(message) => message,
            EditError::Syntax { span, message } => {
                let loc = span.map_or(String::new(), |s| {
                    let (l, c) = line_col(&text, s.start);
                    format!(":{l}:{c}")
                });
                format!("{}{loc}: {message}", path.display())
            }
        })?;
        let text = edits.text.clone();
        let profile = toml::from_str::<Profile>(&text).map_err(|e| {
            let loc = match e
                .span()
                .map(|s| (edits.origin(s.start), line_col(&text, s.start).1, s.start))
            {
                Some((Origin::Set(o), _, _)) => {
                    return format!("{}: {}: {}", o.flag(), o.key(), with_hint(e.message()));
                }
                Some((Origin::Line(l), c, at)) => match key_at(&text, at) {
                    Some(key) => format!(":{l}:{c}: {key}"),
                    None => format!(":{l}:{c}"),
                },
                None => String::new(),
            };
            format!("{}{loc}: {}", path.display(), with_hint(e.message()))
        })?;
        let loaded = LoadedProfile {
            path: path.to_path_buf(),
            text,
            profile,
            edits,
        };
        // Tables read by engines other than the caller's are checked now
        // too, so a mistake is found before anything runs.
        loaded.flame_plan()?;
        loaded.heap_plan()?;
        loaded.metrics_plan()?;
        loaded.slos()?;
        loaded.target_plan()?;
        loaded.sample_plan()?;
        loaded.leak_plan()?;
        loaded.max_regression_pct()?;
        loaded.llm_plan_from(false)?;
        Ok(loaded)
    }

    /// `file:line: key` for a value at `span`, or `--set KEY=VALUE: key`
    /// when the value came from an override.
    pub(crate) fn at(&self, span: std::ops::Range<usize>, key: &str) -> String {
        match self.edits.origin(span.start) {
            Origin::Line(line) => format!("{}:{line}: {key}", self.path.display()),
            Origin::Set(o) => format!("{}: {key}", o.flag()),
        }
    }

    /// The `[target]` table; None when the profile has none (load only).
    pub fn target_plan(&self) -> Result<Option<TargetPlan>, String> {
        let Some(table) = &self.profile.target else {
            return Ok(None);
        };
        let t = table.get_ref();
        let given = [t.command.is_some(), t.pid.is_some(), t.name.is_some()];
        let spec = match (&t.command, &t.pid, &t.name) {
            _ if given.iter().filter(|&&g| g).count() > 1 => {
                return Err(format!(
                    "{}: give one of command, pid and name, not several",
                    self.at(table.span(), "target")
                ));
            }
            (Some(c), _, _) if c.get_ref().is_empty() || c.get_ref()[0].is_empty() => {
                return Err(format!(
                    "{}: the command is empty; give the program and its arguments, e.g. [\"uvicorn\", \"app:app\"]",
                    self.at(c.span(), "target.command")
                ));
            }
            (Some(c), _, _) => TargetSpec::Command(c.get_ref().clone()),
            (_, Some(p), _) => TargetSpec::Pid(*p.get_ref()),
            (_, _, Some(n)) => {
                regex::Regex::new(n.get_ref())
                    .map_err(|e| format!("{}: not a regular expression: {e}", self.at(n.span(), "target.name")))?;
                TargetSpec::Name(n.get_ref().clone())
            }
            _ => {
                return Err(format!(
                    "{}: say what to sample: command = [\"prog\", \"arg\"], pid = 1234 or name = \"pattern\"",
                    self.at(table.span(), "target")
                ));
            }
        };
        if let Some(u) = &t.ready_url
            && !crate::http::is_url(u.get_ref())
        {
            return Err(format!(
                "{}: '{}' is not an http:// or https:// URL",
                self.at(u.span(), "target.ready_url"),
                u.get_ref()
            ));
        }
        Ok(Some(TargetPlan {
            spec,
            ready_url: t.ready_url.as_ref().map(|u| u.get_ref().clone()),
            ready_timeout: self
                .positive_duration(&t.ready_timeout, "target.ready_timeout")?
                .unwrap_or(DEFAULT_READY_TIMEOUT),
            children: t.children.unwrap_or(true),
            stop_grace: self.duration_key(&t.stop_grace, "target.stop_grace", DEFAULT_STOP_GRACE)?,
        }))
    }

    /// The `[sample]` table, with defaults where it is silent or missing.
    pub fn sample_plan(&self) -> Result<SamplePlan, String> {
        let Some(s) = &self.profile.sample else {
            return Ok(SamplePlan {
                interval: DEFAULT_INTERVAL,
                gpu: GpuMode::Auto,
                pss: false,
            });
        };
        let interval = self.duration_key(&s.interval, "sample.interval", DEFAULT_INTERVAL)?;
        if interval < Duration::from_millis(1) {
            let span = s.interval.as_ref().map(|i| i.span()).unwrap_or_default();
            return Err(format!(
                "{}: must be at least 1ms (e.g. 10ms, 100ms, 1s)",
                self.at(span, "sample.interval")
            ));
        }
        Ok(SamplePlan {
            interval,
            gpu: s.gpu,
            pss: s.pss,
        })
    }

    /// The `[leak]` table, with defaults where it is silent or missing.
    pub fn leak_plan(&self) -> Result<LeakPlan, String> {
        let Some(l) = &self.profile.leak else {
            return Ok(LeakPlan::default());
        };
        let warmup = match &l.warmup {
            Some(w) => Warmup::parse(w.get_ref()).map_err(|e| format!("{}: {e}", self.at(w.span(), "leak.warmup")))?,
            None => Warmup::Auto,
        };
        let max_growth = match &l.max_growth {
            Some(g) => crate::config::units::parse_byte_rate(g.get_ref())
                .map_err(|e| format!("{}: {e}", self.at(g.span(), "leak.max_growth")))?,
            None => DEFAULT_MAX_GROWTH,
        };
        let limit = match &l.limit {
            Some(v) => match crate::config::units::parse_size(v.get_ref()) {
                Ok(0.0) => {
                    return Err(format!(
                        "{}: must be greater than zero, e.g. \"2GB\"",
                        self.at(v.span(), "leak.limit")
                    ));
                }
                Ok(bytes) => Some(bytes),
                Err(e) => return Err(format!("{}: {e}", self.at(v.span(), "leak.limit"))),
            },
            None => None,
        };
        let min_window = self.duration_key(
            &l.min_window,
            "leak.min_window",
            Duration::from_secs_f64(crate::leak::MIN_WINDOW_S),
        )?;
        if min_window < Duration::from_secs(5) {
            let span = l.min_window.as_ref().map(|w| w.span()).unwrap_or_default();
            return Err(format!(
                "{}: must be at least 5s (the default is 90s; shorter windows may call a slow warm-up a leak)",
                self.at(span, "leak.min_window")
            ));
        }
        Ok(LeakPlan {
            warmup,
            settle: self.duration_key(&l.settle, "leak.settle", DEFAULT_SETTLE)?,
            max_growth,
            limit,
            min_window_s: min_window.as_secs_f64(),
        })
    }

    /// `[llm]` as a benchmark plan, with its prompts and checks files
    /// read; None when the profile has no `[llm]` table.
    pub fn llm_plan(&self) -> Result<Option<super::plans::LlmPlan>, String> {
        self.llm_plan_from(true)
    }

    /// [`LoadedProfile::llm_plan`]; without `read_files`, `prompts_file`
    /// and `checks_file` are not read (the plan then has no prompts from a
    /// file and no checks from a file).
    fn llm_plan_from(&self, read_files: bool) -> Result<Option<super::plans::LlmPlan>, String> {
        use crate::llm::{Api, Budgets, UseCase};
        let Some(table) = &self.profile.llm else {
            return Ok(None);
        };
        let l = table.get_ref();
        let endpoint = match &l.endpoint {
            Some(e) if !crate::http::is_url(e.get_ref()) => {
                return Err(format!(
                    "{}: '{}' is not an http:// or https:// URL, e.g. \"http://127.0.0.1:11434\"",
                    self.at(e.span(), "llm.endpoint"),
                    crate::redact::url(e.get_ref())
                ));
            }
            Some(e) => e.get_ref().clone(),
            None => "http://127.0.0.1:11434".into(),
        };
        let api_key_env = match &l.api_key_env {
            Some(v)
                if v.get_ref().is_empty()
                    || !v.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || v.get_ref().starts_with(|c: char| c.is_ascii_digit()) =>
            {
                return Err(format!(
                    "{}: '{}' is not an environment variable's name; name the variable that holds the key, e.g. \"VLLM_API_KEY\" (the key itself never goes in a profile)",
                    self.at(v.span(), "llm.api_key_env"),
                    v.get_ref()
                ));
            }
            Some(v) => Some(v.get_ref().clone()),
            None => None,
        };
        let api = match l.api.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
            None | Some(("ollama", _)) => Api::Ollama,
            Some(("openai", _)) => Api::Openai,
            Some((other, span)) => {
                return Err(format!(
                    "{}: '{other}' is not an API; use ollama or openai",
                    self.at(span, "llm.api")
                ));
            }
        };
        let models: Vec<String> = l.models.get_ref().iter().map(|m| m.trim().to_string()).collect();
        if models.is_empty() || models.iter().any(String::is_empty) {
            return Err(format!(
                "{}: give the models to compare, e.g. [\"llama3.2:1b\", \"llama3.2:3b\"]",
                self.at(l.models.span(), "llm.models")
            ));
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        let prompts = match (&l.prompts, &l.prompts_file) {
            (Some(p), Some(f)) => {
                let _ = p;
                return Err(format!(
                    "{}: give prompts or prompts_file, not both",
                    self.at(f.span(), "llm.prompts_file")
                ));
            }
            (Some(p), None) if p.get_ref().iter().all(|x| x.trim().is_empty()) => {
                return Err(format!("{}: the prompts are empty", self.at(p.span(), "llm.prompts")));
            }
            (Some(p), None) => p.get_ref().clone(),
            (None, Some(_)) if !read_files => Vec::new(),
            (None, Some(f)) => {
                let path = base.join(f.get_ref());
                let text = crate::files::read_text_bounded(&path, crate::files::PROMPTS_LIMIT, "prompts file")
                    .map_err(|e| format!("{}: {e}", self.at(f.span(), "llm.prompts_file")))?;
                let p: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect();
                if p.is_empty() {
                    return Err(format!(
                        "{}: {} has no prompts; write one a line",
                        self.at(f.span(), "llm.prompts_file"),
                        path.display()
                    ));
                }
                p
            }
            (None, None) => vec![crate::llm::DEFAULT_PROMPT.to_string()],
        };
        let positive = |v: &Option<Spanned<u32>>, key: &str, default: u32| -> Result<u32, String> {
            match v {
                Some(n) if *n.get_ref() == 0 => Err(format!("{}: must be at least 1", self.at(n.span(), key))),
                Some(n) => Ok(*n.get_ref()),
                None => Ok(default),
            }
        };
        let mut concurrency: Vec<usize> = match &l.concurrency {
            Some(c) if c.get_ref().is_empty() || c.get_ref().iter().any(|&x| x == 0 || x > 256) => {
                return Err(format!(
                    "{}: give levels from 1 to 256, e.g. [1, 4]",
                    self.at(c.span(), "llm.concurrency")
                ));
            }
            Some(c) => c.get_ref().iter().map(|&x| x as usize).collect(),
            None => vec![1],
        };
        concurrency.sort_unstable();
        concurrency.dedup();
        let capacity = l.capacity.as_ref().is_some_and(|c| *c.get_ref());
        if capacity && let Some(c) = &l.concurrency {
            return Err(format!(
                "{}: the capacity search picks its own levels; drop llm.concurrency or llm.capacity",
                self.at(c.span(), "llm.concurrency")
            ));
        }
        let max_concurrency = match &l.max_concurrency {
            Some(m) if !capacity => {
                return Err(format!(
                    "{}: only the capacity search reads it; set llm.capacity = true",
                    self.at(m.span(), "llm.max_concurrency")
                ));
            }
            Some(m) if !(1..=crate::llm::capacity::MAX_STREAMS).contains(m.get_ref()) => {
                return Err(format!(
                    "{}: give 1 to {} streams",
                    self.at(m.span(), "llm.max_concurrency"),
                    crate::llm::capacity::MAX_STREAMS
                ));
            }
            Some(m) => *m.get_ref() as usize,
            None => crate::llm::capacity::DEFAULT_MAX_STREAMS as usize,
        };
        let mut checks = match l.quality.as_ref().map(|q| (q.get_ref().as_str(), q.span())) {
            None | Some(("builtin", _)) => crate::llm::quality::builtin(),
            Some(("none", _)) => Vec::new(),
            Some((other, span)) => {
                return Err(format!(
                    "{}: '{other}' is not a quality setting; use builtin or none",
                    self.at(span, "llm.quality")
                ));
            }
        };
        if let Some(f) = &l.checks_file
            && read_files
        {
            let path = base.join(f.get_ref());
            let text = crate::files::read_text_bounded(&path, crate::files::PROMPTS_LIMIT, "checks file")
                .map_err(|e| format!("{}: {e}", self.at(f.span(), "llm.checks_file")))?;
            checks.extend(crate::llm::quality::parse_checks(&text, &path.display().to_string())?);
        }
        let use_case = match l.use_case.as_ref().map(|u| (u.get_ref().as_str(), u.span())) {
            None | Some(("interactive", _)) => UseCase::Interactive,
            Some(("coding", _)) => UseCase::Coding,
            Some(("voice", _)) => UseCase::Voice,
            Some(("batch", _)) => UseCase::Batch,
            Some((other, span)) => {
                return Err(format!(
                    "{}: '{other}' is not a use; use interactive, coding, voice or batch",
                    self.at(span, "llm.use")
                ));
            }
        };
        let mut budgets = Budgets::for_use(use_case);
        let pct = |v: &Spanned<String>, key: &str| -> Result<f64, String> {
            v.get_ref()
                .trim()
                .strip_suffix('%')
                .and_then(|x| x.trim().parse::<f64>().ok())
                .filter(|x| (0.0..=100.0).contains(x))
                .map(|x| x / 100.0)
                .ok_or_else(|| {
                    format!(
                        "{}: '{}' is not a percentage, e.g. \"80%\"",
                        self.at(v.span(), key),
                        v.get_ref()
                    )
                })
        };
        if let Some(d) = &l.decide {
            if let Some(t) = &d.max_latency_short {
                budgets.max_ttft_p95_s = Some(
                    parse_duration(t.get_ref())
                        .map_err(|e| format!("{}: {e}", self.at(t.span(), "llm.decide.max_latency_short")))?
                        .as_secs_f64(),
                );
            }
            if let Some(r) = &d.min_tokens_per_s {
                if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) {
                    return Err(format!(
                        "{}: must be a positive rate, e.g. 10",
                        self.at(r.span(), "llm.decide.min_tokens_per_s")
                    ));
                }
                budgets.min_decode_p10 = Some(*r.get_ref());
            }
            if let Some(q) = &d.min_quality {
                budgets.min_quality = Some(pct(q, "llm.decide.min_quality")?);
            }
            if let Some(e) = &d.max_error_rate {
                budgets.max_error_rate = pct(e, "llm.decide.max_error_rate")?;
            }
            if let Some(m) = &d.quality_margin {
                budgets.quality_margin = pct(m, "llm.decide.quality_margin")?;
            }
        }
        Ok(Some(super::plans::LlmPlan {
            endpoint,
            api,
            api_key_env,
            bench: crate::llm::bench::BenchPlan {
                models,
                prompts,
                max_tokens: positive(&l.max_tokens, "llm.max_tokens", 256)?,
                runs: positive(&l.requests, "llm.requests", 5)?,
                warmup: match l.warmup.as_ref().map(Spanned::get_ref) {
                    None | Some(WarmupRuns::Flag(true)) => 1,
                    Some(WarmupRuns::Flag(false)) => 0,
                    Some(WarmupRuns::Runs(n)) => *n,
                },
                concurrency,
                checks,
                seed: 42,
                capacity: capacity.then_some(max_concurrency),
            },
            budgets,
            server_pid: l.server_pid,
            timeout: self
                .positive_duration(&l.timeout, "llm.timeout")?
                .unwrap_or(std::time::Duration::from_secs(600)),
        }))
    }

    /// `[baseline] max_regression`, in percent.
    pub fn max_regression_pct(&self) -> Result<f64, String> {
        let Some(m) = self.profile.baseline.as_ref().and_then(|b| b.max_regression.as_ref()) else {
            return Ok(DEFAULT_MAX_REGRESSION_PCT);
        };
        m.get_ref()
            .trim()
            .strip_suffix('%')
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                format!(
                    "{}: '{}' is not a percentage; e.g. \"10%\"",
                    self.at(m.span(), "baseline.max_regression"),
                    m.get_ref()
                )
            })
    }

    /// A duration key, or `default` when it is not given.
    pub(crate) fn duration_key(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, String> {
        match v {
            Some(d) => parse_duration(d.get_ref()).map_err(|e| format!("{}: {e}", self.at(d.span(), key))),
            None => Ok(default),
        }
    }

    /// A duration key that must be greater than zero (a limit or a
    /// length: zero would end what it bounds before it starts); None when
    /// it is not given.
    pub(crate) fn positive_duration(&self, v: &Option<Spanned<String>>, key: &str) -> Result<Option<Duration>, String> {
        let Some(d) = v else { return Ok(None) };
        match parse_duration(d.get_ref()) {
            Ok(value) if value.is_zero() => Err(format!(
                "{}: must be greater than zero, e.g. \"30s\"",
                self.at(d.span(), key)
            )),
            Ok(value) => Ok(Some(value)),
            Err(e) => Err(format!("{}: {e}", self.at(d.span(), key))),
        }
    }

    /// The `[slo]` table, each entry checked: the metric exists (an
    /// endpoint the profile names, or `all`) and the expression fits it.
    pub fn slos(&self) -> Result<Vec<crate::gate::Slo>, String> {
        let Some(table) = &self.profile.slo else {
            return Ok(Vec::new());
        };
        let names = self.endpoint_names();
        let endpoints: Vec<&str> = names.iter().map(String::as_str).collect();
        let scenario_names = self.scenario_names();
        let scenarios: Vec<&str> = scenario_names.iter().map(String::as_str).collect();
        table
            .iter()
            .map(|(metric, expr)| {
                crate::gate::Slo::parse(metric, expr.get_ref(), &endpoints, &scenarios)
                    .map_err(|e| format!("{}: {e}", self.at(expr.span(), &format!("slo.\"{metric}\""))))
            })
            .collect()
    }

    /// The `[flame]` table as a plan; None when there is none or it says
    /// `profiler = "off"`.
    pub fn flame_plan(&self) -> Result<Option<FlamePlan>, String> {
        let Some(table) = &self.profile.flame else {
            return Ok(None);
        };
        let f = table.get_ref();
        let profiler = match &f.profiler {
            Some(p) => match parse_profiler(p.get_ref()) {
                Ok(Some(choice)) => choice,
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("{}: {e}", self.at(p.span(), "flame.profiler"))),
            },
            None => None,
        };
        let duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| -> Result<Duration, String> {
            match v {
                Some(d) => parse_duration(d.get_ref()).map_err(|e| format!("{}: {e}", self.at(d.span(), key))),
                None => Ok(default),
            }
        };
        let length = duration(&f.duration, "flame.duration", DEFAULT_FLAME_DURATION)?;
        if length.is_zero() {
            let span = f.duration.as_ref().map_or(table.span(), |d| d.span());
            return Err(format!(
                "{}: must be greater than zero, e.g. 20s",
                self.at(span, "flame.duration")
            ));
        }
        if let Some(r) = &f.rate
            && !(1..=10_000).contains(r.get_ref())
        {
            return Err(format!(
                "{}: {} samples per second is out of range; use 1 to 10000",
                self.at(r.span(), "flame.rate"),
                r.get_ref()
            ));
        }
        let pprof_url = f.pprof_url.as_ref().map(|u| u.get_ref().clone());
        if let Some(u) = &f.pprof_url
            && !crate::http::is_url(u.get_ref())
        {
            return Err(format!(
                "{}: '{}' is not an http:// or https:// URL",
                self.at(u.span(), "flame.pprof_url"),
                u.get_ref()
            ));
        }
        let pprof = profiler == Some(Profiler::Pprof) || (profiler.is_none() && pprof_url.is_some());
        if pprof && pprof_url.is_none() {
            let span = f.profiler.as_ref().map_or(table.span(), |p| p.span());
            return Err(format!(
                "{}: profiler = \"pprof\" needs pprof_url, e.g. \"http://127.0.0.1:6060/debug/pprof/profile\"",
                self.at(span, "flame.profiler")
            ));
        }
        if !pprof && let (Some(p), Some(u)) = (profiler, &f.pprof_url) {
            return Err(format!(
                "{}: pprof_url is read by the pprof profiler, not {}; remove one of them",
                self.at(u.span(), "flame.pprof_url"),
                p.name()
            ));
        }
        let heap = f.heap.as_ref().is_some_and(|h| *h.get_ref());
        if heap && !pprof {
            let span = f.heap.as_ref().map_or(table.span(), |h| h.span());
            return Err(format!(
                "{}: heap = true reads a Go heap profile and needs pprof_url",
                self.at(span, "flame.heap")
            ));
        }
        Ok(Some(FlamePlan {
            profiler,
            pprof_url,
            start_after: duration(&f.start_after, "flame.start_after", Duration::ZERO)?,
            duration: length,
            rate_hz: f.rate.as_ref().map(|r| *r.get_ref()),
            heap,
            nonblocking: f.nonblocking,
            native: f.native,
            subprocesses: f.subprocesses.unwrap_or(true),
            call_graph: match &f.call_graph {
                Some(c) => parse_call_graph(c.get_ref())
                    .map_err(|e| format!("{}: {e}", self.at(c.span(), "flame.call_graph")))?,
                None => CallGraph::Dwarf,
            },
        }))
    }
}

/// 1-based line and column of byte `offset` (columns count characters;
/// an offset inside a character counts from that character).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// One step of a key path: a key, or an index into an array.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The dotted key (`load.users`, `load.request[2].weight`, `slo."ask.p95"`)
/// whose value (or key, or table header) holds byte `offset` of the TOML
/// `text`, the innermost; None when the text does not parse or no key
/// holds the offset.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut path = Vec::new();
    if !in_table(doc.as_table(), offset, &mut path) {
        return None;
    }
    let mut shown = String::new();
    for step in &path {
        match step {
            Step::Index(i) => shown.push_str(&format!("[{i}]")),
            Step::Key(k) => {
                if !shown.is_empty() {
                    shown.push('.');
                }
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    shown.push_str(k);
                } else {
                    shown.push_str(&toml_edit::Value::from(*k).to_string());
                }
            }
        }
    }
    Some(shown)
}

fn holds(span: Option<std::ops::Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.contains(&offset))
}

/// Whether a key of `table` holds `offset`; if so `path` ends with it.
fn in_table<'a>(table: &'a toml_edit::Table, offset: usize, path: &mut Vec<Step<'a>>) -> bool {
    use toml_edit::Item;
    for (name, item) in table.iter() {
        path.push(Step::Key(name));
        let key_span = table.get_key_value(name).and_then(|(k, _)| k.span());
        let found = match item {
            Item::Value(v) => in_value(v, offset, path) || holds(key_span, offset),
            Item::Table(t) => in_table(t, offset, path) || holds(t.span(), offset),
            Item::ArrayOfTables(a) => a.iter().enumerate().any(|(i, t)| {
                path.push(Step::Index(i));
                let found = in_table(t, offset, path) || holds(t.span(), offset);
                if !found {
                    path.pop();
                }
                found
            }),
            Item::None => false,
        };
        if found {
            return true;
        }
        path.pop();
    }
    false
}

/// Whether `value` holds `offset`; if so `path` ends with the innermost
/// item of an array or inline table that does.
fn in_value<'a>(value: &'a toml_edit::Value, offset: usize, path: &mut Vec<Step<'a>>) -> bool {
    if !holds(value.span(), offset) {
        return false;
    }
    match value {
        toml_edit::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Step::Index(i));
                if in_value(v, offset, path) {
                    return true;
                }
                path.pop();
            }
        }
        toml_edit::Value::InlineTable(t) => {
            for (name, v) in t.iter() {
                path.push(Step::Key(name));
                if in_value(v, offset, path) {
                    return true;
                }
                path.pop();
            }
        }
        _ => {}
    }
    true
}

/// Adds "did you mean `x`?" to serde's unknown-field message.
fn with_hint(msg: &str) -> String {
    let msg = msg.trim();
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        return msg.to_string();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return msg.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match candidates
        .iter()
        .map(|c| (edit_distance(field, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
    {
        Some((_, best)) => format!("{msg}; did you mean `{best}`?"),
        None => msg.to_string(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{BodySource, LoadSpec, ModelSpec};
    use crate::load::stream::StreamKind;

    fn load(text: &str) -> Result<LoadSpec, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        LoadedProfile::read(&p)?.load_spec((0, 1))
    }

    const BASE: &str = "[load]\nbase_url = \"http://127.0.0.1:9/\"\nduration = \"2s\"\n";

    #[test]
    fn unknown_key_gets_a_hint_and_a_line() {
        let e = load(&format!("{BASE}usres = 5\n[[load.request]]\npath = \"/\"\n")).unwrap_err();
        assert!(e.contains("p.toml:4:1") && e.contains("did you mean `users`?"), "{e}");
    }

    #[test]
    fn closed_model_with_requests_and_vars() {
        let s = load(&format!(
            "{BASE}users = 4\nspawn_rate = 2\nthink_time = \"10ms..20ms\"\n[[load.request]]\nname = \"ask\"\nweight = 3\njson = {{ q = \"{{{{pick who}}}}\" }}\nstream = \"sse\"\nexpect_status = 200\n[vars]\nwho = [\"a\", 1]\n"
        ))
        .unwrap();
        assert!(matches!(s.model, ModelSpec::Closed { ref users, .. } if users.value == 4));
        let r = &s.requests[0];
        assert_eq!(
            (r.name.value.as_str(), r.weight.value, r.method.value.as_str()),
            ("ask", 3, "POST")
        );
        assert_eq!(r.stream, StreamKind::Sse);
        assert_eq!(s.vars["who"], ["a", "1"]);
        assert_eq!(r.expect_status.as_ref().unwrap().value, [200]);
    }

    #[test]
    fn stages_ramp_from_the_previous_rate() {
        let s = load(
            "[load]\nbase_url = \"http://x/\"\nstages = [{ rate = 50, duration = \"5m\" }, { target = 100, duration = \"1m\" }]\n[[load.request]]\n",
        )
        .unwrap();
        let ModelSpec::Open { stages, .. } = s.model else {
            panic!()
        };
        assert_eq!((stages[0].value.from, stages[0].value.to), (50.0, 50.0));
        assert_eq!((stages[1].value.from, stages[1].value.to), (50.0, 100.0));
    }

    #[test]
    fn semantic_errors_name_file_line_and_key() {
        let e = load(&format!(
            "{BASE}[[load.request]]\npath = \"/\"\nbody = \"{{{{pick nobody}}}}\"\n"
        ))
        .and_then(|s| super::super::load::build(s).map(|_| ()))
        .unwrap_err();
        assert!(
            e.contains("p.toml:6: load.request[0].body") && e.contains("'nobody'"),
            "{e}"
        );
        let e = load("[load]\nbase_url = \"http://x/\"\nrate = 5\nusers = 3\nduration = \"1s\"\n").unwrap_err();
        assert!(e.contains("mixes the open model"), "{e}");
        let e = load("[load]\nbase_url = \"http://x/\"\nduration = \"1 fortnight\"\n").unwrap_err();
        assert!(e.contains("p.toml:3: load.duration"), "{e}");
    }

    #[test]
    fn the_example_profile_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/load-example.toml");
        let p = LoadedProfile::read(&path).unwrap();
        let cfg = super::super::load::build(p.load_spec((0, 1)).unwrap()).unwrap();
        let names: Vec<&str> = cfg.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ask", "history", "health"]);
        assert_eq!(p.profile.name.as_deref(), Some("rag-smoke"));
    }

    fn read(text: &str) -> Result<LoadedProfile, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        LoadedProfile::read(&p)
    }

    #[test]
    fn target_sample_leak_and_baseline_tables() {
        let p = read(
            "[target]\ncommand = [\"uvicorn\", \"app:app\"]\nready_url = \"http://127.0.0.1:8002/health\"\n\
             [sample]\ninterval = \"50ms\"\ngpu = \"off\"\n\
             [leak]\nwarmup = \"20s\"\nsettle = \"5s\"\nmax_growth = \"2MB/min\"\nlimit = \"1GB\"\n\
             [baseline]\nmax_regression = \"15%\"\n",
        )
        .unwrap();
        let t = p.target_plan().unwrap().unwrap();
        assert_eq!(t.spec, TargetSpec::Command(vec!["uvicorn".into(), "app:app".into()]));
        assert_eq!((t.ready_timeout, t.children), (DEFAULT_READY_TIMEOUT, true));
        let s = p.sample_plan().unwrap();
        assert_eq!((s.interval, s.gpu), (Duration::from_millis(50), GpuMode::Off));
        let l = p.leak_plan().unwrap();
        assert_eq!((l.warmup, l.settle), (Warmup::Seconds(20.0), Duration::from_secs(5)));
        assert!((l.max_growth - 2.0 * DEFAULT_MAX_GROWTH).abs() < 1e-6);
        assert_eq!(l.limit, Some(1024.0 * 1024.0 * 1024.0));
        assert_eq!(p.max_regression_pct().unwrap(), 15.0);
        // Silent tables take the defaults.
        let p = read("name = \"x\"\n").unwrap();
        assert_eq!(p.target_plan().unwrap(), None);
        assert_eq!(p.leak_plan().unwrap(), LeakPlan::default());
        assert_eq!(p.max_regression_pct().unwrap(), DEFAULT_MAX_REGRESSION_PCT);
    }

    #[test]
    fn table_errors_name_line_and_key() {
        for (text, expected) in [
            ("[target]\npid = 12\nname = \"x\"\n", "p.toml:1: target"),
            ("[target]\n\ncommand = []\n", "p.toml:3: target.command"),
            (
                "[target]\nready_timeout = \"soon\"\npid = 3\n",
                "p.toml:2: target.ready_timeout",
            ),
            (
                "[target]\npid = 3\nready_url = \"127.0.0.1:80/h\"\n",
                "p.toml:3: target.ready_url",
            ),
            ("[target]\nchildren = false\n", "say what to sample"),
            ("[sample]\ninterval = \"0s\"\n", "p.toml:2: sample.interval"),
            ("[sample]\ngpu = \"maybe\"\n", "p.toml:2"),
            ("[leak]\nwarmup = \"later\"\n", "p.toml:2: leak.warmup"),
            ("[leak]\nmax_growth = \"1MB\"\n", "p.toml:2: leak.max_growth"),
            (
                "[baseline]\nmax_regression = \"10\"\n",
                "p.toml:2: baseline.max_regression",
            ),
            ("[leak]\nsetle = \"5s\"\n", "did you mean `settle`?"),
        ] {
            let e = read(text).err().unwrap_or_else(|| panic!("{text} should be refused"));
            assert!(e.contains(expected), "{text}: expected '{expected}' in {e}");
        }
    }

    fn slos(text: &str) -> Result<Vec<crate::gate::Slo>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        LoadedProfile::read(&p)?.slos()
    }

    #[test]
    fn slo_table_is_checked_against_the_endpoints() {
        let base =
            format!("{BASE}[[load.request]]\nname = \"ask\"\npath = \"/ask\"\n[[load.request]]\npath = \"/h\"\n");
        let ok = slos(&format!(
            "{base}[slo]\n\"ask.p95\" = \"< 2.5s\"\n\"request1.error_rate\" = \"< 1%\"\n\"leak\" = \"none\"\n"
        ))
        .unwrap();
        assert_eq!(ok.len(), 3);
        let e = slos(&format!("{base}[slo]\n\"chat.p95\" = \"< 1s\"\n")).unwrap_err();
        assert!(
            e.contains("p.toml:10: slo.\"chat.p95\"") && e.contains("ask, request1"),
            "{e}"
        );
        let e = slos(&format!("{base}[slo]\n\"ask.p95\" = \"< 2GB\"\n")).unwrap_err();
        assert!(e.contains("slo.\"ask.p95\"") && e.contains("2.5s"), "{e}");
        let e = slos(&format!("{base}[slo]\n\"ask.p95\" = 3\n")).unwrap_err();
        assert!(e.contains("p.toml:10"), "{e}");
    }

    fn flame(text: &str) -> Result<Option<FlamePlan>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        LoadedProfile::read(&p)?.flame_plan()
    }

    #[test]
    fn flame_table_defaults_and_values() {
        assert_eq!(flame("name = \"x\"\n").unwrap(), None);
        assert_eq!(flame("[flame]\nprofiler = \"off\"\n").unwrap(), None);
        let p = flame("[flame]\n").unwrap().unwrap();
        assert_eq!(
            (p.profiler, p.duration, p.start_after),
            (None, DEFAULT_FLAME_DURATION, Duration::ZERO)
        );
        assert!(p.subprocesses);
        let p = flame(
            "[flame]\nprofiler = \"pprof\"\npprof_url = \"http://127.0.0.1:6060/debug/pprof/profile\"\n\
             start_after = \"10s\"\nduration = \"20s\"\nheap = true\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.profiler, Some(Profiler::Pprof));
        assert_eq!(
            (p.start_after, p.duration, p.heap),
            (Duration::from_secs(10), Duration::from_secs(20), true)
        );
        let spec = p.spec(crate::flame::Source::Pid(1));
        assert_eq!(
            spec.source,
            crate::flame::Source::Pprof("http://127.0.0.1:6060/debug/pprof/profile".into())
        );
    }

    #[test]
    fn flame_table_errors_name_line_and_key() {
        let e = flame("[flame]\nprofiler = \"pyspy\"\n").unwrap_err();
        assert!(e.contains("p.toml:2: flame.profiler") && e.contains("py-spy"), "{e}");
        let e = flame("[flame]\ndurtion = \"5s\"\n").unwrap_err();
        assert!(e.contains("did you mean `duration`?"), "{e}");
        let e = flame("[flame]\nprofiler = \"pprof\"\n").unwrap_err();
        assert!(e.contains("p.toml:2: flame.profiler") && e.contains("pprof_url"), "{e}");
        let e = flame("[flame]\nprofiler = \"perf\"\nheap = true\n").unwrap_err();
        assert!(e.contains("p.toml:3: flame.heap"), "{e}");
        let e = flame("[flame]\n\nduration = \"0s\"\n").unwrap_err();
        assert!(e.contains("p.toml:3: flame.duration"), "{e}");
        let e = flame("[flame]\npprof_url = \"127.0.0.1:6060\"\n").unwrap_err();
        assert!(e.contains("flame.pprof_url"), "{e}");
        let e = flame("[flame]\ncall_graph = \"lbr\"\n").unwrap_err();
        assert!(e.contains("flame.call_graph") && e.contains("dwarf"), "{e}");
    }

    fn read_set(text: &str, sets: &[&str]) -> Result<LoadedProfile, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        LoadedProfile::read_with(&p, &sets)
    }

    const SET_BASE: &str = "name = \"x\"\n[target]\ncommand = [\n  \"uvicorn\",\n  \"app:app\",\n]\n\
                            [load]\nbase_url = \"http://127.0.0.1:9/\"\nusers = 4\n\
                            [[load.request]]\nname = \"ask\"\n[[load.request]]\npath = \"/h\"\n\
                            [slo]\n\"ask.p95\" = \"< 1s\"\n";

    #[test]
    fn set_overrides_keys_of_every_kind() {
        let p = read_set(
            SET_BASE,
            &[
                "load.users=10",
                "target.command=[\"python3\", \"app.py\"]",
                "slo.\"ask.p95\"=< 2s",
                "slo.\"all.p95\"=< 300ms",
                "leak.settle=5s",
                "flame.duration=30s",
                "sample.interval=50ms",
                "name=y",
                "load.request.0.weight=2",
                "load.request.1.json={ a = 1 }",
                "load.duration=30s",
                "load.headers.x-api=k",
            ],
        )
        .unwrap();
        assert_eq!(p.profile.name.as_deref(), Some("y"));
        let s = p.load_spec((0, 1)).unwrap();
        assert!(matches!(s.model, ModelSpec::Closed { ref users, .. } if users.value == 10));
        assert_eq!(s.duration, Some(Duration::from_secs(30)));
        assert_eq!(s.requests[0].weight.value, 2);
        let body = s.requests[1].body.as_ref().unwrap();
        assert!(matches!(&body.value, BodySource::Json(v) if v == &serde_json::json!({ "a": 1 })));
        assert_eq!(body.at, "--set 'load.request.1.json={ a = 1 }': load.request[1].json");
        assert_eq!(s.requests[0].headers[0].value, ("x-api".to_string(), "k".to_string()));
        let t = p.target_plan().unwrap().unwrap();
        assert_eq!(t.spec, TargetSpec::Command(vec!["python3".into(), "app.py".into()]));
        let slos: Vec<(String, String)> = p.slos().unwrap().into_iter().map(|s| (s.name, s.text)).collect();
        assert_eq!(
            slos,
            [
                ("all.p95".to_string(), "< 300ms".to_string()),
                ("ask.p95".to_string(), "< 2s".to_string())
            ]
        );
        assert_eq!(p.leak_plan().unwrap().settle, Duration::from_secs(5));
        assert_eq!(p.flame_plan().unwrap().unwrap().duration, Duration::from_secs(30));
        assert_eq!(p.sample_plan().unwrap().interval, Duration::from_millis(50));
        // Values the overrides did not touch still name their lines.
        assert_eq!(
            s.base_url.at,
            "p.toml:8: load.base_url".replace("p.toml", &p.path.display().to_string())
        );
    }

    #[test]
    fn set_errors_name_the_flag() {
        let e = read_set(SET_BASE, &["load.usres=5"]).err().unwrap();
        assert!(
            e.starts_with("--set load.usres=5: load.usres: unknown field `usres`")
                && e.contains("did you mean `users`?"),
            "{e}"
        );
        let e = read_set(SET_BASE, &["load.users=many"]).err().unwrap();
        assert!(
            e.starts_with("--set load.users=many: load.users: invalid type: string"),
            "{e}"
        );
        let e = read_set(SET_BASE, &["flame.duration=0s"]).err().unwrap();
        assert!(
            e.starts_with("--set flame.duration=0s: flame.duration: must be greater than zero"),
            "{e}"
        );
        let e = read_set(SET_BASE, &["slo.\"ask.p95\"=< 2GB"]).err().unwrap();
        assert!(e.starts_with("--set 'slo.\"ask.p95\"=< 2GB': slo.\"ask.p95\": "), "{e}");
        let e = read_set(SET_BASE, &["sample.gpu=maybe"]).err().unwrap();
        assert!(e.starts_with("--set sample.gpu=maybe: sample.gpu: "), "{e}");
        // The table the override made is the override's too.
        let e = read_set("name = \"x\"\n", &["target.children=false"]).err().unwrap();
        assert!(
            e.starts_with("--set target.children=false: target: say what to sample"),
            "{e}"
        );
    }

    #[test]
    fn errors_after_an_override_keep_the_file_line() {
        let text = format!("{SET_BASE}[leak]\nmax_growth = \"1MB\"\n");
        // A new line above the bad one, and a multi-line value made one line.
        for sets in [
            &["load.duration=30s"][..],
            &["target.command=[\"python3\"]", "name=y", "load.request.0.weight=2"],
        ] {
            let e = read_set(&text, sets).err().unwrap();
            assert!(e.contains("p.toml:17: leak.max_growth"), "{sets:?}: {e}");
        }
        let e = read_set(
            &format!("{SET_BASE}[leak]\nsetle = \"5s\"\n"),
            &["load.users=3", "leak.warmup=5s"],
        )
        .err()
        .unwrap();
        assert!(
            e.contains("p.toml:17:1: ") && e.contains("did you mean `settle`?"),
            "{e}"
        );
    }

    #[test]
    fn bad_overrides_are_refused() {
        for (set, expected) in [
            (
                "load.users",
                "--set 'load.users': expected KEY=VALUE, e.g. --set load.users=10",
            ),
            ("=10", "--set =10: the key is empty"),
            (
                "load.users.x=1",
                "--set load.users.x=1: load.users is an integer, not a table",
            ),
            (
                "load.base_url.0.x=1",
                "--set load.base_url.0.x=1: load.base_url is a string, not an array of tables",
            ),
            (
                "load.request.5.weight=2",
                "--set load.request.5.weight=2: index 5 is out of range: there are 2 [[load.request]] tables",
            ),
            ("load.request.weight=2", "pick one by its index"),
            ("slo=3", "--set slo=3: slo is a table; set one of its keys"),
        ] {
            let e = read_set(SET_BASE, &[set])
                .err()
                .unwrap_or_else(|| panic!("{set} should be refused"));
            assert!(e.contains(expected), "{set}: expected '{expected}' in {e}");
        }
        // The file's own syntax errors still name its line.
        let e = read_set("name = \"x\"\n[load\n", &["name=y"]).err().unwrap();
        assert!(e.contains("p.toml:2:"), "{e}");
    }

    #[test]
    fn zero_limits_and_lengths_are_refused() {
        for (key, line) in [
            ("duration", "load.duration"),
            ("timeout", "load.timeout"),
            ("stream_timeout", "load.stream_timeout"),
        ] {
            let e = load(&format!(
                "[load]\nbase_url = \"http://127.0.0.1:9/\"\n{key} = \"0s\"\n[[load.request]]\npath = \"/\"\n"
            ))
            .unwrap_err();
            assert!(
                e.ends_with(&format!("p.toml:3: {line}: must be greater than zero, e.g. \"30s\"")),
                "{key}: {e}"
            );
        }
        let e = read("[target]\npid = 1\nready_timeout = \"0ms\"\n").err().unwrap();
        assert!(
            e.ends_with("p.toml:3: target.ready_timeout: must be greater than zero, e.g. \"30s\""),
            "{e}"
        );
        let e = read("[leak]\nlimit = \"0MB\"\n").err().unwrap();
        assert!(
            e.ends_with("p.toml:2: leak.limit: must be greater than zero, e.g. \"2GB\""),
            "{e}"
        );
        let e = read("[llm]\nmodels = [\"m\"]\ntimeout = \"0\"\n").err().unwrap();
        assert!(
            e.ends_with("p.toml:3: llm.timeout: must be greater than zero, e.g. \"30s\""),
            "{e}"
        );
    }

    #[test]
    fn type_errors_name_the_key() {
        let cases = [
            (
                "[load]\nbase_url = \"http://h/\"\nusers = \"four\"\n",
                "p.toml:3:9: load.users: invalid type: string \"four\"",
            ),
            (
                "[load]\nbase_url = \"http://h/\"\n[[load.request]]\npath = \"/\"\n[[load.request]]\nweight = \"heavy\"\n",
                "p.toml:6:10: load.request[1].weight: invalid type",
            ),
            ("[flame]\nrate = -3\n", "p.toml:2:8: flame.rate: invalid value"),
            (
                "[llm]\nmodels = [\"a\", 3]\n",
                "p.toml:2:16: llm.models[1]: invalid type: integer",
            ),
            (
                "[slo]\n\"ask.p95\" = 3\n",
                "p.toml:2:13: slo.\"ask.p95\": invalid type: integer",
            ),
            (
                "load.users = true\nload.base_url = \"u\"\n",
                "p.toml:1:14: load.users: invalid type: boolean",
            ),
        ];
        for (text, expected) in cases {
            let e = read(text).err().unwrap();
            assert!(e.contains(expected), "expected '{expected}' in: {e}");
        }
    }

    #[test]
    fn key_paths_reach_into_arrays_and_inline_tables() {
        let text = "a = 1\n[t]\nx = { y = [1, { z = 2 }] }\n[[r]]\n[[r]]\nw = 3\n";
        let at = |needle: &str| key_at(text, text.find(needle).unwrap());
        assert_eq!(at("1\n").as_deref(), Some("a"));
        assert_eq!(at("2 }").as_deref(), Some("t.x.y[1].z"));
        assert_eq!(at("3").as_deref(), Some("r[1].w"));
        assert_eq!(key_at("a = [", 2), None);
    }

    #[test]
    fn from_text_reads_no_file_and_never_panics_on_odd_text() {
        let path = Path::new("/nonexistent/é.toml");
        let p = LoadedProfile::from_text(path, "[llm]\nmodels = [\"m\"]\nprompts_file = \"no.txt\"\n".into(), &[]);
        assert!(p.is_ok(), "{:?}", p.err());
        let texts = [
            "",
            "é",
            "\u{feff}name = \"x\"",
            "[load]\nbase_url = \"ü\"\nusers = \"fünf\"\n",
            "name = \"日本語\"\n[load\n",
            "[[load.request]]\nname = \"ä\"\n[[load.request]]\nweight = \"ß\"\n",
            "x = \"\u{1F600}\"\u{1F600}\n",
            "[slo]\n\"ä.p95\" = \"< ∞\"\n",
        ];
        let sets = [
            "",
            "=",
            "é",
            "é=ü",
            "=é",
            "load.é=1",
            "\"é\".\"ü\"=\"日本\"",
            "load.request.0.weight=ä",
            "load.request.9.name=x",
            "load.users=\u{1F600}",
            "'a.b'=1",
            "a.\"\"=1",
            "slo.\"x=1",
        ];
        for text in texts {
            for set in sets {
                for overrides in [
                    vec![],
                    vec![set.to_string()],
                    vec![set.to_string(), "name=ñ".to_string()],
                ] {
                    let r = LoadedProfile::from_text(path, text.to_string(), &overrides);
                    if let Err(e) = r {
                        assert!(!e.is_empty());
                    }
                }
            }
        }
        assert_eq!(line_col("aé\nüx", 2), (1, 2));
        assert_eq!(line_col("aé\nüx", 6), (2, 2));
        assert_eq!(line_col("aé", 99), (1, 3));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Profile text and overrides made of TOML's punctuation, keys the
        /// profile knows and multi-byte characters give a profile or an
        /// error, never a panic.
        #[test]
        fn from_text_never_panics(
            text in "([\\[\\]=\"'.,{}\n #0-9a-z_é日\u{1F600}]|load|request|users|base_url|slo|llm|models){0,60}",
            sets in proptest::collection::vec("([\\[\\]=\"'.,{} 0-9a-zé日]|load|request|users){0,12}", 0..3),
        ) {
            let _ = LoadedProfile::from_text(Path::new("p.toml"), text, &sets);
        }
    }

    #[test]
    fn hint_needs_a_close_candidate() {
        assert_eq!(
            with_hint("unknown field `zzzzzz`, expected `rate` or `users`"),
            "unknown field `zzzzzz`, expected `rate` or `users`"
        );
        assert!(with_hint("unknown field `rat`, expected `rate` or `users`").ends_with("did you mean `rate`?"));
    }
}
