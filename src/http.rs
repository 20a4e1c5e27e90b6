//! One-off HTTP GETs outside the load engine: a pprof profile, a target's
//! readiness URL, an LLM server's API. Built on the load engine's
//! connector, so https works the same way; every call has a timeout and
//! honours the stop token, every body read is bounded, and a URL's user
//! and password are sent as HTTP Basic and never shown in an error.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::cancel::StopToken;
use crate::load::Origin;
use crate::load::client::Connector;

/// True for an `http://` or `https://` URL (and not, say, a file path).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Most of a body [`fetch`] keeps unless told otherwise.
pub const BODY_LIMIT: usize = 16 << 20;

/// Why a GET got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    BadUrl(String),
    /// Nothing accepted the connection (or the name did not resolve).
    #[error("cannot connect to {url}: {reason}; is the server running and listening on {authority}?")]
    Connect {
        url: String,
        authority: String,
        reason: String,
    },
    /// The connection broke before the whole answer came.
    #[error("{url}: the connection broke ({reason}); did the server exit?")]
    Broken { url: String, reason: String },
    #[error("{url}: no answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    /// The body went past the limit (a server streaming forever).
    #[error("{url}: the answer is larger than {}; is this the right endpoint?", crate::config::units::format_bytes(*limit as f64))]
    TooLarge { url: String, limit: usize },
}

/// Sends one request and returns the answer with its body still to be
/// read, so a stream can be timed as it arrives. `headers` go with it
/// (an `Authorization` among them takes the place of the URL's user).
pub async fn send(
    method: http::Method,
    url: &str,
    body: Option<(Vec<u8>, &str)>,
    headers: &http::HeaderMap,
) -> Result<http::Response<hyper::body::Incoming>, FetchError> {
    let (origin, path) = Origin::parse(url).map_err(FetchError::BadUrl)?;
    let shown = crate::redact::url(url);
    let url = shown.as_ref();
    let connect = |reason: String| FetchError::Connect {
        url: url.to_string(),
        authority: origin.authority(),
        reason,
    };
    let addr = *origin
        .resolve()
        .map_err(|e| connect(e.to_string()))?
        .first()
        .ok_or_else(|| connect("the host name resolves to no address".into()))?;
    let connector =
        Connector::new(&origin, addr, None, false).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
    let io = connector.open_io().await.map_err(|e| connect(e.to_string()))?;
    let broken = |e: hyper::Error| FetchError::Broken {
        url: url.to_string(),
        reason: crate::load::client::describe(&e),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(broken)?;
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path.as_str())
        .header(http::header::HOST, origin.authority())
        .header(
            http::header::USER_AGENT,
            concat!("loadprof/", env!("CARGO_PKG_VERSION")),
        );
    let body = match body {
        Some((bytes, content_type)) => {
            req = req.header(http::header::CONTENT_TYPE, content_type);
            Full::new(Bytes::from(bytes))
        }
        None => Full::new(Bytes::new()),
    };
    if let Some(auth) = &origin.basic_auth {
        req = req.header(http::header::AUTHORIZATION, auth.clone());
    }
    let mut req = req.body(body).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
    for (name, value) in headers {
        req.headers_mut().insert(name.clone(), value.clone());
    }
    sender.send_request(req).await.map_err(broken)
}

/// Reads a whole body, up to `limit` bytes (`url` names it in errors).
pub async fn read_body(mut body: hyper::body::Incoming, limit: usize, url: &str) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Broken {
            url: crate::redact::url(url).into_owned(),
            reason: crate::load::client::describe(&e),
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(FetchError::TooLarge {
                    url: crate::redact::url(url).into_owned(),
                    limit,
                });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// One GET of `url`, its body read up to `limit` bytes.
pub async fn fetch(url: &str, limit: usize) -> Result<Fetched, FetchError> {
    let resp = send(http::Method::GET, url, None, &http::HeaderMap::new()).await?;
    let status = resp.status().as_u16();
    let body = read_body(resp.into_body(), limit, url).await?;
    Ok(Fetched { status, body })
}

/// Runs `work` on a small runtime of its own, giving up at `timeout` or
/// when `stop` fires (`Ok(None)`).
fn block_on<T>(
    url: &str,
    timeout: Duration,
    stop: &StopToken,
    work: impl std::future::Future<Output = Result<T, FetchError>>,
) -> Result<Option<T>, FetchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::BadUrl(format!("cannot start the HTTP client: {e}")))?;
    rt.block_on(async {
        let watch = async {
            while stop.reason().is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            r = tokio::time::timeout(timeout, work) => match r {
                Ok(r) => r.map(Some),
                Err(_) => Err(FetchError::Timeout { url: crate::redact::url(url).into_owned(), secs: timeout.as_secs() }),
            },
            () = watch => Ok(None),
        }
    })
}

/// [`fetch`] from synchronous code. `Ok(None)`: the stop token fired first.
pub fn get(url: &str, limit: usize, timeout: Duration, stop: &StopToken) -> Result<Option<Fetched>, FetchError> {
    block_on(url, timeout, stop, fetch(url, limit))
}

/// One POST of `body` from synchronous code, giving up at `timeout`. The
/// status is the answer; up to `body_limit` bytes of the body are kept
/// (none are read when it is 0), and a body that breaks or runs over is
/// kept empty rather than failing the request.
pub fn post(
    url: &str,
    body: Vec<u8>,
    content_type: &str,
    headers: &http::HeaderMap,
    body_limit: usize,
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    let work = async {
        let resp = send(http::Method::POST, url, Some((body, content_type)), headers).await?;
        let status = resp.status().as_u16();
        let body = if body_limit > 0 {
            read_body(resp.into_body(), body_limit, url).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Fetched { status, body })
    };
    // Nothing stops it but its timeout.
    block_on(url, timeout, &StopToken::new(), work)?.ok_or_else(|| FetchError::Timeout {
        url: crate::redact::url(url).into_owned(),
        secs: timeout.as_secs(),
    })
}

/// Polls `url` every 100 ms until it answers 2xx (`Ok(Some(elapsed))`),
/// `timeout` passes (the last failure), or `stop` fires (`Ok(None)`).
pub fn wait_ready(url: &str, timeout: Duration, stop: &StopToken) -> Result<Option<Duration>, FetchError> {
    let t0 = Instant::now();
    let poll = async {
        loop {
            // The status is the answer; the body is never read, so one that
            // streams forever cannot hold the wait up or fill memory.
            let failure = match send(http::Method::GET, url, None, &http::HeaderMap::new()).await {
                Ok(r) if r.status().is_success() => return Ok(t0.elapsed()),
                Ok(r) => FetchError::Broken {
                    url: crate::redact::url(url).into_owned(),
                    reason: format!("it answered {} while starting", r.status().as_u16()),
                },
                Err(e @ FetchError::BadUrl(_)) => return Err(e),
                Err(e) => e,
            };
            if t0.elapsed() + Duration::from_millis(100) >= timeout {
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    block_on(url, timeout + Duration::from_secs(1), stop, poll)
}
