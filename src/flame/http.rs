//! One HTTP GET for a pprof endpoint, on the load engine's connector (so
//! https works the same way), with a timeout and the stop token honoured.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use super::FlameError;
use crate::cancel::StopToken;
use crate::load::Origin;
use crate::load::client::Connector;

/// Fetches `url`. `Ok(None)`: the stop token fired first.
pub fn get(url: &str, timeout: Duration, stop: &StopToken) -> Result<Option<Vec<u8>>, FlameError> {
    let (origin, path) = Origin::parse(url).map_err(|e| FlameError::BadInput(format!("--pprof {url}: {e}")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FlameError::CannotProfile(format!("cannot start the HTTP client: {e}")))?;
    rt.block_on(async {
        let watch = async {
            while stop.reason().is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            r = tokio::time::timeout(timeout, fetch(&origin, &path, url)) => match r {
                Ok(r) => r.map(Some),
                Err(_) => Err(FlameError::CannotProfile(format!(
                    "{url}: no answer within {}s; is the server overloaded, or is the endpoint not a pprof profile?",
                    timeout.as_secs()
                ))),
            },
            () = watch => Ok(None),
        }
    })
}

async fn fetch(origin: &Origin, path: &str, url: &str) -> Result<Vec<u8>, FlameError> {
    let unreachable = |e: std::io::Error| {
        FlameError::CannotProfile(format!(
            "cannot connect to {url}: {e}; is the server running and listening on {}?",
            origin.authority()
        ))
    };
    let addr = *origin
        .resolve()
        .map_err(unreachable)?
        .first()
        .ok_or_else(|| FlameError::CannotProfile(format!("{url}: the host name resolves to no address")))?;
    let connector =
        Connector::new(origin, addr, None, false).map_err(|e| FlameError::BadInput(format!("{url}: {e}")))?;
    let io = connector.open_io().await.map_err(unreachable)?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| FlameError::CannotProfile(format!("{url}: HTTP handshake failed: {e}")))?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, origin.authority())
        .header(
            http::header::USER_AGENT,
            concat!("loadprof/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| FlameError::BadInput(format!("--pprof {url}: {e}")))?;
    let closed = |e: hyper::Error| {
        FlameError::CannotProfile(format!(
            "{url}: the connection broke during the capture ({e}); did the server exit?"
        ))
    };
    let resp = send.send_request(req).await.map_err(closed)?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(closed)?.to_bytes();
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let text: String = String::from_utf8_lossy(&body).trim().chars().take(200).collect();
    // Go answers a second CPU profile with 500 "cpu profiling already in use".
    let busy = text.contains("already in use");
    Err(FlameError::CannotProfile(match status.as_u16() {
        404 if path.contains("/heap") => format!(
            "{url}: 404 Not Found; the server has no heap profile (Go serves one with net/http/pprof; \
             loadprof's Rust endpoint serves CPU profiles only)"
        ),
        404 => format!(
            "{url}: 404 Not Found; does the server import net/http/pprof (Go: `import _ \"net/http/pprof\"`) \
             or mount loadprof's pprof endpoint, and is this its address?"
        ),
        code if matches!(code, 409 | 429 | 503) || (code == 500 && busy) => format!(
            "{url}: {status}: another CPU profile is being taken on that server (only one runs at a time); \
             try again when it ends: {text}"
        ),
        _ => format!("{url}: {status}: {text}"),
    }))
}
