//! The server an application builds (bind, callbacks, run) and the handle it keeps, the
//! same on every adapter.

use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_core::{DisconnectReason, Handshake, Message, Options, Request, Response, SessionId};

use crate::bus::{Bus, Inbox};
use crate::callbacks::Callbacks;
use crate::client::Client;
use crate::engine::{Engine, Extras, Runtime};
use crate::policy::PolicyListener;
use crate::verdict::Verdict;

/// What an adapter adds to [`Runtime`]: how it starts and stops its loops, and how a
/// caller waits for it.
pub trait Adapter: Runtime + Default {
    /// What [`Server::run`] returns: a future to await, or the result after blocking.
    type Run;
    /// What [`Handle::stopped`] returns: a future to await, or nothing after blocking.
    type Stopped;
    /// Starts accepting connections on `listener`, and the timer. Without a listener
    /// ([`Server::new`]) the server is served from inside another HTTP server: an adapter
    /// that cannot do that returns an error.
    fn start(engine: &Arc<Engine<Self>>, listener: Option<TcpListener>) -> io::Result<()>;
    /// Stops accepting and the timer, once the server has shut down.
    fn stop(engine: &Arc<Engine<Self>>);
    /// Runs until the server shuts down.
    fn run(handle: Handle<Self>) -> Self::Run;
    /// What `run` returns when the server could not start.
    fn run_failed(error: io::Error) -> Self::Run;
    /// Waits until the server has shut down and the last callbacks have run.
    fn stopped(handle: &Handle<Self>) -> Self::Stopped;
}

/// For an adapter that serves only a port of its own: the listener, or the error that
/// says a server without one ([`Server::new`]) cannot run on it.
pub fn own_port(listener: Option<TcpListener>) -> io::Result<TcpListener> {
    listener.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "this adapter serves a port of its own: bind one (Server::bind); \
             io-hyper serves from inside another HTTP server",
        )
    })
}

/// What [`Server::run`] returns on an async adapter (io-smol, io-hyper).
pub type RunFuture = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send>>;

/// For an async adapter's [`Adapter::run`]: waits until the server has stopped.
pub fn run_until_stopped<R>(handle: Handle<R>) -> RunFuture
where
    R: Adapter<Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
{
    Box::pin(async move {
        handle.stopped().await;
        Ok(())
    })
}

/// For an async adapter's [`Adapter::run_failed`]: the error, when awaited.
pub fn run_failed_async(error: io::Error) -> RunFuture {
    Box::pin(async move { Err(error) })
}

/// A server bound to an address, not yet running. Set the callbacks, then
/// [`run`](Self::run) or [`spawn`](Self::spawn).
pub struct Server<R: Adapter> {
    /// `None` when the server has no port of its own ([`Server::new`]).
    listener: Option<TcpListener>,
    core: io_core::Server,
    callbacks: Callbacks<Client<R>, Verdict<R>>,
    runtime: PhantomData<R>,
    extras: Extras,
}

impl<R: Adapter> Server<R> {
    /// Binds `addr`; requests outside the resource go to [`on_request`](Self::on_request).
    pub fn bind(addr: impl ToSocketAddrs, options: Options) -> io::Result<Self> {
        Self::from_listener(TcpListener::bind(addr)?, options)
    }

    /// Serves on a listener the application already has.
    pub fn from_listener(listener: TcpListener, options: Options) -> io::Result<Self> {
        let mut server = Self::new(options)?;
        server.listener = Some(listener);
        Ok(server)
    }

