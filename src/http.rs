//! One-off HTTP GETs outside the load engine: a pprof profile, a target's
//! readiness URL. Built on the load engine's connector, so https works the
//! same way; every call has a timeout and honours the stop token.

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
}

/// Sends one request and returns the answer with its body still to be
/// read, so a stream can be timed as it arrives.
pub async fn send(
    method: http::Method,
    url: &str,
    body: Option<(Vec<u8>, &str)>,
) -> Result<http::Response<hyper::body::Incoming>, FetchError> {
    let (origin, path) = Origin::parse(url).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
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
        reason: e.to_string(),
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
    let req = req.body(body).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
    sender.send_request(req).await.map_err(broken)
}

/// One GET of `url`.
pub async fn fetch(url: &str) -> Result<Fetched, FetchError> {
    let resp = send(http::Method::GET, url, None).await?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| FetchError::Broken {
            url: url.to_string(),
            reason: e.to_string(),
        })?
        .to_bytes()
        .to_vec();
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
                Err(_) => Err(FetchError::Timeout { url: url.to_string(), secs: timeout.as_secs() }),
            },
            () = watch => Ok(None),
        }
    })
}

/// [`fetch`] from synchronous code. `Ok(None)`: the stop token fired first.
pub fn get(url: &str, timeout: Duration, stop: &StopToken) -> Result<Option<Fetched>, FetchError> {
    block_on(url, timeout, stop, fetch(url))
}

/// Polls `url` every 100 ms until it answers 2xx (`Ok(Some(elapsed))`),
/// `timeout` passes (the last failure), or `stop` fires (`Ok(None)`).
pub fn wait_ready(url: &str, timeout: Duration, stop: &StopToken) -> Result<Option<Duration>, FetchError> {
    let t0 = Instant::now();
    let poll = async {
        loop {
            let failure = match fetch(url).await {
                Ok(f) if (200..300).contains(&f.status) => return Ok(t0.elapsed()),
                Ok(f) => FetchError::Broken {
                    url: url.to_string(),
                    reason: format!("it answered {} while starting", f.status),
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
