//! An async adapter for `io-core` on smol.
//!
//! Every connection's socket sits in one edge-triggered poller, and one task serves them
//! all: when the poller has events (smol's reactor sees its descriptor become readable),
//! the task reads the ready sockets and feeds the core, a few sockets under one lock of the
//! engine and one reading of the clock (`Engine::batch`), their callbacks run before the
//! next few are read. A socket that filled the read buffer is read again after that, so
//! that a peer that sends without pause gets no further ahead of its callbacks than one
//! buffer. The bytes the core produces are
//! written by whichever task produced them, straight to the non-blocking socket; what the
//! socket does not take is written when the poller says it is writable again. A second
//! task accepts connections and a third sleeps until the core's next deadline. Callbacks
//! run on the task that fed the core the input behind them, one at a time and in order
//! (see `io_adapter`).
//!
//! Why one poller rather than a task per socket: smol's reactor arms each descriptor for
//! one event at a time, which costs a system call per wait, per message; an edge-triggered
//! poller needs none, and an idle connection costs no task at all.
//!
//! The tasks run on an executor of the server's own, on one thread that also waits on the
//! sockets when it has nothing to run. The core behind its lock is the part that does not
//! spread over cores anyway; handles work from any thread or task.
//!
//! With the `tls` feature, `Server::tls` and `TlsConfig`
//! serve https and wss (rustls; see `io_adapter::tls`).
//!
//! ```no_run
//! use io_smol::{Options, Response, Server};
//!
//! smol::block_on(async {
//!     Server::bind("127.0.0.1:8080", Options::default())?
//!         .on_request(|_req| Response::with_body(200, "text/html", "<h1>Hello world</h1>"))
//!         .on_message(|client, msg| {
//!             let _ = client.send(msg); // echo
//!         })
//!         .run()
//!         .await
//! })
//! # ; Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]
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

use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use io_adapter::write::FastMap;
use io_adapter::{Engine, Socket};
use io_core::{ConnId, ConnectionInfo};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry as MioRegistry, Token};
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;
use smol::{Async, Executor, Timer};

#[cfg(feature = "tls")]
pub use io_adapter::{TlsConfig, TlsError};
pub use io_core::{
    DisconnectReason, Error, Message, Options, Request, Response, SessionId, TransportKind,
};

/// Read buffer; large, so that a burst is one core call. One for all connections.
const READ_BUF: usize = 64 * 1024;

/// Events taken from the poller at once.
const EVENTS: usize = 1024;

/// Ready sockets read under one lock of the engine before their callbacks run.
const PER_LOCK: usize = 8;

/// Batches served before the poll task waits in smol's reactor again, so that a server
/// under constant load still lets the reactor see its other sources (the listener, timers).
const BATCHES_PER_WAIT: usize = 64;

/// Batches served before the poll task lets the executor's other tasks run.
const BATCHES_PER_YIELD: usize = 8;

/// How long the server's thread goes on after shutdown, so that the last writes finish.
const LINGER: Duration = Duration::from_millis(500);

/// A server bound to an address, not yet running.
pub type Server = io_adapter::Server<Smol>;
/// A running server: broadcast, list clients, shut down. Cheap to clone.
pub type Handle = io_adapter::Handle<Smol>;
/// One session, as the application holds it. Cheap to clone, usable from any task.
pub type Client = io_adapter::Client<Smol>;

/// The connections in the poller, by poller key.
type Registry = Mutex<FastMap<usize, Arc<SmolSocket>>>;

/// The smol runtime under the engine: its executor, the poller of every connection, and its
/// channels to the timer and the accept loop.
pub struct Smol {
    executor: Arc<Executor<'static>>,
    /// Taken by the poll task when the server starts.
    poll: Mutex<Option<Poll>>,
    mio: Arc<MioRegistry>,
    registry: Arc<Registry>,
    next_key: AtomicUsize,
    wake: (Sender<()>, Receiver<()>),
    stop: (Sender<()>, Receiver<()>),
    done: (Sender<()>, Receiver<()>),
}

impl Default for Smol {
    #[expect(
        clippy::expect_used,
        reason = "without a poller there is no server: this fails at start, never later"
    )]
    fn default() -> Self {
        // Without a poller there is no server; failing here is failing at start.
        let poll = Poll::new().expect("the operating system's poller");
        let mio = Arc::new(poll.registry().try_clone().expect("a handle to the poller"));
        Smol {
            executor: Arc::new(Executor::new()),
            poll: Mutex::new(Some(poll)),
            mio,
            registry: Arc::default(),
            next_key: AtomicUsize::new(0),
            wake: channel::bounded(1),
            stop: channel::bounded(1),
            done: channel::bounded(1),
        }
    }
}

impl Smol {
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.executor.spawn(task).detach();
    }
}

fn lock(registry: &Registry) -> MutexGuard<'_, FastMap<usize, Arc<SmolSocket>>> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's non-blocking socket, registered with the server's poller.
pub struct SmolSocket {
    stream: TcpStream,
    key: usize,
    /// The connection's id in the core, once it has one.
    conn: OnceLock<ConnId>,
    mio: Arc<MioRegistry>,
    registry: Arc<Registry>,
}

