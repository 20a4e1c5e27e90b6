//! Judging a run: SLO expressions (`"ask.p95" = "< 2.5s"`) and the
//! comparison with a baseline run. Pure: metric names and thresholds are
//! parsed and checked here, the observed values come from the caller.

use std::fmt;

pub mod observe;

use crate::config::units::{parse_byte_rate, parse_duration, parse_size};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// What a metric measures, which fixes the units its threshold may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; thresholds in durations (`2.5s`, `600ms`).
    Ms,
    /// A fraction of one; thresholds in percent (`98%`).
    Ratio,
    /// Requests per second; thresholds as numbers (`100`, `100/s`).
    PerSecond,
    /// Bytes; thresholds in sizes (`2GB`).
    Bytes,
    /// Bytes per second; thresholds in byte rates (`1MB/min`).
    BytesPerSecond,
    /// A count (threads); thresholds as numbers.
    Count,
    /// Percent of one core (CPU); thresholds as numbers or percent.
    CpuPercent,
    /// Seconds (a server metric named `_seconds`); thresholds as numbers
    /// of seconds or as durations (`< 0.3`, `< 300ms`).
    Seconds,
    /// A number in the server metric's own unit.
    Number,
    /// The leak verdict; the only threshold is `none`.
    Verdict,
}

impl Unit {
    /// The unit's name in result.json's `slo[].unit`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Ratio => "ratio",
            Unit::PerSecond => "per_s",
            Unit::Bytes => "bytes",
            Unit::BytesPerSecond => "bytes_per_s",
            Unit::Count => "count",
            Unit::CpuPercent => "percent",
            Unit::Seconds => "s",
            Unit::Number => "number",
            Unit::Verdict => "verdict",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Unit::Ms => "\"< 2.5s\" or \"<= 600ms\"",
            Unit::Ratio => "\">= 98%\" or \"< 1%\"",
            Unit::PerSecond => "\">= 100\" or \">= 100/s\"",
            Unit::Bytes => "\"< 2GB\"",
            Unit::BytesPerSecond => "\"< 1MB/min\"",
            Unit::Count => "\"< 200\"",
            Unit::CpuPercent => "\"< 150\" (percent of one core)",
            Unit::Seconds => "\"< 0.3\" or \"< 300ms\"",
            Unit::Number => "\"< 0.3\" (in the metric's own unit)",
            Unit::Verdict => "\"none\"",
        }
    }
}

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

/// What is taken of a server series over the load window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServerAgg {
    /// Counters: per-second rate, and increase, as PromQL's.
    Rate,
    Increase,
    /// Histograms: `histogram_quantile` of the buckets' increase.
    Quantile(f64),
    /// Gauges (and queries): over the samples in the window.
    Max,
    Mean,
    Last,
}

impl ServerAgg {
    fn parse(s: &str) -> Option<ServerAgg> {
        Some(match s {
            "rate" => ServerAgg::Rate,
            "increase" => ServerAgg::Increase,
            "p50" => ServerAgg::Quantile(0.5),
            "p90" => ServerAgg::Quantile(0.9),
            "p95" => ServerAgg::Quantile(0.95),
            "p99" => ServerAgg::Quantile(0.99),
            "p999" => ServerAgg::Quantile(0.999),
            "max" => ServerAgg::Max,
            "mean" => ServerAgg::Mean,
            "last" => ServerAgg::Last,
            _ => return None,
        })
    }
}

/// Reads `server.METRIC.<agg>` (METRIC a name, or a selector in single
/// quotes: `server.'errors_total{kind="x"}'.rate`).
fn server_metric(name: &str, rest: &str) -> Result<Metric, String> {
    let (selector, agg) = match rest.strip_prefix('\'') {
        Some(quoted) => {
            let end = quoted
                .find('\'')
                .ok_or_else(|| format!("'{name}': the quoted selector has no closing '"))?;
            let agg = quoted[end + 1..]
                .strip_prefix('.')
                .ok_or_else(|| format!("'{name}': put .<rate|increase|p95|max|mean|last> after the quoted selector"))?;
            (&quoted[..end], agg)
        }
        None => rest
            .rsplit_once('.')
            .ok_or_else(|| format!("'{name}': expected server.METRIC.<rate|increase|p50|p90|p95|p99|max|mean|last>"))?,
    };
    let selector = crate::metrics::selector::Selector::parse(selector).map_err(|e| format!("'{name}': {e}"))?;
    let agg = ServerAgg::parse(agg).ok_or_else(|| {
        format!("'{name}': '{agg}' is not one of rate, increase, p50, p90, p95, p99, p999, max, mean, last")
    })?;
    Ok(Metric::Server { selector, agg })
}

