//! Reading a metric's value out of a result.json document (DESIGN.md's
//! layout), so the same code judges a run as it ends and a stored result
//! (`loadprof gate`), and compares two results for the baseline.

use serde_json::Value;

use super::{Better, Comparison, Metric, ServerAgg, Stat, compare};
use crate::metrics::exposition::bound;
use crate::metrics::promql::histogram_quantile;
use crate::metrics::selector::Selector;

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
        Metric::Server { selector, agg } => server(doc, selector, *agg),
        Metric::Query { name, agg } => {
            let q = doc["metrics"]["queries"]
                .as_array()?
                .iter()
                .find(|q| q["name"] == name.as_str())?;
            q[gauge_key(*agg)?].as_f64()
        }
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

fn gauge_key(agg: ServerAgg) -> Option<&'static str> {
    match agg {
        ServerAgg::Max => Some("max"),
        ServerAgg::Mean => Some("mean"),
        ServerAgg::Last => Some("last"),
        _ => None,
    }
}

/// A scraped series' labels, as result.json keeps them (an object).
fn labels(series: &Value) -> Vec<(String, String)> {
    series["labels"].as_object().map_or_else(Vec::new, |m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    })
}

/// A server metric over the load window, from `metrics.series`: the
/// selected series summed (as PromQL's `sum`), the largest for `max`; a
/// quantile from the summed increase of each bucket. None when no selected
/// series has the figure (a series that never appeared is not measured).
fn server(doc: &Value, selector: &Selector, agg: ServerAgg) -> Option<f64> {
    let series = doc["metrics"]["series"].as_array()?;
    if let ServerAgg::Quantile(q) = agg {
        let name = if selector.name.ends_with("_bucket") {
            selector.name.clone()
        } else {
            format!("{}_bucket", selector.name)
        };
        let buckets_of = Selector {
            name,
            matchers: selector.matchers.iter().filter(|(l, _)| l != "le").cloned().collect(),
        };
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for s in series {
            let (Some(name), Some(increase)) = (s["name"].as_str(), s["increase"].as_f64()) else {
                continue;
            };
            let labels = labels(s);
            if !buckets_of.selects(name, &labels) {
                continue;
            }
            let Some(le) = labels.iter().find(|(l, _)| l == "le").and_then(|(_, v)| bound(v)) else {
                continue;
            };
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, n)) => *n += increase,
                None => buckets.push((le, increase)),
            }
        }
        let v = histogram_quantile(q, &buckets);
        return v.is_finite().then_some(v);
    }
    let key = match agg {
        ServerAgg::Rate => "rate",
        ServerAgg::Increase => "increase",
        other => gauge_key(other)?,
    };
    let values: Vec<f64> = series
        .iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| selector.selects(n, &labels(s))))
        .filter_map(|s| s[key].as_f64())
        .collect();
    if values.is_empty() {
        return None;
    }
    Some(match agg {
        ServerAgg::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ => values.iter().sum(),
    })
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
    fn server_metrics_sum_the_selected_series_and_quantiles_come_from_buckets() {
        let d = json!({
            "metrics": {
                "series": [
                    {"name": "errors_total", "labels": {"kind": "openai"}, "rate": 0.5, "increase": 30.0},
                    {"name": "errors_total", "labels": {"kind": "timeout"}, "rate": 0.25, "increase": 15.0},
                    // Python writes le="5.0", Go le="5": one bucket.
                    {"name": "lat_seconds_bucket", "labels": {"le": "0.1", "route": "/a"}, "increase": 50.0},
                    {"name": "lat_seconds_bucket", "labels": {"le": "1.0", "route": "/a"}, "increase": 90.0},
                    {"name": "lat_seconds_bucket", "labels": {"le": "1", "route": "/b"}, "increase": 10.0},
                    {"name": "lat_seconds_bucket", "labels": {"le": "+Inf", "route": "/a"}, "increase": 100.0},
                    {"name": "lat_seconds_bucket", "labels": {"le": "+Inf", "route": "/b"}, "increase": 10.0},
                    {"name": "rss_bytes", "labels": {}, "max": 9e8, "mean": 5e8, "last": 6e8}
                ],
                "queries": [{"name": "p95", "expr": "x", "max": 0.4, "mean": 0.3, "last": null}]
            }
        });
        let m = |name: &str| Metric::parse(name, &[], &[]).unwrap();
        assert_eq!(observe(&m("server.errors_total.rate"), &d), Some(0.75));
        assert_eq!(
            observe(&m(r#"server.'errors_total{kind="openai"}'.increase"#), &d),
            Some(30.0)
        );
        assert_eq!(
            observe(&m(r#"server.'errors_total{kind=~"open.*|time.*"}'.rate"#), &d),
            Some(0.75)
        );
        assert_eq!(observe(&m("server.missing_total.rate"), &d), None);
        // All routes: 110 observations, 50 under 0.1 s, 100 under 1 s.
        let p50 = observe(&m("server.lat_seconds.p50"), &d).unwrap();
        assert!((p50 - (0.1 + 0.9 * (55.0 - 50.0) / 50.0)).abs() < 1e-9, "{p50}");
        // One route; a rank in the +Inf bucket gives the highest finite bound.
        assert_eq!(observe(&m(r#"server.'lat_seconds{route="/a"}'.p99"#), &d), Some(1.0));
        assert_eq!(observe(&m(r#"server.'lat_seconds{route="/c"}'.p99"#), &d), None);
        assert_eq!(observe(&m("server.rss_bytes.max"), &d), Some(9e8));
        assert_eq!(observe(&m("metrics.p95.max"), &d), Some(0.4));
        assert_eq!(observe(&m("metrics.p95.last"), &d), None);
        assert_eq!(observe(&m("metrics.nope.max"), &d), None);
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