impl SmolSocket {
    /// Registers `stream` for readable and writable edges under a key of its own.
    fn register(rt: &Smol, stream: std::net::TcpStream) -> io::Result<Arc<SmolSocket>> {
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        let key = rt.next_key.fetch_add(1, Ordering::Relaxed);
        rt.mio.register(
            &mut stream,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Arc::new(SmolSocket {
            stream,
            key,
            conn: OnceLock::new(),
            mio: rt.mio.clone(),
            registry: rt.registry.clone(),
        }))
    }
}

impl SmolSocket {
    fn conn(&self) -> Option<ConnId> {
        self.conn.get().copied()
    }
}

impl Drop for SmolSocket {
    fn drop(&mut self) {
        let _ = self.mio.deregister(&mut self.stream);
    }
}

/// The poller's own descriptor, which becomes readable when it has events: what smol's
/// reactor waits on for all the connections at once.
struct PollFd {
    /// Only the poll task polls it; the lock is never contended.
    poll: Mutex<Poll>,
    fd: RawFd,
}

impl AsFd for PollFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        #[allow(unsafe_code)]
        // SAFETY: `fd` is the descriptor of `self.poll`, which lives (and keeps it open) as
        // long as `self`, which the returned borrow cannot outlive.
        unsafe {
            BorrowedFd::borrow_raw(self.fd)
        }
    }
}

impl Socket for SmolSocket {
    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // The socket is non-blocking: this takes what fits and never waits.
        match bufs {
            [one] => (&self.stream).write(one),
            _ => (&self.stream).write_vectored(bufs),
        }
    }

    fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        // The engine is done with it: once the poll task lets go too, it is closed.
        lock(&self.registry).remove(&self.key);
    }
}

// The poller reports a full socket writable again, and the poll task flushes it then: the
// default `start_writer`.
impl io_adapter::Runtime for Smol {
    type Socket = SmolSocket;

    fn wake_timer(&self) {
        let _ = self.wake.0.try_send(());
    }

    fn on_stopped(&self) {
        self.done.0.close();
    }
}

impl io_adapter::Adapter for Smol {
    type Run = io_adapter::server::RunFuture;
    type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn start(engine: &Arc<Engine<Self>>, listener: Option<TcpListener>) -> io::Result<()> {
        let listener = io_adapter::server::own_port(listener)?;
        let listener = Async::new(listener)?;
        let rt = engine.runtime();
        let poll = lock_poll(rt)
            .take()
            .ok_or_else(|| io::Error::other("the server was started twice"))?;
        let fd = poll.as_raw_fd();
        let poller = Async::new(PollFd {
            poll: Mutex::new(poll),
            fd,
        })?;
        rt.spawn(accept_loop(engine.clone(), listener));
        rt.spawn(poll_loop(engine.clone(), poller));
        rt.spawn(timer_loop(engine.clone()));
        let executor = rt.executor.clone();
        let done = rt.done.1.clone();
        std::thread::Builder::new()
            .name("io-smol".into())
            .spawn(move || {
                smol::block_on(executor.run(async {
                    let _ = done.recv().await;
                    Timer::after(LINGER).await;
                }))
            })?;
        Ok(())
    }

    fn stop(engine: &Arc<Engine<Self>>) {
        engine.runtime().stop.0.close();
        engine.runtime().wake.0.close();
    }

    fn run(handle: Handle) -> Self::Run {
        io_adapter::server::run_until_stopped(handle)
    }

    fn run_failed(error: io::Error) -> Self::Run {
        io_adapter::server::run_failed_async(error)
    }

    fn stopped(handle: &Handle) -> Self::Stopped {
        let done = handle.engine().runtime().done.1.clone();
        Box::pin(async move {
            let _ = done.recv().await;
        })
    }
}

/// Resolves once the server is told to stop.
async fn stopping(rt: &Smol) {
    let _ = rt.stop.1.recv().await;
}

async fn accept_loop(engine: Arc<Engine<Smol>>, listener: Async<TcpListener>) {
    let local = listener.get_ref().local_addr().ok();
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                stopping(engine.runtime()).await;
                None
            })
            .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let stream = stream.into_inner();
                let _ = stream.as_ref().map(|s| s.set_nodelay(true));
                let rt = engine.runtime();
                let Ok(socket) = stream.and_then(|s| SmolSocket::register(rt, s)) else {
                    continue;
                };
                let info = ConnectionInfo::new(peer, local.unwrap_or(peer));
                // In the registry first: if the core closes it at once, `close` finds it.
                lock(&rt.registry).insert(socket.key, socket.clone());
                if let Some(conn) = engine.accept(socket.clone(), info) {
                    let _ = socket.conn.set(conn);
                }
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Some(Err(_)) => {
                Timer::after(Duration::from_millis(10)).await;
            }
        }
    }
}

