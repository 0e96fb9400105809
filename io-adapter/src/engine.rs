//! The engine: the core behind one lock, the write side of every connection, and the
//! dispatch of events to the application's callbacks.
//!
//! Every input (bytes read, end of stream, a timer, an application command) runs the core
//! and then carries out what it produced, in the same task or thread; an adapter with a
//! batch of inputs at hand (a poller's readiness events) feeds them under one lock
//! ([`Engine::batch`]):
//!
//! - bytes for a connection are written to its socket at once, without blocking; only what
//!   the socket does not take waits for a writer ([`Runtime::start_writer`]), which calls
//!   [`Engine::flush_backlog`] whenever the socket can take more. What the socket took is
//!   reported to the core, which owns flow control;
//! - with TLS (feature `tls`), a rustls session beside each write queue decrypts what is
//!   read before the core sees it and encrypts what the core writes (see the `tls` module).
//! - the timer is woken only when the core's earliest deadline moved earlier than the one
//!   it sleeps until;
//! - events go to a queue that one caller at a time drains into the callbacks, outside the
//!   lock. Callbacks therefore run one at a time, in the order the core produced the events,
//!   without a channel or a task of their own.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use io_core::{Close, ConnId, ConnectionInfo, Event, Response, Server, SessionId};

use crate::callbacks::Callbacks;
use crate::client::Client;
use crate::verdict::Verdict;
use crate::write::{coalesce, consume, with_front, FastMap};

/// One session's application data, by type.
pub(crate) type SessionData =
    Mutex<std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any + Send + Sync>>>;

/// One accepted connection's socket, as the engine writes to it.
pub trait Socket: Send + Sync + 'static {
    /// Writes as much as the socket takes now, without blocking: `WouldBlock` when it takes
    /// nothing.
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Shuts both directions at once; a reader waiting on it wakes up.
    fn close(&self);
    /// Closes at once, dropping what is still on its way: the peer broke a limit, or the
    /// connection failed. A socket that holds bytes of its own (an in-memory pipe to
    /// another HTTP stack) drops them here; one that does not just closes.
    fn abort(&self) {
        self.close();
    }
}

/// What an adapter provides: its sockets and the few things only it can start or wake.
pub trait Runtime: Send + Sync + Sized + 'static {
    /// The adapter's connection, which the engine writes to and closes.
    type Socket: Socket;
    /// A connection's socket did not take everything: arrange for
    /// [`Engine::flush_backlog`] to be called whenever the socket can take more, until it
    /// returns false. An adapter that hears when a socket becomes writable (a poller, or
    /// the reader of an in-memory pipe) keeps this default, which does nothing, and calls
    /// it then; another starts a thread that waits for writability. An error (no thread to
    /// be had) drops the connection.
    fn start_writer(
        &self,
        engine: &Arc<Engine<Self>>,
        conn: ConnId,
        socket: Arc<Self::Socket>,
    ) -> io::Result<()> {
        let _ = (engine, conn, socket);
        Ok(())
    }
    /// The core's earliest deadline moved earlier than the one the timer sleeps until:
    /// wake it so that it calls [`Engine::tick`].
    fn wake_timer(&self);
    /// The server has shut down and the last callbacks have run.
    fn on_stopped(&self);
}

/// The write side of one connection.
struct Out<S> {
    socket: Arc<S>,
    /// Bytes the socket has not taken yet, in order.
    queue: VecDeque<Bytes>,
    /// Close once the queue is written.
    close_after: bool,
    /// The socket was full: a writer calls [`Engine::flush_backlog`] when it can take more.
    writer: bool,
    /// The connection's TLS session, when the server speaks TLS.
    #[cfg(feature = "tls")]
    tls: Option<Box<crate::tls::Session>>,
}

/// How writing a connection's queue went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flushed {
    /// Everything is out.
    Done,
    /// The socket is full: a writer goes on when it can take more.
    Full,
    /// Nothing can go before the peer says more (a TLS handshake under way).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Waiting,
}

