//! Turns what the user wrote for the load engine (quick-mode flags or a
//! profile's `[load]` tables) into a validated [`LoadConfig`]. Both fronts
//! fill the same [`LoadSpec`], whose values carry where they were written
//! (`--body`, `profile.toml:12: load.request[0].json`), so every error
//! names its flag or key and what would be valid.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::load::plan::{RatePlan, Stage, ThinkTime, share_of};
use crate::load::stream::StreamKind;
use crate::load::template::{Escape, TemplateContext};
use crate::load::{BodySpec, Endpoint, Executor, Flow, LoadConfig, Model, Origin, Scenario};

/// A value and where the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub at: String,
}

impl<T> At<T> {
    pub fn new(value: T, at: impl Into<String>) -> At<T> {
        At { value, at: at.into() }
    }

    pub(crate) fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("{}: {msg}", self.at)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodySource {
    Text(String),
    Json(serde_json::Value),
}

/// One request of the mix, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub name: At<String>,
    pub weight: At<u32>,
    pub method: At<String>,
    /// Path and query, relative to the base URL.
    pub path: At<String>,
    pub headers: Vec<At<(String, String)>>,
    pub body: Option<At<BodySource>>,
    pub stream: StreamKind,
    pub expect_status: Option<At<Vec<u16>>>,
    pub expect_body: Option<At<String>>,
}

/// The load model, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    Closed {
        users: At<u64>,
        spawn_rate: Option<At<f64>>,
        think: ThinkTime,
        iterations: Option<At<u64>>,
    },
    Open {
        /// Stages; a constant rate is one stage lasting `duration`.
        stages: Vec<At<Stage>>,
        poisson: bool,
        max_in_flight: At<u64>,
    },
}

/// Everything needed to build a [`LoadConfig`].
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Where the load as a whole was described (`profile.toml:3: load`, `URL`).
    pub table_at: String,
    pub base_url: At<String>,
    pub requests: Vec<RequestSpec>,
    /// `[scenarios.*]`: when given, `requests` is empty and `model` unused.
    pub scenarios: Vec<super::scenarios::ScenarioSpec>,
    pub model: ModelSpec,
    pub duration: Option<Duration>,
    /// Requests that end within this long of the start are left out of the
    /// totals and percentiles (they still show in the timeline).
    pub warmup: At<Duration>,
    pub max_requests: Option<At<u64>>,
    pub timeout: Duration,
    pub stream_timeout: Option<Duration>,
    pub graceful_stop: Duration,
    pub http2: bool,
    pub h2_streams: At<u64>,
    pub insecure: bool,
    pub latency_correction: bool,
    pub vars: BTreeMap<String, Vec<String>>,
    /// Where `{{line FILE}}` paths are relative to.
    pub base_dir: PathBuf,
    /// This process's share of the load: (index, count).
    pub worker: (u32, u32),
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 1000;
/// The lowest rate accepted (requests or users per second).
pub const MIN_RATE: f64 = 0.001;
/// The highest: far past what one process can send (beyond it, split the
/// load over workers), and low enough that a typo cannot spin the clock.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most users, connections or requests in flight one process is given.
pub const MAX_CONCURRENCY: u64 = 1_000_000;
/// Most HTTP/2 streams shared on one connection (servers allow 100 to 250).
pub const MAX_H2_STREAMS: u64 = 1000;

