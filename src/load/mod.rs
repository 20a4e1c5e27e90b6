//! The load engine: drives HTTP requests at one target in the closed model
//! (virtual users) or the open model (an arrival-rate plan), times each
//! request (connect, first byte, first streamed chunk, gaps between chunks,
//! end) and aggregates the records into per-endpoint HdrHistograms and a
//! per-second timeline. It never prints and never writes files; the caller
//! gets each timeline row through a callback and the summary at the end.

mod aggregate;
pub mod client;
mod engine;
pub mod h1;
pub mod journey;
pub mod plan;
pub mod stats;
pub mod stream;
pub mod template;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

pub use aggregate::{EndpointTotals, ScenarioPoint, ScenarioSecond, Totals};
pub use engine::{LoadError, LoadRecording, ScenarioRecording, TimelineRow, run};
use plan::{RatePlan, ThinkTime};
use stream::StreamKind;
use template::Template;

/// Where requests go: scheme, host and port of the base URL, and the
/// user and password it names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `Authorization: Basic ...` for `http://user:password@host/`, sent
    /// with every request as curl does (marked sensitive: never shown).
    pub basic_auth: Option<http::HeaderValue>,
}

impl Origin {
    /// Parses the scheme and authority of `url`; returns the origin and the
    /// rest (path and query, `/` if empty).
    pub fn parse(url: &str) -> Result<(Origin, String), String> {
        // Errors show the URL as it may be shown: no password, no key.
        let shown = crate::redact::url(url);
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("'{shown}' is not a valid URL ({e}); expected e.g. http://127.0.0.1:8080/path"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "'{shown}': scheme '{other}' is not supported; use http:// or https://"
                ));
            }
            None => return Err(format!("'{shown}' has no scheme; write it as http://{shown}")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{shown}' has no host; expected e.g. http://127.0.0.1:8080/"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        // The port as written: `Uri::port` gives none for one that does
        // not fit 16 bits, which must not pass for the default.
        let host_port = uri
            .authority()
            .map_or("", |a| a.as_str().rsplit_once('@').map_or(a.as_str(), |(_, h)| h));
        let written = match host_port.rfind(']') {
            Some(i) => host_port[i + 1..].strip_prefix(':'),
            None => host_port.rsplit_once(':').map(|(_, p)| p),
        };
        let port = match written.filter(|p| !p.is_empty()) {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("'{shown}': port {p} is out of range; a port is 1 to 65535")),
            },
        };
        let basic_auth = uri
            .authority()
            .and_then(|a| a.as_str().rsplit_once('@'))
            .map(|(userinfo, _)| basic_auth(userinfo));
        let rest = uri.path_and_query().map_or("/", |p| p.as_str());
        let rest = if rest.is_empty() { "/" } else { rest };
        Ok((
            Origin {
                https,
                host,
                port,
                basic_auth,
            },
            rest.to_string(),
        ))
    }

    /// `host:port` as written in a Host header (the port left out when it is
    /// the scheme's default).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.https, self.port) {
            (false, 80) | (true, 443) => host,
            _ => format!("{host}:{}", self.port),
        }
    }

    pub fn prefix(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.authority())
    }

    /// The socket addresses the host name resolves to.
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }
}