    /// A server without a port of its own, for an adapter that serves it from inside
    /// another HTTP server (io-hyper's service in a hyper or axum application). The other
    /// adapters refuse to start it. It starts no standalone Flash policy listener either:
    /// policy requests are answered inline where the host server lets them through.
    pub fn new(options: Options) -> io::Result<Self> {
        let core = io_core::Server::new(options)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Server {
            listener: None,
            core,
            callbacks: Callbacks::default(),
            runtime: PhantomData,
            extras: Extras::default(),
        })
    }

    /// Where the server listens; with port 0, the port the OS picked. An error for a
    /// server without a port of its own ([`Server::new`]).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Some(l) => l.local_addr(),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "this server is served from inside another server and has no port of its own",
            )),
        }
    }

    /// Speaks TLS on every connection: https and wss. The core hears that each connection
    /// is secure, so hixie WebSocket locations say `wss://`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.extras.tls = Some(config);
        self
    }

    /// Joins a cluster through `bus`: broadcasts reach the sessions of every node, and a
    /// message for a session another node owns (its id names the node) goes there. Give
    /// each node its own `Options::node_id`. Turns on `Options::cluster`.
    pub fn bus(mut self, bus: impl Bus) -> io::Result<Self> {
        self.set_option(|o| o.cluster = true)?;
        self.extras.bus = Some(Arc::new(bus));
        Ok(self)
    }

    /// Answers every request that is not Socket.IO's. Without it they get a 404.
    pub fn on_request(mut self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        self.callbacks.request = Some(Box::new(f));
        self
    }

    /// Answers requests for exactly `path` (outside the resource) with `f`, before
    /// [`on_request`](Self::on_request) sees them: a `/metrics` or `/health` beside the
    /// application's own pages.
    pub fn route(
        mut self,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.routes.push((path.to_owned(), Box::new(f)));
        self
    }

    /// Decides whether each new session may be, before it exists: `f` gets the handshake
    /// (headers, cookies, query, the client's address) and a [`Verdict`] to accept or
    /// refuse with, at once or later (from another thread or task, after a database
    /// lookup). A refusal is answered `403`; a verdict dropped unanswered refuses. Turns
    /// on `Options::authorize`.
    pub fn on_authorize(
        mut self,
        f: impl Fn(&Handshake, Verdict<R>) + Send + Sync + 'static,
    ) -> io::Result<Self> {
        self.set_option(|o| o.authorize = true)?;
        self.callbacks.authorize = Some(Box::new(f));
        Ok(self)
    }

    /// Keeps each session's handshake, for [`Client::handshake`] to read in the
    /// callbacks. Turns on `Options::keep_handshakes`.
    pub fn keep_handshakes(mut self) -> io::Result<Self> {
        self.set_option(|o| o.keep_handshakes = true)?;
        Ok(self)
    }

    /// Keeps, for each session, the latest request that attached a transport to it (a poll,
    /// a stream, a WebSocket connecting again), for [`Client::latest_request`] to read.
    /// Turns on `Options::keep_latest_requests`.
    pub fn keep_latest_requests(mut self) -> io::Result<Self> {
        self.set_option(|o| o.keep_latest_requests = true)?;
        Ok(self)
    }

    /// Rebuilds the core (not started yet) with an option changed.
    fn set_option(&mut self, change: impl FnOnce(&mut Options)) -> io::Result<()> {
        let mut options = self.core.options().clone();
        change(&mut options);
        self.core = io_core::Server::new(options)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(())
    }

    /// A session's first transport attached.
    pub fn on_connect(mut self, f: impl Fn(Client<R>) + Send + Sync + 'static) -> Self {
        self.callbacks.connect = Some(Box::new(f));
        self
    }

    /// A message arrived, text or JSON.
    pub fn on_message(mut self, f: impl Fn(Client<R>, Message) + Send + Sync + 'static) -> Self {
        self.callbacks.message = Some(Box::new(f));
        self
    }

    /// A session ended; exactly once for every session that connected.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(Client<R>, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.disconnect = Some(Box::new(f));
        self
    }

    /// Runs until [`Handle::shutdown`] (from a callback, or a handle from
    /// [`spawn`](Self::spawn) held elsewhere).
    pub fn run(self) -> R::Run {
        match self.spawn() {
            Ok(handle) => R::run(handle),
            Err(e) => R::run_failed(e),
        }
    }

    /// Starts the server and returns at once.
    pub fn spawn(self) -> io::Result<Handle<R>> {
        let local_addr = match &self.listener {
            Some(l) => l.local_addr()?,
            None => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let options = self.core.options();
        // A server inside another one binds no port of its own, the policy's included.
        let policy_port = options
            .flash_policy_server
            .filter(|_| self.listener.is_some());
        let doc = self.core.policy_document();
        // The original's flashPolicyServer: if its port cannot be bound, say so and rely on
        // the inline answers.
        let policy = match policy_port {
            None => None,
            Some(port) => match TcpListener::bind((local_addr.ip(), port))
                .and_then(|l| PolicyListener::start(l, doc))
            {
                Ok(p) => Some(p),
                Err(e) => {
                    log::warn!(
                        "cannot serve the Flash policy on port {port} ({e}); \
                         answering policy requests inline instead"
                    );
                    None
                }
            },
        };
        let (node_id, resource) = (options.node_id, options.resource.clone());
        let engine = Engine::new(self.core, self.callbacks, R::default(), self.extras);
        R::start(&engine, self.listener)?;
        if let Some(bus) = engine.bus() {
            let inbox = Inbox::for_engine(
                Arc::downgrade(&engine),
                Engine::publication,
                node_id,
                &resource,
            );
            if let Err(e) = bus.start(inbox) {
                engine.shutdown();
                R::stop(&engine);
                return Err(e);
            }
        }
        Ok(Handle {
            engine,
            local_addr,
            policy: policy.map(Arc::new),
        })
    }
}

