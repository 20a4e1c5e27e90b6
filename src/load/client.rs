//! The client of the hot path: one connection per worker, no pool. HTTP/1.1
//! (keep-alive, plain or TLS) is driven by the worker itself (`h1`);
//! HTTP/2 (over TLS, or h2c with prior knowledge) uses hyper's connection
//! API. `exchange` sends one request and returns its record.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::h1::{BodyReader, H1Conn};
use super::stats::{ErrorKind, Hist, Record, new_hist, record};
use super::stream::ChunkScanner;
use super::{Endpoint, Origin};
use crate::config::units::format_duration;

/// Most of a body kept to match `expect_body` against; the rest is counted
/// but not kept, so a huge body cannot blow up memory.
pub const CHECK_BODY_LIMIT: usize = 4 << 20;

pub type Body = Full<Bytes>;

/// A TCP stream, or TLS over one.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl Io {
    /// The peer has closed the connection (or sent something unasked), so
    /// it cannot carry another request. Never blocks.
    fn peer_closed(&self) -> bool {
        let tcp = match self {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref().0,
        };
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Peeking leaves TLS records in place for the TLS layer.
        matches!(tcp.poll_peek(&mut cx, &mut buf), Poll::Ready(_))
    }
}

/// An open connection: HTTP/1.1 driven by the worker itself, or the
/// request half of a hyper HTTP/2 connection.
pub enum Conn {
    H1(H1Conn<Io>),
    /// The token's count tells how many workers share the connection.
    H2(http2::SendRequest<Body>, Arc<H2Shared>),
}

/// What the workers sharing one HTTP/2 connection know of it. The task that
/// drives the connection holds it weakly, so the strong count is the number
/// of workers.
#[derive(Default)]
pub struct H2Shared {
    /// Why the connection ended, set by the task that drove it: a request
    /// in flight is told only "canceled", the cause is the connection's.
    cause: std::sync::OnceLock<String>,
    ended: tokio::sync::Notify,
}

impl H2Shared {
    /// The connection's own error, waiting briefly for the task that drives
    /// it to report (it ends a moment after the requests it cancels).
    async fn cause(&self) -> Option<String> {
        let ended = self.ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        if self.cause.get().is_none() {
            let _ = tokio::time::timeout(Duration::from_millis(200), ended).await;
        }
        self.cause.get().cloned()
    }
}

/// Opens connections to the target: TCP, then TLS for https, then (for
/// HTTP/2) the handshake. Shared by every worker; TLS roots are loaded once.
pub struct Connector {
    addr: SocketAddr,
    /// HTTP/2, with this many workers sharing each connection.
    h2_streams: Option<usize>,
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    /// Open HTTP/2 connections that workers share.
    /// Held while one is opened, so workers starting together share it.
    h2_shared: tokio::sync::Mutex<Vec<(http2::SendRequest<Body>, Arc<H2Shared>)>>,
}