/// The `Authorization` value for a URL's `user:password` (each
/// percent-decoded, as curl does), marked sensitive.
fn basic_auth(userinfo: &str) -> http::HeaderValue {
    use base64::Engine as _;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let pair = format!(
        "{}:{}",
        crate::redact::percent_decode(user),
        crate::redact::percent_decode(password)
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut v = http::HeaderValue::try_from(format!("Basic {encoded}")).expect("base64 is a valid header value");
    v.set_sensitive(true);
    v
}

/// A request body: fixed bytes, or a template rendered per request.
#[derive(Debug, Clone)]
pub struct BodySpec {
    pub template: Template,
    pub fixed: Option<Bytes>,
}

/// One named request of the mix, ready to send.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub index: usize,
    pub name: String,
    pub weight: u32,
    pub method: Method,
    pub path: Template,
    /// The request URI when the path has no placeholders.
    pub uri: Option<Uri>,
    /// `scheme://authority`, put before a rendered path for HTTP/2.
    pub origin_prefix: String,
    /// The whole HTTP/1.1 request, when nothing in it is a template.
    pub h1_request: Option<Bytes>,
    /// Fixed headers, Host and Content-Type included.
    pub headers: HeaderMap,
    pub header_templates: Vec<(http::HeaderName, Template)>,
    pub body: Option<BodySpec>,
    pub stream: StreamKind,
    /// Accepted status codes; `None`: any status below 400.
    pub expect_status: Option<Vec<u16>>,
    pub expect_body: Option<regex::Regex>,
    /// Keep the start of the body (for `expect_body`, captures, polls).
    pub keep_body: bool,
    /// Answer headers to keep (captures, `Set-Cookie` for a cookie jar).
    pub keep_headers: Vec<http::HeaderName>,
}

impl StreamKind {
    pub fn is_stream(self) -> bool {
        self != StreamKind::None
    }
}

/// Which model drives a scenario's iterations (one request of the mix, or
/// one pass through a journey's steps).
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `users` virtual users, each running an iteration, waiting for its
    /// end, thinking, and running the next.
    Closed {
        users: usize,
        spawn_rate: Option<f64>,
        think: ThinkTime,
        /// Iterations per user.
        iterations: Option<u64>,
        /// Iterations shared by all users: each takes the next until none are left.
        shared_iterations: Option<u64>,
        /// Users active over time (`ramping-users`): user `i` runs while
        /// the plan's level is above `i`.
        ramp: Option<RatePlan>,
    },
    /// Iterations arrive on a schedule whatever the answers do. At most
    /// `max_in_flight` are in flight; arrivals beyond that are dropped and
    /// counted.
    Open {
        plan: RatePlan,
        poisson: bool,
        max_in_flight: usize,
        /// Where this worker's arrivals sit among the slots of the whole
        /// schedule, as a share of one of its own gaps: worker `i` of `n`
        /// (each at 1/n of the rate) takes slots i, i+n, i+2n, … of the
        /// whole, so workers started together interleave evenly.
        phase: f64,
    },
}

impl Executor {
    pub fn model(&self) -> Model {
        match self {
            Executor::Closed { .. } => Model::Closed,
            Executor::Open { .. } => Model::Open,
        }
    }

