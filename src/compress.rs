//! COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (no zlib header) both ways over any stream, TLS
//! included, with a sync flush at every write flush so each response reaches the client whole.
//!
//! Memory per connection is bounded by miniz_oxide's compressor and decompressor state (about
//! 300 KiB together) plus two 16 KiB buffers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use smol::io::{AsyncRead, AsyncWrite};

const BUF: usize = 16 * 1024;

pub struct Deflate<S> {
    inner: S,
    comp: Compress,
    decomp: Decompress,
    /// Compressed bytes read from `inner`, not yet inflated: `input[pos..]`.
    input: Vec<u8>,
    pos: usize,
    /// Compressed bytes waiting to be written to `inner`: `output[sent..]`.
    output: Vec<u8>,
    sent: usize,
    eof: bool,
    /// A sync flush was compressed and is being written out.
    flushing: bool,
}

impl<S> Deflate<S> {
    /// Wraps `inner`; `pending` are compressed bytes the client already sent after the command.
    pub fn new(inner: S, pending: Vec<u8>) -> Self {
        Deflate {
            inner,
            comp: Compress::new(Compression::fast(), false),
            decomp: Decompress::new(false),
            input: pending,
            pos: 0,
            output: Vec::with_capacity(BUF),
            sent: 0,
            eof: false,
            flushing: false,
        }
    }
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("deflate: {e}"))
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            if this.pos < this.input.len() {
                let before_in = this.decomp.total_in();
                let before_out = this.decomp.total_out();
                let status = this
                    .decomp
                    .decompress(&this.input[this.pos..], buf, FlushDecompress::Sync)
                    .map_err(err)?;
                this.pos += (this.decomp.total_in() - before_in) as usize;
                let produced = (this.decomp.total_out() - before_out) as usize;
                if produced > 0 {
                    return Poll::Ready(Ok(produced));
                }
                if status == Status::StreamEnd {
                    return Poll::Ready(Ok(0));
                }
                if this.pos < this.input.len() && this.decomp.total_in() == before_in {
                    return Poll::Ready(Err(err("no progress")));
                }
            }
            if this.eof {
                return Poll::Ready(Ok(0));
            }
            // Refill from the inner stream.
            this.input.drain(..this.pos);
            this.pos = 0;
            let start = this.input.len();
            this.input.resize(start + BUF, 0);
            let n = match Pin::new(&mut this.inner).poll_read(cx, &mut this.input[start..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => {
                    this.input.truncate(start);
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    this.input.truncate(start);
                    return Poll::Pending;
                }
            };
            this.input.truncate(start + n);
            if n == 0 {
                this.eof = true;
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes out what is compressed and pending.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.output.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Runs the compressor over `data` (with `flush`), appending to `output`; returns bytes taken.
    fn compress(&mut self, data: &[u8], flush: FlushCompress) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            if self.output.capacity() - self.output.len() < 64 {
                self.output.reserve(BUF);
            }
            let before_in = self.comp.total_in();
            let before_out = self.comp.total_out();
            self.comp.compress_vec(&data[taken..], &mut self.output, flush).map_err(err)?;
            taken += (self.comp.total_in() - before_in) as usize;
            let produced = self.comp.total_out() - before_out;
            // Done when all input is taken and (for a flush) the compressor had room to spare.
            if taken == data.len()
                && (flush == FlushCompress::None || self.output.len() < self.output.capacity())
            {
                return Ok(taken);
            }
            if produced == 0 && taken == data.len() {
                return Ok(taken);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // Bound the pending output: drain first when it is large.
        if this.output.len() - this.sent >= BUF {
            ready!(this.poll_drain(cx))?;
        }
        // At most one buffer of input per call, so `output` stays bounded.
        let data = &data[..data.len().min(BUF)];
        Poll::Ready(this.compress(data, FlushCompress::None))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.flushing {
            // A sync flush ends every response on a byte boundary (RFC 4978 §4).
            this.compress(&[], FlushCompress::Sync)?;
            this.flushing = true;
        }
        ready!(this.poll_drain(cx))?;
        this.flushing = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn round_trip_through_a_pipe() {
        smol::block_on(async {
            let (a, b) = smol::net::unix::UnixStream::pair().expect("pair");
            let mut w = Deflate::new(a, Vec::new());
            let mut r = Deflate::new(b, Vec::new());
            let text: Vec<u8> = (0..200_000u32)
                .flat_map(|i| format!("* {i} FETCH (FLAGS (\\Seen))\r\n").into_bytes())
                .collect();
            let t2 = text.clone();
            let writer = smol::spawn(async move {
                w.write_all(&t2).await.expect("write");
                w.flush().await.expect("flush");
                w.write_all(b"tail\r\n").await.expect("write");
                w.flush().await.expect("flush");
                w
            });
            let mut got = vec![0u8; text.len() + 6];
            r.read_exact(&mut got).await.expect("read");
            assert_eq!(&got[..text.len()], &text[..]);
            assert_eq!(&got[text.len()..], b"tail\r\n");
            drop(writer.await);
        });
    }
}
