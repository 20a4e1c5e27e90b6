//! The `[metrics]` table of a profile: the target's metrics endpoints to
//! scrape on the run's clock, and a Prometheus server to ask about the
//! run's window, validated with file:line: key errors.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::profile::LoadedProfile;
use super::units::{format_bytes, parse_duration, parse_size};

/// `[metrics]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsTable {
    pub scrape: Option<Spanned<Vec<Spanned<String>>>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub max_series: Option<Spanned<i64>>,
    pub max_bytes: Option<Spanned<String>>,
    pub prometheus_url: Option<Spanned<String>>,
    pub step: Option<Spanned<String>>,
    #[serde(default)]
    pub queries: BTreeMap<String, Spanned<String>>,
}

/// A validated `[metrics]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsPlan {
    pub scrape: Vec<String>,
    pub interval: Duration,
    /// At most the interval.
    pub timeout: Duration,
    /// Series kept over all URLs; later ones are counted, not kept.
    pub max_series: usize,
    /// Largest body read from one scrape.
    pub max_bytes: usize,
    pub prometheus_url: Option<String>,
    /// The query_range step; None: the interval, widened so a query stays
    /// under Prometheus's 11,000 points.
    pub step: Option<Duration>,
    /// `(name, PromQL)`, in name order.
    pub queries: Vec<(String, String)>,
}

const INTERVALS: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(3600));
const MAX_SERIES: i64 = 1_000_000;
const DEFAULT_MAX_SERIES: usize = 20_000;
const MAX_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

