//! Whether the peer of a connection hyper serves has stopped sending. hyper does not say:
//! with half-closed connections allowed (a peer that shuts its write side still gets its
//! answer) it does not read while a request is in flight. The core must know, to answer a
//! held poll at once, or end a stream, as on every other adapter; so the connection's
//! socket is shared, and looked at (without reading) while an exchange is in flight.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most one read takes: requests are far smaller, and a larger body is a few reads.
const READ_CHUNK: usize = 4096;

/// What a look at the connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// The peer stopped sending (or the connection failed).
    Ended,
    /// Bytes wait (a pipelined request): no end can be seen behind them.
    Data,
}

/// The socket of a connection, as the exchanges on it look at it.
#[derive(Debug, Clone)]
pub struct Eof(pub Arc<TcpStream>);

impl Eof {
    /// Ready when the peer has stopped sending, or bytes wait.
    pub fn poll(&self, cx: &mut Context<'_>) -> Poll<Peek> {
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        match ready!(self.0.poll_peek(cx, &mut buf)) {
            Ok(0) | Err(_) => Poll::Ready(Peek::Ended),
            Ok(_) => Poll::Ready(Peek::Data),
        }
    }
}

/// The connection's socket as hyper reads and writes it, shared with its [`Eof`].
pub struct Shared(pub Arc<TcpStream>);

impl AsyncRead for Shared {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            // hyper hands over spare capacity that is not initialized: zero only what one
            // read may fill, not the whole buffer, on every read.
            let room = buf.remaining().min(READ_CHUNK);
            match self.0.try_read(buf.initialize_unfilled_to(room)) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl Shared {
    /// Writes with `write` once the socket can take bytes.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match write(&self.0) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                written => return Poll::Ready(written),
            }
        }
    }
}

impl AsyncWrite for Shared {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |s| s.try_write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |s| s.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}