/// A running server: broadcast, list clients, shut down. Cheap to clone.
pub struct Handle<R: Adapter> {
    engine: Arc<Engine<R>>,
    local_addr: SocketAddr,
    policy: Option<Arc<PolicyListener>>,
}

impl<R: Adapter> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            engine: self.engine.clone(),
            local_addr: self.local_addr,
            policy: self.policy.clone(),
        }
    }
}

impl<R: Adapter> Handle<R> {
    /// Where the server listens; with port 0, the port the OS picked. The unspecified
    /// address `0.0.0.0:0` for a server without a port of its own ([`Server::new`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the standalone Flash policy listener runs, if it does.
    pub fn policy_addr(&self) -> Option<SocketAddr> {
        self.policy.as_ref().map(|p| p.local_addr())
    }

    /// Sends to every connected client but those in `except`; encoded once for all.
    pub fn broadcast(&self, msg: impl Into<Message>, except: &[SessionId]) {
        let msg = msg.into();
        self.engine
            .command(|core, now| core.broadcast(&msg, except, now));
    }

    /// Sends to every session in `room` but those in `except`, on every node; encoded once.
    pub fn broadcast_to(
        &self,
        room: &str,
        msg: impl Into<Message>,
        except: &[SessionId],
    ) -> Result<(), io_core::Error> {
        let msg = msg.into();
        self.engine
            .command(|core, now| core.broadcast_to(room, &msg, except, now))
    }

    /// What the server has done so far (messages, bytes, refusals, slow peers cut off) and
    /// what it holds now (connections, sessions by transport).
    pub fn metrics(&self) -> io_core::Metrics {
        self.engine.query(|core| core.metrics())
    }

    /// Every connected client (the original's `listener.clients`).
    pub fn clients(&self) -> Vec<Client<R>> {
        self.engine
            .query(|core| core.clients().collect::<Vec<_>>())
            .into_iter()
            .map(|id| Client::new(id, self.engine.clone()))
            .collect()
    }

    /// The client with this session id: one of this node's, or in a cluster one that
    /// another node owns (then only `send` reaches it, through the bus, at most once).
    pub fn client(&self, id: SessionId) -> Option<Client<R>> {
        self.engine.client(id)
    }

    /// Sends to one session, here or (in a cluster) on the node that owns it.
    pub fn send(&self, id: SessionId, msg: impl Into<Message>) -> Result<(), io_core::Error> {
        let msg = msg.into();
        self.engine.command(|core, now| core.send(id, &msg, now))
    }

    /// Ends every session (each with a disconnect callback), closes every connection and
    /// stops accepting. [`stopped`](Self::stopped) waits for the last callbacks.
    pub fn shutdown(&self) {
        if self.engine.shutdown() {
            R::stop(&self.engine);
            if let Some(p) = &self.policy {
                p.stop();
            }
            if let Some(bus) = self.engine.bus() {
                bus.stop();
            }
        }
    }

    /// Drains this node for a rolling restart, then shuts it down: new sessions are
    /// refused with `503` (a proxy passes them to another node), every session ends
    /// ([`DisconnectReason::Draining`]: its client connects again, elsewhere), and once the
    /// last connection is gone, or `within` has passed, the server shuts down.
    /// [`stopped`](Self::stopped) then waits for it.
    pub fn drain(&self, within: Duration) {
        self.engine.command(|core, now| core.drain(now));
        let handle = self.clone();
        let deadline = Instant::now() + within;
        let watch = move || {
            while Instant::now() < deadline
                && handle.engine.query(|core| core.connection_count()) > 0
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            handle.shutdown();
        };
        if std::thread::Builder::new()
            .name("io-drain".into())
            .spawn(watch)
            .is_err()
        {
            self.shutdown();
        }
    }

    /// Waits until the server has shut down and the last callbacks have run.
    pub fn stopped(&self) -> R::Stopped {
        R::stopped(self)
    }

    /// The engine, for the adapter's own code.
    pub fn engine(&self) -> &Arc<Engine<R>> {
        &self.engine
    }
}