struct State<S> {
    core: Server,
    conns: FastMap<ConnId, Out<S>>,
    events: VecDeque<Event>,
    /// The dispatcher's queue between two rounds: empty, its room kept.
    spare: VecDeque<Event>,
    /// Someone is draining `events` into the callbacks.
    dispatching: bool,
    /// The deadline the timer sleeps until (`None`: until it is woken).
    timer_at: Option<Instant>,
    shut_down: bool,
    stopped_told: bool,
    /// TLS handshakes under way, by deadline: all have the same time limit, so arrival
    /// order is deadline order.
    #[cfg(feature = "tls")]
    handshakes: VecDeque<(Instant, ConnId)>,
    /// Plaintext of the last TLS read, reused.
    #[cfg(feature = "tls")]
    plain: Vec<u8>,
}

impl<S: Socket> State<S> {
    /// The earliest deadline: the core's, or a TLS handshake's.
    fn next_deadline(&self) -> Option<Instant> {
        let core = self.core.poll_timeout();
        #[cfg(feature = "tls")]
        if let Some(&(at, _)) = self.handshakes.front() {
            return Some(core.map_or(at, |c| c.min(at)));
        }
        core
    }
}

/// The core, the write side of its connections, and the callbacks. Shared by every task or
/// thread of an adapter behind an `Arc`.
pub struct Engine<R: Runtime> {
    state: Mutex<State<R::Socket>>,
    /// Each session's application data (`Client::insert`), made on first use while the
    /// session lives, dropped after its disconnect callback. Locked only briefly, and never
    /// while taking `state`.
    data: Mutex<FastMap<SessionId, Arc<SessionData>>>,
    callbacks: Callbacks<Client<R>, Verdict<R>>,
    runtime: R,
    extras: Extras,
}

/// What a server may add to plain TCP on its own: TLS, a bus to other nodes.
#[derive(Default)]
pub struct Extras {
    /// Speak TLS on every connection.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsConfig>,
    /// The cluster's message bus: the core's publications go to it.
    pub bus: Option<Arc<dyn crate::Bus>>,
}

impl<R: Runtime> Engine<R> {
    /// An engine for the core `core`, with what `extras` adds.
    pub fn new(
        core: Server,
        callbacks: Callbacks<Client<R>, Verdict<R>>,
        runtime: R,
        extras: Extras,
    ) -> Arc<Self> {
        Arc::new(Engine {
            state: Mutex::new(State {
                core,
                conns: FastMap::default(),
                events: VecDeque::new(),
                spare: VecDeque::new(),
                dispatching: false,
                timer_at: None,
                shut_down: false,
                stopped_told: false,
                #[cfg(feature = "tls")]
                handshakes: VecDeque::new(),
                #[cfg(feature = "tls")]
                plain: Vec::new(),
            }),
            data: Mutex::default(),
            callbacks,
            runtime,
            extras,
        })
    }

    fn data_map(&self) -> MutexGuard<'_, FastMap<SessionId, Arc<SessionData>>> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The data of `session`: made if `make` and the session lives, else only found.
    pub(crate) fn session_data(&self, session: SessionId, make: bool) -> Option<Arc<SessionData>> {
        if let Some(d) = self.data_map().get(&session) {
            return Some(d.clone());
        }
        if !make {
            return None;
        }
        // Made under the core's lock, so that a session that has ended (whose Disconnect
        // may be dispatched at any moment) never gets data that nobody would drop.
        let st = self.lock();
        st.core.session(session)?;
        let d = self.data_map().entry(session).or_default().clone();
        drop(st);
        Some(d)
    }

    /// A handle on `session`, if a message can reach it (here, or on another node).
    pub(crate) fn client(self: &Arc<Self>, session: SessionId) -> Option<Client<R>> {
        self.query(|core| core.reaches(session))
            .then(|| Client::new(session, self.clone()))
    }

    /// Whether the server speaks TLS on its connections itself (`Server::tls`).
    pub fn speaks_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.extras.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The cluster's bus, if the server has one.
    pub fn bus(&self) -> Option<&Arc<dyn crate::Bus>> {
        self.extras.bus.as_ref()
    }

