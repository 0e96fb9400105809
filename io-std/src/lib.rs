//! A blocking adapter for `io-core`: plain `std` threads and sockets, no async runtime.
//!
//! Each connection gets a reader thread and a writer thread; one thread sleeps until the
//! core's next deadline, and one thread calls the application's callbacks in order. The
//! core sits behind one mutex. That is simple and predictable, and it stops scaling at a
//! few thousand concurrent connections (two threads each, and the per-process limit on
//! open files); for more, use `io-smol`.
//!
//! ```no_run
//! use io_std::{Options, Response, Server};
//!
//! let server = Server::bind("127.0.0.1:8080", Options::default())?
//!     .on_request(|_req| Response::with_body(200, "text/html", "<h1>Hello world</h1>"))
//!     .on_message(|client, msg| {
//!         let _ = client.send(msg); // echo
//!     });
//! server.run()
//! # ; Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_core::hub::{self, Backlog, Callbacks, Driver, Hub, Outbox};
use io_core::policy;
pub use io_core::{
    ConnId, DisconnectReason, Error, Event, Message, Options, Request, Response, SessionId,
    TransportKind,
};

/// Read buffer per connection; large, so that a burst is one core call.
const READ_BUF: usize = 64 * 1024;

/// A server bound to an address, not yet running. Set the callbacks, then [`run`](Self::run)
/// or [`spawn`](Self::spawn).
pub struct Server {
    listener: TcpListener,
    core: io_core::Server,
    callbacks: Callbacks<Client>,
}

/// A connection's writer thread, as the hub sees it.
struct Writer {
    tx: Sender<(Vec<Bytes>, bool)>,
    stream: TcpStream,
}

impl Outbox for Writer {
    fn push(&self, data: Vec<Bytes>, close: bool) -> bool {
        self.tx.send((data, close)).is_ok()
    }