/// A metric an SLO can name.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// `<endpoint|all>.<stat>`: whole-answer latency.
    Latency {
        endpoint: Option<String>,
        stat: Stat,
    },
    /// `<endpoint|all>.first_chunk.<stat>`: time to the first streamed chunk.
    FirstChunk {
        endpoint: Option<String>,
        stat: Stat,
    },
    /// `<endpoint|all>.rps`.
    Rps {
        endpoint: Option<String>,
    },
    /// `<endpoint|all>.error_rate`.
    ErrorRate {
        endpoint: Option<String>,
    },
    /// `<endpoint|all>.success_rate`.
    SuccessRate {
        endpoint: Option<String>,
    },
    /// `<endpoint|all>.check_fail_rate`.
    CheckFailRate {
        endpoint: Option<String>,
    },
    /// `<poll step>.turnaround.<stat>`: until the poll's condition held.
    Turnaround {
        endpoint: String,
        stat: Stat,
    },
    /// `<poll step>.attempts.<p50|p90|p95|p99|max|mean>`: requests per poll.
    Attempts {
        endpoint: String,
        stat: Stat,
    },
    /// `<scenario>.flow.<stat>`, or `<scenario>.flow.active.<stat>` (time in requests).
    Flow {
        scenario: String,
        active: bool,
        stat: Stat,
    },
    /// `<scenario>.iterations`: iterations that ran to an end.
    Iterations {
        scenario: String,
    },
    /// `<scenario>.iteration_fail_rate`.
    IterationFailRate {
        scenario: String,
    },
    /// `server.METRIC.<agg>`: the target's own scraped series over the load
    /// window, the selected series summed (`max` takes the largest).
    Server {
        selector: crate::metrics::selector::Selector,
        agg: ServerAgg,
    },
    /// `metrics.QUERY.<max|mean|last>`: a `[metrics.queries]` entry.
    Query {
        name: String,
        agg: ServerAgg,
    },
    RssMax,
    RssSlope,
    ThreadsMax,
    CpuMean,
    GpuMemMax,
    Leak,
}

