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
