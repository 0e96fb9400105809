//! Sans-IO Socket.IO 0.6 server engine.
//!
//! [`Server`] is a pure state machine: it reads no clock, opens no socket and spawns no
//! thread. An adapter (io-std, io-smol, or your own event loop) feeds it what happened and
//! carries out what it asks for:
//!
//! | input | meaning |
//! |---|---|
//! | [`Server::handle_connection`] | a connection was accepted (with its addresses) |
//! | [`Server::handle_bytes`] | bytes were read from it |
//! | [`Server::handle_written`] | bytes of its transmits were written to the socket |
//! | [`Server::handle_read_closed`] | a read returned end of stream: the peer sends no more |
//! | [`Server::handle_closed`] | the peer is gone (reset, or a write failed) |
//! | [`Server::handle_timeout`] | the deadline from [`Server::poll_timeout`] passed |
//! | [`Server::send`], [`Server::broadcast`], [`Server::broadcast_to`], [`Server::disconnect`], [`Server::respond`], [`Server::authorize`], [`Server::drain`] | the application's commands |
//! | [`Server::handle_publication`] | another node's publication arrived from the bus |
//!
//! After **every** input, drain the outputs in this order:
//!
//! 1. [`Server::poll_transmit`] until `None`: write each [`Transmit`] to its connection
//!    ([`Transmit::into_bytes`] gives the segments as bytes, for one vectored write), report
//!    what the socket took with [`Server::handle_written`], and close the connection once
//!    written if `close` says [`Close::AfterWrite`], at once (unwritten bytes dropped) if it
//!    says [`Close::Abort`]. The server has already forgotten a closed connection. An
//!    embedder with an HTTP stack of its own reads the segments instead: response heads,
//!    bodies and chunks as data, raw bytes for upgraded sockets.
//! 2. [`Server::poll_event`] until `None`: hand [`Event`]s to the application. Its
//!    reactions are new inputs, so go back to 1 after them.
//! 3. [`Server::poll_publication`] until `None` (with [`Options::cluster`] on): hand each
//!    [`Publication`] to the bus.
//! 4. [`Server::poll_timeout`]: sleep until then, or until the next input.
//!
//! Flow control lives here, not in the adapters: the server counts the bytes it handed out
//! and the bytes reported written, and cuts off a peer whose unread backlog passes
//! [`Limits::max_unwritten`] (a session without a close timeout ends with
//! [`DisconnectReason::SlowPeer`]; one with a close timeout may re-attach), so
//! every embedder gets the same protection. [`Server::buffered`] tells the application how
//! much is on its way to a session.
//!
//! Time is always an argument (`now`), and nothing depends on process randomness (session
//! ids come from the random source given to [`Server::with_random`]), so the same inputs
//! give the same outputs. A complete run loop (non-blocking sockets on `mio`) is
//! `examples/src/custom_loop.rs` in this repository.
//!
//! ```
//! use std::time::Instant;
//! use io_core::{ConnectionInfo, Event, Message, Options, Server};
//!
//! let mut server = Server::new(Options::default()).unwrap();
//! let now = Instant::now();
//! let info = ConnectionInfo::new("127.0.0.1:50000".parse()?, "127.0.0.1:8080".parse()?);
//! let conn = server.handle_connection(info, now);
//! server.handle_bytes(conn, b"GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: x\r\n\r\n", now);
//! let answer = server.poll_transmit().unwrap();
//! assert_eq!(answer.conn, conn);
//! let written = answer.len(); // pretend the socket took it all
//! server.handle_written(conn, written);
//! let Some(Event::Connect(session)) = server.poll_event() else { panic!() };
//! server.send(session, &Message::text("hello"), now).unwrap(); // queued for the next poll
//! assert!(server.buffered(session).unwrap() > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole server in one loop, on non-blocking std sockets (a real one waits in a poller,
//! epoll or mio, instead of napping; `examples/src/custom_loop.rs` does):
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::{Duration, Instant};
//! use io_core::{ConnId, ConnectionInfo, Event, Options, Response, Server};
//!
//! let listener = TcpListener::bind("127.0.0.1:8080")?;
//! listener.set_nonblocking(true)?;
//! let mut server = Server::new(Options::default())?;
//! let mut sockets: HashMap<ConnId, TcpStream> = HashMap::new();
//! let mut buf = vec![0; 64 * 1024];
//! loop {
//!     let now = Instant::now();
//!     while let Ok((stream, peer)) = listener.accept() {
//!         stream.set_nonblocking(true)?;
//!         let info = ConnectionInfo::new(peer, stream.local_addr()?);
//!         sockets.insert(server.handle_connection(info, now), stream);
//!     }
//!     let ids: Vec<ConnId> = sockets.keys().copied().collect();
//!     for id in ids {
//!         let Some(stream) = sockets.get_mut(&id) else { continue };
//!         match stream.read(&mut buf) {
//!             Ok(0) => server.handle_read_closed(id, now),
//!             Ok(n) => server.handle_bytes(id, &buf[..n], now),
//!             Err(e) if e.kind() == ErrorKind::WouldBlock => {}
//!             Err(_) => { sockets.remove(&id); server.handle_closed(id, now) }
//!         }
//!     }
//!     if server.poll_timeout().is_some_and(|at| at <= now) {
//!         server.handle_timeout(now);
//!     }
//!     loop {
//!         while let Some(t) = server.poll_transmit() {
//!             let (id, close) = (t.conn, t.close);
//!             let Some(stream) = sockets.get_mut(&id) else { continue };
//!             for bytes in t.into_bytes() {
//!                 // A real loop keeps what the socket did not take for later.
//!                 let _ = stream.write_all(&bytes);
//!                 server.handle_written(id, bytes.len());
//!             }
//!             if close.is_some() {
//!                 sockets.remove(&id);
//!             }
//!         }
//!         let Some(event) = server.poll_event() else { break };
//!         match event {
//!             Event::Message(session, msg) => { let _ = server.send(session, &msg, now); }
//!             Event::Request(conn, _) => {
//!                 let page = Response::with_body(200, "text/html", "<h1>Hello world</h1>");
//!                 let _ = server.respond(conn, page, now);
//!             }
//!             _ => {}
//!         }
//!     }
//!     let nap = server.poll_timeout().map_or(Duration::from_millis(1), |at| {
//!         at.saturating_duration_since(Instant::now()).min(Duration::from_millis(1))
//!     });
//!     std::thread::sleep(nap);
//! }
//! # #[allow(unreachable_code)]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// Nothing a peer sends may panic the server: no unwrap, expect, panic or unchecked indexing
// outside tests. Each exception says why it cannot fail.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod client;
pub mod cluster;
pub mod codec;
mod conn;
pub mod error;
mod forwarded;
mod handshake;
pub mod http;
pub mod message;
pub mod metrics;
pub mod options;
pub mod origin;
pub mod policy;
mod rate;
pub mod rooms;
mod route;
mod server;
pub mod session;
mod table;
mod timer;
pub mod transport;
pub mod websocket;

pub use cluster::{Audience, Publication, PublicationError};
pub use conn::{ConnId, ConnectionInfo};
pub use error::Error;
pub use handshake::Handshake;
pub use http::request::Request;
pub use http::response::Response;
pub use message::Message;
pub use metrics::Metrics;
pub use options::{Limits, Options, TransportOptions};
pub use origin::Origins;
pub use server::{Close, Event, Server, SessionInfo, Transmit};
pub use session::{DisconnectReason, SessionId};
pub use transport::TransportKind;
