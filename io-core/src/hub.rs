//! What every adapter does the same way, without the I/O: hand each [`Transmit`] to the
//! right connection's writer, cut off peers that do not read, and call the application's
//! callbacks for each [`Event`].
//!
//! An adapter keeps a [`Hub`] behind its one lock. Its reader calls [`Hub::with_core`] for
//! every input; its writers take what their [`Outbox`] received and report progress through
//! [`Backlog`]; its dispatcher passes each event to [`Callbacks::dispatch`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::conn::ConnId;
use crate::error::Error;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::message::Message;
use crate::server::{Event, Server};
use crate::session::{DisconnectReason, SessionId};
use crate::transport::TransportKind;

/// The sending end of one connection's writer (a channel to a writer thread or task).
pub trait Outbox {
    /// Queues segments for the writer; `close` asks it to close the connection after them.
    /// Returns false when the writer is gone.
    fn push(&self, data: Vec<Bytes>, close: bool) -> bool;
    /// Closes the connection now, unwritten bytes and all.
    fn abort(&self);
}

/// Bytes handed to a writer and not yet written. The writer subtracts what it wrote.
#[derive(Debug, Clone, Default)]
pub struct Backlog(Arc<AtomicUsize>);

impl Backlog {
    pub fn written(&self, n: usize) {
        self.0.fetch_sub(n, Ordering::AcqRel);
    }

    fn queued(&self, n: usize) -> usize {
        self.0.fetch_add(n, Ordering::AcqRel) + n
    }
}

/// Drops the first `n` bytes of a write queue: what a (vectored) write has taken. Empty
/// segments at the front go too, so a non-empty queue always has bytes to write.
pub fn consume(queue: &mut VecDeque<Bytes>, mut n: usize) {
    while let Some(front) = queue.front_mut() {
        let take = n.min(front.len());
        let _ = front.split_to(take);
        n -= take;
        if !front.is_empty() {
            return;
        }
        queue.pop_front();
    }
}

/// The core and the outboxes of its connections.
pub struct Hub<O> {
    core: Server,
    outboxes: HashMap<ConnId, (O, Backlog)>,
    /// A peer with more unwritten bytes than this is cut off instead of buffered for.
    max_backlog: usize,
}

impl<O: Outbox> Hub<O> {
    pub fn new(core: Server) -> Self {
        let max_backlog = core.options().limits.max_queue;
        Hub {
            core,
            outboxes: HashMap::new(),
            max_backlog,
        }
    }

    pub fn core(&self) -> &Server {
        &self.core
    }

    /// A new connection; its writer must report to the returned [`Backlog`].
    pub fn accept(&mut self, outbox: O, now: Instant) -> (ConnId, Backlog) {
        let conn = self.core.handle_connection(now);
        let backlog = Backlog::default();
        self.outboxes.insert(conn, (outbox, backlog.clone()));
        (conn, backlog)
    }

    /// The peer went away, or its socket failed: the core hears of it and the socket is
    /// shut.
    pub fn closed(&mut self, conn: ConnId, now: Instant, mut on_event: impl FnMut(Event)) {
        self.with_core(
            now,
            |core, now| core.handle_closed(conn, now),
            &mut on_event,
        );
        if let Some((outbox, _)) = self.outboxes.remove(&conn) {
            outbox.abort();
        }
    }

    /// When the adapter must call `handle_timeout` next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Runs one input against the core, then carries out what it asked for: transmits go to
    /// the outboxes, events to `on_event`.
    pub fn with_core<T>(
        &mut self,
        now: Instant,
        input: impl FnOnce(&mut Server, Instant) -> T,
        mut on_event: impl FnMut(Event),
    ) -> T {
        let out = input(&mut self.core, now);
        while let Some(t) = self.core.poll_transmit() {
            let Some((outbox, backlog)) = self.outboxes.get(&t.conn) else {
                continue;
            };
            let (conn, close) = (t.conn, t.close);
            let data = t.into_bytes();
            let len = data.iter().map(Bytes::len).sum();
            let backlog = backlog.queued(len);
            let pushed = outbox.push(data, close);
            if close {
                self.outboxes.remove(&conn);
            } else if !pushed || backlog > self.max_backlog {
                // The peer does not read what we write: cut it off rather than buffer
                // without end. The core hears of it like any other vanished peer, and
                // whatever that makes it say joins this loop.
                self.core.handle_closed(conn, now);
                if let Some((outbox, _)) = self.outboxes.remove(&conn) {
                    outbox.abort();
                }
            }
        }
        while let Some(e) = self.core.poll_event() {
            on_event(e);
        }
        out
    }
}