impl LoadedProfile {
    /// The `[metrics]` table as a plan; None when there is none.
    pub fn metrics_plan(&self) -> Result<Option<MetricsPlan>, String> {
        let Some(m) = &self.profile.metrics else {
            return Ok(None);
        };
        let table = m.get_ref();
        let url = |u: &Spanned<String>, key: &str| -> Result<String, String> {
            let text = u.get_ref();
            crate::load::Origin::parse(text).map(|_| text.clone()).map_err(|e| {
                format!(
                    "{}: '{}' is not a URL loadprof can fetch ({e}); write it as http://HOST:PORT/metrics",
                    self.at(u.span(), key),
                    crate::redact::url(text)
                )
            })
        };
        let mut scrape = Vec::new();
        for u in table.scrape.iter().flat_map(|s| s.get_ref()) {
            scrape.push(url(u, "metrics.scrape")?);
        }
        let prometheus_url = table
            .prometheus_url
            .as_ref()
            .map(|u| url(u, "metrics.prometheus_url"))
            .transpose()?;
        if scrape.is_empty() && prometheus_url.is_none() {
            return Err(format!(
                "{}: [metrics] has nothing to read: give scrape = [\"http://HOST:PORT/metrics\"] or prometheus_url",
                self.at(m.span(), "metrics")
            ));
        }
        if !table.queries.is_empty() && prometheus_url.is_none() {
            let span = table.queries.values().next().map_or(m.span(), Spanned::span);
            return Err(format!(
                "{}: queries are asked of a Prometheus server: add prometheus_url = \"http://HOST:9090\"",
                self.at(span, "metrics.queries")
            ));
        }
        let duration = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<Duration>, String> {
            let Some(d) = v else { return Ok(None) };
            let parsed = parse_duration(d.get_ref()).map_err(|e| format!("{}: {e}", self.at(d.span(), key)))?;
            if parsed < INTERVALS.0 || parsed > INTERVALS.1 {
                return Err(format!(
                    "{}: {} is out of range; give 100ms to 1h",
                    self.at(d.span(), key),
                    d.get_ref()
                ));
            }
            Ok(Some(parsed))
        };
        let interval = duration(&table.interval, "metrics.interval")?.unwrap_or(Duration::from_secs(1));
        let timeout = match duration(&table.timeout, "metrics.timeout")? {
            Some(t) if t > interval => {
                let span = table.timeout.as_ref().map_or(m.span(), Spanned::span);
                return Err(format!(
                    "{}: a scrape's timeout must not be longer than the interval ({}), as in Prometheus",
                    self.at(span, "metrics.timeout"),
                    crate::config::units::format_duration(interval)
                ));
            }
            Some(t) => t,
            None => interval.min(Duration::from_secs(10)),
        };
        let step = duration(&table.step, "metrics.step")?;
        let max_series = match &table.max_series {
            Some(n) if !(1..=MAX_SERIES).contains(n.get_ref()) => {
                return Err(format!(
                    "{}: {} is out of range; give 1 to {MAX_SERIES}",
                    self.at(n.span(), "metrics.max_series"),
                    n.get_ref()
                ));
            }
            Some(n) => *n.get_ref() as usize,
            None => DEFAULT_MAX_SERIES,
        };
        let max_bytes = match &table.max_bytes {
            Some(b) => {
                let v =
                    parse_size(b.get_ref()).map_err(|e| format!("{}: {e}", self.at(b.span(), "metrics.max_bytes")))?;
                if !(1024.0..=MAX_BYTES).contains(&v) {
                    return Err(format!(
                        "{}: {} is out of range; give 1KB to {}",
                        self.at(b.span(), "metrics.max_bytes"),
                        b.get_ref(),
                        format_bytes(MAX_BYTES)
                    ));
                }
                v as usize
            }
            None => 16 << 20,
        };
        let mut queries = Vec::new();
        for (name, expr) in &table.queries {
            let key = format!("metrics.queries.{name}");
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
                return Err(format!(
                    "{}: a query's name is used in SLO names (metrics.NAME.max): use letters, digits and _",
                    self.at(expr.span(), &key)
                ));
            }
            let e = expr.get_ref().trim();
            if e.is_empty() || e.len() > 8192 {
                return Err(format!(
                    "{}: give a PromQL expression of at most 8 KiB",
                    self.at(expr.span(), &key)
                ));
            }
            queries.push((name.clone(), e.to_string()));
        }
        Ok(Some(MetricsPlan {
            scrape,
            interval,
            timeout,
            max_series,
            max_bytes,
            prometheus_url,
            step,
            queries,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::profile::LoadedProfile;

    fn plan(text: &str) -> Result<Option<super::MetricsPlan>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        LoadedProfile::read(&path).and_then(|p| p.metrics_plan())
    }

    #[test]
    fn a_full_table_is_read() {
        let p = plan(
            "[metrics]\nscrape = [\"http://127.0.0.1:8000/metrics\"]\ninterval = \"2s\"\nmax_series = 50\n\
             prometheus_url = \"http://127.0.0.1:9090\"\n[metrics.queries]\np95 = 'histogram_quantile(0.95, x)'\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.scrape, vec!["http://127.0.0.1:8000/metrics"]);
        assert_eq!((p.interval.as_secs(), p.timeout.as_secs(), p.max_series), (2, 2, 50));
        assert_eq!(
            p.queries,
            vec![("p95".to_string(), "histogram_quantile(0.95, x)".to_string())]
        );
    }

    #[test]
    fn bad_values_name_their_key_and_line() {
        for (text, wanted) in [
            ("[metrics]\nscrape = [\"127.0.0.1:8000\"]\n", "p.toml:2: metrics.scrape"),
            ("[metrics]\n", "p.toml:1: metrics: [metrics] has nothing to read"),
            (
                "[metrics]\nscrape = [\"http://h/m\"]\ninterval = \"10ms\"\n",
                "p.toml:3: metrics.interval",
            ),
            (
                "[metrics]\nscrape = [\"http://h/m\"]\ninterval = \"1s\"\ntimeout = \"2s\"\n",
                "p.toml:4: metrics.timeout",
            ),
            (
                "[metrics]\nscrape = [\"http://h/m\"]\nmax_series = 0\n",
                "p.toml:3: metrics.max_series",
            ),
            (
                "[metrics]\nscrape = [\"http://h/m\"]\nmax_bytes = \"2TB\"\n",
                "p.toml:3: metrics.max_bytes",
            ),
            (
                "[metrics]\nscrape = [\"http://h/m\"]\n[metrics.queries]\nq = \"up\"\n",
                "p.toml:4: metrics.queries",
            ),
            (
                "[metrics]\nprometheus_url = \"http://h:9090\"\n[metrics.queries]\n\"a.b\" = \"up\"\n",
                "p.toml:4: metrics.queries.a.b",
            ),
        ] {
            let e = plan(text).unwrap_err();
            assert!(e.contains(wanted), "{text}: {e}");
        }
    }
}
