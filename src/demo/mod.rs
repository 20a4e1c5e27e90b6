//! The built-in demo target: a small HTTP service inside the binary, so
//! `loadprof demo` needs no other software. It has a CPU-bound endpoint, a
//! server-sent-events stream and `/health`; with `leak` it keeps memory on
//! every request; and it serves CPU profiles at `/debug/pprof/profile`
//! through [`crate::flame::endpoint`].
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /health` | `ok` |
//! | `GET /work?n=N` | hashes `N` rounds (default 20 000) in `demo_cpu_work`, answers JSON |
//! | `GET /stream?chunks=K&gap_ms=G` | `K` SSE events `G` ms apart (default 5 and 20), then `[DONE]` |
//! | `GET /debug/pprof/profile?seconds=S` | a Go-compatible CPU profile |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// How the demo target behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoOptions {
    /// Keep [`LEAK_PER_REQUEST`] bytes on every request, for ever.
    pub leak: bool,
}

/// What a request keeps when the target leaks.
pub const LEAK_PER_REQUEST: usize = 64 << 10;

/// Memory kept by a leaking target: never freed, as in a real leak.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

type Body = BoxBody<Bytes, Infallible>;

/// The leak: keeps [`LEAK_PER_REQUEST`] bytes for ever. Not inlined, so a
/// heap profile names it.
#[inline(never)]
pub fn demo_keep_request_memory() {
    let chunk = std::hint::black_box(vec![0xa5u8; LEAK_PER_REQUEST]);
    KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(chunk);
}

/// The CPU-bound work: `rounds` rounds of a 64-bit mixing function. Not
/// inlined, so it has its own frame in a flame graph.
#[inline(never)]
pub fn demo_cpu_work(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x ^= x >> 31;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9).wrapping_add(i);
        x ^= x >> 27;
    }
    std::hint::black_box(x)
}

fn query_u64(query: Option<&str>, key: &str) -> Option<u64> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()).boxed())
        .expect("static headers are valid")
}

/// Answers one request.
async fn answer(req: hyper::Request<hyper::body::Incoming>, opts: DemoOptions) -> Result<Response<Body>, Infallible> {
    if let Some(resp) = crate::flame::endpoint::handle(&req).await {
        return Ok(resp.map(|b| b.boxed()));
    }
    if opts.leak {
        demo_keep_request_memory();
    }
    let query = req.uri().query();
    Ok(match req.uri().path() {
        "/health" => full(StatusCode::OK, "text/plain", "ok\n"),
        "/work" => {
            let rounds = query_u64(query, "n").unwrap_or(20_000).min(100_000_000);
            let value = tokio::task::spawn_blocking(move || demo_cpu_work(rounds))
                .await
                .unwrap_or(0);
            full(
                StatusCode::OK,
                "application/json",
                format!("{{\"rounds\":{rounds},\"value\":{value}}}\n"),
            )
        }
        "/stream" => {
            let chunks = query_u64(query, "chunks").unwrap_or(5).min(10_000);
            let gap = Duration::from_millis(query_u64(query, "gap_ms").unwrap_or(20).min(10_000));
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            tokio::spawn(async move {
                for i in 0..chunks {
                    if i > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    let event = format!("data: {{\"token\":\"t{i}\"}}\n\n");
                    if tx.send(Bytes::from(event)).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(ChannelBody(rx).boxed())
                .expect("static headers are valid")
        }
        _ => full(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /health, /work, /stream\n",
        ),
    })
}

/// A body fed by a channel: each message is one chunk on the wire.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Serves the demo target on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, opts: DemoOptions) -> std::io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        // Small stream chunks go out at once, not held back for an ACK.
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(move |req| answer(req, opts));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// Binds `addr` (port 0 picks a free one) and returns the listener and its
/// address, so the caller can say where the target listens before serving.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