impl<O> fmt::Debug for Hub<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("core", &self.core)
            .field("outboxes", &self.outboxes.len())
            .finish()
    }
}

/// What a client handle needs from its adapter: one command run against the core, with
/// the adapter carrying out whatever the core asks for afterwards.
pub trait Driver: Send + Sync + 'static {
    fn with_core<T>(&self, command: impl FnOnce(&mut Server, Instant) -> T) -> T;
}

/// One session, as the application holds it: cheap to clone, usable from any thread or
/// task. Both adapters hand these out.
pub struct Client<D> {
    id: SessionId,
    driver: Arc<D>,
}

impl<D> Clone for Client<D> {
    fn clone(&self) -> Self {
        Client {
            id: self.id,
            driver: self.driver.clone(),
        }
    }
}

impl<D> fmt::Debug for Client<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("id", &self.id).finish()
    }
}

impl<D: Driver> Client<D> {
    pub fn new(id: SessionId, driver: Arc<D>) -> Self {
        Client { id, driver }
    }

    pub fn session_id(&self) -> SessionId {
        self.id
    }

    /// Whether the session is still alive (it may be between two polls).
    pub fn connected(&self) -> bool {
        self.driver
            .with_core(|core, _| core.session(self.id).is_some())
    }

    /// How many times a transport has attached to this session.
    pub fn connections(&self) -> u32 {
        self.driver
            .with_core(|core, _| core.session(self.id).map_or(0, |s| s.connections))
    }

    pub fn transport(&self) -> Option<TransportKind> {
        self.driver
            .with_core(|core, _| core.session(self.id).map(|s| s.transport))
    }

    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        self.driver
            .with_core(|core, now| core.send(self.id, &msg, now))
    }

    /// Sends to every other client.
    pub fn broadcast(&self, msg: impl Into<Message>) {
        let msg = msg.into();
        self.driver
            .with_core(|core, now| core.broadcast(&msg, &[self.id], now));
    }

    pub fn disconnect(&self) -> Result<(), Error> {
        self.driver
            .with_core(|core, now| core.disconnect(self.id, now))
    }
}

/// Every connected client (the seed's `listener.clients`).
pub fn clients<D: Driver>(driver: &Arc<D>) -> Vec<Client<D>> {
    driver
        .with_core(|core, _| core.clients().collect::<Vec<_>>())
        .into_iter()
        .map(|id| Client::new(id, driver.clone()))
        .collect()
}

type RequestFn = Box<dyn Fn(&Request) -> Response + Send + Sync>;
type ConnectFn<C> = Box<dyn Fn(C) + Send + Sync>;
type MessageFn<C> = Box<dyn Fn(C, Message) + Send + Sync>;
type DisconnectFn<C> = Box<dyn Fn(C, DisconnectReason) + Send + Sync>;

/// The application's callbacks, generic over the adapter's client handle `C`.
pub struct Callbacks<C> {
    pub request: Option<RequestFn>,
    pub connect: Option<ConnectFn<C>>,
    pub message: Option<MessageFn<C>>,
    pub disconnect: Option<DisconnectFn<C>>,
}

impl<C> Default for Callbacks<C> {
    fn default() -> Self {
        Callbacks {
            request: None,
            connect: None,
            message: None,
            disconnect: None,
        }
    }
}

impl<C> Callbacks<C> {
    /// Calls the callback for `event`. For a request outside the resource it returns the
    /// response to pass to [`Server::respond`] (a 404 when there is no request callback).
    pub fn dispatch(
        &self,
        event: Event,
        client: impl FnOnce(SessionId) -> C,
    ) -> Option<(ConnId, Response)> {
        match event {
            Event::Connect(id) => {
                if let Some(f) = &self.connect {
                    f(client(id));
                }
            }
            Event::Message(id, msg) => {
                if let Some(f) = &self.message {
                    f(client(id), msg);
                }
            }
            Event::Disconnect(id, reason) => {
                if let Some(f) = &self.disconnect {
                    f(client(id), reason);
                }
            }
            Event::Request(conn, req) => {
                let response = match &self.request {
                    Some(f) => f(&req),
                    None => Response::with_body(404, "text/plain", "Not Found"),
                };
                return Some((conn, response));
            }
        }
        None
    }
}