    fn abort(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The adapter's state behind every handle; its fields are its own.
pub struct Shared {
    hub: Mutex<Hub<Writer>>,
    /// Wakes the timer thread when the next deadline may have moved.
    timer: Condvar,
    events: Mutex<Option<Sender<Event>>>,
    stopping: AtomicBool,
    local_addr: SocketAddr,
    /// Where the standalone policy listener runs, if it does.
    policy_addr: Mutex<Option<SocketAddr>>,
}

/// A running server: broadcast, list clients, shut down. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// One session, as the application holds it. Cheap to clone, usable from any thread.
pub type Client = io_core::hub::Client<Shared>;

impl Server {
    /// Binds `addr`; requests outside the resource go to [`on_request`](Self::on_request).
    pub fn bind(addr: impl ToSocketAddrs, options: Options) -> io::Result<Server> {
        Server::from_listener(TcpListener::bind(addr)?, options)
    }

    /// Serves on a listener the application already has.
    pub fn from_listener(listener: TcpListener, options: Options) -> io::Result<Server> {
        let core = io_core::Server::new(options)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Server {
            listener,
            core,
            callbacks: Callbacks::default(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers every request that is not Socket.IO's. Without it they get a 404.
    pub fn on_request(mut self, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        self.callbacks.request = Some(Box::new(f));
        self
    }

    pub fn on_connect(mut self, f: impl Fn(Client) + Send + Sync + 'static) -> Self {
        self.callbacks.connect = Some(Box::new(f));
        self
    }

    pub fn on_message(mut self, f: impl Fn(Client, Message) + Send + Sync + 'static) -> Self {
        self.callbacks.message = Some(Box::new(f));
        self
    }

    pub fn on_disconnect(
        mut self,
        f: impl Fn(Client, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.disconnect = Some(Box::new(f));
        self
    }

    /// Runs until [`Handle::shutdown`] (from a callback or another thread).
    pub fn run(self) -> io::Result<()> {
        self.spawn()?.join();
        Ok(())
    }

    /// Starts the server's threads and returns at once.
    pub fn spawn(self) -> io::Result<Handle> {
        let local_addr = self.listener.local_addr()?;
        let log = self.core.options().log.clone();
        let policy_doc = self.core.policy_document();
        let policy_port = self.core.options().flash_policy_server;
        let (events_tx, events_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            hub: Mutex::new(Hub::new(self.core)),
            timer: Condvar::new(),
            events: Mutex::new(Some(events_tx)),
            stopping: AtomicBool::new(false),
            local_addr,
            policy_addr: Mutex::new(None),
        });
        let mut threads = Vec::new();
        // The seed's flashPolicyServer: if its port cannot be bound, say so and rely on the
        // inline answers.
        if let Some(port) = policy_port {
            match TcpListener::bind((local_addr.ip(), port)) {
                Ok(l) => {
                    *shared.policy_addr.lock().unwrap_or_else(|e| e.into_inner()) =
                        l.local_addr().ok();
                    threads.push(spawn_policy(l, policy_doc, shared.clone())?);
                }
                Err(e) => {
                    if let Some(log) = &log {
                        log(&format!(
                            "cannot serve the Flash policy on port {port} ({e}); \
                             answering policy requests inline instead"
                        ));
                    }
                }
            }
        }
        let s = shared.clone();
        threads.push(named("io-timer", move || timer_loop(s))?);
        let s = shared.clone();
        let callbacks = self.callbacks;
        threads.push(named("io-dispatch", move || {
            dispatch_loop(s, events_rx, callbacks)
        })?);
        let s = shared.clone();
        let listener = self.listener;
        threads.push(named("io-accept", move || accept_loop(s, listener))?);
        Ok(Handle {
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }
}

fn named(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name(name.into()).spawn(f)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Hub<Writer>> {
        // A panic in another thread must not take the whole server down with it.
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run<T>(
        &self,
        hub: &mut Hub<Writer>,
        input: impl FnOnce(&mut io_core::Server, Instant) -> T,
    ) -> T {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let out = hub.with_core(Instant::now(), input, |e| emit(&events, e));
        self.timer.notify_one();
        out
    }

    /// The peer is gone or its socket failed: the core hears of it, the socket is shut.
    fn closed(&self, conn: ConnId) {
        let mut hub = self.lock();
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        hub.closed(conn, Instant::now(), |e| emit(&events, e));
        // The session's close timeout may now be the next deadline.
        self.timer.notify_one();
    }
}

impl Driver for Shared {
    /// Runs one input against the core and carries out its outputs: writes go to the
    /// writer threads, so nothing here blocks on a socket; events go to the dispatcher.
    fn with_core<T>(&self, input: impl FnOnce(&mut io_core::Server, Instant) -> T) -> T {
        let mut hub = self.lock();
        self.run(&mut hub, input)
    }
}

fn emit(events: &Option<Sender<Event>>, e: Event) {
    if let Some(tx) = events {
        let _ = tx.send(e);
    }
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors and the like: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_nodelay(true);
        if let Err(e) = start_connection(&shared, stream) {
            let hub = shared.lock();
            if let Some(log) = &hub.core().options().log {
                log(&format!("cannot start a connection: {e}"));
            }
        }
    }
}

fn start_connection(shared: &Arc<Shared>, stream: TcpStream) -> io::Result<()> {
    let reader = stream.try_clone()?;
    let writer = stream.try_clone()?;
    let (tx, rx) = mpsc::channel();
    let (conn, backlog) = shared.lock().accept(Writer { tx, stream }, Instant::now());
    // The new connection's request timeout may be the next deadline.
    shared.timer.notify_one();
    let s = shared.clone();
    named("io-write", move || write_loop(s, conn, writer, rx, backlog))?;
    let s = shared.clone();
    named("io-read", move || read_loop(s, conn, reader))?;
    Ok(())
}

fn read_loop(shared: Arc<Shared>, conn: ConnId, mut stream: TcpStream) {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => shared.with_core(|core, now| core.handle_bytes(conn, &buf[..n], now)),
        }
    }
    shared.closed(conn);
}

fn write_loop(
    shared: Arc<Shared>,
    conn: ConnId,
    mut stream: TcpStream,
    rx: Receiver<(Vec<Bytes>, bool)>,
    backlog: Backlog,
) {
    while let Ok((mut data, mut close)) = rx.recv() {
        // Whatever else is already waiting goes out in the same vectored write.
        while !close {
            match rx.try_recv() {
                Ok((more, c)) => {
                    data.extend(more);
                    close = c;
                }
                Err(_) => break,
            }
        }
        let len: usize = data.iter().map(Bytes::len).sum();
        if write_all_vectored(&mut stream, data).is_err() {
            return shared.closed(conn);
        }
        backlog.written(len);
        if close {
            let _ = stream.flush();
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

fn write_all_vectored(stream: &mut TcpStream, data: Vec<Bytes>) -> io::Result<()> {
    let mut queue = VecDeque::from(data);
    hub::consume(&mut queue, 0);
    while !queue.is_empty() {
        let slices: Vec<IoSlice<'_>> = queue.iter().map(|b| IoSlice::new(b)).collect();
        match stream.write_vectored(&slices)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => hub::consume(&mut queue, n),
        }
    }
    Ok(())
}

fn timer_loop(shared: Arc<Shared>) {
    let mut hub = shared.lock();
    while !shared.stopping.load(Ordering::Acquire) {
        let now = Instant::now();
        match hub.poll_timeout() {
            Some(at) if at <= now => shared.run(&mut hub, |core, now| core.handle_timeout(now)),
            Some(at) => {
                hub = shared
                    .timer
                    .wait_timeout(hub, at - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            None => hub = shared.timer.wait(hub).unwrap_or_else(|e| e.into_inner()),
        }
    }
}

fn dispatch_loop(shared: Arc<Shared>, events: Receiver<Event>, callbacks: Callbacks<Client>) {
    for event in events {
        let client = |id| Client::new(id, shared.clone());
        if let Some((conn, response)) = callbacks.dispatch(event, client) {
            shared.with_core(|core, now| {
                let _ = core.respond(conn, response, now);
            });
        }
    }
}

fn spawn_policy(
    listener: TcpListener,
    doc: Bytes,
    shared: Arc<Shared>,
) -> io::Result<JoinHandle<()>> {
    named("io-policy", move || {
        for stream in listener.incoming() {
            if shared.stopping.load(Ordering::Acquire) {
                break;
            }
            let Ok(mut stream) = stream else {
                continue;
            };
            let doc = doc.clone();
            // Read the probe before answering (the reference answered blindly), but never
            // wait on a silent peer for long.
            let _ = thread::Builder::new()
                .name("io-policy-conn".into())
                .spawn(move || {
                    let _ = stream.set_read_timeout(Some(policy::PROBE_TIMEOUT));
                    let mut probe = [0u8; policy::PROBE.len()];
                    let mut got = 0;
                    while got < probe.len() {
                        match stream.read(&mut probe[got..]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got += n,
                        }
                    }
                    if policy::classify(&probe[..got]) == policy::Probe::Policy {
                        let _ = stream.write_all(&doc);
                    }
                    let _ = stream.shutdown(Shutdown::Both);
                });
        }
    })
}

impl Handle {
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Sends to every connected client but those in `except`.
    pub fn broadcast(&self, msg: impl Into<Message>, except: &[SessionId]) {
        let msg = msg.into();
        self.shared
            .with_core(|core, now| core.broadcast(&msg, except, now));
    }

    /// Every connected client (the seed's `listener.clients`).
    pub fn clients(&self) -> Vec<Client> {
        hub::clients(&self.shared)
    }

    pub fn client(&self, id: SessionId) -> Option<Client> {
        let known = self.shared.with_core(|core, _| core.session(id).is_some());
        known.then(|| Client::new(id, self.shared.clone()))
    }

    /// Ends every session (each with a disconnect callback), closes every connection and
    /// stops the threads. Returns once the callbacks have run.
    pub fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut hub = self.shared.lock();
            self.shared.run(&mut hub, |core, now| core.shutdown(now));
            // No more events: the dispatcher ends once it has delivered what is queued.
            self.shared
                .events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
        self.shared.timer.notify_all();
        // Wake the accept loops (blocked in accept) so that they see the flag.
        let policy = *self
            .shared
            .policy_addr
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for addr in std::iter::once(self.shared.local_addr).chain(policy) {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        self.join();
    }

    /// Waits until the server has shut down.
    pub fn join(&self) {
        let current = thread::current().id();
        let threads: Vec<JoinHandle<()>> = {
            let mut t = self.threads.lock().unwrap_or_else(|e| e.into_inner());
            // The dispatcher may call shutdown itself; it must not wait for itself.
            let (mine, others): (Vec<_>, Vec<_>) =
                t.drain(..).partition(|h| h.thread().id() == current);
            t.extend(mine);
            others
        };
        for t in threads {
            let _ = t.join();
        }
    }
}