impl Metric {
    /// Reads a metric name. `endpoints` are the names a profile defines;
    /// any other endpoint is an error that lists them.
    pub fn parse(name: &str, endpoints: &[&str], scenarios: &[&str]) -> Result<Metric, String> {
        let fixed = match name {
            "rss.max" => Some(Metric::RssMax),
            "rss.slope" => Some(Metric::RssSlope),
            "threads.max" => Some(Metric::ThreadsMax),
            "cpu.mean" => Some(Metric::CpuMean),
            "gpu_mem.max" => Some(Metric::GpuMemMax),
            "leak" => Some(Metric::Leak),
            _ => None,
        };
        if let Some(m) = fixed {
            return Ok(m);
        }
        if let Some(rest) = name.strip_prefix("server.") {
            return server_metric(name, rest);
        }
        if let Some(rest) = name.strip_prefix("metrics.") {
            let (query, agg) = rest
                .rsplit_once('.')
                .ok_or_else(|| format!("'{name}': expected metrics.QUERY.<max|mean|last>"))?;
            return match ServerAgg::parse(agg) {
                Some(agg @ (ServerAgg::Max | ServerAgg::Mean | ServerAgg::Last)) if !query.is_empty() => {
                    Ok(Metric::Query {
                        name: query.to_string(),
                        agg,
                    })
                }
                _ => Err(format!("'{name}': a query's SLO is metrics.QUERY.<max|mean|last>")),
            };
        }
        let stat = |s: &str| match s {
            "p50" => Some(Stat::P50),
            "p90" => Some(Stat::P90),
            "p95" => Some(Stat::P95),
            "p99" => Some(Stat::P99),
            "p999" => Some(Stat::P999),
            "max" => Some(Stat::Max),
            "mean" => Some(Stat::Mean),
            _ => None,
        };
        // A journey's step is `SCENARIO.STEP`: the longest name that prefixes the metric.
        let longest = |names: &[&str]| -> Option<(String, String)> {
            names
                .iter()
                .filter(|n| name.len() > n.len() + 1 && name.starts_with(**n) && name.as_bytes()[n.len()] == b'.')
                .max_by_key(|n| n.len())
                .map(|n| (n.to_string(), name[n.len() + 1..].to_string()))
        };
        if let Some((ep, rest)) = longest(endpoints) {
            let poll = |prefix: &str| rest.strip_prefix(prefix).and_then(stat);
            if let Some(stat) = poll("turnaround.") {
                return Ok(Metric::Turnaround { endpoint: ep, stat });
            }
            if let Some(stat) = poll("attempts.") {
                return Ok(Metric::Attempts { endpoint: ep, stat });
            }
        }
        if let Some((scenario, rest)) = longest(scenarios)
            && longest(endpoints).is_none()
        {
            let metric = match rest.as_str() {
                "iterations" => Some(Metric::Iterations {
                    scenario: scenario.clone(),
                }),
                "iteration_fail_rate" => Some(Metric::IterationFailRate {
                    scenario: scenario.clone(),
                }),
                r => match r.strip_prefix("flow.active.").map(stat) {
                    Some(s) => s.map(|stat| Metric::Flow {
                        scenario: scenario.clone(),
                        active: true,
                        stat,
                    }),
                    None => r.strip_prefix("flow.").and_then(stat).map(|stat| Metric::Flow {
                        scenario: scenario.clone(),
                        active: false,
                        stat,
                    }),
                },
            };
            return metric.ok_or_else(|| {
                format!(
                    "'{name}': scenario '{scenario}' has <scenario>.flow.<p50|p90|p95|p99|p999|max|mean>, \
                     <scenario>.flow.active.<stat>, <scenario>.iterations and <scenario>.iteration_fail_rate; \
                     its steps are <scenario>.<step>.<stat>"
                )
            });
        }
        let (endpoint, rest) = match longest(endpoints) {
            Some((e, rest)) => (Some(e), rest),
            None => {
                let (endpoint, rest) = name.split_once('.').ok_or_else(|| unknown_metric(name))?;
                if endpoint != "all" {
                    let list = |names: &[&str]| {
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    };
                    return Err(if scenarios.is_empty() {
                        format!(
                            "'{name}': no endpoint is named '{endpoint}'; the profile's endpoints are {}, or use 'all'",
                            list(endpoints)
                        )
                    } else {
                        format!(
                            "'{name}': no endpoint or scenario is named '{endpoint}'; the profile's scenarios are {}, its endpoints {}, or use 'all'",
                            list(scenarios),
                            list(endpoints)
                        )
                    });
                }
                (None, rest.to_string())
            }
        };
        let rest = rest.as_str();
        let metric = match rest {
            "rps" => Metric::Rps { endpoint },
            "error_rate" => Metric::ErrorRate { endpoint },
            "success_rate" => Metric::SuccessRate { endpoint },
            "check_fail_rate" => Metric::CheckFailRate { endpoint },
            other => match other.strip_prefix("first_chunk.") {
                Some(s) => Metric::FirstChunk {
                    endpoint,
                    stat: stat(s).ok_or_else(|| unknown_metric(name))?,
                },
                None => Metric::Latency {
                    endpoint,
                    stat: stat(other).ok_or_else(|| unknown_metric(name))?,
                },
            },
        };
        Ok(metric)
    }

    pub fn unit(&self) -> Unit {
        match self {
            Metric::Latency { .. } | Metric::FirstChunk { .. } | Metric::Turnaround { .. } | Metric::Flow { .. } => {
                Unit::Ms
            }
            Metric::Attempts { .. } | Metric::Iterations { .. } => Unit::Count,
            Metric::Server { selector, agg } => {
                let n = selector.name.as_str();
                let base = n
                    .strip_suffix("_total")
                    .or_else(|| n.strip_suffix("_sum"))
                    .or_else(|| n.strip_suffix("_count"))
                    .or_else(|| n.strip_suffix("_bucket"))
                    .unwrap_or(n);
                match agg {
                    ServerAgg::Rate => Unit::Number,
                    _ if n.ends_with("_count") => Unit::Number,
                    _ if base.ends_with("_seconds") => Unit::Seconds,
                    _ if base.ends_with("_bytes") => Unit::Bytes,
                    _ => Unit::Number,
                }
            }
            Metric::Query { .. } => Unit::Number,
            Metric::IterationFailRate { .. } => Unit::Ratio,
            Metric::Rps { .. } => Unit::PerSecond,
            Metric::ErrorRate { .. } | Metric::SuccessRate { .. } | Metric::CheckFailRate { .. } => Unit::Ratio,
            Metric::RssMax | Metric::GpuMemMax => Unit::Bytes,
            Metric::RssSlope => Unit::BytesPerSecond,
            Metric::ThreadsMax => Unit::Count,
            Metric::CpuMean => Unit::CpuPercent,
            Metric::Leak => Unit::Verdict,
        }
    }
}

