//! Reading a metric's value out of a result.json document (DESIGN.md's
//! layout), so the same code judges a run as it ends and a stored result
//! (`loadprof gate`), and compares two results for the baseline.

use serde_json::Value;

use super::{Better, Comparison, Metric, Stat, compare};

fn stat_key(stat: Stat) -> &'static str {
    match stat {
        Stat::P50 => "p50_ms",
        Stat::P90 => "p90_ms",
        Stat::P95 => "p95_ms",
        Stat::P99 => "p99_ms",
        Stat::P999 => "p999_ms",
        Stat::Max => "max_ms",
        Stat::Mean => "mean_ms",
    }
}

fn endpoint<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["load"]["endpoints"].as_array()?.iter().find(|e| e["name"] == name)
}

fn scenario<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["load"]["scenarios"].as_array()?.iter().find(|s| s["name"] == name)
}

/// A poll's attempts block keys its statistics without a unit.
fn count_key(stat: Stat) -> &'static str {
    stat_key(stat).trim_end_matches("_ms")
}

fn endpoints(doc: &Value) -> &[Value] {
    doc["load"]["endpoints"].as_array().map_or(&[], Vec::as_slice)
}

/// A count over the requests of an endpoint, or of all of them.
fn share(doc: &Value, ep: &Option<String>, count: impl Fn(&Value) -> Option<f64>) -> Option<f64> {
    let (num, den) = match ep {
        Some(name) => {
            let e = endpoint(doc, name)?;
            (count(e)?, e["requests"].as_f64()?)
        }
        None => endpoints(doc).iter().try_fold((0.0, 0.0), |(n, d), e| {
            Some((n + count(e)?, d + e["requests"].as_f64()?))
        })?,
    };
    (den > 0.0).then(|| num / den)
}

/// Requests that failed as requests (connect, timeout, status, io): a body
/// check that missed is a check failure, not a failed request, as k6
/// keeps `checks` apart from `http_req_failed`.
fn failed(e: &Value) -> Option<f64> {
    Some((e["errors"].as_f64()? - e["check_failures"].as_f64().unwrap_or(0.0)).max(0.0))
}

/// The value of `metric` in `doc`, in the metric's unit (see
/// [`super::Unit`]); for `leak`, 1 for a leak and 0 otherwise. None when the
/// run did not measure it. `all.first_chunk.*` is the worst endpoint's.
pub fn observe(metric: &Metric, doc: &Value) -> Option<f64> {
    let load = &doc["load"];
    match metric {
        Metric::Latency { endpoint: None, stat } => load["latency"][stat_key(*stat)].as_f64(),
        Metric::Latency {
            endpoint: Some(ep),
            stat,
        } => endpoint(doc, ep)?["latency"][stat_key(*stat)].as_f64(),
        Metric::FirstChunk {
            endpoint: Some(ep),
            stat,
        } => endpoint(doc, ep)?["first_chunk"][stat_key(*stat)].as_f64(),
        Metric::FirstChunk { endpoint: None, stat } => endpoints(doc)
            .iter()
            .filter_map(|e| e["first_chunk"][stat_key(*stat)].as_f64())
            .reduce(f64::max),
        Metric::Rps { endpoint: None } => load["totals"]["rps"].as_f64(),
        Metric::Rps { endpoint: Some(ep) } => {
            let secs = load["duration_s"].as_f64().filter(|s| *s > 0.0)?;
            Some(endpoint(doc, ep)?["requests"].as_f64()? / secs)
        }
        Metric::ErrorRate { endpoint } => share(doc, endpoint, failed),
        Metric::SuccessRate { endpoint } => share(doc, endpoint, failed).map(|e| 1.0 - e),
        Metric::CheckFailRate { endpoint } => share(doc, endpoint, |e| e["check_failures"].as_f64()),
        Metric::Turnaround { endpoint: ep, stat } => endpoint(doc, ep)?["turnaround"][stat_key(*stat)].as_f64(),
        Metric::Attempts { endpoint: ep, stat } => endpoint(doc, ep)?["attempts"][count_key(*stat)].as_f64(),
        Metric::Flow {
            scenario: sc,
            active,
            stat,
        } => scenario(doc, sc)?[if *active { "active" } else { "flow" }][stat_key(*stat)].as_f64(),
        Metric::Iterations { scenario: sc } => scenario(doc, sc)?["iterations"].as_f64(),
        Metric::IterationFailRate { scenario: sc } => scenario(doc, sc)?["iteration_fail_rate"].as_f64(),
        Metric::RssMax => doc["resources"]["rss_bytes"]["max"].as_f64(),
        Metric::RssSlope => doc["leak"]["slope_bytes_per_s"].as_f64(),
        Metric::ThreadsMax => doc["resources"]["threads"]["max"].as_f64(),
        Metric::CpuMean => doc["resources"]["cpu_percent"]["mean"].as_f64(),
        Metric::GpuMemMax => doc["resources"]["gpu_mem_bytes"]["max"].as_f64(),
        Metric::Leak => doc["leak"]["verdict"]
            .as_str()
            .map(|v| if v == "leak" { 1.0 } else { 0.0 }),
    }
}

