//! The socket the engine writes one exchange's bytes to: an in-memory pipe that hyper's side
//! (a response body, or the copy to an upgraded connection) reads from.
//!
//! The pipe holds at most [`ROOM`] bytes. Past that it takes nothing (`WouldBlock`), so the
//! rest waits in the engine's queue, where the core counts it as unwritten and cuts off a
//! peer that stops reading, exactly as over a kernel socket. Whoever reads the pipe calls
//! [`Engine::flush_backlog`](io_adapter::Engine::flush_backlog) once it made room that a
//! write was refused for.

use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use io_adapter::Socket;
use tokio::net::TcpStream;

/// The bytes a pipe holds before it refuses more: what a kernel's send buffer would.
pub const ROOM: usize = 64 * 1024;

/// One exchange's pipe from the engine to hyper.
#[derive(Debug, Default)]
pub struct Pipe {
    state: Mutex<State>,
    /// The connection under hyper, when the server owns it: shut at once when the core
    /// cuts the exchange off, so that hyper, stuck writing to a peer that does not read,
    /// lets go of it too.
    socket: Option<Arc<TcpStream>>,
}

#[derive(Debug, Default)]
struct State {
    buf: BytesMut,
    end: Option<End>,
    /// The reader, waiting for bytes or the end.
    waker: Option<Waker>,
    /// A write was refused for room: the engine has a backlog to flush.
    full: bool,
    /// The reader has gone (the peer vanished): writes fail.
    gone: bool,
}

/// How the engine ended the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Everything written is to be read, then the exchange ends.
    Closed,
    /// Drop what is unread and cut the peer off.
    Aborted,
}

/// What a read of the pipe gives.
#[derive(Debug)]
pub enum Take {
    /// Bytes, and whether the engine has a backlog to flush now that there is room.
    Data(Bytes, bool),
    /// Everything is read and the engine closed the pipe.
    End,
    /// The engine cut the exchange off: close the connection without more.
    Aborted,
}

impl Pipe {
    /// A pipe for an exchange on `socket` (when the server owns the connection).
    pub(crate) fn new(socket: Option<Arc<TcpStream>>) -> Self {
        Pipe {
            state: Mutex::default(),
            socket,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes what the pipe holds, or waits for it.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Take> {
        let mut st = self.lock();
        if st.end == Some(End::Aborted) {
            return Poll::Ready(Take::Aborted);
        }
        if !st.buf.is_empty() {
            // The whole buffer goes: a pipe at rest holds no allocation.
            let data = std::mem::take(&mut st.buf).freeze();
            let flush = std::mem::take(&mut st.full);
            return Poll::Ready(Take::Data(data, flush));
        }
        if st.end == Some(End::Closed) {
            return Poll::Ready(Take::End);
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Ready once the engine cut the exchange off; for a copy stuck writing to a peer that
    /// does not read.
    pub fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.end == Some(End::Aborted) {
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The reader has gone: what the engine writes from now on fails.
    pub fn hang_up(&self) {
        self.lock().gone = true;
    }

    fn end(&self, end: End) {
        let waker = {
            let mut st = self.lock();
            if end == End::Aborted {
                st.buf.clear();
            }
            if st.end != Some(End::Aborted) {
                st.end = Some(end);
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Socket for Pipe {
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let (waker, taken) = {
            let mut st = self.lock();
            if st.gone || st.end.is_some() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let room = ROOM.saturating_sub(st.buf.len());
            if room == 0 {
                st.full = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut taken = 0;
            for b in bufs {
                let n = b.len().min(room - taken);
                st.buf.extend_from_slice(b.get(..n).unwrap_or_default());
                taken += n;
                if taken == room {
                    break;
                }
            }
            (st.waker.take(), taken)
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(taken)
    }

    fn close(&self) {
        self.end(End::Closed);
    }

    fn abort(&self) {
        self.end(End::Aborted);
        if let Some(socket) = &self.socket {
            let _ = socket2::SockRef::from(&**socket).shutdown(std::net::Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn take(pipe: &Pipe, wakes: &Arc<Count>) -> Poll<Take> {
        let waker = Waker::from(wakes.clone());
        pipe.poll_take(&mut Context::from_waker(&waker))
    }

    #[test]
    fn the_pipe_takes_up_to_its_room_then_asks_for_a_flush_once_read() {
        let pipe = Pipe::default();
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        assert!(take(&pipe, &wakes).is_pending(), "empty: the reader waits");
        let big = vec![7u8; ROOM + 100];
        assert_eq!(pipe.try_write(&[IoSlice::new(&big)]).unwrap(), ROOM);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the reader was woken");
        let refused = pipe.try_write(&[IoSlice::new(b"more")]).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock);
        match take(&pipe, &wakes) {
            Poll::Ready(Take::Data(data, flush)) => {
                assert_eq!(data.len(), ROOM);
                assert!(
                    flush,
                    "a write was refused: the engine has a backlog to write"
                );
            }
            other => panic!("{other:?}"),
        }
        // Several slices go in as far as they fit, in order.
        let n = pipe
            .try_write(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .unwrap();
        assert_eq!(n, 4);
        pipe.close();
        match take(&pipe, &wakes) {
            Poll::Ready(Take::Data(data, false)) => assert_eq!(&data[..], b"abcd"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(take(&pipe, &wakes), Poll::Ready(Take::End)));
        assert_eq!(
            pipe.try_write(&[IoSlice::new(b"x")]).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }

    #[test]
    fn an_abort_drops_what_is_unread_and_a_gone_reader_fails_writes() {
        let pipe = Pipe::default();
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        pipe.try_write(&[IoSlice::new(b"unread")]).unwrap();
        pipe.abort();
        assert!(matches!(take(&pipe, &wakes), Poll::Ready(Take::Aborted)));
        let waker = Waker::from(wakes.clone());
        assert!(pipe
            .poll_aborted(&mut Context::from_waker(&waker))
            .is_ready());
        pipe.close();
        assert!(
            matches!(take(&pipe, &wakes), Poll::Ready(Take::Aborted)),
            "a close after an abort does not undo it"
        );

        let pipe = Pipe::default();
        pipe.hang_up();
        assert_eq!(
            pipe.try_write(&[IoSlice::new(b"x")]).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}