fn unknown_metric(name: &str) -> String {
    format!(
        "'{name}' is not a metric; use <endpoint|all>.<p50|p90|p95|p99|p999|max|mean|rps|error_rate|success_rate|check_fail_rate>, \
         <endpoint|all>.first_chunk.<p50|p90|p95|p99|p999|max|mean>, rss.max, rss.slope, threads.max, cpu.mean, gpu_mem.max, leak, \
         server.METRIC.<rate|increase|p95|max|mean|last> or metrics.QUERY.<max|mean|last>"
    )
}

/// What an SLO demands of its metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expr {
    /// `op limit`, the limit in the metric's unit.
    Compare { op: Op, limit: f64 },
    /// `none`: no leak.
    NoLeak,
}

impl Expr {
    /// Reads an expression for a metric of `unit`: `< 2.5s`, `>= 98%`,
    /// `< 2GB`, `< 1MB/min`, `>= 100`, `none`.
    pub fn parse(text: &str, unit: Unit) -> Result<Expr, String> {
        let t = text.trim();
        if unit == Unit::Verdict {
            return if t == "none" {
                Ok(Expr::NoLeak)
            } else {
                Err(format!("'{t}': the leak SLO takes only \"none\""))
            };
        }
        let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
            .iter()
            .find_map(|(sym, op)| t.strip_prefix(sym).map(|r| (*op, r.trim())))
            .ok_or_else(|| format!("'{t}': start with <, <=, > or >=, e.g. {}", unit.example()))?;
        let bad = |e: String| format!("'{t}': {e}; e.g. {}", unit.example());
        let limit = match unit {
            Unit::Ms => parse_duration(rest).map_err(|e| bad(e.to_string()))?.as_secs_f64() * 1000.0,
            Unit::Ratio => percent(rest).map_err(bad)? / 100.0,
            Unit::CpuPercent => match rest.strip_suffix('%') {
                Some(p) => number(p).map_err(bad)?,
                None => number(rest).map_err(bad)?,
            },
            Unit::PerSecond => number(rest.strip_suffix("/s").unwrap_or(rest)).map_err(bad)?,
            Unit::Count | Unit::Number => number(rest).map_err(bad)?,
            Unit::Seconds => match number(rest) {
                Ok(n) => n,
                Err(_) => parse_duration(rest).map_err(|e| bad(e.to_string()))?.as_secs_f64(),
            },
            Unit::Bytes => parse_size(rest).map_err(bad)?,
            Unit::BytesPerSecond => parse_byte_rate(rest).map_err(bad)?,
            Unit::Verdict => unreachable!("handled above"),
        };
        Ok(Expr::Compare { op, limit })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { op, limit } => write!(f, "{} {limit}", op.symbol()),
            Expr::NoLeak => f.write_str("none"),
        }
    }
}

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("'{}' is not a number", s.trim()))
}

fn percent(s: &str) -> Result<f64, String> {
    let p = s
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("'{}' is not a percentage", s.trim()))?;
    let v = number(p)?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v}% is outside 0-100%"))
    }
}

/// An SLO as a profile states it: a metric and an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub name: String,
    pub text: String,
    pub metric: Metric,
    pub expr: Expr,
}

impl Slo {
    /// Reads `"name" = "expr"`, checking both and that they fit together.
    pub fn parse(name: &str, text: &str, endpoints: &[&str], scenarios: &[&str]) -> Result<Slo, String> {
        let metric = Metric::parse(name, endpoints, scenarios)?;
        let expr = Expr::parse(text, metric.unit())?;
        Ok(Slo {
            name: name.to_string(),
            text: text.trim().to_string(),
            metric,
            expr,
        })
    }

