//! The hyper adapter for `io-core`: Socket.IO 0.6 inside an existing hyper 1 or axum
//! server on tokio, on the application's own port, or on a port of its own.
//!
//! [`SocketIo`] is a service (a tower `Service` for axum and tower stacks, and a hyper
//! `Service`) that answers the requests under the resource (`/socket.io/…`): polling and
//! streaming transports through hyper's response bodies, WebSockets (RFC 6455, hixie-75/76,
//! Flash) through hyper's upgrades. The callbacks, client handles and the handle are those
//! of every other adapter.
//!
//! How a request goes through: hyper parses it; the service opens a connection of its own
//! in the core for it and writes the request to it as bytes, so the core applies every one
//! of its rules as on the other adapters (and the body streams in without being collected).
//! The core's answer comes back through an in-memory pipe of bounded size: its head is read
//! back into a hyper response, the rest is the body (or, after a `101`, the upgraded
//! connection's bytes). A peer that stops reading fills the pipe, then the core's count of
//! unwritten bytes, and is cut off as on every adapter.
//!
//! Callbacks run one at a time, in order, on the tokio task that fed the core the input
//! behind them (see `io_adapter`): a callback that blocks holds up that task's worker.
//!
//! Inside axum, on the application's own port:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use io_hyper::{Options, Server, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Server::new(Options::default())?.on_message(|client, msg| {
//!     let _ = client.send(msg); // echo
//! });
//! let (socketio, _handle) = SocketIo::mount(server)?;
//! let app = Router::new()
//!     .route("/", get(|| async { "the application's own page" }))
//!     .route_service("/socket.io/{*rest}", socketio);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! On a port of its own, like the other adapters (the examples' `--adapter hyper`), it
//! runs hyper on a tokio runtime of its own, on one thread:
//! `Server::bind(addr, options)?.….spawn()?`. Owning the connections, it also answers
//! inline Flash policy requests (which are not HTTP), tells the core when a peer stops
//! sending while a request is in flight (hyper does not read then), shuts the connection of
//! a peer the core cut off at once, and serves upgraded sockets directly.
//!
//! What hyper's parser does instead of the core's: it answers malformed request heads
//! itself (a `400`, an oversized head `431`), and a request whose head is slower than
//! hyper's header timeout (on its own port, `limits.request_timeout`) gets its connection
//! closed rather than a `408`; in a WebSocket handshake answer, header names are written in
//! hyper's case, with a `Date`. The core's rules from the head on (bodies, sessions,
//! WebSocket frames, time limits) are the same. TLS is the surrounding server's
//! (tokio-rustls, or a proxy): `Server::tls` is refused.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// Nothing a peer does may panic the server: no unwrap, expect, panic or unchecked indexing
// outside tests; each exception says why it cannot fail.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod bridge;
mod dechunk;
mod eof;
mod exchange;
mod pipe;
mod service;

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use io_adapter::Engine;
use tokio::sync::{watch, Notify};

pub use exchange::Body;
pub use io_core::{
    DisconnectReason, Error, Message, Options, Request, Response, SessionId, TransportKind,
};
pub use pipe::Pipe;
pub use service::SocketIo;

/// A server, not yet running: set the callbacks, then mount it ([`SocketIo::mount`]) or
/// run it on a port of its own (`bind`, then `spawn` or `run`).
pub type Server = io_adapter::Server<Hyper>;
/// A running server: broadcast, list clients, shut down. Cheap to clone.
pub type Handle = io_adapter::Handle<Hyper>;
/// One session, as the application holds it. Cheap to clone, usable from any task.
pub type Client = io_adapter::Client<Hyper>;

/// How long the server's own runtime goes on after shutdown, so that the last writes finish.
const LINGER: Duration = Duration::from_millis(500);

/// The tokio side under the engine: the timer's wake-up and the stop signals.
pub struct Hyper {
    timer: Notify,
    /// Set when the server is told to stop: the accept loop and the timer end.
    stop: watch::Sender<bool>,
    /// Set once the server has shut down and the last callbacks have run.
    stopped: watch::Sender<bool>,
}

impl Default for Hyper {
    fn default() -> Self {
        Hyper {
            timer: Notify::new(),
            stop: watch::Sender::new(false),
            stopped: watch::Sender::new(false),
        }
    }
}

// Whoever reads a pipe flushes the engine's backlog once it has made room: the default
// `start_writer`.
impl io_adapter::Runtime for Hyper {
    type Socket = Pipe;

    fn wake_timer(&self) {
        self.timer.notify_one();
    }

    fn on_stopped(&self) {
        self.stopped.send_replace(true);
    }
}

impl io_adapter::Adapter for Hyper {
    type Run = io_adapter::server::RunFuture;
    type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn start(engine: &Arc<Engine<Self>>, listener: Option<TcpListener>) -> io::Result<()> {
        if engine.speaks_tls() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io-hyper leaves TLS to the server it runs in (tokio-rustls, or a proxy)",
            ));
        }
        match listener {
            // Mounted: the application's runtime runs the timer and every connection.
            None => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    io::Error::other("mount io-hyper's service from inside a tokio runtime")
                })?;
                runtime.spawn(timer_loop(engine.clone()));
                Ok(())
            }
            Some(listener) => service::start_own_port(engine, listener),
        }
    }

    fn stop(engine: &Arc<Engine<Self>>) {
        engine.runtime().stop.send_replace(true);
        engine.runtime().timer.notify_one();
    }

    fn run(handle: Handle) -> Self::Run {
        io_adapter::server::run_until_stopped(handle)
    }

    fn run_failed(error: io::Error) -> Self::Run {
        io_adapter::server::run_failed_async(error)
    }

    fn stopped(handle: &Handle) -> Self::Stopped {
        let mut stopped = handle.engine().runtime().stopped.subscribe();
        Box::pin(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    }
}

/// Sleeps until the core's next deadline, or until woken because it moved earlier.
async fn timer_loop(engine: Arc<Engine<Hyper>>) {
    let rt = engine.runtime();
    loop {
        let next = engine.tick();
        if *rt.stop.borrow() {
            return;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = rt.timer.notified() => {}
                }
            }
            None => rt.timer.notified().await,
        }
    }
}
