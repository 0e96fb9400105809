//! One session, as the application holds it.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use io_core::{Error, Handshake, Message, SessionId, TransportKind};

use crate::engine::{Engine, Runtime};

/// One session: cheap to clone, usable from any thread or task. Commands run against the
/// core at once; what they produce is written before they return, as far as the socket
/// takes it.
pub struct Client<R: Runtime> {
    id: SessionId,
    engine: Arc<Engine<R>>,
}

impl<R: Runtime> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            id: self.id,
            engine: self.engine.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("id", &self.id).finish()
    }
}

impl<R: Runtime> Client<R> {
    pub(crate) fn new(id: SessionId, engine: Arc<Engine<R>>) -> Self {
        Client { id, engine }
    }

    /// The id the client got as its first message; [`Handle::client`](crate::Handle::client)
    /// turns it back into a `Client`.
    pub fn session_id(&self) -> SessionId {
        self.id
    }

    /// Whether the session is still alive (it may be between two polls).
    pub fn connected(&self) -> bool {
        self.engine.query(|core| core.session(self.id).is_some())
    }

    /// How many times a transport has attached to this session.
    pub fn connections(&self) -> u32 {
        self.engine
            .query(|core| core.session(self.id).map_or(0, |s| s.connections))
    }

    /// The transport the session uses; `None` once it has disconnected, or when another node
    /// owns it.
    pub fn transport(&self) -> Option<TransportKind> {
        self.engine
            .query(|core| core.session(self.id).map(|s| s.transport))
    }

    /// Bytes on their way to this session and not yet read by its peer: slow down before
    /// the limits cut it off.
    pub fn buffered(&self) -> usize {
        self.engine
            .query(|core| core.buffered(self.id).unwrap_or(0))
    }

    /// Sends a message, queued while no transport is attached (between two polls). Fails with
    /// [`Error::UnknownSession`] once the session has disconnected.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        self.engine
            .command(|core, now| core.send(self.id, &msg, now))
    }

    /// The handshake that made this session: its headers, cookies, query and client
    /// address. Only with [`Server::keep_handshakes`](crate::Server::keep_handshakes).
    pub fn handshake(&self) -> Option<Handshake> {
        self.engine.query(|core| core.handshake(self.id).cloned())
    }

    /// The latest request that attached a transport to this session (each poll, a stream,
    /// a WebSocket connecting again; the handshake until another comes): its cookies and
    /// the client's address now. Only with
    /// [`Server::keep_latest_requests`](crate::Server::keep_latest_requests).
    pub fn latest_request(&self) -> Option<Handshake> {
        self.engine
            .query(|core| core.latest_request(self.id).cloned())
    }

    /// Another session of the same server, by id: one of this node's, or in a cluster
    /// one that another node owns (then only `send` reaches it, through the bus).
    pub fn client(&self, id: SessionId) -> Option<Client<R>> {
        self.engine.client(id)
    }

    /// Sends to every other client (of every node, in a cluster).
    pub fn broadcast(&self, msg: impl Into<Message>) {
        let msg = msg.into();
        self.engine
            .command(|core, now| core.broadcast(&msg, &[self.id], now));
    }

    /// Puts this session in `room` (made on first use); it leaves every room when it ends.
    pub fn join(&self, room: &str) -> Result<(), Error> {
        self.engine.command(|core, _| core.join(self.id, room))
    }

    /// Takes this session out of `room`.
    pub fn leave(&self, room: &str) -> Result<(), Error> {
        self.engine.command(|core, _| core.leave(self.id, room))
    }

    /// The rooms this session is in, in the order it joined them.
    pub fn rooms(&self) -> Vec<String> {
        self.engine
            .query(|core| core.rooms(self.id).map(str::to_owned).collect())
    }

    /// Sends to every other member of `room`, on every node; encoded once.
    pub fn broadcast_to(&self, room: &str, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        self.engine
            .command(|core, now| core.broadcast_to(room, &msg, &[self.id], now))
    }

    /// Keeps `value` with this session, in place of any earlier value of its type; it is
    /// dropped when the session ends, after the disconnect callback. False (and `value`
    /// dropped) when the session has ended already.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) -> bool {
        self.engine.session_data(self.id, true).is_some_and(|data| {
            data.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(TypeId::of::<T>(), Box::new(value));
            true
        })
    }

    /// A copy of this session's value of type `T`, if it has one.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.with(|v: &mut T| v.clone())
    }

    /// Runs `f` on this session's value of type `T`, if it has one, and returns what `f`
    /// returns. `f` runs under this session's own lock: it may call the server, but not
    /// this session's `insert`, `get`, `with` or `remove`.
    pub fn with<T: Send + Sync + 'static, U>(&self, f: impl FnOnce(&mut T) -> U) -> Option<U> {
        let data = self.engine.session_data(self.id, false)?;
        let mut map = data.lock().unwrap_or_else(|e| e.into_inner());
        map.get_mut(&TypeId::of::<T>())
            .and_then(|b| b.downcast_mut::<T>())
            .map(f)
    }

    /// Takes this session's value of type `T` away.
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<T> {
        let data = self.engine.session_data(self.id, false)?;
        let boxed = data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&TypeId::of::<T>())?;
        boxed.downcast::<T>().ok().map(|b| *b)
    }

    /// Ends the session; the disconnect callback follows. Fails with [`Error::UnknownSession`]
    /// if it has already ended or another node owns it.
    pub fn disconnect(&self) -> Result<(), Error> {
        self.engine
            .command(|core, now| core.disconnect(self.id, now))
    }
}
