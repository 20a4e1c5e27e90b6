//! Scraping a target's metrics endpoints on the run's clock: every URL
//! every interval from before the load until the run ends, each answer
//! bounded in size and time, read into the [`Store`] and handed to a sink
//! (metrics.csv). At the end, the queries of `[metrics.queries]` are asked
//! of a Prometheus server for the run's window. A URL that fails is
//! counted and its last error kept; the scraping goes on.

use std::time::{Duration, Instant};

use super::exposition::{self, Limits, Scrape};
use super::query::{self, Answer};
use super::selector::Selector;
use super::store::Store;
use crate::cancel::StopToken;
use crate::config::metrics::MetricsPlan;
use crate::session::observer::Clock;

/// What Prometheus sends: OpenMetrics first, then the 0.0.4 text.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Receives every scrape as it is read (metrics.csv).
pub trait Sink: Send {
    fn scraped(&mut self, t: f64, instance: &str, scrape: &Scrape) -> std::io::Result<()>;
}

/// How one URL's scraping went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStats {
    /// Credentials and secret-looking query values hidden.
    pub url: String,
    pub scrapes: u64,
    pub samples: u64,
    pub errors: u64,
    /// The last error, in words.
    pub error: Option<String>,
    /// Samples past the caps on series.
    pub dropped: u64,
    /// Lines not understood or over a label limit.
    pub skipped_lines: u64,
    /// The slowest scrape, in seconds.
    pub max_duration_s: f64,
}

/// One query's answer on the run's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub name: String,
    pub expr: String,
    /// The answer's series, times in seconds on the run's clock.
    pub series: Vec<Answer>,
    /// Series in the answer (more than were kept when over the cap).
    pub total_series: usize,
    pub step_s: f64,
    pub error: Option<String>,
}

/// Everything scraped and asked.
pub struct Recording {
    pub store: Store,
    pub targets: Vec<TargetStats>,
    pub queries: Vec<QueryResult>,
    pub interval: Duration,
    /// Why metrics.csv could not be written to the end.
    pub write_error: Option<String>,
}

/// The `instance` label Prometheus would give a URL: its host:port.
pub fn instance_of(url: &str) -> String {
    crate::load::Origin::parse(url).map_or_else(|_| String::new(), |(o, _)| o.authority())
}

async fn scrape(url: &str, max_bytes: usize) -> Result<(Option<String>, Vec<u8>), String> {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::ACCEPT, http::HeaderValue::from_static(ACCEPT));
    let resp = crate::http::send(http::Method::GET, url, None, &headers)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !status.is_success() {
        return Err(format!(
            "{} answered {}; is it the metrics URL?",
            crate::redact::url(url),
            status.as_u16()
        ));
    }
    let body = crate::http::read_body(resp.into_body(), max_bytes, url)
        .await
        .map_err(|e| e.to_string())?;
    Ok((content_type, body))
}

/// Reads one answer into samples, or says why it is no metrics text.
fn read(url: &str, content_type: Option<&str>, body: &[u8], limits: &Limits) -> Result<Scrape, String> {
    let text =
        std::str::from_utf8(body).map_err(|_| format!("{}: the answer is not UTF-8 text", crate::redact::url(url)))?;
    exposition::parse(text, content_type, limits).map_err(|e| format!("{}: {e}", crate::redact::url(url)))
}

/// Races `work` against `end`, polling it every 50 ms: `None` once it fires.
async fn or_end<T>(end: &StopToken, work: impl std::future::Future<Output = T>) -> Option<T> {
    let watch = async {
        while end.reason().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        r = work => Some(r),
        () = watch => None,
    }
}

