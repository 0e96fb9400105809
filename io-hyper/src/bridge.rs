//! A connection hyper no longer serves (upgraded to a WebSocket), or never did (a Flash
//! policy request): its bytes go to the core as they are read, and the core's answer goes
//! back out as the pipe gives it.

use std::future::poll_fn;
use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::exchange::Exchange;
use crate::pipe::Take;

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