    /// How long the executor runs by its own plan, when it says.
    fn planned(&self) -> Option<Duration> {
        match self {
            Executor::Open { plan, .. } => plan.duration(),
            Executor::Closed { ramp: Some(plan), .. } => plan.duration(),
            Executor::Closed { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    Closed,
    Open,
    /// Scenarios of both models ran at once.
    Mixed,
}

/// What one iteration of a scenario does.
#[derive(Debug, Clone)]
pub enum Flow {
    /// One request, picked by weight from these endpoints (`[[load.request]]`).
    Mix(Vec<usize>),
    /// A journey's steps, in order.
    Steps(journey::Journey),
}

/// A load shape and what each of its iterations does. A profile with
/// `[[load.request]]` is one scenario; `[scenarios.NAME]` tables are many,
/// run side by side on one clock.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Empty for the `[[load.request]]` mix.
    pub name: String,
    /// The executor as the profile names it (`constant-users`), for reports.
    pub executor_name: String,
    pub executor: Executor,
    /// From the start of the load to this scenario's first iteration.
    pub start: Duration,
    /// Stop starting iterations this long after `start`; `None`: when the
    /// plan, the iterations or `max_requests` run out.
    pub duration: Option<Duration>,
    /// How long iterations running at the end may take to finish.
    pub graceful_stop: Duration,
    pub flow: Flow,
}

impl Scenario {
    /// When the scenario stops starting iterations, from the start of the load.
    pub fn end(&self) -> Option<Duration> {
        self.duration
            .or_else(|| self.executor.planned())
            .map(|d| self.start + d)
    }
}

/// Everything the engine needs, validated.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub origin: Origin,
    /// Every endpoint of every scenario; `Endpoint::index` is the place here.
    pub endpoints: Vec<Endpoint>,
    pub scenarios: Vec<Scenario>,
    /// Stop after this many requests in all.
    pub max_requests: Option<u64>,
    /// Requests that end within this long of the start are not counted.
    pub warmup: Duration,
    pub timeout: Duration,
    pub stream_timeout: Option<Duration>,
    pub http2: bool,
    /// With HTTP/2, how many workers share one connection (each with its own stream).
    pub h2_streams: usize,
    pub insecure: bool,
    /// Each timeline row carries the running totals (for `--listen`).
    pub live: bool,
    /// Measure open-model latency from each request's intended start.
    pub latency_correction: bool,
    /// This process's index among the workers sharing the load, and their number.
    pub worker: (u32, u32),
    /// Start the schedule at this instant (`--start-at`) rather than at once.
    pub start_at: Option<std::time::SystemTime>,
}

impl LoadConfig {
    /// The peak planned arrival rate of the open-model scenarios, summed;
    /// None when every scenario is closed.
    pub fn peak_rate(&self) -> Option<f64> {
        let rates: Vec<f64> = self
            .scenarios
            .iter()
            .filter_map(|s| match &s.executor {
                Executor::Open { plan, .. } => Some(plan.peak()),
                Executor::Closed { .. } => None,
            })
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    }

    /// The total length of the run, when it is known in advance.
    pub fn planned_duration(&self) -> Option<Duration> {
        self.scenarios
            .iter()
            .map(Scenario::end)
            .try_fold(Duration::ZERO, |m, e| Some(m.max(e?)))
    }

    /// The model all scenarios share, or `Mixed`.
    pub fn model(&self) -> Model {
        let mut models = self.scenarios.iter().map(|s| s.executor.model());
        let first = models.next().unwrap_or(Model::Closed);
        if models.all(|m| m == first) {
            first
        } else {
            Model::Mixed
        }
    }

    /// The longest graceful stop of any scenario.
    pub fn graceful_stop(&self) -> Duration {
        self.scenarios.iter().map(|s| s.graceful_stop).max().unwrap_or_default()
    }

    /// Whether any scenario is a journey (named scenarios with steps).
    pub fn has_journeys(&self) -> bool {
        self.scenarios.iter().any(|s| matches!(s.flow, Flow::Steps(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_out_of_range_are_refused_not_taken_for_the_default() {
        for url in ["http://127.0.0.1:99999/", "http://127.0.0.1:65536/", "http://h:0/"] {
            let e = Origin::parse(url).unwrap_err();
            assert!(e.contains("out of range") && e.contains("1 to 65535"), "{url}: {e}");
        }
        assert_eq!(Origin::parse("http://h:65535/").unwrap().0.port, 65535);
        assert_eq!(Origin::parse("https://h/").unwrap().0.port, 443);
        assert_eq!(Origin::parse("http://[::1]:8080/x").unwrap().0.host, "::1");
    }

    #[test]
    fn user_and_password_become_basic_auth_and_stay_out_of_errors_and_debug() {
        let (o, rest) = Origin::parse("http://us%40r:p%3Ass@h:81/a?b=1").unwrap();
        assert_eq!(rest, "/a?b=1");
        assert_eq!((o.host.as_str(), o.port), ("h", 81));
        let auth = o.basic_auth.clone().unwrap();
        // base64("us@r:p:ss")
        assert_eq!(auth.to_str().unwrap(), "Basic dXNAcjpwOnNz");
        assert!(auth.is_sensitive());
        assert!(!format!("{o:?}").contains("dXNAcjpwOnNz"));
        assert!(Origin::parse("http://h/").unwrap().0.basic_auth.is_none());
        let e = Origin::parse("ftp://user:hunter2@h/").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
