//! The `metrics` section of result.json (the target's scraped series and
//! the Prometheus queries, over the load window), `metrics.csv` streamed as
//! scrapes arrive, and the summary's lines about them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::gate::{Metric, ServerAgg, Slo};
use crate::metrics::exposition::Scrape;
use crate::metrics::figures::{self, over_time};
use crate::metrics::scraper::{self, Recording};
use crate::metrics::store::Role;

/// The columns of `metrics.csv`.
pub const METRICS_HEADER: &str = "elapsed_s,metric,labels,value";

/// Slowest endpoints listed.
const ENDPOINTS: usize = 20;

/// `metrics` in result.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsSection {
    pub interval_s: f64,
    /// The load window the figures are over, on the run's clock (from the
    /// end of the warm-up to the end of the load).
    pub window: Option<WindowSpan>,
    pub scrapes: Vec<ScrapeStats>,
    /// Series seen; those past `max_series` are counted in
    /// `dropped_samples`.
    pub series_count: usize,
    pub dropped_samples: u64,
    pub series: Vec<SeriesFigures>,
    /// The slowest endpoints of the target's latency histograms.
    pub endpoints: Vec<EndpointFigures>,
    /// Each server SLO's figure over the run.
    pub charts: Vec<Chart>,
    pub queries: Vec<QuerySection>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct WindowSpan {
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScrapeStats {
    pub url: String,
    pub scrapes: u64,
    pub samples: u64,
    pub errors: u64,
    pub error: Option<String>,
    pub dropped: u64,
    pub skipped_lines: u64,
    pub max_duration_s: f64,
}

/// One series over the load window: a counter's rate and increase, a
/// gauge's max, mean and last (a series of unknown type has both).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesFigures {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(rename = "type")]
    pub kind: String,
    /// Samples inside the window.
    pub samples: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub increase: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointFigures {
    pub metric: String,
    pub label: String,
    pub value: String,
    pub count: f64,
    /// In the histogram's own unit (`unit`).
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// "s", "ms" or "" (unknown), from the metric's name.
    pub unit: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chart {
    /// The SLO's metric name (`server.x.p95`).
    pub metric: String,
    /// `[seconds on the run's clock, value or null]`.
    pub points: Vec<(f64, Option<f64>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuerySection {
    pub name: String,
    pub expr: String,
    pub step_s: f64,
    /// Series in the answer; the figures are over all of them.
    pub series: usize,
    /// The first series, on the run's clock.
    pub points: Vec<(f64, Option<f64>)>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub last: Option<f64>,
    pub error: Option<String>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

/// A histogram's unit from its name.
fn unit_of(metric: &str) -> &'static str {
    if metric.ends_with("_seconds") {
        "s"
    } else if metric.ends_with("_ms") || metric.ends_with("_milliseconds") {
        "ms"
    } else {
        ""
    }
}

impl MetricsSection {
    /// The section for what was scraped and asked; `slos` are the run's,
    /// of which those on server metrics get a chart. `end_s` closes the
    /// window when the load never ended.
    pub fn from_recording(rec: &Recording, slos: &[Slo], end_s: f64) -> MetricsSection {
        let store = &rec.store;
        let window = store.window().map(|(start, end)| WindowSpan {
            start_s: start,
            end_s: end.unwrap_or(end_s).max(start),
        });
        let (start, end) = window.map_or((f64::NAN, f64::NAN), |w| (w.start_s, w.end_s));
        let series = store
            .series()
            .iter()
            .map(|s| {
                let w = &s.window;
                let counts = s.role.counts();
                let gauges = s.role.gauges();
                SeriesFigures {
                    name: s.name.clone(),
                    labels: s.labels.iter().cloned().collect(),
                    kind: match s.role {
                        Role::Counter => "counter",
                        Role::Gauge => "gauge",
                        Role::Either => "untyped",
                    }
                    .to_string(),
                    samples: w.count(),
                    rate: finite(w.rate(start, end).filter(|_| counts)),
                    increase: finite(w.increase(start, end).filter(|_| counts)),
                    max: finite(w.max().filter(|_| gauges)),
                    mean: finite(w.mean().filter(|_| gauges)),
                    last: finite(w.last()),
                }
            })
            .collect();
        let endpoints = figures::endpoints(store.series(), start, end, ENDPOINTS)
            .into_iter()
            .map(|e| EndpointFigures {
                unit: unit_of(&e.metric).to_string(),
                metric: e.metric,
                label: e.label,
                value: e.value,
                count: e.count,
                p50: e.p50,
                p95: e.p95,
                p99: e.p99,
            })
            .collect();
        let range = (rec.interval.as_secs_f64() * 5.0).max(5.0);
        let charts = slos
            .iter()
            .filter_map(|slo| match &slo.metric {
                Metric::Server { selector, agg } => Some(Chart {
                    metric: slo.name.clone(),
                    points: over_time(store.series(), selector, *agg, range, start)
                        .into_iter()
                        .map(|(t, v)| (round(t), finite(v)))
                        .collect(),
                }),
                _ => None,
            })
            .collect();
        let queries = rec
            .queries
            .iter()
            .map(|q| {
                let inside: Vec<f64> = q
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter())
                    .filter(|(t, v)| *t >= start && *t <= end && !v.is_nan())
                    .map(|(_, v)| *v)
                    .collect();
                let lasts = q.series.iter().filter_map(|s| {
                    s.points
                        .iter()
                        .rev()
                        .find(|(t, v)| *t <= end && *t >= start && !v.is_nan())
                        .map(|p| p.1)
                });
                QuerySection {
                    name: q.name.clone(),
                    expr: q.expr.clone(),
                    step_s: q.step_s,
                    series: q.total_series,
                    points: q.series.first().map_or_else(Vec::new, |s| {
                        s.points.iter().map(|&(t, v)| (round(t), finite(Some(v)))).collect()
                    }),
                    max: finite(inside.iter().copied().reduce(f64::max)),
                    mean: finite((!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)),
                    last: finite(lasts.reduce(f64::max)),
                    error: q.error.clone(),
                }
            })
            .collect();
        MetricsSection {
            interval_s: rec.interval.as_secs_f64(),
            window,
            scrapes: rec
                .targets
                .iter()
                .map(|t| ScrapeStats {
                    url: t.url.clone(),
                    scrapes: t.scrapes,
                    samples: t.samples,
                    errors: t.errors,
                    error: t.error.clone(),
                    dropped: t.dropped,
                    skipped_lines: t.skipped_lines,
                    max_duration_s: round(t.max_duration_s),
                })
                .collect(),
            series_count: store.series().len(),
            dropped_samples: store.dropped_samples,
            series,
            endpoints,
            charts,
            queries,
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The series the SLOs name, kept whole for their charts.
pub fn watched(slos: &[Slo]) -> Vec<crate::metrics::selector::Selector> {
    slos.iter()
        .filter_map(|s| match &s.metric {
            Metric::Server { selector, agg } => Some(match agg {
                ServerAgg::Quantile(_) => figures::buckets_of(selector),
                _ => selector.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// `metrics.csv`, one row per scraped sample, flushed at least once a
/// second.
pub struct MetricsWriter {
    out: BufWriter<File>,
    last_flush: Instant,
    line: String,
}

impl MetricsWriter {
    pub fn create(path: &Path) -> io::Result<MetricsWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{METRICS_HEADER}")?;
        out.flush()?;
        Ok(MetricsWriter {
            out,
            last_flush: Instant::now(),
            line: String::new(),
        })
    }
}

impl scraper::Sink for MetricsWriter {
    fn scraped(&mut self, t: f64, instance: &str, scrape: &Scrape) -> io::Result<()> {
        use std::fmt::Write as _;
        for s in &scrape.samples {
            if s.name.ends_with("_created") {
                continue;
            }
            let mut labels = String::new();
            for (n, v) in crate::metrics::store::series_labels(s, instance) {
                if !labels.is_empty() {
                    labels.push(',');
                }
                labels.push_str(n);
                labels.push_str("=\"");
                crate::metrics::exposition::escape_into(&mut labels, v);
                labels.push('"');
            }
            self.line.clear();
            let _ = writeln!(
                self.line,
                "{t:.3},{},{},{}",
                crate::escape::csv_field(&s.name),
                crate::escape::csv_field(&labels),
                crate::metrics::exposition::format_value(s.value)
            );
            self.out.write_all(self.line.as_bytes())?;
        }
        if self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.out.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }
}

impl Drop for MetricsWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// The summary's lines: each URL's scrapes, and each failure.
pub fn write_summary(to: &mut dyn Write, m: &MetricsSection) -> io::Result<()> {
    for s in &m.scrapes {
        write!(
            to,
            "metrics: {} scraped {} times, {} samples",
            crate::escape::terminal(&s.url),
            s.scrapes,
            s.samples
        )?;
        if s.errors > 0 {
            write!(
                to,
                ", {} failed (last: {})",
                s.errors,
                crate::escape::terminal(s.error.as_deref().unwrap_or(""))
            )?;
        }
        if s.dropped > 0 {
            write!(to, ", {} samples past metrics.max_series not kept", s.dropped)?;
        }
        writeln!(to)?;
    }
    for e in m.endpoints.iter().take(3) {
        if let Some(p95) = e.p95 {
            writeln!(
                to,
                "metrics: {} {}={} p95 {}{} over {} requests",
                crate::escape::terminal(&e.metric),
                e.label,
                crate::escape::terminal(&e.value),
                (p95 * 1000.0).round() / 1000.0,
                e.unit,
                e.count.round()
            )?;
        }
    }
    for q in &m.queries {
        match &q.error {
            Some(e) => writeln!(to, "metrics: query {}: {}", q.name, crate::escape::terminal(e))?,
            None if q.series == 0 => writeln!(to, "metrics: query {}: no data", q.name)?,
            None => {}
        }
    }
    Ok(())
}