    /// Judges the SLO on the observed value: a number in the metric's unit,
    /// or for `leak` 1.0 for a leak and 0.0 for none. A metric that was not
    /// measured fails, so a missing measurement never passes silently.
    pub fn judge(&self, observed: Option<f64>) -> SloResult {
        let pass = match (self.expr, observed) {
            (_, None) => false,
            (Expr::NoLeak, Some(v)) => v == 0.0,
            (Expr::Compare { op, limit }, Some(v)) => op.holds(v, limit),
        };
        SloResult {
            name: self.name.clone(),
            expr: self.text.clone(),
            observed,
            unit: self.metric.unit().name().to_string(),
            pass,
        }
    }
}

/// One SLO's verdict (`slo[]` in result.json).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SloResult {
    pub name: String,
    pub expr: String,
    pub observed: Option<f64>,
    pub unit: String,
    pub pass: bool,
}

impl SloResult {
    /// `ask.p95 < 2s (observed 2512.0 ms)`, for a line of text.
    pub fn described(&self) -> String {
        format!(
            "{} {} (observed {})",
            self.name,
            self.expr,
            crate::report::verdicts::show(self.observed, &self.unit)
        )
    }
}

/// Whether a metric is better when it is lower (latency, memory) or higher
/// (throughput).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One metric compared with the baseline (`baseline.comparisons[]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
    /// The change from the baseline, in percent of it.
    pub change_pct: f64,
    pub allowed_pct: f64,
    pub pass: bool,
}