/// Scrapes until `end` fires, then asks the queries. The load window in
/// which figures are computed opens `warmup` after the load starts and
/// closes when it ends (both read from `clock`). `watch` names the series
/// kept whole for charts.
pub fn run(
    plan: &MetricsPlan,
    watch: Vec<Selector>,
    warmup: Duration,
    clock: &Clock,
    end: &StopToken,
    sink: &mut dyn Sink,
) -> Recording {
    let mut store = Store::new(plan.max_series, watch);
    let mut targets: Vec<TargetStats> = plan
        .scrape
        .iter()
        .map(|u| TargetStats {
            url: crate::redact::url(u).into_owned(),
            ..TargetStats::default()
        })
        .collect();
    let instances: Vec<String> = plan.scrape.iter().map(|u| instance_of(u)).collect();
    let limits = Limits {
        max_bytes: plan.max_bytes,
        max_series: plan.max_series,
        ..Limits::default()
    };
    let mut write_error = None;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            for t in &mut targets {
                t.error = Some(format!("cannot start the HTTP client: {e}"));
            }
            return Recording {
                store,
                targets,
                queries: Vec::new(),
                interval: plan.interval,
                write_error,
            };
        }
    };
    let mut next = Instant::now();
    while !plan.scrape.is_empty() && end.reason().is_none() {
        let at = Instant::now();
        if let Some(start) = clock.load_started() {
            store.open(clock.secs(start + warmup));
        }
        let answers = runtime.block_on(or_end(end, async {
            let mut set = tokio::task::JoinSet::new();
            for (i, url) in plan.scrape.iter().enumerate() {
                let (url, max, timeout) = (url.clone(), plan.max_bytes, plan.timeout);
                set.spawn(async move {
                    let began = Instant::now();
                    let r = match tokio::time::timeout(timeout, scrape(&url, max)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!(
                            "{}: no answer within {} (metrics.timeout)",
                            crate::redact::url(&url),
                            crate::config::units::format_duration(timeout)
                        )),
                    };
                    (i, r, began.elapsed())
                });
            }
            let mut out = Vec::new();
            while let Some(Ok(r)) = set.join_next().await {
                out.push(r);
            }
            out.sort_by_key(|(i, _, _)| *i);
            out
        }));
        let Some(answers) = answers else { break };
        // A sample taken after the load ended is outside its window.
        if let Some(e) = clock.load_ended() {
            store.close(clock.secs(e));
        }
        let t = clock.secs(at);
        for (i, answer, took) in answers {
            let stats = &mut targets[i];
            stats.scrapes += 1;
            stats.max_duration_s = stats.max_duration_s.max(took.as_secs_f64());
            match answer.and_then(|(ct, body)| read(&plan.scrape[i], ct.as_deref(), &body, &limits)) {
                Ok(s) => {
                    let added = store.add(t, &s, &instances[i]);
                    stats.samples += added.samples;
                    stats.dropped += added.dropped + s.dropped_series;
                    stats.skipped_lines += s.skipped_lines;
                    if write_error.is_none()
                        && let Err(e) = sink.scraped(t, &instances[i], &s)
                    {
                        write_error = Some(e.to_string());
                    }
                }
                Err(e) => {
                    stats.errors += 1;
                    stats.error = Some(e);
                }
            }
        }
        // Keep the phase; a scrape that overran skips the ticks it missed.
        next += plan.interval;
        let now = Instant::now();
        while next <= now {
            next += plan.interval;
        }
        end.wait_until(next);
    }
    // With nothing to scrape, the queries still wait for the run's end.
    while end.reason().is_none() {
        end.wait_until(Instant::now() + Duration::from_secs(60));
    }
    if let Some(start) = clock.load_started() {
        store.open(clock.secs(start + warmup));
    }
    if let Some(e) = clock.load_ended() {
        store.close(clock.secs(e));
    }
    let queries = match &plan.prometheus_url {
        Some(base) => ask(&runtime, base, plan, clock),
        None => Vec::new(),
    };
    Recording {
        store,
        targets,
        queries,
        interval: plan.interval,
        write_error,
    }
}

/// Runs each query over the whole run (its start to now), with times put
/// on the run's clock.
fn ask(runtime: &tokio::runtime::Runtime, base: &str, plan: &MetricsPlan, clock: &Clock) -> Vec<QueryResult> {
    let unix = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let start = unix(clock.started_at);
    let end = unix(std::time::SystemTime::now());
    let step = query::step(start, end, plan.step.unwrap_or(plan.interval).as_secs_f64());
    plan.queries
        .iter()
        .map(|(name, expr)| {
            let url = query::range_url(base, expr, start, end, step);
            let answer = runtime.block_on(async {
                match tokio::time::timeout(Duration::from_secs(30), crate::http::fetch(&url, 32 << 20)).await {
                    Ok(Ok(f)) => query::read_range(f.status, &f.body),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!(
                        "{}: no answer within 30s",
                        crate::redact::url(base.trim_end_matches('/'))
                    )),
                }
            });
            let (series, total_series, error) = match answer {
                Ok((mut series, total)) => {
                    for s in &mut series {
                        for p in &mut s.points {
                            p.0 -= start;
                        }
                    }
                    (series, total, None)
                }
                Err(e) => (Vec::new(), 0, Some(e)),
            };
            QueryResult {
                name: name.clone(),
                expr: expr.clone(),
                series,
                total_series,
                step_s: step,
                error,
            }
        })
        .collect()
}
