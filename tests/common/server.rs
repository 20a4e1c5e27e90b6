//! A loopback HTTP/1.1 server for the load tests, written on plain sockets
//! so each route can misbehave exactly: stream events on a schedule, never
//! answer, reset mid-body, send 100 MB, stop accepting connections.
//! One thread per connection; it stops when the `TestServer` is dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Seen {
    /// Requests per path (without query).
    pub paths: HashMap<String, usize>,
    /// Bodies of requests to /echo, in arrival order.
    pub bodies: Vec<String>,
    /// When each connection was accepted.
    pub accepts: Vec<Instant>,
    /// The Authorization header of each request that had one.
    pub authorization: Vec<String>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts the server; after `accept_limit` connections it stops
    /// listening, so later connects are refused.
    pub fn start_with_limit(accept_limit: Option<usize>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accepted = Arc::new(AtomicUsize::new(0));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                seen2.lock().unwrap().accepts.push(Instant::now());
                let (seen3, stop3) = (seen2.clone(), stop2.clone());
                thread::spawn(move || serve(conn, seen3, stop3));
                if accept_limit.is_some_and(|l| accepted.fetch_add(1, Ordering::Relaxed) + 1 >= l) {
                    break;
                }
            }
        });
        TestServer { addr, seen, stop }
    }

    pub fn start() -> TestServer {
        TestServer::start_with_limit(None)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
    conn.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("authorization") {
                    seen.lock().unwrap().authorization.push(v.trim().to_string());
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = target.split('?').next().unwrap_or("/").to_string();
        {
            let mut s = seen.lock().unwrap();
            *s.paths.entry(path.clone()).or_insert(0) += 1;
            if path == "/echo" {
                s.bodies.push(String::from_utf8_lossy(&body).into_owned());
            }
        }
        if !respond(&mut out, &path, &stop) {
            return;
        }
        if path == "/idle-close" {
            // Like uvicorn's keep-alive timeout: an idle connection is closed.
            let _ = out.set_read_timeout(Some(Duration::from_millis(200)));
        }
    }
}

fn send(out: &mut TcpStream, status: &str, extra: &str, body: &[u8]) -> bool {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{extra}\r\n",
        body.len()
    );
    let mut msg = head.into_bytes();
    msg.extend_from_slice(body);
    out.write_all(&msg).is_ok()
}

/// Writes `(delay from the start, text)` pieces of a chunked response.
fn stream(out: &mut TcpStream, content_type: &str, pieces: &[(u64, &str)]) -> bool {
    let start = Instant::now();
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n");
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for (at, text) in pieces {
        let due = start + Duration::from_millis(*at);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        if out
            .write_all(format!("{:x}\r\n{text}\r\n", text.len()).as_bytes())
            .is_err()
        {
            return false;
        }
    }
    out.write_all(b"0\r\n\r\n").is_ok()
}

fn respond(out: &mut TcpStream, path: &str, stop: &AtomicBool) -> bool {
    match path {
        "/quote" => send(out, "200 OK", "", b"The answer is on the first page (p.12)."),
        "/noquote" => send(out, "200 OK", "", b"The answer, without a source."),
        "/error" => send(out, "500 Internal Server Error", "", b"boom"),
        // Says two bytes, sends four.
        "/extra" => out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXX")
            .is_ok(),
        "/close" => {
            send(out, "200 OK", "Connection: close\r\n", b"bye");
            false
        }
        "/slow" => {
            thread::sleep(Duration::from_millis(50));
            send(out, "200 OK", "", b"ok")
        }
        "/sse" => stream(
            out,
            "text/event-stream",
            &[
                (0, ": connected\n\n"),
                (20, "event: ping\ndata:\n\n"),
                (100, "data: {\"token\":\"a\"}\n\n"),
                (300, "data: {\"token\":\"b\"}\n\n"),
                (500, "data: [DONE]\n\n"),
            ],
        ),
        "/ndjson" => stream(
            out,
            "application/x-ndjson",
            &[
                (100, "{\"response\":\"a\",\"done\":false}\n"),
                (300, "{\"response\":\"b\",\"done\":false}\n"),
                (500, "{\"response\":\"\",\"done\":true}\n"),
            ],
        ),
        "/never" => {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(50));
            }
            false
        }
        "/reset" => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
            thread::sleep(Duration::from_millis(20));
            // SO_LINGER 0: close with a reset instead of a clean end.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            use std::os::fd::AsRawFd;
            unsafe {
                libc::setsockopt(
                    out.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as u32,
                );
            }
            let _ = out.shutdown(Shutdown::Read);
            false
        }
        // Never ends, as fast as the client reads: NDJSON lines, 1xx heads,
        // or a body without a length.
        "/endless-ndjson" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
            if out.write_all(head.as_bytes()).is_err() {
                return false;
            }
            let line = "{\"response\":\"a\",\"done\":false}\n";
            let chunk = format!("{:x}\r\n{line}\r\n", line.len()).repeat(64);
            while !stop.load(Ordering::Relaxed) && out.write_all(chunk.as_bytes()).is_ok() {}
            false
        }
        "/endless-continue" => {
            let block = "HTTP/1.1 100 Continue\r\n\r\n".repeat(64);
            while !stop.load(Ordering::Relaxed) && out.write_all(block.as_bytes()).is_ok() {}
            false
        }
        "/endless-body" => {
            if out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").is_err() {
                return false;
            }
            let block = vec![b'x'; 64 << 10];
            while !stop.load(Ordering::Relaxed) && out.write_all(&block).is_ok() {}
            false
        }
        "/big" => {
            const SIZE: usize = 100 << 20;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n");
            if out.write_all(head.as_bytes()).is_err() {
                return false;
            }
            let block = vec![b'x'; 256 << 10];
            (0..SIZE / block.len()).all(|_| out.write_all(&block).is_ok())
        }
        _ => send(out, "200 OK", "", b"ok\n"),
    }
}