/// Compares `current` with `baseline`: a change in the bad direction beyond
/// `allowed_pct` percent of the baseline fails. A zero baseline passes
/// unless the current value is worse at all.
pub fn compare(metric: &str, baseline: f64, current: f64, better: Better, allowed_pct: f64) -> Comparison {
    let change_pct = if baseline == 0.0 {
        if current == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(current)
        }
    } else {
        100.0 * (current - baseline) / baseline.abs()
    };
    let worse_pct = match better {
        Better::Lower => change_pct,
        Better::Higher => -change_pct,
    };
    Comparison {
        metric: metric.to_string(),
        baseline,
        current,
        change_pct,
        allowed_pct,
        pass: worse_pct <= allowed_pct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: [&str; 2] = ["ask", "search"];

    #[test]
    fn metric_names() {
        assert_eq!(
            Metric::parse("ask.p95", &EPS, &[]).unwrap(),
            Metric::Latency {
                endpoint: Some("ask".into()),
                stat: Stat::P95
            }
        );
        assert_eq!(
            Metric::parse("all.first_chunk.p99", &EPS, &[]).unwrap(),
            Metric::FirstChunk {
                endpoint: None,
                stat: Stat::P99
            }
        );
        assert_eq!(
            Metric::parse("all.success_rate", &EPS, &[]).unwrap().unit(),
            Unit::Ratio
        );
        assert_eq!(Metric::parse("rss.slope", &EPS, &[]).unwrap(), Metric::RssSlope);
        let e = Metric::parse("chat.p95", &EPS, &[]).unwrap_err();
        assert!(e.contains("ask, search") && e.contains("'chat'"), "{e}");
        let e = Metric::parse("ask.p97", &EPS, &[]).unwrap_err();
        assert!(e.contains("is not a metric"), "{e}");
        assert!(Metric::parse("latency", &EPS, &[]).is_err());
        assert!(Metric::parse("ask.first_chunk.rps", &EPS, &[]).is_err());
    }

    #[test]
    fn server_and_query_metrics_take_their_unit_from_the_name() {
        let slo = |name: &str, expr: &str| Slo::parse(name, expr, &EPS, &[]);
        let s = slo(r#"server.'retrieval_latency_seconds{route="/ask"}'.p95"#, "< 300ms").unwrap();
        assert_eq!(s.metric.unit(), Unit::Seconds);
        assert_eq!(s.expr, Expr::Compare { op: Op::Lt, limit: 0.3 });
        assert_eq!(
            slo("server.retrieval_latency_seconds.p95", "< 0.3").unwrap().expr,
            s.expr
        );
        assert_eq!(
            slo("server.process_resident_memory_bytes.max", "< 2GB")
                .unwrap()
                .metric
                .unit(),
            Unit::Bytes
        );
        let rate = slo(r#"server.'retrieval_errors_total{kind="openai_error"}'.rate"#, "< 0.5").unwrap();
        assert_eq!(rate.metric.unit(), Unit::Number);
        let Metric::Server { selector, agg } = &rate.metric else {
            panic!()
        };
        assert_eq!(
            (selector.name.as_str(), *agg),
            ("retrieval_errors_total", ServerAgg::Rate)
        );
        assert_eq!(
            slo("server.http_requests_total.increase", ">= 100")
                .unwrap()
                .metric
                .unit(),
            Unit::Number
        );
        assert_eq!(
            slo("metrics.retrieval_p95.max", "< 1.2").unwrap().metric,
            Metric::Query {
                name: "retrieval_p95".into(),
                agg: ServerAgg::Max
            }
        );
        for (name, expect) in [
            ("server.x.p97", "'p97' is not one of"),
            ("server.'x{a=\"b\"}.rate", "no closing '"),
            ("server.'x'rate", "after the quoted selector"),
            ("server.9x.rate", "not a metric name"),
            ("metrics.q.rate", "metrics.QUERY.<max|mean|last>"),
        ] {
            let e = Metric::parse(name, &EPS, &[]).unwrap_err();
            assert!(e.contains(expect), "{name}: {e}");
        }
    }

    #[test]
    fn expressions_take_the_metrics_units() {
        assert_eq!(
            Expr::parse("< 2.5s", Unit::Ms).unwrap(),
            Expr::Compare {
                op: Op::Lt,
                limit: 2500.0
            }
        );
        assert_eq!(
            Expr::parse(">= 98%", Unit::Ratio).unwrap(),
            Expr::Compare {
                op: Op::Ge,
                limit: 0.98
            }
        );
        assert_eq!(
            Expr::parse("<2GB", Unit::Bytes).unwrap(),
            Expr::Compare {
                op: Op::Lt,
                limit: 2.0 * 1024.0 * 1024.0 * 1024.0
            }
        );
        assert_eq!(
            Expr::parse("> 100/s", Unit::PerSecond).unwrap(),
            Expr::Compare {
                op: Op::Gt,
                limit: 100.0
            }
        );
        assert_eq!(Expr::parse("none", Unit::Verdict).unwrap(), Expr::NoLeak);
        let slope = Expr::parse("< 1MB/min", Unit::BytesPerSecond).unwrap();
        assert!(matches!(slope, Expr::Compare { op: Op::Lt, limit } if (limit - 1048576.0 / 60.0).abs() < 1e-6));
        for (bad, unit) in [
            ("2.5s", Unit::Ms),
            ("< 98", Unit::Ratio),
            ("< 120%", Unit::Ratio),
            ("< fast", Unit::Ms),
            ("< 2GB", Unit::Ms),
            ("some", Unit::Verdict),
        ] {
            let e = Expr::parse(bad, unit).unwrap_err();
            assert!(e.contains(bad.trim()) || e.contains("none"), "{bad}: {e}");
        }
    }

    #[test]
    fn judging_and_missing_measurements() {
        let slo = Slo::parse("ask.p95", "< 2.5s", &EPS, &[]).unwrap();
        assert!(slo.judge(Some(2400.0)).pass);
        assert!(!slo.judge(Some(2500.0)).pass);
        let missing = slo.judge(None);
        assert!(!missing.pass, "an SLO whose metric was not measured fails");
        assert_eq!(missing.unit, "ms");
        let leak = Slo::parse("leak", "none", &EPS, &[]).unwrap();
        assert!(leak.judge(Some(0.0)).pass && !leak.judge(Some(1.0)).pass);
        let ok = Slo::parse("all.success_rate", ">= 98%", &EPS, &[]).unwrap();
        assert!(ok.judge(Some(0.99)).pass && !ok.judge(Some(0.97)).pass);
    }

    #[test]
    fn baseline_regressions_by_direction() {
        // p95 up 12% with 10% allowed: a regression.
        let c = compare("ask.p95", 100.0, 112.0, Better::Lower, 10.0);
        assert!(!c.pass && (c.change_pct - 12.0).abs() < 1e-9);
        // p95 down 30%: better, passes.
        assert!(compare("ask.p95", 100.0, 70.0, Better::Lower, 10.0).pass);
        // rps down 15%: a regression; up: fine.
        assert!(!compare("rps", 200.0, 170.0, Better::Higher, 10.0).pass);
        assert!(compare("rps", 200.0, 260.0, Better::Higher, 10.0).pass);
        // A zero baseline: any growth of a lower-is-better metric fails.
        assert!(!compare("rss.slope", 0.0, 5.0, Better::Lower, 10.0).pass);
        assert!(compare("rss.slope", 0.0, 0.0, Better::Lower, 10.0).pass);
    }
}
