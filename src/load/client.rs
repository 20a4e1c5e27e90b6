//! The HTTP client of the hot path, built on hyper's connection API: one
//! connection per worker (HTTP/1.1 keep-alive, or HTTP/2 over TLS or h2c
//! with prior knowledge), no pool, no per-request allocation beyond the
//! request itself. `exchange` sends one request and returns its record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::stats::{ErrorKind, Hist, Record, record};
use super::stream::ChunkScanner;
use super::{Endpoint, Origin};

/// Most of a body kept to match `expect_body` against; the rest is counted
/// but not kept, so a huge body cannot blow up memory.
pub const CHECK_BODY_LIMIT: usize = 4 << 20;

pub type Body = Full<Bytes>;

/// An open connection's request half.
pub enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Sender {
    async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    async fn send(&mut self, req: Request<Body>) -> hyper::Result<http::Response<Incoming>> {
        match self {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    }
}

/// Opens connections to the target: TCP, then TLS for https, then the
/// HTTP handshake. Shared by every worker; TLS roots are loaded once.
pub struct Connector {
    addr: SocketAddr,
    http2: bool,
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
}

impl Connector {
    pub fn new(origin: &Origin, addr: SocketAddr, http2: bool, insecure: bool) -> Result<Connector, String> {
        let tls = if origin.https {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| format!("'{}' is not a valid TLS server name: {e}", origin.host))?;
            Some((TlsConnector::from(Arc::new(tls_config(http2, insecure)?)), name))
        } else {
            None
        };
        Ok(Connector { addr, http2, tls })
    }

    /// Opens one connection and starts its driver task.
    pub async fn connect(&self) -> std::io::Result<Sender> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => self.handshake(tcp).await,
            Some((tls, name)) => {
                let stream = tls.connect(name.clone(), tcp).await?;
                self.handshake(stream).await
            }
        }
    }

    async fn handshake<S>(&self, stream: S) -> std::io::Result<Sender>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(stream);
        if self.http2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            Ok(Sender::H2(send))
        } else {
            let (send, conn) = http1::handshake(io).await.map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            Ok(Sender::H1(send))
        }
    }
}

fn tls_config(http2: bool, insecure: bool) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![if http2 { b"h2".to_vec() } else { b"http/1.1".to_vec() }];
    Ok(config)
}

/// `--insecure`: accepts any server certificate (self-signed test
/// servers), still checking that handshake signatures are valid.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Per-worker state reused across requests.
pub struct WorkerConn {
    sender: Option<Sender>,
    /// Gaps between chunks of the current request.
    pub gaps: Hist,
    body: Vec<u8>,
}

/// What bounds one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connect, send and wait for the whole answer (or, for a stream, for its headers).
    pub timeout: Duration,
    /// For a stream, the body after its headers; `None`: no limit.
    pub stream_timeout: Option<Duration>,
}

impl WorkerConn {
    pub fn new() -> WorkerConn {
        WorkerConn {
            sender: None,
            gaps: super::stats::new_hist(),
            body: Vec::new(),
        }
    }

    /// Sends one request of `ep` and waits for all of its answer.
    /// `intended` is when it should have started (the open model's schedule)
    /// and is the base of `latency` and `first_chunk`.
    pub async fn exchange(
        &mut self,
        connector: &Connector,
        ep: &Endpoint,
        req: Request<Body>,
        limits: Limits,
        intended: Instant,
    ) -> Record {
        let start = Instant::now();
        let intended = intended.min(start);
        let mut rec = Record {
            endpoint: ep.index,
            ..Record::default()
        };
        self.gaps.reset();
        self.body.clear();
        let header_deadline = tokio::time::Instant::from_std(start + limits.timeout);
        let head = tokio::time::timeout_at(header_deadline, self.send(connector, req, &mut rec)).await;
        let response = match head {
            Ok(Ok(r)) => r,
            Ok(Err(kind)) => return self.fail(rec, kind, intended, start),
            Err(_) => return self.fail(rec, ErrorKind::Timeout, intended, start),
        };
        let headers_at = Instant::now();
        rec.ttfb = Some(headers_at - start);
        rec.status = Some(response.status().as_u16());
        let body_deadline = match (ep.stream.is_stream(), limits.stream_timeout) {
            (true, Some(t)) => Some(headers_at + t),
            (true, None) => None,
            (false, _) => Some(start + limits.timeout),
        };
        let read = self.read_body(response.into_body(), ep, &mut rec, intended);
        let read = match body_deadline {
            Some(d) => tokio::time::timeout_at(d.into(), read)
                .await
                .unwrap_or(Err(ErrorKind::Timeout)),
            None => read.await,
        };
        if let Err(kind) = read {
            return self.fail(rec, kind, intended, start);
        }
        let end = Instant::now();
        rec.latency = end - intended;
        rec.service = end - start;
        rec.error = check(ep, rec.status, &self.body);
        rec
    }

