//! A byte stream that reports what passes through it to a [`Tally`]: the client's count of the
//! bytes it read off the wire (`probe`), and the server's per-connection figures of
//! docs/mapi-extension.md §4.4 (`server::counted`).

use std::pin::Pin;
use std::task::{Context, Poll};

use smol::io::{AsyncRead, AsyncWrite};

/// Where a [`Counted`] stream reports; each method defaults to ignoring its figure.
pub trait Tally: Unpin {
    /// `n` bytes were read.
    fn received(&self, _n: usize) {}
    /// A write took `n` bytes; `left` of the buffer it was offered wait for the next one.
    fn sent(&self, _n: usize, _left: usize) {}
    /// A write of `n` bytes waits for the stream (0: the write failed, nothing waits).
    fn waiting(&self, _n: usize) {}
}

pub struct Counted<S, T> {
    inner: S,
    tally: T,
}

impl<S, T> Counted<S, T> {
    pub fn new(inner: S, tally: T) -> Self {
        Counted { inner, tally }
    }
}

impl<S: AsyncRead + Unpin, T: Tally> AsyncRead for Counted<S, T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            self.tally.received(n);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin, T: Tally> AsyncWrite for Counted<S, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        match r {
            Poll::Ready(Ok(n)) => self.tally.sent(n, buf.len().saturating_sub(n)),
            Poll::Pending => self.tally.waiting(buf.len()),
            Poll::Ready(Err(_)) => self.tally.waiting(0),
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
