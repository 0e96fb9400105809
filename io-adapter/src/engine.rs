//! The engine: the core behind one lock, the write side of every connection, and the
//! dispatch of events to the application's callbacks.
//!
//! Every input (bytes read, end of stream, a timer, an application command) runs the core
//! and then carries out what it produced, in the same task or thread:
//!
//! - bytes for a connection are written to its socket at once, without blocking; only what
//!   the socket does not take waits for a writer ([`Runtime::start_writer`]), which drains
//!   it with [`Engine::take_backlog`] and [`Engine::written`]. What the socket took is
//!   reported to the core, which owns flow control;
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
use io_core::{Close, ConnId, ConnectionInfo, Event, Response, Server};

use crate::callbacks::Callbacks;
use crate::client::Client;
use crate::write::{coalesce, consume, FastMap, Slices};

/// One accepted connection's socket, as the engine writes to it.
pub trait Socket: Send + Sync + 'static {
    /// Writes as much as the socket takes now, without blocking: `WouldBlock` when it takes
    /// nothing.
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Shuts both directions at once; a reader waiting on it wakes up.
    fn close(&self);
}

/// What an adapter provides: its sockets and the few things only it can start or wake.
pub trait Runtime: Send + Sync + Sized + 'static {
    type Socket: Socket;
    /// A connection's socket did not take everything: start a writer that loops on
    /// [`Engine::take_backlog`], writes what it gets (it may block or await), and reports
    /// with [`Engine::written`] or [`Engine::failed`], until `take_backlog` says `None`; or,
    /// for an adapter that hears when a socket becomes writable, do nothing here and call
    /// [`Engine::flush_backlog`] then. An error (no thread to be had) drops the connection.
    fn start_writer(
        &self,
        engine: &Arc<Engine<Self>>,
        conn: ConnId,
        socket: Arc<Self::Socket>,
    ) -> io::Result<()>;
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
    /// A writer owns the backlog: nobody else writes until it gives it back.
    writer: bool,
}

struct State<S> {
    core: Server,
    conns: FastMap<ConnId, Out<S>>,
    events: VecDeque<Event>,
    /// Someone is draining `events` into the callbacks.
    dispatching: bool,
    /// The deadline the timer sleeps until (`None`: until it is woken).
    timer_at: Option<Instant>,
    shut_down: bool,
    stopped_told: bool,
}

/// The core, the write side of its connections, and the callbacks. Shared by every task or
/// thread of an adapter behind an `Arc`.
pub struct Engine<R: Runtime> {
    state: Mutex<State<R::Socket>>,
    callbacks: Callbacks<Client<R>>,
    runtime: R,
}