impl<C> fmt::Debug for Callbacks<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("request", &self.request.is_some())
            .field("connect", &self.connect.is_some())
            .field("message", &self.message.is_some())
            .field("disconnect", &self.disconnect.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// What one outbox was given: the bytes of each push and its close flag.
    type Pushes = Rc<RefCell<Vec<(Vec<u8>, bool)>>>;

    #[derive(Default, Clone)]
    struct Recorder(Pushes, Rc<RefCell<bool>>);

    impl Outbox for Recorder {
        fn push(&self, data: Vec<Bytes>, close: bool) -> bool {
            self.0.borrow_mut().push((data.concat(), close));
            true
        }
        fn abort(&self) {
            *self.1.borrow_mut() = true;
        }
    }

    #[test]
    fn consume_drops_what_was_written() {
        let seg = |s: &'static str| Bytes::from_static(s.as_bytes());
        let mut q: VecDeque<Bytes> = [seg("ab"), seg(""), seg("cde"), seg("f")].into();
        consume(&mut q, 0);
        assert_eq!(q, [seg("ab"), seg(""), seg("cde"), seg("f")]);
        consume(&mut q, 3);
        assert_eq!(q, [seg("de"), seg("f")]);
        consume(&mut q, 3);
        assert!(q.is_empty());
    }

    #[test]
    fn transmits_reach_their_outbox_and_events_the_callback() {
        let mut hub = Hub::new(Server::new(Options::default()).unwrap());
        let out = Recorder::default();
        let now = Instant::now();
        let (conn, _) = hub.accept(out.clone(), now);
        let mut events = Vec::new();
        hub.with_core(
            now,
            |core, now| core.handle_bytes(conn, b"GET /x HTTP/1.1\r\n\r\n", now),
            |e| events.push(e),
        );
        assert!(matches!(events.as_slice(), [Event::Request(c, _)] if *c == conn));
        let callbacks = Callbacks::<()>::default();
        let (c, resp) = callbacks.dispatch(events.remove(0), |_| ()).unwrap();
        assert_eq!((c, resp.status), (conn, 404));
        hub.with_core(now, |core, now| core.respond(c, resp, now), |_| {})
            .unwrap();
        let written = out.0.borrow();
        assert!(written[0].0.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
    }

    /// Opens an htmlfile stream on a hub whose backlog limit is 1000 bytes.
    fn stream(out: &Recorder) -> (Hub<Recorder>, SessionId, Backlog) {
        let mut opts = Options::default();
        opts.limits.max_queue = 1000;
        let mut hub = Hub::new(Server::new(opts).unwrap());
        let now = Instant::now();
        let (conn, backlog) = hub.accept(out.clone(), now);
        let mut session = None;
        hub.with_core(
            now,
            |core, now| core.handle_bytes(conn, b"GET /socket.io/htmlfile// HTTP/1.1\r\n\r\n", now),
            |e| {
                if let Event::Connect(s) = e {
                    session = Some(s)
                }
            },
        );
        (hub, session.unwrap(), backlog)
    }

    fn send(hub: &mut Hub<Recorder>, session: SessionId, len: usize) -> bool {
        let mut disconnected = false;
        let _ = hub.with_core(
            Instant::now(),
            |core, now| core.send(session, &Message::text("x".repeat(len)), now),
            |e| disconnected |= matches!(e, Event::Disconnect(..)),
        );
        disconnected
    }

    #[test]
    fn a_peer_that_does_not_read_is_cut_off() {
        let out = Recorder::default();
        let (mut hub, session, _backlog) = stream(&out);
        assert!(!send(&mut hub, session, 100));
        assert!(send(&mut hub, session, 1000));
        assert!(*out.1.borrow(), "the connection was aborted");
    }

    #[test]
    fn a_peer_that_reads_is_not() {
        let out = Recorder::default();
        let (mut hub, session, backlog) = stream(&out);
        let total = || -> usize { out.0.borrow().iter().map(|(d, _)| d.len()).sum() };
        let mut written = 0;
        for _ in 0..10 {
            // The writer writes everything it was given before the next message.
            backlog.written(total() - written);
            written = total();
            assert!(!send(&mut hub, session, 500));
        }
        assert!(!*out.1.borrow());
    }
}