/// Validates `spec` and compiles its templates.
pub fn build(spec: LoadSpec) -> Result<LoadConfig, String> {
    let (origin, base_path) = Origin::parse(&spec.base_url.value).map_err(|e| spec.base_url.err(e))?;
    if spec.requests.is_empty() && spec.scenarios.is_empty() {
        return Err(format!(
            "{}: no requests; add at least one [[load.request]] table (or [scenarios.NAME] with steps)",
            spec.base_url.at
        ));
    }
    if let Some(d) = spec.duration
        && spec.warmup.value >= d
    {
        return Err(spec.warmup.err(format!(
            "the warm-up ({}) is as long as the whole load ({}); make it shorter than load.duration",
            crate::config::units::format_duration(spec.warmup.value),
            crate::config::units::format_duration(d)
        )));
    }
    let mut ctx = TemplateContext::new(spec.vars.clone(), &spec.base_dir);
    let mut endpoints = Vec::new();
    let scenarios = if spec.scenarios.is_empty() {
        let mut names = std::collections::HashSet::new();
        for (i, r) in spec.requests.iter().enumerate() {
            if !names.insert(r.name.value.clone()) {
                return Err(r.name.err(format!(
                    "two requests are named '{}'; give each [[load.request]] its own name",
                    r.name.value
                )));
            }
            endpoints.push(endpoint(i, r, &origin, &base_path, spec.http2, &mut ctx)?);
        }
        if endpoints.iter().all(|e| e.weight == 0) {
            return Err(spec.requests[0]
                .weight
                .err("every request has weight 0; give at least one a weight of 1 or more"));
        }
        let ends = spec.duration.is_some()
            || spec.max_requests.is_some()
            || match &spec.model {
                ModelSpec::Closed { iterations, .. } => iterations.is_some(),
                ModelSpec::Open { stages, .. } => stages.iter().all(|s| s.value.duration.is_some()),
            };
        if !ends {
            return Err(format!(
                "{}: the load never ends; set duration (e.g. \"60s\", or -d), iterations, or total_requests (or -n)",
                spec.table_at
            ));
        }
        let executor = executor(&spec.model, spec.worker)?;
        vec![Scenario {
            name: String::new(),
            executor_name: match executor.model() {
                Model::Open => "arrival-rate",
                _ => "users",
            }
            .to_string(),
            executor,
            start: Duration::ZERO,
            duration: spec.duration,
            graceful_stop: spec.graceful_stop,
            flow: Flow::Mix((0..endpoints.len()).collect()),
        }]
    } else {
        let mut out = Vec::new();
        for sc in &spec.scenarios {
            let journey = super::journeys::build(sc, &mut endpoints, &mut ctx, &origin, &base_path, spec.http2)?;
            let mut executor = executor(&sc.model, spec.worker)?;
            if let Executor::Closed {
                shared_iterations,
                iterations,
                ramp,
                ..
            } = &mut executor
            {
                if sc.shared_iterations {
                    // Workers side by side share the iterations too.
                    let (index, count) = spec.worker;
                    *shared_iterations = iterations.take().map(|n| share_of(n, index, count));
                }
                if let Some(stages) = &sc.ramp {
                    let plan = RatePlan {
                        stages: stages.iter().map(|s| s.value).collect(),
                    };
                    *ramp = Some(plan.share(spec.worker.1));
                }
            }
            out.push(Scenario {
                name: sc.name.value.clone(),
                executor_name: sc.executor.value.clone(),
                executor,
                start: sc.start,
                duration: sc.duration,
                graceful_stop: sc.graceful_stop.unwrap_or(spec.graceful_stop),
                flow: Flow::Steps(journey),
            });
        }
        out
    };
    if !(1..=MAX_H2_STREAMS).contains(&spec.h2_streams.value) {
        return Err(spec.h2_streams.err(format!("must be from 1 to {MAX_H2_STREAMS}")));
    }
    let (index, count) = spec.worker;
    let max_requests = match &spec.max_requests {
        Some(n) if n.value == 0 => return Err(n.err("must be at least 1")),
        Some(n) if share_of(n.value, index, count) == 0 => {
            return Err(n.err(format!(
                "{} requests shared by {count} workers leaves worker {index} none; use at least {count}",
                n.value
            )));
        }
        Some(n) => Some(share_of(n.value, index, count)),
        None => None,
    };
    Ok(LoadConfig {
        origin,
        endpoints,
        scenarios,
        warmup: spec.warmup.value,
        max_requests,
        timeout: spec.timeout,
        stream_timeout: spec.stream_timeout,
        http2: spec.http2,
        h2_streams: spec.h2_streams.value as usize,
        insecure: spec.insecure,
        live: false,
        latency_correction: spec.latency_correction,
        worker: spec.worker,
        start_at: None,
    })
}