impl<R: Runtime> Engine<R> {
    pub fn new(core: Server, callbacks: Callbacks<Client<R>>, runtime: R) -> Arc<Self> {
        Arc::new(Engine {
            state: Mutex::new(State {
                core,
                conns: FastMap::default(),
                events: VecDeque::new(),
                dispatching: false,
                timer_at: None,
                shut_down: false,
                stopped_told: false,
            }),
            callbacks,
            runtime,
        })
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
            let conn = st.core.handle_connection(info, now);
            st.conns.insert(conn, Out::new(socket));
            Some(conn)
        })
    }

    /// Bytes read from a connection.
    pub fn received(self: &Arc<Self>, conn: ConnId, data: &[u8]) {
        self.command(|core, now| core.handle_bytes(conn, data, now));
    }

    /// A read returned end of stream: the peer sends no more, but may still read.
    pub fn read_closed(self: &Arc<Self>, conn: ConnId) {
        self.command(|core, now| core.handle_read_closed(conn, now));
    }

    /// The socket failed (reset, or a write error): the connection is gone.
    pub fn failed(self: &Arc<Self>, conn: ConnId) {
        let socket = self.lock().conns.remove(&conn).map(|o| o.socket);
        if let Some(s) = socket {
            s.close();
        }
        self.command(|core, now| core.handle_closed(conn, now));
    }

    /// For the timer: handles the deadlines that have passed and returns the next one,
    /// which the timer then sleeps until (or until [`Runtime::wake_timer`]).
    pub fn tick(self: &Arc<Self>) -> Option<Instant> {
        let now = Instant::now();
        let mut st = self.lock();
        if st.core.poll_timeout().is_some_and(|at| at <= now) {
            st.core.handle_timeout(now);
            self.drain(&mut st, now);
        }
        let next = st.core.poll_timeout();
        st.timer_at = next;
        drop(st);
        self.dispatch();
        next
    }

    /// For a writer: takes the backlog of `conn` to write. `None` when there is nothing
    /// left (the writer is done, and the connection is closed if it was to be) or the
    /// connection is gone.
    pub fn take_backlog(&self, conn: ConnId) -> Option<Vec<Bytes>> {
        let mut st = self.lock();
        let out = st.conns.get_mut(&conn)?;
        if out.queue.is_empty() {
            out.writer = false;
            if out.close_after {
                if let Some(out) = st.conns.remove(&conn) {
                    out.socket.close();
                }
            }
            return None;
        }
        Some(out.queue.drain(..).collect())
    }

    /// For an adapter driven by readiness events instead of writer tasks: the socket of
    /// `conn` can take bytes again, so write its backlog now, as far as it goes. A no-op for
    /// a connection without one.
    pub fn flush_backlog(self: &Arc<Self>, conn: ConnId) {
        // Readiness events say "writable" on almost every read: most find nothing to do.
        if !self.lock().conns.get(&conn).is_some_and(|out| out.writer) {
            return;
        }
        self.with_state(|st, now| {
            let Some(out) = st.conns.get_mut(&conn) else {
                return;
            };
            if !out.writer {
                return;
            }
            let flushed = out.flush(&mut st.core, conn);
            settle(st, conn, flushed, now);
        });
    }

    /// For a writer: `n` bytes of the backlog were written.
    pub fn written(&self, conn: ConnId, n: usize) {
        self.lock().core.handle_written(conn, n);
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
        while let Some(t) = st.core.poll_transmit() {
            let (conn, close) = (t.conn, t.close);
            let Some(out) = st.conns.get_mut(&conn) else {
                continue;
            };
            if close == Some(Close::Abort) {
                out.socket.close();
                st.conns.remove(&conn);
                continue;
            }
            t.encode_into(&mut out.queue);
            out.close_after |= close.is_some();
            if out.writer {
                continue;
            }
            let flushed = out.flush(&mut st.core, conn).and_then(|done| {
                if !done {
                    out.writer = true;
                    self.runtime.start_writer(self, conn, out.socket.clone())?;
                }
                Ok(done)
            });
            // A failure makes the core say more; that joins this loop.
            settle(st, conn, flushed, now);
        }
        while let Some(e) = st.core.poll_event() {
            st.events.push_back(e);
        }
        let next = st.core.poll_timeout();
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

    /// Drains the event queue into the callbacks, unless another caller is doing so
    /// already (it will see these events too).
    fn dispatch(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.dispatching {
            return;
        }
        st.dispatching = true;
        while let Some(event) = st.events.pop_front() {
            drop(st);
            let engine = self.clone();
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.callbacks
                    .dispatch(event, |id| Client::new(id, engine.clone()))
            }));
            match result {
                Ok(Some((conn, response))) => self.respond(conn, response),
                Ok(None) => {}
                Err(_) => self.log("an application callback panicked; the server goes on"),
            }
            st = self.lock();
        }
        st.dispatching = false;
        let stopped = st.shut_down && !st.stopped_told;
        st.stopped_told |= stopped;
        drop(st);
        if stopped {
            self.runtime.on_stopped();
        }
    }

    fn respond(self: &Arc<Self>, conn: ConnId, response: Response) {
        // The connection may have gone meanwhile; then there is nobody to answer.
        let _ = self.command(|core, now| core.respond(conn, response, now));
    }

    /// Logs through the application's log option.
    pub fn log(&self, line: &str) {
        let log = self.lock().core.options().log.clone();
        if let Some(log) = log {
            log(line);
        }
    }
}

/// Acts on how writing a connection's queue went: all written (the writer is done, and the
/// connection closes if it was to), the socket full (a writer goes on), or failed (the
/// connection is gone, and the core hears of it).
fn settle<S: Socket>(st: &mut State<S>, conn: ConnId, flushed: io::Result<bool>, now: Instant) {
    let Some(out) = st.conns.get_mut(&conn) else {
        return;
    };
    match flushed {
        Ok(false) => {}
        Ok(true) => {
            out.writer = false;
            if out.close_after {
                out.socket.close();
                st.conns.remove(&conn);
            }
        }
        Err(_) => {
            out.socket.close();
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
        }
    }

    /// Writes the queue while the socket takes it. `Ok(true)`: all written; `Ok(false)`: the
    /// socket is full.
    fn flush(&mut self, core: &mut Server, conn: ConnId) -> io::Result<bool> {
        coalesce(&mut self.queue);
        while !self.queue.is_empty() {
            let mut slices = Slices::new();
            match self.socket.try_write(slices.front(&self.queue)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    consume(&mut self.queue, n);
                    core.handle_written(conn, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