    /// A publication another node put on the bus.
    pub fn publication(self: &Arc<Self>, bytes: Bytes) {
        if let Err(e) = self.command(|core, now| core.handle_publication(&bytes, now)) {
            log::warn!("dropped a publication from the bus: {e}");
        }
    }

    /// The adapter's own part.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    fn lock(&self) -> MutexGuard<'_, State<R::Socket>> {
        // A panic elsewhere must not take the whole server down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one input against the core and carries out everything it produced.
    pub fn command<T>(self: &Arc<Self>, input: impl FnOnce(&mut Server, Instant) -> T) -> T {
        self.with_state(|st, now| input(&mut st.core, now))
    }

    fn with_state<T>(
        self: &Arc<Self>,
        input: impl FnOnce(&mut State<R::Socket>, Instant) -> T,
    ) -> T {
        let now = Instant::now();
        let mut st = self.lock();
        let out = input(&mut st, now);
        let wake = self.drain(&mut st, now);
        // Whoever is dispatching already will see the new events; otherwise it is us.
        let dispatch =
            !st.dispatching && (!st.events.is_empty() || (st.shut_down && !st.stopped_told));
        drop(st);
        if wake {
            self.runtime.wake_timer();
        }
        if dispatch {
            self.dispatch();
        }
        out
    }