/// The engine's executor for a load shape as written, for worker `index`
/// of `count`.
fn executor(model: &ModelSpec, (index, count): (u32, u32)) -> Result<Executor, String> {
    let none_left = |what: &At<u64>, noun: &str| {
        what.err(format!(
            "{} {noun} shared by {count} workers leaves worker {index} none; use at least {count}",
            what.value
        ))
    };
    let executor = match model {
        ModelSpec::Closed {
            users,
            spawn_rate,
            think,
            iterations,
        } => {
            if users.value == 0 {
                return Err(users.err("must be at least 1"));
            }
            if users.value > MAX_CONCURRENCY {
                return Err(users.err(format!(
                    "{} users is more than one process can hold; use at most {MAX_CONCURRENCY}, and split bigger loads over workers",
                    users.value
                )));
            }
            if let Some(r) = spawn_rate
                && !(MIN_RATE..=MAX_RATE).contains(&r.value)
            {
                return Err(r.err(format!(
                    "must be from {MIN_RATE} to {MAX_RATE} (users added per second)"
                )));
            }
            if let Some(n) = iterations
                && n.value == 0
            {
                return Err(n.err("must be at least 1"));
            }
            let share = share_of(users.value, index, count) as usize;
            if share == 0 {
                return Err(none_left(users, "users"));
            }
            let users = share;
            Executor::Closed {
                users,
                spawn_rate: spawn_rate.as_ref().map(|r| r.value / f64::from(count)),
                think: *think,
                iterations: iterations.as_ref().map(|n| n.value),
                shared_iterations: None,
                ramp: None,
            }
        }
        ModelSpec::Open {
            stages,
            poisson,
            max_in_flight,
        } => {
            for s in stages {
                // 0 is allowed where a ramp starts or ends; anything else is
                // at least one request in about 17 minutes.
                let ok = |r: f64| r == 0.0 || (MIN_RATE..=MAX_RATE).contains(&r);
                if !ok(s.value.from) || !ok(s.value.to) {
                    return Err(s.err(format!(
                        "rate must be a number of requests per second: 0 (a ramp's end), or from {MIN_RATE} to {MAX_RATE} (split higher rates over workers)"
                    )));
                }
                if s.value.duration.is_some_and(|d| d.is_zero()) {
                    return Err(s.err("stage duration must be greater than 0"));
                }
            }
            let plan = RatePlan {
                stages: stages.iter().map(|s| s.value).collect(),
            };
            if plan.peak() <= 0.0 {
                return Err(stages[0].err("rate must be greater than 0, e.g. 50 (requests per second)"));
            }
            if !(1..=MAX_CONCURRENCY).contains(&max_in_flight.value) {
                return Err(max_in_flight.err(format!("must be from 1 to {MAX_CONCURRENCY}")));
            }
            Executor::Open {
                plan: plan.share(count),
                poisson: *poisson,
                max_in_flight: share_of(max_in_flight.value, index, count).max(1) as usize,
                phase: f64::from(index) / f64::from(count.max(1)),
            }
        }
    };
    Ok(executor)
}

