//! Figures drawn from the stored series for the report: an SLO's server
//! metric over the run (what Grafana would plot for it), and the slowest
//! endpoints of the target's own latency histograms, grouped by their
//! `endpoint`, `route`, `handler` or `path` label. Pure.

use super::exposition::bound;
use super::promql::{self, Point, histogram_quantile};
use super::selector::Selector;
use super::store::Series;
use crate::gate::ServerAgg;

/// Most points of a chart.
pub const MAX_CHART_POINTS: usize = 720;

/// The labels that name an endpoint, in the order they are looked for.
pub const ENDPOINT_LABELS: [&str; 4] = ["endpoint", "route", "handler", "path"];

/// The series a quantile of `selector` is computed from: its buckets,
/// with any `le` matcher left out.
pub fn buckets_of(selector: &Selector) -> Selector {
    let name = if selector.name.ends_with("_bucket") {
        selector.name.clone()
    } else {
        format!("{}_bucket", selector.name)
    };
    Selector {
        name,
        matchers: selector.matchers.iter().filter(|(l, _)| l != "le").cloned().collect(),
    }
}

/// The samples of `points` in `[from, to]` (points are in time order).
fn slice(points: &[Point], from: f64, to: f64) -> &[Point] {
    let a = points.partition_point(|p| p.t < from);
    let b = points.partition_point(|p| p.t <= to);
    &points[a..b.max(a)]
}

/// `selector`'s figure over the run, at most [`MAX_CHART_POINTS`] points
/// on the run's clock. Rates and quantiles are over the `range` seconds
/// before each point (as `rate(x[range])`); an increase counts from
/// `window_start`; a gauge is its latest sample (summed over the selected
/// series, or their largest for `max`). Only series kept whole count.
pub fn over_time(
    series: &[Series],
    selector: &Selector,
    agg: ServerAgg,
    range: f64,
    window_start: f64,
) -> Vec<(f64, Option<f64>)> {
    let of = match agg {
        ServerAgg::Quantile(_) => buckets_of(selector),
        _ => selector.clone(),
    };
    let chosen: Vec<(&Series, &[Point])> = series
        .iter()
        .filter(|s| of.selects(&s.name, &s.labels))
        .filter_map(|s| Some((s, s.points.as_deref()?)))
        .collect();
    let mut times: Vec<f64> = chosen.iter().flat_map(|(_, p)| p.iter().map(|p| p.t)).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let every = times.len().div_ceil(MAX_CHART_POINTS).max(1);
    times
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i == times.len() - 1)
        .map(|(_, t)| {
            let v = match agg {
                ServerAgg::Rate => sum(chosen
                    .iter()
                    .filter_map(|(_, p)| promql::rate(slice(p, t - range, t), t - range, t))),
                ServerAgg::Increase if t < window_start => None,
                ServerAgg::Increase => sum(chosen
                    .iter()
                    .filter_map(|(_, p)| promql::increase(slice(p, window_start, t), window_start, t))),
                ServerAgg::Quantile(q) => {
                    let buckets: Vec<(f64, f64)> = chosen
                        .iter()
                        .filter_map(|(s, p)| {
                            let le = bound(s.label("le")?)?;
                            Some((le, promql::increase(slice(p, t - range, t), t - range, t)?))
                        })
                        .collect();
                    Some(histogram_quantile(q, &buckets)).filter(|v| v.is_finite())
                }
                ServerAgg::Max | ServerAgg::Mean | ServerAgg::Last => {
                    let latest = chosen
                        .iter()
                        .filter_map(|(_, p)| slice(p, f64::NEG_INFINITY, t).last().map(|p| p.v));
                    if agg == ServerAgg::Max {
                        latest.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                    } else {
                        sum(latest)
                    }
                }
            };
            (t, v)
        })
        .collect()
}

fn sum(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.fold(None, |s, v| Some(s.unwrap_or(0.0) + v))
}

/// One endpoint of a latency histogram, over the load window.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The histogram's name (without `_bucket`).
    pub metric: String,
    /// The label that names it, and its value.
    pub label: String,
    pub value: String,
    /// Observations in the window (the +Inf bucket's increase).
    pub count: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// Every endpoint of every histogram whose buckets carry an endpoint
