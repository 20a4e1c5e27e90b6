//! The HTTP/1.1 client on the hot path: any bytes from a server, arriving
//! in pieces of any size, over several requests on one connection. The
//! head parser, 1xx skipping, Content-Length, chunked and close-delimited
//! bodies all see them; none may panic or loop.
#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use loadprof::load::h1::H1Conn;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The server's side: `data` handed out in pieces whose sizes come from
/// the input too; writes are swallowed.
struct Peer<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    turn: usize,
}

impl AsyncRead for Peer<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let size = self.sizes.get(self.turn % self.sizes.len().max(1)).map_or(64, |&s| usize::from(s) + 1);
        self.turn += 1;
        let n = size.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let (sizes, data) = rest.split_at(rest.len().min(8));
    let peer = Peer { data, sizes, turn: 0 };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut conn = H1Conn::new(peer);
        for i in 0..4 {
            let head_request = flags >> i & 1 == 1;
            let Ok((_head, mut reader)) = conn.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", head_request).await else {
                return;
            };
            let mut bytes = 0usize;
            loop {
                match conn.read_body(&mut reader, &mut |d: &[u8]| bytes += d.len()).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => return,
                }
            }
            assert!(bytes <= data.len());
        }
    });
});