    async fn send(
        &mut self,
        connector: &Connector,
        req: Request<Body>,
        rec: &mut Record,
    ) -> Result<http::Response<Incoming>, ErrorKind> {
        if let Some(s) = &mut self.sender
            && s.ready().await.is_err()
        {
            self.sender = None;
        }
        let sender = match &mut self.sender {
            Some(s) => s,
            slot => {
                let t = Instant::now();
                let mut s = connector.connect().await.map_err(|_| ErrorKind::Connect)?;
                s.ready().await.map_err(|_| ErrorKind::Connect)?;
                rec.connect = Some(t.elapsed());
                slot.insert(s)
            }
        };
        sender.send(req).await.map_err(|_| ErrorKind::Io)
    }

    async fn read_body(
        &mut self,
        mut body: Incoming,
        ep: &Endpoint,
        rec: &mut Record,
        intended: Instant,
    ) -> Result<(), ErrorKind> {
        let mut scanner = ChunkScanner::new(ep.stream);
        let mut last_chunk: Option<Instant> = None;
        let keep = ep.expect_body.is_some();
        let mut on_chunks = |n: u32, now: Instant, rec: &mut Record, gaps: &mut Hist| {
            for _ in 0..n {
                match last_chunk {
                    None => rec.first_chunk = Some(now - intended),
                    Some(prev) => record(gaps, now - prev),
                }
                last_chunk = Some(now);
            }
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ErrorKind::Io)?;
            let Ok(data) = frame.into_data() else { continue };
            rec.bytes += data.len() as u64;
            if keep && self.body.len() < CHECK_BODY_LIMIT {
                let room = CHECK_BODY_LIMIT - self.body.len();
                self.body.extend_from_slice(&data[..data.len().min(room)]);
            }
            let n = scanner.feed(&data);
            if n > 0 {
                on_chunks(n, Instant::now(), rec, &mut self.gaps);
            }
        }
        let n = scanner.finish();
        if n > 0 {
            on_chunks(n, Instant::now(), rec, &mut self.gaps);
        }
        Ok(())
    }

    /// A request that ended without a whole answer: the connection is not
    /// reused, since it may hold the rest of that answer.
    fn fail(&mut self, mut rec: Record, kind: ErrorKind, intended: Instant, start: Instant) -> Record {
        self.sender = None;
        let end = Instant::now();
        rec.latency = end - intended;
        rec.service = end - start;
        rec.error = Some(kind);
        rec
    }

    /// Number of chunks seen in the last exchange after the first one.
    pub fn gap_count(&self) -> u64 {
        self.gaps.len()
    }
}

impl Default for WorkerConn {
    fn default() -> WorkerConn {
        WorkerConn::new()
    }
}

/// The status and body checks, in that order: the first failure is the kind.
fn check(ep: &Endpoint, status: Option<u16>, body: &[u8]) -> Option<ErrorKind> {
    let status = status?;
    let status_ok = match &ep.expect_status {
        Some(codes) => codes.contains(&status),
        None => status < 400,
    };
    if !status_ok {
        return Some(ErrorKind::Status);
    }
    match &ep.expect_body {
        Some(re) if !re.is_match(&String::from_utf8_lossy(body)) => Some(ErrorKind::Check),
        _ => None,
    }
}

/// Builds one request of `ep` (rendering its templates) for `origin`.
pub fn build_request(ep: &Endpoint, http2: bool, rng: &mut impl rand::Rng, scratch: &mut String) -> Request<Body> {
    let uri = match &ep.uri {
        Some(u) => u.clone(),
        None => {
            scratch.clear();
            if http2 {
                scratch.push_str(&ep.origin_prefix);
            }
            ep.path.render(rng, scratch);
            Uri::try_from(scratch.as_str()).unwrap_or_else(|_| ep.fallback_uri.clone())
        }
    };
    let body = match &ep.body {
        None => Bytes::new(),
        Some(b) => match &b.fixed {
            Some(fixed) => fixed.clone(),
            None => {
                scratch.clear();
                b.template.render(rng, scratch);
                Bytes::copy_from_slice(scratch.as_bytes())
            }
        },
    };
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = ep.method.clone();
    *req.uri_mut() = uri;
    if http2 {
        *req.version_mut() = http::Version::HTTP_2;
    }
    *req.headers_mut() = ep.headers.clone();
    for (name, t) in &ep.header_templates {
        scratch.clear();
        t.render(rng, scratch);
        if let Ok(v) = HeaderValue::from_str(scratch) {
            req.headers_mut().insert(name.clone(), v);
        }
    }
    req
}
