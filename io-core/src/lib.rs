//! Sans-IO Socket.IO 0.6 server engine.
//!
//! [`Server`] is a pure state machine: it reads no clock, opens no socket and spawns no
//! thread. An adapter (io-std, io-smol, or your own event loop) feeds it what happened and
//! carries out what it asks for:
//!
//! | input | meaning |
//! |---|---|
//! | [`Server::handle_connection`] | a TCP connection was accepted |
//! | [`Server::handle_bytes`] | bytes were read from it |
//! | [`Server::handle_closed`] | the peer went away, or a write failed |
//! | [`Server::handle_timeout`] | the deadline from [`Server::poll_timeout`] passed |
//! | [`Server::send`], [`Server::broadcast`], [`Server::disconnect`], [`Server::respond`] | the application's commands |
//!
//! After **every** input, drain the outputs in this order:
//!
//! 1. [`Server::poll_transmit`] until `None`: write each [`Transmit`] to its connection
//!    ([`Transmit::into_bytes`] gives the segments as bytes, for one vectored write), and
//!    close the connection afterwards if `close` is set. The server has already forgotten a
//!    closed connection. An embedder with an HTTP stack of its own reads the segments
//!    instead: response heads, bodies and chunks as data, raw bytes for upgraded sockets.
//! 2. [`Server::poll_event`] until `None`: hand [`Event`]s to the application. Its
//!    reactions are new inputs, so go back to 1 after them.
//! 3. [`Server::poll_timeout`]: sleep until then, or until the next input.
//!
//! Time is always an argument (`now`), so tests run on a virtual clock. A complete run loop
//! (non-blocking sockets on `mio`, under 200 lines) is `examples/src/custom_loop.rs` in this
//! repository; the `hub` module holds what the io-std and io-smol adapters share.
//!
//! ```
//! use std::time::Instant;
//! use io_core::{Event, Message, Options, Server};
//!
//! let mut server = Server::new(Options::default()).unwrap();
//! let now = Instant::now();
//! let conn = server.handle_connection(now);
//! server.handle_bytes(conn, b"GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: x\r\n\r\n", now);
//! let answer = server.poll_transmit().unwrap();
//! assert_eq!(answer.conn, conn);
//! let Some(Event::Connect(session)) = server.poll_event() else { panic!() };
//! server.send(session, &Message::text("hello"), now).unwrap(); // queued for the next poll
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod codec;
mod conn;
pub mod error;
pub mod http;
pub mod hub;
pub mod message;
pub mod options;
pub mod origin;
pub mod policy;
mod route;
mod server;
pub mod session;
mod timer;
pub mod transport;
pub mod websocket;

pub use conn::ConnId;
pub use error::Error;
pub use http::request::Request;
pub use http::response::Response;
pub use message::Message;
pub use options::{Limits, Options, TransportOptions};
pub use origin::Origins;
pub use server::{Event, Server, SessionInfo, Transmit};
pub use session::{DisconnectReason, SessionId};
pub use transport::TransportKind;