pub(super) fn endpoint(
    index: usize,
    r: &RequestSpec,
    origin: &Origin,
    base_path: &str,
    http2: bool,
    ctx: &mut TemplateContext,
) -> Result<Endpoint, String> {
    let method = Method::from_bytes(r.method.value.to_ascii_uppercase().as_bytes()).map_err(|_| {
        r.method.err(format!(
            "'{}' is not an HTTP method; e.g. GET, POST, PUT",
            r.method.value
        ))
    })?;
    let joined = join_path(base_path, &r.path.value);
    let path = ctx.compile(&joined, Escape::Url).map_err(|e| r.path.err(e))?;
    let prefix = origin.prefix();
    let uri_of = |p: &str| -> Result<Uri, String> {
        let full = if http2 { format!("{prefix}{p}") } else { p.to_string() };
        full.parse::<Uri>()
            .map_err(|e| r.path.err(format!("'{p}' is not a valid path ({e})")))
    };
    let uri = match path.as_static() {
        Some(p) => Some(uri_of(p)?),
        None => {
            // The text around the placeholders must make a valid path too
            // (their values are percent-encoded when rendered).
            uri_of(&path.skeleton())?;
            None
        }
    };
    let mut headers = HeaderMap::new();
    if !http2 {
        headers.insert(http::header::HOST, header_value("host", &origin.authority(), &r.path)?);
    }
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static(concat!("loadprof/", env!("CARGO_PKG_VERSION"))),
    );
    // The URL's user and password; an Authorization header of the
    // request's own, set below, takes its place.
    if let Some(auth) = &origin.basic_auth {
        headers.insert(http::header::AUTHORIZATION, auth.clone());
    }
    let body = match &r.body {
        None => None,
        Some(b) => {
            let (text, escape, content_type) = match &b.value {
                BodySource::Text(t) => (t.clone(), Escape::None, None),
                BodySource::Json(v) => (v.to_string(), Escape::JsonString, Some("application/json")),
            };
            if let Some(ct) = content_type {
                headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            let template = ctx.compile(&text, escape).map_err(|e| b.err(e))?;
            let fixed = template.as_static().map(|s| Bytes::copy_from_slice(s.as_bytes()));
            Some(BodySpec { template, fixed })
        }
    };
    let mut header_templates = Vec::new();
    for h in &r.headers {
        let (k, v) = &h.value;
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| h.err(format!("'{k}' is not a valid header name")))?;
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            return Err(h.err(format!(
                "loadprof frames the body itself and sets {name} from it; remove this header"
            )));
        }
        let t = ctx.compile(v.trim(), Escape::None).map_err(|e| h.err(e))?;
        match t.as_static() {
            Some(v) => {
                headers.insert(name.clone(), header_value(name.as_str(), v, h)?);
            }
            None => {
                // Rendered per request: the URL's user and password give way to it.
                headers.remove(&name);
                header_templates.push((name, t));
            }
        }
    }
    if let Some(re) = &r.expect_status
        && let Some(bad) = re.value.iter().find(|c| !(100..=599).contains(*c))
    {
        return Err(re.err(format!("{bad} is not an HTTP status code (100 to 599)")));
    }
    let expect_body = match &r.expect_body {
        Some(re) => {
            Some(regex::Regex::new(&re.value).map_err(|e| re.err(format!("not a valid regular expression: {e}")))?)
        }
        None => None,
    };
    let mut ep = Endpoint {
        index,
        name: r.name.value.clone(),
        weight: r.weight.value,
        method,
        path,
        uri,
        origin_prefix: prefix,
        headers,
        header_templates,
        body,
        stream: r.stream,
        keep_body: expect_body.is_some(),
        expect_status: r.expect_status.as_ref().map(|s| s.value.clone()),
        expect_body,
        keep_headers: Vec::new(),
        h1_request: None,
    };
    let fixed =
        ep.uri.is_some() && ep.header_templates.is_empty() && ep.body.as_ref().is_none_or(|b| b.fixed.is_some());
    if fixed && !http2 {
        // Nothing to render: serialise the request once for every send.
        let (mut bytes, mut scratch) = (Vec::new(), String::new());
        crate::load::client::write_h1(&ep, &mut rand::rng(), Default::default(), &mut bytes, &mut scratch);
        ep.h1_request = Some(Bytes::from(bytes));
    }
    Ok(ep)
}

fn header_value<T>(name: &str, v: &str, at: &At<T>) -> Result<HeaderValue, String> {
    HeaderValue::from_str(v).map_err(|_| {
        at.err(format!(
            "'{}' is not a valid header value",
            crate::redact::header_value(name, v)
        ))
    })
}

/// The base URL's path joined with a request's path: `/api` + `/ask` =
/// `/api/ask`; a request path of `/` alone keeps the base path.
fn join_path(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    match path {
        "" | "/" if !base.is_empty() => base.to_string(),
        p if p.starts_with('/') => format!("{base}{p}"),
        p => format!("{base}/{p}"),
    }
}

/// Parses `300ms..1s` (a range) or `500ms` (fixed).
pub fn parse_think_time(s: &str) -> Result<ThinkTime, String> {
    use super::units::parse_duration;
    match s.split_once("..") {
        Some((a, b)) => {
            let (min, max) = (
                parse_duration(a).map_err(|e| e.to_string())?,
                parse_duration(b).map_err(|e| e.to_string())?,
            );
            if min > max {
                return Err(format!("'{s}': the range must go from low to high, e.g. 300ms..1s"));
            }
            Ok(ThinkTime { min, max })
        }
        None => parse_duration(s).map(ThinkTime::fixed).map_err(|e| e.to_string()),
    }
}