/// label, slowest p95 first (at most `limit`). Other labels (method,
/// status, instance) are summed over, as `sum by (le, route)` would.
pub fn endpoints(series: &[Series], start: f64, end: f64, limit: usize) -> Vec<Endpoint> {
    type Key = (String, &'static str, String);
    let mut groups: Vec<(Key, Vec<(f64, f64)>)> = Vec::new();
    for s in series {
        let Some(metric) = s.name.strip_suffix("_bucket") else {
            continue;
        };
        let (Some(le), Some((label, value))) = (
            s.label("le").and_then(bound),
            ENDPOINT_LABELS.iter().find_map(|l| Some((*l, s.label(l)?))),
        ) else {
            continue;
        };
        let Some(increase) = s.window.increase(start, end) else {
            continue;
        };
        let key = (metric.to_string(), label, value.to_string());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, b)) => b.push((le, increase)),
            None => groups.push((key, vec![(le, increase)])),
        }
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut out: Vec<Endpoint> = groups
        .into_iter()
        .map(|((metric, label, value), buckets)| {
            let count = buckets
                .iter()
                .filter(|(le, _)| *le == f64::INFINITY)
                .map(|(_, n)| n)
                .sum();
            Endpoint {
                metric,
                label: label.to_string(),
                value,
                count,
                p50: finite(histogram_quantile(0.5, &buckets)),
                p95: finite(histogram_quantile(0.95, &buckets)),
                p99: finite(histogram_quantile(0.99, &buckets)),
            }
        })
        .filter(|e| e.count > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.p95
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.p95.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.value.cmp(&b.value))
    });
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::{Limits, parse};
    use crate::metrics::store::Store;

    /// Two routes: /fast answers in under 0.1 s, /slow in 0.5 to 1 s;
    /// each gets `n` requests a second.
    fn store(seconds: usize, n: f64) -> Store {
        let mut s = Store::new(1000, vec![Selector::parse("lat_seconds").unwrap()]);
        s.open(0.0);
        for i in 0..=seconds {
            let c = n * i as f64;
            let text = format!(
                "# TYPE lat_seconds histogram\n\
                 lat_seconds_bucket{{route=\"/fast\",le=\"0.1\"}} {c}\nlat_seconds_bucket{{route=\"/fast\",le=\"0.5\"}} {c}\n\
                 lat_seconds_bucket{{route=\"/fast\",le=\"1.0\"}} {c}\nlat_seconds_bucket{{route=\"/fast\",le=\"+Inf\"}} {c}\n\
                 lat_seconds_bucket{{route=\"/slow\",le=\"0.1\"}} 0\nlat_seconds_bucket{{route=\"/slow\",le=\"0.5\"}} 0\n\
                 lat_seconds_bucket{{route=\"/slow\",le=\"1.0\"}} {c}\nlat_seconds_bucket{{route=\"/slow\",le=\"+Inf\"}} {c}\n"
            );
            s.add(i as f64, &parse(&text, None, &Limits::default()).unwrap(), "h:1");
        }
        s.close(seconds as f64);
        s
    }

    #[test]
    fn endpoints_are_ranked_by_their_p95() {
        let s = store(10, 4.0);
        let e = endpoints(s.series(), 0.0, 10.0, 10);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].value.as_str(), e[0].label.as_str()), ("/slow", "route"));
        assert!((e[0].count - 40.0).abs() < 1e-9, "{e:?}");
        // Rank 0.95 × 40 = 38 of 40 in the (0.5, 1] bucket: 0.5 + 0.5 × 0.95.
        assert!((e[0].p95.unwrap() - 0.975).abs() < 1e-9, "{e:?}");
        assert!(e[1].p95.unwrap() < 0.1);
    }

    #[test]
    fn a_quantile_over_time_follows_the_buckets() {
        let s = store(20, 2.0);
        let sel = Selector::parse("lat_seconds{route=\"/slow\"}").unwrap();
        let pts = over_time(s.series(), &sel, ServerAgg::Quantile(0.5), 5.0, 0.0);
        assert_eq!(pts.len(), 21);
        assert_eq!(pts[0].1, None, "one sample is no rate");
        assert!(pts[10].1.is_some_and(|v| (v - 0.75).abs() < 1e-9), "{:?}", pts[10]);
        let rate = over_time(
            s.series(),
            &Selector::parse("lat_seconds_count").unwrap(),
            ServerAgg::Rate,
            5.0,
            0.0,
        );
        assert!(
            rate.iter().all(|(_, v)| v.is_none()),
            "no _count series is kept whole here"
        );
    }
}
