//! The load engine: drives HTTP requests at one target in the closed model
//! (virtual users) or the open model (an arrival-rate plan), times each
//! request (connect, first byte, first streamed chunk, gaps between chunks,
//! end) and aggregates the records into per-endpoint HdrHistograms and a
//! per-second timeline. It never prints and never writes files; the caller
//! gets each timeline row through a callback and the summary at the end.

pub mod client;
mod engine;
pub mod h1;
pub mod plan;
pub mod stats;
pub mod stream;
pub mod template;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

pub use engine::{LoadError, LoadRecording, TimelineRow, run};
use plan::{RatePlan, ThinkTime};
use stream::StreamKind;
use template::Template;

/// Where requests go: scheme, host and port of the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// Parses the scheme and authority of `url`; returns the origin and the
    /// rest (path and query, `/` if empty).
    pub fn parse(url: &str) -> Result<(Origin, String), String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("'{url}' is not a valid URL ({e}); expected e.g. http://127.0.0.1:8080/path"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "'{url}': scheme '{other}' is not supported; use http:// or https://"
                ));
            }
            None => return Err(format!("'{url}' has no scheme; write it as http://{url}")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{url}' has no host; expected e.g. http://127.0.0.1:8080/"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let rest = uri.path_and_query().map_or("/", |p| p.as_str());
        let rest = if rest.is_empty() { "/" } else { rest };
        Ok((Origin { https, host, port }, rest.to_string()))
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
}

impl StreamKind {
    pub fn is_stream(self) -> bool {
        self != StreamKind::None
    }
}

/// Which model drives the requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// `users` virtual users, each sending a request, waiting for the
    /// whole answer, thinking, and sending the next.
    Closed {
        users: usize,
        spawn_rate: Option<f64>,
        think: ThinkTime,
        iterations: Option<u64>,
    },
    /// Requests arrive on a schedule whatever the answers do. At most
    /// `max_in_flight` are in flight; arrivals beyond that are dropped and
    /// counted.
    Open {
        plan: RatePlan,
        poisson: bool,
        max_in_flight: usize,
    },
}

impl Executor {
    pub fn model(&self) -> Model {
        match self {
            Executor::Closed { .. } => Model::Closed,
            Executor::Open { .. } => Model::Open,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    Closed,
    Open,
}

/// Everything the engine needs, validated.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub origin: Origin,
    pub endpoints: Vec<Endpoint>,
    pub executor: Executor,
    /// Stop starting requests after this long; `None`: when the plan, the
    /// iterations or `max_requests` run out.
    pub duration: Option<Duration>,
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
    /// Measure open-model latency from each request's intended start.
    pub latency_correction: bool,
    /// How long requests in flight at the end may take to finish.
    pub graceful_stop: Duration,
}

impl LoadConfig {
    /// The total length of the run, when it is known in advance.
    pub fn planned_duration(&self) -> Option<Duration> {
        match (&self.executor, self.duration) {
            (_, Some(d)) => Some(d),
            (Executor::Open { plan, .. }, None) => plan.duration(),
            _ => None,
        }
    }
}
