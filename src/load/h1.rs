//! HTTP/1.1 on the hot path: a request is written as pre-serialised bytes
//! and the answer is read by the same task that sent it (no connection
//! task, no channel, no wake-up of another task), with httparse for the
//! head and a small decoder for chunked bodies. Keep-alive unless the
//! server says `Connection: close`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most header lines read from one response.
pub(crate) const MAX_HEADERS: usize = 64;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 << 10;
/// The first read's room, enough for a small answer whole; a connection
/// whose reads fill their room doubles it, up to `READ_CHUNK`, so a worker
/// that only ever gets small answers keeps a small buffer.
const FIRST_READ: usize = 2 << 10;
const READ_CHUNK: usize = 16 << 10;

/// Why an exchange broke the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum H1Error {
    /// Reading or writing failed.
    #[error("{}", std::io::Error::from(*.0))]
    Io(std::io::ErrorKind),
    /// The peer closed the connection before the answer was complete.
    #[error("the server closed the connection before the answer was complete")]
    Closed,
    /// The answer was not valid HTTP/1.x.
    #[error("the answer is not valid HTTP/1.1")]
    Protocol,
}

impl From<std::io::Error> for H1Error {
    fn from(e: std::io::Error) -> H1Error {
        H1Error::Io(e.kind())
    }
}

/// What the head of a response said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// The connection can carry the next request.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    None,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// One HTTP/1.1 connection.
pub struct H1Conn<S> {
    stream: S,
    buf: Vec<u8>,
    /// Start of unread bytes in `buf`.
    pos: usize,
    /// Room made for the next read.
    room: usize,
    /// Where the last answer's head starts in `buf` (it ends at `pos`).
    head_at: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> H1Conn<S> {
    pub fn new(stream: S) -> H1Conn<S> {
        H1Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            room: FIRST_READ,
            head_at: 0,
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Bytes arrived beyond the last answer: the server sent more than it
    /// announced, so the connection is out of step and must not be reused.
    pub fn has_leftover(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// Sends `request` (complete bytes) and reads the response head.
    pub async fn send(&mut self, request: &[u8], head_request: bool) -> Result<(Head, BodyReader), H1Error> {
        self.stream.write_all(request).await?;
        loop {
            let (head, kind, used) = loop {
                if let Some(parsed) = parse_head(&self.buf[self.pos..], head_request)? {
                    break parsed;
                }
                if self.buf.len() - self.pos > MAX_HEAD {
                    return Err(H1Error::Protocol);
                }
                if self.fill().await? == 0 {
                    return Err(H1Error::Closed);
                }
            };
            self.head_at = self.pos;
            self.pos += used;
            // 1xx answers (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            let reader = BodyReader {
                kind,
                chunked: ChunkedDecoder::default(),
                done: matches!(kind, BodyKind::None | BodyKind::Length(0)),
            };
            let keep_alive = head.keep_alive && kind != BodyKind::Close;
            return Ok((Head { keep_alive, ..head }, reader));
        }
    }

    /// The last answer's head, as received; valid until its body is read.
    pub fn head(&self) -> &[u8] {
        self.buf.get(self.head_at..self.pos).unwrap_or_default()
    }

    /// Reads more bytes into the buffer; returns how many (0 at end of stream).
    async fn fill(&mut self) -> Result<usize, H1Error> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > self.buf.capacity() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        // Read into the spare capacity: no zeroing of the buffer per read.
        self.buf.reserve(self.room);
        let spare = self.buf.capacity() - self.buf.len();
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == spare && self.room < READ_CHUNK {
            self.room *= 2;
        }
        Ok(n)
    }

    /// Reads the next piece of the body into `on_data`; `Ok(false)` once
    /// the body is complete.
    pub async fn read_body(&mut self, r: &mut BodyReader, on_data: &mut impl FnMut(&[u8])) -> Result<bool, H1Error> {
        if r.done {
            return Ok(false);
        }
        if self.pos == self.buf.len() && self.fill().await? == 0 {
            return match r.kind {
                BodyKind::Close => {
                    r.done = true;
                    Ok(false)
                }
                _ => Err(H1Error::Closed),
            };
        }
        let avail = &self.buf[self.pos..];
        let used = match r.kind {
            BodyKind::None => 0,
            BodyKind::Length(left) => {
                let n = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                on_data(&avail[..n]);
                let left = left - n as u64;
                r.kind = BodyKind::Length(left);
                r.done = left == 0;
                n
            }
            BodyKind::Chunked => {
                let (used, done) = r.chunked.decode(avail, on_data)?;
                r.done = done;
                used
            }
            BodyKind::Close => {
                on_data(avail);
                avail.len()
            }
        };
        self.pos += used;
        Ok(!r.done)
    }
}

/// The state of one response body.
#[derive(Debug)]
pub struct BodyReader {
    kind: BodyKind,
    chunked: ChunkedDecoder,
    done: bool,
}

/// Parses a response head; `None` if more bytes are needed.
fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<(Head, BodyKind, usize)>, H1Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let used = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(H1Error::Protocol),
    };
    let status = resp.code.ok_or(H1Error::Protocol)?;
    let mut keep_alive = resp.version == Some(1);
    let mut length: Option<u64> = None;
    // `Some(true)` when the last transfer coding is chunked.
    let mut chunked: Option<bool> = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            // Repeated values (in one header or several) must agree (RFC 9110 8.6).
            for v in h.value.split(|&b| b == b',') {
                let v = std::str::from_utf8(v.trim_ascii())
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok());
                match (v, length) {
                    (None, _) => return Err(H1Error::Protocol),
                    (Some(v), Some(l)) if v != l => return Err(H1Error::Protocol),
                    (v, _) => length = v,
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    // RFC 9112 6.3: no body for HEAD, 1xx, 204 and 304; a transfer coding
    // wins over Content-Length, and one that does not end in chunked runs
    // until the connection closes.
    let kind = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        BodyKind::None
    } else {
        match (chunked, length) {
            (Some(true), _) => BodyKind::Chunked,
            (Some(false), _) | (None, None) => BodyKind::Close,
            (None, Some(n)) => BodyKind::Length(n),
        }
    };
    // 101 Switching Protocols: the connection no longer speaks HTTP/1.1.
    if status == 101 {
        keep_alive = false;
    }
    Ok(Some((Head { status, keep_alive }, kind, used)))
}