fn lock_poll(rt: &Smol) -> MutexGuard<'_, Option<Poll>> {
    rt.poll.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves every connection's readiness events.
async fn poll_loop(engine: Arc<Engine<Smol>>, poller: Async<PollFd>) {
    let rt = engine.runtime();
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];
    let mut ready = Vec::with_capacity(EVENTS);
    // Sockets that filled the read buffer: more may wait in them, and being edge-triggered
    // they say so only once, so they are read again in the next batch.
    let mut unread: Vec<Ready> = Vec::new();
    loop {
        if unread.is_empty() {
            let go_on = async { poller.readable().await.is_ok() }
                .or(async {
                    stopping(rt).await;
                    false
                })
                .await;
            if !go_on {
                return;
            }
        } else if rt.stop.1.is_closed() {
            return;
        } else {
            smol::future::yield_now().await;
        }
        // Serve batches while the poller has them, and go back to smol's reactor only when
        // it has none: each wait there costs several system calls, a batch here one.
        for served in 1..=BATCHES_PER_WAIT {
            let polled = poll_now(&poller, &mut events).is_ok() && !events.is_empty();
            if !polled && unread.is_empty() {
                break;
            }
            ready.append(&mut unread);
            // The sockets of the whole batch under one lock of the registry, which is let go
            // before the engine runs: closing a socket takes it too.
            if polled {
                let registry = lock(&rt.registry);
                ready.extend(events.iter().filter_map(|event| {
                    let socket = registry.get(&event.token().0)?;
                    let conn = socket.conn()?;
                    Some((conn, socket.clone(), Readiness::of(event)))
                }));
            }
            // A few sockets at a time under one lock of the engine, at one instant; their
            // callbacks run before the next few are read, so that answers go out while the
            // rest of the batch waits, and at most one buffer of each waits for them.
            for chunk in ready.chunks(PER_LOCK) {
                engine.batch(|batch| {
                    for (conn, socket, readiness) in chunk {
                        if readiness.read
                            && read_ready(batch, *conn, socket, &mut buf, readiness.read_closed)
                        {
                            let again = Readiness {
                                write: false,
                                ..*readiness
                            };
                            unread.push((*conn, socket.clone(), again));
                        }
                        if readiness.write {
                            // What is left waits for the next writable edge.
                            let _ = batch.flush_backlog(*conn);
                        }
                    }
                });
            }
            ready.clear();
            // Let the other tasks run now and then (each yield costs a trip through the
            // executor's queue).
            if served % BATCHES_PER_YIELD == 0 {
                smol::future::yield_now().await;
            }
        }
    }
}

/// A socket to serve, with its connection and what its event said.
type Ready = (ConnId, Arc<SmolSocket>, Readiness);

/// What one readiness event says of its socket.
#[derive(Clone, Copy)]
struct Readiness {
    /// Read it: it has bytes, its end, or an error to show.
    read: bool,
    /// The peer's end of stream is known to be there already.
    read_closed: bool,
    /// It can take bytes again.
    write: bool,
}

impl Readiness {
    fn of(event: &mio::event::Event) -> Self {
        Readiness {
            read: event.is_readable() || event.is_read_closed() || event.is_error(),
            read_closed: event.is_read_closed(),
            write: event.is_writable(),
        }
    }
}

/// Collects the poller's events without waiting (smol's reactor did the waiting).
fn poll_now(poller: &Async<PollFd>, events: &mut Events) -> io::Result<()> {
    let mut poll = poller
        .get_ref()
        .poll
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    poll.poll(events, Some(Duration::ZERO))
}

/// Reads a socket that became readable, once, or until its end shows if the peer's end of
/// stream is known to be there already (`ended`). Returns whether the read filled the
/// buffer, so that more may be waiting: the caller reads it again once the callbacks for
/// this much have run, so that a peer sending without pause cannot pile up events without
/// bound. A read that did not fill the buffer emptied the socket, and the next arrival
/// brings a new edge.
fn read_ready(
    batch: &mut io_adapter::Batch<'_, Smol>,
    conn: ConnId,
    socket: &SmolSocket,
    buf: &mut [u8],
    ended: bool,
) -> bool {
    loop {
        match (&socket.stream).read(buf) {
            Ok(0) => {
                batch.read_closed(conn);
                return false;
            }
            Ok(n) => {
                batch.received(conn, buf.get(..n).unwrap_or_default());
                if n == buf.len() {
                    return true;
                }
                if !ended {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The engine closes the socket, which takes it out of the registry.
            Err(_) => {
                batch.failed(conn);
                return false;
            }
        }
    }
}

async fn timer_loop(engine: Arc<Engine<Smol>>) {
    let wake = engine.runtime().wake.1.clone();
    loop {
        let next = engine.tick();
        let woken = async { wake.recv().await.is_ok() };
        let go_on = match next {
            Some(at) => {
                woken
                    .or(async {
                        Timer::at(at).await;
                        true
                    })
                    .await
            }
            None => woken.await,
        };
        if !go_on {
            return;
        }
    }
}