    /// Runs several inputs under one lock, all at one instant: what an adapter's poller
    /// reported in one go (a batch of readiness events) costs one lock, one reading of the
    /// clock and one round of callbacks instead of one of each per input. What the inputs
    /// produced is carried out once `inputs` returns: the writes under the lock, then the
    /// callbacks outside it, in order. Hold it only while the inputs are at hand: other
    /// tasks and threads wait for the lock meanwhile.
    pub fn batch<T>(self: &Arc<Self>, inputs: impl FnOnce(&mut Batch<'_, R>) -> T) -> T {
        self.with_state(|st, now| {
            inputs(&mut Batch {
                engine: self,
                st,
                now,
            })
        })
    }

    /// Reads the core without changing it.
    pub fn query<T>(&self, read: impl FnOnce(&Server) -> T) -> T {
        read(&self.lock().core)
    }

    /// A new connection; `None` (and the socket closed) once the server has shut down.
    pub fn accept(
        self: &Arc<Self>,
        socket: Arc<R::Socket>,
        info: ConnectionInfo,
    ) -> Option<ConnId> {
        self.with_state(|st, now| {
            if st.shut_down {
                socket.close();
                return None;
            }
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.extras.tls {
                let Ok(session) = tls.accept() else {
                    socket.close();
                    return None;
                };
                let conn = st.core.handle_connection(info.secured(), now);
                let mut out = Out::new(socket);
                out.tls = Some(Box::new(session));
                st.conns.insert(conn, out);
                st.handshakes.push_back((now + tls.timeout(), conn));
                return Some(conn);
            }
            let conn = st.core.handle_connection(info, now);
            st.conns.insert(conn, Out::new(socket));
            Some(conn)
        })
    }

    /// Bytes read from a connection.
    pub fn received(self: &Arc<Self>, conn: ConnId, data: &[u8]) {
        self.batch(|b| b.received(conn, data));
    }

    /// A read returned end of stream: the peer sends no more, but may still read.
    pub fn read_closed(self: &Arc<Self>, conn: ConnId) {
        self.batch(|b| b.read_closed(conn));
    }

    /// The socket failed (reset, or a write error): the connection is gone.
    pub fn failed(self: &Arc<Self>, conn: ConnId) {
        self.batch(|b| b.failed(conn));
    }

    /// The adapter is done with the connection (one request's exchange is over, in an
    /// adapter that gives each request a connection of its own): the core forgets it, and
    /// its socket is closed, not aborted.
    pub fn closed(self: &Arc<Self>, conn: ConnId) {
        self.batch(|b| b.forget(conn, false));
    }

    /// For the timer: handles the deadlines that have passed and returns the next one,
    /// which the timer then sleeps until (or until [`Runtime::wake_timer`]).
    pub fn tick(self: &Arc<Self>) -> Option<Instant> {
        let now = Instant::now();
        let mut st = self.lock();
        if st.core.poll_timeout().is_some_and(|at| at <= now) {
            st.core.handle_timeout(now);
        }
        #[cfg(feature = "tls")]
        st.expire_handshakes(now);
        self.drain(&mut st, now);
        let next = st.next_deadline();
        st.timer_at = next;
        drop(st);
        self.dispatch();
        next
    }

    /// For a writer: the socket of `conn` can take bytes again, so write its backlog now, as
    /// far as it goes. Returns whether some is left (call again when the socket can take
    /// more); false once all is written or the connection is gone. A no-op for a
    /// connection without a backlog.
    pub fn flush_backlog(self: &Arc<Self>, conn: ConnId) -> bool {
        // Readiness events say "writable" on almost every read: most find nothing to do.
        if !self.lock().conns.get(&conn).is_some_and(|out| out.writer) {
            return false;
        }
        self.batch(|b| b.flush_backlog(conn))
    }

    /// Ends every session (each with a disconnect callback) and closes every connection.
    /// Returns false if the server had shut down already.
    pub fn shutdown(self: &Arc<Self>) -> bool {
        let first = {
            let mut st = self.lock();
            !std::mem::replace(&mut st.shut_down, true)
        };
        if first {
            self.command(|core, now| core.shutdown(now));
        }
        first
    }

    /// Carries out what the core produced: writes, closes, and events into the queue.
    /// Returns whether the timer must be woken.
    fn drain(self: &Arc<Self>, st: &mut State<R::Socket>, now: Instant) -> bool {
        let st = &mut *st;
        // Publications first: the bus only queues them, and the other nodes can start on
        // their share of a broadcast while this one writes its own. Drained with or
        // without a bus, so that nothing piles up.
        while let Some(p) = st.core.poll_publication() {
            if let Some(bus) = &self.extras.bus {
                bus.publish(p);
            }
        }
        while let Some(t) = st.core.poll_transmit() {
            let (conn, close) = (t.conn, t.close);
            let Some(out) = st.conns.get_mut(&conn) else {
                continue;
            };
            if close == Some(Close::Abort) {
                out.socket.abort();
                st.conns.remove(&conn);
                continue;
            }
            t.encode_into(&mut out.queue);
            out.close_after |= close.is_some();
            // A writer will see it when the socket takes more.
            if out.writer {
                continue;
            }
            // A failure makes the core say more; that joins this loop.
            self.write_conn(st, conn, now);
        }
        while let Some(e) = st.core.poll_event() {
            st.events.push_back(e);
        }
        let next = st.next_deadline();
        let earlier = match (next, st.timer_at) {
            (Some(n), Some(t)) => n < t,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            st.timer_at = next;
        }
        earlier
    }

    /// Writes the queue of `conn` as far as the socket takes it, and starts a writer for the
    /// rest.
    fn write_conn(self: &Arc<Self>, st: &mut State<R::Socket>, conn: ConnId, now: Instant) {
        let Some(out) = st.conns.get_mut(&conn) else {
            return;
        };
        let flushed = out.flush(&mut st.core, conn).and_then(|f| {
            if f == Flushed::Full && !out.writer {
                out.writer = true;
                self.runtime.start_writer(self, conn, out.socket.clone())?;
            }
            Ok(f)
        });
        settle(st, conn, flushed, now);
    }

    /// Drains the event queue into the callbacks, unless another caller is doing so
    /// already (it will see these events too).
    fn dispatch(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.dispatching {
            return;
        }
        st.dispatching = true;
        // The queue is taken whole, so that a round of callbacks costs one lock, not one
        // per event; the two queues keep their room from round to round.
        let mut round = std::mem::take(&mut st.spare);
        while !st.events.is_empty() {
            std::mem::swap(&mut st.events, &mut round);
            drop(st);
            for event in round.drain(..) {
                self.run_callback(event);
            }
            st = self.lock();
        }
        st.spare = round;
        st.dispatching = false;
        let stopped = st.shut_down && !st.stopped_told;
        st.stopped_told |= stopped;
        drop(st);
        if stopped {
            self.runtime.on_stopped();
        }
    }

    /// Runs the application's callback for one event; a panic in it is logged, not spread.
    fn run_callback(self: &Arc<Self>, event: Event) {
        let ended = match &event {
            Event::Disconnect(sid, _) => Some(*sid),
            _ => None,
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.callbacks.dispatch(
                event,
                |id| Client::new(id, self.clone()),
                |conn| Verdict::new(conn, self.clone()),
            )
        }));
        if let Some(sid) = ended {
            // After the callback, which may still read it.
            let gone = self.data_map().remove(&sid);
            drop(gone);
        }
        match result {
            Ok(Some((conn, response))) => self.respond(conn, response),
            Ok(None) => {}
            Err(_) => log::error!("an application callback panicked; the server goes on"),
        }
    }

    fn respond(self: &Arc<Self>, conn: ConnId, response: Response) {
        // The connection may have gone meanwhile; then there is nobody to answer.
        let _ = self.command(|core, now| core.respond(conn, response, now));
    }
}

