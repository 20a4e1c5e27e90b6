//! `--listen`: a small HTTP server on its own thread, apart from the load
//! engine's runtime, answering `GET /metrics` (OpenMetrics text),
//! `GET /live.json` (what the live page draws) and `GET /` (the page). It
//! binds before the run starts, so a port in use is an error before any
//! load is sent, and serves on after the run for as long as it is asked
//! to, so that Prometheus takes the final values. Bounded: at most
//! [`MAX_CONNECTIONS`] at once, each closed after a minute, headers read
//! within 10 s; requests have no body to read.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use super::Live;
use crate::cancel::{StopReason, StopToken};

/// Connections served at once; more wait in the kernel's queue.
pub const MAX_CONNECTIONS: usize = 64;

/// Why `--listen` cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("--listen {0}: {1}; give PORT, HOST:PORT or [IPv6]:PORT, e.g. 9464 or 0.0.0.0:9464")]
    BadAddress(String, String),
    #[error("--listen {addr}: cannot listen there: {reason}")]
    Bind { addr: String, reason: String },
}

/// Reads `--listen`'s value: a port alone binds loopback.
pub fn parse_addr(s: &str) -> Result<SocketAddr, ListenError> {
    let bad = |why: &str| ListenError::BadAddress(s.to_string(), why.to_string());
    let text = s.trim();
    let with_host = match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() => format!("127.0.0.1:{text}"),
        None => text.to_string(),
    };
    let port = with_host.rsplit(':').next().unwrap_or("");
    if port.parse::<u16>().is_err() {
        return Err(bad("the port must be a number from 0 to 65535"));
    }
    with_host
        .to_socket_addrs()
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("the host resolves to no address"))
}

/// A running server.
pub struct Server {
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
    stop: StopToken,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and starts serving `live`.
    pub fn start(addr: SocketAddr, live: Live) -> Result<Server, ListenError> {
        let bind_err = |e: std::io::Error| ListenError::Bind {
            addr: addr.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => "the port is in use (is another loadprof or exporter running?)".into(),
                std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need privileges)".into(),
                _ => e.to_string(),
            },
        };
        let listener = TcpListener::bind(addr).map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let stop = StopToken::new();
        let own = stop.clone();
        let thread = std::thread::Builder::new()
            .name("loadprof-listen".into())
            .spawn(move || serve(listener, live, own))
            .map_err(bind_err)?;
        Ok(Server {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// Serves on until `linger` has passed or `early` fires, then stops.
    pub fn linger(mut self, linger: Duration, early: &StopToken) {
        early.wait_until(std::time::Instant::now() + linger);
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.stop(StopReason::Finished);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut();
    }
}

fn serve(listener: TcpListener, live: Live, stop: StopToken) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    rt.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let stopped = async {
            while stop.reason().is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::pin!(stopped);
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                () = &mut stopped => return,
            };
            let (stream, _) = tokio::select! {
                a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                () = &mut stopped => return,
            };
            let live = live.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, live.clone()));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .max_buf_size(64 * 1024)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
                drop(permit);
            });
        }
    });
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    r
}

async fn answer(req: Request<Incoming>, live: Live) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            let text = {
                let s = live.lock();
                super::openmetrics::encode(&s.run_id, &s.families())
            };
            reply(StatusCode::OK, super::openmetrics::CONTENT_TYPE, text)
        }
        "/live.json" => {
            let json = live.lock().page_json().to_string();
            reply(StatusCode::OK, "application/json", json)
        }
        "/" => {
            let mut r = reply(StatusCode::OK, "text/html; charset=utf-8", super::page::html());
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
                ),
            );
            r
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /live.json or /\n",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_binds_loopback_and_bad_addresses_are_named() {
        assert_eq!(parse_addr("9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr(":9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr("0.0.0.0:80").unwrap().to_string(), "0.0.0.0:80");
        assert_eq!(parse_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        for bad in ["", "99999", "host", "1.2.3.4:x", ":"] {
            let e = parse_addr(bad).unwrap_err().to_string();
            assert!(e.starts_with("--listen"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_port_in_use_is_an_error_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let live = Live::new("t", vec![], None, vec![]);
        let e = Server::start(addr, live).err().unwrap().to_string();
        assert!(e.contains(&addr.to_string()) && e.contains("in use"), "{e}");
    }
}
