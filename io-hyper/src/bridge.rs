//! A connection hyper no longer serves (upgraded to a WebSocket), or never did (a Flash
//! policy request): its bytes go to the core as they are read, and the core's answer goes
//! back out as the pipe gives it.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use io_adapter::Engine;
use io_core::ConnId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::exchange::Exchange;
use crate::pipe::Take;
use crate::Hyper;

/// Bytes read at once. Each connection holds its own buffer for as long as it lives (a
/// task cannot share one the way io-smol's single reader does), so it is small: a burst
/// larger than this is a few core calls.
const READ_BUF: usize = 4 * 1024;

/// Serves `io` through the core until either side ends it. `first` is what the core wrote
/// after the head hyper sent for it.
pub async fn bridge<IO>(io: IO, exchange: Exchange, first: BytesMut)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (engine, conn) = (exchange.engine.clone(), exchange.conn);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            match rd.read(&mut buf).await {
                // The peer sends no more; what the core still has for it goes out.
                Ok(0) => return engine.read_closed(conn),
                Ok(n) => engine.received(conn, buf.get(..n).unwrap_or_default()),
                Err(_) => return engine.failed(conn),
            }
        }
    });
    if let Err(e) = copy_out(&mut wr, &exchange, first).await {
        log::debug!("connection {conn}: {e}");
    }
    // Both halves dropped: the connection closes.
    reader.abort();
}

/// Writes what the core produces until it closes the connection (then shuts the write side)
/// or cuts it off (then drops it at once, even mid-write to a peer that does not read).
async fn copy_out<W: AsyncWrite + Unpin>(
    wr: &mut W,
    exchange: &Exchange,
    first: BytesMut,
) -> io::Result<()> {
    if !first.is_empty() {
        write_or_abort(wr, &first, exchange).await?;
    }
    loop {
        match poll_fn(|cx| exchange.poll_take(cx)).await {
            Take::Data(data, _) => write_or_abort(wr, &data, exchange).await?,
            Take::End => return wr.shutdown().await,
            Take::Aborted => return Err(io::ErrorKind::ConnectionAborted.into()),
        }
    }
}

async fn write_or_abort<W: AsyncWrite + Unpin>(
    wr: &mut W,
    data: &[u8],
    exchange: &Exchange,
) -> io::Result<()> {
    tokio::select! {
        written = async {
            wr.write_all(data).await?;
            wr.flush().await
        } => written,
        () = poll_fn(|cx| exchange.pipe.poll_aborted(cx)) => {
            Err(io::ErrorKind::ConnectionAborted.into())
        }
    }
}

/// Reads at once into one buffer per thread: an idle connection holds none.
const SHARED_READ_BUF: usize = 64 * 1024;

thread_local! {
    static READ: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`bridge`] for a connection of the server's own port, whose socket is known: one task,
/// and no buffer of its own, so that an idle WebSocket costs little more than on io-smol.
/// `ahead` is what hyper had read past the request (hixie-76's key3), `first` what the core
/// wrote after the head hyper sent.
pub async fn bridge_tcp(stream: Arc<TcpStream>, exchange: Exchange, ahead: Bytes, first: BytesMut) {
    let (engine, conn) = (exchange.engine.clone(), exchange.conn);
    if !ahead.is_empty() {
        engine.received(conn, &ahead);
    }
    // It may be a view of hyper's whole read buffer: not to be kept for the connection's life.
    drop(ahead);
    let mut pending = first.freeze();
    let mut reading = true;
    loop {
        // What the socket takes now; the rest waits for it to be writable.
        while !pending.is_empty() {
            match stream.try_write(&pending) {
                // Once all is out, the buffer goes: an idle connection holds none.
                Ok(n) if n == pending.len() => pending = Bytes::new(),
                Ok(n) => pending.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return engine.failed(conn),
            }
        }
        tokio::select! {
            ready = stream.readable(), if reading => {
                if ready.is_err() {
                    return engine.failed(conn);
                }
                match read_now(&stream, &engine, conn) {
                    Read::More => {}
                    // The peer sends no more; what the core still has for it goes out.
                    Read::Ended => {
                        reading = false;
                        engine.read_closed(conn);
                    }
                    Read::Failed => return engine.failed(conn),
                }
            }
            ready = stream.writable(), if !pending.is_empty() => {
                if ready.is_err() {
                    return engine.failed(conn);
                }
            }
            () = poll_fn(|cx| exchange.pipe.poll_aborted(cx)), if !pending.is_empty() => return,
            take = poll_fn(|cx| exchange.poll_take(cx)), if pending.is_empty() => match take {
                Take::Data(data, _) => pending = data,
                Take::End => {
                    let _ = socket2::SockRef::from(&*stream).shutdown(std::net::Shutdown::Write);
                    return;
                }
                Take::Aborted => return,
            },
        }
    }
}

/// How reading a readable socket went.
enum Read {
    More,
    Ended,
    Failed,
}

/// Reads what the socket has, into the thread's buffer, and gives it to the core.
fn read_now(stream: &TcpStream, engine: &Arc<Engine<Hyper>>, conn: ConnId) -> Read {
    READ.with(|cell| {
        // A callback never reads a socket, so the buffer is free; if it were not, a buffer
        // of this read's own would do.
        let mut own = Vec::new();
        let mut shared = cell.try_borrow_mut();
        let buf = match shared.as_mut() {
            Ok(b) => b,
            Err(_) => &mut own,
        };
        if buf.len() < SHARED_READ_BUF {
            buf.resize(SHARED_READ_BUF, 0);
        }
        loop {
            match stream.try_read(buf) {
                Ok(0) => return Read::Ended,
                Ok(n) => {
                    engine.received(conn, buf.get(..n).unwrap_or_default());
                    if n < buf.len() {
                        return Read::More;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::More,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Read::Failed,
            }
        }
    })
}