/// Inputs fed to the core under one lock, at one instant ([`Engine::batch`]).
pub struct Batch<'a, R: Runtime> {
    engine: &'a Arc<Engine<R>>,
    st: &'a mut State<R::Socket>,
    now: Instant,
}

impl<R: Runtime> Batch<'_, R> {
    /// Bytes read from a connection.
    pub fn received(&mut self, conn: ConnId, data: &[u8]) {
        let st = &mut *self.st;
        #[cfg(feature = "tls")]
        if self.engine.extras.tls.is_some() {
            st.tls_received(conn, data, self.now);
            // A handshake flight, an alert or plaintext held back for the handshake.
            return self.engine.write_conn(st, conn, self.now);
        }
        st.core.handle_bytes(conn, data, self.now);
    }

    /// A read returned end of stream: the peer sends no more, but may still read.
    pub fn read_closed(&mut self, conn: ConnId) {
        self.st.core.handle_read_closed(conn, self.now);
    }

    /// The socket failed (reset, or a write error): the connection is gone.
    pub fn failed(&mut self, conn: ConnId) {
        self.forget(conn, true);
    }

    /// Drops the write side of `conn` (its socket aborted or closed) and tells the core.
    fn forget(&mut self, conn: ConnId, abort: bool) {
        match self.st.conns.remove(&conn).map(|o| o.socket) {
            Some(s) if abort => s.abort(),
            Some(s) => s.close(),
            None => {}
        }
        self.st.core.handle_closed(conn, self.now);
    }

    /// The socket of `conn` can take bytes again: see [`Engine::flush_backlog`].
    pub fn flush_backlog(&mut self, conn: ConnId) -> bool {
        let st = &mut *self.st;
        let Some(out) = st.conns.get_mut(&conn) else {
            return false;
        };
        if !out.writer {
            return false;
        }
        let flushed = out.flush(&mut st.core, conn);
        settle(st, conn, flushed, self.now);
        st.conns.get(&conn).is_some_and(|out| out.writer)
    }
}

/// Acts on how writing a connection's queue went: all written (the writer is done, and the
/// connection closes if it was to), the socket full (a writer goes on), or failed (the
/// connection is gone, and the core hears of it).
fn settle<S: Socket>(st: &mut State<S>, conn: ConnId, flushed: io::Result<Flushed>, now: Instant) {
    let Some(out) = st.conns.get_mut(&conn) else {
        return;
    };
    match flushed {
        Ok(Flushed::Full) => {}
        Ok(Flushed::Waiting) => out.writer = false,
        Ok(Flushed::Done) => {
            out.writer = false;
            if out.close_after {
                out.shut();
                st.conns.remove(&conn);
            }
        }
        Err(_) => {
            out.socket.abort();
            st.conns.remove(&conn);
            st.core.handle_closed(conn, now);
        }
    }
}