impl Connector {
    pub fn new(
        origin: &Origin,
        addr: SocketAddr,
        h2_streams: Option<usize>,
        insecure: bool,
    ) -> Result<Connector, String> {
        let tls = if origin.https {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| format!("'{}' is not a valid TLS server name: {e}", origin.host))?;
            Some((
                TlsConnector::from(Arc::new(tls_config(h2_streams.is_some(), insecure)?)),
                name,
            ))
        } else {
            None
        };
        Ok(Connector {
            addr,
            h2_streams,
            tls,
            h2_shared: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    /// A connection for one worker, ready for its first request: a new one,
    /// or for HTTP/2 a share of one that has room for another stream.
    pub async fn connect(&self) -> std::io::Result<Conn> {
        let Some(streams) = self.h2_streams.filter(|&s| s > 1) else {
            return self.open().await;
        };
        let mut shared = self.h2_shared.lock().await;
        shared.retain(|(send, _)| !send.is_closed());
        // The pool's own token counts once.
        if let Some((send, token)) = shared.iter().find(|(_, t)| Arc::strong_count(t) <= streams) {
            return Ok(Conn::H2(send.clone(), token.clone()));
        }
        let conn = self.open().await?;
        if let Conn::H2(send, token) = &conn {
            shared.push((send.clone(), token.clone()));
        }
        Ok(conn)
    }

    /// Opens a TCP connection, with TLS for https.
    pub async fn open_io(&self) -> std::io::Result<Io> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        Ok(match &self.tls {
            None => Io::Plain(tcp),
            Some((tls, name)) => Io::Tls(Box::new(tls.connect(name.clone(), tcp).await?)),
        })
    }

    /// Opens one connection.
    async fn open(&self) -> std::io::Result<Conn> {
        let io = self.open_io().await?;
        if self.h2_streams.is_none() {
            return Ok(Conn::H1(H1Conn::new(io)));
        }
        let (mut send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        let shared = Arc::new(H2Shared::default());
        let report = Arc::downgrade(&shared);
        tokio::spawn(async move {
            if let Err(e) = conn.await
                && let Some(shared) = report.upgrade()
            {
                let _ = shared.cause.set(describe(&e));
                shared.ended.notify_waiters();
            }
        });
        send.ready().await.map_err(|e| std::io::Error::other(describe(&e)))?;
        Ok(Conn::H2(send, shared))
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

/// An error with its causes: hyper says only "http2 error" and keeps what
/// went wrong (a GOAWAY, a refused stream, a protocol error) in its source.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// What a journey's user adds to a request: its captures (by slot) and
/// its cookies (a `Cookie` header value). Empty for a plain request.
#[derive(Debug, Default, Clone, Copy)]
pub struct PerUser<'a> {
    pub vars: &'a [String],
    pub cookie: Option<&'a str>,
}

/// Per-worker state reused across requests.
pub struct WorkerConn {
    link: Link,
    /// Gaps between chunks of the current request; made at the first gap,
    /// so a worker that never reads a stream does not carry one.
    pub gaps: Option<Hist>,
    /// The start of the body, kept for `expect_body` and a journey's captures.
    body: Vec<u8>,
    /// The answer's headers an endpoint asked to keep (`Endpoint::keep_headers`).
    headers: Vec<(HeaderName, Vec<u8>)>,
    /// One timer for every deadline of this worker: moving a registered
    /// timer later is far cheaper than registering a new one per request.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// A keep-alive connection idle longer than this is checked before reuse:
/// servers close idle ones (uvicorn after 5 s, nginx after 75 s), and a
/// request written into a closed connection would fail for nothing.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The connection and the buffers its requests are written from.
struct Link {
    conn: Option<Conn>,
    last_used: Instant,
    request: Vec<u8>,
    scratch: String,
}

/// Runs `fut` until `deadline` (if any); `None` if the deadline came first.
///
/// The clock is read whenever `fut` waits, not only when the timer wakes:
/// while bytes keep arriving, `fut` uses up the task's cooperative budget,
/// and a timer polled on an exhausted budget never reports that it fired
/// (an endless fast stream would outlive every timeout).
async fn within<F: std::future::Future>(
    timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: Option<Instant>,
    fut: F,
) -> Option<F::Output> {
    let Some(deadline) = deadline else {
        return Some(fut.await);
    };
    let timer = match timer {
        Some(t) => {
            t.as_mut().reset(deadline.into());
            t
        }
        None => timer.insert(Box::pin(tokio::time::sleep_until(deadline.into()))),
    };
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if Instant::now() >= deadline || timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// What bounds one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connect, send and wait for the whole answer (or, for a stream, for its headers).
    pub timeout: Duration,
    /// For a stream, the body after its headers; `None`: no limit.
    pub stream_timeout: Option<Duration>,
}

/// Body bytes of one answer: counted, scanned for chunks, and partly kept.
struct BodySink<'a> {
    rec: &'a mut Record,
    gaps: &'a mut Option<Hist>,
    kept: &'a mut Vec<u8>,
    keep: bool,
    scanner: ChunkScanner,
    last_chunk: Option<Instant>,
    intended: Instant,
}

impl BodySink<'_> {
    fn data(&mut self, data: &[u8]) {
        self.rec.bytes += data.len() as u64;
        if self.keep && self.kept.len() < CHECK_BODY_LIMIT {
            let room = CHECK_BODY_LIMIT - self.kept.len();
            self.kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        let n = self.scanner.feed(data);
        self.chunks(n);
    }

    fn finish(&mut self) {
        let n = self.scanner.finish();
        self.chunks(n);
    }

    fn chunks(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        for _ in 0..n {
            match self.last_chunk {
                None => self.rec.first_chunk = Some(now - self.intended),
                Some(prev) => record(self.gaps.get_or_insert_with(new_hist), now - prev),
            }
            self.last_chunk = Some(now);
        }
    }
}

/// Why a request failed: the kind it is counted under, and the words.
type Failure = (ErrorKind, String);

/// The answer so far: its head, and how to read the rest.
enum Answer {
    H1(BodyReader, bool),
    H2(Incoming),
}

impl WorkerConn {
    pub fn new() -> WorkerConn {
        WorkerConn {
            link: Link {
                conn: None,
                last_used: Instant::now(),
                request: Vec::new(),
                scratch: String::new(),
            },
            gaps: None,
            body: Vec::new(),
            headers: Vec::new(),
            timer: None,
        }
    }

    /// Sends one request of `ep` and waits for all of its answer.
    /// `intended` is when it should have started (the open model's schedule)
    /// and is the base of `latency` and `first_chunk`.
    pub async fn exchange(
        &mut self,
        connector: &Connector,
        ep: &Endpoint,
        rng: &mut impl rand::Rng,
        limits: Limits,
        intended: Instant,
        user: PerUser<'_>,
    ) -> Record {
        let start = Instant::now();
        let intended = intended.min(start);
        let mut rec = Record {
            endpoint: ep.index,
            ..Record::default()
        };
        if let Some(gaps) = self.gaps.as_mut().filter(|g| !g.is_empty()) {
            // Resetting clears every bucket, so only when there is something to clear.
            gaps.reset();
        }
        self.body.clear();
        self.headers.clear();
        let head = within(
            &mut self.timer,
            Some(start + limits.timeout),
            self.link.send(connector, ep, rng, &mut rec, user, &mut self.headers),
        );
        let answer = match head.await {
            Some(Ok(a)) => a,
            Some(Err(f)) => return self.fail(rec, f, intended, start),
            None => {
                let why = format!("no answer within {}", format_duration(limits.timeout));
                return self.fail(rec, (ErrorKind::Timeout, why), intended, start);
            }
        };
        let headers_at = Instant::now();
        rec.ttfb = Some(headers_at - start);
        let body_deadline = match (ep.stream.is_stream(), limits.stream_timeout) {
            (true, Some(t)) => Some(headers_at + t),
            (true, None) => None,
            (false, _) => Some(start + limits.timeout),
        };
        let keep = ep.keep_body;
        let mut sink = BodySink {
            rec: &mut rec,
            gaps: &mut self.gaps,
            kept: &mut self.body,
            keep,
            scanner: ChunkScanner::new(ep.stream),
            last_chunk: None,
            intended,
        };
        let read = read_body(&mut self.link.conn, answer, &mut sink);
        let read = within(&mut self.timer, body_deadline, read).await.unwrap_or_else(|| {
            let why = match (ep.stream.is_stream(), limits.stream_timeout) {
                (true, Some(t)) => format!("the stream was still open {} after its headers", format_duration(t)),
                _ => format!("the answer was not complete within {}", format_duration(limits.timeout)),
            };
            Err((ErrorKind::Timeout, why))
        });
        sink.finish();
        if let Err(f) = read {
            return self.fail(rec, f, intended, start);
        }
        let end = Instant::now();
        rec.latency = end - intended;
        rec.service = end - start;
        if let Some((kind, why)) = check(ep, rec.status, &self.body) {
            rec.error = Some(kind);
            rec.detail = Some(why);
        }
        rec
    }

    /// The last answer's body (its first [`CHECK_BODY_LIMIT`] bytes), when
    /// the endpoint keeps it.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The last answer's headers that the endpoint keeps, in order.
    pub fn headers(&self) -> &[(HeaderName, Vec<u8>)] {
        &self.headers
    }

    /// A request that ended without a whole answer: the connection is not
    /// reused, since it may hold the rest of that answer.
    fn fail(&mut self, mut rec: Record, (kind, why): Failure, intended: Instant, start: Instant) -> Record {
        self.link.conn = None;
        let end = Instant::now();
        rec.latency = end - intended;
        rec.service = end - start;
        rec.error = Some(kind);
        rec.detail = Some(why);
        rec
    }
}

impl Link {
    /// Opens a connection if there is none, sends the request and reads
    /// the answer's head.
    async fn send(
        &mut self,
        connector: &Connector,
        ep: &Endpoint,
        rng: &mut impl rand::Rng,
        rec: &mut Record,
        user: PerUser<'_>,
        kept: &mut Vec<(HeaderName, Vec<u8>)>,
    ) -> Result<Answer, Failure> {
        let idle = self.last_used.elapsed();
        self.last_used = Instant::now();
        let usable = match &mut self.conn {
            Some(Conn::H2(s, _)) => s.ready().await.is_ok(),
            Some(Conn::H1(c)) => idle <= IDLE_CHECK || !c.stream().peer_closed(),
            None => true,
        };
        if !usable {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            slot => {
                let t = Instant::now();
                let c = connector
                    .connect()
                    .await
                    .map_err(|e| (ErrorKind::Connect, e.to_string()))?;
                rec.connect = Some(t.elapsed());
                slot.insert(c)
            }
        };
        match conn {
            Conn::H1(c) => {
                let bytes: &[u8] = match (&ep.h1_request, user.cookie) {
                    (Some(fixed), None) => fixed,
                    _ => {
                        write_h1(ep, rng, user, &mut self.request, &mut self.scratch);
                        &self.request
                    }
                };
                let (head, reader) = c
                    .send(bytes, ep.method == http::Method::HEAD)
                    .await
                    .map_err(|e| (ErrorKind::Io, e.to_string()))?;
                rec.status = Some(head.status);
                if !ep.keep_headers.is_empty() {
                    keep_headers(c.head(), &ep.keep_headers, kept);
                }
                Ok(Answer::H1(reader, head.keep_alive))
            }
            Conn::H2(s, shared) => {
                let req = build_request(ep, rng, user, &mut self.scratch)?;
                let resp = match s.send_request(req).await {
                    Ok(resp) => resp,
                    Err(e) if e.is_canceled() => {
                        let why = shared.cause().await.unwrap_or_else(|| describe(&e));
                        return Err((ErrorKind::Io, why));
                    }
                    Err(e) => return Err((ErrorKind::Io, describe(&e))),
                };
                rec.status = Some(resp.status().as_u16());
                for name in &ep.keep_headers {
                    for v in resp.headers().get_all(name) {
                        kept.push((name.clone(), v.as_bytes().to_vec()));
                    }
                }
                Ok(Answer::H2(resp.into_body()))
            }
        }
    }
}

async fn read_body(conn: &mut Option<Conn>, answer: Answer, sink: &mut BodySink<'_>) -> Result<(), Failure> {
    let io = |e: &dyn std::fmt::Display| (ErrorKind::Io, e.to_string());
    match answer {
        Answer::H1(mut reader, keep_alive) => {
            let Some(Conn::H1(c)) = conn else {
                return Err(io(&"the connection is gone"));
            };
            let mut on_data = |d: &[u8]| sink.data(d);
            while c.read_body(&mut reader, &mut on_data).await.map_err(|e| io(&e))? {}
            if !keep_alive || c.has_leftover() {
                *conn = None;
            }
        }
        Answer::H2(mut body) => {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| (ErrorKind::Io, describe(&e)))?;
                if let Ok(data) = frame.into_data() {
                    sink.data(&data);
                }
            }
        }
    }
    Ok(())
}

impl Default for WorkerConn {
    fn default() -> WorkerConn {
        WorkerConn::new()
    }
}

/// The status and body checks, in that order: the first failure is the kind.
fn check(ep: &Endpoint, status: Option<u16>, body: &[u8]) -> Option<Failure> {
    let status = status?;
    let status_ok = match &ep.expect_status {
        Some(codes) => codes.contains(&status),
        None => status < 400,
    };
    if !status_ok {
        let expected = match &ep.expect_status {
            Some(codes) => codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "),
            None => "below 400".into(),
        };
        return Some((ErrorKind::Status, format!("status {status} (expected {expected})")));
    }
    match &ep.expect_body {
        Some(re) if !re.is_match(&String::from_utf8_lossy(body)) => {
            Some((ErrorKind::Check, format!("the body does not match /{}/", re.as_str())))
        }
        _ => None,
    }
}

/// Builds one HTTP/2 request of `ep`, rendering its templates. (The text
/// around a path's placeholders was checked at start and their values are
/// percent-encoded, so a rendered path that is not a URI is a bug, reported
/// as a failed request rather than sent somewhere else.)
fn build_request(
    ep: &Endpoint,
    rng: &mut impl rand::Rng,
    user: PerUser<'_>,
    scratch: &mut String,
) -> Result<Request<Body>, Failure> {
    let uri = match &ep.uri {
        Some(u) => u.clone(),
        None => {
            scratch.clear();
            scratch.push_str(&ep.origin_prefix);
            ep.path.render(rng, user.vars, scratch);
            Uri::try_from(scratch.as_str()).map_err(|e| {
                (
                    ErrorKind::Io,
                    format!("the rendered path '{scratch}' is not a valid URI: {e}"),
                )
            })?
        }
    };
    let body = match &ep.body {
        None => Bytes::new(),
        Some(b) => match &b.fixed {
            Some(fixed) => fixed.clone(),
            None => {
                scratch.clear();
                b.template.render(rng, user.vars, scratch);
                Bytes::copy_from_slice(scratch.as_bytes())
            }
        },
    };
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = ep.method.clone();
    *req.uri_mut() = uri;
    *req.version_mut() = http::Version::HTTP_2;
    *req.headers_mut() = ep.headers.clone();
    for (name, t) in &ep.header_templates {
        scratch.clear();
        t.render(rng, user.vars, scratch);
        if let Ok(v) = HeaderValue::from_str(scratch) {
            req.headers_mut().insert(name.clone(), v);
        }
    }
    if let Some(cookie) = user.cookie
        && let Ok(v) = HeaderValue::from_str(cookie)
    {
        req.headers_mut().insert(http::header::COOKIE, v);
    }
    Ok(req)
}

/// Serialises one HTTP/1.1 request of `ep` into `out`, rendering its
/// templates. (Endpoints without templates are serialised once, at start.)
pub fn write_h1(ep: &Endpoint, rng: &mut impl rand::Rng, user: PerUser<'_>, out: &mut Vec<u8>, scratch: &mut String) {
    out.clear();
    out.extend_from_slice(ep.method.as_str().as_bytes());
    out.push(b' ');
    scratch.clear();
    ep.path.render(rng, user.vars, scratch);
    out.extend_from_slice(scratch.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &ep.headers {
        push_header(out, name.as_str(), value.as_bytes());
    }
    if let Some(cookie) = user.cookie {
        let value: String = cookie.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        push_header(out, "cookie", value.as_bytes());
    }
    for (name, t) in &ep.header_templates {
        scratch.clear();
        t.render(rng, user.vars, scratch);
        let value: String = scratch.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        push_header(out, name.as_str(), value.as_bytes());
    }
    let body_at = out.len();
    let has_body = ep.body.is_some() || !matches!(ep.method, http::Method::GET | http::Method::HEAD);
    if let Some(b) = &ep.body {
        match &b.fixed {
            Some(fixed) => out.extend_from_slice(fixed),
            None => {
                scratch.clear();
                b.template.render(rng, user.vars, scratch);
                out.extend_from_slice(scratch.as_bytes());
            }
        }
    }
    // The Content-Length line goes before the body, now that its size is known.
    let len = out.len() - body_at;
    let mut tail = Vec::with_capacity(32);
    if has_body {
        tail.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
    }
    tail.extend_from_slice(b"\r\n");
    out.splice(body_at..body_at, tail);
}

/// Copies the headers named in `wanted` out of a raw HTTP/1.1 head.
fn keep_headers(head: &[u8], wanted: &[HeaderName], kept: &mut Vec<(HeaderName, Vec<u8>)>) {
    let mut headers = [httparse::EMPTY_HEADER; crate::load::h1::MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    if resp.parse(head).is_err() {
        return;
    }
    for h in resp.headers.iter() {
        if let Some(name) = wanted.iter().find(|w| w.as_str().eq_ignore_ascii_case(h.name)) {
            kept.push((name.clone(), h.value.to_vec()));
        }
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