/// Parses `200`, `200,201` or `2xx`-free lists of status codes.
pub fn parse_status_list(s: &str) -> Result<Vec<u16>, String> {
    s.split(',')
        .map(|c| {
            c.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    format!(
                        "'{}' is not an HTTP status code (100 to 599), e.g. 200 or 200,201",
                        c.trim()
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(base: &str, path: &str) -> LoadSpec {
        LoadSpec {
            scenarios: Vec::new(),
            table_at: "URL".into(),
            base_url: At::new(base.to_string(), "URL"),
            requests: vec![RequestSpec {
                name: At::new("r".into(), "name"),
                weight: At::new(1, "w"),
                method: At::new("get".into(), "-m"),
                path: At::new(path.into(), "path"),
                headers: vec![],
                body: None,
                stream: StreamKind::None,
                expect_status: None,
                expect_body: None,
            }],
            model: ModelSpec::Closed {
                users: At::new(10, "-c"),
                spawn_rate: None,
                think: ThinkTime::default(),
                iterations: None,
            },
            duration: Some(Duration::from_secs(1)),
            warmup: At::new(Duration::ZERO, "load.warmup"),
            max_requests: None,
            timeout: DEFAULT_TIMEOUT,
            stream_timeout: None,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            http2: false,
            h2_streams: At::new(1, "--h2-streams"),
            insecure: false,
            latency_correction: true,
            vars: BTreeMap::new(),
            base_dir: PathBuf::from("."),
            worker: (0, 1),
        }
    }

    #[test]
    fn joins_base_and_request_paths() {
        assert_eq!(join_path("/api/", "/ask"), "/api/ask");
        assert_eq!(join_path("/", "/ask"), "/ask");
        assert_eq!(join_path("/api", "/"), "/api");
        assert_eq!(join_path("/", "/"), "/");
        assert_eq!(join_path("/", "x?q=1"), "/x?q=1");
    }

    #[test]
    fn builds_origin_form_uri_and_host_header_for_http1() {
        let c = build(spec("http://127.0.0.1:8080/api", "/ask?x=1")).unwrap();
        let e = &c.endpoints[0];
        assert_eq!(e.uri.as_ref().unwrap().to_string(), "/api/ask?x=1");
        assert_eq!(e.headers["host"], "127.0.0.1:8080");
        assert_eq!(e.method, Method::GET);
    }

    #[test]
    fn http2_uses_absolute_uri() {
        let mut s = spec("http://localhost:9/", "/a");
        s.http2 = true;
        let c = build(s).unwrap();
        assert_eq!(c.endpoints[0].uri.as_ref().unwrap().to_string(), "http://localhost:9/a");
        assert!(!c.endpoints[0].headers.contains_key("host"));
    }

    #[test]
    fn errors_name_where_the_value_was_written() {
        let e = build(spec("ftp://x/", "/")).unwrap_err();
        assert!(e.starts_with("URL: ") && e.contains("http://"), "{e}");
        let e = build(spec("not a url", "/")).unwrap_err();
        assert!(e.starts_with("URL: "), "{e}");
        let e = build(spec("http://x/", "/{{pick nope}}")).unwrap_err();
        assert!(e.starts_with("path: ") && e.contains("'nope'"), "{e}");
        let mut s = spec("http://x/", "/");
        s.model = ModelSpec::Open {
            stages: vec![At::new(
                Stage {
                    from: 0.0,
                    to: 0.0,
                    duration: None,
                },
                "--rate",
            )],
            poisson: false,
            max_in_flight: At::new(10, "-c"),
        };
        let e = build(s).unwrap_err();
        assert!(e.starts_with("--rate: ") && e.contains("greater than 0"), "{e}");
    }

    #[test]
    fn tiny_rates_are_refused_rather_than_overflowing_the_clock() {
        let mut s = spec("http://x/", "/");
        s.model = ModelSpec::Closed {
            users: At::new(2, "-c"),
            spawn_rate: Some(At::new(1e-20, "load.spawn_rate")),
            think: ThinkTime::default(),
            iterations: None,
        };
        assert!(
            build(s)
                .unwrap_err()
                .starts_with("load.spawn_rate: must be from 0.001 to 10000000")
        );
        let mut s = spec("http://x/", "/");
        s.model = ModelSpec::Open {
            stages: vec![At::new(
                Stage {
                    from: 1e-20,
                    to: 1e-20,
                    duration: None,
                },
                "--rate",
            )],
            poisson: false,
            max_in_flight: At::new(10, "-c"),
        };
        assert!(build(s).unwrap_err().starts_with("--rate: "));
    }

    #[test]
    fn huge_rates_and_counts_are_refused_rather_than_spinning_the_clock() {
        let open = |rate: f64, in_flight: u64| {
            let mut s = spec("http://x/", "/");
            s.model = ModelSpec::Open {
                stages: vec![At::new(
                    Stage {
                        from: rate,
                        to: rate,
                        duration: None,
                    },
                    "--rate",
                )],
                poisson: false,
                max_in_flight: At::new(in_flight, "-c"),
            };
            build(s)
        };
        for rate in [1e300, f64::INFINITY, f64::NAN, 1.5e7] {
            let e = open(rate, 10).unwrap_err();
            assert!(e.starts_with("--rate: ") && e.contains("10000000"), "{rate}: {e}");
        }
        assert!(open(1e7, 10).is_ok());
        let e = open(100.0, 2_000_000).unwrap_err();
        assert_eq!(e, "-c: must be from 1 to 1000000");
        let mut s = spec("http://x/", "/");
        s.model = ModelSpec::Closed {
            users: At::new(5_000_000, "-c"),
            spawn_rate: None,
            think: ThinkTime::default(),
            iterations: None,
        };
        assert!(build(s).unwrap_err().contains("at most 1000000"));
        let mut s = spec("http://x/", "/");
        s.h2_streams = At::new(100_000, "--h2-streams");
        assert_eq!(build(s).unwrap_err(), "--h2-streams: must be from 1 to 1000");
    }

    #[test]
    fn paths_with_placeholders_are_checked_and_framing_headers_refused() {
        let e = build(spec("http://x/", "/a b?q={{random_int 1 2}}")).unwrap_err();
        assert!(e.starts_with("path: ") && e.contains("not a valid path"), "{e}");
        let mut s = spec("http://x/", "/");
        s.requests[0]
            .headers
            .push(At::new(("Content-Length".into(), "3".into()), "-H 'Content-Length: 3'"));
        let e = build(s).unwrap_err();
        assert!(e.starts_with("-H 'Content-Length: 3': ") && e.contains("remove"), "{e}");
    }

    #[test]
    fn an_endless_load_and_an_empty_worker_share_are_refused() {
        let mut s = spec("http://x/", "/");
        s.duration = None;
        assert!(build(s).unwrap_err().contains("never ends"));
        let mut s = spec("http://x/", "/");
        s.model = ModelSpec::Closed {
            users: At::new(1, "-c"),
            spawn_rate: None,
            think: ThinkTime::default(),
            iterations: None,
        };
        s.worker = (1, 2);
        let e = build(s).unwrap_err();
        assert!(
            e.starts_with("-c: 1 users shared by 2 workers leaves worker 1 none"),
            "{e}"
        );
    }

    #[test]
    fn worker_share_divides_users_rate_and_requests() {
        let mut s = spec("http://x/", "/");
        s.worker = (1, 3);
        s.max_requests = Some(At::new(10, "-n"));
        let c = build(s).unwrap();
        assert!(matches!(c.scenarios[0].executor, Executor::Closed { users: 3, .. }));
        assert_eq!(c.max_requests, Some(3));
    }

    #[test]
    fn think_time_and_status_lists() {
        assert_eq!(
            parse_think_time("300ms..1s").unwrap(),
            ThinkTime {
                min: Duration::from_millis(300),
                max: Duration::from_secs(1)
            }
        );
        assert_eq!(
            parse_think_time("2s").unwrap(),
            ThinkTime::fixed(Duration::from_secs(2))
        );
        assert!(parse_think_time("1s..300ms").is_err());
        assert_eq!(parse_status_list("200, 201").unwrap(), [200, 201]);
        assert!(parse_status_list("2xx").unwrap_err().contains("'2xx'"));
    }
}