/// Decodes `Transfer-Encoding: chunked` incrementally. Pure: bytes in,
/// data slices out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size; `seen` says a digit was read.
    #[default]
    Size,
    SizeDigits(u64),
    /// Skipping a chunk extension until the line ends.
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: trailer lines until an empty one. The flag says
    /// whether the current line has any bytes.
    Trailer(bool),
    TrailerLf(bool),
    Done,
}

impl ChunkedDecoder {
    /// Consumes what it can of `input`, handing body data to `out`. Returns
    /// the bytes used and whether the body ended.
    pub fn decode(&mut self, input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(usize, bool), H1Error> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                Size | SizeDigits(_) => {
                    let acc = if let SizeDigits(n) = self.state { n } else { 0 };
                    match (b as char).to_digit(16) {
                        Some(d) => SizeDigits(acc.checked_mul(16).ok_or(H1Error::Protocol)? + u64::from(d)),
                        None if self.state == Size => return Err(H1Error::Protocol),
                        None if b == b'\r' => SizeLf(acc),
                        None if b == b';' || b == b' ' || b == b'\t' => Extension(acc),
                        None => return Err(H1Error::Protocol),
                    }
                }
                Extension(n) => match b {
                    b'\r' => SizeLf(n),
                    _ => Extension(n),
                },
                SizeLf(n) => match b {
                    b'\n' if n == 0 => Trailer(false),
                    b'\n' => Data(n),
                    _ => return Err(H1Error::Protocol),
                },
                Data(n) => {
                    let take = (input.len() - i).min(usize::try_from(n).unwrap_or(usize::MAX));
                    out(&input[i..i + take]);
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 { DataCr } else { Data(left) };
                    continue;
                }
                DataCr => match b {
                    b'\r' => DataLf,
                    _ => return Err(H1Error::Protocol),
                },
                DataLf => match b {
                    b'\n' => Size,
                    _ => return Err(H1Error::Protocol),
                },
                Trailer(any) => match b {
                    b'\r' => TrailerLf(any),
                    _ => Trailer(true),
                },
                TrailerLf(any) => match b {
                    b'\n' if !any => Done,
                    b'\n' => Trailer(false),
                    _ => return Err(H1Error::Protocol),
                },
                Done => return Ok((i, true)),
            };
            i += 1;
            if self.state == Done {
                return Ok((i, true));
            }
        }
        Ok((i, self.state == Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize) -> Result<(Vec<u8>, usize), H1Error> {
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut used_total = 0;
        for part in body.chunks(piece) {
            let (used, done) = d.decode(part, &mut |s| out.extend_from_slice(s))?;
            used_total += used;
            if done {
                return Ok((out, used_total));
            }
            assert_eq!(used, part.len());
        }
        Err(H1Error::Closed)
    }

    #[test]
    fn chunked_body_in_any_split() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let (data, used) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(data, b"hello, world", "piece {piece}");
            assert_eq!(used, body.len() - 4, "piece {piece}");
        }
    }

    #[test]
    fn chunked_trailers_are_skipped() {
        let (data, _) = decode_in_pieces(b"3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", 64).unwrap();
        assert_eq!(data, b"abc");
    }

    #[test]
    fn chunked_rejects_garbage() {
        assert!(decode_in_pieces(b"zz\r\n", 64).is_err());
        assert!(decode_in_pieces(b"3\r\nabcX\r\n", 64).is_err());
        assert!(decode_in_pieces(b"ffffffffffffffffff\r\n", 64).is_err());
    }

    #[test]
    fn head_with_length_chunked_close_and_none() {
        let p = |s: &str, head: bool| parse_head(s.as_bytes(), head).unwrap().unwrap();
        let (h, k, used) = p("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false);
        assert_eq!((h.status, h.keep_alive, k, used), (200, true, BodyKind::Length(3), 38));
        let (_, k, _) = p("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false);
        assert_eq!(k, BodyKind::Chunked);
        let (h, k, _) = p("HTTP/1.0 200 OK\r\n\r\n", false);
        assert_eq!((h.keep_alive, k), (false, BodyKind::Close));
        let (h, _, _) = p(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!h.keep_alive);
        let (_, k, _) = p("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true);
        assert_eq!(k, BodyKind::None);
        let (_, k, _) = p("HTTP/1.1 204 No Content\r\n\r\n", false);
        assert_eq!(k, BodyKind::None);
        // A transfer coding beats Content-Length; one not ending in chunked reads to the close.
        let (_, k, _) = p(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert_eq!(k, BodyKind::Close);
        let (_, k, _) = p(
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!(k, BodyKind::Length(5));
        let (h, _, _) = p("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false);
        assert!(!h.keep_alive);
    }

    #[test]
    fn head_partial_and_invalid() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-", false).unwrap(), None);
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", false), Err(H1Error::Protocol));
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Err(H1Error::Protocol)
        );
        assert_eq!(
            parse_head(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                false
            ),
            Err(H1Error::Protocol)
        );
    }

    #[tokio::test]
    async fn exchange_over_a_socket_pair_keeps_the_connection() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut c = H1Conn::new(client);
        let srv = tokio::spawn(async move {
            let mut buf = [0u8; 256];
            for reply in [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            ] {
                let _ = server.read(&mut buf).await.unwrap();
                server.write_all(reply).await.unwrap();
            }
        });
        for want in [&b"hello"[..], b"hi"] {
            let (head, mut body) = c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false).await.unwrap();
            assert_eq!(head.status, 200);
            assert!(head.keep_alive);
            let mut got = Vec::new();
            while c.read_body(&mut body, &mut |d| got.extend_from_slice(d)).await.unwrap() {}
            assert_eq!(got, want);
        }
        srv.await.unwrap();
    }
}