impl<S: Socket> Out<S> {
    fn new(socket: Arc<S>) -> Self {
        Out {
            socket,
            queue: VecDeque::new(),
            close_after: false,
            writer: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Closes the socket once everything is written; over TLS, with a close_notify first.
    fn shut(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(session) = self.tls.as_mut() {
            session.close(&*self.socket);
        }
        self.socket.close();
    }

    /// Writes the queue while the socket takes it.
    fn flush(&mut self, core: &mut Server, conn: ConnId) -> io::Result<Flushed> {
        coalesce(&mut self.queue);
        #[cfg(feature = "tls")]
        if let Some(session) = self.tls.as_mut() {
            return flush_tls(session, &*self.socket, &mut self.queue, core, conn);
        }
        while !self.queue.is_empty() {
            match with_front(&self.queue, |bufs| self.socket.try_write(bufs)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    consume(&mut self.queue, n);
                    core.handle_written(conn, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Full),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Flushed::Done)
    }
}

/// Writes a queue through a TLS session: out goes what rustls holds, then the plaintext as
/// far as the socket takes its ciphertext. The core hears of plaintext as written once
/// rustls took it (at most [`SEND_BUFFER`](crate::tls::SEND_BUFFER) ahead of the socket).
#[cfg(feature = "tls")]
fn flush_tls(
    session: &mut crate::tls::Session,
    socket: &impl Socket,
    queue: &mut VecDeque<Bytes>,
    core: &mut Server,
    conn: ConnId,
) -> io::Result<Flushed> {
    loop {
        if !session.write_out(socket)? {
            return Ok(Flushed::Full);
        }
        if queue.is_empty() {
            return Ok(Flushed::Done);
        }
        let n = with_front(queue, |bufs| session.take_plain(bufs))?;
        if n == 0 {
            return Ok(if session.is_handshaking() {
                Flushed::Waiting
            } else {
                Flushed::Full
            });
        }
        consume(queue, n);
        core.handle_written(conn, n);
    }
}

#[cfg(feature = "tls")]
impl<S: Socket> State<S> {
    /// Ciphertext read from `conn`: the plaintext it carried goes to the core.
    fn tls_received(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        use crate::tls::{Input, PLAIN_HTTP_REFUSAL};
        let State {
            core, conns, plain, ..
        } = self;
        let Some(out) = conns.get_mut(&conn) else {
            return;
        };
        let Some(session) = out.tls.as_mut() else {
            return core.handle_bytes(conn, data, now);
        };
        match session.read(data, plain) {
            Input::Plain { closed } => {
                if !plain.is_empty() {
                    core.handle_bytes(conn, plain, now);
                }
                if closed {
                    core.handle_read_closed(conn, now);
                }
            }
            Input::PlainHttp => {
                // Said in plain text, since the client speaks no TLS.
                out.tls = None;
                out.queue.clear();
                out.queue.push_back(Bytes::from_static(PLAIN_HTTP_REFUSAL));
                out.close_after = true;
                core.handle_closed(conn, now);
            }
            Input::Failed(e) => {
                log::debug!("TLS failed on connection {conn}: {e}");
                // The alert rustls queued goes out, then the socket closes.
                out.close_after = true;
                core.handle_closed(conn, now);
            }
        }
    }

    /// Cuts off the connections whose TLS handshake outlived its time limit.
    fn expire_handshakes(&mut self, now: Instant) {
        while let Some(&(at, conn)) = self.handshakes.front() {
            if at > now {
                return;
            }
            self.handshakes.pop_front();
            let stalled = self
                .conns
                .get(&conn)
                .and_then(|out| out.tls.as_ref())
                .is_some_and(|s| s.is_handshaking());
            if let Some(out) = stalled.then(|| self.conns.remove(&conn)).flatten() {
                out.socket.abort();
                self.core.handle_closed(conn, now);
            }
        }
    }
}