/// Compares `current` with `baseline`: each endpoint's p95 (both runs have
/// it), the overall rps, the peak RSS and the leak slope; whatever either
/// run lacks is left out.
pub fn against_baseline(baseline: &Value, current: &Value, allowed_pct: f64) -> Vec<Comparison> {
    let mut metrics: Vec<(String, Metric, Better)> = endpoints(current)
        .iter()
        .filter_map(|e| e["name"].as_str())
        .map(|name| {
            (
                format!("{name}.p95"),
                Metric::Latency {
                    endpoint: Some(name.to_string()),
                    stat: Stat::P95,
                },
                Better::Lower,
            )
        })
        .collect();
    metrics.push(("all.rps".into(), Metric::Rps { endpoint: None }, Better::Higher));
    metrics.push(("rss.max".into(), Metric::RssMax, Better::Lower));
    metrics.push(("rss.slope".into(), Metric::RssSlope, Better::Lower));
    metrics
        .into_iter()
        .filter_map(|(name, m, better)| {
            let (b, c) = (observe(&m, baseline)?, observe(&m, current)?);
            Some(compare(&name, b, c, better, allowed_pct))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(p95_ask: f64, rps: f64, rss: f64, slope: f64) -> Value {
        json!({
            "load": {
                "duration_s": 10.0,
                "totals": {"requests": 1000, "errors": 10, "rps": rps, "success_rate": 0.99},
                "latency": {"p50_ms": 20.0, "p95_ms": 150.0},
                "endpoints": [
                    {"name": "ask", "requests": 600, "errors": 36, "check_failures": 30,
                     "latency": {"p95_ms": p95_ask}, "first_chunk": {"p95_ms": 80.0}},
                    {"name": "health", "requests": 400, "errors": 4, "check_failures": 0,
                     "latency": {"p95_ms": 2.0}, "first_chunk": null}
                ]
            },
            "resources": {"rss_bytes": {"max": rss}, "threads": {"max": 12}, "cpu_percent": {"mean": 55.5},
                          "gpu_mem_bytes": null},
            "leak": {"verdict": "no_leak", "slope_bytes_per_s": slope}
        })
    }

    fn m(name: &str) -> Metric {
        Metric::parse(name, &["ask", "health"], &[]).unwrap()
    }

    #[test]
    fn metrics_are_read_from_their_places() {
        let d = doc(300.0, 100.0, 5e8, 10.0);
        assert_eq!(observe(&m("ask.p95"), &d), Some(300.0));
        assert_eq!(observe(&m("all.p95"), &d), Some(150.0));
        assert_eq!(observe(&m("ask.first_chunk.p95"), &d), Some(80.0));
        assert_eq!(observe(&m("all.first_chunk.p95"), &d), Some(80.0));
        assert_eq!(observe(&m("health.first_chunk.p95"), &d), None);
        assert_eq!(observe(&m("ask.rps"), &d), Some(60.0));
        assert_eq!(observe(&m("all.rps"), &d), Some(100.0));
        assert_eq!(observe(&m("ask.error_rate"), &d), Some(0.01));
        assert_eq!(observe(&m("all.success_rate"), &d), Some(0.99));
        assert_eq!(observe(&m("ask.check_fail_rate"), &d), Some(0.05));
        assert_eq!(observe(&m("all.check_fail_rate"), &d), Some(0.03));
        assert_eq!(observe(&m("rss.max"), &d), Some(5e8));
        assert_eq!(observe(&m("threads.max"), &d), Some(12.0));
        assert_eq!(observe(&m("cpu.mean"), &d), Some(55.5));
        assert_eq!(observe(&m("gpu_mem.max"), &d), None);
        assert_eq!(observe(&m("leak"), &d), Some(0.0));
        assert_eq!(observe(&m("rss.slope"), &d), Some(10.0));
        // A load-only result has no resources or leak verdict.
        assert_eq!(observe(&m("rss.max"), &json!({"load": {}})), None);
    }

    #[test]
    fn baseline_flags_what_got_worse() {
        let before = doc(300.0, 100.0, 5e8, 10.0);
        let after = doc(345.0, 95.0, 5.2e8, 10.0);
        let cmp = against_baseline(&before, &after, 10.0);
        let by: std::collections::HashMap<&str, &Comparison> = cmp.iter().map(|c| (c.metric.as_str(), c)).collect();
        assert!(!by["ask.p95"].pass, "p95 up 15%");
        assert!(by["health.p95"].pass);
        assert!(by["all.rps"].pass, "rps down 5%: within 10%");
        assert!(by["rss.max"].pass);
        assert!(by["rss.slope"].pass);
        assert_eq!(cmp.len(), 5);
    }
}
