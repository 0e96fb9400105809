//! The ceiling for the RFC 6455 echo workloads: the least a WebSocket echo server can do.
//!
//! A minimal tokio-tungstenite server on a current-thread tokio runtime, one task per
//! connection, with a 4 KiB read buffer. Each connection first gets a Socket.IO session-id
//! message (`~m~<len>~m~<id>`, the id a counter) so the load generator sees a session start,
//! then every text or binary message comes back unchanged. It speaks no Socket.IO beyond that:
//! no heartbeats, no polling transports, any request path is accepted for the upgrade.
//!
//! `cargo run --profile perf -p bench --bin tungstenite_echo -- --port 8080 [--host 127.0.0.1]`

use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

fn main() -> io::Result<()> {
    let addr = parse().unwrap_or_else(|e| {
        eprintln!("tungstenite_echo: {e} (options: --port N --host ADDR)");
        std::process::exit(2)
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("tungstenite echo server on ws://{addr}/");
        let mut id = 0u64;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    id += 1;
                    // A client that goes away mid-way is not this server's concern.
                    tokio::spawn(async move { serve(stream, id).await.ok() });
                }
                Err(e) => eprintln!("tungstenite_echo: accept: {e}"),
            }
        }
    })
}

async fn serve(stream: TcpStream, id: u64) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    stream.set_nodelay(true)?;
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    let sid = id.to_string();
    ws.send(Message::text(format!("~m~{}~m~{sid}", sid.len())))
        .await?;
    while let Some(message) = ws.next().await {
        match message? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            Message::Close(_) => break,
            _ => {} // pings are answered by tungstenite itself
        }
    }
    Ok(())
}

fn parse() -> Result<String, lexopt::Error> {
    use lexopt::prelude::*;
    let (mut host, mut port) = ("127.0.0.1".to_string(), 8080u16);
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("port") => port = p.value()?.parse()?,
            Long("host") => host = p.value()?.string()?,
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(format!("{host}:{port}"))
}
